//! The unit of work: the one write path. An operation that writes opens one with the acting
//! principal (`App::begin`), makes every write of the operation in it (the store's write methods
//! belong to its transaction, `storage::StoreTx`, and to nothing else), and commits it. Each
//! write a follower needs appends its change to the ordered feed in the same transaction (at
//! commit); committing is what wakes the followers. Dropped without `commit` (an error, a rule refused,
//! a panic), the transaction rolls back: nothing is written and nothing is woken.
//!
//! What must be written *with* a change is written in `commit`, before the transaction's own
//! commit, so it lands with the change or not at all: the audit entry of who did what (the
//! actor, its credential, request id and client address are here; the records are the rows the
//! unit changed), and the outbox events for notifications (`notify`).

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};

use super::{App, Writes};
use crate::domain::audit::{AuditEntry, MAX_RECORDS_PER_ENTRY, Outcome};
use crate::domain::notification::Event;
use crate::domain::record::{Origin, Principal};
use crate::storage::{StoreError, StoreTx};

/// Who makes a unit of work's writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// A signed-in user (over HTTP, or named on the command line with `--as`).
    User(Principal),
    /// The service itself: `matcher` (the suggester), `command line` (set-up and imports by the
    /// operator), `demo` (the demo data set).
    System(&'static str),
    /// Someone not signed in (a sign-in attempt, an application to join), from `Origin`; the
    /// user id when the login named one.
    Anonymous(Origin, Option<String>),
}

impl Actor {
    /// The acting user's id, if a user acts.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User(p) => Some(&p.user_id),
            Actor::System(_) | Actor::Anonymous(..) => None,
        }
    }

    /// Where the action came from (empty for the service itself).
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Actor::User(p) => Some(&p.origin),
            Actor::Anonymous(origin, _) => Some(origin),
            Actor::System(_) => None,
        }
    }

    /// An audit entry of this actor at `at`, for `operation` (or, when none is given, what its
    /// origin names: the route of the request, or the service's own name).
    pub fn entry(&self, at: DateTime<Utc>, operation: Option<&str>, outcome: Outcome) -> AuditEntry {
        let (actor, actor_org, credential) = match self {
            Actor::User(p) => (p.user_id.clone(), p.org_id.clone(), p.credential.prefix().to_string()),
            Actor::System(name) => (format!("system:{name}"), String::new(), String::new()),
            Actor::Anonymous(_, user) => {
                (user.clone().unwrap_or_else(|| "anonymous".into()), String::new(), String::new())
            }
        };
        let origin = self.origin();
        let operation = operation
            .map(str::to_string)
            .or_else(|| origin.and_then(|o| o.operation.clone()))
            .unwrap_or_else(|| match self {
                Actor::System(name) => name.to_string(),
                _ => "write".into(),
            });
        AuditEntry {
            seq: 0,
            at,
            actor,
            actor_org,
            credential,
            operation,
            records: Vec::new(),
            outcome,
            detail: String::new(),
            client: origin.and_then(|o| o.client.clone()).unwrap_or_default(),
            request_id: origin.and_then(|o| o.request_id.clone()).unwrap_or_default(),
        }
    }
}

impl From<&Principal> for Actor {
    fn from(who: &Principal) -> Actor {
        Actor::User(who.clone())
    }
}

/// One operation's writes, in one database transaction, made by one actor at one moment.
pub struct UnitOfWork<'a> {
    tx: Box<dyn StoreTx>,
    actor: Actor,
    at: DateTime<Utc>,
    writes: &'a Writes,
    /// The audit entry, when the operation describes itself (`audit`); otherwise one is made
    /// at commit from the actor and the rows changed.
    entry: Option<AuditEntry>,
    /// The events the change causes (the outbox), written at commit.
    events: Vec<Event>,
}

impl App {
    /// Opens a unit of work for `actor`, at the context clock's now.
    pub(crate) async fn begin(&self, actor: impl Into<Actor>) -> Result<UnitOfWork<'_>, StoreError> {
        let tx = self.store.begin().await?;
        Ok(UnitOfWork {
            tx,
            actor: actor.into(),
            at: self.clock.now(),
            writes: &self.writes,
            entry: None,
            events: Vec::new(),
        })
    }
}

