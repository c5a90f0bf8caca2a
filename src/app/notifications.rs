//! Notifications: the events operations write (built here, written by their unit of work), every
//! user's inbox, webhook subscriptions, and the delivery of events to them.
//!
//! Who hears of what follows the records' rules: the market's staff (`market`) hear of
//! everything not private; an organisation (`org:…`) hears of a docking only once the parties
//! may see it (accepted by a manager, never a raw suggestion), of its contracts and milestones,
//! and of its own records' expiry; a user (`user:…`) of the summary written for them.
//!
//! Delivery: the notifier (`followers`) fans each new event out to the subscriptions that carry
//! it (`fan_out`: one delivery per event and subscription, kept unique by the database, with
//! the notifier's checkpoint moved in the same unit of work), then sends what is due
//! (`deliver_due`): each delivery is claimed for one attempt (a lease, so instances on one
//! database never send it at once), its URL checked again and its address pinned, sent, and its
//! attempt recorded: delivered, due again after a backoff with jitter, or dead after the last
//! attempt. A service stopping lets the attempts in flight finish and record (nothing sent twice
//! across a restart); one killed mid-attempt sends it again after the lease (at least once; the
//! event id lets the receiver drop the repeat).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::views::PageResponse;
use super::{Actor, App, Code, Error, Result};
use crate::domain::audit::Outcome;
use crate::domain::docking::{Docking, DockingAction, DockingState};
use crate::domain::notification::{
    Audience, Delivery, DeliveryAttempt, DeliveryStatus, Event, EventContent, NotificationKind, Subscription,
    SubscriptionInput, WebhookFormat, backoff,
};
use crate::domain::record::Principal;
use crate::domain::transfer::Transfer;
use crate::domain::vocab::Role;
use crate::storage::{InboxQuery, StoreError};
use crate::webhooks;

/// The notifier's checkpoint in the outbox.
pub const NOTIFIER: &str = "notify";

