//! Notifications: the outbox and its audiences, inboxes and read marks, subscriptions,
//! deliveries (claimed once, recorded, redelivered), the expiry sweep's reads and the week's facts.

use chrono::Duration;
use techmarket::domain::docking::{DockingState, EventKind as DockingEventKind};
use techmarket::domain::notification::{
    Audience, Delivery, DeliveryAttempt, DeliveryStatus, Event, EventContent, NotificationKind, Subscription,
    WebhookFormat,
};
use techmarket::domain::record::Library;
use techmarket::domain::vocab::{OrgKind, RecordStatus, Role};
use techmarket::storage::{ExpiryBound, InboxQuery, Store};

use super::dockings::{docking, event, pair};
use super::{org, user};
use crate::helpers::{now, spawn_store, write};

fn outbox_event(kind: NotificationKind, subject: &str, audience: Vec<Audience>) -> Event {
    let mut e = Event::new(
        kind,
        subject,
        EventContent::new("新的匹配推荐:匹配度 82%", "/api/v1/dockings/x").line("需求:固态电池"),
        audience,
    );
    e.at = now();
    e
}

async fn insert(store: &dyn Store, e: &Event) -> i64 {
    let seqs = write(store, async |tx| tx.insert_events(std::slice::from_ref(e)).await).await.unwrap();
    seqs[0]
}

#[tokio::test]
async fn events_keep_their_order_audience_and_read_marks() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营华泰化工集团", OrgKind::Enterprise).await;
    let a = user(store.as_ref(), &e, Role::Enterprise).await;
    assert_eq!(store.last_event_seq().await.unwrap(), 0);
    let market = outbox_event(NotificationKind::SuggestionNew, "d1", vec![Audience::Market]);
    let theirs =
        outbox_event(NotificationKind::DockingChanged, "d1", vec![Audience::Market, Audience::Org(e.id.clone())]);
    let mine = outbox_event(NotificationKind::WeeklySummary, "", vec![Audience::User(a.id.clone())]);
    let s1 = insert(store.as_ref(), &market).await;
    let s2 = insert(store.as_ref(), &theirs).await;
    let s3 = insert(store.as_ref(), &mine).await;
    assert!(s1 < s2 && s2 < s3);
    assert_eq!(store.last_event_seq().await.unwrap(), s3);
    let all = store.events_after(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [s1, s2, s3]);
    assert_eq!(all[1].audience, [Audience::Market, Audience::Org(e.id.clone())]);
    assert_eq!(all[1].content, theirs.content);
    assert_eq!(all[1].id, theirs.id);
    assert_eq!(store.events_after(s2, 10).await.unwrap().len(), 1);
    assert_eq!(store.get_event(s2).await.unwrap().unwrap().audience, all[1].audience);
    assert!(store.get_event(s3 + 1).await.unwrap().is_none());

    let keys = vec![Audience::User(a.id.clone()).key(), Audience::Org(e.id.clone()).key()];
    assert!(store.event_reaches(s2, &keys).await.unwrap());
    assert!(!store.event_reaches(s1, &keys).await.unwrap(), "the market's alone");
    let query = |unread_only, after| InboxQuery {
        user_id: a.id.clone(),
        audiences: keys.clone(),
        unread_only,
        after,
        limit: 10,
    };
    let inbox = store.inbox(&query(false, None)).await.unwrap();
    assert_eq!(inbox.iter().map(|(e, read)| (e.seq, *read)).collect::<Vec<_>>(), [(s3, false), (s2, false)]);
    assert_eq!(store.unread_count(&a.id, &keys).await.unwrap(), 2);

    let at = now();
    assert!(write(store.as_ref(), async |tx| tx.mark_read(&a.id, s3, at).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.mark_read(&a.id, s3, at).await).await.unwrap(), "once");
    let inbox = store.inbox(&query(false, None)).await.unwrap();
    assert_eq!(
        inbox.iter().map(|(e, read)| (e.seq, *read)).collect::<Vec<_>>(),
        [(s2, false), (s3, true)],
        "unread first"
    );
    assert_eq!(store.inbox(&query(false, Some((false, s2)))).await.unwrap().len(), 1, "after the cursor");
    assert_eq!(store.inbox(&query(true, None)).await.unwrap().len(), 1);
    write(store.as_ref(), async |tx| tx.mark_all_read(&a.id, s3).await).await.unwrap();
    assert_eq!(store.unread_count(&a.id, &keys).await.unwrap(), 0);
    write(store.as_ref(), async |tx| tx.mark_all_read(&a.id, s1).await).await.unwrap();
    assert_eq!(store.unread_count(&a.id, &keys).await.unwrap(), 0, "a mark never moves back");
}

