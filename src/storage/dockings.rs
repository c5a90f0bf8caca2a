//! The docking library's rows and SQL, shared by both backends like `sql.rs`.

use super::rows::{code, from_micros};
use super::{StoreError, StoreResult};
use crate::domain::docking::{Docking, DockingAction, DockingEvent, DockingState, EventKind};
use crate::domain::vocab::TechField;

/// The pair's docking that is not closed (rejected, failed, withdrawn or signed); the partial
/// unique index of the migration allows at most one.
pub const OPEN_DOCKING_OF_PAIR: &str = "SELECT * FROM dockings WHERE need_id = $1 AND achievement_id = $2 \
    AND state NOT IN ('rejected', 'failed', 'withdrawn', 'signed')";

pub const DOCKING_INSERT: &str = "INSERT INTO dockings (id, need_id, achievement_id, need_org_id, achievement_org_id, \
    state, reason, source, score, explanation, matcher_version, dictionary_version, need_fingerprint, achievement_fingerprint, \
    manager_id, field, region, was_introduced, need_interest, achievement_interest, created_by, created_at, updated_at, \
    version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
    $22, $23, $24)";

pub const DOCKING_UPDATE: &str = "UPDATE dockings SET state = $1, manager_id = $2, was_introduced = $3, \
    need_interest = $4, achievement_interest = $5, updated_at = $6, reason = $7, version = version + 1 \
    WHERE id = $8 AND version = $9";

pub const EVENT_INSERT: &str = "INSERT INTO docking_events (docking_id, at, actor_id, actor_role, kind, from_state, \
    to_state, reason, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

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