/// The audiences a user belongs to.
pub fn audiences(who: &Principal) -> Vec<String> {
    let mut keys = vec![Audience::User(who.user_id.clone()).key(), Audience::Org(who.org_id.clone()).key()];
    if who.role.is_staff() && !who.org_pending {
        keys.push(Audience::Market.key());
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// Events the operations write.

/// A record's title as an event may tell it: a private record's title is its owner's alone.
fn shown_title(title: &str, private: bool) -> String {
    if private { "(不公开的记录)".to_string() } else { title.to_string() }
}

/// A strong new suggestion (staff only: the parties hear of it once a manager accepts it).
pub(crate) fn suggestion(d: &Docking, need_title: &str, achievement_title: &str) -> Event {
    let score = d.score.unwrap_or(0.0);
    let content =
        EventContent::new(format!("新的匹配推荐:匹配度 {:.0}%", score * 100.0), format!("/api/v1/dockings/{}", d.id))
            .line(format!("需求:{need_title}"))
            .line(format!("成果:{achievement_title}"))
            .line("请技术经理人审核(确认或否决)")
            .fact("docking_id", d.id.clone())
            .fact("need_id", d.need_id.clone())
            .fact("achievement_id", d.achievement_id.clone())
            .fact("score", score);
    Event::new(NotificationKind::SuggestionNew, &d.id, content, vec![Audience::Market])
}

/// A docking moved from one state to another (`from` none: a manager created it): staff always;
/// the parties when they may see the docking in its new state.
pub(crate) async fn docking_moved(
    cx: &App,
    d: &Docking,
    from: Option<DockingState>,
    action: Option<DockingAction>,
) -> Result<Event, StoreError> {
    let (need_title, achievement_title) = titles(cx, d).await?;
    let headline = match from {
        Some(from) => format!("对接状态变更:{} → {}", from.label(), d.state.label()),
        None => format!("技术经理人新建对接:{}", d.state.label()),
    };
    let mut content = EventContent::new(headline, format!("/api/v1/dockings/{}", d.id))
        .line(format!("需求:{need_title}"))
        .line(format!("成果:{achievement_title}"))
        .fact("docking_id", d.id.clone())
        .fact("from", from.map(|s| s.code()))
        .fact("to", d.state.code());
    if let Some(action) = action {
        content = content.line(format!("操作:{}", action.label())).fact("action", action.code());
    }
    let mut audience = vec![Audience::Market];
    if d.state.visible_to_parties() {
        audience.push(Audience::Org(d.need_org_id.clone()));
        audience.push(Audience::Org(d.achievement_org_id.clone()));
    }
    Ok(Event::new(NotificationKind::DockingChanged, &d.id, content, audience))
}

/// The two records' titles as the docking's events tell them.
async fn titles(cx: &App, d: &Docking) -> Result<(String, String), StoreError> {
    use crate::domain::vocab::Visibility;
    let need = cx.store.get_need(&d.need_id).await?;
    let achievement = cx.store.get_achievement(&d.achievement_id).await?;
    let need_title =
        need.map(|n| shown_title(&n.content.title, n.content.visibility == Visibility::Private)).unwrap_or_default();
    let achievement_title = achievement
        .map(|a| shown_title(&a.content.title, a.content.visibility == Visibility::Private))
        .unwrap_or_default();
    Ok((need_title, achievement_title))
}

fn transfer_audience(t: &Transfer) -> Vec<Audience> {
    vec![Audience::Market, Audience::Org(t.need_org_id.clone()), Audience::Org(t.achievement_org_id.clone())]
}

/// A contract was signed (the docking's `sign`, with its transfer).
pub(crate) fn contract_signed(t: &Transfer) -> Event {
    let content =
        EventContent::new(format!("签约:技术合同 {} 万元", t.content.amount), format!("/api/v1/transfers/{}", t.id))
            .line(format!("合同类型:{}", t.content.contract_type.label()))
            .line(format!("签订日期:{}", t.content.signed_on))
            .fact("transfer_id", t.id.clone())
            .fact("docking_id", t.docking_id.clone())
            .fact("amount", t.content.amount.to_string());
    Event::new(NotificationKind::ContractSigned, &t.id, content, transfer_audience(t))
}

/// Milestones added to a transfer (one event per update that adds any).
pub(crate) fn milestones_recorded(before: &Transfer, after: &Transfer) -> Option<Event> {
    let added: Vec<_> = after.content.milestones.iter().filter(|m| !before.content.milestones.contains(m)).collect();
    let first = added.first()?;
    let mut content = EventContent::new(
        format!("转化里程碑:{}({})", first.kind.label(), first.date),
        format!("/api/v1/transfers/{}", after.id),
    )
    .fact("transfer_id", after.id.clone())
    .fact("milestones", added.iter().map(|m| m.kind.code()).collect::<Vec<_>>());
    for m in &added {
        content = content.line(format!("{} {} {}", m.date, m.kind.label(), m.note).trim().to_string());
    }
    Some(Event::new(NotificationKind::MilestoneRecorded, &after.id, content, transfer_audience(after)))
}

// ---------------------------------------------------------------------------------------------
// The inbox.

/// One notification in a user's inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationResponse {
    /// Its number in the inbox (mark it read with `POST /api/v1/notifications/{seq}/read`).
    pub seq: i64,
    /// The event's id (what webhook receivers deduplicate by).
    pub id: String,
    pub kind: NotificationKind,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    pub headline: String,
    pub lines: Vec<String>,
    /// The record's path in the API.
    pub path: String,
    /// The record it is about.
    pub subject: String,
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub read: bool,
}

/// A page of the inbox: unread first, newest first within each.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxResponse {
    pub items: Vec<NotificationResponse>,
    /// How many are unread in all, counted up to 1000 (1000 means at least that many).
    pub unread: i64,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn parse_cursor(cursor: &str) -> Result<(bool, i64)> {
    let bad = || {
        Error::new(Code::InvalidQuery, format!("`cursor` `{cursor}` is not one this listing gave"))
            .zh(format!("cursor `{cursor}` 不是此列表返回的游标"))
    };
    let (read, seq) = cursor.split_once('-').ok_or_else(bad)?;
    let read = match read {
        "u" => false,
        "r" => true,
        _ => return Err(bad()),
    };
    Ok((read, seq.parse().map_err(|_| bad())?))
}

/// A page of `who`'s inbox.
pub async fn inbox(
    cx: &App,
    who: &Principal,
    unread_only: bool,
    cursor: Option<&str>,
    limit: u32,
) -> Result<InboxResponse> {
    let after = cursor.map(parse_cursor).transpose()?;
    let keys = audiences(who);
    let query =
        InboxQuery { user_id: who.user_id.clone(), audiences: keys.clone(), unread_only, after, limit: limit + 1 };
    let mut rows = cx.store.inbox(&query).await?;
    let next_cursor = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|(e, read)| format!("{}-{}", if *read { "r" } else { "u" }, e.seq)).unwrap_or_default()
    });
    let unread = cx.store.unread_count(&who.user_id, &keys).await?;
    let items = rows
        .into_iter()
        .map(|(e, read)| NotificationResponse {
            seq: e.seq,
            id: e.id,
            kind: e.kind,
            at: e.at,
            headline: e.content.headline,
            lines: e.content.lines,
            path: e.content.path,
            subject: e.subject,
            facts: e.content.facts,
            read,
        })
        .collect();
    Ok(InboxResponse { items, unread, next_cursor })
}

