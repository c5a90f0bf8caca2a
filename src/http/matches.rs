//! The ranked counterparts of a need or achievement, with the reasons (managers only): routes
//! that decode, call `app::matches`, encode.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::parse_id;
use crate::app::matches::{self, MatchesResponse};
use crate::app::{App, Code, Error};
use crate::domain::record::{Library, Principal};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatchesQuery {
    /// How many candidates (1-50, default 10).
    pub limit: Option<u32>,
}

async fn matches_of(
    cx: &App,
    who: &Principal,
    library: Library,
    id: &str,
    limit: Option<u32>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(library.name(), id)?;
    let limit = match limit {
        None => 10,
        Some(n @ 1..=50) => n as usize,
        Some(n) => return Err(Error::new(Code::InvalidQuery, format!("`limit` must be 1 to 50 (got {n})")).into()),
    };
    Ok(HttpResponse::Ok().json(matches::for_record(cx, who, library, id, limit).await?))
}

/// The achievements most likely to answer a need, with the reasons (managers only).
///
/// Each candidate carries a score in 0..1 and an explanation: the need's terms found in it (with
/// their weights and where), its keywords found in the need, the structured fit (field, TRL
/// against what the need type implies, asking price against budget, cooperation modes, region)
/// and, when something stands in the way of an otherwise close candidate, a near miss.
#[utoipa::path(
    tag = "matching",
    params(("id" = String, Path, description = "Need id"), MatchesQuery),
    responses(
        (status = 200, body = MatchesResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such need, or private", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/needs/{id}/matches")]
pub async fn need_matches(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    id: web::Path<String>,
    params: web::Query<MatchesQuery>,
) -> Result<HttpResponse, ApiError> {
    matches_of(&cx, &auth, Library::Needs, &id, params.limit).await
}

/// The enterprises' needs an achievement could answer, with the reasons (managers only).
#[utoipa::path(
    tag = "matching",
    params(("id" = String, Path, description = "Achievement id"), MatchesQuery),
    responses(
        (status = 200, body = MatchesResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such achievement, or private", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/achievements/{id}/matches")]
pub async fn achievement_matches(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    id: web::Path<String>,
    params: web::Query<MatchesQuery>,
) -> Result<HttpResponse, ApiError> {
    matches_of(&cx, &auth, Library::Achievements, &id, params.limit).await
}
