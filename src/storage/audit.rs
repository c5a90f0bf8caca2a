//! The audit log's part of the store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Sql, WriteTx};
use super::rows::{AuditRow, IntoDomain, json_list, micros};
use super::sql::{SqlStore, SqlTx};
use super::{AuditStore, AuditWrites, Page, StoreResult};
use crate::domain::audit::{AuditEntry, AuditQuery};

#[async_trait]
impl<D: Dialect> AuditStore for SqlStore<D> {
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Page<AuditEntry>> {
        let mut sql = Sql::new("SELECT * FROM audit_log WHERE 1 = 1");
        if let Some(actor) = &q.actor {
            sql.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(record) = &q.record {
            // Ids are plain [0-9a-f-] text: the quoted id inside the JSON list.
            sql.push(" AND records LIKE ").push_bind(format!("%\"{record}\"%"));
        }
        if let Some(from) = q.from {
            sql.push(" AND at >= ").push_bind(micros(from));
        }
        if let Some(to) = q.to {
            sql.push(" AND at < ").push_bind(micros(to));
        }
        if let Some(outcome) = q.outcome {
            sql.push(" AND outcome = ").push_bind(outcome.code());
        }
        if let Some(before) = q.before {
            sql.push(" AND seq < ").push_bind(before);
        }
        let limit = q.limit.max(1) as usize;
        sql.push(" ORDER BY seq DESC LIMIT ").push_bind(limit as i64 + 1);
        let rows: Vec<AuditRow> = self.db.fetch_all(sql).await?;
        let mut items = rows.into_iter().map(AuditRow::into_domain).collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|e| e.seq.to_string()).unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl<T: WriteTx + 'static> AuditWrites for SqlTx<T> {
    async fn insert_audit(&mut self, e: &AuditEntry) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO audit_log (at, actor, actor_org, credential, operation, records, outcome, detail, client, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(micros(e.at))
        .bind(&e.actor)
        .bind(&e.actor_org)
        .bind(&e.credential)
        .bind(&e.operation)
        .bind(json_list(&e.records))
        .bind(e.outcome.code())
        .bind(&e.detail)
        .bind(&e.client)
        .bind(&e.request_id);
        self.0.execute(sql).await.map(|_| ())
    }

    async fn prune_audit(&mut self, audit_before: DateTime<Utc>, failures_before: DateTime<Utc>) -> StoreResult<u64> {
        self.0.execute(Sql::new("DELETE FROM sign_in_failures WHERE at < $1").bind(micros(failures_before))).await?;
        self.0.execute(Sql::new("DELETE FROM audit_log WHERE at < $1").bind(micros(audit_before))).await
    }
}