/// Marks one notification read (it must be one the user may see).
pub async fn mark_read(cx: &App, who: &Principal, seq: i64) -> Result<()> {
    if !cx.store.event_reaches(seq, &audiences(who)).await? {
        return Err(Error::new(Code::NotFound, format!("no notification {seq} in your inbox"))
            .zh(format!("您的通知中没有编号 {seq}")));
    }
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    unit.mark_read(&who.user_id, seq, at).await?;
    unit.commit().await?;
    Ok(())
}

/// Marks everything in the inbox read; how many were unread.
pub async fn mark_all_read(cx: &App, who: &Principal) -> Result<i64> {
    let unread = cx.store.unread_count(&who.user_id, &audiences(who)).await?;
    let upto = cx.store.last_event_seq().await?;
    let mut unit = cx.begin(who).await?;
    unit.mark_all_read(&who.user_id, upto).await?;
    unit.commit().await?;
    Ok(unread)
}

// ---------------------------------------------------------------------------------------------
// Subscriptions.

/// A subscription as its owners see it: never its secret, nor its URL's query.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionResponse {
    pub id: String,
    /// `market`, or `org:<id>`.
    pub scope: String,
    pub name: String,
    /// The URL without its query (where a robot's key is).
    pub url: String,
    pub format: WebhookFormat,
    /// The kinds it carries; empty for all.
    pub events: Vec<NotificationKind>,
    /// Whether it signs (has a secret).
    pub signed: bool,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<DateTime<Utc>>,
}

/// A new subscription, with its generated secret shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionCreated {
    #[serde(flatten)]
    pub subscription: SubscriptionResponse,
    /// The generic format's signing secret: shown only now; keep it with the receiver.
    pub secret: Option<String>,
}

impl From<&Subscription> for SubscriptionResponse {
    fn from(s: &Subscription) -> Self {
        SubscriptionResponse {
            id: s.id.clone(),
            scope: s.audience.key(),
            name: s.name.clone(),
            url: s.url_shown(),
            format: s.format,
            events: s.kinds.clone(),
            signed: !s.secret.is_empty(),
            created_by: s.created_by.clone(),
            created_at: s.created_at,
            ended_at: s.ended_at,
        }
    }
}

