//! SQLite, the embedded default: one file, WAL journal, a busy timeout, and every write through a
//! single writer connection in `BEGIN IMMEDIATE` transactions (PITFALLS 19), so concurrent
//! writers queue instead of failing with "database is locked".

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::dialect::{Dialect, Fullness, Rows, Sql, WriteTx, arguments};
use super::sql::SqlStore;
use super::{Backend, DatabaseOptions, StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The store on SQLite.
pub type SqliteStore = SqlStore<SqliteDialect>;

pub struct SqliteDialect {
    reader: SqlitePool,
    writer: SqlitePool,
    full: Fullness,
}

impl SqliteDialect {
    pub async fn connect(options: &DatabaseOptions) -> StoreResult<SqliteDialect> {
        let connect = SqliteConnectOptions::from_str(&options.url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let connect = match options.sqlite_max_pages {
            0 => connect,
            pages => connect.pragma("max_page_count", pages.to_string()),
        };
        if let Some(dir) = connect.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let acquire = Duration::from_secs(options.acquire_timeout_secs);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire)
            .connect_with(connect.clone().pragma("cache_size", "-65536"))
            .await?;
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
        Ok(SqliteDialect { reader, writer, full: Fullness::default() })
    }
}

pub struct SqliteTx(Transaction<'static, Sqlite>, Fullness);

#[async_trait]
impl WriteTx for SqliteTx {
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64> {
        let args = arguments::<Sqlite>(sql.args)?;
        let result = sqlx::query_with(sqlx::AssertSqlSafe(positional(sql.text)), args).execute(&mut *self.0).await;
        self.1.observe(result.map(|r| r.rows_affected()).map_err(StoreError::from))
    }

    async fn fetch_optional<T: Rows>(&mut self, sql: Sql) -> StoreResult<Option<T>> {
        let args = arguments::<Sqlite>(sql.args)?;
        let result =
            sqlx::query_as_with(sqlx::AssertSqlSafe(positional(sql.text)), args).fetch_optional(&mut *self.0).await;
        self.1.observe(result.map_err(StoreError::from))
    }

    async fn fetch_all<T: Rows>(&mut self, sql: Sql) -> StoreResult<Vec<T>> {
        let args = arguments::<Sqlite>(sql.args)?;
        let result = sqlx::query_as_with(sqlx::AssertSqlSafe(positional(sql.text)), args).fetch_all(&mut *self.0).await;
        self.1.observe(result.map_err(StoreError::from))
    }

    /// Writes are serialised by the single writer connection: nothing to lock.
    async fn lock_change_log(&mut self) -> StoreResult<()> {
        Ok(())
    }

    async fn announce_changes(&mut self) -> StoreResult<()> {
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
impl Dialect for SqliteDialect {
    type Tx = SqliteTx;

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn month_of(&self, column: &str) -> String {
        format!("strftime('%Y-%m', ({column} / 1000000) + 28800, 'unixepoch')")
    }

    async fn begin(&self) -> StoreResult<SqliteTx> {
        match self.writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => Ok(SqliteTx(tx, self.full.clone())),
            // A COMMIT that failed for want of space can be rolled back by SQLite itself, while
            // sqlx still counts the transaction as open on the writer connection and refuses
            // every later BEGIN. That connection is closed and a fresh one takes its place.
            Err(sqlx::Error::InvalidSavePointStatement) => {
                tracing::warn!("the SQLite writer connection was left inside a failed transaction; replacing it");
                self.writer.acquire().await?.close().await?;
                Ok(SqliteTx(self.writer.begin_with("BEGIN IMMEDIATE").await?, self.full.clone()))
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn fetch_all<T: Rows>(&self, sql: Sql) -> StoreResult<Vec<T>> {
        let args = arguments::<Sqlite>(sql.args)?;
        Ok(sqlx::query_as_with(sqlx::AssertSqlSafe(positional(sql.text)), args).fetch_all(&self.reader).await?)
    }

    async fn fetch_optional<T: Rows>(&self, sql: Sql) -> StoreResult<Option<T>> {
        let args = arguments::<Sqlite>(sql.args)?;
        Ok(sqlx::query_as_with(sqlx::AssertSqlSafe(positional(sql.text)), args).fetch_optional(&self.reader).await?)
    }

    async fn backup_into(&self, path: &str) -> StoreResult<()> {
        // A read transaction on a reader connection: the writers go on meanwhile (WAL), and the
        // copy holds every transaction committed before it began.
        sqlx::query("VACUUM INTO ?").bind(path).execute(&self.reader).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.full.check()?;
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// One instance per SQLite database: its own writes wake its followers directly.
    async fn listen_changes(&self) -> StoreResult<Option<Box<dyn super::ChangeSignal>>> {
        Ok(None)
    }
}

/// The statement's text with `$1, $2, …` written `?` when each appears once and in order (as a
/// statement built row by row names them): SQLite binds a plain `?` by its position, but looks a
/// named one up among all the statement's names, and that look-up, once per argument, grows with
/// the square of a many-row insert's arguments. Any other text is left as it is.
fn positional(text: String) -> String {
    // A comment could hold an apostrophe that is not a quote.
    if text.contains("--") || text.contains("/*") {
        return text;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut next, mut written, mut quoted, mut i) = (1usize, 0usize, false, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if text[i + 1..i + 1 + digits].parse::<usize>().ok() != Some(next) {
                    return text;
                }
                out.push_str(&text[written..i]);
                out.push('?');
                next += 1;
                i += 1 + digits;
                written = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return text;
    }
    out.push_str(&text[written..]);
    out
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn numbered_placeholders_in_order_become_positional_and_others_stay() {
        let rows = "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)";
        assert_eq!(positional(rows.into()), "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)");
        let quoted = "SELECT '$9 元', a FROM t WHERE b = $1 AND c = $2";
        assert_eq!(positional(quoted.into()), "SELECT '$9 元', a FROM t WHERE b = ? AND c = ?");
        for kept in [
            "SELECT * FROM t WHERE a = $1 OR b = $1",
            "SELECT $2, $1",
            "SELECT $1, $3",
            "SELECT $x",
            "SELECT a FROM t WHERE b = $1 -- isn't $2\n AND c = $2",
            "SELECT 'unclosed, $1",
        ] {
            assert_eq!(positional(kept.into()), kept, "{kept}");
        }
        assert_eq!(positional("VACUUM INTO ?".into()), "VACUUM INTO ?");
    }
}