impl UnitOfWork<'_> {
    /// The moment of the unit of work (the context's clock when it began): every timestamp it
    /// writes.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Describes the operation for the audit log, in place of the request's route: what was
    /// done, to which records, how it ended and why (an error code). A unit that describes
    /// itself is audited even when it changed no row (a denied access, a read of contacts).
    pub fn audit(&mut self, operation: &str, records: Vec<String>, outcome: Outcome, detail: &str) {
        let mut entry = self.actor.entry(self.at, Some(operation), outcome);
        entry.records = records;
        entry.detail = detail.to_string();
        self.entry = Some(entry);
    }

    /// Adds an event the change causes: written with it at commit (at the unit's moment), or not
    /// at all.
    pub fn notify(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Commits every write of the unit with its audit entry and its events, then wakes the
    /// followers. A unit
    /// that changed rows is audited with their ids (the first `MAX_RECORDS_PER_ENTRY`, and how
    /// many more); one that changed none and did not describe itself (bookkeeping such as a
    /// token's last use) is not.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let changed = self.tx.changed();
        let entry = match self.entry.take() {
            Some(mut entry) => {
                if entry.records.is_empty() {
                    entry.records = changed;
                }
                Some(entry)
            }
            None if changed.is_empty() => None,
            None => {
                let mut entry = self.actor.entry(self.at, None, Outcome::Ok);
                entry.records = changed;
                Some(entry)
            }
        };
        if let Some(mut entry) = entry {
            if entry.records.len() > MAX_RECORDS_PER_ENTRY {
                let more = entry.records.len() - MAX_RECORDS_PER_ENTRY;
                entry.records.truncate(MAX_RECORDS_PER_ENTRY);
                entry.detail = format!("{} (+{more} more records)", entry.detail).trim().to_string();
            }
            self.tx.insert_audit(&entry).await?;
        }
        let notified = !self.events.is_empty();
        let mut events = std::mem::take(&mut self.events);
        for event in &mut events {
            event.at = self.at;
        }
        self.tx.insert_events(&events).await?;
        self.tx.commit().await?;
        let origin = self.actor.origin();
        tracing::debug!(
            user = self.actor.user_id(),
            request_id = origin.and_then(|o| o.request_id.as_deref()),
            client = origin.and_then(|o| o.client.as_deref()),
            "unit of work committed"
        );
        self.writes.committed();
        if notified {
            self.writes.notified();
        }
        Ok(())
    }
}

impl Deref for UnitOfWork<'_> {
    type Target = dyn StoreTx;
    fn deref(&self) -> &(dyn StoreTx + 'static) {
        self.tx.as_ref()
    }
}

impl DerefMut for UnitOfWork<'_> {
    fn deref_mut(&mut self) -> &mut (dyn StoreTx + 'static) {
        self.tx.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Actor;
    use crate::config::Config;
    use crate::domain::org::Organisation;
    use crate::domain::vocab::OrgKind;

    fn organisation(name: &str) -> Organisation {
        let new = crate::domain::org::NewOrganisation {
            name: name.into(),
            kind: OrgKind::Enterprise,
            region: "370502".into(),
        };
        Organisation::registered(new, chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default())
    }

    /// A context on a fresh SQLite database in a temporary directory.
    async fn context() -> (std::sync::Arc<crate::app::App>, crate::app::WriteSignals, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = [
            ("TECHMARKET__DATA__DIR".to_string(), dir.path().display().to_string()),
            ("TECHMARKET__DATABASE__URL".to_string(), format!("sqlite://{}/t.db", dir.path().display())),
        ];
        let config = Config::load(None, env).expect("configuration");
        let (cx, signals) = crate::startup::open_context(&config).await.expect("context");
        (cx, signals, dir)
    }

    /// Whether the followers were woken (a wake is kept until taken, so none is missed).
    async fn woken(wake: &tokio::sync::Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(100), wake.notified()).await.is_ok()
    }

    #[tokio::test]
    async fn a_unit_of_work_wakes_the_followers_when_it_commits_and_never_when_it_rolls_back() {
        let (cx, signals, _dir) = context().await;
        let before = cx.store.last_change_seq().await.unwrap();

        let dropped = organisation("东营回滚测试有限公司");
        {
            let mut unit = cx.begin(Actor::System("test")).await.unwrap();
            unit.insert_organisation(&dropped).await.unwrap();
            // An error, a refused rule or a panic: the unit is dropped without commit.
        }
        assert!(cx.store.get_organisation(&dropped.id).await.unwrap().is_none(), "nothing written");
        assert_eq!(cx.store.last_change_seq().await.unwrap(), before, "nothing in the feed");
        assert!(!woken(&signals.wake).await, "nothing woken");

        let kept = organisation("东营提交测试有限公司");
        let mut unit = cx.begin(Actor::System("test")).await.unwrap();
        assert_eq!(unit.actor().user_id(), None);
        unit.insert_organisation(&kept).await.unwrap();
        assert!(!woken(&signals.wake).await, "not before the commit");
        unit.commit().await.unwrap();
        assert!(woken(&signals.wake).await, "the commit wakes the followers");
        assert!(cx.store.get_organisation(&kept.id).await.unwrap().is_some());
        assert!(cx.store.last_change_seq().await.unwrap() > before);
        cx.search.close().await;
        cx.store.close().await;
    }

    #[tokio::test]
    async fn a_unit_of_work_reads_the_context_clock() {
        let (cx, _signals, _dir) = context().await;
        let moved = chrono::DateTime::parse_from_rfc3339("2031-03-02T08:00:00+08:00").unwrap().to_utc();
        cx.clock.travel_to(moved);
        let unit = cx.begin(Actor::System("test")).await.unwrap();
        assert!((unit.at() - moved).num_seconds().abs() < 5, "{} is not {moved}", unit.at());
        drop(unit);
        cx.search.close().await;
        cx.store.close().await;
    }
}
