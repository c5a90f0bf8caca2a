//! What differs between the backends, behind one small trait: how a statement's arguments are
//! bound and its rows read, how a write transaction begins (SQLite: `BEGIN IMMEDIATE` on its one
//! writer connection; PostgreSQL: a pool transaction that takes the change-log lock), and how a
//! month is named in SQL. Everything else (the statements, the rules of each part of the store)
//! is written once, in plain code, in `sql.rs` and the per-library modules.
//!
//! Statements use `$n` placeholders and portable types only (text, integers, doubles, booleans),
//! which both drivers accept (PITFALLS 18).

use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Backend, StoreError, StoreResult};

/// One argument of a statement, typed, so a NULL is sent with its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<String>),
    BigInt(Option<i64>),
    Int(Option<i32>),
    Double(Option<f64>),
    Bool(bool),
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::BigInt(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::BigInt(v)
    }
}

impl From<Option<i32>> for Value {
    fn from(v: Option<i32>) -> Self {
        Value::Int(v)
    }
}

impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Double(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A statement and its arguments, in placeholder order. Arguments are either given for the
/// `$n` already in the text (`bind`), or appended with their placeholder (`push_bind`).
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql { text: text.into(), args: Vec::new() }
    }

    /// The next argument of the text's placeholders.
    pub fn bind(mut self, value: impl Into<Value>) -> Sql {
        self.args.push(value.into());
        self
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder and its argument.
    pub fn push_bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.args.push(value.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `(p1, p2, ...)` for a list of arguments.
    pub fn push_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Sql {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.push_bind(value);
        }
        self.text.push(')');
        self
    }
}

/// A statement's arguments for a driver: each value bound with its own type, so a NULL is sent
/// typed.
pub(super) fn arguments<'q, DB: sqlx::Database>(values: Vec<Value>) -> StoreResult<DB::Arguments>
where
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i32>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use sqlx::Arguments;
    let mut args = DB::Arguments::default();
    for value in values {
        let added = match value {
            Value::Text(v) => args.add(v),
            Value::BigInt(v) => args.add(v),
            Value::Int(v) => args.add(v),
            Value::Double(v) => args.add(v),
            Value::Bool(v) => args.add(v),
        };
        added.map_err(|e| StoreError::Database(sqlx::Error::Encode(e)))?;
    }
    Ok(args)
}

/// A row type both drivers can read (every row struct derives `sqlx::FromRow` over portable
/// column types).
pub trait Rows: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static {}

impl<T> Rows for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static {}

/// Whether the last write found the storage full: readiness reports it until a write commits
/// again. Shared by a backend and its write transactions.
#[derive(Debug, Clone, Default)]
pub struct Fullness(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Fullness {
    /// Passes a write's result on, noting whether it found the storage full.
    pub fn observe<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        if let Err(StoreError::Full(_)) = &result {
            self.0.store(true, std::sync::atomic::Ordering::Release);
        }
        result
    }

    /// A write committed: there is room again.
    pub fn cleared(&self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }

    /// For readiness: an error while the last write found the storage full.
    pub fn check(&self) -> StoreResult<()> {
        if self.0.load(std::sync::atomic::Ordering::Acquire) {
            Err(StoreError::Full("the last write found no room; writes fail until space is freed".into()))
        } else {
            Ok(())
        }
    }
}

/// A write transaction. Dropped without `commit`, it rolls back.
#[async_trait]
pub trait WriteTx: Send {
    /// Runs a statement; how many rows it changed.
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64>;
    async fn fetch_optional<T: Rows>(&mut self, sql: Sql) -> StoreResult<Option<T>>;
    async fn fetch_all<T: Rows>(&mut self, sql: Sql) -> StoreResult<Vec<T>>;
    /// Serialises writers from the moment they draw feed positions until they commit, so
    /// positions become visible in order (taken at commit, just before the feed rows).
    async fn lock_change_log(&mut self) -> StoreResult<()>;
    /// Tells the other instances on the database, at commit, that the feed has new changes
    /// (PostgreSQL's NOTIFY; nothing on SQLite, which has one instance).
    async fn announce_changes(&mut self) -> StoreResult<()>;
    async fn commit(self) -> StoreResult<()>
    where
        Self: Sized;
}

/// A backend: its pools and the few things it does its own way.
#[async_trait]
pub trait Dialect: Send + Sync + 'static {
    type Tx: WriteTx + 'static;

    fn backend(&self) -> Backend;
    /// The market-calendar month (UTC+8) of a microsecond timestamp column, as `YYYY-MM`.
    fn month_of(&self, column: &str) -> String;
    /// Begins a write transaction.
    async fn begin(&self) -> StoreResult<Self::Tx>;
    /// Reads, outside any write.
    async fn fetch_all<T: Rows>(&self, sql: Sql) -> StoreResult<Vec<T>>;
    async fn fetch_optional<T: Rows>(&self, sql: Sql) -> StoreResult<Option<T>>;
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Writes a consistent copy of the database, as of one moment, to a new file at `path`
    /// (SQLite's `VACUUM INTO`, beside the writers). PostgreSQL is backed up by `pg_dump`.
    async fn backup_into(&self, path: &str) -> StoreResult<()>;
    /// Closes the pools, waiting for connections to finish.
    async fn close(&self);
    /// A signal of the feed's commits by any instance, where the backend has one.
    async fn listen_changes(&self) -> StoreResult<Option<Box<dyn super::ChangeSignal>>>;
}