impl DockingRow {
    pub fn into_domain(self) -> StoreResult<Docking> {
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

impl EventRow {
    pub fn into_domain(self) -> StoreResult<DockingEvent> {
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

/// Appends an event inside the transaction `$tx`.
macro_rules! insert_event {
    ($tx:expr, $event:expr) => {{
        let e = $event;
        sqlx::query($crate::storage::dockings::EVENT_INSERT)
            .bind(e.docking_id.clone())
            .bind($crate::storage::rows::micros(e.at))
            .bind(e.actor_id.clone())
            .bind(e.actor_role.clone())
            .bind($crate::storage::dockings::event_kind(e))
            .bind(e.from_state.map(|s| s.code()))
            .bind(e.to_state.map(|s| s.code()))
            .bind(e.reason.map(|r| r.code()))
            .bind(e.note.clone())
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Why a versioned update of `$table` row `$id` changed nothing: someone wrote a newer version,
/// or the row is gone.
macro_rules! stale_or_missing {
    ($tx:expr, $table:literal, $id:expr) => {{
        let current: Option<(i64,)> = sqlx::query_as(concat!("SELECT version FROM ", $table, " WHERE id = $1"))
            .bind($id.clone())
            .fetch_optional(&mut *$tx)
            .await?;
        match current {
            Some((current,)) => $crate::storage::StoreError::VersionConflict { current },
            None => $crate::storage::StoreError::NotFound,
        }
    }};
}

/// Writes a docking's new state and its event inside the transaction `$tx`; a stale version
/// or a missing docking returns the error from the enclosing function.
macro_rules! write_docking_update {
    ($tx:expr, $docking:expr, $event:expr) => {{
        let d = $docking;
        let updated = sqlx::query($crate::storage::dockings::DOCKING_UPDATE)
            .bind(d.state.code())
            .bind(d.manager_id.clone())
            .bind(d.was_introduced)
            .bind(d.need_interest)
            .bind(d.achievement_interest)
            .bind($crate::storage::rows::micros($event.at))
            .bind(d.reason.map(|r| r.code()))
            .bind(d.id.clone())
            .bind(d.version)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err($crate::storage::dockings::stale_or_missing!($tx, "dockings", d.id));
        }
        $crate::storage::dockings::insert_event!($tx, $event);
        let mut stored = d.clone();
        stored.version += 1;
        stored.updated_at = $event.at;
        stored
    }};
}

/// Runs a listing with `LIMIT`/`OFFSET` and returns the page; its cursor is the next offset.
macro_rules! finish_offset_page {
    ($qb:expr, $q:expr, $row:ty, $pool:expr) => {{
        let limit = $q.limit.max(1) as usize;
        $qb.push(" LIMIT ").push_bind(limit as i64 + 1).push(" OFFSET ").push_bind(i64::from($q.offset));
        let rows: Vec<$row> = $qb.build_query_as().fetch_all($pool).await?;
        let mut items = rows.into_iter().map(|r| r.into_domain()).collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            Some(($q.offset as usize + limit).to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }};
}

/// The `DockingStore` implementation, written once for both backends.
macro_rules! impl_docking_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::DockingStore for $store {
        async fn create_docking(
            &self,
            docking: &$crate::domain::docking::Docking,
            event: &$crate::domain::docking::DockingEvent,
            respect_history: bool,
        ) -> StoreResult<Option<$crate::domain::docking::Docking>> {
            use $crate::storage::dockings::{DOCKING_INSERT, DockingRow, OPEN_DOCKING_OF_PAIR};
            let mut tx = self.begin_write().await?;
            let open: Option<DockingRow> = sqlx::query_as(OPEN_DOCKING_OF_PAIR)
            .bind(docking.need_id.clone())
            .bind(docking.achievement_id.clone())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(open) = open {
                return open.into_domain().map(Some);
            }
            if respect_history {
                let unchanged: Option<DockingRow> = sqlx::query_as(
                    "SELECT * FROM dockings WHERE need_id = $1 AND achievement_id = $2 \
                     AND need_fingerprint = $3 AND achievement_fingerprint = $4 ORDER BY created_at DESC LIMIT 1",
                )
                .bind(docking.need_id.clone())
                .bind(docking.achievement_id.clone())
                .bind(docking.need_fingerprint.clone())
                .bind(docking.achievement_fingerprint.clone())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(closed) = unchanged {
                    return closed.into_domain().map(Some);
                }
            }
            let d = docking;
            let inserted = sqlx::query(DOCKING_INSERT)
                .bind(d.id.clone())
                .bind(d.need_id.clone())
                .bind(d.achievement_id.clone())
                .bind(d.need_org_id.clone())
                .bind(d.achievement_org_id.clone())
                .bind(d.state.code())
                .bind(d.reason.map(|r| r.code()))
                .bind(d.source.code())
                .bind(d.score)
                .bind(d.explanation.to_string())
                .bind(d.matcher_version.clone())
                .bind(d.dictionary_version.clone())
                .bind(d.need_fingerprint.clone())
                .bind(d.achievement_fingerprint.clone())
                .bind(d.manager_id.clone())
                .bind(d.field.code())
                .bind(d.region.clone())
                .bind(d.was_introduced)
                .bind(d.need_interest)
                .bind(d.achievement_interest)
                .bind(d.created_by.clone())
                .bind(micros(d.created_at))
                .bind(micros(d.updated_at))
                .bind(d.version)
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                // Another instance created the open docking of this pair first.
                Err(e) if e.as_database_error().is_some_and(|db| db.is_unique_violation()) => {
                    drop(tx);
                    return Err(StoreError::UniqueViolation { constraint: "dockings_open_pair".into() });
                }
                Err(e) => return Err(e.into()),
            }
            $crate::storage::dockings::insert_event!(tx, event);
            tx.commit().await?;
            Ok(None)
        }

        async fn get_docking(&self, id: &str) -> StoreResult<Option<$crate::domain::docking::Docking>> {
            sqlx::query_as::<_, $crate::storage::dockings::DockingRow>("SELECT * FROM dockings WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.reader())
                .await?
                .map(|r| r.into_domain())
                .transpose()
        }

        async fn update_docking(
            &self,
            docking: &$crate::domain::docking::Docking,
            event: &$crate::domain::docking::DockingEvent,
        ) -> StoreResult<$crate::domain::docking::Docking> {
            let mut tx = self.begin_write().await?;
            let stored = $crate::storage::dockings::write_docking_update!(tx, docking, event);
            tx.commit().await?;
            Ok(stored)
        }

        async fn list_dockings(
            &self,
            q: &$crate::storage::dockings::DockingQuery,
        ) -> StoreResult<Page<$crate::domain::docking::Docking>> {
            let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT * FROM dockings d WHERE 1 = 1");
            if let Some(org) = &q.party_org {
                qb.push(" AND (d.need_org_id = ").push_bind(org.clone());
                qb.push(" OR d.achievement_org_id = ").push_bind(org.clone());
                qb.push(") AND d.state NOT IN ('suggested', 'rejected')");
            }
            if !q.states.is_empty() {
                qb.push(" AND d.state IN (");
                let mut list = qb.separated(", ");
                for state in &q.states {
                    list.push_bind(state.code());
                }
                qb.push(")");
            }
            if let Some(id) = &q.need_id {
                qb.push(" AND d.need_id = ").push_bind(id.clone());
            }
            if q.open_records_only {
                qb.push(
                    " AND EXISTS (SELECT 1 FROM needs n WHERE n.id = d.need_id AND n.status = 'open') \
                     AND EXISTS (SELECT 1 FROM achievements a WHERE a.id = d.achievement_id AND a.status = 'open')",
                );
            }
            if let Some(id) = &q.achievement_id {
                qb.push(" AND d.achievement_id = ").push_bind(id.clone());
            }
            if let Some(org) = &q.org_id {
                qb.push(" AND (d.need_org_id = ").push_bind(org.clone());
                qb.push(" OR d.achievement_org_id = ").push_bind(org.clone()).push(")");
            }
            if let Some(manager) = &q.manager_id {
                qb.push(" AND d.manager_id = ").push_bind(manager.clone());
            }
            if let Some(field) = q.field {
                qb.push(" AND d.field = ").push_bind(field.code());
            }
            if let Some(prefix) = &q.region_prefix {
                qb.push(" AND d.region LIKE ").push_bind(format!("{prefix}%"));
            }
            qb.push(if q.by_score {
                " ORDER BY d.score DESC, d.id"
            } else {
                " ORDER BY d.updated_at DESC, d.id DESC"
            });
            $crate::storage::dockings::finish_offset_page!(qb, q, $crate::storage::dockings::DockingRow, self.reader())
        }

        async fn docking_events(&self, docking_id: &str) -> StoreResult<Vec<$crate::domain::docking::DockingEvent>> {
            sqlx::query_as::<_, $crate::storage::dockings::EventRow>(
                "SELECT docking_id, at, actor_id, actor_role, kind, from_state, to_state, reason, note \
                 FROM docking_events WHERE docking_id = $1 ORDER BY seq",
            )
            .bind(docking_id.to_string())
            .fetch_all(self.reader())
            .await?
            .into_iter()
            .map(|r| r.into_domain())
            .collect()
        }

        async fn matcher_checkpoint(&self) -> StoreResult<i64> {
            let row: Option<(i64,)> = sqlx::query_as("SELECT seq FROM matcher_checkpoint WHERE name = 'suggest'")
                .fetch_optional(self.reader())
                .await?;
            Ok(row.map(|r| r.0).unwrap_or(0))
        }

        async fn set_matcher_checkpoint(&self, seq: i64) -> StoreResult<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO matcher_checkpoint (name, seq) VALUES ('suggest', $1) \
                 ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE matcher_checkpoint.seq < excluded.seq",
            )
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        }
    };
}

pub(crate) use {finish_offset_page, impl_docking_store, insert_event, stale_or_missing, write_docking_update};
