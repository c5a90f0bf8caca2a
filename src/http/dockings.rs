//! The docking library (项目对接库): the dockings managers drive from suggestion to contract.
//! The parties see their own dockings from acceptance on, contacts from introduction on.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::{AppState, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, optional_json, optional_version, parse_body, parse_id};
use crate::domain::achievement::Achievement;
use crate::domain::docking::{
    Actor, Docking, DockingAction, DockingEvent, DockingSource, DockingState, EventKind, ReasonCode, Step, StepError,
    allowed, apply, discloses_contacts,
};
use crate::domain::need::Need;
use crate::domain::record::{Library, Principal, can_view, private_to_others};
use crate::domain::transfer::TransferInput;
use crate::domain::validate::{Contact, region_prefix};
use crate::domain::vocab::{Role, TechField, Visibility};
use crate::domain::{new_id, now};
use crate::matching::MATCHER_VERSION;
use crate::matching::service::{Subject, achievement_fingerprint, need_fingerprint, stored_json};
use crate::storage::{DockingQuery, StoreError};

/// A record's owner as a reference.
pub(super) fn org_ref(meta: &crate::domain::record::RecordMeta) -> super::views::OrgRef {
    super::views::OrgRef { id: meta.org_id.clone(), name: meta.org_name.clone() }
}

/// One side of a docking as the viewer may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    pub owner: super::views::OrgRef,
    /// Null when the record is confidential to the viewer until the parties are introduced.
    pub title: Option<String>,
    /// Disclosed to the other party from `introduced` on; always to managers and the owner.
    pub contact: Option<Contact>,
    /// The owner made the record private: to anyone else only its id is shown (title and contact
    /// are null), and the docking stays as it was.
    pub private: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DockingResponse {
    pub id: String,
    pub state: DockingState,
    pub state_label: &'static str,
    /// The reason code of the rejection or failure.
    pub reason: Option<ReasonCode>,
    pub source: DockingSource,
    pub score: Option<f64>,
    /// The matcher's explanation at creation (managers only).
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<Value>,
    pub matcher_version: Option<String>,
    pub dictionary_version: Option<String>,
    pub need: PartyView,
    pub achievement: PartyView,
    pub field: TechField,
    pub region: String,
    pub manager_id: Option<String>,
    pub need_interest: bool,
    pub achievement_interest: bool,
    /// What the viewer may do now.
    pub allowed_actions: Vec<DockingAction>,
    /// The history, oldest first (on single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<DockingEvent>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DockingPage {
    pub items: Vec<DockingResponse>,
    pub next_cursor: Option<String>,
}

/// How the viewer relates to a docking, or `None` when it may not see it.
fn actor_of(viewer: &Principal, d: &Docking) -> Option<Actor> {
    if viewer.role.is_staff() {
        return Some(Actor::Manager);
    }
    if !d.state.visible_to_parties() {
        return None;
    }
    if viewer.org_id == d.need_org_id {
        Some(Actor::NeedOwner)
    } else if viewer.org_id == d.achievement_org_id {
        Some(Actor::AchievementOwner)
    } else {
        None
    }
}

/// Builds the views of a page of dockings, loading both sides in two queries.
async fn views(
    state: &AppState,
    viewer: &Principal,
    dockings: &[Docking],
    with_events: bool,
) -> Result<Vec<DockingResponse>, ApiError> {
    let need_ids: Vec<String> = dockings.iter().map(|d| d.need_id.clone()).collect();
    let achievement_ids: Vec<String> = dockings.iter().map(|d| d.achievement_id.clone()).collect();
    let needs = state.store.needs_by_ids(&need_ids).await?;
    let achievements = state.store.achievements_by_ids(&achievement_ids).await?;
    let mut out = Vec::with_capacity(dockings.len());
    for d in dockings {
        let Some(actor) = actor_of(viewer, d) else { continue };
        let need = needs.iter().find(|n| n.meta.id == d.need_id);
        let achievement = achievements.iter().find(|a| a.meta.id == d.achievement_id);
        let (Some(need), Some(achievement)) = (need, achievement) else { continue };
        let staff = actor == Actor::Manager;
        let events = if with_events {
            let mut events = state.store.docking_events(&d.id).await?;
            // Managers' and the other side's notes are their own business: a party reads the
            // history with only its own side's notes.
            if !staff {
                events.iter_mut().filter(|e| e.actor_role != viewer.role.code()).for_each(|e| e.note.clear());
            }
            Some(events)
        } else {
            None
        };
        out.push(DockingResponse {
            id: d.id.clone(),
            state: d.state,
            state_label: d.state.label(),
            reason: d.reason,
            source: d.source,
            score: d.score,
            explanation: staff.then(|| d.explanation.clone()),
            matcher_version: d.matcher_version.clone(),
            dictionary_version: d.dictionary_version.clone(),
            need: need_side(viewer, d, need),
            achievement: achievement_side(viewer, d, achievement),
            field: d.field,
            region: d.region.clone(),
            manager_id: d.manager_id.clone(),
            need_interest: d.need_interest,
            achievement_interest: d.achievement_interest,
            allowed_actions: allowed(d.state, actor),
            events,
            created_at: d.created_at,
            updated_at: d.updated_at,
            version: d.version,
        });
    }
    Ok(out)
}

