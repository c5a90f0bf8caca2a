//! The transfer library's part of the store, and the statistics queries. Signing writes the
//! docking's new state, its event and the transfer in one unit of work. The backend supplies only
//! how it names the month of a stored timestamp.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::dialect::{Dialect, Sql, Value, WriteTx};
use super::rows::{IntoDomain, code, from_micros, micros};
use super::sql::{SqlStore, SqlTx, all, offset_page, one, stale_or_missing};
use super::{ChangeKind, Page, StoreError, StoreResult, TransferStore, TransferWrites};
use crate::domain::stats::{Dimension, DockingFacts, StatsFilter, StatsLibrary};
use crate::domain::transfer::{Milestone, Outcomes, Transfer, TransferContent};
use crate::domain::validate::Wan;

pub const TRANSFER_INSERT: &str = "INSERT INTO transfers (id, docking_id, need_id, achievement_id, need_org_id, \
    achievement_org_id, manager_id, field, contract_type, amount, signed_on, registration_number, landing_enterprise, \
    landing_region, milestones, outcomes, landed_on, created_by, created_at, updated_at, version) VALUES ($1, $2, $3, \
    $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";

pub const TRANSFER_UPDATE: &str = "UPDATE transfers SET contract_type = $1, amount = $2, signed_on = $3, \
    registration_number = $4, landing_enterprise = $5, landing_region = $6, milestones = $7, outcomes = $8, \
    landed_on = $9, updated_at = $10, version = version + 1 WHERE id = $11 AND version = $12";

/// Filters and page of a transfer listing.
#[derive(Debug, Clone, Default)]
pub struct TransferQuery {
    /// A party's view: only transfers where it is one of the two sides.
    pub party_org: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    pub manager_id: Option<String>,
    pub docking_id: Option<String>,
    pub filter: StatsFilter,
    pub offset: u32,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
pub struct TransferRow {
    pub id: String,
    pub docking_id: String,
    pub need_id: String,
    pub achievement_id: String,
    pub need_org_id: String,
    pub achievement_org_id: String,
    pub manager_id: Option<String>,
    pub field: String,
    pub contract_type: String,
    pub amount: i64,
    pub signed_on: String,
    pub registration_number: Option<String>,
    pub landing_enterprise: String,
    pub landing_region: String,
    pub milestones: String,
    pub outcomes: String,
    pub landed_on: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

pub fn date(text: &str) -> StoreResult<NaiveDate> {
    text.parse().map_err(|e| StoreError::Corrupt(format!("date `{text}`: {e}")))
}

impl IntoDomain for TransferRow {
    type Domain = Transfer;

    fn into_domain(self) -> StoreResult<Transfer> {
        let milestones: Vec<Milestone> = serde_json::from_str(&self.milestones)
            .map_err(|e| StoreError::Corrupt(format!("transfer milestones: {e}")))?;
        let outcomes: Outcomes =
            serde_json::from_str(&self.outcomes).map_err(|e| StoreError::Corrupt(format!("transfer outcomes: {e}")))?;
        Ok(Transfer {
            field: code(&self.field)?,
            content: TransferContent {
                contract_type: code(&self.contract_type)?,
                amount: Wan::from_hundredths(self.amount),
                signed_on: date(&self.signed_on)?,
                registration_number: self.registration_number,
                landing_enterprise: self.landing_enterprise,
                landing_region: self.landing_region,
                milestones,
                outcomes,
            },
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
            id: self.id,
            docking_id: self.docking_id,
            need_id: self.need_id,
            achievement_id: self.achievement_id,
            need_org_id: self.need_org_id,
            achievement_org_id: self.achievement_org_id,
            manager_id: self.manager_id,
            created_by: self.created_by,
            version: self.version,
        })
    }
}

/// A transfer's contract, milestones, outcomes and landing date, in the column order the
/// insert and the update share (contract_type ... landed_on).
fn content_values(c: &TransferContent) -> Vec<Value> {
    vec![
        c.contract_type.code().into(),
        c.amount.hundredths().into(),
        c.signed_on.to_string().into(),
        c.registration_number.clone().into(),
        c.landing_enterprise.clone().into(),
        c.landing_region.clone().into(),
        serde_json::to_string(&c.milestones).expect("milestones serialise").into(),
        serde_json::to_string(&c.outcomes).expect("outcomes serialise").into(),
        c.landed_on().map(|d| d.to_string()).into(),
    ]
}

#[derive(sqlx::FromRow)]
pub struct DockingFactsRow {
    pub id: String,
    pub need_id: String,
    pub source: String,
    pub manager_id: Option<String>,
    pub need_created_at: i64,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    pub introduced_at: Option<i64>,
    pub signed_at: Option<i64>,
    pub landed_on: Option<String>,
    pub signed_on: Option<String>,
}

impl IntoDomain for DockingFactsRow {
    type Domain = DockingFacts;

