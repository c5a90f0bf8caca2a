//! The store, written once for both backends over a `Dialect`: the statements and the shared
//! steps of its parts (record rows and the change log, listing filters and pages, versioned
//! updates). Each library's part of the `Store` is implemented in its own module.

use super::dialect::{Dialect, Sql, Value, WriteTx};
use chrono::{DateTime, Utc};

use super::rows::{IntoDomain, json_list, micros};
use super::{ChangeKind, ListQuery, Page, StoreError, StoreResult};
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;

/// The store over one backend.
pub struct SqlStore<D: Dialect> {
    pub(super) db: D,
}

impl<D: Dialect> SqlStore<D> {
    pub fn new(db: D) -> SqlStore<D> {
        SqlStore { db }
    }
}

/// A write transaction on one backend: the store's writes, each library's in its own module,
/// and the changes they make, appended to the feed when it commits.
pub struct SqlTx<T: WriteTx>(pub(super) T, Vec<(ChangeKind, String, DateTime<Utc>)>);

impl<T: WriteTx> SqlTx<T> {
    /// Notes a change for the feed (written at commit).
    pub(super) fn log(&mut self, kind: ChangeKind, id: &str, at: DateTime<Utc>) {
        self.1.push((kind, id.to_string(), at));
    }
}

#[async_trait::async_trait]
impl<T: WriteTx + 'static> super::StoreTx for SqlTx<T> {
    fn changed(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.1.iter().filter(|(_, id, _)| seen.insert(id.as_str())).map(|(_, id, _)| id.clone()).collect()
    }

    /// Appends the transaction's changes to the feed, then commits. The feed's lock (PostgreSQL)
    /// is taken only here, just before the commit, and held through it, so positions become
    /// visible in the order they were drawn and a follower reading "after N" never passes a
    /// change that commits late; the rest of the transaction runs beside other writers.
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqlTx(mut tx, changes) = *self;
        if !changes.is_empty() {
            tx.lock_change_log().await?;
            let rows =
                changes.iter().map(|(kind, id, at)| vec![kind.code().into(), id.clone().into(), micros(*at).into()]);
            insert_rows(
                &mut tx,
                "INSERT INTO changes (kind, record_id, changed_at) VALUES ($1, $2, $3)",
                rows.collect(),
            )
            .await?;
            tx.announce_changes().await?;
        }
        tx.commit().await
    }
}

#[async_trait::async_trait]
impl<D: Dialect> super::Store for SqlStore<D> {
    fn backend(&self) -> super::Backend {
        self.db.backend()
    }

    async fn begin(&self) -> StoreResult<Box<dyn super::StoreTx>> {
        Ok(Box::new(SqlTx(self.db.begin().await?, Vec::new())))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await
    }

    async fn backup_into(&self, path: &std::path::Path) -> StoreResult<()> {
        self.db.backup_into(&path.display().to_string()).await
    }

    async fn close(&self) {
        self.db.close().await;
    }
}

pub const NEED_SELECT: &str = "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id";
pub const ACHIEVEMENT_SELECT: &str =
    "SELECT n.*, o.name AS org_name FROM achievements n JOIN organisations o ON o.id = n.org_id";

pub const NEED_BY_ID: &str =
    "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id WHERE n.id = $1";
pub const ACHIEVEMENT_BY_ID: &str =
    "SELECT n.*, o.name AS org_name FROM achievements n JOIN organisations o ON o.id = n.org_id WHERE n.id = $1";

pub const NEED_SCAN: &str = "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id \
    WHERE n.id > $1 ORDER BY n.id LIMIT $2";
pub const ACHIEVEMENT_SCAN: &str = "SELECT n.*, o.name AS org_name FROM achievements n \
    JOIN organisations o ON o.id = n.org_id WHERE n.id > $1 ORDER BY n.id LIMIT $2";

pub const NEED_INSERT: &str = "INSERT INTO needs (title, description, targets, tried, keywords, field, need_type, \
    cooperation_modes, budget_min, budget_max, deadline, region, contact_name, contact_phone, contact_email, \
    visibility, status, confirmed_at, reminded_at, id, org_id, created_by, created_at, updated_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
    $24, $25)";

pub const NEED_UPDATE: &str = "UPDATE needs SET title = $1, description = $2, targets = $3, tried = $4, keywords = $5, \
    field = $6, need_type = $7, cooperation_modes = $8, budget_min = $9, budget_max = $10, deadline = $11, \
    region = $12, contact_name = $13, contact_phone = $14, contact_email = $15, visibility = $16, status = $17, \
    confirmed_at = $18, reminded_at = $19, updated_at = $20, version = version + 1 WHERE id = $21 AND version = $22";

pub const ACHIEVEMENT_INSERT: &str = "INSERT INTO achievements (title, summary, keywords, field, achievement_type, trl, \
    stage, ip_form, patent_numbers, cooperation_modes, asking_price, team_lead, region, contact_name, contact_phone, \
    contact_email, visibility, status, confirmed_at, reminded_at, id, org_id, created_by, created_at, updated_at, \
    version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
    $22, $23, $24, $25, $26)";