/// The viewer may read a side's contact: managers, the owner, and the other party once
/// introduced.
fn side_contact(viewer: &Principal, d: &Docking, owner_org: &str, contact: &Contact) -> Option<Contact> {
    let disclosed = viewer.role.is_staff()
        || viewer.org_id == owner_org
        || ((viewer.org_id == d.need_org_id || viewer.org_id == d.achievement_org_id)
            && discloses_contacts(d.state, d.was_introduced));
    disclosed.then(|| contact.clone())
}

/// The title is shown when the viewer may see the record anyway, or once introduced.
fn side_title(d: &Docking, visible: bool, title: &str) -> Option<String> {
    (visible || discloses_contacts(d.state, d.was_introduced)).then(|| title.to_string())
}

fn need_side(viewer: &Principal, d: &Docking, need: &Need) -> PartyView {
    let visible = can_view(viewer, &need.meta.org_id, need.content.visibility, need.meta.status);
    PartyView {
        id: need.meta.id.clone(),
        owner: org_ref(&need.meta),
        title: side_title(d, visible, &need.content.title),
        contact: side_contact(viewer, d, &need.meta.org_id, &need.content.contact),
        private: false,
    }
    .hidden_if_private(viewer, need.content.visibility)
}

impl PartyView {
    /// Takes the title and contact away when the owner has made the record private.
    fn hidden_if_private(mut self, viewer: &Principal, visibility: crate::domain::vocab::Visibility) -> PartyView {
        if private_to_others(viewer, &self.owner.id, visibility) {
            self.title = None;
            self.contact = None;
            self.private = true;
        }
        self
    }
}

fn achievement_side(viewer: &Principal, d: &Docking, achievement: &Achievement) -> PartyView {
    let visible = can_view(viewer, &achievement.meta.org_id, achievement.content.visibility, achievement.meta.status);
    let mut contact = side_contact(viewer, d, &achievement.meta.org_id, &achievement.content.contact);
    if let Some(c) = contact.as_mut().filter(|c| c.name.is_empty()) {
        c.name = achievement.content.team_lead.clone();
    }
    PartyView {
        id: achievement.meta.id.clone(),
        owner: org_ref(&achievement.meta),
        title: side_title(d, visible, &achievement.content.title),
        contact,
        private: false,
    }
    .hidden_if_private(viewer, achievement.content.visibility)
}

/// Loads a docking the viewer may see (404 otherwise, so existence does not leak).
async fn load(state: &AppState, viewer: &Principal, id: &str) -> Result<(Docking, Actor), ApiError> {
    let id = parse_id("docking", id)?;
    let d = state.store.get_docking(id).await?.ok_or_else(|| ApiError::not_found("docking", id))?;
    let actor = actor_of(viewer, &d).ok_or_else(|| ApiError::not_found("docking", id))?;
    Ok((d, actor))
}

async fn respond(
    state: &AppState,
    viewer: &Principal,
    d: &Docking,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let view = views(state, viewer, std::slice::from_ref(d), true)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("docking", &d.id))?;
    Ok(HttpResponse::build(status).insert_header(("ETag", format!("\"{}\"", d.version))).json(view))
}

