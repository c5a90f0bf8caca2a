//! The database, source of truth of every library: the `Store` trait and its SQLite (embedded
//! default) and PostgreSQL (production) implementations, chosen by the URL scheme.

mod accounts;
mod audit;
mod changes;
mod dialect;
pub mod dockings;
mod notifications;
mod postgres;
mod records;
mod rows;
mod sql;
mod sqlite;
pub mod transfers;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::account::Session;
use crate::domain::achievement::Achievement;
use crate::domain::audit::{AuditEntry, AuditQuery};
use crate::domain::dictionary::{DictionaryTerm, SynonymGroup};
use crate::domain::docking::{Docking, DockingEvent, DockingState};
use crate::domain::need::Need;
use crate::domain::notification::{Delivery, DeliveryAttempt, DeliveryStatus, Event, Subscription};
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::record::Library;
use crate::domain::stats::{Dimension, DockingFacts, StatsFilter, StatsLibrary};
use crate::domain::transfer::Transfer;
use crate::domain::vocab::{NeedType, RecordStatus, Role, TechField};

pub use dialect::{Dialect, Rows, Sql, Value, WriteTx};
pub use dockings::DockingQuery;
pub use postgres::{PgDialect, PgStore};
pub use sql::SqlStore;
pub use sql::SqlTx;
pub use sqlite::{SqliteDialect, SqliteStore};
pub use transfers::TransferQuery;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the record was changed by someone else: it is now at version {current}")]
    VersionConflict { current: i64 },
    #[error("no such record")]
    NotFound,
    #[error("unique constraint `{constraint}` violated")]
    UniqueViolation { constraint: String },
    #[error("a stored value could not be read: {0}")]
    Corrupt(String),
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database's storage is full (disk, or the configured size cap): {0}")]
    Full(String),
    #[error("the database cannot be reached now (connection lost, restarting, or no connection free): {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl StoreError {
    /// The store was closed (the service is shutting down).
    pub fn is_closed(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::PoolClosed))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if matches!(err, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed) {
            return StoreError::Unavailable(err.to_string());
        }
        // PostgreSQL: connection exceptions (08…), the server shutting down or starting
        // (57P01-57P03), no connection slot free (53300).
        if let Some(db) = err.as_database_error()
            && let Some(code) = db.code()
            && (code.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&code.as_ref()))
        {
            return StoreError::Unavailable(db.message().to_string());
        }
        if let Some(db) = err.as_database_error()
            && db.is_unique_violation()
        {
            let constraint = db.constraint().map(str::to_string).unwrap_or_else(|| db.message().to_string());
            return StoreError::UniqueViolation { constraint };
        }
        // SQLite's SQLITE_FULL (13, also its extended codes), PostgreSQL's disk_full (53100).
        if let Some(db) = err.as_database_error()
            && let Some(code) = db.code()
            && (code == "13" || code == "53100" || (code.parse::<i32>().is_ok_and(|c| c & 0xff == 13)))
        {
            return StoreError::Full(db.message().to_string());
        }
        StoreError::Database(err)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The external id an import gave a record.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportKey {
    pub library: Library,
    pub org_id: String,
    pub external_id: String,
    pub record_id: String,
    pub at: DateTime<Utc>,
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a token lookup finds: the token's state and the user it acts for.
#[derive(Debug, Clone)]
pub struct TokenLookup {
    /// The user's organisation is approved (not pending or rejected).
    pub org_approved: bool,
    pub token_id: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub user_id: String,
    pub user_name: String,
    pub role: Role,
    pub org_id: String,
}

/// A user's sign-in credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub user_id: String,
    pub login: Option<String>,
    /// argon2id in its PHC string form; none for users who only hold API tokens.
    pub password_hash: Option<String>,
    pub must_change_password: bool,
}

/// What a session lookup finds: the session and the user it acts for.
#[derive(Debug, Clone)]
pub struct SessionLookup {
    /// The user's organisation is approved (not pending or rejected).
    pub org_approved: bool,
    pub session: Session,
    pub csrf_hash: String,
    pub user_name: String,
    pub role: Role,
    pub org_id: String,
    pub must_change_password: bool,
}

