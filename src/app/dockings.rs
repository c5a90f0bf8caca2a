//! The docking library (项目对接库): the dockings managers drive from suggestion to contract,
//! and what each viewer may see of them. The parties see their own dockings from acceptance on,
//! contacts from introduction on; a record its owner made private shows only its id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::queries::DockingFilter;
use super::views::OrgRef;
use super::{App, Code, Error, Result};
use crate::domain::achievement::Achievement;
use crate::domain::docking::{
    Actor, Docking, DockingAction, DockingEvent, DockingSource, DockingState, EventKind, ReasonCode, Step, StepError,
    allowed, apply, discloses_contacts,
};
use crate::domain::need::Need;
use crate::domain::new_id;
use crate::domain::record::{Library, Principal, can_view, private_to_others};
use crate::domain::transfer::TransferInput;
use crate::domain::validate::Contact;
use crate::domain::vocab::{Role, TechField, Visibility};
use crate::matching::MATCHER_VERSION;
use crate::matching::service::{Subject, achievement_fingerprint, need_fingerprint, stored_json};
use crate::storage::{DockingQuery, Page, StoreError};

/// One side of a docking as the viewer may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    pub owner: OrgRef,
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
    /// What the viewer may do now: the transitions (`accept` ... `withdraw`) and, for a party
    /// that has not yet, `interest`.
    pub allowed_actions: Vec<&'static str>,
    /// The history, oldest first (on single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<DockingEvent>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
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
async fn views(cx: &App, viewer: &Principal, dockings: &[Docking], with_events: bool) -> Result<Vec<DockingResponse>> {
    let need_ids: Vec<String> = dockings.iter().map(|d| d.need_id.clone()).collect();
    let achievement_ids: Vec<String> = dockings.iter().map(|d| d.achievement_id.clone()).collect();
    let needs = cx.store.needs_by_ids(&need_ids).await?;
    let achievements = cx.store.achievements_by_ids(&achievement_ids).await?;
    let mut out = Vec::with_capacity(dockings.len());
    for d in dockings {
        let Some(actor) = actor_of(viewer, d) else { continue };
        let need = needs.iter().find(|n| n.meta.id == d.need_id);
        let achievement = achievements.iter().find(|a| a.meta.id == d.achievement_id);
        let (Some(need), Some(achievement)) = (need, achievement) else { continue };
        let staff = actor == Actor::Manager;
        let events = if with_events {
            let mut events = cx.store.docking_events(&d.id).await?;
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
            allowed_actions: actions_now(d, actor),
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
        owner: OrgRef::of(&need.meta),
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
        owner: OrgRef::of(&achievement.meta),
        title: side_title(d, visible, &achievement.content.title),
        contact,
        private: false,
    }
    .hidden_if_private(viewer, achievement.content.visibility)
}

/// A docking the viewer may see, and how the viewer relates to it.
pub struct Found {
    docking: Docking,
    actor: Actor,
}

/// Loads a docking the viewer may see (404 otherwise, so existence does not leak).
pub async fn find(cx: &App, viewer: &Principal, id: &str) -> Result<Found> {
    let docking = cx.store.get_docking(id).await?.ok_or_else(|| Error::not_found("docking", id))?;
    let actor = actor_of(viewer, &docking).ok_or_else(|| Error::not_found("docking", id))?;
    Ok(Found { docking, actor })
}

/// One docking as the viewer may see it, with its history.
pub async fn view(cx: &App, viewer: &Principal, d: &Docking) -> Result<DockingResponse> {
    views(cx, viewer, std::slice::from_ref(d), true).await?.pop().ok_or_else(|| Error::not_found("docking", &d.id))
}

/// One docking by id, as the viewer may see it.
pub async fn get(cx: &App, viewer: &Principal, id: &str) -> Result<DockingResponse> {
    let found = find(cx, viewer, id).await?;
    view(cx, viewer, &found.docking).await
}

/// A page of dockings as the viewer may see them. Parties see only their own (the query says
/// so); managers see all.
pub async fn list(cx: &App, viewer: &Principal, filter: &DockingFilter) -> Result<Page<DockingResponse>> {
    listed(cx, viewer, &filter.seen_by(viewer)).await
}

/// A page of a store query already scoped to the viewer.
async fn listed(cx: &App, viewer: &Principal, query: &DockingQuery) -> Result<Page<DockingResponse>> {
    let page = cx.store.list_dockings(query).await?;
    let items = views(cx, viewer, &page.items, false).await?;
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// The review queue: suggested dockings of open records, best first (managers only).
pub async fn queue(cx: &App, viewer: &Principal, filter: &DockingFilter) -> Result<Page<DockingResponse>> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("the review queue is for technology managers"));
    }
    let mut query = filter.seen_by(viewer);
    query.states = vec![DockingState::Suggested];
    query.by_score = true;
    // A suggestion whose need or achievement was closed or withdrawn is not worth reviewing.
    query.open_records_only = true;
    listed(cx, viewer, &query).await
}

