//! Routes of the needs library (企业需求库).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde_json::Value;

use super::auth::{AnyUser, Auth};
use super::error::{ApiError, ErrorBody};
use super::views::{NeedResponse, PageResponse};
use super::{
    AppState, ListParams, expected_version, optional_version, parse_body, parse_id,
    record_response, resolve_owner,
};
use crate::domain::need::{Need, NeedContent, NeedInput};
use crate::domain::record::{Library, Principal, RecordMeta, StatusAction, can_edit, can_view};
use crate::domain::{market_today, new_id, now};

/// Loads a need the viewer may see; anything else is 404, so existence does not leak.
async fn load_visible(state: &AppState, viewer: &Principal, id: &str) -> Result<Need, ApiError> {
    let id = parse_id("need", id)?;
    let need = state
        .store
        .get_need(id)
        .await?
        .ok_or_else(|| ApiError::not_found("need", id))?;
    if !can_view(
        viewer,
        &need.meta.org_id,
        need.content.visibility,
        need.meta.status,
    ) {
        return Err(ApiError::not_found("need", id));
    }
    Ok(need)
}

fn check_editable(viewer: &Principal, need: &Need) -> Result<(), ApiError> {
    if can_edit(viewer, Library::Needs, &need.meta.org_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the enterprise that posted this need, or a technology manager, may change it",
        ))
    }
}

/// Post a technical need.
///
/// Enterprise users post for their own organisation; managers post on behalf of an enterprise
/// (give `org_id`). Universities cannot post needs.
#[utoipa::path(
    tag = "needs",
    request_body = NeedInput,
    responses(
        (status = 201, description = "Created; `ETag` carries the version", body = NeedResponse),
        (status = 400, description = "Malformed JSON, unknown field or wrong type", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Validation failed; `details.fields` lists every problem", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/needs")]
pub async fn create_need(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: NeedInput = parse_body(body.into_inner())?;
    if input.version.is_some() {
        return Err(ApiError::unprocessable(
            "field_not_allowed",
            "`version` is only sent with updates",
        ));
    }
    let org = resolve_owner(&state, &auth, Library::Needs, input.org_id.as_deref()).await?;
    let at = now();
    let content = NeedContent::parse(&input, market_today(at))?;
    let need = Need {
        meta: RecordMeta::new(new_id(), org.id, org.name, auth.user_id.clone(), at),
        content,
    };
    state.store.insert_need(&need).await?;
    tracing::info!(need_id = %need.meta.id, org_id = %need.meta.org_id, "need created");
    let location = format!("/api/v1/needs/{}", need.meta.id);
    Ok(record_response(
        StatusCode::CREATED,
        &NeedResponse::new(&need, &auth),
        need.meta.version,
        Some(location),
    ))
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().into_query(&auth, Library::Needs)?;
    let page = state.store.list_needs(&query).await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page
            .items
            .iter()
            .map(|n| NeedResponse::new(n, &auth))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read one need.
#[utoipa::path(
    tag = "needs",
    params(("id" = String, Path, description = "Need id")),
    responses((status = 200, body = NeedResponse), (status = 400, body = ErrorBody), (status = 404, description = "No such need, or not visible to you", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/needs/{id}")]
pub async fn get_need(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let need = load_visible(&state, &auth, &id).await?;
    Ok(record_response(
        StatusCode::OK,
        &NeedResponse::new(&need, &auth),
        need.meta.version,
        None,
    ))
}

/// Change some fields of a need.
///
/// Send only the fields to change; `null` clears an optional one. The version you read must be
/// sent as `If-Match: "<version>"` or as `version`; if someone changed the need since, 409.
#[utoipa::path(
    tag = "needs",
    params(("id" = String, Path, description = "Need id"), ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\"")),
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let patch: NeedInput = parse_body(body.into_inner())?;
    let need = load_visible(&state, &auth, &id).await?;
    check_editable(&auth, &need)?;
    if patch.org_id.is_some() {
        return Err(ApiError::unprocessable(
            "field_not_allowed",
            "`org_id` cannot be changed: a need stays with its enterprise",
        ));
    }
    let expected = expected_version(&req, patch.version)?;
    if expected != need.meta.version {
        return Err(crate::storage::StoreError::VersionConflict {
            current: need.meta.version,
        }
        .into());
    }
    let at = now();
    let mut changed = need.clone();
    changed.content = need.content.patched(&patch, market_today(at))?;
    let stored = state.store.update_need(&changed, at).await?;
    Ok(record_response(
        StatusCode::OK,
        &NeedResponse::new(&stored, &auth),
        stored.meta.version,
        None,
    ))
}

/// Close, withdraw or reopen a need.
///
/// `close`: solved or no longer wanted (open → closed). `withdraw`: taken back for good (open or
/// closed → withdrawn). `reopen`: closed → open. `If-Match` is optional here.
#[utoipa::path(
    tag = "needs",
    params(("id" = String, Path, description = "Need id"), ("action" = String, Path, description = "close | withdraw | reopen")),
    responses((status = 200, body = NeedResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Not allowed from the current status; `details.allowed` lists what is", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/needs/{id}/{action}")]
pub async fn change_need_status(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let action = parse_action(&action)?;
    let need = load_visible(&state, &auth, &id).await?;
    check_editable(&auth, &need)?;
    let expected = optional_version(&req)?.unwrap_or(need.meta.version);
    let status = transition(action, need.meta.status)?;
    let mut changed = need.clone();
    changed.meta.status = status;
    changed.meta.version = expected;
    let stored = state.store.update_need(&changed, now()).await?;
    tracing::info!(need_id = %stored.meta.id, status = %status, "need status changed");
    Ok(record_response(
        StatusCode::OK,
        &NeedResponse::new(&stored, &auth),
        stored.meta.version,
        None,
    ))
}

/// Parses the action segment of a status route.
pub fn parse_action(action: &str) -> Result<StatusAction, ApiError> {
    match action {
        "close" => Ok(StatusAction::Close),
        "withdraw" => Ok(StatusAction::Withdraw),
        "reopen" => Ok(StatusAction::Reopen),
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("`{other}` is not an action: use close, withdraw or reopen"),
        )),
    }
}

/// Applies a status action, or explains with a 409 which actions the current status allows.
pub fn transition(
    action: StatusAction,
    from: crate::domain::vocab::RecordStatus,
) -> Result<crate::domain::vocab::RecordStatus, ApiError> {
    action.apply(from).map_err(|allowed| {
        ApiError::conflict(
            "invalid_status_transition",
            format!(
                "cannot {} a record that is `{}`; allowed now: {}",
                action.name(),
                from,
                if allowed.is_empty() {
                    "nothing (withdrawn is final)".to_string()
                } else {
                    allowed.join(", ")
                }
            ),
        )
        .with_details(serde_json::json!({ "status": from, "allowed": allowed }))
    })
}
