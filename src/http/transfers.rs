//! The transfer library (落地转化库): the contract a signed docking became, its milestones and its
//! outcomes. Managers create (by signing) and update; the two parties read their own.

use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PeriodParams, expected_version, parse_body, parse_id};
use crate::app::queries::{Manager, TransferFilter};
use crate::app::transfers::{self, TransferResponse};
use crate::app::views::PageResponse;
use crate::app::{App, Code, Error};
use crate::domain::is_valid_id;
use crate::domain::transfer::TransferInput;
use crate::domain::vocab::TechField;

/// A transfer's JSON with its version as `ETag`.
fn respond(view: TransferResponse) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().insert_header(("ETag", format!("\"{}\"", view.version))).json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferListParams {
    /// Signed on or after (YYYY-MM-DD).
    pub from: Option<String>,
    /// Signed on or before.
    pub to: Option<String>,
    pub field: Option<TechField>,
    /// Landing region prefix.
    pub region: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    /// The manager's user id, or `me`.
    pub manager_id: Option<String>,
    pub docking_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// List transfers, most recently signed first. Managers see all; an enterprise or university
/// sees the transfers it is a party to.
#[utoipa::path(
    tag = "transfers",
    params(TransferListParams),
    responses((status = 200, body = PageResponse<TransferResponse>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/transfers")]
pub async fn list_transfers(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<TransferListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let filter = PeriodParams { from: p.from, to: p.to, field: p.field, region: p.region }.into_filter()?;
    let bad = |m: String| Error::new(Code::InvalidQuery, m);
    for (name, id) in [("org_id", &p.org_id), ("docking_id", &p.docking_id)] {
        if let Some(id) = id
            && !is_valid_id(id)
        {
            return Err(bad(format!("`{name}` `{id}` is not an id")).into());
        }
    }
    let manager = match p.manager_id.as_deref() {
        Some("me") => Some(Manager::Me),
        Some(id) if is_valid_id(id) => Some(Manager::User(id.to_string())),
        Some(id) => return Err(bad(format!("`manager_id` `{id}` is not a user id (or `me`)")).into()),
        None => None,
    };
    let limit = p.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(bad(format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})")).into());
    }
    let offset = match p.cursor.as_deref() {
        Some(c) => c.parse::<u32>().map_err(|_| bad(format!("`cursor` `{c}` is not a cursor from a previous page")))?,
        None => 0,
    };
    let query = TransferFilter { org_id: p.org_id, manager, docking_id: p.docking_id, period: filter, offset, limit };
    let page = transfers::list(&cx, &auth, &query).await?;
    Ok(HttpResponse::Ok().json(PageResponse::from(page)))
}

/// Read one transfer (managers, and the two parties).
#[utoipa::path(
    tag = "transfers",
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = TransferResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/transfers/{id}")]
pub async fn get_transfer(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("transfer", &id)?;
    respond(transfers::get(&cx, &auth, id).await?)
}

/// Update a transfer (managers): the contract's registration number once registered, the
/// milestones (each replaces the list: 概念验证, 中试, 量产/产业化 with date, note and evidence)
/// and the outcomes as reported. Send the version you read (`If-Match` or `version`).
#[utoipa::path(
    tag = "transfers",
    params(("id" = String, Path, description = "Transfer id")),
    request_body = TransferInput,
    responses(
        (status = 200, body = TransferResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "Stale version or registration number already used", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 428, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/transfers/{id}")]
pub async fn update_transfer(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: TransferInput = parse_body(body.into_inner())?;
    let id = parse_id("transfer", &id)?;
    let expected = expected_version(&req, input.version);
    respond(transfers::update(&cx, &auth, id, input, expected).await?)
}