/// Query of a docking listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DockingListParams {
    /// One state or several separated by commas, e.g. `accepted,introduced`.
    pub state: Option<String>,
    pub need_id: Option<String>,
    pub achievement_id: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    /// The assigned manager's user id, or `me`.
    pub manager_id: Option<String>,
    /// The need's field.
    pub field: Option<TechField>,
    /// The need's region prefix (2, 4 or 6 digits).
    pub region: Option<String>,
    /// `recent` (default) or `score`.
    pub order: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl DockingListParams {
    fn into_query(self, viewer: &Principal) -> Result<DockingQuery, ApiError> {
        let bad = |message: String| ApiError::bad_request("invalid_query", message);
        let states = match &self.state {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse::<DockingState>().map_err(|e| bad(format!("`state`: {e}"))))
                .collect::<Result<_, _>>()?,
        };
        let id = |what: &str, v: Option<String>| -> Result<Option<String>, ApiError> {
            v.map(|v| parse_id(what, &v).map(str::to_string)).transpose()
        };
        let manager_id = match self.manager_id.as_deref() {
            Some("me") => Some(viewer.user_id.clone()),
            other => id("user", other.map(str::to_string))?,
        };
        let region_prefix = self
            .region
            .map(|r| region_prefix(&r).map(str::to_string).map_err(|e| bad(format!("`region`: {e}"))))
            .transpose()?;
        let by_score = match self.order.as_deref() {
            None | Some("recent") => false,
            Some("score") => true,
            Some(other) => return Err(bad(format!("`order`: `{other}` is not an order: use recent or score"))),
        };
        let offset = match self.cursor {
            None => 0,
            Some(c) => {
                c.parse::<u32>().map_err(|_| bad(format!("`cursor`: `{c}` is not a cursor from a previous page")))?
            }
        };
        let limit = match self.limit {
            None => DEFAULT_PAGE_SIZE,
            Some(n @ 1..=MAX_PAGE_SIZE) => n,
            Some(n) => return Err(bad(format!("`limit` must be 1 to {MAX_PAGE_SIZE} (got {n})"))),
        };
        Ok(DockingQuery {
            states,
            need_id: id("need", self.need_id)?,
            achievement_id: id("achievement", self.achievement_id)?,
            org_id: id("organisation", self.org_id)?,
            manager_id,
            field: self.field,
            region_prefix,
            party_org: (!viewer.role.is_staff()).then(|| viewer.org_id.clone()),
            by_score,
            open_records_only: false,
            offset,
            limit,
        })
    }
}

/// List dockings: managers see all (filter by need, achievement, organisation, state, manager,
/// field, region); enterprises and universities see their own from `accepted` on.
#[utoipa::path(
    tag = "dockings",
    params(DockingListParams),
    responses((status = 200, body = DockingPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings")]
pub async fn list_dockings(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    params: web::Query<DockingListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().into_query(&auth)?;
    let page = state.store.list_dockings(&query).await?;
    let items = views(&state, &auth, &page.items, false).await?;
    Ok(HttpResponse::Ok().json(DockingPage { items, next_cursor: page.next_cursor }))
}

/// The review queue: suggested dockings of open records, best first (managers only). Filters as
/// for the list; `manager_id=me` shows the ones assigned to you.
#[utoipa::path(
    tag = "dockings",
    params(DockingListParams),
    responses((status = 200, body = DockingPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings/queue")]
pub async fn review_queue(
    state: web::Data<AppState>,
    auth: Auth<Staff>,
    params: web::Query<DockingListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    if params.state.is_some() || params.order.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "the queue holds suggested dockings, best first: use GET /api/v1/dockings for other states or orders",
        ));
    }
    params.state = Some("suggested".into());
    params.order = Some("score".into());
    let mut query = params.into_query(&auth)?;
    // A suggestion whose need or achievement was closed or withdrawn is not worth reviewing.
    query.open_records_only = true;
    let page = state.store.list_dockings(&query).await?;
    let items = views(&state, &auth, &page.items, false).await?;
    Ok(HttpResponse::Ok().json(DockingPage { items, next_cursor: page.next_cursor }))
}

/// Read one docking with its history and the actions you may take.
#[utoipa::path(
    tag = "dockings",
    params(("id" = String, Path, description = "Docking id")),
    responses((status = 200, body = DockingResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings/{id}")]
pub async fn get_docking(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if id.as_str() == "bulk" {
        // POST /dockings/bulk's path, read with GET: the route exists, the method does not.
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "/api/v1/dockings/bulk does not accept GET; it accepts POST",
        )
        .with_header(actix_web::http::header::ALLOW, "POST"));
    }
    let (d, _) = load(&state, &auth, &id).await?;
    respond(&state, &auth, &d, StatusCode::OK).await
}

/// A manual docking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocking {
    pub need_id: String,
    pub achievement_id: String,
    /// Why the manager pairs them.
    #[serde(default)]
    pub note: String,
}

