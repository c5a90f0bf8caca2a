//! The two libraries of records, needs (企业需求库) and achievements (高校成果库): create under
//! the right owner, show only what the viewer may see, let only the owner or staff change, store
//! changes under the version the client read, and move the status along its life cycle. Single
//! posts and imports resolve owners and look for near-duplicates with the same rules here.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::audit;
use super::queries::RecordQuery;
use super::views::{AchievementResponse, NeedResponse};
use super::{Actor, App, Code, Error, Result};
use crate::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use crate::domain::audit::Outcome;
use crate::domain::docking::discloses_contacts;
use crate::domain::need::{Need, NeedContent, NeedInput};
use crate::domain::org::Organisation;
use crate::domain::record::{Library, Principal, RecordMeta, StatusAction, can_edit, can_read_contact, can_view};
use crate::domain::validate::{Contact, ValidationErrors};
use crate::domain::vocab::{OrgKind, RecordStatus, Visibility};
use crate::domain::{is_valid_id, market_today, new_id};
use crate::matching::duplicates::{Duplicate, TitleIndex, near_duplicates};
use crate::storage::{DockingQuery, ListQuery, Page, Store, StoreResult, StoreTx};

/// How many of an organisation's most recent records a new one is compared with for
/// near-duplicate titles, whether posted alone or imported.
pub const DUPLICATE_WINDOW: u32 = 2000;