/// The subscriptions' audiences `who` may manage: staff the market's and (admins) every one;
/// others their organisation's.
fn manages(who: &Principal, s: &Subscription) -> bool {
    match &s.audience {
        _ if who.role == Role::Admin => true,
        Audience::Market => who.role.is_staff(),
        Audience::Org(org) => org == &who.org_id || who.role.is_staff(),
        Audience::User(user) => user == &who.user_id,
    }
}

fn refused(refusal: webhooks::guard::Refusal) -> Error {
    Error::new(Code::WebhookRefused, refusal.en).zh(refusal.zh)
}

/// Registers a webhook. The URL is checked (form, resolved addresses) before anything is kept.
pub async fn subscribe(cx: &App, who: &Principal, input: SubscriptionInput) -> Result<SubscriptionCreated> {
    if who.org_pending {
        return Err(Error::new(
            Code::OrganisationPending,
            "an organisation not approved yet cannot subscribe to events",
        ));
    }
    let audience = match input.scope.as_deref().map(str::trim) {
        None | Some("") if who.role.is_staff() => Audience::Market,
        None | Some("") => Audience::Org(who.org_id.clone()),
        Some("market") if who.role.is_staff() => Audience::Market,
        Some(org) if org == who.org_id || who.role.is_staff() => {
            let org = org.trim_start_matches("org:");
            if cx.store.get_organisation(org).await?.is_none() {
                return Err(Error::new(Code::UnknownOrganisation, format!("no organisation has the id `{org}`")));
            }
            Audience::Org(org.to_string())
        }
        Some(_) => {
            return Err(
                Error::forbidden("you may subscribe to your own organisation's events only").zh("只能订阅本单位的事件")
            );
        }
    };
    let name = input.name.unwrap_or_default().trim().to_string();
    if name.chars().count() > 100 {
        return Err(Error::new(Code::ValidationFailed, "`name` is at most 100 characters").zh("名称最多 100 个字符"));
    }
    if input.url.len() > 2000 {
        return Err(
            Error::new(Code::WebhookRefused, "the URL is longer than 2000 characters").zh("回调地址超过 2000 个字符")
        );
    }
    let given = input.secret.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (secret, shown) = match (input.format, given) {
        (WebhookFormat::Generic, None) => {
            let secret = format!("whsec_{}", crate::domain::org::hex_random());
            (secret.clone(), Some(secret))
        }
        (WebhookFormat::Generic, Some(_)) => {
            return Err(Error::new(
                Code::FieldNotAllowed,
                "the generic format's secret is generated: leave `secret` out",
            )
            .zh("通用格式的密钥由系统生成,请不要填写 secret"));
        }
        (WebhookFormat::Wecom, Some(_)) => {
            return Err(Error::new(
                Code::FieldNotAllowed,
                "WeCom robots do not sign: the key in the URL is their secret",
            )
            .zh("企业微信群机器人不使用签名:地址中的 key 就是密钥,请不要填写 secret"));
        }
        (_, given) => (given.unwrap_or_default(), None),
    };
    if secret.len() > 200 {
        return Err(
            Error::new(Code::ValidationFailed, "`secret` is at most 200 characters").zh("secret 最多 200 个字符")
        );
    }
    webhooks::guard::check(&input.url, &cx.notifications.allow_hosts).await.map_err(refused)?;
    let mut kinds = input.events.unwrap_or_default();
    kinds.sort_by_key(|k| k.code());
    kinds.dedup();
    let subscription = Subscription {
        id: crate::domain::new_id(),
        audience,
        org_id: who.org_id.clone(),
        created_by: who.user_id.clone(),
        name,
        url: input.url.trim().to_string(),
        format: input.format,
        kinds,
        secret,
        created_at: cx.clock.now(),
        ended_at: None,
    };
    let mut unit = cx.begin(who).await?;
    unit.insert_subscription(&subscription).await?;
    unit.audit("subscription.create", vec![subscription.id.clone()], Outcome::Ok, subscription.format.code());
    unit.commit().await?;
    tracing::info!(subscription = %subscription.id, url = %subscription.url_shown(), format = %subscription.format, "webhook subscribed");
    Ok(SubscriptionCreated { subscription: SubscriptionResponse::from(&subscription), secret: shown })
}