/// A manual docking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocking {
    pub need_id: String,
    pub achievement_id: String,
    /// Why the manager pairs them.
    #[serde(default, deserialize_with = "text_or_null")]
    pub note: String,
}

/// Pairs a need with an achievement by hand (managers only). It starts `accepted`, assigned to
/// the manager, with the matcher's explanation of the pair; a pair with an open docking is refused.
pub async fn create(cx: &App, viewer: &Principal, input: NewDocking) -> Result<DockingResponse> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("only a technology manager may pair a need with an achievement"));
    }
    let need = cx.store.get_need(&input.need_id).await?.filter(|n| n.content.visibility != Visibility::Private);
    let need = need.ok_or_else(|| Error::not_found("need", &input.need_id))?;
    let achievement =
        cx.store.get_achievement(&input.achievement_id).await?.filter(|a| a.content.visibility != Visibility::Private);
    let achievement = achievement.ok_or_else(|| Error::not_found("achievement", &input.achievement_id))?;
    // The explanation of the pair, if the matcher ranks it among the need's first hundred.
    let matches = super::matches::rank(cx, &Subject::Need(need.clone()), 100).await?;
    let found = matches.items.into_iter().find(|i| i.achievement.meta.id == achievement.meta.id);
    let at = cx.clock.now();
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
        manager_id: Some(viewer.user_id.clone()),
        field: need.content.field,
        region: need.content.region.clone(),
        was_introduced: false,
        need_interest: false,
        achievement_interest: false,
        created_by: Some(viewer.user_id.clone()),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let event =
        event(cx, viewer, &docking.id, EventKind::Created, None, Some(DockingState::Accepted), None, input.note);
    let created = super::notifications::docking_moved(cx, &docking, None, None).await?;
    let outcome = match create_in_unit(cx, viewer, &docking, &event, &created).await {
        // The suggester created the pair's docking in the same moment: the second attempt (in a
        // unit of work of its own) finds it, so the answer names it as when it came first.
        Err(StoreError::UniqueViolation { .. }) => create_in_unit(cx, viewer, &docking, &event, &created).await,
        other => other,
    };
    match outcome {
        Ok(None) => {}
        Ok(Some(open)) => return Err(open_pair(&open)),
        Err(StoreError::UniqueViolation { .. }) => {
            return Err(Error::new(Code::DockingExists, "this pair already has an open docking"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(docking = %docking.id, need = %docking.need_id, achievement = %docking.achievement_id, "manual docking created");
    view(cx, viewer, &docking).await
}

fn open_pair(open: &Docking) -> Error {
    Error::new(
        Code::DockingExists,
        format!("this pair already has a docking in state `{}`: work on that one", open.state),
    )
    .with_details(serde_json::json!({ "docking_id": open.id, "state": open.state }))
}

#[allow(clippy::too_many_arguments)]
fn event(
    cx: &App,
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
        at: cx.clock.now(),
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
    #[serde(default, deserialize_with = "text_or_null")]
    pub note: String,
    /// The version you read (or send `If-Match`); optional.
    pub version: Option<i64>,
    /// Required to sign: the contract, which becomes the transfer record (落地转化库) in the
    /// same write. Type, amount (万元) and signing date are required.
    pub contract: Option<TransferInput>,
}

fn step_error(err: StepError, d: &Docking, actor: Actor) -> Error {
    let zh = match &err {
        StepError::NotAllowed { state, action, allowed } => {
            let now: Vec<String> = allowed.iter().map(|a| format!("{}（{}）", a.code(), a.label())).collect();
            format!(
                "对接当前是「{}」，不能{}（{}）；现在可以：{}",
                state.label(),
                action.label(),
                action.code(),
                if now.is_empty() { "无".to_string() } else { now.join("、") }
            )
        }
        StepError::ManagersOnly(action) => format!("只有技术经理人可以{}（{}）", action.label(), action.code()),
        StepError::ReasonRequired(action) => format!(
            "{}（{}）需要原因代码：field_mismatch（技术领域不符）、trl_too_low（成熟度不足）、budget_gap（预算与报价差距大）、cooperation_mismatch（合作方式不符）、already_solved（需求已解决）、party_unresponsive（一方无回应）、duplicate（重复对接）或 other（其他，需备注）",
            action.label(),
            action.code()
        ),
        StepError::NoteRequired => "原因为 other 时需要备注 note，写明具体原因".to_string(),
        StepError::ReasonNotAccepted(action) => format!("{}（{}）不接受原因代码", action.label(), action.code()),
    };
    match err {
        StepError::NotAllowed { .. } => Error::new(Code::InvalidDockingTransition, err.to_string())
            .zh(zh)
            .with_details(serde_json::json!({ "state": d.state, "allowed": allowed(d.state, actor) })),
        StepError::ManagersOnly(_) => Error::forbidden(err.to_string()).zh(zh),
        StepError::ReasonRequired(_) | StepError::NoteRequired | StepError::ReasonNotAccepted(_) => {
            Error::new(Code::InvalidReason, err.to_string()).zh(zh)
        }
    }
}

/// A transition asked of a found docking: the action, what it carries, and the version the
/// caller read (if it sent one).
pub struct Move {
    pub found: Found,
    pub action: DockingAction,
    pub input: TransitionInput,
    pub expected: Option<i64>,
}

/// Applies a transition by `viewer` to a found docking and stores it with its event (signing
/// also creates the transfer, in the same write). After a rejection, the need and the
/// achievement each get their next candidate in the queue, from the suggester.
pub async fn transition(cx: &App, viewer: &Principal, m: Move) -> Result<DockingResponse> {
    let stored = step(cx, viewer, m).await?;
    view(cx, viewer, &stored).await
}

async fn step(cx: &App, viewer: &Principal, m: Move) -> Result<Docking> {
    let Move { found, action, input, expected } = m;
    let Found { docking: d, actor } = found;
    if expected.is_some_and(|v| v != d.version) {
        return Err(Error::version_conflict(d.version));
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
    let mut e = event(cx, viewer, &d.id, EventKind::Transition, Some(d.state), Some(to), input.reason, input.note);
    e.action = Some(action);
    let moved = super::notifications::docking_moved(cx, &changed, Some(d.state), Some(action)).await?;
    let stored = if action == DockingAction::Sign {
        // A signed docking always has its transfer: both are written in one unit of work.
        let transfer = super::transfers::new_transfer(cx, viewer, &changed, contract.as_ref()).await?;
        let mut unit = cx.begin(viewer).await?;
        let stored = unit.update_docking(&changed, &e).await?;
        unit.insert_transfer(&transfer).await.map_err(super::transfers::registration_taken)?;
        unit.notify(moved);
        unit.notify(super::notifications::contract_signed(&transfer));
        unit.commit().await.map_err(super::transfers::registration_taken)?;
        tracing::info!(docking = %d.id, transfer = %transfer.id, amount = %transfer.content.amount, "contract signed");
        stored
    } else {
        if contract.is_some() {
            return Err(Error::new(
                Code::ContractNotAccepted,
                format!("`contract` goes with the action `sign`, not `{action}`"),
            ));
        }
        update_in_unit(cx, viewer, &changed, &e, Some(moved)).await?
    };
    tracing::info!(docking = %d.id, from = %d.state, to = %to, by = %viewer.user_id, "docking moved");
    if stored.state == DockingState::Rejected {
        cx.writes.refill(Library::Needs, &stored.need_id);
        cx.writes.refill(Library::Achievements, &stored.achievement_id);
    }
    Ok(stored)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// A technology manager's user id.
    pub manager_id: String,
    #[serde(default, deserialize_with = "text_or_null")]
    pub note: String,
}

/// Assigns a docking to a technology manager (managers only). `input` is the body as the caller
/// sent it (or why it could not be read), read once the caller is known to be allowed.
pub async fn assign(cx: &App, viewer: &Principal, found: Found, input: Result<AssignInput>) -> Result<DockingResponse> {
    let Found { docking: d, actor } = found;
    if actor != Actor::Manager {
        return Err(Error::forbidden("only a technology manager may assign a docking"));
    }
    let input = input?;
    let manager_id = input.manager_id.as_str();
    let manager = cx.store.get_user(manager_id).await?.ok_or_else(|| Error::not_found("user", manager_id))?;
    if !matches!(manager.role, Role::Manager | Role::Admin) {
        return Err(Error::new(
            Code::NotAManager,
            format!("{} is not a technology manager: dockings are assigned to managers", manager.name),
        ));
    }
    if d.state.is_final() {
        return Err(Error::new(Code::DockingClosed, format!("the docking is `{}`: nothing to assign", d.state)));
    }
    let mut changed = d.clone();
    changed.manager_id = Some(manager.id.clone());
    let note = if input.note.is_empty() { format!("指派给 {}", manager.name) } else { input.note };
    record(cx, viewer, &changed, EventKind::Assign, note).await
}

/// Stores a docking's change with its event (not a transition), and shows it to the viewer.
async fn record(
    cx: &App,
    viewer: &Principal,
    changed: &Docking,
    kind: EventKind,
    note: String,
) -> Result<DockingResponse> {
    let e = event(cx, viewer, &changed.id, kind, None, None, None, note);
    let stored = update_in_unit(cx, viewer, changed, &e, None).await?;
    view(cx, viewer, &stored).await
}

/// Creates a docking with its event (and its notification) in a unit of work of its own; the
/// docking that stood in the way, if any (and then nothing is written).
async fn create_in_unit(
    cx: &App,
    viewer: &Principal,
    docking: &Docking,
    event: &DockingEvent,
    notification: &crate::domain::notification::Event,
) -> Result<Option<Docking>, StoreError> {
    let mut unit = cx.begin(viewer).await?;
    let existing = unit.create_docking(docking, event, false).await?;
    if existing.is_none() {
        unit.notify(notification.clone());
        unit.commit().await?;
    }
    Ok(existing)
}

/// Writes a docking's change with its event (and the notification it causes, if any) in a unit
/// of work of its own.
async fn update_in_unit(
    cx: &App,
    viewer: &Principal,
    changed: &Docking,
    event: &DockingEvent,
    notification: Option<crate::domain::notification::Event>,
) -> Result<Docking, StoreError> {
    let mut unit = cx.begin(viewer).await?;
    let stored = unit.update_docking(changed, event).await?;
    if let Some(notification) = notification {
        unit.notify(notification);
    }
    unit.commit().await?;
    Ok(stored)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub note: String,
}

/// A note sent as `null` is a note left out (the document lets every action's `note` be null).
fn text_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Adds a note to a docking's history (anyone who may see it).
pub async fn note(cx: &App, viewer: &Principal, found: Found, input: Result<NoteInput>) -> Result<DockingResponse> {
    let input = input?;
    let text = input.note.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(Error::new(Code::InvalidNote, "`note` must be 1 to 2000 characters"));
    }
    record(cx, viewer, &found.docking, EventKind::Note, text.to_string()).await
}

/// What `actor` may do to `d` now: its transitions, and `interest` for a party that has not
/// marked it while the docking is open.
fn actions_now(d: &Docking, actor: Actor) -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = allowed(d.state, actor).iter().map(|a| a.code()).collect();
    let marked = match actor {
        Actor::NeedOwner => d.need_interest,
        Actor::AchievementOwner => d.achievement_interest,
        Actor::Manager => true,
    };
    if !marked && !d.state.is_final() && d.state != DockingState::Suggested {
        actions.push("interest");
    }
    actions
}

/// A party marks its interest in an open docking.
pub async fn interest(cx: &App, viewer: &Principal, found: Found) -> Result<DockingResponse> {
    let Found { docking: d, actor } = found;
    if d.state.is_final() {
        return Err(Error::new(Code::DockingClosed, format!("the docking is `{}`", d.state)));
    }
    let mut changed = d.clone();
    match actor {
        Actor::NeedOwner => changed.need_interest = true,
        Actor::AchievementOwner => changed.achievement_interest = true,
        Actor::Manager => {
            return Err(Error::forbidden("interest is marked by the enterprise or the university of the docking"));
        }
    }
    record(cx, viewer, &changed, EventKind::Interest, "有意向对接".into()).await
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
    #[serde(default, deserialize_with = "text_or_null")]
    pub note: String,
}

/// Accepts or rejects suggested dockings in bulk (managers only): each id succeeds or fails on
/// its own, with its new state or its error.
pub async fn bulk(cx: &App, viewer: &Principal, input: BulkInput) -> Result<Vec<(String, Result<DockingState>)>> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("bulk review is for technology managers"));
    }
    if !matches!(input.action, DockingAction::Accept | DockingAction::Reject) {
        return Err(Error::new(Code::InvalidBulkAction, "bulk review takes `accept` or `reject`"));
    }
    if input.ids.is_empty() || input.ids.len() > 200 {
        return Err(Error::new(Code::InvalidBulkIds, "`ids` must list 1 to 200 docking ids"));
    }
    // A malformed id is a malformed request: refused whole, before any docking moves.
    for id in &input.ids {
        super::check_id("docking", id)?;
    }
    let mut results = Vec::with_capacity(input.ids.len());
    for id in &input.ids {
        let outcome = async {
            let found = find(cx, viewer, id).await?;
            let step_input =
                TransitionInput { reason: input.reason, note: input.note.clone(), version: None, contract: None };
            let m = Move { found, action: input.action, input: step_input, expected: None };
            step(cx, viewer, m).await.map(|d| d.state)
        }
        .await;
        results.push((id.clone(), outcome));
    }
    Ok(results)
}
