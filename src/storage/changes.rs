//! The change log part of the store: what the followers read, and the suggester's checkpoint.

use async_trait::async_trait;

use super::dialect::{Dialect, Sql};
use super::rows::ChangeRow;
use super::sql::{SqlStore, all};
use super::{Change, ChangeLog, StoreResult};

#[async_trait]
impl<D: Dialect> ChangeLog for SqlStore<D> {
    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Change>> {
        let sql = Sql::new("SELECT seq, library, record_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq)
            .bind(i64::from(limit));
        all::<D, ChangeRow>(&self.db, sql).await
    }

    async fn last_change_seq(&self) -> StoreResult<i64> {
        let row: Option<(Option<i64>,)> = self.db.fetch_optional(Sql::new("SELECT MAX(seq) FROM changes")).await?;
        Ok(row.and_then(|r| r.0).unwrap_or(0))
    }

    async fn database_id(&self) -> StoreResult<String> {
        let row: Option<(String,)> =
            self.db.fetch_optional(Sql::new("SELECT id FROM database_identity ORDER BY created_at LIMIT 1")).await?;
        row.map(|r| r.0).ok_or(super::StoreError::NotFound)
    }

    async fn matcher_checkpoint(&self) -> StoreResult<i64> {
        let row: Option<(i64,)> =
            self.db.fetch_optional(Sql::new("SELECT seq FROM matcher_checkpoint WHERE name = 'suggest'")).await?;
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    async fn set_matcher_checkpoint(&self, seq: i64) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO matcher_checkpoint (name, seq) VALUES ('suggest', $1) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE matcher_checkpoint.seq < excluded.seq",
        )
        .bind(seq);
        self.write(sql).await.map(|_| ())
    }
}
