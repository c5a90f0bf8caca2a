//! Authentication by bearer token, as an extractor whose type names the roles a route admits:
//! `Auth<AnyUser>`, `Auth<Staff>`, `Auth<AdminOnly>`.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use super::error::ApiError;
use crate::domain::org::hash_token;
use crate::domain::record::Principal;
use crate::domain::vocab::Role;

/// Which roles a route admits.
pub trait Requirement {
    fn admits(role: Role) -> bool;
    /// Who may use the route, for the error message.
    const WHO: &'static str;
}

/// Any signed-in user.
pub struct AnyUser;
/// Technology managers and admins.
pub struct Staff;
/// Admins only.
pub struct AdminOnly;

impl Requirement for AnyUser {
    fn admits(_: Role) -> bool {
        true
    }
    const WHO: &'static str = "any signed-in user";
}

impl Requirement for Staff {
    fn admits(role: Role) -> bool {
        role.is_staff()
    }
    const WHO: &'static str = "technology managers and admins";
}

impl Requirement for AdminOnly {
    fn admits(role: Role) -> bool {
        role == Role::Admin
    }
    const WHO: &'static str = "admins";
}

/// The authenticated user of a request, admitted by `R`.
pub struct Auth<R: Requirement> {
    pub principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Deref for Auth<R> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

/// Resolves the bearer token of a request to the user it acts for.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Principal, ApiError> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).ok_or_else(|| {
        unauthenticated("send an API token in the header `Authorization: Bearer tm_...`; an admin issues tokens")
    })?;
    let value = header.to_str().map_err(|_| unauthenticated("the Authorization header is not readable text"))?;
    let secret = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthenticated("the Authorization header must read `Bearer <token>`"))?;
    let found = state.store.find_token_by_hash(&hash_token(secret)).await?;
    let Some(token) = found else {
        return Err(unauthenticated(
            "the API token is not valid; check it was copied whole, or ask an admin for a new one",
        ));
    };
    let now = crate::domain::now();
    if token.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_revoked",
            "this API token was revoked; ask an admin for a new one",
        ));
    }
    if token.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "this API token has expired; ask an admin for a new one",
        ));
    }
    if token.last_used_at.is_none_or(|at| (now - at).num_seconds() >= TOUCH_INTERVAL_SECS) {
        let store = state.store.clone();
        let token_id = token.token_id.clone();
        tokio::spawn(async move {
            if let Err(error) = store.touch_token(&token_id, now).await {
                tracing::warn!(%error, token_id, "could not record token use");
            }
        });
    }
    Ok(Principal {
        user_id: token.user_id,
        user_name: token.user_name,
        org_id: token.org_id,
        role: token.role,
        token_id: token.token_id,
    })
}

impl<R: Requirement + 'static> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::internal)?.clone();
            let principal = authenticate(&state, &req).await?;
            if !R::admits(principal.role) {
                return Err(ApiError::forbidden(format!(
                    "this route is for {}; you are signed in as `{}`",
                    R::WHO,
                    principal.role
                )));
            }
            Ok(Auth { principal, _requirement: PhantomData })
        })
    }
}