pub const ACHIEVEMENT_UPDATE: &str = "UPDATE achievements SET title = $1, summary = $2, keywords = $3, field = $4, \
    achievement_type = $5, trl = $6, stage = $7, ip_form = $8, patent_numbers = $9, cooperation_modes = $10, \
    asking_price = $11, team_lead = $12, region = $13, contact_name = $14, contact_phone = $15, contact_email = $16, \
    visibility = $17, status = $18, confirmed_at = $19, reminded_at = $20, updated_at = $21, version = version + 1 \
    WHERE id = $22 AND version = $23";

pub const SESSION_LOOKUP: &str = "SELECT s.id, s.user_id, s.prefix, s.created_at, s.last_seen_at, s.expires_at, \
    s.ended_at, s.client, s.csrf_hash, u.name AS user_name, u.role, u.org_id, u.must_change_password, \
    o.status AS org_status FROM sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = u.org_id \
    WHERE s.token_hash = $1";

pub const TOKEN_LOOKUP: &str = "SELECT t.id AS token_id, t.prefix, t.expires_at, t.revoked_at, t.last_used_at, \
    u.id AS user_id, u.name AS user_name, u.role, u.org_id, o.status AS org_status \
    FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN organisations o ON o.id = u.org_id WHERE t.token_hash = $1";

/// The content columns of a need, in the order of `NEED_INSERT` / `NEED_UPDATE`, then status and
/// the expiry's columns.
pub(super) fn need_values(need: &Need) -> Vec<Value> {
    let c = &need.content;
    vec![
        c.title.clone().into(),
        c.description.clone().into(),
        c.targets.clone().into(),
        c.tried.clone().into(),
        json_list(&c.keywords).into(),
        c.field.code().into(),
        c.need_type.code().into(),
        json_list(c.cooperation_modes.iter().map(|m| m.code())).into(),
        c.budget_min.map(|w| w.hundredths()).into(),
        c.budget_max.map(|w| w.hundredths()).into(),
        c.deadline.map(|d| d.format("%Y-%m-%d").to_string()).into(),
        c.region.clone().into(),
        c.contact.name.clone().into(),
        c.contact.phone.clone().into(),
        c.contact.email.clone().into(),
        c.visibility.code().into(),
        need.meta.status.code().into(),
        micros(need.meta.confirmed_at).into(),
        need.meta.reminded_at.map(micros).into(),
    ]
}

/// The content columns of an achievement, in the order of its statements, then status and the
/// expiry's columns.
pub(super) fn achievement_values(achievement: &Achievement) -> Vec<Value> {
    let c = &achievement.content;
    vec![
        c.title.clone().into(),
        c.summary.clone().into(),
        json_list(&c.keywords).into(),
        c.field.code().into(),
        c.achievement_type.code().into(),
        c.trl.map(i32::from).into(),
        c.stage.map(|s| s.code()).into(),
        c.ip_form.code().into(),
        json_list(&c.patent_numbers).into(),
        json_list(c.cooperation_modes.iter().map(|m| m.code())).into(),
        c.asking_price.map(|w| w.hundredths()).into(),
        c.team_lead.clone().into(),
        c.region.clone().into(),
        c.contact.name.clone().into(),
        c.contact.phone.clone().into(),
        c.contact.email.clone().into(),
        c.visibility.code().into(),
        achievement.meta.status.code().into(),
        micros(achievement.meta.confirmed_at).into(),
        achievement.meta.reminded_at.map(micros).into(),
    ]
}

/// A statement with the given arguments.
fn with_args(text: &str, args: Vec<Value>) -> Sql {
    Sql { text: text.to_string(), args }
}

/// A record's row: its content values, then its meta columns, in the order of the insert
/// statement.
pub(super) fn record_values(mut args: Vec<Value>, m: &crate::domain::record::RecordMeta) -> Vec<Value> {
    args.extend([
        m.id.clone().into(),
        m.org_id.clone().into(),
        m.created_by.clone().into(),
        micros(m.created_at).into(),
        micros(m.updated_at).into(),
        m.version.into(),
    ]);
    args
}

/// Arguments per multi-row insert statement: well under both drivers' limits (SQLite 32,766,
/// PostgreSQL 65,535), and large enough that a statement's round trip is shared by ~100 rows.
const ARGS_PER_INSERT: usize = 2_600;

/// Inserts rows with the columns of `insert` (a one-row `INSERT ... VALUES (...)` statement),
/// many rows to a statement.
pub(super) async fn insert_rows(tx: &mut impl WriteTx, insert: &str, rows: Vec<Vec<Value>>) -> StoreResult<()> {
    let head = match insert.find(" VALUES ") {
        Some(at) => &insert[..at + " VALUES ".len()],
        None => insert,
    };
    let mut sql = Sql::new(head);
    let mut pending = 0;
    for row in rows {
        if pending > 0 && sql.args.len() + row.len() > ARGS_PER_INSERT {
            tx.execute(std::mem::replace(&mut sql, Sql::new(head))).await?;
            pending = 0;
        }
        if pending > 0 {
            sql.push(", ");
        }
        sql.push_list(row);
        pending += 1;
    }
    if pending > 0 {
        tx.execute(sql).await?;
    }
    Ok(())
}

