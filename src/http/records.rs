//! What the routes of both libraries (needs, achievements) do alike: create under the right
//! owner, load only what the viewer may see, let only the owner or staff change, store changes
//! under the version the client read, and move the status along its life cycle. The library
//! modules keep only their documented handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::views::{AchievementResponse, NeedResponse, PageResponse};
use super::{AppState, ListParams, expected_version, optional_version, parse_body, parse_id, resolve_owner};
use crate::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use crate::domain::docking::discloses_contacts;
use crate::domain::need::{Need, NeedContent, NeedInput};
use crate::domain::record::{Library, Principal, RecordMeta, StatusAction, can_edit, can_read_contact, can_view};
use crate::domain::validate::Contact;
use crate::domain::validate::ValidationErrors;
use crate::domain::vocab::{RecordStatus, Visibility};
use crate::domain::{market_today, new_id, now};
use crate::matching::duplicates::near_duplicates;
use crate::storage::{DockingQuery, ListQuery, Page, Store, StoreError, StoreResult};

/// A record of one of the two libraries, as the shared route steps need it.
#[async_trait]
pub trait LibraryRecord: Clone + Send + Sync + Sized + 'static {
    const LIBRARY: Library;
    /// What a client sends to create or change one.
    type Input: DeserializeOwned + Send;
    type Response: Serialize + utoipa::ToSchema;

    fn meta(&self) -> &RecordMeta;
    fn meta_mut(&mut self) -> &mut RecordMeta;
    fn visibility(&self) -> Visibility;
    fn title(&self) -> &str;
    fn contact(&self) -> &Contact;
    fn view(&self, viewer: &Principal) -> Self::Response;

    /// The owner and expected version named in an input, if any.
    fn input_org(input: &Self::Input) -> Option<&str>;
    fn input_version(input: &Self::Input) -> Option<i64>;
    /// A validated new record from a complete input.
    fn build(input: &Self::Input, meta: RecordMeta, today: NaiveDate) -> Result<Self, ValidationErrors>;
    /// This record with a partial update applied and validated.
    fn patched(&self, patch: &Self::Input, today: NaiveDate) -> Result<Self, ValidationErrors>;

    async fn insert(&self, store: &dyn Store) -> StoreResult<()>;
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Self>>;
    /// Stores this record if the stored version is still `meta.version`.
    async fn save(&self, store: &dyn Store, at: DateTime<Utc>) -> StoreResult<Self>;
    async fn list(store: &dyn Store, query: &ListQuery) -> StoreResult<Page<Self>>;
}

#[async_trait]
impl LibraryRecord for Need {
    const LIBRARY: Library = Library::Needs;
    type Input = NeedInput;
    type Response = NeedResponse;

    fn meta(&self) -> &RecordMeta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut RecordMeta {
        &mut self.meta
    }
    fn visibility(&self) -> Visibility {
        self.content.visibility
    }
    fn title(&self) -> &str {
        &self.content.title
    }
    fn contact(&self) -> &Contact {
        &self.content.contact
    }
    fn view(&self, viewer: &Principal) -> NeedResponse {
        NeedResponse::new(self, viewer)
    }
    fn input_org(input: &NeedInput) -> Option<&str> {
        input.org_id.as_deref()
    }
    fn input_version(input: &NeedInput) -> Option<i64> {
        input.version
    }
    fn build(input: &NeedInput, meta: RecordMeta, today: NaiveDate) -> Result<Need, ValidationErrors> {
        Ok(Need { meta, content: NeedContent::parse(input, today)? })
    }
    fn patched(&self, patch: &NeedInput, today: NaiveDate) -> Result<Need, ValidationErrors> {
        Ok(Need { meta: self.meta.clone(), content: self.content.patched(patch, today)? })
    }
    async fn insert(&self, store: &dyn Store) -> StoreResult<()> {
        store.insert_need(self).await
    }
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Need>> {
        store.get_need(id).await
    }
    async fn save(&self, store: &dyn Store, at: DateTime<Utc>) -> StoreResult<Need> {
        store.update_need(self, at).await
    }
    async fn list(store: &dyn Store, query: &ListQuery) -> StoreResult<Page<Need>> {
        store.list_needs(query).await
    }
}

#[async_trait]
impl LibraryRecord for Achievement {
    const LIBRARY: Library = Library::Achievements;
    type Input = AchievementInput;
    type Response = AchievementResponse;