/// Filters and page of a library listing. Visibility is part of the query, never applied after.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub viewer_org: String,
    pub viewer_is_staff: bool,
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    pub status: Option<RecordStatus>,
    pub org_id: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Needs only.
    pub need_type: Option<NeedType>,
    /// Achievements only.
    pub trl_min: Option<u8>,
    /// Return records with ids below this one (ids sort by creation time).
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What a change in the feed is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Need,
    Achievement,
    /// A docking, with the event appended to it.
    Docking,
    /// A transfer, with its milestones.
    Transfer,
    /// A dictionary term or a synonym group.
    Dictionary,
    Organisation,
    User,
    Token,
    /// A session opened or ended.
    Session,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::Need,
        ChangeKind::Achievement,
        ChangeKind::Docking,
        ChangeKind::Transfer,
        ChangeKind::Dictionary,
        ChangeKind::Organisation,
        ChangeKind::User,
        ChangeKind::Token,
        ChangeKind::Session,
    ];

    /// The stored name (the table the changed row lives in).
    pub fn code(self) -> &'static str {
        match self {
            ChangeKind::Need => "needs",
            ChangeKind::Achievement => "achievements",
            ChangeKind::Docking => "dockings",
            ChangeKind::Transfer => "transfers",
            ChangeKind::Dictionary => "dictionary",
            ChangeKind::Organisation => "organisations",
            ChangeKind::User => "users",
            ChangeKind::Token => "api_tokens",
            ChangeKind::Session => "sessions",
        }
    }

    pub fn parse(code: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The library of a need's or achievement's change.
    pub fn library(self) -> Option<Library> {
        match self {
            ChangeKind::Need => Some(Library::Needs),
            ChangeKind::Achievement => Some(Library::Achievements),
            _ => None,
        }
    }
}

/// One committed change, as the ordered feed (the `changes` table) records it: every write a
/// follower may need, numbered in commit order on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    /// The id of the row that changed (for the dictionary: the term's or group's id).
    pub id: String,
}

impl Change {
    /// The library and id of a need's or achievement's change.
    pub fn record(&self) -> Option<(Library, &str)> {
        self.kind.library().map(|library| (library, self.id.as_str()))
    }
}

/// Everything the service keeps, in one part per library: accounts, records (needs and
/// achievements, imports, the dictionary), the change log, dockings, transfers and statistics.
/// Both implementations pass one conformance suite per part (tests/api/storage/).
#[async_trait]
pub trait Store:
    AccountStore
    + RecordStore
    + ChangeLog
    + DockingStore
    + TransferStore
    + AuditStore
    + NotificationStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;
    /// Begins a write transaction: the only way to write. The application layer's unit of work
    /// holds it (`app::unit`); dropped without `commit`, it rolls back.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// Checks the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Writes a consistent copy of the whole database, as of one moment, to a new file (SQLite;
    /// PostgreSQL answers that `pg_dump` does this).
    async fn backup_into(&self, path: &std::path::Path) -> StoreResult<()>;
    /// Closes the pools, waiting for connections to finish.
    async fn close(&self);
}

/// Organisations, users and API tokens.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn get_organisation(&self, id: &str) -> StoreResult<Option<Organisation>>;
    async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>>;
    async fn list_organisations(&self) -> StoreResult<Vec<Organisation>>;

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, org_id: Option<&str>) -> StoreResult<Vec<User>>;

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>>;
    async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>>;
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenLookup>>;

    /// The credentials of the user whose login is `login` (normalised).
    async fn find_login(&self, login: &str) -> StoreResult<Option<Credentials>>;
    async fn get_credentials(&self, user_id: &str) -> StoreResult<Option<Credentials>>;
    async fn find_session_by_hash(&self, hash: &str) -> StoreResult<Option<SessionLookup>>;
    /// A user's sessions, newest first.
    async fn list_sessions(&self, user_id: &str) -> StoreResult<Vec<Session>>;
    /// How many failed sign-ins `key` has had since `since`, and when the earliest of them was.
    async fn sign_in_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<(i64, Option<DateTime<Utc>>)>;
}

/// The audit log, read by admins.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Entries matching the query, newest first; the cursor is the last entry's position.
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEntry>>;
}

