//! The application layer: every rule and every write, whoever calls. The HTTP handlers, the
//! command line and the background followers call these operations; none of them writes to the
//! `Store` itself.
//!
//! Each operation takes the context (`App`: the store, the search index to read, the write
//! notifier, the clock) and the acting `Principal`, applies the rules (who may, owner resolution,
//! visibility, versions, duplicates, the state machines), writes, and returns domain values or
//! views of them, or an `Error` from the one catalogue of codes (`error::Code`).

pub mod accounts;
pub mod audit;
pub mod dockings;
pub mod error;
pub mod exports;
pub mod imports;
pub mod indexing;
pub mod joining;
pub mod matches;
pub mod notifications;
pub mod queries;
pub mod records;
pub mod reports;
pub mod schedule;
pub mod search;
pub mod sessions;
pub mod transfers;
pub mod unit;
pub mod views;
pub mod writes;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use error::{Code, Error, Result};
pub use unit::{Actor, UnitOfWork};
pub use writes::{WriteSignals, Writes};

use crate::config::{AccountsConfig, LimitsConfig, NotificationsConfig};
use crate::search::engine::Search;
use crate::storage::Store;

/// Checks an id before any query, so a malformed one gets a clear answer rather than "not found".
pub fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if crate::domain::is_valid_id(id) {
        Ok(id)
    } else {
        Err(Error::new(
            Code::InvalidId,
            format!("`{id}` is not a {what} id: ids look like 0193a4b2-7c1e-7d3f-9a51-2f6c8e9d0b14"),
        ))
    }
}

/// Where operations get the time (one place to change for expiry and scheduled work). It runs
/// on the system clock, shifted by an offset that only tests set (`travel_to`), so that a test
/// can introduce parties on one day and sign the contract on a later one.
#[derive(Debug, Default)]
pub struct Clock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl Clock {
    /// Now, truncated to microseconds (what both databases store).
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_micros.load(std::sync::atomic::Ordering::Relaxed);
        system_now() + chrono::Duration::microseconds(offset)
    }

    /// Moves this clock so that it reads `at` now (and runs on from there).
    pub fn travel_to(&self, at: DateTime<Utc>) {
        let offset = (at - system_now()).num_microseconds().unwrap_or(0);
        self.offset_micros.store(offset, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The system's time, truncated to microseconds (what both databases store): read here only,
/// so that every "now" of the service is the context clock's.
fn system_now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// What the application layer is configured with (`Config::settings`).
pub struct Settings {
    pub matching: crate::matching::service::MatchSettings,
    pub limits: LimitsConfig,
    pub accounts: AccountsConfig,
    pub notifications: NotificationsConfig,
    pub secure_cookies: bool,
}

/// The context every operation runs in.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) search: Arc<Search>,
    pub(crate) writes: Writes,
    pub clock: Clock,
    pub(crate) matching: crate::matching::service::MatchSettings,
    pub limits: LimitsConfig,
    pub accounts: AccountsConfig,
    pub notifications: NotificationsConfig,
    /// Whether session cookies carry `Secure` (`Config::secure_cookies`).
    pub secure_cookies: bool,
    /// Permits for heavy work (imports, exports, reports, index rebuilds): `limits.heavy_concurrency`.
    heavy: Arc<tokio::sync::Semaphore>,
    /// The change-log position the index must reach before the service says it is ready
    /// (`NOT_HELD`: ready as far as the index goes; `LOADING`: data is being loaded).
    ready_at: std::sync::atomic::AtomicI64,
}

/// `App::ready_at` when nothing holds readiness back.
const NOT_HELD: i64 = 0;
/// `App::ready_at` while data is being loaded (the demo), before its position is known.
const LOADING: i64 = i64::MAX;

impl App {
    pub fn new(store: Arc<dyn Store>, search: Arc<Search>, writes: Writes, settings: Settings) -> App {
        let Settings { matching, limits, accounts, notifications, secure_cookies } = settings;
        let heavy = Arc::new(tokio::sync::Semaphore::new(limits.heavy_concurrency));
        App {
            store,
            search,
            writes,
            clock: Clock::default(),
            matching,
            limits,
            accounts,
            notifications,
            secure_cookies,
            heavy,
            ready_at: std::sync::atomic::AtomicI64::new(NOT_HELD),
        }
    }

    /// Holds readiness back while data is loaded into a running service (the demo's), so a
    /// load balancer sends it no search it would answer empty; `ready_once_indexed` ends it.
    pub fn loading(&self) {
        self.ready_at.store(LOADING, std::sync::atomic::Ordering::Release);
    }

    /// Ready once the index has caught up with the change log as it stands now.
    pub async fn ready_once_indexed(&self) -> Result<()> {
        let now = self.store.last_change_seq().await?;
        self.ready_at.store(now.max(1), std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Whether the index has reached the position readiness waits for (once it has, later lag
    /// does not take readiness away: searches then lag by the followers' delay only).
    fn index_ready(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let wanted = self.ready_at.load(Ordering::Acquire);
        if wanted == NOT_HELD {
            return Ok(());
        }
        let indexed = self.search.current().last_seq();
        if wanted != LOADING && indexed >= wanted {
            let _ = self.ready_at.compare_exchange(wanted, NOT_HELD, Ordering::AcqRel, Ordering::Acquire);
            return Ok(());
        }
        let (en, zh) = if wanted == LOADING {
            ("data is being loaded into the service".to_string(), "服务正在载入数据".to_string())
        } else {
            (
                format!("the search index is catching up with the database (at change {indexed} of {wanted})"),
                format!("搜索索引正在追赶数据库（已到第 {indexed} 条变更，共 {wanted} 条）"),
            )
        };
        Err(Error::new(Code::NotReady, en).zh(zh))
    }

    /// The store, for the followers, start-up and the measurements' reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn search(&self) -> &Arc<Search> {
        &self.search
    }

    /// A permit for one heavy operation, held until it is complete; when all are taken the
    /// caller is told at once to come back (`busy`), rather than queued to pile up.
    pub fn heavy_permit(&self, what: &str) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.heavy.clone().try_acquire_owned().map_err(|_| Error::busy(self.limits.retry_after_secs, what))
    }

    /// Readiness: the database answers, and the index holds what was loaded at start.
    pub async fn ping(&self) -> Result<&'static str> {
        let database = match self.store.backend() {
            crate::storage::Backend::Sqlite => "sqlite",
            crate::storage::Backend::Postgres => "postgres",
        };
        self.store.ping().await.map_err(|error| {
            if let crate::storage::StoreError::Full(detail) = &error {
                tracing::warn!(%detail, "readiness: the database's storage is full");
                return Error::new(
                    Code::StorageFull,
                    format!("the {database} database's storage is full: writes are refused until space is freed"),
                )
                .zh(format!("{database} 数据库的存储空间已满：在清理出空间之前，所有修改都无法保存"));
            }
            if error.is_closed() {
                // The service is stopping: not a fault worth a warning.
                tracing::debug!("readiness asked while the database pool closes for shutdown");
            } else {
                tracing::warn!(%error, "readiness check failed");
            }
            Error::new(Code::NotReady, format!("the {database} database does not answer"))
        })?;
        self.index_ready()?;
        Ok(database)
    }
}
