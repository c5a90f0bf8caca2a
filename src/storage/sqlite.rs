//! SQLite, the embedded default: one file, WAL journal, a busy timeout, and every write through a
//! single writer connection in `BEGIN IMMEDIATE` transactions (PITFALLS 19), so concurrent
//! writers queue instead of failing with "database is locked".

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::rows::*;
use super::sql::*;
use super::{Backend, Change, DatabaseOptions, ListQuery, Page, StoreError, StoreResult, TokenLookup};
use crate::domain::achievement::Achievement;
use crate::domain::dictionary::{DictionaryTerm, SynonymGroup};
use crate::domain::need::Need;
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::record::Library;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(options: &DatabaseOptions) -> StoreResult<SqliteStore> {
        let connect = SqliteConnectOptions::from_str(&options.url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let acquire = Duration::from_secs(options.acquire_timeout_secs);
        let writer =
            SqlitePoolOptions::new().max_connections(1).acquire_timeout(acquire).connect_with(connect.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let in_memory = options.url.contains(":memory:") || options.url.contains("mode=memory");
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(acquire)
                .connect_with(connect.read_only(true))
                .await?
        };
        Ok(SqliteStore { reader, writer })
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// Writes are serialised by the single writer connection: nothing to lock.
    async fn lock_change_log(&self, _tx: &mut Transaction<'static, Sqlite>) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn close_pools(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

impl_store!(SqliteStore, Sqlite, Backend::Sqlite);
super::dockings::impl_docking_store!(SqliteStore, Sqlite);
super::transfers::impl_transfer_store!(SqliteStore, Sqlite, month_of);

/// The market-calendar month (UTC+8) of a microsecond timestamp column, as `YYYY-MM`.
fn month_of(column: &str) -> String {
    format!("strftime('%Y-%m', ({column} / 1000000) + 28800, 'unixepoch')")
}