/// What the expiry sweep asks: records still open whose validity ends before a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpiryBound {
    /// A need with a deadline is due when its deadline is before this market date.
    pub deadline_before: chrono::NaiveDate,
    /// A record without a deadline (every achievement) is due when it was last confirmed before
    /// this moment.
    pub confirmed_before: DateTime<Utc>,
    /// Only records whose owner was not reminded yet (for the reminders).
    pub unreminded: bool,
}

/// A week of the market, for the weekly summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeekFacts {
    /// (organisation, library route, records created).
    pub new_records: Vec<(String, String, i64)>,
    /// (need's organisation, achievement's organisation, manager, state now, dockings that
    /// moved in the week).
    pub moved: Vec<(String, String, Option<String>, String, i64)>,
    /// (manager, suggestions waiting for review now).
    pub waiting: Vec<(Option<String>, i64)>,
}

/// A page of a user's inbox: the events with whether the user has read each.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    pub user_id: String,
    /// The audience keys the user belongs to (`market`, `org:…`, `user:…`).
    pub audiences: Vec<String>,
    pub unread_only: bool,
    /// Continue after this (read, seq) position of the order: unread first, newest first.
    pub after: Option<(bool, i64)>,
    pub limit: u32,
}

/// Notifications: the outbox of events, the inboxes, webhook subscriptions and deliveries.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// Events with a position above `seq`, in order, with their audiences, at most `limit`.
    async fn events_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Event>>;
    async fn get_event(&self, seq: i64) -> StoreResult<Option<Event>>;
    /// The highest event position (0 when none).
    async fn last_event_seq(&self) -> StoreResult<i64>;
    /// A page of an inbox, unread first, newest first, each with whether it was read.
    async fn inbox(&self, query: &InboxQuery) -> StoreResult<Vec<(Event, bool)>>;
    /// How many events of the audiences the user has not read, counted up to 1000.
    async fn unread_count(&self, user_id: &str, audiences: &[String]) -> StoreResult<i64>;
    /// Whether the event is addressed to one of the audiences.
    async fn event_reaches(&self, seq: i64, audiences: &[String]) -> StoreResult<bool>;

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>>;
    /// Subscriptions (ended ones too) of the given audiences, or all with None; newest first.
    async fn list_subscriptions(&self, audiences: Option<&[String]>) -> StoreResult<Vec<Subscription>>;
    async fn get_delivery(&self, id: &str) -> StoreResult<Option<Delivery>>;
    /// A subscription's deliveries, newest first, of one status if given, before a position.
    async fn list_deliveries(
        &self,
        subscription_id: &str,
        status: Option<DeliveryStatus>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Delivery>>;
    async fn delivery_attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>>;
    /// Pending deliveries due at `now` and not held by a live claim, oldest first.
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>>;
    /// When the next pending delivery falls due, if any.
    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// What the weekly summary tells, over [from, to).
    async fn week_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<WeekFacts>;
    /// Ids of open records of a library due (to expire, or for a reminder) at the bound.
    async fn due_to_expire(&self, library: Library, bound: &ExpiryBound, limit: u32) -> StoreResult<Vec<String>>;
}

