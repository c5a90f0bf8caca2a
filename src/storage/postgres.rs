//! PostgreSQL, for production and for several service instances sharing one database.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::dialect::{Dialect, Fullness, Rows, Sql, WriteTx, arguments};
use super::sql::SqlStore;
use super::{Backend, DatabaseOptions, StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The store on PostgreSQL.
pub type PgStore = SqlStore<PgDialect>;

pub struct PgDialect {
    pool: PgPool,
    full: Fullness,
}

impl PgDialect {
    pub async fn connect(options: &DatabaseOptions) -> StoreResult<PgDialect> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(options.acquire_timeout_secs))
            .connect(&options.url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgDialect { pool, full: Fullness::default() })
    }
}

pub struct PgTx(Transaction<'static, Postgres>, Fullness);

/// The channel a commit that appended to the feed notifies.
const CHANGES_CHANNEL: &str = "techmarket_changes";

/// Commits to the feed, heard through LISTEN.
struct PgChangeSignal(PgListener);

#[async_trait]
impl super::ChangeSignal for PgChangeSignal {
    async fn next(&mut self) -> StoreResult<()> {
        self.0.recv().await?;
        Ok(())
    }
}

#[async_trait]
impl WriteTx for PgTx {
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64> {
        let args = arguments::<Postgres>(sql.args)?;
        let result = sqlx::query_with(sqlx::AssertSqlSafe(sql.text), args).execute(&mut *self.0).await;
        self.1.observe(result.map(|r| r.rows_affected()).map_err(StoreError::from))
    }

    async fn fetch_optional<T: Rows>(&mut self, sql: Sql) -> StoreResult<Option<T>> {
        let args = arguments::<Postgres>(sql.args)?;
        let result = sqlx::query_as_with(sqlx::AssertSqlSafe(sql.text), args).fetch_optional(&mut *self.0).await;
        self.1.observe(result.map_err(StoreError::from))
    }

    async fn fetch_all<T: Rows>(&mut self, sql: Sql) -> StoreResult<Vec<T>> {
        let args = arguments::<Postgres>(sql.args)?;
        let result = sqlx::query_as_with(sqlx::AssertSqlSafe(sql.text), args).fetch_all(&mut *self.0).await;
        self.1.observe(result.map_err(StoreError::from))
    }

    /// An advisory lock held to the end of the transaction (see the change-log migration),
    /// taken when the transaction appends its changes, just before it commits.
    async fn lock_change_log(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(727165)").execute(&mut *self.0).await?;
        Ok(())
    }

    /// Delivered to every listener when the transaction commits (and not at all if it rolls
    /// back); several in one transaction are delivered once.
    async fn announce_changes(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, '')").bind(CHANGES_CHANNEL).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn commit(self) -> StoreResult<()> {
        let full = self.1.clone();
        full.observe(self.0.commit().await.map_err(StoreError::from))?;
        full.cleared();
        Ok(())
    }
}

#[async_trait]
impl Dialect for PgDialect {
    type Tx = PgTx;

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn month_of(&self, column: &str) -> String {
        format!("to_char(to_timestamp(({column} / 1000000) + 28800) AT TIME ZONE 'UTC', 'YYYY-MM')")
    }

    async fn begin(&self) -> StoreResult<PgTx> {
        Ok(PgTx(self.pool.begin().await?, self.full.clone()))
    }

    async fn fetch_all<T: Rows>(&self, sql: Sql) -> StoreResult<Vec<T>> {
        let args = arguments::<Postgres>(sql.args)?;
        Ok(sqlx::query_as_with(sqlx::AssertSqlSafe(sql.text), args).fetch_all(&self.pool).await?)
    }

    async fn fetch_optional<T: Rows>(&self, sql: Sql) -> StoreResult<Option<T>> {
        let args = arguments::<Postgres>(sql.args)?;
        Ok(sqlx::query_as_with(sqlx::AssertSqlSafe(sql.text), args).fetch_optional(&self.pool).await?)
    }

    async fn backup_into(&self, _path: &str) -> StoreResult<()> {
        Err(StoreError::UnsupportedUrl(
            "a PostgreSQL database is backed up with pg_dump and restored with pg_restore (README, \"Backup and restore\")"
                .into(),
        ))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.full.check()?;
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    /// LISTEN on a connection of its own (a pool of one outside the service's pool, which
    /// reconnects after a loss; notifications sent meanwhile are lost, and polling covers them).
    async fn listen_changes(&self) -> StoreResult<Option<Box<dyn super::ChangeSignal>>> {
        let options = self.pool.connect_options().as_ref().clone();
        let own =
            PgPoolOptions::new().max_connections(1).max_lifetime(None).idle_timeout(None).connect_with(options).await?;
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(Some(Box::new(PgChangeSignal(listener))))
    }
}
