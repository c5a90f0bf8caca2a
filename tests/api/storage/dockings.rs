//! The docking library: one open docking per pair, the matcher's respect for history, versioned
//! updates with their events, listings and the matcher's checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use crate::helpers::now;
use crate::helpers::write;
use techmarket::domain::achievement::Achievement;
use techmarket::domain::docking::{Docking, DockingEvent, DockingSource, DockingState, EventKind, ReasonCode};
use techmarket::domain::need::Need;
use techmarket::domain::new_id;
use techmarket::domain::record::Library;
use techmarket::domain::vocab::{OrgKind, RecordStatus, Role};
use techmarket::storage::{DockingQuery, Store, StoreError};

use super::{achievement, need, org, user};
use crate::helpers::spawn_store;

pub(crate) fn docking(n: &Need, a: &Achievement, state: DockingState, score: f64) -> Docking {
    let at = now();
    Docking {
        id: new_id(),
        need_id: n.meta.id.clone(),
        achievement_id: a.meta.id.clone(),
        need_org_id: n.meta.org_id.clone(),
        achievement_org_id: a.meta.org_id.clone(),
        state,
        reason: None,
        source: DockingSource::Suggested,
        score: Some(score),
        explanation: serde_json::json!({"summary": "匹配度 80%"}),
        matcher_version: Some("match-2".into()),
        dictionary_version: Some("2-test".into()),
        need_fingerprint: "need-fp-1".into(),
        achievement_fingerprint: "achievement-fp-1".into(),
        manager_id: None,
        field: n.content.field,
        region: n.content.region.clone(),
        was_introduced: false,
        need_interest: false,
        achievement_interest: false,
        created_by: None,
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

pub(crate) fn event(d: &Docking, kind: EventKind, to: Option<DockingState>, note: &str) -> DockingEvent {
    DockingEvent {
        docking_id: d.id.clone(),
        at: now(),
        actor_id: None,
        actor_role: "manager".into(),
        kind,
        action: None,
        from_state: None,
        to_state: to,
        reason: None,
        note: note.into(),
    }
}

/// An enterprise's need and a university's achievement, stored.
pub(crate) async fn pair(store: &Arc<dyn Store>, tag: &str) -> (Need, Achievement) {
    let e = org(store.as_ref(), &format!("东营{tag}化工有限公司"), OrgKind::Enterprise).await;
    let u = org(store.as_ref(), &format!("{tag}理工大学"), OrgKind::University).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let professor = user(store.as_ref(), &u, Role::University).await;
    let n = need(&e, &author, serde_json::json!({}));
    let a = achievement(&u, &professor);
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
    (n, a)
}

#[tokio::test]
async fn a_pair_has_one_open_docking_and_history_is_respected_only_when_asked() {
    let (store, _dir) = spawn_store().await;
    let (n, a) = pair(&store, "甲").await;
    let first = docking(&n, &a, DockingState::Suggested, 0.8);
    let created = event(&first, EventKind::Created, Some(DockingState::Suggested), "score 0.80");
    assert_eq!(write(store.as_ref(), async |tx| tx.create_docking(&first, &created, true).await).await.unwrap(), None);
    assert_eq!(store.get_docking(&first.id).await.unwrap().unwrap(), first);
    assert_eq!(store.docking_events(&first.id).await.unwrap(), [created]);

    // The pair is open: a second docking is refused with the one in the way.
    let second = docking(&n, &a, DockingState::Accepted, 0.8);
    let blocking = write(store.as_ref(), async |tx| {
        tx.create_docking(&second, &event(&second, EventKind::Created, None, ""), false).await
    })
    .await
    .unwrap();
    assert_eq!(blocking.map(|d| d.id), Some(first.id.clone()));
    assert!(store.get_docking(&second.id).await.unwrap().is_none());

    // Rejected: a manual docking may pair them again; the matcher may not while the records read
    // as they did, and may once a side changed materially (another fingerprint).
    let mut rejected = first.clone();
    rejected.state = DockingState::Rejected;
    rejected.reason = Some(ReasonCode::BudgetGap);
    let rejecting = event(&first, EventKind::Transition, Some(DockingState::Rejected), "");
    write(store.as_ref(), async |tx| tx.update_docking(&rejected, &rejecting).await).await.unwrap();
    let again = docking(&n, &a, DockingState::Suggested, 0.8);
    let stood = write(store.as_ref(), async |tx| {
        tx.create_docking(&again, &event(&again, EventKind::Created, None, ""), true).await
    })
    .await
    .unwrap();
    assert_eq!(stood.map(|d| d.id), Some(first.id.clone()), "the matcher respects the rejection");
    let mut changed = docking(&n, &a, DockingState::Suggested, 0.9);
    changed.need_fingerprint = "need-fp-2".into();
    assert_eq!(
        write(store.as_ref(), async |tx| tx
            .create_docking(&changed, &event(&changed, EventKind::Created, None, ""), true)
            .await)
        .await
        .unwrap(),
        None
    );
}

#[tokio::test]
async fn an_update_applies_on_its_version_and_appends_its_event() {
    let (store, _dir) = spawn_store().await;
    let (n, a) = pair(&store, "乙").await;
    let d = docking(&n, &a, DockingState::Suggested, 0.7);
    write(store.as_ref(), async |tx| tx.create_docking(&d, &event(&d, EventKind::Created, None, "建议"), false).await)
        .await
        .unwrap();
    let operator = org(store.as_ref(), "东营市科技大市场运营中心", OrgKind::Operator).await;
    let manager = user(store.as_ref(), &operator, Role::Manager).await;
    let mut accepted = d.clone();
    accepted.state = DockingState::Accepted;
    accepted.manager_id = Some(manager.id.clone());
    accepted.need_interest = true;
    let mut by_manager = event(&d, EventKind::Transition, Some(DockingState::Accepted), "接受");
    by_manager.actor_id = Some(manager.id.clone());
    let stored = write(store.as_ref(), async |tx| tx.update_docking(&accepted, &by_manager).await).await.unwrap();
    assert_eq!((stored.version, stored.state, stored.need_interest), (2, DockingState::Accepted, true));
    assert_eq!(stored.manager_id, accepted.manager_id);
    assert_eq!(store.get_docking(&d.id).await.unwrap().unwrap(), stored);
    let stale =
        write(store.as_ref(), async |tx| tx.update_docking(&accepted, &event(&d, EventKind::Note, None, "过期")).await)
            .await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "{stale:?}");
    let notes: Vec<String> = store.docking_events(&d.id).await.unwrap().into_iter().map(|e| e.note).collect();
    assert_eq!(notes, ["建议", "接受"], "oldest first; the refused write added nothing");
    let activity = store.manager_events(&techmarket::domain::stats::StatsFilter::default()).await.unwrap();
    assert_eq!(activity, [(manager.id.clone(), 1, 1)], "the manager's one event on one docking");
}

#[tokio::test]
async fn listings_filter_order_and_page_and_parties_see_theirs_from_acceptance_on() {
    let (store, _dir) = spawn_store().await;
    let (n1, a1) = pair(&store, "丙").await;
    let (n2, a2) = pair(&store, "丁").await;
    let d1 = docking(&n1, &a1, DockingState::Suggested, 0.6);
    let d2 = docking(&n1, &a2, DockingState::Suggested, 0.9);
    let d3 = docking(&n2, &a1, DockingState::Accepted, 0.7);
    for d in [&d1, &d2, &d3] {
        write(store.as_ref(), async |tx| tx.create_docking(d, &event(d, EventKind::Created, None, ""), false).await)
            .await
            .unwrap();
    }
    let ids = |page: techmarket::storage::Page<Docking>| page.items.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let queue = DockingQuery { states: vec![DockingState::Suggested], by_score: true, limit: 10, ..Default::default() };
    assert_eq!(ids(store.list_dockings(&queue).await.unwrap()), [d2.id.clone(), d1.id.clone()], "best first");
    let of_need = DockingQuery { need_id: Some(n1.meta.id.clone()), limit: 10, ..Default::default() };
    assert_eq!(store.list_dockings(&of_need).await.unwrap().items.len(), 2);
    let of_org = DockingQuery { org_id: Some(a1.meta.org_id.clone()), limit: 10, ..Default::default() };
    assert_eq!(store.list_dockings(&of_org).await.unwrap().items.len(), 2, "either side's organisation");
    // A party sees its own dockings from acceptance on: the university of a1 sees d3 only.
    let party = DockingQuery { party_org: Some(a1.meta.org_id.clone()), limit: 10, ..Default::default() };
    assert_eq!(ids(store.list_dockings(&party).await.unwrap()), [d3.id.clone()]);
    // Paging by offset.
    let first = store.list_dockings(&DockingQuery { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let offset: u32 = first.next_cursor.as_deref().unwrap().parse().unwrap();
    let rest = store.list_dockings(&DockingQuery { limit: 2, offset, ..Default::default() }).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    // Dockings of a closed record leave the queue.
    let mut closed = n1.clone();
    closed.meta.status = RecordStatus::Closed;
    write(store.as_ref(), async |tx| tx.update_need(&closed, now()).await).await.unwrap();
    let open_only = DockingQuery { open_records_only: true, ..queue };
    assert!(store.list_dockings(&open_only).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_batch_of_suggestions_is_written_at_once_and_counted_per_record() {
    let (store, _dir) = spawn_store().await;
    let (n1, a1) = pair(&store, "戊").await;
    let (n2, a2) = pair(&store, "己").await;
    let mut rows = Vec::new();
    for (n, a) in [(&n1, &a1), (&n1, &a2), (&n2, &a1)] {
        let d = docking(n, a, DockingState::Suggested, 0.75);
        let e = event(&d, EventKind::Created, Some(DockingState::Suggested), "批量建议");
        rows.push((d, e));
    }
    // And more than one statement's worth (a hundred to a statement) for another need.
    let (n4, a4) = pair(&store, "辛").await;
    let professor = store.get_user(&a4.meta.created_by).await.unwrap().unwrap();
    let university = store.get_organisation(&a4.meta.org_id).await.unwrap().unwrap();
    for _ in 0..120 {
        let a = achievement(&university, &professor);
        write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
        let d = docking(&n4, &a, DockingState::Suggested, 0.5);
        let e = event(&d, EventKind::Created, Some(DockingState::Suggested), "批量建议");
        rows.push((d, e));
    }
    write(store.as_ref(), async |tx| tx.insert_suggested(&rows).await).await.unwrap();
    for (d, e) in &rows {
        assert_eq!(store.get_docking(&d.id).await.unwrap().as_ref(), Some(d));
        assert_eq!(store.docking_events(&d.id).await.unwrap(), [e.clone()]);
    }
    let ids = |records: &[&str]| records.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let needs = ids(&[&n1.meta.id, &n2.meta.id, "没有的需求"]);
    let counts = store.docking_counts(Library::Needs, &needs, Some(DockingState::Suggested)).await.unwrap();
    assert_eq!(
        counts,
        HashMap::from([(n1.meta.id.clone(), 2), (n2.meta.id.clone(), 1)]),
        "a record without any is left out"
    );
    let of_n4 = store.docking_counts(Library::Needs, &ids(&[&n4.meta.id]), None).await.unwrap();
    assert_eq!(of_n4.get(&n4.meta.id), Some(&120));
    let achievements = ids(&[&a1.meta.id, &a2.meta.id]);
    let counts =
        store.docking_counts(Library::Achievements, &achievements, Some(DockingState::Accepted)).await.unwrap();
    assert!(counts.is_empty(), "none accepted: {counts:?}");

    // A pair with an open docking fails the batch, and the batch leaves nothing behind.
    let mut accepted = rows[0].0.clone();
    accepted.state = DockingState::Accepted;
    let by_manager = event(&accepted, EventKind::Transition, Some(DockingState::Accepted), "接受");
    write(store.as_ref(), async |tx| tx.update_docking(&accepted, &by_manager).await).await.unwrap();
    let (n3, a3) = pair(&store, "庚").await;
    let fresh = docking(&n3, &a3, DockingState::Suggested, 0.6);
    let again = docking(&n1, &a1, DockingState::Suggested, 0.9);
    let batch = [&fresh, &again].map(|d| (d.clone(), event(d, EventKind::Created, None, "")));
    let refused = write(store.as_ref(), async |tx| tx.insert_suggested(&batch).await).await;
    assert!(matches!(refused, Err(StoreError::UniqueViolation { .. })), "{refused:?}");
    assert!(store.get_docking(&fresh.id).await.unwrap().is_none(), "the batch is all or nothing");
    let any = store.docking_counts(Library::Needs, &needs, None).await.unwrap();
    assert_eq!(any, HashMap::from([(n1.meta.id.clone(), 2), (n2.meta.id.clone(), 1)]), "in any state");
    let counts = store.docking_counts(Library::Needs, &needs, Some(DockingState::Suggested)).await.unwrap();
    assert_eq!(counts, HashMap::from([(n1.meta.id.clone(), 1), (n2.meta.id.clone(), 1)]));
}

#[tokio::test]
async fn the_matcher_checkpoint_only_moves_forward() {
    let (store, _dir) = spawn_store().await;
    assert_eq!(store.checkpoint("suggest").await.unwrap(), 0);
    write(store.as_ref(), async |tx| tx.set_checkpoint("suggest", 7).await).await.unwrap();
    write(store.as_ref(), async |tx| tx.set_checkpoint("suggest", 3).await).await.unwrap();
    assert_eq!(store.checkpoint("suggest").await.unwrap(), 7);
    write(store.as_ref(), async |tx| tx.set_checkpoint("suggest", 9).await).await.unwrap();
    assert_eq!(store.checkpoint("suggest").await.unwrap(), 9);
}
