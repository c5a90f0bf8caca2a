//! PostgreSQL, for production and for several service instances sharing one database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::rows::*;
use super::sql::*;
use super::{Backend, Change, DatabaseOptions, ListQuery, Page, StoreError, StoreResult, TokenLookup};
use crate::domain::achievement::Achievement;
use crate::domain::dictionary::{DictionaryTerm, SynonymGroup};
use crate::domain::need::Need;
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::record::Library;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(options: &DatabaseOptions) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(options.acquire_timeout_secs))
            .connect(&options.url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Serialises writers from the moment they draw a change-log sequence number until they
    /// commit, so sequence numbers become visible in order (see the migration).
    async fn lock_change_log(&self, tx: &mut Transaction<'static, Postgres>) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(727165)").execute(&mut **tx).await?;
        Ok(())
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }
}

impl_store!(PgStore, Postgres, Backend::Postgres);
super::dockings::impl_docking_store!(PgStore, Postgres);
super::transfers::impl_transfer_store!(PgStore, Postgres, month_of);

/// The market-calendar month (UTC+8) of a microsecond timestamp column, as `YYYY-MM`.
fn month_of(column: &str) -> String {
    format!("to_char(to_timestamp(({column} / 1000000) + 28800) AT TIME ZONE 'UTC', 'YYYY-MM')")
}
