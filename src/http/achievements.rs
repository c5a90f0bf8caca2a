//! Routes of the achievements library (高校成果库): decode, call `app::records`, encode (through
//! `records`). The needs' routes are the same five with their own words.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde_json::Value;

use super::auth::{AnyUser, Auth};
use super::error::{ApiError, ErrorBody};
use super::{ListParams, records};
use crate::app::App;
use crate::app::records::RenewInput;
use crate::app::views::{AchievementResponse, PageResponse};
use crate::domain::achievement::{Achievement, AchievementInput};

/// Upload a research achievement.
///
/// University users upload for their own university or institute; managers upload on behalf of
/// one (give `org_id`). Enterprises cannot upload achievements.
#[utoipa::path(
    tag = "achievements",
    request_body = AchievementInput,
    responses(
        (status = 201, description = "Created; `ETag` carries the version, `Location` the address; `possible_duplicates` lists the organisation's achievements with a nearly equal title, if any", body = AchievementResponse),
        (status = 400, description = "Malformed JSON, unknown field or wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Validation failed; `details.fields` lists every problem", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/achievements")]
pub async fn create_achievement(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    records::create::<Achievement>(&cx, &auth, body.into_inner()).await
}

/// List the achievements you may see, newest first.
#[utoipa::path(
    tag = "achievements",
    params(ListParams),
    responses((status = 200, body = PageResponse<AchievementResponse>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/achievements")]
pub async fn list_achievements(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    records::list::<Achievement>(&cx, &auth, params.into_inner()).await
}

/// Read one achievement.
#[utoipa::path(
    tag = "achievements",
    params(("id" = String, Path, description = "Achievement id")),
    responses(
        (status = 200, description = "The achievement; `ETag` carries the version", body = AchievementResponse),
        (status = 400, body = ErrorBody),
        (status = 404, description = "No such achievement, or not visible to you", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/achievements/{id}")]
pub async fn get_achievement(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    records::get::<Achievement>(&cx, &auth, &id).await
}

/// Change some fields of an achievement.
///
/// Send only the fields to change; `null` clears an optional one. The version you read must be
/// sent as `If-Match: "<version>"` or as `version`; if the record changed since, 409.
#[utoipa::path(
    tag = "achievements",
    params(
        ("id" = String, Path, description = "Achievement id"),
        ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = AchievementInput,
    responses(
        (status = 200, body = AchievementResponse),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Stale version", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 428, description = "No version sent", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/achievements/{id}")]
pub async fn update_achievement(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    records::update::<Achievement>(&cx, &auth, &req, &id, body.into_inner()).await
}

/// Close, withdraw, reopen or renew an achievement.
///
/// `close`: no longer sought or offered (open → closed). `withdraw`: taken back for good (open,
/// closed or expired → withdrawn). `reopen`: closed → open. `renew`: its owner confirms it is
/// current (open or expired → open; its validity runs again from now; a need may take a new
/// `deadline`, and must when its deadline has passed). `If-Match` is optional here; only
/// `renew` reads a body.
#[utoipa::path(
    tag = "achievements",
    params(
        ("id" = String, Path, description = "Achievement id"),
        ("action" = String, Path, description = "close | withdraw | reopen | renew"),
    ),
    request_body(content = Option<RenewInput>, description = "`renew` only: a need's new deadline"),
    responses(
        (status = 200, body = AchievementResponse),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not allowed from the current status; `details.allowed` lists what is", body = ErrorBody),
        (status = 422, description = "`renew`: a need whose deadline has passed needs a new one", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/achievements/{id}/{action}")]
pub async fn change_achievement_status(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    records::change_status::<Achievement>(&cx, &auth, &req, &id, &action, &body).await
}
