//! Organisations, users and API tokens: what admins manage.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AdminOnly, AnyUser, Auth, SignedIn, Staff};
use super::error::{ApiError, ErrorBody};
use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_body, parse_id};
use crate::app::views::{
    CreatedTokenResponse, MeResponse, OrganisationResponse, PageResponse, TokenResponse, UserResponse,
};
use crate::app::{App, Code, Error, accounts};
use crate::domain::org::{NewOrganisation, NewUser, OrganisationInput, TokenInput, UserInput};
use crate::domain::vocab::Role;

/// Create an organisation (enterprise, university, institute or the market operator).
#[utoipa::path(
    tag = "admin",
    request_body = OrganisationInput,
    responses((status = 201, body = OrganisationResponse), (status = 403, body = ErrorBody), (status = 409, description = "Name taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/organisations")]
pub async fn create_organisation(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: OrganisationInput = parse_body(body.into_inner())?;
    let new = NewOrganisation::parse(&input).map_err(Error::from)?;
    Ok(HttpResponse::Created().json(accounts::add_organisation(&cx, &auth, new).await?))
}

/// List organisations.
#[utoipa::path(tag = "admin", responses((status = 200, body = Vec<OrganisationResponse>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/organisations")]
pub async fn list_organisations(cx: web::Data<App>, auth: Auth<Staff>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(accounts::organisations(&cx, &auth).await?))
}

/// Read one organisation's public profile (name, kind, region).
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path, description = "Organisation id")),
    responses((status = 200, body = OrganisationResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/organisations/{id}")]
pub async fn get_organisation(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("organisation", &id)?;
    Ok(HttpResponse::Ok().json(accounts::organisation(&cx, &auth, id).await?))
}

/// Create a user in an organisation; the role must suit the organisation's kind.
#[utoipa::path(
    tag = "admin",
    request_body = UserInput,
    responses((status = 201, body = UserResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: UserInput = parse_body(body.into_inner())?;
    let new = NewUser::parse(&input).map_err(Error::from)?;
    Ok(HttpResponse::Created().json(accounts::add_user(&cx, &auth, new).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only the users of this organisation.
    pub org_id: Option<String>,
    /// Only the users of this role; managers list `role=manager` only.
    pub role: Option<Role>,
    /// 1-100, default 20.
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List users, a page at a time, by id (administrators; technology managers list the managers
/// with `role=manager`, to assign dockings).
#[utoipa::path(tag = "admin", params(UserFilter), responses((status = 200, body = PageResponse<UserResponse>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/users")]
pub async fn list_users(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    filter: web::Query<UserFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    if let Some(org) = &filter.org_id {
        parse_id("organisation", org)?;
    }
    if let Some(cursor) = &filter.cursor {
        parse_id("cursor", cursor)?;
    }
    let limit = filter.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(Error::new(Code::InvalidQuery, format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})"))
            .zh(format!("`limit` 应为 1 到 {MAX_PAGE_SIZE}（收到 {limit}）"))
            .into());
    }
    let query =
        accounts::UserQuery { org_id: filter.org_id, role: filter.role, limit: limit as usize, after: filter.cursor };
    Ok(HttpResponse::Ok().json(accounts::users(&cx, &auth, query).await?))
}

/// Issue an API token for a user. The secret is in this response only.
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path, description = "User id")),
    request_body = TokenInput,
    responses((status = 201, body = CreatedTokenResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users/{id}/tokens")]
pub async fn create_token(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    let input: TokenInput = parse_body(body.into_inner())?;
    Ok(HttpResponse::Created().json(accounts::add_token(&cx, &auth, id, input).await?))
}

/// List a user's tokens (never their secrets). Admins, or the user themself.
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = Vec<TokenResponse>), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/users/{id}/tokens")]
pub async fn list_tokens(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    Ok(HttpResponse::Ok().json(accounts::tokens(&cx, &auth, id).await?))
}

/// Revoke a token at once. Admins, or the token's own user.
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 409, description = "Already revoked", body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/tokens/{id}")]
pub async fn revoke_token(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("token", &id)?;
    accounts::revoke(&cx, &auth, id).await?;
    Ok(HttpResponse::build(StatusCode::NO_CONTENT).finish())
}

/// Who am I: the signed-in user and organisation.
#[utoipa::path(tag = "admin", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
#[get("/me")]
pub async fn get_me(cx: web::Data<App>, auth: Auth<SignedIn>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(accounts::me(&cx, &auth).await?))
}