/// The subscriptions `who` may manage, newest first.
pub async fn subscriptions(cx: &App, who: &Principal) -> Result<Vec<SubscriptionResponse>> {
    let all = if who.role == Role::Admin {
        cx.store.list_subscriptions(None).await?
    } else {
        cx.store.list_subscriptions(Some(&audiences(who))).await?
    };
    Ok(all.iter().filter(|s| manages(who, s)).map(SubscriptionResponse::from).collect())
}

async fn load(cx: &App, who: &Principal, id: &str) -> Result<Subscription> {
    let id = super::check_id("subscription", id)?;
    match cx.store.get_subscription(id).await? {
        Some(s) if manages(who, &s) => Ok(s),
        _ => Err(Error::not_found("subscription", id)),
    }
}

pub async fn subscription(cx: &App, who: &Principal, id: &str) -> Result<SubscriptionResponse> {
    Ok(SubscriptionResponse::from(&load(cx, who, id).await?))
}

/// Ends a subscription: nothing more is sent to it (its pending deliveries are given up).
pub async fn unsubscribe(cx: &App, who: &Principal, id: &str) -> Result<()> {
    let s = load(cx, who, id).await?;
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    unit.end_subscription(&s.id, at).await?;
    unit.audit("subscription.end", vec![s.id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    Ok(())
}

/// One delivery, with its attempts when asked for one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: String,
    pub subscription_id: String,
    /// The event's number in the outbox (and in the inbox).
    pub event_seq: i64,
    pub event_id: String,
    pub event_kind: NotificationKind,
    pub status: DeliveryStatus,
    /// Attempts in this round (a redelivery starts a new round).
    pub attempts: i64,
    #[schema(value_type = String, format = DateTime)]
    pub next_at: DateTime<Utc>,
    /// The last attempt's HTTP status, its error and how long it took.
    pub last_code: Option<i64>,
    pub last_error: String,
    pub last_latency_ms: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt (on a single delivery's read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<DeliveryAttempt>>,
}

async fn delivery_view(cx: &App, d: Delivery, log: bool) -> Result<DeliveryResponse> {
    let event = cx.store.get_event(d.event_seq).await?;
    let log = if log { Some(cx.store.delivery_attempts(&d.id).await?) } else { None };
    Ok(DeliveryResponse {
        event_id: event.as_ref().map(|e| e.id.clone()).unwrap_or_default(),
        event_kind: event.map_or(NotificationKind::WeeklySummary, |e| e.kind),
        id: d.id,
        subscription_id: d.subscription_id,
        event_seq: d.event_seq,
        status: d.status,
        attempts: d.attempts,
        next_at: d.next_at,
        last_code: d.last_code,
        last_error: d.last_error,
        last_latency_ms: d.last_latency_ms,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        log,
    })
}

/// A subscription's delivery log, newest event first.
pub async fn deliveries(
    cx: &App,
    who: &Principal,
    id: &str,
    status: Option<DeliveryStatus>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<PageResponse<DeliveryResponse>> {
    let s = load(cx, who, id).await?;
    let before = cursor
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                Error::new(Code::InvalidQuery, format!("`cursor` `{c}` is not one this listing gave"))
                    .zh(format!("cursor `{c}` 不是此列表返回的游标"))
            })
        })
        .transpose()?;
    let page = cx.store.list_deliveries(&s.id, status, before, limit).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for d in page.items {
        items.push(delivery_view(cx, d, false).await?);
    }
    Ok(PageResponse { items, next_cursor: page.next_cursor })
}