/// A record of one of the two libraries, as the shared operations need it.
#[async_trait]
pub trait LibraryRecord: Clone + Send + Sync + Sized + 'static {
    const LIBRARY: Library;
    /// What a client sends to create or change one.
    type Input: DeserializeOwned + Send + Sync;
    type Response: Serialize + utoipa::ToSchema + Send;

    fn meta(&self) -> &RecordMeta;
    fn meta_mut(&mut self) -> &mut RecordMeta;
    fn visibility(&self) -> Visibility;
    fn title(&self) -> &str;
    fn contact(&self) -> &Contact;
    /// A need's deadline (achievements have none: they expire by validity alone).
    fn deadline(&self) -> Option<NaiveDate>;
    fn set_deadline(&mut self, deadline: NaiveDate);
    /// The record as `viewer` sees it on the market day `today`.
    fn view(&self, viewer: &Principal, today: NaiveDate) -> Self::Response;
    /// Shows the contact in a view (to the other party of an introduced docking).
    fn disclose(view: &mut Self::Response, contact: Contact);

    /// The owner and expected version named in an input, if any.
    fn input_org(input: &Self::Input) -> Option<&str>;
    fn input_version(input: &Self::Input) -> Option<i64>;
    /// A validated new record from a complete input.
    fn build(input: &Self::Input, meta: RecordMeta, today: NaiveDate) -> Result<Self, ValidationErrors>;
    /// This record with a partial update applied and validated.
    fn patched(&self, patch: &Self::Input, today: NaiveDate) -> Result<Self, ValidationErrors>;

    async fn insert(&self, tx: &mut dyn StoreTx) -> StoreResult<()>;
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Self>>;
    /// Stores this record if the stored version is still `meta.version`.
    async fn save(&self, tx: &mut dyn StoreTx, at: DateTime<Utc>) -> StoreResult<Self>;
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
    fn deadline(&self) -> Option<NaiveDate> {
        self.content.deadline
    }
    fn set_deadline(&mut self, deadline: NaiveDate) {
        self.content.deadline = Some(deadline);
    }
    fn view(&self, viewer: &Principal, today: NaiveDate) -> NeedResponse {
        NeedResponse::new(self, viewer, today)
    }
    fn disclose(view: &mut NeedResponse, contact: Contact) {
        view.contact = Some(contact);
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
    async fn insert(&self, tx: &mut dyn StoreTx) -> StoreResult<()> {
        tx.insert_need(self).await
    }
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Need>> {
        store.get_need(id).await
    }
    async fn save(&self, tx: &mut dyn StoreTx, at: DateTime<Utc>) -> StoreResult<Need> {
        tx.update_need(self, at).await
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
    fn deadline(&self) -> Option<NaiveDate> {
        None
    }
    fn set_deadline(&mut self, _deadline: NaiveDate) {}
    fn view(&self, viewer: &Principal, _today: NaiveDate) -> AchievementResponse {
        AchievementResponse::new(self, viewer)
    }
    fn disclose(view: &mut AchievementResponse, contact: Contact) {
        view.contact = Some(contact);
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
    async fn insert(&self, tx: &mut dyn StoreTx) -> StoreResult<()> {
        tx.insert_achievement(self).await
    }
    async fn fetch(store: &dyn Store, id: &str) -> StoreResult<Option<Achievement>> {
        store.get_achievement(id).await
    }
    async fn save(&self, tx: &mut dyn StoreTx, at: DateTime<Utc>) -> StoreResult<Achievement> {
        tx.update_achievement(self, at).await
    }
    async fn list(store: &dyn Store, query: &ListQuery) -> StoreResult<Page<Achievement>> {
        store.list_achievements(query).await
    }
}

/// A record as the viewer may see it, with what its headers need.
#[derive(Debug)]
pub struct Viewed<V> {
    pub id: String,
    pub version: i64,
    pub view: V,
    /// On create: the organisation's records with a nearly equal title.
    pub duplicates: Vec<Duplicate>,
}

impl<V> Viewed<V> {
    fn of<R: LibraryRecord<Response = V>>(cx: &App, record: &R, viewer: &Principal) -> Viewed<V> {
        Viewed {
            id: record.meta().id.clone(),
            version: record.meta().version,
            view: record.view(viewer, market_today(cx.clock.now())),
            duplicates: vec![],
        }
    }
}

// ---- owners ----------------------------------------------------------------------------------

/// The organisation a new record of `library` names (`org_id`, or an import's 单位), checked
/// against who posts it: owners post for their own organisation and may not name another; staff
/// post on behalf of one and must name it. Returns the id or name to look up.
pub fn owner_named<'a>(who: &'a Principal, library: Library, named: Option<&'a str>) -> Result<&'a str> {
    if who.role.is_staff() {
        return named.ok_or_else(|| {
            let who_posts = if who.role == crate::domain::vocab::Role::Admin { "administrators" } else { "managers" };
            let who_posts_zh =
                if who.role == crate::domain::vocab::Role::Admin { "管理员" } else { "技术经理人" };
            Error::new(
                Code::OrgIdRequired,
                format!("{who_posts} post a {} on behalf of an organisation: give its `org_id`", library.name()),
            )
            .zh(format!(
                "{who_posts_zh}代机构发布{}：请用 `org_id` 指明是哪家机构的",
                crate::app::error::library_zh(library.name())
            ))
        });
    }
    if who.role != library.owner_role() {
        return Err(Error::forbidden(format!("users with role `{}` cannot post a {}", who.role, library.name())));
    }
    if named.is_some_and(|o| o != who.org_id) {
        return Err(Error::new(
            Code::FieldNotAllowed,
            format!("`org_id` cannot be set: a {} belongs to your own organisation; leave it out", library.name()),
        ));
    }
    Ok(who.org_id.as_str())
}

/// The owner must be of the kind that owns this library: enterprises own needs; universities and
/// institutes own achievements.
pub fn check_owner_kind(org: &Organisation, library: Library) -> Result<()> {
    let fits = match library {
        Library::Needs => org.kind == OrgKind::Enterprise,
        Library::Achievements => org.kind.owns_achievements(),
    };
    if fits {
        return Ok(());
    }
    Err(Error::new(
        Code::WrongOrganisationKind,
        format!("`{}` is of kind `{}`, which cannot own a {}", org.name, org.kind, library.name()),
    ))
}

/// The organisation a new record belongs to, after every owner rule.
pub async fn resolve_owner(cx: &App, who: &Principal, library: Library, named: Option<&str>) -> Result<Organisation> {
    let target = owner_named(who, library, named)?;
    let org = match is_valid_id(target) {
        true => cx.store.get_organisation(target).await?,
        false => None,
    };
    let org =
        org.ok_or_else(|| Error::new(Code::UnknownOrganisation, format!("no organisation with id `{target}`")))?;
    check_owner_kind(&org, library)?;
    Ok(org)
}

// ---- near-duplicates -------------------------------------------------------------------------

/// (id, title) of an organisation's most recent records of a library (`DUPLICATE_WINDOW`), those
/// that have not expired.
async fn recent_titles(cx: &App, library: Library, org_id: &str) -> Result<Vec<(String, String)>> {
    Ok(cx.store.recent_titles(library, org_id, None, DUPLICATE_WINDOW).await?)
}

/// For each title, the organisation's existing record it nearly equals (the most similar one),
/// if any: (existing id, existing title, similarity to three decimals). The records compared
/// with are those with an id below `before` when given (an import compares while it writes its
/// new records, whose ids are above it).
pub async fn closest_existing(
    cx: &App,
    library: Library,
    org_id: &str,
    titles: Vec<String>,
    before: Option<&str>,
) -> Result<Vec<Option<(String, String, f64)>>> {
    let existing = cx.store.recent_titles(library, org_id, before, DUPLICATE_WINDOW).await?;
    if existing.is_empty() {
        return Ok(vec![None; titles.len()]);
    }
    // Comparing thousands of titles is CPU work: off the async workers, each title's bigrams
    // computed once.
    tokio::task::spawn_blocking(move || {
        let best =
            TitleIndex::new(titles.iter().map(String::as_str)).best_among(existing.iter().map(|(_, t)| t.as_str()));
        best.into_iter()
            .map(|best| {
                let (i, similarity) = best?;
                // Rounded in f64, so that 0.93 is written 0.93 and not 0.9300000071525574.
                Some((existing[i].0.clone(), existing[i].1.clone(), (f64::from(similarity) * 1000.0).round() / 1000.0))
            })
            .collect()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the duplicate check stopped");
        Error::internal()
    })
}

// ---- loading under the visibility rules -------------------------------------------------------

/// Loads a record the viewer may see, also saying whether the viewer is the other party of an
/// introduced docking of it when that had to be asked. Anything else is 404, so existence does
/// not leak.
async fn load_checked<R: LibraryRecord>(cx: &App, viewer: &Principal, id: &str) -> Result<(R, Option<bool>)> {
    let what = R::LIBRARY.name();
    let record = R::fetch(cx.store.as_ref(), id).await?.ok_or_else(|| Error::not_found(what, id))?;
    let meta = record.meta();
    if can_view(viewer, &meta.org_id, record.visibility(), meta.status) {
        return Ok((record, None));
    }
    // The other party of an introduced docking reads the record even if it is confidential,
    // unless its owner has made it private: then it is the owner's alone.
    if record.visibility() != Visibility::Private && introduced_to(cx, viewer, &record).await? {
        return Ok((record, Some(true)));
    }
    Err(Error::not_found(what, id))
}

/// Loads a record the viewer may see and change.
async fn load_editable<R: LibraryRecord>(cx: &App, viewer: &Principal, id: &str) -> Result<R> {
    let (record, _): (R, _) = load_checked(cx, viewer, id).await?;
    if !can_edit(viewer, R::LIBRARY, &record.meta().org_id) {
        return Err(Error::forbidden(format!(
            "only the {} that posted this {}, or a technology manager, may change it",
            R::LIBRARY.owner_description(),
            R::LIBRARY.name()
        )));
    }
    Ok(record)
}

/// Whether the viewer's organisation is the other party of a docking of this record that has
/// reached `introduced`.
async fn introduced_to<R: LibraryRecord>(cx: &App, viewer: &Principal, record: &R) -> Result<bool> {
    if viewer.role.is_staff() || viewer.org_id == record.meta().org_id {
        return Ok(false);
    }
    let id = record.meta().id.clone();
    let mut query = DockingQuery { party_org: Some(viewer.org_id.clone()), limit: 100, ..DockingQuery::default() };
    match R::LIBRARY {
        Library::Needs => query.need_id = Some(id),
        Library::Achievements => query.achievement_id = Some(id),
    }
    let dockings = cx.store.list_dockings(&query).await?.items;
    Ok(dockings.iter().any(|d| discloses_contacts(d.state, d.was_introduced)))
}

// ---- operations ------------------------------------------------------------------------------

/// Refuses anything but a private draft from an organisation whose application to join is not
/// approved: it publishes nothing until a manager approves it.
pub(crate) fn check_publishable(who: &Principal, visibility: Visibility) -> Result<()> {
    if who.org_pending && visibility != Visibility::Private {
        return Err(Error::new(
            Code::OrganisationPending,
            "your organisation's application to join is not approved yet: save the record as a draft with \"visibility\": \"private\", and publish it once a manager approves",
        )
        .zh("贵单位的入驻申请尚未通过审核：请先把记录保存为草稿（\"visibility\": \"private\"），审核通过后再公开"));
    }
    Ok(())
}

/// Posts a record: owner rules, validation, the near-duplicate check (reported, not refused).
pub async fn create<R: LibraryRecord>(cx: &App, who: &Principal, input: R::Input) -> Result<Viewed<R::Response>> {
    if R::input_version(&input).is_some() {
        return Err(Error::new(Code::FieldNotAllowed, "`version` is only sent with updates"));
    }
    let org = resolve_owner(cx, who, R::LIBRARY, R::input_org(&input)).await?;
    let at = cx.clock.now();
    let meta = RecordMeta::new(new_id(), org.id, org.name, who.user_id.clone(), at);
    let record = R::build(&input, meta, market_today(at))?;
    check_publishable(who, record.visibility())?;
    // The organisation's own records with a nearly equal title (the same need posted twice).
    let siblings = recent_titles(cx, R::LIBRARY, &record.meta().org_id).await?;
    let duplicates = near_duplicates(record.title(), siblings.iter().map(|(id, t)| (id.as_str(), t.as_str())));
    let mut unit = cx.begin(who).await?;
    record.insert(&mut *unit).await?;
    unit.commit().await?;
    tracing::info!(library = R::LIBRARY.route(), id = %record.meta().id, org_id = %record.meta().org_id, duplicates = duplicates.len(), "record created");
    // Created all the same: the flag lets the poster (or a manager) withdraw one of the two.
    Ok(Viewed { duplicates, ..Viewed::of(cx, &record, who) })
}

/// A page of the records the viewer may see: visibility is part of the query, so nothing hidden
/// is ever fetched.
pub async fn list<R: LibraryRecord>(cx: &App, who: &Principal, query: &RecordQuery) -> Result<Page<R::Response>> {
    let page = R::list(cx.store.as_ref(), &query.seen_by(who)).await?;
    let confidential: Vec<String> =
        page.items.iter().filter(|r| is_confidential_to(who, *r)).map(|r| r.meta().id.clone()).collect();
    if !confidential.is_empty() {
        audit::record(cx, who, &format!("read_{}", R::LIBRARY.route()), confidential, Outcome::Ok, "list").await?;
    }
    let today = market_today(cx.clock.now());
    Ok(Page { items: page.items.iter().map(|r| r.view(who, today)).collect(), next_cursor: page.next_cursor })
}

/// Whether showing `record` to `who` reveals a confidential part of another organisation's:
/// its contact (to staff), or a record not public. What an organisation reads of its own is not
/// recorded.
fn is_confidential_to<R: LibraryRecord>(who: &Principal, record: &R) -> bool {
    who.org_id != record.meta().org_id
        && (record.visibility() != Visibility::Public
            || (can_read_contact(who, &record.meta().org_id) && !record.contact().is_empty()))
}

/// One record as the viewer may see it; the other party of an introduced docking reads the
/// contact too.
pub async fn get<R: LibraryRecord>(cx: &App, who: &Principal, id: &str) -> Result<Viewed<R::Response>> {
    let (record, introduced): (R, _) = load_checked(cx, who, id).await?;
    let mut viewed = Viewed::of(cx, &record, who);
    let operation = format!("read_{}", R::LIBRARY.route());
    if can_read_contact(who, &record.meta().org_id) {
        if is_confidential_to(who, &record) {
            audit::record(cx, who, &operation, vec![record.meta().id.clone()], Outcome::Ok, "").await?;
        }
        return Ok(viewed);
    }
    let introduced = match introduced {
        Some(known) => known,
        None => introduced_to(cx, who, &record).await?,
    };
    if introduced {
        audit::record(cx, who, &operation, vec![record.meta().id.clone()], Outcome::Ok, "contact").await?;
        R::disclose(&mut viewed.view, record.contact().clone());
    } else if record.visibility() != Visibility::Public {
        audit::record(cx, who, &operation, vec![record.meta().id.clone()], Outcome::Ok, "").await?;
    }
    Ok(viewed)
}

/// Applies a partial update written against the version the caller read. `expected` is that
/// version as the caller's request gave it (or why it could not be read), checked only once the
/// record is found and the caller allowed to change it.
pub async fn update<R: LibraryRecord>(
    cx: &App,
    who: &Principal,
    id: &str,
    patch: R::Input,
    expected: Result<i64>,
) -> Result<Viewed<R::Response>> {
    let record: R = load_editable(cx, who, id).await?;
    if R::input_org(&patch).is_some() {
        return Err(Error::new(
            Code::FieldNotAllowed,
            format!("`org_id` cannot be changed: a {} stays with its organisation", R::LIBRARY.name()),
        ));
    }
    let expected = expected?;
    if expected != record.meta().version {
        return Err(Error::version_conflict(record.meta().version));
    }
    let at = cx.clock.now();
    let changed = record.patched(&patch, market_today(at))?;
    check_publishable(who, changed.visibility())?;
    let mut unit = cx.begin(who).await?;
    let stored = changed.save(&mut *unit, at).await?;
    unit.commit().await?;
    Ok(Viewed::of(cx, &stored, who))
}

/// The status actions, as the routes name them.
pub fn parse_action(action: &str) -> Result<StatusAction> {
    match action {
        "close" => Ok(StatusAction::Close),
        "withdraw" => Ok(StatusAction::Withdraw),
        "reopen" => Ok(StatusAction::Reopen),
        other => {
            Err(Error::new(Code::RouteNotFound, format!("`{other}` is not an action: use close, withdraw or reopen")))
        }
    }
}

/// Closes, withdraws or reopens a record (at the version the caller sent, if any; checked once
/// the record is found and the caller allowed).
pub async fn change_status<R: LibraryRecord>(
    cx: &App,
    who: &Principal,
    id: &str,
    action: StatusAction,
    expected: Result<Option<i64>>,
) -> Result<Viewed<R::Response>> {
    let record: R = load_editable(cx, who, id).await?;
    let expected = expected?.unwrap_or(record.meta().version);
    let status = transition(action, record.meta().status)?;
    let mut changed = record.clone();
    changed.meta_mut().status = status;
    changed.meta_mut().version = expected;
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    let stored = changed.save(&mut *unit, at).await?;
    unit.commit().await?;
    tracing::info!(library = R::LIBRARY.route(), id = %stored.meta().id, %status, "record status changed");
    Ok(Viewed::of(cx, &stored, who))
}

/// What renewing a record may change.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    /// Needs: a new deadline, today or later (required when the deadline has passed).
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<NaiveDate>,
    /// The version read (or `If-Match`).
    pub version: Option<i64>,
}

/// Renews a record: its owner (or staff) confirms it is still current. Its validity runs again
/// from now, its reminder is cleared, an expired record is open again (matched, listed), and a
/// need may take a new deadline.
pub async fn renew<R: LibraryRecord>(
    cx: &App,
    who: &Principal,
    id: &str,
    input: RenewInput,
    expected: Result<Option<i64>>,
) -> Result<Viewed<R::Response>> {
    let record: R = load_editable(cx, who, id).await?;
    let expected = expected?.or(input.version).unwrap_or(record.meta().version);
    let status = record.meta().status;
    if !matches!(status, RecordStatus::Open | RecordStatus::Expired) {
        return Err(Error::new(
            Code::InvalidStatusTransition,
            format!("cannot renew a record that is `{status}`: only open and expired records are renewed"),
        )
        .zh(format!("状态为“{}”的记录不能续期:只有有效和已过期的记录可以续期", status.label()))
        .with_details(serde_json::json!({ "status": status, "allowed": StatusAction::allowed_from(status) })));
    }
    let at = cx.clock.now();
    let today = market_today(at);
    let mut changed = record.clone();
    match (R::LIBRARY, input.deadline) {
        (Library::Achievements, Some(_)) => {
            return Err(Error::new(Code::FieldNotAllowed, "achievements have no deadline: leave `deadline` out")
                .zh("成果没有截止日期,请不要填写 deadline"));
        }
        (_, Some(deadline)) if deadline < today => {
            let mut e = ValidationErrors::default();
            e.add(
                "deadline",
                "past_date",
                "截止日期不能早于今天",
                format!("the deadline {deadline} is before today ({today})"),
            );
            return Err(e.into());
        }
        (_, Some(deadline)) => changed.set_deadline(deadline),
        (_, None) if record.deadline().is_some_and(|d| d < today) => {
            return Err(Error::new(
                Code::RenewalNeedsDeadline,
                format!("the deadline {} has passed: renew with a new `deadline`", record.deadline().unwrap_or(today)),
            )
            .zh(format!("截止日期 {} 已过:续期时请给出新的截止日期 deadline", record.deadline().unwrap_or(today))));
        }
        (_, None) => {}
    }
    let meta = changed.meta_mut();
    meta.status = RecordStatus::Open;
    meta.confirmed_at = at;
    meta.reminded_at = None;
    meta.version = expected;
    let mut unit = cx.begin(who).await?;
    let stored = changed.save(&mut *unit, at).await?;
    unit.commit().await?;
    tracing::info!(library = R::LIBRARY.route(), id = %stored.meta().id, "record renewed");
    Ok(Viewed::of(cx, &stored, who))
}

/// Applies a status action, or explains which actions the current status allows.
fn transition(action: StatusAction, from: RecordStatus) -> Result<RecordStatus> {
    action.apply(from).map_err(|allowed| {
        let now_allowed =
            if allowed.is_empty() { "nothing (withdrawn is final)".to_string() } else { allowed.join(", ") };
        Error::new(
            Code::InvalidStatusTransition,
            format!("cannot {} a record that is `{from}`; allowed now: {now_allowed}", action.name()),
        )
        .with_details(serde_json::json!({ "status": from, "allowed": allowed }))
    })
}

/// Writes records built and validated elsewhere (the demo data set) in one unit of work.
pub async fn insert_prepared(cx: &App, actor: Actor, needs: &[Need], achievements: &[Achievement]) -> Result<()> {
    let mut unit = cx.begin(actor).await?;
    for need in needs {
        unit.insert_need(need).await?;
    }
    for achievement in achievements {
        unit.insert_achievement(achievement).await?;
    }
    unit.commit().await?;
    Ok(())
}