/// The needs and achievements libraries, imports, and the search dictionary. Every insert and
/// update of a record adds its change-log entry in the same transaction.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    async fn get_need(&self, id: &str) -> StoreResult<Option<Need>>;
    async fn list_needs(&self, query: &ListQuery) -> StoreResult<Page<Need>>;

    async fn get_achievement(&self, id: &str) -> StoreResult<Option<Achievement>>;
    async fn list_achievements(&self, query: &ListQuery) -> StoreResult<Page<Achievement>>;

    /// How many records a listing would return over all its pages from its cursor on,
    /// visibility applied as in the listing; the page size is ignored.
    async fn count_listing(&self, library: Library, query: &ListQuery) -> StoreResult<u64>;
    /// (id, title) of an organisation's most recent records of a library that have not expired,
    /// newest first, at most `limit`, only those with an id below `before` if given: what the
    /// duplicate check compares new titles with (an import's own new records, which it writes
    /// meanwhile, have the greater ids). Read from an index alone, so its cost does not grow
    /// with the catalogue.
    async fn recent_titles(
        &self,
        library: Library,
        org_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, String)>>;
    /// Needs by id, in any order; missing ids are left out.
    async fn needs_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Need>>;
    async fn achievements_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Achievement>>;
    /// Every need (of any visibility and status) with an id above `after`, by id, at most
    /// `limit`: the scan a rebuild of the index reads.
    async fn scan_needs(&self, after: &str, limit: u32) -> StoreResult<Vec<Need>>;
    async fn scan_achievements(&self, after: &str, limit: u32) -> StoreResult<Vec<Achievement>>;
    /// (id, version) of every record of a library, for the index drift check.
    async fn record_versions(&self, library: Library) -> StoreResult<Vec<(String, i64)>>;

    /// (external id, record id) of everything imported into `library` for `org_id`.
    async fn imported_ids(&self, library: Library, org_id: &str) -> StoreResult<Vec<(String, String)>>;
    /// (external id, record id) of those of `external_ids` imported into `library` for `org_id`
    /// before: the import's idempotency check, one indexed look-up per id.
    async fn imported_records(
        &self,
        library: Library,
        org_id: &str,
        external_ids: &[String],
    ) -> StoreResult<Vec<(String, String)>>;

    async fn list_dictionary_terms(&self) -> StoreResult<Vec<DictionaryTerm>>;
    async fn list_synonym_groups(&self) -> StoreResult<Vec<SynonymGroup>>;
}

/// The ordered feed of changes the followers read, and each follower's checkpoint in it.
#[async_trait]
pub trait ChangeLog: Send + Sync + 'static {
    /// Changes with a sequence number above `seq`, in order, at most `limit`.
    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Change>>;
    /// The highest sequence number in the change log (0 when empty).
    async fn last_change_seq(&self) -> StoreResult<i64>;
    /// The database's identity, made once with its schema: what the search index and the demo
    /// tokens record as the database they belong to.
    async fn database_id(&self) -> StoreResult<String>;
    /// The position a named follower has reached in the feed (0 before its first pass).
    async fn checkpoint(&self, follower: &str) -> StoreResult<i64>;
    /// A signal of every commit that appends to the feed, from any instance on the database
    /// (PostgreSQL's LISTEN/NOTIFY); `None` where there is none (SQLite: one instance).
    async fn listen_changes(&self) -> StoreResult<Option<Box<dyn ChangeSignal>>>;
}

/// Commits to the feed as they happen. A signal can be missed (a lost connection): the
/// followers poll as well.
#[async_trait]
pub trait ChangeSignal: Send {
    /// Waits for the next commit that appended to the feed (several may be heard as one).
    async fn next(&mut self) -> StoreResult<()>;
}

/// The docking library's part of the store.
#[async_trait]
pub trait DockingStore: Send + Sync + 'static {
    async fn get_docking(&self, id: &str) -> StoreResult<Option<Docking>>;
    async fn list_dockings(&self, query: &DockingQuery) -> StoreResult<Page<Docking>>;
    /// How many dockings (in `state`, or in any) each of the records `ids` of `library` takes
    /// part in (a record without any is left out).
    async fn docking_counts(
        &self,
        library: Library,
        ids: &[String],
        state: Option<DockingState>,
    ) -> StoreResult<HashMap<String, u64>>;
    /// A docking's events, oldest first.
    async fn docking_events(&self, docking_id: &str) -> StoreResult<Vec<DockingEvent>>;
}

/// The transfer library's part of the store, and the statistics queries.
#[async_trait]
pub trait TransferStore: Send + Sync + 'static {
    async fn get_transfer(&self, id: &str) -> StoreResult<Option<Transfer>>;
    /// Transfers by signing date, newest first.
    async fn list_transfers(&self, query: &TransferQuery) -> StoreResult<Page<Transfer>>;
    /// (key, count) of a library's records in the filter, grouped by `by` (or one `all` row).
    /// Needs and achievements count without private ones; dockings and transfers count once per
    /// organisation when grouped by organisation. Transfers fall in a period by signing date.
    async fn count_records(
        &self,
        library: StatsLibrary,
        by: Option<Dimension>,
        filter: &StatsFilter,
    ) -> StoreResult<Vec<(String, i64)>>;
    /// Every docking of the filter's field and region (of any period) with its stage moments.
    async fn docking_facts(&self, filter: &StatsFilter) -> StoreResult<Vec<DockingFacts>>;
    /// (manager id, events recorded, distinct dockings acted on) in the filter's period.
    async fn manager_events(&self, filter: &StatsFilter) -> StoreResult<Vec<(String, i64, i64)>>;
}