    fn into_domain(self) -> StoreResult<DockingFacts> {
        Ok(DockingFacts {
            source: code(&self.source)?,
            landed_on: self.landed_on.as_deref().map(date).transpose()?,
            signed_on: self.signed_on.as_deref().map(date).transpose()?,
            id: self.id,
            need_id: self.need_id,
            manager_id: self.manager_id,
            need_created_at: self.need_created_at,
            created_at: self.created_at,
            accepted_at: self.accepted_at,
            introduced_at: self.introduced_at,
            signed_at: self.signed_at,
        })
    }
}

/// Every docking (of the filter's field and region) with the first moment it reached each stage.
pub const DOCKING_FACTS: &str = "SELECT d.id, d.need_id, d.source, d.manager_id, n.created_at AS need_created_at, d.created_at, \
    MIN(CASE WHEN e.to_state = 'accepted' THEN e.at END) AS accepted_at, \
    MIN(CASE WHEN e.to_state = 'introduced' THEN e.at END) AS introduced_at, \
    MIN(CASE WHEN e.to_state = 'signed' THEN e.at END) AS signed_at, \
    t.landed_on, t.signed_on \
    FROM dockings d JOIN needs n ON n.id = d.need_id \
    LEFT JOIN docking_events e ON e.docking_id = d.id \
    LEFT JOIN transfers t ON t.docking_id = d.id WHERE 1 = 1";

pub const DOCKING_FACTS_GROUP: &str =
    " GROUP BY d.id, d.need_id, d.source, d.manager_id, n.created_at, d.created_at, t.landed_on, t.signed_on";

/// Pushes the period, field and region conditions of a statistics query. `at` is the column
/// holding the moment (microseconds) that falls in the period.
fn push_stats_filter(sql: &mut Sql, f: &StatsFilter, at: &str, field: &str, region: &str) {
    let (from, to) = f.micros_range();
    if let Some(from) = from {
        sql.push(&format!(" AND {at} >= ")).push_bind(from);
    }
    if let Some(to) = to {
        sql.push(&format!(" AND {at} < ")).push_bind(to);
    }
    push_field_and_region(sql, f, field, region);
}

/// `push_stats_filter` for a column holding an ISO date (`YYYY-MM-DD`).
fn push_stats_filter_on_date(sql: &mut Sql, f: &StatsFilter, on: &str, field: &str, region: &str) {
    if let Some(from) = f.from {
        sql.push(&format!(" AND {on} >= ")).push_bind(from.to_string());
    }
    if let Some(to) = f.to {
        sql.push(&format!(" AND {on} <= ")).push_bind(to.to_string());
    }
    push_field_and_region(sql, f, field, region);
}

fn push_field_and_region(sql: &mut Sql, f: &StatsFilter, field: &str, region: &str) {
    if let Some(code) = f.field {
        sql.push(&format!(" AND {field} = ")).push_bind(code.code());
    }
    if let Some(prefix) = &f.region_prefix {
        sql.push(&format!(" AND {region} LIKE ")).push_bind(format!("{prefix}%"));
    }
}

#[async_trait]
impl<D: Dialect> TransferStore for SqlStore<D> {
    async fn get_transfer(&self, id: &str) -> StoreResult<Option<Transfer>> {
        one::<D, TransferRow>(&self.db, Sql::new("SELECT * FROM transfers WHERE id = $1").bind(id)).await
    }

    async fn list_transfers(&self, q: &TransferQuery) -> StoreResult<Page<Transfer>> {
        let mut sql = Sql::new("SELECT * FROM transfers t WHERE 1 = 1");
        for org in [&q.party_org, &q.org_id].into_iter().flatten() {
            sql.push(" AND (t.need_org_id = ").push_bind(org.clone());
            sql.push(" OR t.achievement_org_id = ").push_bind(org.clone()).push(")");
        }
        if let Some(manager) = &q.manager_id {
            sql.push(" AND t.manager_id = ").push_bind(manager.clone());
        }
        if let Some(docking) = &q.docking_id {
            sql.push(" AND t.docking_id = ").push_bind(docking.clone());
        }
        push_stats_filter_on_date(&mut sql, &q.filter, "t.signed_on", "t.field", "t.landing_region");
        sql.push(" ORDER BY t.signed_on DESC, t.id DESC");
        offset_page::<D, TransferRow>(&self.db, sql, q.offset, q.limit).await
    }

