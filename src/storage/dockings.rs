//! The docking library's part of the store: one open docking per pair, the matcher's respect
//! for history, versioned updates that append their event, and listings.

use std::collections::HashMap;

use async_trait::async_trait;

use super::dialect::{Dialect, Sql, Value, WriteTx};
use super::rows::{IntoDomain, code, from_micros, micros};
use super::sql::{SqlStore, SqlTx, all, offset_page, one, stale_or_missing};
use super::{ChangeKind, DockingStore, DockingWrites, Page, StoreError, StoreResult};
use crate::domain::docking::{Docking, DockingAction, DockingEvent, DockingState, EventKind};
use crate::domain::record::Library;
use crate::domain::vocab::TechField;

/// How many ids one statement names at most.
const ID_CHUNK: usize = 5_000;

/// The pair's docking that is not closed (rejected, failed, withdrawn or signed); the partial
/// unique index of the migration allows at most one.
pub const OPEN_DOCKING_OF_PAIR: &str = "SELECT * FROM dockings WHERE need_id = $1 AND achievement_id = $2 \
    AND state NOT IN ('rejected', 'failed', 'withdrawn', 'signed')";

/// The start of a docking insert; each row's values follow (`push_docking`).
const DOCKING_INSERT: &str = "INSERT INTO dockings (id, need_id, achievement_id, need_org_id, achievement_org_id, \
    state, reason, source, score, explanation, matcher_version, dictionary_version, need_fingerprint, achievement_fingerprint, \
    manager_id, field, region, was_introduced, need_interest, achievement_interest, created_by, created_at, updated_at, \
    version) VALUES ";

/// Dockings per insert statement (24 arguments each, well under both drivers' limits).
const DOCKINGS_PER_STATEMENT: usize = 100;

pub const DOCKING_UPDATE: &str = "UPDATE dockings SET state = $1, manager_id = $2, was_introduced = $3, \
    need_interest = $4, achievement_interest = $5, updated_at = $6, reason = $7, score = $8, explanation = $9, \
    matcher_version = $10, dictionary_version = $11, need_fingerprint = $12, achievement_fingerprint = $13, \
    version = version + 1 WHERE id = $14 AND version = $15";

/// The start of an event insert; each row's values follow (`push_event`).
const EVENT_INSERT: &str = "INSERT INTO docking_events (docking_id, at, actor_id, actor_role, kind, from_state, \
    to_state, reason, note) VALUES ";