    fn meta(&self) -> &RecordMeta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut RecordMeta {
        &mut self.meta
    }
    fn visibility(&self) -> Visibility {
        self.content.visibility
    }
    fn title(&self) -> &str {
        &self.content.title
    }
    fn contact(&self) -> &Contact {
        &self.content.contact
    }
    fn view(&self, viewer: &Principal) -> AchievementResponse {
        AchievementResponse::new(self, viewer)
    }
    fn input_org(input: &AchievementInput) -> Option<&str> {
        input.org_id.as_deref()
    }
    fn input_version(input: &AchievementInput) -> Option<i64> {
        input.version
    }
    fn build(input: &AchievementInput, meta: RecordMeta, _today: NaiveDate) -> Result<Achievement, ValidationErrors> {
        Ok(Achievement { meta, content: AchievementContent::parse(input)? })
    }
    fn patched(&self, patch: &AchievementInput, _today: NaiveDate) -> Result<Achievement, ValidationErrors> {
        Ok(Achievement { meta: self.meta.clone(), content: self.content.patched(patch)? })
    }
    async fn insert(&self, store: &dyn Store) -> StoreResult<()> {
        store.insert_achievement(self).await
    }
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Achievement>> {
        store.get_achievement(id).await
    }
    async fn save(&self, store: &dyn Store, at: DateTime<Utc>) -> StoreResult<Achievement> {
        store.update_achievement(self, at).await
    }
    async fn list(store: &dyn Store, query: &ListQuery) -> StoreResult<Page<Achievement>> {
        store.list_achievements(query).await
    }
}

/// A record's JSON with its version as `ETag`, and `Location` when it is new.
fn respond<R: LibraryRecord>(status: StatusCode, record: &R, viewer: &Principal) -> HttpResponse {
    headers(status, record).json(record.view(viewer))
}

/// A response builder with the record's `ETag` (and `Location` when created).
fn headers<R: LibraryRecord>(status: StatusCode, record: &R) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder.insert_header((actix_web::http::header::ETAG, format!("\"{}\"", record.meta().version)));
    if status == StatusCode::CREATED {
        let location = format!("/api/v1/{}/{}", R::LIBRARY.route(), record.meta().id);
        builder.insert_header((actix_web::http::header::LOCATION, location));
    }
    builder
}

/// Loads a record the viewer may see; anything else is 404, so existence does not leak.
async fn load_visible<R: LibraryRecord>(state: &AppState, viewer: &Principal, id: &str) -> Result<R, ApiError> {
    Ok(load_checked(state, viewer, id).await?.0)
}

/// `load_visible`, also saying whether the viewer is the other party of an introduced docking
/// of the record when that had to be asked (the record is confidential to the viewer).
async fn load_checked<R: LibraryRecord>(
    state: &AppState,
    viewer: &Principal,
    id: &str,
) -> Result<(R, Option<bool>), ApiError> {
    let what = R::LIBRARY.name();
    let id = parse_id(what, id)?;
    let record = R::fetch(state.store.as_ref(), id).await?.ok_or_else(|| ApiError::not_found(what, id))?;
    let meta = record.meta();
    if can_view(viewer, &meta.org_id, record.visibility(), meta.status) {
        return Ok((record, None));
    }
    // The other party of an introduced docking reads the record even if it is confidential,
    // unless its owner has made it private: then it is the owner's alone.
    if record.visibility() != crate::domain::vocab::Visibility::Private && introduced_to(state, viewer, &record).await?
    {
        return Ok((record, Some(true)));
    }
    Err(ApiError::not_found(what, id))
}

/// Loads a record the viewer may see and change.
async fn load_editable<R: LibraryRecord>(state: &AppState, viewer: &Principal, id: &str) -> Result<R, ApiError> {
    let record: R = load_visible(state, viewer, id).await?;
    if !can_edit(viewer, R::LIBRARY, &record.meta().org_id) {
        return Err(ApiError::forbidden(format!(
            "only the {} that posted this {}, or a technology manager, may change it",
            R::LIBRARY.owner_description(),
            R::LIBRARY.name()
        )));
    }
    Ok(record)
}

pub async fn create<R: LibraryRecord>(
    state: &AppState,
    viewer: &Principal,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    let input: R::Input = parse_body(body)?;
    if R::input_version(&input).is_some() {
        return Err(ApiError::unprocessable("field_not_allowed", "`version` is only sent with updates"));
    }
    let org = resolve_owner(state, viewer, R::LIBRARY, R::input_org(&input)).await?;
    let at = now();
    let meta = RecordMeta::new(new_id(), org.id, org.name, viewer.user_id.clone(), at);
    let record = R::build(&input, meta, market_today(at))?;
    // The organisation's own records with a nearly equal title (the same need posted twice).
    let own = ListQuery {
        viewer_org: record.meta().org_id.clone(),
        org_id: Some(record.meta().org_id.clone()),
        limit: 500,
        ..ListQuery::default()
    };
    let siblings = R::list(state.store.as_ref(), &own).await?.items;
    let duplicates = near_duplicates(record.title(), siblings.iter().map(|s| (s.meta().id.as_str(), s.title())));
    record.insert(state.store.as_ref()).await?;
    state.search.notify_write();
    state.matcher.notify();
    tracing::info!(library = R::LIBRARY.route(), id = %record.meta().id, org_id = %record.meta().org_id, duplicates = duplicates.len(), "record created");
    if duplicates.is_empty() {
        return Ok(respond(StatusCode::CREATED, &record, viewer));
    }
    // Created all the same: the flag lets the poster (or a manager) withdraw one of the two.
    let mut body = serde_json::to_value(record.view(viewer)).map_err(|_| ApiError::internal())?;
    body["possible_duplicates"] = serde_json::to_value(&duplicates).map_err(|_| ApiError::internal())?;
    Ok(headers(StatusCode::CREATED, &record).json(body))
}

