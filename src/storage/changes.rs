//! The feed of changes: what the followers read, in commit order, and each follower's checkpoint.

use async_trait::async_trait;

use super::dialect::{Dialect, Sql, WriteTx};
use super::rows::ChangeRow;
use super::sql::{SqlStore, SqlTx, all};
use super::{Change, ChangeLog, FeedWrites, StoreResult};

#[async_trait]
impl<D: Dialect> ChangeLog for SqlStore<D> {
    async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Change>> {
        let sql = Sql::new("SELECT seq, kind, record_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
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

    async fn checkpoint(&self, follower: &str) -> StoreResult<i64> {
        let row: Option<(i64,)> =
            self.db.fetch_optional(Sql::new("SELECT seq FROM checkpoints WHERE name = $1").bind(follower)).await?;
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    async fn listen_changes(&self) -> StoreResult<Option<Box<dyn super::ChangeSignal>>> {
        self.db.listen_changes().await
    }
}

#[async_trait]
impl<T: WriteTx + 'static> FeedWrites for SqlTx<T> {
    async fn set_checkpoint(&mut self, follower: &str, seq: i64) -> StoreResult<bool> {
        let sql = Sql::new(
            "INSERT INTO checkpoints (name, seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE checkpoints.seq < excluded.seq",
        )
        .bind(follower)
        .bind(seq);
        Ok(self.0.execute(sql).await? > 0)
    }
}
