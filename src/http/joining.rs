//! Joining the market: applications to join, and their review by technology managers.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{Auth, Staff, anonymous_origin};
use super::error::{ApiError, ErrorBody};
use super::{optional_json, parse_body, parse_id};
use crate::app::views::{ApplicationResponse, OrganisationResponse};
use crate::app::{App, Code, Error, joining};
use crate::domain::org::{ApplicationInput, NewApplication};
use crate::domain::vocab::OrgStatus;

/// Apply to join the market: an enterprise, university or institute files its name, 统一社会信用代码
/// (checked by its check character; one already registered is refused), kind and region, and
/// its applicant's login and password. The applicant can sign in at once and prepare private
/// drafts; nothing is published, matched or shown beyond its own until a manager approves.
#[utoipa::path(
    tag = "joining",
    request_body = ApplicationInput,
    responses((status = 201, body = ApplicationResponse), (status = 400, body = ErrorBody), (status = 409, description = "Name, credit code or login taken", body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, description = "Too many applications from this address", body = ErrorBody))
)]
#[post("/applications")]
pub async fn apply(cx: web::Data<App>, req: HttpRequest, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let input: ApplicationInput = parse_body(body.into_inner())?;
    let application = NewApplication::parse(&input).map_err(Error::from)?;
    Ok(HttpResponse::Created().json(joining::apply(&cx, application, anonymous_origin(&req)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplicationFilter {
    /// pending (the default), approved or rejected.
    pub status: Option<OrgStatus>,
}

/// The applications to join of a status, oldest first (technology managers and admins).
#[utoipa::path(
    tag = "joining",
    params(ApplicationFilter),
    responses((status = 200, body = Vec<OrganisationResponse>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/applications")]
pub async fn list_applications(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    filter: web::Query<ApplicationFilter>,
) -> Result<HttpResponse, ApiError> {
    let status = filter.into_inner().status.unwrap_or(OrgStatus::Pending);
    Ok(HttpResponse::Ok().json(joining::applications(&cx, &auth, status).await?))
}

/// The body of a review.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// Why (required to reject; the applicant reads it).
    pub reason: Option<String>,
}

/// Approve or reject a pending application (technology managers and admins); a rejection
/// carries its reason.
#[utoipa::path(
    tag = "joining",
    params(("id" = String, Path, description = "Organisation id"), ("action" = String, Path, description = "approve | reject")),
    request_body(content = ReviewInput, description = "Optional to approve; `reason` is required to reject"),
    responses((status = 200, body = OrganisationResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Not pending", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/applications/{id}/{action}")]
pub async fn review_application(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let id = parse_id("organisation", &id)?;
    let approve = match action.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(Error::new(
                Code::RouteNotFound,
                format!("an application is approved or rejected, not `{other}`"),
            )
            .into());
        }
    };
    let input: ReviewInput = parse_body(optional_json(&req, &body)?)?;
    Ok(HttpResponse::Ok().json(joining::review(&cx, &auth, id, approve, input.reason.as_deref()).await?))
}