    async fn count_records(
        &self,
        library: StatsLibrary,
        by: Option<Dimension>,
        filter: &StatsFilter,
    ) -> StoreResult<Vec<(String, i64)>> {
        // (table, time column, field column, region column, organisation columns)
        let (table, at, field, region, orgs): (&str, &str, &str, &str, &[&str]) = match library {
            StatsLibrary::Needs => ("needs", "r.created_at", "r.field", "r.region", &["r.org_id"]),
            StatsLibrary::Achievements => ("achievements", "r.created_at", "r.field", "r.region", &["r.org_id"]),
            StatsLibrary::Dockings => {
                ("dockings", "r.created_at", "r.field", "r.region", &["r.need_org_id", "r.achievement_org_id"])
            }
            StatsLibrary::Transfers => {
                ("transfers", "r.signed_on", "r.field", "r.landing_region", &["r.need_org_id", "r.achievement_org_id"])
            }
        };
        let key = |org: &str| -> String {
            match by {
                None => "'all'".to_string(),
                Some(Dimension::Field) => field.to_string(),
                Some(Dimension::Region) => region.to_string(),
                Some(Dimension::Organisation) => org.to_string(),
                Some(Dimension::Month) if library == StatsLibrary::Transfers => format!("SUBSTR({at}, 1, 7)"),
                Some(Dimension::Month) => self.db.month_of(at),
            }
        };
        // A docking or transfer counts once for each of its two organisations.
        let sides: &[&str] = if by == Some(Dimension::Organisation) { orgs } else { &orgs[..1] };
        let mut sql = Sql::new("SELECT k, COUNT(*) AS n FROM (");
        for (i, org) in sides.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!("SELECT {} AS k FROM {table} r WHERE 1 = 1", key(org)));
            if matches!(library, StatsLibrary::Needs | StatsLibrary::Achievements) {
                // Private records are their owner's alone, also in the figures.
                sql.push(" AND r.visibility <> 'private'");
                if filter.expired_only {
                    sql.push(" AND r.status = 'expired'");
                }
            }
            if library == StatsLibrary::Transfers {
                push_stats_filter_on_date(&mut sql, filter, at, field, region);
            } else {
                push_stats_filter(&mut sql, filter, at, field, region);
            }
        }
        sql.push(") x GROUP BY k ORDER BY k");
        self.db.fetch_all(sql).await
    }

    async fn docking_facts(&self, filter: &StatsFilter) -> StoreResult<Vec<DockingFacts>> {
        let mut sql = Sql::new(DOCKING_FACTS);
        let all_time = StatsFilter { from: None, to: None, ..filter.clone() };
        push_stats_filter(&mut sql, &all_time, "d.created_at", "d.field", "d.region");
        sql.push(DOCKING_FACTS_GROUP);
        all::<D, DockingFactsRow>(&self.db, sql).await
    }

    async fn manager_events(&self, filter: &StatsFilter) -> StoreResult<Vec<(String, i64, i64)>> {
        let mut sql = Sql::new(
            "SELECT e.actor_id, COUNT(*) AS actions, COUNT(DISTINCT e.docking_id) AS dockings \
             FROM docking_events e JOIN dockings d ON d.id = e.docking_id \
             WHERE e.actor_id IS NOT NULL AND e.actor_role IN ('manager', 'admin')",
        );
        push_stats_filter(&mut sql, filter, "e.at", "d.field", "d.region");
        sql.push(" GROUP BY e.actor_id");
        self.db.fetch_all(sql).await
    }
}

#[async_trait]
impl<T: WriteTx + 'static> TransferWrites for SqlTx<T> {
    async fn insert_transfer(&mut self, t: &Transfer) -> StoreResult<()> {
        self.log(ChangeKind::Transfer, &t.id, t.created_at);
        let mut args: Vec<Value> = vec![
            t.id.clone().into(),
            t.docking_id.clone().into(),
            t.need_id.clone().into(),
            t.achievement_id.clone().into(),
            t.need_org_id.clone().into(),
            t.achievement_org_id.clone().into(),
            t.manager_id.clone().into(),
            t.field.code().into(),
        ];
        args.extend(content_values(&t.content));
        args.extend([
            t.created_by.clone().into(),
            micros(t.created_at).into(),
            micros(t.updated_at).into(),
            t.version.into(),
        ]);
        self.0.execute(Sql { text: TRANSFER_INSERT.to_string(), args }).await.map(|_| ())
    }

    async fn update_transfer(&mut self, t: &Transfer, at: DateTime<Utc>) -> StoreResult<Transfer> {
        let mut args = content_values(&t.content);
        args.extend([micros(at).into(), t.id.clone().into(), t.version.into()]);
        if self.0.execute(Sql { text: TRANSFER_UPDATE.to_string(), args }).await? == 0 {
            return Err(stale_or_missing(&mut self.0, "transfers", &t.id).await?);
        }
        self.log(ChangeKind::Transfer, &t.id, at);
        let mut stored = t.clone();
        stored.version += 1;
        stored.updated_at = at;
        Ok(stored)
    }
}
