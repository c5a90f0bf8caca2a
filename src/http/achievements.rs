//! Routes of the achievements library (高校成果库).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde_json::Value;

use super::auth::{AnyUser, Auth};
use super::error::{ApiError, ErrorBody};
use super::needs::{parse_action, transition};
use super::views::{AchievementResponse, PageResponse};
use super::{
    AppState, ListParams, expected_version, optional_version, parse_body, parse_id,
    record_response, resolve_owner,
};
use crate::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use crate::domain::record::{Library, Principal, RecordMeta, can_edit, can_view};
use crate::domain::{new_id, now};

/// Loads an achievement the viewer may see; anything else is 404, so existence does not leak.
async fn load_visible(
    state: &AppState,
    viewer: &Principal,
    id: &str,
) -> Result<Achievement, ApiError> {
    let id = parse_id("achievement", id)?;
    let record = state
        .store
        .get_achievement(id)
        .await?
        .ok_or_else(|| ApiError::not_found("achievement", id))?;
    if !can_view(
        viewer,
        &record.meta.org_id,
        record.content.visibility,
        record.meta.status,
    ) {
        return Err(ApiError::not_found("achievement", id));
    }
    Ok(record)
}

fn check_editable(viewer: &Principal, record: &Achievement) -> Result<(), ApiError> {
    if can_edit(viewer, Library::Achievements, &record.meta.org_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the university or institute that posted this achievement, or a technology manager, may change it",
        ))
    }
}

/// Upload a research achievement.
///
/// University users upload for their own university or institute; managers upload on behalf of
/// one (give `org_id`). Enterprises cannot upload achievements.
#[utoipa::path(
    tag = "achievements",
    request_body = AchievementInput,
    responses(
        (status = 201, description = "Created; `ETag` carries the version", body = AchievementResponse),
        (status = 400, description = "Malformed JSON, unknown field or wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Validation failed; `details.fields` lists every problem", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/achievements")]
pub async fn create_achievement(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: AchievementInput = parse_body(body.into_inner())?;
    if input.version.is_some() {
        return Err(ApiError::unprocessable(
            "field_not_allowed",
            "`version` is only sent with updates",
        ));
    }
    let org = resolve_owner(
        &state,
        &auth,
        Library::Achievements,
        input.org_id.as_deref(),
    )
    .await?;
    let at = now();
    let content = AchievementContent::parse(&input)?;
    let record = Achievement {
        meta: RecordMeta::new(new_id(), org.id, org.name, auth.user_id.clone(), at),
        content,
    };
    state.store.insert_achievement(&record).await?;
    tracing::info!(achievement_id = %record.meta.id, org_id = %record.meta.org_id, "achievement created");
    let location = format!("/api/v1/achievements/{}", record.meta.id);
    Ok(record_response(
        StatusCode::CREATED,
        &AchievementResponse::new(&record, &auth),
        record.meta.version,
        Some(location),
    ))
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params
        .into_inner()
        .into_query(&auth, Library::Achievements)?;
    let page = state.store.list_achievements(&query).await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page
            .items
            .iter()
            .map(|a| AchievementResponse::new(a, &auth))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read one achievement.
#[utoipa::path(
    tag = "achievements",
    params(("id" = String, Path, description = "Achievement id")),
    responses((status = 200, body = AchievementResponse), (status = 400, body = ErrorBody), (status = 404, description = "No such achievement, or not visible to you", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/achievements/{id}")]
pub async fn get_achievement(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = load_visible(&state, &auth, &id).await?;
    Ok(record_response(
        StatusCode::OK,
        &AchievementResponse::new(&record, &auth),
        record.meta.version,
        None,
    ))
}

/// Change some fields of an achievement.
///
/// Send only the fields to change; `null` clears an optional one. The version you read must be
/// sent as `If-Match: "<version>"` or as `version`; if someone changed the achievement since, 409.
#[utoipa::path(
    tag = "achievements",
    params(("id" = String, Path, description = "Achievement id"), ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\"")),
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let patch: AchievementInput = parse_body(body.into_inner())?;
    let record = load_visible(&state, &auth, &id).await?;
    check_editable(&auth, &record)?;
    if patch.org_id.is_some() {
        return Err(ApiError::unprocessable(
            "field_not_allowed",
            "`org_id` cannot be changed: an achievement stays with its university",
        ));
    }
    let expected = expected_version(&req, patch.version)?;
    if expected != record.meta.version {
        return Err(crate::storage::StoreError::VersionConflict {
            current: record.meta.version,
        }
        .into());
    }
    let at = now();
    let mut changed = record.clone();
    changed.content = record.content.patched(&patch)?;
    let stored = state.store.update_achievement(&changed, at).await?;
    Ok(record_response(
        StatusCode::OK,
        &AchievementResponse::new(&stored, &auth),
        stored.meta.version,
        None,
    ))
}

/// Close, withdraw or reopen an achievement.
///
/// `close`: solved or no longer wanted (open → closed). `withdraw`: taken back for good (open or
/// closed → withdrawn). `reopen`: closed → open. `If-Match` is optional here.
#[utoipa::path(
    tag = "achievements",
    params(("id" = String, Path, description = "Achievement id"), ("action" = String, Path, description = "close | withdraw | reopen")),
    responses((status = 200, body = AchievementResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Not allowed from the current status; `details.allowed` lists what is", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/achievements/{id}/{action}")]
pub async fn change_achievement_status(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let action = parse_action(&action)?;
    let record = load_visible(&state, &auth, &id).await?;
    check_editable(&auth, &record)?;
    let expected = optional_version(&req)?.unwrap_or(record.meta.version);
    let status = transition(action, record.meta.status)?;
    let mut changed = record.clone();
    changed.meta.status = status;
    changed.meta.version = expected;
    let stored = state.store.update_achievement(&changed, now()).await?;
    tracing::info!(achievement_id = %stored.meta.id, status = %status, "achievement status changed");
    Ok(record_response(
        StatusCode::OK,
        &AchievementResponse::new(&stored, &auth),
        stored.meta.version,
        None,
    ))
}
