//! The audit log: what is recorded outside a write's own unit of work (reads of confidential
//! parts, denied accesses, exports), the admins' reading and export of it, and its retention.
//! A write's entry is made by its unit of work (`unit::UnitOfWork::commit`).

use chrono::Duration;

use super::views::{AuditEntryResponse, PageResponse};
use super::{Actor, App, Error, Result};
use crate::domain::audit::{AuditQuery, Outcome};
use crate::domain::record::Principal;
use crate::domain::vocab::Role;
use crate::tabular::{csv_line, neutralise_formula};

/// Records one entry in a unit of work of its own: a read of a confidential part, a denied
/// access, an export. A failure to record is returned: the caller decides whether the action
/// may go on without its entry (reads of contacts do not).
pub async fn record(
    cx: &App,
    actor: impl Into<Actor>,
    operation: &str,
    records: Vec<String>,
    outcome: Outcome,
    detail: &str,
) -> Result<()> {
    let mut unit = cx.begin(actor).await?;
    unit.audit(operation, records, outcome, detail);
    unit.commit().await?;
    Ok(())
}

/// Records a denied or failed request (the HTTP layer's answer was an error): for a signed-in
/// actor, every refusal and every failed write; the entry is best effort (a failure to write it
/// is logged, the answer goes out).
/// `record` is the id the request's path named, if it is an id (the record refused or hidden).
pub async fn record_refusal(
    cx: &App,
    who: Option<&Principal>,
    origin_route: &str,
    record: Option<&str>,
    status: u16,
    code: &str,
) {
    let outcome = if matches!(status, 401 | 403 | 404) { Outcome::Denied } else { Outcome::Failed };
    let Some(who) = who else { return };
    let records = record.filter(|id| crate::domain::is_valid_id(id)).map(|id| vec![id.to_string()]).unwrap_or_default();
    if let Err(error) = self::record(cx, who, origin_route, records, outcome, code).await {
        tracing::warn!(%error, "could not record a refused request in the audit log");
    }
}

fn admins_only(who: &Principal) -> Result<()> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("the audit log is for administrators").zh("只有管理员可以查看审计日志"))
    }
}

/// A page of the log, newest first (administrators).
pub async fn entries(cx: &App, who: &Principal, query: AuditQuery) -> Result<PageResponse<AuditEntryResponse>> {
    admins_only(who)?;
    let page = cx.store.list_audit(&query).await?;
    Ok(PageResponse { items: page.items.iter().map(AuditEntryResponse::from).collect(), next_cursor: page.next_cursor })
}

/// The entries matching `query` as CSV (administrators), at most the configured export rows;
/// the export is itself audited.
pub async fn export(cx: &App, who: &Principal, mut query: AuditQuery) -> Result<Vec<u8>> {
    admins_only(who)?;
    let _permit = cx.heavy_permit("exports")?;
    let header = [
        "seq",
        "at",
        "actor",
        "actor_org",
        "credential",
        "operation",
        "records",
        "outcome",
        "detail",
        "client",
        "request_id",
    ];
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(&header.map(str::to_string)));
    let mut written = 0usize;
    query.limit = 1000;
    loop {
        let page = cx.store.list_audit(&query).await?;
        for e in &page.items {
            let row = [
                e.seq.to_string(),
                e.at.to_rfc3339(),
                e.actor.clone(),
                e.actor_org.clone(),
                e.credential.clone(),
                e.operation.clone(),
                e.records.join(" "),
                e.outcome.code().to_string(),
                e.detail.clone(),
                e.client.clone(),
                e.request_id.clone(),
            ];
            out.push_str(&csv_line(&row.map(|c| neutralise_formula(&c))));
            written += 1;
        }
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(before) if written < cx.limits.export_max_rows => query.before = Some(before),
            _ => break,
        }
    }
    record(cx, who, "export_audit", Vec::new(), Outcome::Ok, &format!("{written} entries")).await?;
    Ok(out.into_bytes())
}

/// Deletes audit entries older than the configured retention, and failed sign-ins older than
/// the window that counts them; how many entries.
pub async fn prune(cx: &App) -> Result<u64> {
    let now = cx.clock.now();
    let audit_before = now - Duration::days(cx.accounts.audit_retention_days);
    let failures_before = now - Duration::minutes(cx.accounts.failure_window_minutes);
    let mut unit = cx.begin(Actor::System("retention")).await?;
    let pruned = unit.prune_audit(audit_before, failures_before).await?;
    let events = unit.prune_notifications(now - Duration::days(cx.notifications.retention_days.max(1))).await?;
    unit.commit().await?;
    if pruned > 0 || events > 0 {
        tracing::info!(pruned, events, "audit entries and notifications past their retention deleted");
    }
    Ok(pruned)
}
