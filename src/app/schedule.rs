//! The market's scheduled work, on the context's clock: records that expire, the reminders
//! before, and the weekly summary.
//!
//! A need expires at the end of its deadline (market time); a need without a deadline and every
//! achievement expire `need_validity_days` / `achievement_validity_days` after their last
//! confirmation (creation or renewal). An expired record is kept, with status `expired`: out
//! of matching, search and the default listings until its owner renews it
//! (`records::renew`). Its owner is told `remind_days` before (`record_expiring`) and when it
//! expires (`record_expired`).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::records::LibraryRecord;
use super::{Actor, App};
use crate::domain::achievement::Achievement;
use crate::domain::market_offset;
use crate::domain::market_today;
use crate::domain::need::Need;
use crate::domain::notification::{Audience, Event, EventContent, NotificationKind};
use crate::domain::record::Library;
use crate::domain::vocab::{RecordStatus, Role, Visibility};
use crate::storage::{ExpiryBound, StoreError};

/// The weekly summary's checkpoint (the start of the last week summarised, Unix seconds).
pub const SUMMARY: &str = "summary";
const BATCH: u32 = 100;

/// How long a record of `library` stays current after its last confirmation.
pub fn validity(cx: &App, library: Library) -> Duration {
    let days = match library {
        Library::Needs => cx.notifications.need_validity_days,
        Library::Achievements => cx.notifications.achievement_validity_days,
    };
    Duration::days(days.max(1))
}

/// The first moment of a market day, in UTC.
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    market_offset().from_local_datetime(&midnight).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// When a record expires: the end of a need's deadline, or its last confirmation plus the
/// validity of its library.
pub fn expires_at<R: LibraryRecord>(cx: &App, record: &R) -> DateTime<Utc> {
    match record.deadline() {
        Some(deadline) => start_of(deadline + Duration::days(1)),
        None => record.meta().confirmed_at + validity(cx, R::LIBRARY),
    }
}

/// Expires what is due and reminds the owners of what will be; (expired, reminded).
pub async fn sweep(cx: &App) -> Result<(usize, usize), StoreError> {
    let expired = expire::<Need>(cx).await? + expire::<Achievement>(cx).await?;
    let reminded = remind::<Need>(cx).await? + remind::<Achievement>(cx).await?;
    if expired + reminded > 0 {
        tracing::info!(expired, reminded, "records expired and owners reminded");
    }
    Ok((expired, reminded))
}

fn record_event<R: LibraryRecord>(kind: NotificationKind, record: &R, when: DateTime<Utc>) -> Event {
    let library = R::LIBRARY;
    let noun = match library {
        Library::Needs => "需求",
        Library::Achievements => "成果",
    };
    let id = &record.meta().id;
    let date = when.with_timezone(&market_offset()).date_naive();
    let (headline, line) = match kind {
        NotificationKind::RecordExpired => {
            (format!("{noun}已过期:{}", record.title()), format!("已于 {date} 到期,不再参与匹配;如仍有效,请续期"))
        }
        _ => (format!("{noun}即将到期:{}", record.title()), format!("将于 {date} 到期;如仍有效,请在此之前续期")),
    };
    let content = EventContent::new(headline, format!("/api/v1/{}/{id}", library.route()))
        .line(line)
        .line(format!("续期:POST /api/v1/{}/{id}/renew", library.route()))
        .fact("library", library.route())
        .fact("id", id.clone())
        .fact("expires_at", when.to_rfc3339());
    let mut audience = vec![Audience::Org(record.meta().org_id.clone())];
    if kind == NotificationKind::RecordExpired && record.visibility() != Visibility::Private {
        audience.push(Audience::Market);
    }
    Event::new(kind, id, content, audience)
}