/// Pair a need with an achievement by hand (managers only). It starts `accepted`, assigned to
/// you, with the matcher's explanation of the pair; a pair with an open docking gets 409.
#[utoipa::path(
    tag = "dockings",
    request_body = NewDocking,
    responses(
        (status = 201, body = DockingResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The pair has an open docking", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/dockings")]
pub async fn create_docking(
    state: web::Data<AppState>,
    auth: Auth<Staff>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: NewDocking = parse_body(body.into_inner())?;
    let need_id = parse_id("need", &input.need_id)?;
    let achievement_id = parse_id("achievement", &input.achievement_id)?;
    let need = state.store.get_need(need_id).await?.filter(|n| n.content.visibility != Visibility::Private);
    let need = need.ok_or_else(|| ApiError::not_found("need", need_id))?;
    let achievement =
        state.store.get_achievement(achievement_id).await?.filter(|a| a.content.visibility != Visibility::Private);
    let achievement = achievement.ok_or_else(|| ApiError::not_found("achievement", achievement_id))?;
    // The explanation of the pair, if the matcher ranks it among the need's first hundred.
    let matches = state.matcher.matches(&Subject::Need(need.clone()), 100).await?;
    let found = matches.items.into_iter().find(|i| i.achievement.meta.id == achievement.meta.id);
    let at = now();
    let docking = Docking {
        id: new_id(),
        need_id: need.meta.id.clone(),
        achievement_id: achievement.meta.id.clone(),
        need_org_id: need.meta.org_id.clone(),
        achievement_org_id: achievement.meta.org_id.clone(),
        state: DockingState::Accepted,
        reason: None,
        source: DockingSource::Manual,
        score: found.as_ref().map(|f| (f64::from(f.score) * 1000.0).round() / 1000.0),
        explanation: found.as_ref().map(|f| stored_json(&f.explanation)).unwrap_or_else(|| {
            let fit = crate::matching::fit::assess(&need.content, &achievement.content);
            stored_json(&std::collections::BTreeMap::from([("fit", fit)]))
        }),
        matcher_version: Some(MATCHER_VERSION.to_string()),
        dictionary_version: Some(matches.dictionary_version),
        need_fingerprint: need_fingerprint(&need.content),
        achievement_fingerprint: achievement_fingerprint(&achievement.content),
        manager_id: Some(auth.user_id.clone()),
        field: need.content.field,
        region: need.content.region.clone(),
        was_introduced: false,
        need_interest: false,
        achievement_interest: false,
        created_by: Some(auth.user_id.clone()),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let event = event(&auth, &docking.id, EventKind::Created, None, Some(DockingState::Accepted), None, input.note);
    match state.store.create_docking(&docking, &event, false).await {
        Ok(None) => {}
        Ok(Some(open)) => return Err(open_pair(&open)),
        Err(StoreError::UniqueViolation { .. }) => {
            return Err(ApiError::conflict("docking_exists", "this pair already has an open docking"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(docking = %docking.id, need = %docking.need_id, achievement = %docking.achievement_id, "manual docking created");
    respond(&state, &auth, &docking, StatusCode::CREATED).await
}

fn open_pair(open: &Docking) -> ApiError {
    ApiError::conflict(
        "docking_exists",
        format!("this pair already has a docking in state `{}`: work on that one", open.state),
    )
    .with_details(serde_json::json!({ "docking_id": open.id, "state": open.state }))
}

fn event(
    viewer: &Principal,
    docking_id: &str,
    kind: EventKind,
    from: Option<DockingState>,
    to: Option<DockingState>,
    reason: Option<ReasonCode>,
    note: String,
) -> DockingEvent {
    DockingEvent {
        docking_id: docking_id.to_string(),
        at: now(),
        actor_id: Some(viewer.user_id.clone()),
        actor_role: viewer.role.code().to_string(),
        kind,
        action: None,
        from_state: from,
        to_state: to,
        reason,
        note,
    }
}

/// What a transition carries.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// Required to reject or fail: field_mismatch, trl_too_low, budget_gap, cooperation_mismatch,
    /// already_solved, party_unresponsive, duplicate, other.
    pub reason: Option<ReasonCode>,
    /// Required with reason `other`.
    #[serde(default)]
    pub note: String,
    /// The version you read (or send `If-Match`); optional.
    pub version: Option<i64>,
    /// Required to sign: the contract, which becomes the transfer record (落地转化库) in the
    /// same write. Type, amount (万元) and signing date are required.
    pub contract: Option<TransferInput>,
}

fn step_error(err: StepError, d: &Docking, actor: Actor) -> ApiError {
    match err {
        StepError::NotAllowed { .. } => ApiError::conflict("invalid_docking_transition", err.to_string())
            .with_details(serde_json::json!({ "state": d.state, "allowed": allowed(d.state, actor) })),
        StepError::ManagersOnly(_) => ApiError::forbidden(err.to_string()),
        StepError::ReasonRequired(_) | StepError::NoteRequired | StepError::ReasonNotAccepted(_) => {
            ApiError::unprocessable("invalid_reason", err.to_string())
        }
    }
}

/// After a rejection, the need and the achievement each get their next candidate in the queue
/// (in the background; `techmarket match --all` catches up on any that a restart cut short).
fn refill(state: &AppState, d: &Docking) {
    if d.state != DockingState::Rejected {
        return;
    }
    let matcher = state.matcher.clone();
    let sides = [(Library::Needs, d.need_id.clone()), (Library::Achievements, d.achievement_id.clone())];
    tokio::spawn(async move {
        for (library, id) in sides {
            let outcome = match matcher.subject(library, &id).await {
                Ok(Some(subject)) => matcher.suggest(&subject).await.map(|_| ()),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                tracing::warn!(library = library.route(), %id, error = %e, "suggesting after a rejection failed");
            }
        }
    });
}

/// Applies a transition by `viewer` to a loaded docking and stores it with its event.
async fn transition(
    state: &AppState,
    viewer: &Principal,
    d: Docking,
    actor: Actor,
    action: DockingAction,
    input: TransitionInput,
    expected: Option<i64>,
) -> Result<Docking, ApiError> {
    if expected.is_some_and(|v| v != d.version) {
        return Err(StoreError::VersionConflict { current: d.version }.into());
    }
    let step = Step { action, actor, reason: input.reason, note: &input.note };
    let to = apply(d.state, &step).map_err(|e| step_error(e, &d, actor))?;
    let mut changed = d.clone();
    changed.state = to;
    if input.reason.is_some() {
        changed.reason = input.reason;
    }
    changed.was_introduced |= to == DockingState::Introduced;
    if actor == Actor::Manager && changed.manager_id.is_none() {
        changed.manager_id = Some(viewer.user_id.clone());
    }
    let contract = input.contract;
    let mut e = event(viewer, &d.id, EventKind::Transition, Some(d.state), Some(to), input.reason, input.note);
    e.action = Some(action);
    let stored = if action == DockingAction::Sign {
        let transfer = super::transfers::new_transfer(state, viewer, &changed, contract.as_ref()).await?;
        let stored =
            state.store.sign_docking(&changed, &e, &transfer).await.map_err(super::transfers::registration_taken)?;
        tracing::info!(docking = %d.id, transfer = %transfer.id, amount = %transfer.content.amount, "contract signed");
        stored
    } else {
        if contract.is_some() {
            return Err(ApiError::unprocessable(
                "contract_not_accepted",
                format!("`contract` goes with the action `sign`, not `{action}`"),
            ));
        }
        state.store.update_docking(&changed, &e).await?
    };
    tracing::info!(docking = %d.id, from = %d.state, to = %to, by = %viewer.user_id, "docking moved");
    Ok(stored)
}

/// Move a docking along its workflow: accept, reject, introduce, negotiate, sign, fail or
/// withdraw.
///
/// Managers take every action; the parties may only withdraw. Rejecting and failing need a
/// reason code (reason `other` also a note). An action the state does not allow gets 409 with
/// the allowed ones in `details.allowed`. Introducing discloses each party's contact to the
/// other.
#[utoipa::path(
    tag = "dockings",
    params(("id" = String, Path, description = "Docking id"), ("action" = DockingAction, Path, description = "The action")),
    request_body(content = ActionBody, description = "Optional for actions without a reason. Each action takes some of these fields: the transitions `reason`, `note`, `version` and (to sign) `contract`; assign `manager_id` and `note`; notes `note`; interest none. A field another action takes is refused with 422 `field_not_allowed`."),
    responses(
        (status = 200, body = DockingResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not allowed from this state (`details.allowed`), or a stale version", body = ErrorBody),
        (status = 422, description = "A reason code or note is missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/dockings/{id}/{action}")]
pub async fn act_on_docking(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let body = optional_json(&req, &body)?;
    // Found (404), then allowed (403 in each action), then the body.
    let (d, actor) = load(&state, &auth, &id).await?;
    check_action_fields(&action, &body)?;
    match action.as_str() {
        "assign" => return assign(&state, &auth, d, actor, body).await,
        "notes" => return note(&state, &auth, d, body).await,
        "interest" => return interest(&state, &auth, d, actor).await,
        _ => {}
    }
    let action: DockingAction = action.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!(
                "`{action}` is not a docking action: use accept, reject, introduce, negotiate, sign, fail, withdraw, assign, notes or interest"
            ),
        )
    })?;
    let input: TransitionInput = parse_body(body)?;
    let expected = optional_version(&req)?.or(input.version);
    let stored = transition(&state, &auth, d, actor, action, input, expected).await?;
    refill(&state, &stored);
    respond(&state, &auth, &stored, StatusCode::OK).await
}

/// The body of a docking action, as the document describes it: the fields all actions take
/// between them (each action reads its own; see `check_action_fields`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ActionBody {
    /// Reject or fail: field_mismatch, trl_too_low, budget_gap, cooperation_mismatch,
    /// already_solved, party_unresponsive, duplicate, other.
    pub reason: Option<ReasonCode>,
    /// Required with reason `other`, and for notes (1 to 2000 characters).
    pub note: Option<String>,
    /// The version you read (or send `If-Match`); optional.
    pub version: Option<i64>,
    /// Sign: the contract, which becomes the transfer record in the same write.
    pub contract: Option<TransferInput>,
    /// Assign: a technology manager's user id.
    #[schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub manager_id: Option<String>,
}

/// Each action reads some of the fields of `ActionBody`: one that is not a field of any action is
/// a malformed body (400); one that another action takes is refused by name (422).
fn check_action_fields(action: &str, body: &Value) -> Result<(), ApiError> {
    const ALL: [&str; 5] = ["reason", "note", "version", "contract", "manager_id"];
    let takes: &[&str] = match action {
        "assign" => &["manager_id", "note"],
        "notes" => &["note"],
        "interest" => &[],
        _ => &["reason", "note", "version", "contract"],
    };
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"));
    };
    for key in map.keys() {
        if !ALL.contains(&key.as_str()) {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("`{key}`: unknown field; a docking action takes {}", ALL.join(", ")),
            )
            .with_details(serde_json::json!({ "field": key })));
        }
        if !takes.contains(&key.as_str()) {
            let takes = if takes.is_empty() { "no fields".to_string() } else { takes.join(", ") };
            return Err(ApiError::unprocessable(
                "field_not_allowed",
                format!("`{key}` does not apply to {action}; it takes {takes}"),
            )
            .with_details(serde_json::json!({ "field": key })));
        }
    }
    Ok(())
}

