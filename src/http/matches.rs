//! The ranked counterparts of a need or achievement, with the reasons (managers only). The
//! ranking and the explanations are `matching::service`'s; this is their HTTP face.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Auth, Staff};
use super::dockings::org_ref;
use super::error::{ApiError, ErrorBody};
use super::{AppState, parse_id};
use crate::domain::docking::DockingState;
use crate::domain::record::Library;
use crate::domain::vocab::Visibility;
use crate::matching::MATCHER_VERSION;
use crate::matching::service::{Explanation, MatchError, Subject};

impl From<MatchError> for ApiError {
    fn from(err: MatchError) -> Self {
        match err {
            MatchError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "matching failed");
                ApiError::internal()
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatchesQuery {
    /// How many candidates (1-50, default 10).
    pub limit: Option<u32>,
}

/// The record's field evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldShare {
    pub field: String,
    pub share: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchEntry {
    /// The counterpart: an achievement for a need, a need for an achievement.
    pub id: String,
    pub title: String,
    pub owner: super::views::OrgRef,
    pub score: f32,
    pub explanation: Explanation,
    /// The docking of this pair, if there is one (open, or the latest closed one).
    pub docking: Option<DockingRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DockingRef {
    pub id: String,
    pub state: DockingState,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchesResponse {
    pub id: String,
    pub library: &'static str,
    pub matcher_version: &'static str,
    pub dictionary_version: String,
    /// The declared field, if any, and the field distribution the ranking used.
    pub declared_field: Option<String>,
    pub field_evidence: Vec<FieldShare>,
    pub items: Vec<MatchEntry>,
}

async fn matches_of(
    state: &AppState,
    library: Library,
    id: &str,
    limit: Option<u32>,
) -> Result<HttpResponse, ApiError> {
    let what = library.name();
    let id = parse_id(what, id)?;
    let limit = match limit {
        None => 10,
        Some(n @ 1..=50) => n as usize,
        Some(n) => return Err(ApiError::bad_request("invalid_query", format!("`limit` must be 1 to 50 (got {n})"))),
    };
    let subject = state.matcher.subject(library, id).await?.ok_or_else(|| ApiError::not_found(what, id))?;
    let private = match &subject {
        Subject::Need(n) => n.content.visibility == Visibility::Private,
        Subject::Achievement(a) => a.content.visibility == Visibility::Private,
    };
    if private {
        // Managers do not see private records at all.
        return Err(ApiError::not_found(what, id));
    }
    let matches = state.matcher.matches(&subject, limit).await?;
    let dockings = &matches.dockings;
    let items = matches
        .items
        .into_iter()
        .map(|item| {
            let other = item.counterpart_id(library).to_string();
            let docking = dockings
                .iter()
                .filter(|d| match library {
                    Library::Needs => d.achievement_id == other,
                    Library::Achievements => d.need_id == other,
                })
                .max_by_key(|d| (!d.state.is_final(), d.created_at))
                .map(|d| DockingRef { id: d.id.clone(), state: d.state });
            let (title, owner) = match library {
                Library::Needs => (item.achievement.content.title.clone(), org_ref(&item.achievement.meta)),
                Library::Achievements => (item.need.content.title.clone(), org_ref(&item.need.meta)),
            };
            MatchEntry { id: other, title, owner, score: item.score, explanation: item.explanation, docking }
        })
        .collect();
    Ok(HttpResponse::Ok().json(MatchesResponse {
        id: id.to_string(),
        library: library.route(),
        matcher_version: MATCHER_VERSION,
        dictionary_version: matches.dictionary_version,
        declared_field: matches.field.declared.clone(),
        field_evidence: matches
            .field
            .shares
            .iter()
            .take(5)
            .map(|(field, share)| FieldShare { field: field.clone(), share: (share * 1000.0).round() / 1000.0 })
            .collect(),
        items,
    }))
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
    state: web::Data<AppState>,
    _auth: Auth<Staff>,
    id: web::Path<String>,
    params: web::Query<MatchesQuery>,
) -> Result<HttpResponse, ApiError> {
    matches_of(&state, Library::Needs, &id, params.limit).await
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
    state: web::Data<AppState>,
    _auth: Auth<Staff>,
    id: web::Path<String>,
    params: web::Query<MatchesQuery>,
) -> Result<HttpResponse, ApiError> {
    matches_of(&state, Library::Achievements, &id, params.limit).await
}