/// The update of a need's content at `at`, if the stored version is still the need's.
pub(super) fn need_update(need: &Need, at: chrono::DateTime<chrono::Utc>) -> Sql {
    let mut args = need_values(need);
    args.extend([micros(at).into(), need.meta.id.clone().into(), need.meta.version.into()]);
    with_args(NEED_UPDATE, args)
}

/// The update of an achievement's content at `at`, if the stored version is still its own.
pub(super) fn achievement_update(achievement: &Achievement, at: chrono::DateTime<chrono::Utc>) -> Sql {
    let mut args = achievement_values(achievement);
    args.extend([micros(at).into(), achievement.meta.id.clone().into(), achievement.meta.version.into()]);
    with_args(ACHIEVEMENT_UPDATE, args)
}

/// Why a versioned update of a row of `table` changed nothing: someone wrote a newer version, or
/// the row is gone.
pub(super) async fn stale_or_missing(tx: &mut impl WriteTx, table: &str, id: &str) -> StoreResult<StoreError> {
    let current: Option<(i64,)> =
        tx.fetch_optional(Sql::new(format!("SELECT version FROM {table} WHERE id = $1")).bind(id)).await?;
    Ok(match current {
        Some((current,)) => StoreError::VersionConflict { current },
        None => StoreError::NotFound,
    })
}

/// Appends the WHERE clause of a listing: visibility first (inside the query, so nothing hidden
/// is ever fetched), then the filters and the cursor.
pub(super) fn push_list_filters(sql: &mut Sql, q: &ListQuery) {
    sql.push(" WHERE ((n.visibility = 'public' AND n.status <> 'withdrawn') OR n.org_id = ");
    sql.push_bind(q.viewer_org.clone());
    if q.viewer_is_staff {
        sql.push(" OR n.visibility <> 'private'");
    }
    sql.push(")");
    if let Some(field) = q.field {
        sql.push(" AND n.field = ").push_bind(field.code());
    }
    if let Some(prefix) = &q.region_prefix {
        sql.push(" AND n.region LIKE ").push_bind(format!("{prefix}%"));
    }
    match q.status {
        Some(status) => {
            sql.push(" AND n.status = ").push_bind(status.code());
        }
        // Expired records are kept but left out unless asked for.
        None => {
            sql.push(" AND n.status <> 'expired'");
        }
    }
    if let Some(org_id) = &q.org_id {
        sql.push(" AND n.org_id = ").push_bind(org_id.clone());
    }
    if let Some(since) = q.updated_since {
        sql.push(" AND n.updated_at >= ").push_bind(micros(since));
    }
    if let Some(cursor) = &q.cursor {
        sql.push(" AND n.id < ").push_bind(cursor.clone());
    }
}

/// Runs a listing newest first, one more than the page to tell whether there is a next page; the
/// cursor is the last id.
pub(super) async fn id_page<D: Dialect, R: IntoDomain>(
    db: &D,
    mut sql: Sql,
    limit: u32,
    id_of: impl Fn(&R::Domain) -> String,
) -> StoreResult<Page<R::Domain>> {
    let limit = limit.max(1) as usize;
    sql.push(" ORDER BY n.id DESC LIMIT ").push_bind(limit as i64 + 1);
    let rows: Vec<R> = db.fetch_all(sql).await?;
    let mut items = rows.into_iter().map(R::into_domain).collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&id_of)
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Runs a listing with `LIMIT`/`OFFSET`; its cursor is the next offset.
pub(super) async fn offset_page<D: Dialect, R: IntoDomain>(
    db: &D,
    mut sql: Sql,
    offset: u32,
    limit: u32,
) -> StoreResult<Page<R::Domain>> {
    let limit = limit.max(1) as usize;
    sql.push(" LIMIT ").push_bind(limit as i64 + 1).push(" OFFSET ").push_bind(i64::from(offset));
    let rows: Vec<R> = db.fetch_all(sql).await?;
    let mut items = rows.into_iter().map(R::into_domain).collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        Some((offset as usize + limit).to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Rows of a `SELECT` by a list of ids.
pub(super) async fn by_ids<D: Dialect, R: IntoDomain>(
    db: &D,
    select: &str,
    ids: &[String],
) -> StoreResult<Vec<R::Domain>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(select);
    sql.push(" WHERE n.id IN ").push_list(ids.iter().cloned());
    let rows: Vec<R> = db.fetch_all(sql).await?;
    rows.into_iter().map(R::into_domain).collect()
}

/// Reads rows and turns each into its domain record.
pub(super) async fn all<D: Dialect, R: IntoDomain>(db: &D, sql: Sql) -> StoreResult<Vec<R::Domain>> {
    let rows: Vec<R> = db.fetch_all(sql).await?;
    rows.into_iter().map(R::into_domain).collect()
}

/// Reads a row, if any, as its domain record.
pub(super) async fn one<D: Dialect, R: IntoDomain>(db: &D, sql: Sql) -> StoreResult<Option<R::Domain>> {
    db.fetch_optional::<R>(sql).await?.map(R::into_domain).transpose()
}