/// A write transaction: every write the store makes, and nothing else. It is begun by
/// `Store::begin` and held by the application layer's unit of work; each write that a follower
/// may need notes its change, and `commit` appends them to the feed in this transaction, in the
/// order written, under the feed's lock. Dropped without `commit`, it rolls back and leaves
/// nothing behind.
#[async_trait]
pub trait StoreTx:
    AccountWrites + RecordWrites + FeedWrites + DockingWrites + TransferWrites + AuditWrites + NotificationWrites + Send
{
    /// The ids of the rows this transaction changed so far (what its audit entry names).
    fn changed(&self) -> Vec<String>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Writes of organisations, users and API tokens.
#[async_trait]
pub trait AccountWrites: Send {
    async fn insert_organisation(&mut self, org: &Organisation) -> StoreResult<()>;
    async fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    async fn insert_token(&mut self, token: &ApiToken, hash: &str) -> StoreResult<()>;
    /// Records a manager's decision on a pending organisation; false when it is not pending.
    async fn review_organisation(
        &mut self,
        id: &str,
        status: crate::domain::vocab::OrgStatus,
        reason: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Marks a token revoked; false when it does not exist or was already revoked.
    async fn revoke_token(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records a token's last use: bookkeeping, not a change in the feed.
    async fn touch_token(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Sets (or clears, with None) a user's login; a login already taken is a unique violation.
    async fn set_login(&mut self, user_id: &str, login: Option<&str>, at: DateTime<Utc>) -> StoreResult<()>;
    async fn set_password(
        &mut self,
        user_id: &str,
        hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn insert_session(&mut self, session: &Session, hash: &str, csrf_hash: &str) -> StoreResult<()>;
    /// Records a session's use (bookkeeping, at most once a minute).
    async fn touch_session(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Ends one session; false when it had already ended.
    async fn end_session(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Ends every open session of a user but `keep`; how many.
    async fn end_sessions(&mut self, user_id: &str, keep: Option<&str>, at: DateTime<Utc>) -> StoreResult<u64>;
    async fn add_sign_in_failure(&mut self, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Forgets the failed sign-ins of `key` (after a successful one).
    async fn clear_sign_in_failures(&mut self, key: &str) -> StoreResult<()>;
}

/// The audit log's writes: entries appended, and entries past the retention pruned.
#[async_trait]
pub trait AuditWrites: Send {
    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
    /// Deletes audit entries older than `audit_before` and failed sign-ins older than
    /// `failures_before`; how many audit entries.
    async fn prune_audit(&mut self, audit_before: DateTime<Utc>, failures_before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Writes of notifications.
#[async_trait]
pub trait NotificationWrites: Send {
    /// Appends events and their audiences to the outbox, in their order, a few statements for
    /// many (under the feed's lock, so positions become visible in order); their positions.
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<Vec<i64>>;
    /// Marks one event read; false when it already was.
    async fn mark_read(&mut self, user_id: &str, seq: i64, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Marks everything up to `upto` read.
    async fn mark_all_read(&mut self, user_id: &str, upto: i64) -> StoreResult<()>;
    async fn insert_subscription(&mut self, subscription: &Subscription) -> StoreResult<()>;
    /// Ends a subscription (its pending deliveries are not sent); false when it had ended.
    async fn end_subscription(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Adds deliveries, leaving out any an event already has for its subscription; how many.
    async fn insert_deliveries(&mut self, deliveries: &[Delivery]) -> StoreResult<u64>;
    /// Claims a pending delivery due at `now` for one attempt until `until`, counting the
    /// attempt; false when another instance holds it or it is no longer due.
    async fn claim_delivery(&mut self, id: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool>;
    /// Records an attempt and the delivery's state after it (delivered, due again, dead).
    async fn record_attempt(&mut self, delivery: &Delivery, attempt: &DeliveryAttempt) -> StoreResult<()>;
    /// Makes a delivery pending again, due at `at`, with its attempts counted afresh; false when
    /// it is pending already.
    async fn redeliver(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes the events written before `before` with their audiences, read marks, finished
    /// deliveries and attempts (an event with a delivery still pending stays); how many events.
    async fn prune_notifications(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Notes that a record's owner was reminded of its expiry (bookkeeping, not a change).
    async fn mark_reminded(&mut self, library: Library, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Writes of needs, achievements, import keys and the dictionary.
#[async_trait]
pub trait RecordWrites: Send {
    async fn insert_need(&mut self, need: &Need) -> StoreResult<()>;
    /// Writes `need` if the stored version is still `need.meta.version`; returns the record as
    /// stored (version + 1, `updated_at` = `at`).
    async fn update_need(&mut self, need: &Need, at: DateTime<Utc>) -> StoreResult<Need>;
    async fn insert_achievement(&mut self, achievement: &Achievement) -> StoreResult<()>;
    /// Many needs, many to a statement (an import's unit of work): what `insert_need` does for
    /// each.
    async fn insert_needs(&mut self, needs: &[&Need]) -> StoreResult<()>;
    /// Many achievements, many to a statement: what `insert_achievement` does for each.
    async fn insert_achievements(&mut self, achievements: &[&Achievement]) -> StoreResult<()>;
    async fn update_achievement(&mut self, achievement: &Achievement, at: DateTime<Utc>) -> StoreResult<Achievement>;
    /// The external ids an import gave its records.
    async fn insert_import_keys(&mut self, keys: &[ImportKey]) -> StoreResult<()>;
    async fn insert_dictionary_term(&mut self, term: &DictionaryTerm) -> StoreResult<()>;
    async fn insert_synonym_group(&mut self, group: &SynonymGroup) -> StoreResult<()>;
}

/// The followers' checkpoints.
#[async_trait]
pub trait FeedWrites: Send {
    /// Moves a named follower's checkpoint forward (never back); false when it was there or
    /// further already (another instance moved it first: a scheduled job runs once).
    async fn set_checkpoint(&mut self, follower: &str, seq: i64) -> StoreResult<bool>;
}

/// Writes of dockings and their events.
#[async_trait]
pub trait DockingWrites: Send {
    /// Creates a docking with its `created` event, unless the pair already has an open docking,
    /// or (with `respect_history`, as the matcher asks) a docking that went further than a
    /// rejection or withdrawal (signed or failed: never suggested again), or a rejected or
    /// withdrawn one made when both records had the fingerprints they have now. Returns the
    /// docking that stood in the way, if any.
    async fn create_docking(
        &mut self,
        docking: &Docking,
        event: &DockingEvent,
        respect_history: bool,
    ) -> StoreResult<Option<Docking>>;
    /// Creates suggestions, each with its `created` event, for pairs the caller knows to have no
    /// docking (the matcher's batch: neither record had any when it was ranked), many to a
    /// statement and without a look-up; a pair that has an open docking fails it with
    /// `UniqueViolation`, and the transaction is not to be committed.
    async fn insert_suggested(&mut self, dockings: &[(Docking, DockingEvent)]) -> StoreResult<()>;
    /// Writes the docking's state, manager, flags and matcher fields (score, explanation,
    /// versions, fingerprints) if the stored version is still
    /// `docking.version`, and appends `event`, in one transaction; returns it as stored.
    async fn update_docking(&mut self, docking: &Docking, event: &DockingEvent) -> StoreResult<Docking>;
}

/// Writes of transfers.
#[async_trait]
pub trait TransferWrites: Send {
    async fn insert_transfer(&mut self, transfer: &Transfer) -> StoreResult<()>;
    /// Writes the transfer's content if the stored version is still `transfer.version`.
    async fn update_transfer(&mut self, transfer: &Transfer, at: DateTime<Utc>) -> StoreResult<Transfer>;
}

/// Database settings the stores need.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite: the most pages (4 KiB each) the database file may grow to; 0 for no cap.
    pub sqlite_max_pages: u64,
}

/// Opens the store the URL names and applies its migrations.
pub async fn connect(options: &DatabaseOptions) -> StoreResult<Arc<dyn Store>> {
    let url = options.url.as_str();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqlStore::new(SqliteDialect::connect(options).await?)))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(SqlStore::new(PgDialect::connect(options).await?)))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