/// Filters and page of a docking listing.
#[derive(Debug, Clone, Default)]
pub struct DockingQuery {
    pub states: Vec<DockingState>,
    pub need_id: Option<String>,
    pub achievement_id: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    pub manager_id: Option<String>,
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    /// A party's view: only its own dockings, and only from acceptance on.
    pub party_org: Option<String>,
    /// Best score first (the review queue) instead of the most recently changed first.
    pub by_score: bool,
    /// Only dockings whose need and achievement are both still open.
    pub open_records_only: bool,
    pub offset: u32,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
pub struct DockingRow {
    pub id: String,
    pub need_id: String,
    pub achievement_id: String,
    pub need_org_id: String,
    pub achievement_org_id: String,
    pub state: String,
    pub reason: Option<String>,
    pub source: String,
    pub score: Option<f64>,
    pub explanation: String,
    pub matcher_version: Option<String>,
    pub dictionary_version: Option<String>,
    pub need_fingerprint: String,
    pub achievement_fingerprint: String,
    pub manager_id: Option<String>,
    pub field: String,
    pub region: String,
    pub was_introduced: bool,
    pub need_interest: bool,
    pub achievement_interest: bool,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl IntoDomain for DockingRow {
    type Domain = Docking;

    fn into_domain(self) -> StoreResult<Docking> {
        Ok(Docking {
            state: code(&self.state)?,
            reason: self.reason.as_deref().map(code).transpose()?,
            source: code(&self.source)?,
            explanation: serde_json::from_str(&self.explanation)
                .map_err(|e| StoreError::Corrupt(format!("docking explanation: {e}")))?,
            field: code(&self.field)?,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
            id: self.id,
            need_id: self.need_id,
            achievement_id: self.achievement_id,
            need_org_id: self.need_org_id,
            achievement_org_id: self.achievement_org_id,
            score: self.score,
            matcher_version: self.matcher_version,
            dictionary_version: self.dictionary_version,
            need_fingerprint: self.need_fingerprint,
            achievement_fingerprint: self.achievement_fingerprint,
            manager_id: self.manager_id,
            region: self.region,
            was_introduced: self.was_introduced,
            need_interest: self.need_interest,
            achievement_interest: self.achievement_interest,
            created_by: self.created_by,
            version: self.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub docking_id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_role: String,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    pub note: String,
}

impl IntoDomain for EventRow {
    type Domain = DockingEvent;

    fn into_domain(self) -> StoreResult<DockingEvent> {
        // Transitions are stored under their action's code.
        let (kind, action) = match self.kind.parse::<DockingAction>() {
            Ok(action) => (EventKind::Transition, Some(action)),
            Err(_) => (code(&self.kind)?, None),
        };
        Ok(DockingEvent {
            docking_id: self.docking_id,
            at: from_micros(self.at)?,
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            kind,
            action,
            from_state: self.from_state.as_deref().map(code).transpose()?,
            to_state: self.to_state.as_deref().map(code).transpose()?,
            reason: self.reason.as_deref().map(code).transpose()?,
            note: self.note,
        })
    }
}

/// The stored `kind` of an event: the action's code for transitions.
pub fn event_kind(event: &DockingEvent) -> &'static str {
    match (event.kind, event.action) {
        (EventKind::Transition, Some(action)) => action.code(),
        (kind, _) => kind.code(),
    }
}

/// Appends an event inside a write transaction.
pub(super) async fn insert_event(tx: &mut impl WriteTx, e: &DockingEvent) -> StoreResult<()> {
    let mut sql = Sql::new(EVENT_INSERT);
    push_event(&mut sql, e);
    tx.execute(sql).await.map(|_| ())
}

/// An event's row of values, in `EVENT_INSERT`'s order.
fn push_event(sql: &mut Sql, e: &DockingEvent) {
    let values: [Value; 9] = [
        e.docking_id.clone().into(),
        micros(e.at).into(),
        e.actor_id.clone().into(),
        e.actor_role.clone().into(),
        event_kind(e).into(),
        e.from_state.map(|s| s.code()).into(),
        e.to_state.map(|s| s.code()).into(),
        e.reason.map(|r| r.code()).into(),
        e.note.clone().into(),
    ];
    sql.push_list(values);
}

/// A docking's row of values, in `DOCKING_INSERT`'s order.
fn push_docking(sql: &mut Sql, d: &Docking) {
    let values: [Value; 24] = [
        d.id.clone().into(),
        d.need_id.clone().into(),
        d.achievement_id.clone().into(),
        d.need_org_id.clone().into(),
        d.achievement_org_id.clone().into(),
        d.state.code().into(),
        d.reason.map(|r| r.code()).into(),
        d.source.code().into(),
        d.score.into(),
        d.explanation.to_string().into(),
        d.matcher_version.clone().into(),
        d.dictionary_version.clone().into(),
        d.need_fingerprint.clone().into(),
        d.achievement_fingerprint.clone().into(),
        d.manager_id.clone().into(),
        d.field.code().into(),
        d.region.clone().into(),
        d.was_introduced.into(),
        d.need_interest.into(),
        d.achievement_interest.into(),
        d.created_by.clone().into(),
        micros(d.created_at).into(),
        micros(d.updated_at).into(),
        d.version.into(),
    ];
    sql.push_list(values);
}

/// A unique violation of an insert into `dockings` is the open-pair index's: another instance
/// created the pair's open docking first.
fn open_pair(e: StoreError) -> StoreError {
    match e {
        StoreError::UniqueViolation { .. } => StoreError::UniqueViolation { constraint: "dockings_open_pair".into() },
        other => other,
    }
}

/// Writes a docking's new state and its event inside a write transaction; returns it as stored,
/// or why nothing changed (a stale version, a missing docking).
async fn write_docking_update(tx: &mut impl WriteTx, d: &Docking, event: &DockingEvent) -> StoreResult<Docking> {
    let sql = Sql::new(DOCKING_UPDATE)
        .bind(d.state.code())
        .bind(d.manager_id.clone())
        .bind(d.was_introduced)
        .bind(d.need_interest)
        .bind(d.achievement_interest)
        .bind(micros(event.at))
        .bind(d.reason.map(|r| r.code()))
        .bind(d.score)
        .bind(d.explanation.to_string())
        .bind(d.matcher_version.clone())
        .bind(d.dictionary_version.clone())
        .bind(&d.need_fingerprint)
        .bind(&d.achievement_fingerprint)
        .bind(&d.id)
        .bind(d.version);
    if tx.execute(sql).await? == 0 {
        return Err(stale_or_missing(tx, "dockings", &d.id).await?);
    }
    insert_event(tx, event).await?;
    let mut stored = d.clone();
    stored.version += 1;
    stored.updated_at = event.at;
    Ok(stored)
}

#[async_trait]
impl<D: Dialect> DockingStore for SqlStore<D> {
    async fn get_docking(&self, id: &str) -> StoreResult<Option<Docking>> {
        one::<D, DockingRow>(&self.db, Sql::new("SELECT * FROM dockings WHERE id = $1").bind(id)).await
    }

    async fn docking_counts(
        &self,
        library: Library,
        ids: &[String],
        state: Option<DockingState>,
    ) -> StoreResult<HashMap<String, u64>> {
        let column = match library {
            Library::Needs => "need_id",
            Library::Achievements => "achievement_id",
        };
        let mut counts = HashMap::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let mut sql = Sql::new(format!("SELECT {column}, COUNT(*) FROM dockings WHERE {column} IN "));
            sql.push_list(chunk.iter().cloned());
            if let Some(state) = state {
                sql.push(" AND state = ").push_bind(state.code());
            }
            sql.push(&format!(" GROUP BY {column}"));
            let rows: Vec<(String, i64)> = self.db.fetch_all(sql).await?;
            counts.extend(rows.into_iter().map(|(id, n)| (id, n as u64)));
        }
        Ok(counts)
    }

    async fn list_dockings(&self, q: &DockingQuery) -> StoreResult<Page<Docking>> {
        let mut sql = Sql::new("SELECT * FROM dockings d WHERE 1 = 1");
        if let Some(org) = &q.party_org {
            sql.push(" AND (d.need_org_id = ").push_bind(org.clone());
            sql.push(" OR d.achievement_org_id = ").push_bind(org.clone());
            sql.push(") AND d.state NOT IN ('suggested', 'rejected')");
        }
        if !q.states.is_empty() {
            sql.push(" AND d.state IN ").push_list(q.states.iter().map(|s| s.code()));
        }
        if let Some(id) = &q.need_id {
            sql.push(" AND d.need_id = ").push_bind(id.clone());
        }
        if q.open_records_only {
            sql.push(
                " AND EXISTS (SELECT 1 FROM needs n WHERE n.id = d.need_id AND n.status = 'open') \
                 AND EXISTS (SELECT 1 FROM achievements a WHERE a.id = d.achievement_id AND a.status = 'open')",
            );
        }
        if let Some(id) = &q.achievement_id {
            sql.push(" AND d.achievement_id = ").push_bind(id.clone());
        }
        if let Some(org) = &q.org_id {
            sql.push(" AND (d.need_org_id = ").push_bind(org.clone());
            sql.push(" OR d.achievement_org_id = ").push_bind(org.clone()).push(")");
        }
        if let Some(manager) = &q.manager_id {
            sql.push(" AND d.manager_id = ").push_bind(manager.clone());
        }
        if let Some(field) = q.field {
            sql.push(" AND d.field = ").push_bind(field.code());
        }
        if let Some(prefix) = &q.region_prefix {
            sql.push(" AND d.region LIKE ").push_bind(format!("{prefix}%"));
        }
        sql.push(if q.by_score { " ORDER BY d.score DESC, d.id" } else { " ORDER BY d.updated_at DESC, d.id DESC" });
        offset_page::<D, DockingRow>(&self.db, sql, q.offset, q.limit).await
    }

    async fn docking_events(&self, docking_id: &str) -> StoreResult<Vec<DockingEvent>> {
        let sql = Sql::new(
            "SELECT docking_id, at, actor_id, actor_role, kind, from_state, to_state, reason, note \
             FROM docking_events WHERE docking_id = $1 ORDER BY seq",
        )
        .bind(docking_id);
        all::<D, EventRow>(&self.db, sql).await
    }
}

#[async_trait]
impl<T: WriteTx + 'static> DockingWrites for SqlTx<T> {
    async fn create_docking(
        &mut self,
        d: &Docking,
        event: &DockingEvent,
        respect_history: bool,
    ) -> StoreResult<Option<Docking>> {
        let tx = &mut self.0;
        let open: Option<DockingRow> =
            tx.fetch_optional(Sql::new(OPEN_DOCKING_OF_PAIR).bind(&d.need_id).bind(&d.achievement_id)).await?;
        if let Some(open) = open {
            return open.into_domain().map(Some);
        }
        if respect_history {
            let unchanged: Option<DockingRow> = tx
                .fetch_optional(
                    Sql::new(
                        "SELECT * FROM dockings WHERE need_id = $1 AND achievement_id = $2 \
                         AND (state NOT IN ('rejected', 'withdrawn') \
                              OR (need_fingerprint = $3 AND achievement_fingerprint = $4)) \
                         ORDER BY created_at DESC LIMIT 1",
                    )
                    .bind(&d.need_id)
                    .bind(&d.achievement_id)
                    .bind(&d.need_fingerprint)
                    .bind(&d.achievement_fingerprint),
                )
                .await?;
            if let Some(closed) = unchanged {
                return closed.into_domain().map(Some);
            }
        }
        let mut insert = Sql::new(DOCKING_INSERT);
        push_docking(&mut insert, d);
        tx.execute(insert).await.map_err(open_pair)?;
        insert_event(tx, event).await?;
        self.log(ChangeKind::Docking, &d.id, d.created_at);
        Ok(None)
    }

    async fn insert_suggested(&mut self, dockings: &[(Docking, DockingEvent)]) -> StoreResult<()> {
        for chunk in dockings.chunks(DOCKINGS_PER_STATEMENT) {
            let (mut rows, mut events) = (Sql::new(DOCKING_INSERT), Sql::new(EVENT_INSERT));
            for (i, (docking, event)) in chunk.iter().enumerate() {
                let separator = if i > 0 { ", " } else { "" };
                push_docking(rows.push(separator), docking);
                push_event(events.push(separator), event);
            }
            self.0.execute(rows).await.map_err(open_pair)?;
            self.0.execute(events).await?;
        }
        for (docking, _) in dockings {
            self.log(ChangeKind::Docking, &docking.id, docking.created_at);
        }
        Ok(())
    }

    async fn update_docking(&mut self, docking: &Docking, event: &DockingEvent) -> StoreResult<Docking> {
        let stored = write_docking_update(&mut self.0, docking, event).await?;
        self.log(ChangeKind::Docking, &docking.id, event.at);
        Ok(stored)
    }
}