fn delivery(subscription: &Subscription, seq: i64) -> Delivery {
    let at = now();
    Delivery {
        id: techmarket::domain::new_id(),
        subscription_id: subscription.id.clone(),
        event_seq: seq,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_at: at,
        last_code: None,
        last_error: String::new(),
        last_latency_ms: None,
        created_at: at,
        delivered_at: None,
    }
}

#[tokio::test]
async fn deliveries_are_made_once_claimed_once_and_logged() {
    let (store, _dir) = spawn_store().await;
    let o = org(store.as_ref(), "东营市科技大市场运营中心", OrgKind::Operator).await;
    let m = user(store.as_ref(), &o, Role::Manager).await;
    let at = now();
    let s = Subscription {
        id: techmarket::domain::new_id(),
        audience: Audience::Market,
        org_id: o.id.clone(),
        created_by: m.id.clone(),
        name: "对接群".into(),
        url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into(),
        format: WebhookFormat::Wecom,
        kinds: vec![NotificationKind::DockingChanged, NotificationKind::SuggestionNew],
        secret: String::new(),
        created_at: at,
        ended_at: None,
    };
    write(store.as_ref(), async |tx| tx.insert_subscription(&s).await).await.unwrap();
    assert_eq!(store.get_subscription(&s.id).await.unwrap().unwrap(), s);
    assert_eq!(store.list_subscriptions(None).await.unwrap(), [s.clone()]);
    assert_eq!(store.list_subscriptions(Some(&["market".to_string()])).await.unwrap().len(), 1);
    assert!(store.list_subscriptions(Some(&[format!("org:{}", o.id)])).await.unwrap().is_empty());

    let seq = insert(store.as_ref(), &outbox_event(NotificationKind::SuggestionNew, "d", vec![Audience::Market])).await;
    let d = delivery(&s, seq);
    assert_eq!(
        write(store.as_ref(), async |tx| tx.insert_deliveries(std::slice::from_ref(&d)).await).await.unwrap(),
        1
    );
    let again = delivery(&s, seq);
    assert_eq!(
        write(store.as_ref(), async |tx| tx.insert_deliveries(&[again]).await).await.unwrap(),
        0,
        "one per event"
    );
    assert_eq!(store.get_delivery(&d.id).await.unwrap().unwrap(), d);

    // Claimed once: a second claim while the lease lives fails; the claim counts the attempt.
    let now1 = now();
    assert_eq!(store.due_deliveries(now1, 10).await.unwrap().len(), 1);
    let lease = now1 + Duration::seconds(30);
    assert!(write(store.as_ref(), async |tx| tx.claim_delivery(&d.id, now1, lease).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.claim_delivery(&d.id, now1, lease).await).await.unwrap());
    assert!(store.due_deliveries(now1, 10).await.unwrap().is_empty(), "held by the claim");
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(lease));
    assert_eq!(store.get_delivery(&d.id).await.unwrap().unwrap().attempts, 1);

    // A failed attempt: due again later, logged.
    let mut failed = store.get_delivery(&d.id).await.unwrap().unwrap();
    failed.next_at = now1 + Duration::seconds(5);
    let attempt = DeliveryAttempt {
        attempt: 1,
        at: now1,
        code: Some(500),
        latency_ms: 12,
        error: "the receiver answered HTTP 500".into(),
    };
    write(store.as_ref(), async |tx| tx.record_attempt(&failed, &attempt).await).await.unwrap();
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(failed.next_at));
    assert!(store.due_deliveries(now1, 10).await.unwrap().is_empty());
    assert_eq!(store.due_deliveries(failed.next_at, 10).await.unwrap().len(), 1);
    let stored = store.get_delivery(&d.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.last_code, stored.last_latency_ms, stored.last_error.as_str()),
        (Some(500), Some(12), "the receiver answered HTTP 500")
    );

    // Delivered: not due, not redelivered while pending; redelivered afterwards with a fresh count.
    let mut done = stored.clone();
    done.status = DeliveryStatus::Delivered;
    done.delivered_at = Some(now1);
    let ok = DeliveryAttempt { attempt: 2, at: now1, code: Some(200), latency_ms: 8, error: String::new() };
    write(store.as_ref(), async |tx| tx.record_attempt(&done, &ok).await).await.unwrap();
    assert_eq!(store.delivery_attempts(&d.id).await.unwrap().iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(store.next_delivery_at().await.unwrap(), None);
    let page = store.list_deliveries(&s.id, Some(DeliveryStatus::Delivered), None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(store.list_deliveries(&s.id, Some(DeliveryStatus::Dead), None, 10).await.unwrap().items.is_empty());
    assert!(store.list_deliveries(&s.id, None, Some(seq), 10).await.unwrap().items.is_empty(), "before the cursor");
    let later = now1 + Duration::seconds(1);
    assert!(write(store.as_ref(), async |tx| tx.redeliver(&d.id, later).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.redeliver(&d.id, later).await).await.unwrap(), "pending already");
    let pending = store.get_delivery(&d.id).await.unwrap().unwrap();
    assert_eq!((pending.status, pending.attempts, pending.next_at), (DeliveryStatus::Pending, 0, later));

    // Ending the subscription gives its pending deliveries up.
    assert!(write(store.as_ref(), async |tx| tx.end_subscription(&s.id, later).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.end_subscription(&s.id, later).await).await.unwrap());
    assert_eq!(store.get_delivery(&d.id).await.unwrap().unwrap().status, DeliveryStatus::Dead);
    assert_eq!(store.get_subscription(&s.id).await.unwrap().unwrap().ended_at, Some(later));
}

#[tokio::test]
async fn the_sweep_finds_what_is_due_and_the_week_is_counted() {
    let (store, _dir) = spawn_store().await;
    let (n, a) = pair(&store, "到期").await;
    let at = now();
    let bound = |days: i64, unreminded| ExpiryBound {
        deadline_before: techmarket::domain::market_today(at + Duration::days(days)),
        confirmed_before: at + Duration::days(days) - Duration::days(365),
        unreminded,
    };
    assert!(store.due_to_expire(Library::Achievements, &bound(0, false), 10).await.unwrap().is_empty());
    assert_eq!(store.due_to_expire(Library::Achievements, &bound(366, false), 10).await.unwrap(), [a.meta.id.clone()]);
    // The need's deadline (from the test body) decides for it, not its confirmation.
    let deadline = n.content.deadline.expect("the test need has a deadline");
    let days = (deadline - techmarket::domain::market_today(at)).num_days();
    assert!(store.due_to_expire(Library::Needs, &bound(days, false), 10).await.unwrap().is_empty());
    assert_eq!(store.due_to_expire(Library::Needs, &bound(days + 1, false), 10).await.unwrap(), [n.meta.id.clone()]);
    write(store.as_ref(), async |tx| tx.mark_reminded(Library::Achievements, &a.meta.id, at).await).await.unwrap();
    assert!(store.due_to_expire(Library::Achievements, &bound(366, true), 10).await.unwrap().is_empty(), "reminded");
    assert_eq!(store.get_achievement(&a.meta.id).await.unwrap().unwrap().meta.reminded_at, Some(at));
    let mut closed = store.get_achievement(&a.meta.id).await.unwrap().unwrap();
    closed.meta.status = RecordStatus::Closed;
    write(store.as_ref(), async |tx| tx.update_achievement(&closed, at).await).await.unwrap();
    assert!(store.due_to_expire(Library::Achievements, &bound(366, false), 10).await.unwrap().is_empty(), "open only");

    // The week: records created, dockings that moved, suggestions waiting.
    let suggested = docking(&n, &a, DockingState::Suggested, 0.8);
    let created = event(&suggested, DockingEventKind::Created, Some(DockingState::Suggested), "");
    write(store.as_ref(), async |tx| tx.create_docking(&suggested, &created, false).await).await.unwrap();
    let facts = store.week_facts(at - Duration::days(7), now() + Duration::seconds(1)).await.unwrap();
    assert!(facts.new_records.contains(&(n.meta.org_id.clone(), "needs".into(), 1)), "{facts:?}");
    assert!(facts.new_records.contains(&(a.meta.org_id.clone(), "achievements".into(), 1)));
    assert_eq!(facts.waiting, [(None, 1)]);
    assert!(facts.moved.is_empty(), "creation is not a move");
    let mut accepted = suggested.clone();
    accepted.state = DockingState::Accepted;
    let moved = event(&accepted, DockingEventKind::Transition, Some(DockingState::Accepted), "");
    write(store.as_ref(), async |tx| tx.update_docking(&accepted, &moved).await).await.unwrap();
    let facts = store.week_facts(at - Duration::days(7), now() + Duration::seconds(1)).await.unwrap();
    assert_eq!(facts.moved, [(n.meta.org_id.clone(), a.meta.org_id.clone(), None, "accepted".to_string(), 1)]);
    assert!(facts.waiting.is_empty());
}

#[tokio::test]
async fn old_events_are_pruned_with_their_marks_and_finished_deliveries_but_not_pending_ones() {
    let (store, _dir) = spawn_store().await;
    let o = org(store.as_ref(), "东营市科技大市场运营中心", OrgKind::Operator).await;
    let m = user(store.as_ref(), &o, Role::Manager).await;
    let s = Subscription {
        id: techmarket::domain::new_id(),
        audience: Audience::Market,
        org_id: o.id.clone(),
        created_by: m.id.clone(),
        name: String::new(),
        url: "https://example.cn/hook".into(),
        format: WebhookFormat::Generic,
        kinds: vec![],
        secret: "whsec_x".into(),
        created_at: now(),
        ended_at: None,
    };
    write(store.as_ref(), async |tx| tx.insert_subscription(&s).await).await.unwrap();
    let aged = |days: i64| {
        let mut e = outbox_event(NotificationKind::DockingChanged, "d", vec![Audience::Market]);
        e.at = now() - Duration::days(days);
        e
    };
    let done = insert(store.as_ref(), &aged(200)).await;
    let waiting = insert(store.as_ref(), &aged(200)).await;
    let recent = insert(store.as_ref(), &aged(1)).await;
    let at = now();
    write(store.as_ref(), async |tx| tx.mark_read(&m.id, done, at).await).await.unwrap();
    let mut delivered = delivery(&s, done);
    let pending = delivery(&s, waiting);
    write(store.as_ref(), async |tx| tx.insert_deliveries(&[delivered.clone(), pending.clone()]).await).await.unwrap();
    delivered.status = DeliveryStatus::Delivered;
    let ok = DeliveryAttempt { attempt: 1, at, code: Some(200), latency_ms: 3, error: String::new() };
    write(store.as_ref(), async |tx| tx.record_attempt(&delivered, &ok).await).await.unwrap();

    let pruned =
        write(store.as_ref(), async |tx| tx.prune_notifications(at - Duration::days(180)).await).await.unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<i64> = store.events_after(0, 10).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(left, [waiting, recent], "a pending delivery keeps its event");
    assert!(store.get_delivery(&delivered.id).await.unwrap().is_none());
    assert!(store.delivery_attempts(&delivered.id).await.unwrap().is_empty());
    assert!(store.get_delivery(&pending.id).await.unwrap().is_some());
    assert_eq!(store.get_event(waiting).await.unwrap().unwrap().audience, [Audience::Market]);
}
