//! The transfer library's rows and SQL, and the statistics queries, shared by both backends like
//! `sql.rs`. Each backend supplies only how it names the month of a stored timestamp.

use chrono::NaiveDate;

use super::rows::{code, from_micros};
use super::{StoreError, StoreResult};
use crate::domain::stats::{DockingFacts, StatsFilter};
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

impl TransferRow {
    pub fn into_domain(self) -> StoreResult<Transfer> {
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

/// Binds a transfer's contract, milestones, outcomes and landing date, in the column order the
/// insert and the update share (contract_type ... landed_on).
macro_rules! bind_transfer_content {
    ($query:expr, $content:expr) => {{
        let c: &$crate::domain::transfer::TransferContent = $content;
        $query
            .bind(c.contract_type.code())
            .bind(c.amount.hundredths())
            .bind(c.signed_on.to_string())
            .bind(c.registration_number.clone())
            .bind(c.landing_enterprise.clone())
            .bind(c.landing_region.clone())
            .bind(serde_json::to_string(&c.milestones).expect("milestones serialise"))
            .bind(serde_json::to_string(&c.outcomes).expect("outcomes serialise"))
            .bind(c.landed_on().map(|d| d.to_string()))
    }};
}

#[derive(sqlx::FromRow)]
pub struct DockingFactsRow {
    pub id: String,
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

impl DockingFactsRow {
    pub fn into_domain(self) -> StoreResult<DockingFacts> {
        Ok(DockingFacts {
            source: code(&self.source)?,
            landed_on: self.landed_on.as_deref().map(date).transpose()?,
            signed_on: self.signed_on.as_deref().map(date).transpose()?,
            id: self.id,
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
pub const DOCKING_FACTS: &str = "SELECT d.id, d.source, d.manager_id, n.created_at AS need_created_at, d.created_at, \
    MIN(CASE WHEN e.to_state = 'accepted' THEN e.at END) AS accepted_at, \
    MIN(CASE WHEN e.to_state = 'introduced' THEN e.at END) AS introduced_at, \
    MIN(CASE WHEN e.to_state = 'signed' THEN e.at END) AS signed_at, \
    t.landed_on, t.signed_on \
    FROM dockings d JOIN needs n ON n.id = d.need_id \
    LEFT JOIN docking_events e ON e.docking_id = d.id \
    LEFT JOIN transfers t ON t.docking_id = d.id WHERE 1 = 1";

pub const DOCKING_FACTS_GROUP: &str =
    " GROUP BY d.id, d.source, d.manager_id, n.created_at, d.created_at, t.landed_on, t.signed_on";

/// Pushes the period, field and region conditions of a statistics query. `$at` is the column
/// holding the moment (microseconds) or, with `date`, the ISO date text that falls in the period.
macro_rules! push_stats_filter {
    ($qb:expr, $filter:expr, $at:expr, $field:expr, $region:expr) => {{
        let f = $filter;
        let (from, to) = f.micros_range();
        if let Some(from) = from {
            $qb.push(format!(" AND {} >= ", $at)).push_bind(from);
        }
        if let Some(to) = to {
            $qb.push(format!(" AND {} < ", $at)).push_bind(to);
        }
        $crate::storage::transfers::push_stats_filter!(@rest $qb, f, $field, $region);
    }};
    (date $qb:expr, $filter:expr, $on:expr, $field:expr, $region:expr) => {{
        let f = $filter;
        if let Some(from) = f.from {
            $qb.push(format!(" AND {} >= ", $on)).push_bind(from.to_string());
        }
        if let Some(to) = f.to {
            $qb.push(format!(" AND {} <= ", $on)).push_bind(to.to_string());
        }
        $crate::storage::transfers::push_stats_filter!(@rest $qb, f, $field, $region);
    }};
    (@rest $qb:expr, $f:expr, $field:expr, $region:expr) => {{
        if let Some(field) = $f.field {
            $qb.push(format!(" AND {} = ", $field)).push_bind(field.code());
        }
        if let Some(prefix) = &$f.region_prefix {
            $qb.push(format!(" AND {} LIKE ", $region)).push_bind(format!("{prefix}%"));
        }
    }};
}

/// The `TransferStore` implementation, written once for both backends; `$month` names the
/// market-calendar month (`YYYY-MM`) of a microsecond timestamp column.
macro_rules! impl_transfer_store {
    ($store:ty, $db:ty, $month:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::TransferStore for $store {
            async fn sign_docking(
                &self,
                docking: &$crate::domain::docking::Docking,
                event: &$crate::domain::docking::DockingEvent,
                transfer: &$crate::domain::transfer::Transfer,
            ) -> StoreResult<$crate::domain::docking::Docking> {
                let mut tx = self.begin_write().await?;
                let stored = $crate::storage::dockings::write_docking_update!(tx, docking, event);
                let t = transfer;
                let insert = sqlx::query($crate::storage::transfers::TRANSFER_INSERT)
                    .bind(t.id.clone())
                    .bind(t.docking_id.clone())
                    .bind(t.need_id.clone())
                    .bind(t.achievement_id.clone())
                    .bind(t.need_org_id.clone())
                    .bind(t.achievement_org_id.clone())
                    .bind(t.manager_id.clone())
                    .bind(t.field.code());
                $crate::storage::transfers::bind_transfer_content!(insert, &t.content)
                    .bind(t.created_by.clone())
                    .bind(micros(t.created_at))
                    .bind(micros(t.updated_at))
                    .bind(t.version)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn get_transfer(&self, id: &str) -> StoreResult<Option<$crate::domain::transfer::Transfer>> {
                sqlx::query_as::<_, $crate::storage::transfers::TransferRow>("SELECT * FROM transfers WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.into_domain())
                    .transpose()
            }

            async fn update_transfer(
                &self,
                transfer: &$crate::domain::transfer::Transfer,
                at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<$crate::domain::transfer::Transfer> {
                let t = transfer;
                let mut tx = self.begin_write().await?;
                let updated = $crate::storage::transfers::bind_transfer_content!(
                    sqlx::query($crate::storage::transfers::TRANSFER_UPDATE),
                    &t.content
                )
                .bind(micros(at))
                    .bind(t.id.clone())
                    .bind(t.version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err($crate::storage::dockings::stale_or_missing!(tx, "transfers", t.id));
                }
                tx.commit().await?;
                let mut stored = t.clone();
                stored.version += 1;
                stored.updated_at = at;
                Ok(stored)
            }

            async fn list_transfers(
                &self,
                q: &$crate::storage::transfers::TransferQuery,
            ) -> StoreResult<Page<$crate::domain::transfer::Transfer>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT * FROM transfers t WHERE 1 = 1");
                if let Some(org) = &q.party_org {
                    qb.push(" AND (t.need_org_id = ").push_bind(org.clone());
                    qb.push(" OR t.achievement_org_id = ").push_bind(org.clone()).push(")");
                }
                if let Some(org) = &q.org_id {
                    qb.push(" AND (t.need_org_id = ").push_bind(org.clone());
                    qb.push(" OR t.achievement_org_id = ").push_bind(org.clone()).push(")");
                }
                if let Some(manager) = &q.manager_id {
                    qb.push(" AND t.manager_id = ").push_bind(manager.clone());
                }
                if let Some(docking) = &q.docking_id {
                    qb.push(" AND t.docking_id = ").push_bind(docking.clone());
                }
                $crate::storage::transfers::push_stats_filter!(date qb, &q.filter, "t.signed_on", "t.field", "t.landing_region");
                qb.push(" ORDER BY t.signed_on DESC, t.id DESC");
                $crate::storage::dockings::finish_offset_page!(
                    qb,
                    q,
                    $crate::storage::transfers::TransferRow,
                    self.reader()
                )
            }

            async fn count_records(
                &self,
                library: $crate::domain::stats::StatsLibrary,
                by: Option<$crate::domain::stats::Dimension>,
                filter: &$crate::domain::stats::StatsFilter,
            ) -> StoreResult<Vec<(String, i64)>> {
                use $crate::domain::stats::{Dimension, StatsLibrary};
                let month: fn(&str) -> String = $month;
                // (table, time column, field column, region column, organisation columns)
                let (table, at, field, region, orgs): (&str, String, &str, &str, &[&str]) = match library {
                    StatsLibrary::Needs => ("needs", "r.created_at".into(), "r.field", "r.region", &["r.org_id"]),
                    StatsLibrary::Achievements => {
                        ("achievements", "r.created_at".into(), "r.field", "r.region", &["r.org_id"])
                    }
                    StatsLibrary::Dockings => (
                        "dockings",
                        "r.created_at".into(),
                        "r.field",
                        "r.region",
                        &["r.need_org_id", "r.achievement_org_id"],
                    ),
                    StatsLibrary::Transfers => (
                        "transfers",
                        "r.signed_on".into(),
                        "r.field",
                        "r.landing_region",
                        &["r.need_org_id", "r.achievement_org_id"],
                    ),
                };
                let key = |org: &str| -> String {
                    match by {
                        None => "'all'".to_string(),
                        Some(Dimension::Field) => field.to_string(),
                        Some(Dimension::Region) => region.to_string(),
                        Some(Dimension::Organisation) => org.to_string(),
                        Some(Dimension::Month) if library == StatsLibrary::Transfers => format!("SUBSTR({at}, 1, 7)"),
                        Some(Dimension::Month) => month(&at),
                    }
                };
                // A docking or transfer counts once for each of its two organisations.
                let sides: &[&str] = if by == Some(Dimension::Organisation) { orgs } else { &orgs[..1] };
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT k, COUNT(*) AS n FROM (");
                for (i, org) in sides.iter().enumerate() {
                    if i > 0 {
                        qb.push(" UNION ALL ");
                    }
                    qb.push(format!("SELECT {} AS k FROM {table} r WHERE 1 = 1", key(org)));
                    if matches!(library, StatsLibrary::Needs | StatsLibrary::Achievements) {
                        // Private records are their owner's alone, also in the figures.
                        qb.push(" AND r.visibility <> 'private'");
                    }
                    if library == StatsLibrary::Transfers {
                        $crate::storage::transfers::push_stats_filter!(date qb, filter, at, field, region);
                    } else {
                        $crate::storage::transfers::push_stats_filter!(qb, filter, at, field, region);
                    }
                }
                qb.push(") x GROUP BY k ORDER BY k");
                let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows)
            }

            async fn docking_facts(
                &self,
                filter: &$crate::domain::stats::StatsFilter,
            ) -> StoreResult<Vec<$crate::domain::stats::DockingFacts>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new($crate::storage::transfers::DOCKING_FACTS);
                let all_time = $crate::domain::stats::StatsFilter { from: None, to: None, ..filter.clone() };
                $crate::storage::transfers::push_stats_filter!(qb, &all_time, "d.created_at", "d.field", "d.region");
                qb.push($crate::storage::transfers::DOCKING_FACTS_GROUP);
                let rows: Vec<$crate::storage::transfers::DockingFactsRow> =
                    qb.build_query_as().fetch_all(self.reader()).await?;
                rows.into_iter().map(|r| r.into_domain()).collect()
            }

            async fn manager_events(
                &self,
                filter: &$crate::domain::stats::StatsFilter,
            ) -> StoreResult<Vec<(String, i64, i64)>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT e.actor_id, COUNT(*) AS actions, COUNT(DISTINCT e.docking_id) AS dockings \
                     FROM docking_events e JOIN dockings d ON d.id = e.docking_id \
                     WHERE e.actor_id IS NOT NULL AND e.actor_role IN ('manager', 'admin')",
                );
                $crate::storage::transfers::push_stats_filter!(qb, filter, "e.at", "d.field", "d.region");
                qb.push(" GROUP BY e.actor_id");
                let rows: Vec<(String, i64, i64)> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows)
            }
        }
    };
}

pub(crate) use {bind_transfer_content, impl_transfer_store, push_stats_filter};
