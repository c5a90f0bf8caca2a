//! Organisations, users and API tokens: what admins manage.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AdminOnly, AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::views::{CreatedTokenResponse, MeResponse, OrganisationResponse, TokenResponse, UserResponse};
use super::{AppState, parse_body, parse_id};
use crate::accounts;
use crate::domain::org::{NewOrganisation, NewUser, OrganisationInput, TokenInput, UserInput};
use crate::domain::validate::ValidationErrors;
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
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: OrganisationInput = parse_body(body.into_inner())?;
    let new = NewOrganisation::parse(&input)?;
    let org = accounts::create_organisation(state.store.as_ref(), new).await.map_err(|e| match e {
        crate::storage::StoreError::UniqueViolation { .. } => ApiError::conflict(
            "already_exists",
            format!("an organisation named `{}` already exists", input.name.as_deref().unwrap_or_default().trim()),
        ),
        other => other.into(),
    })?;
    Ok(HttpResponse::Created().json(OrganisationResponse::from(&org)))
}

/// List organisations.
#[utoipa::path(tag = "admin", responses((status = 200, body = Vec<OrganisationResponse>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/organisations")]
pub async fn list_organisations(state: web::Data<AppState>, _auth: Auth<Staff>) -> Result<HttpResponse, ApiError> {
    let orgs = state.store.list_organisations().await?;
    Ok(HttpResponse::Ok().json(orgs.iter().map(OrganisationResponse::from).collect::<Vec<_>>()))
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
    state: web::Data<AppState>,
    _auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("organisation", &id)?;
    let org = state.store.get_organisation(id).await?.ok_or_else(|| ApiError::not_found("organisation", id))?;
    Ok(HttpResponse::Ok().json(OrganisationResponse::from(&org)))
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
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: UserInput = parse_body(body.into_inner())?;
    let new = NewUser::parse(&input)?;
    let user = accounts::create_user(state.store.as_ref(), new).await?;
    Ok(HttpResponse::Created().json(UserResponse::from(&user)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only the users of this organisation.
    pub org_id: Option<String>,
}

/// List users.
#[utoipa::path(tag = "admin", params(UserFilter), responses((status = 200, body = Vec<UserResponse>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    filter: web::Query<UserFilter>,
) -> Result<HttpResponse, ApiError> {
    if let Some(org) = &filter.org_id {
        parse_id("organisation", org)?;
    }
    let users = state.store.list_users(filter.org_id.as_deref()).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(UserResponse::from).collect::<Vec<_>>()))
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
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    let input: TokenInput = parse_body(body.into_inner())?;
    let mut errors = ValidationErrors::default();
    let name = crate::domain::validate::optional_text(&mut errors, "name", input.name.as_deref(), 100);
    if let Some(at) = input.expires_at
        && at <= crate::domain::now()
    {
        errors.add("expires_at", "in_past", format!("`expires_at` {at} is in the past"));
    }
    errors.finish(|| ())?;
    let user = state.store.get_user(id).await?.ok_or_else(|| ApiError::not_found("user", id))?;
    let (secret, token) = accounts::issue_token(state.store.as_ref(), &user, &name, input.expires_at).await?;
    Ok(HttpResponse::Created().json(CreatedTokenResponse { token: secret, info: TokenResponse::from(&token) }))
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    if auth.role != Role::Admin && auth.user_id != id {
        return Err(ApiError::not_found("user", id));
    }
    let tokens = state.store.list_tokens(id).await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(TokenResponse::from).collect::<Vec<_>>()))
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("token", &id)?;
    let token = state.store.get_token(id).await?.ok_or_else(|| ApiError::not_found("token", id))?;
    if auth.role != Role::Admin && token.user_id != auth.user_id {
        return Err(ApiError::not_found("token", id));
    }
    if !state.store.revoke_token(id, crate::domain::now()).await? {
        return Err(ApiError::conflict("already_revoked", format!("token `{id}` was already revoked")));
    }
    tracing::info!(token_id = %id, by = %auth.user_id, "token revoked");
    Ok(HttpResponse::build(StatusCode::NO_CONTENT).finish())
}

/// Who am I: the signed-in user and organisation.
#[utoipa::path(tag = "admin", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, auth: Auth<AnyUser>) -> Result<HttpResponse, ApiError> {
    let org = state.store.get_organisation(&auth.org_id).await?.ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(MeResponse {
        user_id: auth.user_id.clone(),
        name: auth.user_name.clone(),
        role: auth.role,
        role_label: auth.role.label(),
        organisation: OrganisationResponse::from(&org),
    }))
}