pub async fn list<R: LibraryRecord>(
    state: &AppState,
    viewer: &Principal,
    params: ListParams,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_query(viewer, R::LIBRARY)?;
    let page = R::list(state.store.as_ref(), &query).await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page.items.iter().map(|r| r.view(viewer)).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub async fn get<R: LibraryRecord>(state: &AppState, viewer: &Principal, id: &str) -> Result<HttpResponse, ApiError> {
    let (record, introduced): (R, _) = load_checked(state, viewer, id).await?;
    if can_read_contact(viewer, &record.meta().org_id) {
        return Ok(respond(StatusCode::OK, &record, viewer));
    }
    let introduced = match introduced {
        Some(known) => known,
        None => introduced_to(state, viewer, &record).await?,
    };
    if !introduced {
        return Ok(respond(StatusCode::OK, &record, viewer));
    }
    // The other party of an introduced docking reads the contact too.
    let mut body = serde_json::to_value(record.view(viewer)).map_err(|_| ApiError::internal())?;
    body["contact"] = serde_json::to_value(record.contact()).map_err(|_| ApiError::internal())?;
    Ok(headers(StatusCode::OK, &record).json(body))
}

/// Whether the viewer's organisation is the other party of a docking of this record that has
/// reached `introduced`.
async fn introduced_to<R: LibraryRecord>(state: &AppState, viewer: &Principal, record: &R) -> Result<bool, ApiError> {
    if viewer.role.is_staff() || viewer.org_id == record.meta().org_id {
        return Ok(false);
    }
    let id = record.meta().id.clone();
    let mut query = DockingQuery { party_org: Some(viewer.org_id.clone()), limit: 100, ..DockingQuery::default() };
    match R::LIBRARY {
        Library::Needs => query.need_id = Some(id),
        Library::Achievements => query.achievement_id = Some(id),
    }
    let dockings = state.store.list_dockings(&query).await?.items;
    Ok(dockings.iter().any(|d| discloses_contacts(d.state, d.was_introduced)))
}

pub async fn update<R: LibraryRecord>(
    state: &AppState,
    viewer: &Principal,
    req: &HttpRequest,
    id: &str,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    let patch: R::Input = parse_body(body)?;
    let record: R = load_editable(state, viewer, id).await?;
    if R::input_org(&patch).is_some() {
        return Err(ApiError::unprocessable(
            "field_not_allowed",
            format!("`org_id` cannot be changed: a {} stays with its organisation", R::LIBRARY.name()),
        ));
    }
    let expected = expected_version(req, R::input_version(&patch))?;
    if expected != record.meta().version {
        return Err(StoreError::VersionConflict { current: record.meta().version }.into());
    }
    let at = now();
    let changed = record.patched(&patch, market_today(at))?;
    let stored = changed.save(state.store.as_ref(), at).await?;
    state.search.notify_write();
    state.matcher.notify();
    Ok(respond(StatusCode::OK, &stored, viewer))
}

pub async fn change_status<R: LibraryRecord>(
    state: &AppState,
    viewer: &Principal,
    req: &HttpRequest,
    id: &str,
    action: &str,
) -> Result<HttpResponse, ApiError> {
    let action = parse_action(action)?;
    let record: R = load_editable(state, viewer, id).await?;
    let expected = optional_version(req)?.unwrap_or(record.meta().version);
    let status = transition(action, record.meta().status)?;
    let mut changed = record.clone();
    changed.meta_mut().status = status;
    changed.meta_mut().version = expected;
    let stored = changed.save(state.store.as_ref(), now()).await?;
    state.search.notify_write();
    state.matcher.notify();
    tracing::info!(library = R::LIBRARY.route(), id = %stored.meta().id, %status, "record status changed");
    Ok(respond(StatusCode::OK, &stored, viewer))
}

fn parse_action(action: &str) -> Result<StatusAction, ApiError> {
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
fn transition(action: StatusAction, from: RecordStatus) -> Result<RecordStatus, ApiError> {
    action.apply(from).map_err(|allowed| {
        let now_allowed =
            if allowed.is_empty() { "nothing (withdrawn is final)".to_string() } else { allowed.join(", ") };
        ApiError::conflict(
            "invalid_status_transition",
            format!("cannot {} a record that is `{from}`; allowed now: {now_allowed}", action.name()),
        )
        .with_details(serde_json::json!({ "status": from, "allowed": allowed }))
    })
}