async fn load_delivery(cx: &App, who: &Principal, id: &str) -> Result<Delivery> {
    let id = super::check_id("delivery", id)?;
    let d = cx.store.get_delivery(id).await?.ok_or_else(|| Error::not_found("delivery", id))?;
    load(cx, who, &d.subscription_id).await.map_err(|_| Error::not_found("delivery", id))?;
    Ok(d)
}

/// One delivery with every attempt.
pub async fn delivery(cx: &App, who: &Principal, id: &str) -> Result<DeliveryResponse> {
    let d = load_delivery(cx, who, id).await?;
    delivery_view(cx, d, true).await
}

/// Sends a delivered or dead delivery again, now, with a fresh count of attempts.
pub async fn redeliver(cx: &App, who: &Principal, id: &str) -> Result<DeliveryResponse> {
    let d = load_delivery(cx, who, id).await?;
    let s = load(cx, who, &d.subscription_id).await?;
    if s.ended_at.is_some() {
        return Err(Error::new(Code::FieldNotAllowed, "the subscription has ended: nothing is sent to it")
            .zh("该订阅已停用,不会再发送"));
    }
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    if !unit.redeliver(&d.id, at).await? {
        return Err(Error::new(Code::AlreadyDelivering, "the delivery is pending already"));
    }
    unit.audit("delivery.redeliver", vec![d.id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    let d = cx.store.get_delivery(&d.id).await?.ok_or_else(|| Error::not_found("delivery", id))?;
    delivery_view(cx, d, true).await
}

// ---------------------------------------------------------------------------------------------
// Delivery.

/// Events read per pass of the fan-out.
const FAN_OUT_BATCH: u32 = 500;

/// Turns new events into deliveries for the subscriptions that carry them, and moves the
/// notifier's checkpoint, in one unit of work; how many deliveries were added.
pub async fn fan_out(cx: &App) -> Result<u64, StoreError> {
    let mut added = 0;
    loop {
        let from = cx.store.checkpoint(NOTIFIER).await?;
        let events = cx.store.events_after(from, FAN_OUT_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else { return Ok(added) };
        let subscriptions: Vec<Subscription> =
            cx.store.list_subscriptions(None).await?.into_iter().filter(|s| s.ended_at.is_none()).collect();
        let now = cx.clock.now();
        let deliveries: Vec<Delivery> = events
            .iter()
            .flat_map(|e| {
                subscriptions
                    .iter()
                    .filter(|s| s.carries(e.kind) && e.audience.contains(&s.audience) && s.created_at <= e.at)
                    .map(|s| Delivery {
                        id: crate::domain::new_id(),
                        subscription_id: s.id.clone(),
                        event_seq: e.seq,
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        next_at: now,
                        last_code: None,
                        last_error: String::new(),
                        last_latency_ms: None,
                        created_at: now,
                        delivered_at: None,
                    })
            })
            .collect();
        let mut unit = cx.begin(Actor::System("notifier")).await?;
        added += unit.insert_deliveries(&deliveries).await?;
        unit.set_checkpoint(NOTIFIER, last).await?;
        unit.commit().await?;
        if events.len() < FAN_OUT_BATCH as usize {
            return Ok(added);
        }
    }
}

/// A random number in [0, 1) for the jitter.
fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Sends the deliveries due now, `concurrency` at a time; how many were attempted.
pub async fn deliver_due(cx: &App) -> Result<usize, StoreError> {
    let settings = &cx.notifications;
    let due = cx.store.due_deliveries(cx.clock.now(), (settings.concurrency * 4) as u32).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut subscriptions: HashMap<String, Option<Subscription>> = HashMap::new();
    let mut events: HashMap<i64, Option<Event>> = HashMap::new();
    for d in &due {
        if !subscriptions.contains_key(&d.subscription_id) {
            subscriptions.insert(d.subscription_id.clone(), cx.store.get_subscription(&d.subscription_id).await?);
        }
        if !events.contains_key(&d.event_seq) {
            events.insert(d.event_seq, cx.store.get_event(d.event_seq).await?);
        }
    }
    // Claimed together in one unit of work (one transaction, not one per delivery): each for one
    // attempt, until its lease ends.
    let timeout = Duration::from_secs(settings.timeout_secs.max(1));
    let lease =
        chrono::Duration::from_std(timeout * 2 + Duration::from_secs(30)).unwrap_or(chrono::Duration::minutes(5));
    let now = cx.clock.now();
    let mut unit = cx.begin(Actor::System("notifier")).await?;
    let mut claimed = Vec::with_capacity(due.len());
    for d in due {
        if unit.claim_delivery(&d.id, now, now + lease).await? {
            claimed.push(d);
        }
    }
    unit.commit().await?;
    let attempted = futures_util::stream::iter(claimed)
        .map(|d| {
            let s = subscriptions.get(&d.subscription_id).cloned().flatten();
            let e = events.get(&d.event_seq).cloned().flatten();
            async move { attempt(cx, d, s, e, timeout).await }
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let count = attempted.len();
    attempted.into_iter().collect::<Result<(), _>>()?;
    Ok(count)
}

/// One attempt of one claimed delivery: sent and recorded.
async fn attempt(
    cx: &App,
    mut d: Delivery,
    subscription: Option<Subscription>,
    event: Option<Event>,
    timeout: Duration,
) -> Result<(), StoreError> {
    let settings = &cx.notifications;
    d.attempts += 1;
    let answer = match (subscription, event) {
        (Some(s), Some(e)) if s.ended_at.is_none() => send(cx, &s, &e, timeout).await,
        _ => webhooks::Answer {
            code: None,
            latency: Duration::ZERO,
            error: Some("the subscription has ended or the event is gone".into()),
        },
    };
    let at = cx.clock.now();
    match &answer.error {
        None => {
            d.status = DeliveryStatus::Delivered;
            d.delivered_at = Some(at);
        }
        Some(error) if d.attempts >= settings.max_attempts => {
            d.status = DeliveryStatus::Dead;
            tracing::warn!(delivery = %d.id, subscription = %d.subscription_id, attempts = d.attempts, %error, "a webhook delivery was given up");
        }
        Some(error) => {
            let wait = backoff(
                d.attempts,
                Duration::from_millis(settings.retry_base_ms),
                Duration::from_millis(settings.retry_max_ms),
                unit_random(),
            );
            d.next_at = at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            tracing::info!(delivery = %d.id, attempt = d.attempts, %error, retry_in_ms = wait.as_millis() as u64, "a webhook delivery failed; retrying later");
        }
    }
    let record = DeliveryAttempt {
        attempt: d.attempts,
        at,
        code: answer.code.map(i64::from),
        latency_ms: answer.latency.as_millis() as i64,
        error: answer.error.unwrap_or_default(),
    };
    let mut unit = cx.begin(Actor::System("notifier")).await?;
    unit.record_attempt(&d, &record).await?;
    unit.commit().await?;
    Ok(())
}

/// Checks the subscription's URL again (its addresses may have changed since registration),
/// and sends the event to the addresses checked.
async fn send(cx: &App, s: &Subscription, e: &Event, timeout: Duration) -> webhooks::Answer {
    let target = match webhooks::guard::check(&s.url, &cx.notifications.allow_hosts).await {
        Ok(target) => target,
        Err(refusal) => {
            return webhooks::Answer {
                code: None,
                latency: Duration::ZERO,
                error: Some(format!("refused: {}", refusal.en)),
            };
        }
    };
    let base = cx.notifications.public_url.trim().trim_end_matches('/');
    let link = (!base.is_empty() && !e.content.path.is_empty()).then(|| format!("{base}{}", e.content.path));
    let outgoing = webhooks::render(s.format, &s.url, &s.secret, e, link.as_deref(), cx.clock.now());
    webhooks::send(s.format, &target, outgoing, timeout).await
}
