//! Notifications' part of the store: the outbox of events and their audiences, the inboxes'
//! read marks, webhook subscriptions, deliveries and their attempts, and the expiry sweep's
//! reads.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Sql, Value, WriteTx};
use super::rows::{IntoDomain, code, codes, from_micros, json_list, micros, opt_micros};
use super::sql::{SqlStore, SqlTx, all, one};
use super::{ExpiryBound, InboxQuery, NotificationStore, NotificationWrites, Page, StoreError, StoreResult};
use crate::domain::notification::{
    Audience, Delivery, DeliveryAttempt, DeliveryStatus, Event, EventContent, Subscription,
};
use crate::domain::record::Library;

/// Events per insert statement (five arguments each), and audience rows (two each): well under
/// both drivers' limits.
const EVENTS_PER_STATEMENT: usize = 200;
const AUDIENCES_PER_STATEMENT: usize = 500;

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    id: String,
    at: i64,
    kind: String,
    subject: String,
    data: String,
}

impl IntoDomain for EventRow {
    type Domain = Event;

    fn into_domain(self) -> StoreResult<Event> {
        let content: EventContent =
            serde_json::from_str(&self.data).map_err(|e| StoreError::Corrupt(format!("event {}: {e}", self.seq)))?;
        Ok(Event {
            seq: self.seq,
            id: self.id,
            at: from_micros(self.at)?,
            kind: code(&self.kind)?,
            subject: self.subject,
            content,
            audience: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    audience: String,
    org_id: String,
    created_by: String,
    name: String,
    url: String,
    format: String,
    kinds: String,
    secret: String,
    created_at: i64,
    ended_at: Option<i64>,
}

impl IntoDomain for SubscriptionRow {
    type Domain = Subscription;

    fn into_domain(self) -> StoreResult<Subscription> {
        Ok(Subscription {
            audience: Audience::parse(&self.audience)
                .ok_or_else(|| StoreError::Corrupt(format!("subscription audience `{}`", self.audience)))?,
            id: self.id,
            org_id: self.org_id,
            created_by: self.created_by,
            name: self.name,
            url: self.url,
            format: code(&self.format)?,
            kinds: codes(&self.kinds)?,
            secret: self.secret,
            created_at: from_micros(self.created_at)?,
            ended_at: opt_micros(self.ended_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    subscription_id: String,
    event_seq: i64,
    status: String,
    attempts: i64,
    next_at: i64,
    last_code: Option<i64>,
    last_error: String,
    last_latency_ms: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl IntoDomain for DeliveryRow {
    type Domain = Delivery;

    fn into_domain(self) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: self.id,
            subscription_id: self.subscription_id,
            event_seq: self.event_seq,
            status: code(&self.status)?,
            attempts: self.attempts,
            next_at: from_micros(self.next_at)?,
            last_code: self.last_code,
            last_error: self.last_error,
            last_latency_ms: self.last_latency_ms,
            created_at: from_micros(self.created_at)?,
            delivered_at: opt_micros(self.delivered_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    at: i64,
    code: Option<i64>,
    latency_ms: i64,
    error: String,
}

impl IntoDomain for AttemptRow {
    type Domain = DeliveryAttempt;

    fn into_domain(self) -> StoreResult<DeliveryAttempt> {
        Ok(DeliveryAttempt {
            attempt: self.attempt,
            at: from_micros(self.at)?,
            code: self.code,
            latency_ms: self.latency_ms,
            error: self.error,
        })
    }
}

const DELIVERY_COLUMNS: &str = "id, subscription_id, event_seq, status, CAST(attempts AS BIGINT) AS attempts, next_at, \
    CAST(last_code AS BIGINT) AS last_code, last_error, CAST(last_latency_ms AS BIGINT) AS last_latency_ms, created_at, \
    delivered_at";

/// Unread notifications are counted up to this many (a count is a scan of what it counts).
pub const UNREAD_COUNTED_UP_TO: i64 = 1000;

fn push_keys(sql: &mut Sql, audiences: &[String]) {
    if audiences.is_empty() {
        sql.push("('')");
    } else {
        sql.push_list(audiences.iter().cloned());
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Everything up to this position is read by the user ("read all").
    async fn read_upto(&self, user_id: &str) -> StoreResult<i64> {
        let row: Option<(i64,)> = self
            .db
            .fetch_optional(Sql::new("SELECT read_upto FROM inbox_marks WHERE user_id = $1").bind(user_id))
            .await?;
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    /// The newest `limit` positions (below `before`) of the user's audiences that are read, or
    /// unread. Each audience walks its own index backwards (`event_audience`'s key), so a page
    /// costs what it shows, not what the inbox holds; an event of two audiences counts once.
    async fn inbox_seqs(
        &self,
        q: &InboxQuery,
        upto: i64,
        read: bool,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        let mut sql = Sql::new("SELECT DISTINCT event_seq FROM (");
        let keys: Vec<&String> = q.audiences.iter().collect();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push("SELECT event_seq FROM (SELECT a.event_seq FROM event_audience a WHERE a.audience = ");
            sql.push_bind(key.as_str());
            if let Some(before) = before {
                sql.push(" AND a.event_seq < ").push_bind(before);
            }
            let marked = |sql: &mut Sql| {
                sql.push("EXISTS (SELECT 1 FROM notification_reads r WHERE r.user_id = ");
                sql.push_bind(q.user_id.as_str()).push(" AND r.event_seq = a.event_seq)");
            };
            if read {
                sql.push(" AND (a.event_seq <= ").push_bind(upto).push(" OR ");
                marked(&mut sql);
                sql.push(")");
            } else {
                sql.push(" AND a.event_seq > ").push_bind(upto).push(" AND NOT ");
                marked(&mut sql);
            }
            sql.push(" ORDER BY a.event_seq DESC LIMIT ").push_bind(limit as i64);
            sql.push(&format!(") k{i}"));
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(") x ORDER BY event_seq DESC LIMIT ").push_bind(limit as i64);
        let rows: Vec<(i64,)> = self.db.fetch_all(sql).await?;
        Ok(rows.into_iter().map(|(seq,)| seq).collect())
    }
}

#[async_trait]
impl<D: Dialect> NotificationStore for SqlStore<D> {
    async fn events_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let sql = Sql::new("SELECT seq, id, at, kind, subject, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq)
            .bind(i64::from(limit));
        let mut events = all::<D, EventRow>(&self.db, sql).await?;
        let Some(last) = events.last().map(|e| e.seq) else { return Ok(events) };
        let rows: Vec<(i64, String)> = self
            .db
            .fetch_all(
                Sql::new("SELECT event_seq, audience FROM event_audience WHERE event_seq > $1 AND event_seq <= $2")
                    .bind(seq)
                    .bind(last),
            )
            .await?;
        let mut by_seq: std::collections::HashMap<i64, Vec<Audience>> = std::collections::HashMap::new();
        for (event_seq, key) in rows {
            if let Some(audience) = Audience::parse(&key) {
                by_seq.entry(event_seq).or_default().push(audience);
            }
        }
        for event in &mut events {
            event.audience = by_seq.remove(&event.seq).unwrap_or_default();
            event.audience.sort();
        }
        Ok(events)
    }

    async fn get_event(&self, seq: i64) -> StoreResult<Option<Event>> {
        let sql = Sql::new("SELECT seq, id, at, kind, subject, data FROM events WHERE seq = $1").bind(seq);
        let Some(mut event) = one::<D, EventRow>(&self.db, sql).await? else { return Ok(None) };
        let rows: Vec<(String,)> =
            self.db.fetch_all(Sql::new("SELECT audience FROM event_audience WHERE event_seq = $1").bind(seq)).await?;
        event.audience = rows.iter().filter_map(|(key,)| Audience::parse(key)).collect();
        event.audience.sort();
        Ok(Some(event))
    }

    async fn last_event_seq(&self) -> StoreResult<i64> {
        let row: Option<(Option<i64>,)> = self.db.fetch_optional(Sql::new("SELECT MAX(seq) FROM events")).await?;
        Ok(row.and_then(|r| r.0).unwrap_or(0))
    }

    async fn inbox(&self, q: &InboxQuery) -> StoreResult<Vec<(Event, bool)>> {
        let upto = self.read_upto(&q.user_id).await?;
        let limit = q.limit.max(1) as usize;
        let mut seqs: Vec<(i64, bool)> = Vec::with_capacity(limit);
        // Unread first (unless the cursor is past them), then read, newest first within each.
        if !matches!(q.after, Some((true, _))) {
            let before = q.after.map(|(_, seq)| seq);
            let found = self.inbox_seqs(q, upto, false, before, limit).await?;
            seqs.extend(found.into_iter().map(|seq| (seq, false)));
        }
        if seqs.len() < limit && !q.unread_only {
            let before = match q.after {
                Some((true, seq)) => Some(seq),
                _ => None,
            };
            let found = self.inbox_seqs(q, upto, true, before, limit - seqs.len()).await?;
            seqs.extend(found.into_iter().map(|seq| (seq, true)));
        }
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT seq, id, at, kind, subject, data FROM events WHERE seq IN ");
        sql.push_list(seqs.iter().map(|(seq, _)| *seq));
        let events = all::<D, EventRow>(&self.db, sql).await?;
        let mut by_seq: std::collections::HashMap<i64, Event> = events.into_iter().map(|e| (e.seq, e)).collect();
        Ok(seqs.into_iter().filter_map(|(seq, read)| by_seq.remove(&seq).map(|e| (e, read))).collect())
    }

    async fn unread_count(&self, user_id: &str, audiences: &[String]) -> StoreResult<i64> {
        let upto = self.read_upto(user_id).await?;
        let mut sql =
            Sql::new("SELECT COUNT(*) FROM (SELECT DISTINCT a.event_seq FROM event_audience a WHERE a.audience IN ");
        push_keys(&mut sql, audiences);
        sql.push(" AND a.event_seq > ").push_bind(upto);
        sql.push(" AND NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.user_id = ").push_bind(user_id);
        sql.push(" AND r.event_seq = a.event_seq) LIMIT ").push_bind(UNREAD_COUNTED_UP_TO).push(") x");
        let row: Option<(i64,)> = self.db.fetch_optional(sql).await?;
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    async fn event_reaches(&self, seq: i64, audiences: &[String]) -> StoreResult<bool> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM event_audience WHERE event_seq = ");
        sql.push_bind(seq).push(" AND audience IN ");
        sql.push_list(audiences.iter().cloned());
        let row: Option<(i64,)> = self.db.fetch_optional(sql).await?;
        Ok(row.is_some_and(|r| r.0 > 0))
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        one::<D, SubscriptionRow>(&self.db, Sql::new("SELECT * FROM subscriptions WHERE id = $1").bind(id)).await
    }

    async fn list_subscriptions(&self, audiences: Option<&[String]>) -> StoreResult<Vec<Subscription>> {
        let mut sql = Sql::new("SELECT * FROM subscriptions");
        if let Some(audiences) = audiences {
            sql.push(" WHERE audience IN ");
            push_keys(&mut sql, audiences);
        }
        sql.push(" ORDER BY id DESC");
        all::<D, SubscriptionRow>(&self.db, sql).await
    }

    async fn get_delivery(&self, id: &str) -> StoreResult<Option<Delivery>> {
        let sql = Sql::new(format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1")).bind(id);
        one::<D, DeliveryRow>(&self.db, sql).await
    }

    async fn list_deliveries(
        &self,
        subscription_id: &str,
        status: Option<DeliveryStatus>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Delivery>> {
        let mut sql = Sql::new(format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE subscription_id = "));
        sql.push_bind(subscription_id);
        if let Some(status) = status {
            sql.push(" AND status = ").push_bind(status.code());
        }
        if let Some(before) = before_seq {
            sql.push(" AND event_seq < ").push_bind(before);
        }
        let limit = limit.max(1) as usize;
        sql.push(" ORDER BY event_seq DESC LIMIT ").push_bind(limit as i64 + 1);
        let mut items = all::<D, DeliveryRow>(&self.db, sql).await?;
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|d| d.event_seq.to_string()).unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }

    async fn delivery_attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let sql = Sql::new(
            "SELECT CAST(attempt AS BIGINT) AS attempt, at, CAST(code AS BIGINT) AS code, \
             CAST(latency_ms AS BIGINT) AS latency_ms, error FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id);
        all::<D, AttemptRow>(&self.db, sql).await
    }

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>> {
        let sql = Sql::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'pending' AND next_at <= $1 \
             AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_at, event_seq LIMIT $2"
        ))
        .bind(micros(now))
        .bind(i64::from(limit));
        all::<D, DeliveryRow>(&self.db, sql).await
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let row: Option<(Option<i64>,)> = self
            .db
            .fetch_optional(Sql::new(
                "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_at THEN lease_until ELSE next_at END) \
                 FROM deliveries WHERE status = 'pending'",
            ))
            .await?;
        opt_micros(row.and_then(|r| r.0))
    }

    async fn week_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<super::WeekFacts> {
        let (from, to) = (micros(from), micros(to));
        let new_records: Vec<(String, String, i64)> = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT org_id, 'needs' AS library, COUNT(*) AS n FROM needs WHERE created_at >= $1 AND created_at < $2 \
                     GROUP BY org_id UNION ALL SELECT org_id, 'achievements' AS library, COUNT(*) AS n FROM achievements \
                     WHERE created_at >= $1 AND created_at < $2 GROUP BY org_id",
                )
                .bind(from)
                .bind(to),
            )
            .await?;
        let moved: Vec<(String, String, Option<String>, String, i64)> = self
            .db
            .fetch_all(
                Sql::new(
                    "SELECT d.need_org_id, d.achievement_org_id, d.manager_id, d.state, COUNT(DISTINCT d.id) AS n \
                     FROM docking_events e JOIN dockings d ON d.id = e.docking_id \
                     WHERE e.kind = 'transition' AND e.at >= $1 AND e.at < $2 \
                     GROUP BY d.need_org_id, d.achievement_org_id, d.manager_id, d.state",
                )
                .bind(from)
                .bind(to),
            )
            .await?;
        let waiting: Vec<(Option<String>, i64)> = self
            .db
            .fetch_all(Sql::new(
                "SELECT manager_id, COUNT(*) AS n FROM dockings WHERE state = 'suggested' GROUP BY manager_id",
            ))
            .await?;
        Ok(super::WeekFacts { new_records, moved, waiting })
    }

    async fn due_to_expire(&self, library: Library, bound: &ExpiryBound, limit: u32) -> StoreResult<Vec<String>> {
        let mut sql = match library {
            Library::Needs => {
                let mut sql =
                    Sql::new("SELECT id FROM needs WHERE status = 'open' AND ((deadline IS NOT NULL AND deadline < ");
                sql.push_bind(bound.deadline_before.format("%Y-%m-%d").to_string());
                sql.push(") OR (deadline IS NULL AND confirmed_at < ").push_bind(micros(bound.confirmed_before));
                sql.push("))");
                sql
            }
            Library::Achievements => {
                let mut sql = Sql::new("SELECT id FROM achievements WHERE status = 'open' AND confirmed_at < ");
                sql.push_bind(micros(bound.confirmed_before));
                sql
            }
        };
        if bound.unreminded {
            sql.push(" AND reminded_at IS NULL");
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        let rows: Vec<(String,)> = self.db.fetch_all(sql).await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

#[async_trait]
impl<T: WriteTx + 'static> NotificationWrites for SqlTx<T> {
    async fn insert_events(&mut self, events: &[Event]) -> StoreResult<Vec<i64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.0.lock_change_log().await?;
        let mut seqs = Vec::with_capacity(events.len());
        let mut audiences: Vec<(i64, String)> = Vec::new();
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            let mut sql = Sql::new("INSERT INTO events (id, at, kind, subject, data) VALUES ");
            for (i, event) in chunk.iter().enumerate() {
                let data = serde_json::to_string(&event.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let values: [Value; 5] = [
                    event.id.clone().into(),
                    micros(event.at).into(),
                    event.kind.code().into(),
                    event.subject.clone().into(),
                    data.into(),
                ];
                sql.push(if i > 0 { ", " } else { "" }).push_list(values);
            }
            sql.push(" RETURNING id, seq");
            let rows: Vec<(String, i64)> = self.0.fetch_all(sql).await?;
            let at: HashMap<String, i64> = rows.into_iter().collect();
            for event in chunk {
                let seq = *at
                    .get(&event.id)
                    .ok_or_else(|| StoreError::Corrupt("an inserted event returned no position".into()))?;
                let mut keys: Vec<String> = event.audience.iter().map(Audience::key).collect();
                keys.sort();
                keys.dedup();
                audiences.extend(keys.into_iter().map(|key| (seq, key)));
                seqs.push(seq);
            }
        }
        for chunk in audiences.chunks(AUDIENCES_PER_STATEMENT) {
            let mut sql = Sql::new("INSERT INTO event_audience (event_seq, audience) VALUES ");
            for (i, (seq, key)) in chunk.iter().enumerate() {
                sql.push(if i > 0 { ", " } else { "" }).push_list::<Value>([(*seq).into(), key.clone().into()]);
            }
            self.0.execute(sql).await?;
        }
        Ok(seqs)
    }

    async fn mark_read(&mut self, user_id: &str, seq: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let sql = Sql::new(
            "INSERT INTO notification_reads (user_id, event_seq, at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, event_seq) DO NOTHING",
        )
        .bind(user_id)
        .bind(seq)
        .bind(micros(at));
        Ok(self.0.execute(sql).await? > 0)
    }

    async fn mark_all_read(&mut self, user_id: &str, upto: i64) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO inbox_marks (user_id, read_upto) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET read_upto = excluded.read_upto WHERE inbox_marks.read_upto < excluded.read_upto",
        )
        .bind(user_id)
        .bind(upto);
        self.0.execute(sql).await?;
        self.0
            .execute(
                Sql::new("DELETE FROM notification_reads WHERE user_id = $1 AND event_seq <= $2")
                    .bind(user_id)
                    .bind(upto),
            )
            .await
            .map(|_| ())
    }

    async fn insert_subscription(&mut self, s: &Subscription) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO subscriptions (id, audience, org_id, created_by, name, url, format, kinds, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.id)
        .bind(s.audience.key())
        .bind(&s.org_id)
        .bind(&s.created_by)
        .bind(&s.name)
        .bind(&s.url)
        .bind(s.format.code())
        .bind(json_list(s.kinds.iter().map(|k| k.code())))
        .bind(&s.secret)
        .bind(micros(s.created_at));
        self.0.execute(sql).await.map(|_| ())
    }

    async fn end_subscription(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE subscriptions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(micros(at))
            .bind(id);
        let ended = self.0.execute(sql).await? > 0;
        if ended {
            self.0
                .execute(
                    Sql::new(
                        "UPDATE deliveries SET status = 'dead', last_error = 'subscription ended' \
                         WHERE subscription_id = $1 AND status = 'pending'",
                    )
                    .bind(id),
                )
                .await?;
        }
        Ok(ended)
    }

    async fn insert_deliveries(&mut self, deliveries: &[Delivery]) -> StoreResult<u64> {
        let mut added = 0;
        for d in deliveries {
            let sql = Sql::new(
                "INSERT INTO deliveries (id, subscription_id, event_seq, status, attempts, next_at, created_at) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (subscription_id, event_seq) DO NOTHING",
            )
            .bind(&d.id)
            .bind(&d.subscription_id)
            .bind(d.event_seq)
            .bind(d.status.code())
            .bind(micros(d.next_at))
            .bind(micros(d.created_at));
            added += self.0.execute(sql).await?;
        }
        Ok(added)
    }

    async fn claim_delivery(&mut self, id: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool> {
        let sql = Sql::new(
            "UPDATE deliveries SET lease_until = $1, attempts = attempts + 1 WHERE id = $2 AND status = 'pending' \
             AND next_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(micros(until))
        .bind(id)
        .bind(micros(now));
        Ok(self.0.execute(sql).await? == 1)
    }

    async fn record_attempt(&mut self, d: &Delivery, a: &DeliveryAttempt) -> StoreResult<()> {
        let sql = Sql::new(
            "UPDATE deliveries SET status = $1, next_at = $2, lease_until = NULL, last_code = $3, last_error = $4, \
             last_latency_ms = $5, delivered_at = $6 WHERE id = $7",
        )
        .bind(d.status.code())
        .bind(micros(d.next_at))
        .bind(a.code)
        .bind(&a.error)
        .bind(a.latency_ms)
        .bind(d.delivered_at.map(micros))
        .bind(&d.id);
        self.0.execute(sql).await?;
        // Numbered through every round (a redelivery starts the delivery's own count afresh).
        let sql = Sql::new(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, code, latency_ms, error) \
             VALUES ($1, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM delivery_attempts WHERE delivery_id = $1), $2, $3, $4, $5)",
        )
        .bind(&d.id)
        .bind(micros(a.at))
        .bind(a.code)
        .bind(a.latency_ms)
        .bind(&a.error);
        self.0.execute(sql).await.map(|_| ())
    }

    async fn redeliver(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let sql = Sql::new(
            "UPDATE deliveries SET status = 'pending', next_at = $1, lease_until = NULL, attempts = 0 \
             WHERE id = $2 AND status <> 'pending'",
        )
        .bind(micros(at))
        .bind(id);
        Ok(self.0.execute(sql).await? > 0)
    }

    async fn prune_notifications(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        let old = "SELECT seq FROM events WHERE at < $1";
        let finished = format!("SELECT id FROM deliveries WHERE status <> 'pending' AND event_seq IN ({old})");
        for statement in [
            format!("DELETE FROM delivery_attempts WHERE delivery_id IN ({finished})"),
            format!("DELETE FROM deliveries WHERE id IN ({finished})"),
            format!("DELETE FROM notification_reads WHERE event_seq IN ({old})"),
            format!(
                "DELETE FROM event_audience WHERE event_seq IN ({old}) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = event_audience.event_seq)"
            ),
        ] {
            self.0.execute(Sql::new(statement).bind(micros(before))).await?;
        }
        let sql = Sql::new(
            "DELETE FROM events WHERE at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)",
        )
        .bind(micros(before));
        self.0.execute(sql).await
    }

    async fn mark_reminded(&mut self, library: Library, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let table = match library {
            Library::Needs => "needs",
            Library::Achievements => "achievements",
        };
        let sql = Sql::new(format!("UPDATE {table} SET reminded_at = $1 WHERE id = $2")).bind(micros(at)).bind(id);
        self.0.execute(sql).await.map(|_| ())
    }
}
