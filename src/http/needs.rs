//! Routes of the needs library (企业需求库): decode, call `app::records`, encode (through
//! `records`). The achievements' routes are the same five with their own words.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde_json::Value;

use super::auth::{AnyUser, Auth};
use super::error::{ApiError, ErrorBody};
use super::{ListParams, records};
use crate::app::App;
use crate::app::records::RenewInput;
use crate::app::views::{NeedResponse, PageResponse};
use crate::domain::need::{Need, NeedInput};

/// Post a technical need.
///
/// Enterprise users post for their own organisation; managers post on behalf of an enterprise
/// (give `org_id`). Universities cannot post needs.
#[utoipa::path(
    tag = "needs",
    request_body = NeedInput,
    responses(
        (status = 201, description = "Created; `ETag` carries the version, `Location` the address; `possible_duplicates` lists the organisation's needs with a nearly equal title, if any", body = NeedResponse),
        (status = 400, description = "Malformed JSON, unknown field or wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Validation failed; `details.fields` lists every problem", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/needs")]
pub async fn create_need(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    records::create::<Need>(&cx, &auth, body.into_inner()).await
}

/// List the needs you may see, newest first.
#[utoipa::path(
    tag = "needs",
    params(ListParams),
    responses((status = 200, body = PageResponse<NeedResponse>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/needs")]
pub async fn list_needs(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    records::list::<Need>(&cx, &auth, params.into_inner()).await
}

/// Read one need.
#[utoipa::path(
    tag = "needs",
    params(("id" = String, Path, description = "Need id")),
    responses(
        (status = 200, description = "The need; `ETag` carries the version", body = NeedResponse),
        (status = 400, body = ErrorBody),
        (status = 404, description = "No such need, or not visible to you", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/needs/{id}")]
pub async fn get_need(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    records::get::<Need>(&cx, &auth, &id).await
}

/// Change some fields of a need.
///
/// Send only the fields to change; `null` clears an optional one. The version you read must be
/// sent as `If-Match: "<version>"` or as `version`; if the record changed since, 409.
#[utoipa::path(
    tag = "needs",
    params(
        ("id" = String, Path, description = "Need id"),
        ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = NeedInput,
    responses(
        (status = 200, body = NeedResponse),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Stale version", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 428, description = "No version sent", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/needs/{id}")]
pub async fn update_need(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    records::update::<Need>(&cx, &auth, &req, &id, body.into_inner()).await
}

/// Close, withdraw, reopen or renew a need.
///
/// `close`: no longer sought or offered (open → closed). `withdraw`: taken back for good (open,
/// closed or expired → withdrawn). `reopen`: closed → open. `renew`: its owner confirms it is
/// current (open or expired → open; its validity runs again from now; a need may take a new
/// `deadline`, and must when its deadline has passed). `If-Match` is optional here; only
/// `renew` reads a body.
#[utoipa::path(
    tag = "needs",
    params(
        ("id" = String, Path, description = "Need id"),
        ("action" = String, Path, description = "close | withdraw | reopen | renew"),
    ),
    request_body(content = Option<RenewInput>, description = "`renew` only: a need's new deadline"),
    responses(
        (status = 200, body = NeedResponse),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not allowed from the current status; `details.allowed` lists what is", body = ErrorBody),
        (status = 422, description = "`renew`: a need whose deadline has passed needs a new one", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/needs/{id}/{action}")]
pub async fn change_need_status(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    records::change_status::<Need>(&cx, &auth, &req, &id, &action, &body).await
}