/// A field an action needs, refused by name when it is missing (the body's schema, shared by
/// every action, cannot require it).
fn required_field(body: &Value, field: &str, action: &str) -> Result<(), ApiError> {
    if body.get(field).is_none_or(Value::is_null) {
        return Err(ApiError::unprocessable("field_required", format!("`{field}` is required to {action}"))
            .with_details(serde_json::json!({ "field": field })));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// A technology manager's user id.
    pub manager_id: String,
    #[serde(default)]
    pub note: String,
}

async fn assign(
    state: &AppState,
    viewer: &Principal,
    d: Docking,
    actor: Actor,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    if actor != Actor::Manager {
        return Err(ApiError::forbidden("only a technology manager may assign a docking"));
    }
    required_field(&body, "manager_id", "assign")?;
    let input: AssignInput = parse_body(body)?;
    let manager_id = parse_id("user", &input.manager_id)?;
    let manager = state.store.get_user(manager_id).await?.ok_or_else(|| ApiError::not_found("user", manager_id))?;
    if !matches!(manager.role, Role::Manager | Role::Admin) {
        return Err(ApiError::unprocessable(
            "not_a_manager",
            format!("{} is not a technology manager: dockings are assigned to managers", manager.name),
        ));
    }
    if d.state.is_final() {
        return Err(ApiError::conflict("docking_closed", format!("the docking is `{}`: nothing to assign", d.state)));
    }
    let mut changed = d.clone();
    changed.manager_id = Some(manager.id.clone());
    let note = if input.note.is_empty() { format!("指派给 {}", manager.name) } else { input.note };
    let e = event(viewer, &d.id, EventKind::Assign, None, None, None, note);
    let stored = state.store.update_docking(&changed, &e).await?;
    respond(state, viewer, &stored, StatusCode::OK).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub note: String,
}

async fn note(state: &AppState, viewer: &Principal, d: Docking, body: Value) -> Result<HttpResponse, ApiError> {
    required_field(&body, "note", "add a note")?;
    let input: NoteInput = parse_body(body)?;
    let text = input.note.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(ApiError::unprocessable("invalid_note", "`note` must be 1 to 2000 characters"));
    }
    let e = event(viewer, &d.id, EventKind::Note, None, None, None, text.to_string());
    let stored = state.store.update_docking(&d, &e).await?;
    respond(state, viewer, &stored, StatusCode::OK).await
}