async fn expire<R: LibraryRecord>(cx: &App) -> Result<usize, StoreError> {
    let now = cx.clock.now();
    let bound = ExpiryBound {
        deadline_before: market_today(now),
        confirmed_before: now - validity(cx, R::LIBRARY),
        unreminded: false,
    };
    let mut done = 0;
    loop {
        let ids = cx.store.due_to_expire(R::LIBRARY, &bound, BATCH).await?;
        let mut moved = 0;
        for id in &ids {
            let Some(record) = R::fetch(cx.store.as_ref(), id).await? else { continue };
            if record.meta().status != RecordStatus::Open {
                continue;
            }
            let when = expires_at(cx, &record);
            let mut changed = record.clone();
            changed.meta_mut().status = RecordStatus::Expired;
            let mut unit = cx.begin(Actor::System("expiry")).await?;
            let at = unit.at();
            match changed.save(&mut *unit, at).await {
                Ok(stored) => {
                    unit.notify(record_event(NotificationKind::RecordExpired, &stored, when));
                    unit.commit().await?;
                    moved += 1;
                }
                // Its owner changed it meanwhile: the next sweep looks again.
                Err(StoreError::VersionConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        done += moved;
        if ids.len() < BATCH as usize || moved == 0 {
            return Ok(done);
        }
    }
}

async fn remind<R: LibraryRecord>(cx: &App) -> Result<usize, StoreError> {
    let now = cx.clock.now();
    let ahead = now + Duration::days(cx.notifications.remind_days.max(0));
    let bound = ExpiryBound {
        deadline_before: market_today(ahead),
        confirmed_before: ahead - validity(cx, R::LIBRARY),
        unreminded: true,
    };
    let mut done = 0;
    loop {
        let ids = cx.store.due_to_expire(R::LIBRARY, &bound, BATCH).await?;
        for id in &ids {
            let Some(record) = R::fetch(cx.store.as_ref(), id).await? else { continue };
            let mut unit = cx.begin(Actor::System("expiry")).await?;
            let at = unit.at();
            unit.mark_reminded(R::LIBRARY, id, at).await?;
            unit.notify(record_event(NotificationKind::RecordExpiring, &record, expires_at(cx, &record)));
            unit.commit().await?;
            done += 1;
        }
        if ids.len() < BATCH as usize {
            return Ok(done);
        }
    }
}

/// The start of the latest week to summarise at `now`: the last configured weekday and hour
/// (market time) at or before `now`.
pub fn summary_slot(cx: &App, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&market_offset());
    let weekday = cx.notifications.summary_weekday.clamp(1, 7);
    let back = (local.weekday().number_from_monday() + 7 - weekday) % 7;
    let day = local.date_naive() - Duration::days(i64::from(back));
    let hour = i64::from(cx.notifications.summary_hour.min(23));
    let slot = start_of(day) + Duration::hours(hour);
    if slot > now { slot - Duration::days(7) } else { slot }
}

/// Writes the weekly summaries once per week (the first instance to claim the week writes
/// them): to every technology manager (the market's week and their own dockings) and to every
/// organisation with something new (its records, its dockings that moved). How many.
pub async fn weekly_summary(cx: &App) -> Result<usize, StoreError> {
    let slot = summary_slot(cx, cx.clock.now());
    if cx.store.checkpoint(SUMMARY).await? >= slot.timestamp() {
        return Ok(0);
    }
    let from = slot - Duration::days(7);
    let facts = cx.store.week_facts(from, slot).await?;
    let period = format!(
        "{} 至 {}",
        from.with_timezone(&market_offset()).date_naive(),
        (slot - Duration::days(1)).with_timezone(&market_offset()).date_naive()
    );
    let mut events = Vec::new();
    let count = |library: &str, org: Option<&str>| -> i64 {
        facts.new_records.iter().filter(|(o, l, _)| l == library && org.is_none_or(|org| o == org)).map(|r| r.2).sum()
    };
    let moved_total: i64 = facts.moved.iter().map(|m| m.4).sum();
    let waiting_total: i64 = facts.waiting.iter().map(|w| w.1).sum();
    for user in cx.store.list_users(None).await? {
        if user.role != Role::Manager {
            continue;
        }
        let mine_waiting: i64 = facts.waiting.iter().filter(|w| w.0.as_deref() == Some(&user.id)).map(|w| w.1).sum();
        let mine_moved: i64 = facts.moved.iter().filter(|m| m.2.as_deref() == Some(&user.id)).map(|m| m.4).sum();
        let content = EventContent::new(format!("本周汇总({period})"), "/api/v1/dockings/queue")
            .line(format!("新增需求 {} 项,新增成果 {} 项", count("needs", None), count("achievements", None)))
            .line(format!("待审核推荐 {waiting_total} 条(指派给您的 {mine_waiting} 条)"))
            .line(format!("本周推进的对接 {moved_total} 个(您负责的 {mine_moved} 个)"))
            .fact("from", from.to_rfc3339())
            .fact("to", slot.to_rfc3339())
            .fact("new_needs", count("needs", None))
            .fact("new_achievements", count("achievements", None))
            .fact("suggestions_waiting", waiting_total)
            .fact("dockings_moved", moved_total);
        events.push(Event::new(NotificationKind::WeeklySummary, "", content, vec![Audience::User(user.id.clone())]));
    }
    for org in cx.store.list_organisations().await? {
        let (needs, achievements) = (count("needs", Some(&org.id)), count("achievements", Some(&org.id)));
        // The parties see a docking from acceptance on.
        let moved: i64 = facts
            .moved
            .iter()
            .filter(|m| {
                (m.0 == org.id || m.1 == org.id)
                    && m.3.parse().is_ok_and(|s: crate::domain::docking::DockingState| s.visible_to_parties())
            })
            .map(|m| m.4)
            .sum();
        if needs + achievements + moved == 0 {
            continue;
        }
        let content = EventContent::new(format!("本周汇总({period})"), "/api/v1/dockings")
            .line(format!("本单位新增需求 {needs} 项,新增成果 {achievements} 项"))
            .line(format!("与本单位有关、本周有进展的对接 {moved} 个"))
            .fact("from", from.to_rfc3339())
            .fact("to", slot.to_rfc3339())
            .fact("new_needs", needs)
            .fact("new_achievements", achievements)
            .fact("dockings_moved", moved);
        events.push(Event::new(NotificationKind::WeeklySummary, "", content, vec![Audience::Org(org.id.clone())]));
    }
    let mut unit = cx.begin(Actor::System("summary")).await?;
    if !unit.set_checkpoint(SUMMARY, slot.timestamp()).await? {
        return Ok(0);
    }
    let written = events.len();
    for event in events {
        unit.notify(event);
    }
    unit.commit().await?;
    tracing::info!(written, %period, "weekly summaries written");
    Ok(written)
}