async fn interest(state: &AppState, viewer: &Principal, d: Docking, actor: Actor) -> Result<HttpResponse, ApiError> {
    if d.state.is_final() {
        return Err(ApiError::conflict("docking_closed", format!("the docking is `{}`", d.state)));
    }
    let mut changed = d.clone();
    match actor {
        Actor::NeedOwner => changed.need_interest = true,
        Actor::AchievementOwner => changed.achievement_interest = true,
        Actor::Manager => {
            return Err(ApiError::forbidden("interest is marked by the enterprise or the university of the docking"));
        }
    }
    let e = event(viewer, &d.id, EventKind::Interest, None, None, None, "有意向对接".into());
    let stored = state.store.update_docking(&changed, &e).await?;
    state.matcher.notify();
    respond(state, viewer, &stored, StatusCode::OK).await
}

/// Accept or reject many suggestions at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// `accept` or `reject`.
    pub action: DockingAction,
    /// 1 to 200 docking ids.
    pub ids: Vec<String>,
    pub reason: Option<ReasonCode>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub id: String,
    /// The new state, when it worked.
    pub state: Option<DockingState>,
    pub error: Option<super::error::ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BulkResult>,
}

/// Accept or reject suggested dockings in bulk (managers only). Each id succeeds or fails on its
/// own; the response says which and why.
#[utoipa::path(
    tag = "dockings",
    request_body = BulkInput,
    responses((status = 200, body = BulkResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/dockings/bulk")]
pub async fn bulk_review(
    state: web::Data<AppState>,
    auth: Auth<Staff>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: BulkInput = parse_body(body.into_inner())?;
    if !matches!(input.action, DockingAction::Accept | DockingAction::Reject) {
        return Err(ApiError::unprocessable("invalid_bulk_action", "bulk review takes `accept` or `reject`"));
    }
    if input.ids.is_empty() || input.ids.len() > 200 {
        return Err(ApiError::unprocessable("invalid_bulk_ids", "`ids` must list 1 to 200 docking ids"));
    }
    // A malformed id is a malformed request: refused whole, before any docking moves.
    for id in &input.ids {
        parse_id("docking", id)?;
    }
    let mut results = Vec::with_capacity(input.ids.len());
    for id in &input.ids {
        let outcome = async {
            let (d, actor) = load(&state, &auth, id).await?;
            let step_input =
                TransitionInput { reason: input.reason, note: input.note.clone(), version: None, contract: None };
            transition(&state, &auth, d, actor, input.action, step_input, None).await
        }
        .await;
        results.push(match outcome {
            Ok(d) => {
                refill(&state, &d);
                BulkResult { id: id.clone(), state: Some(d.state), error: None }
            }
            Err(e) => BulkResult { id: id.clone(), state: None, error: Some(e.body(None).error) },
        });
    }
    let succeeded = results.iter().filter(|r| r.state.is_some()).count();
    Ok(HttpResponse::Ok().json(BulkResponse { succeeded, failed: results.len() - succeeded, results }))
}
