//! The feed of changes: one entry per write a follower needs, in the write's transaction, in
//! commit order; each follower's named checkpoint.

use crate::helpers::now;
use crate::helpers::write;
use techmarket::domain::record::Library;
use techmarket::domain::vocab::{OrgKind, Role};

use super::{achievement, need, org, user};
use crate::helpers::spawn_store;

#[tokio::test]
async fn every_record_write_adds_one_change_in_order() {
    let (store, _dir) = spawn_store().await;
    assert_eq!(store.last_change_seq().await.unwrap(), 0, "an empty feed");
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "山东石油化工学院", OrgKind::University).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let professor = user(store.as_ref(), &u, Role::University).await;
    let start = store.last_change_seq().await.unwrap();
    assert_eq!(start, 4, "the organisations and users are in the feed too");
    let n = need(&e, &author, serde_json::json!({}));
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    let a = achievement(&u, &professor);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
    let mut changed = n.clone();
    changed.content.title = "炼化污水深度处理".into();
    write(store.as_ref(), async |tx| tx.update_need(&changed, now()).await).await.unwrap();
    // A failed write (a stale version) adds nothing.
    assert!(write(store.as_ref(), async |tx| tx.update_need(&changed, now()).await).await.is_err());

    let log = store.changes_after(start, 10).await.unwrap();
    let entries: Vec<(Library, &str)> = log.iter().map(|c| (c.kind.library().unwrap(), c.id.as_str())).collect();
    assert_eq!(
        entries,
        [
            (Library::Needs, n.meta.id.as_str()),
            (Library::Achievements, a.meta.id.as_str()),
            (Library::Needs, n.meta.id.as_str())
        ]
    );
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq), "increasing sequence numbers");
    assert_eq!(store.last_change_seq().await.unwrap(), log[2].seq);
    let after_first = store.changes_after(log[0].seq, 1).await.unwrap();
    assert_eq!(store.changes_after(0, 2).await.unwrap().len(), 2, "at most `limit` from the start");
    assert_eq!(after_first.len(), 1, "at most `limit`");
    assert_eq!(after_first[0], log[1]);
    assert!(store.changes_after(log[2].seq, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_change_a_follower_needs_enters_the_feed_in_commit_order() {
    use techmarket::domain::dictionary::{DictionaryTerm, SynonymGroup};
    use techmarket::domain::docking::{DockingState, EventKind};
    use techmarket::storage::ChangeKind;

    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let (_, token) = super::token(store.as_ref(), &author, "脚本", None).await;
    let n = need(&e, &author, serde_json::json!({}));
    let a = achievement(&e, &author);
    write(store.as_ref(), async |tx| {
        tx.insert_need(&n).await?;
        tx.insert_achievement(&a).await
    })
    .await
    .unwrap();
    let d = super::dockings::docking(&n, &a, DockingState::Negotiating, 0.7);
    let created = super::dockings::event(&d, EventKind::Created, None, "");
    write(store.as_ref(), async |tx| tx.create_docking(&d, &created, false).await).await.unwrap();
    let mut signed = d.clone();
    signed.state = DockingState::Signed;
    let t = super::transfers::transfer(&d, "66", "2026-11-20", None);
    let signing = super::dockings::event(&d, EventKind::Transition, Some(DockingState::Signed), "签约");
    write(store.as_ref(), async |tx| {
        tx.update_docking(&signed, &signing).await?;
        tx.insert_transfer(&t).await
    })
    .await
    .unwrap();
    let term = DictionaryTerm {
        id: techmarket::domain::new_id(),
        word: "稠油降黏".into(),
        freq: None,
        created_by: author.id.clone(),
        created_at: now(),
    };
    let group = SynonymGroup {
        id: techmarket::domain::new_id(),
        members: vec!["CCUS".into(), "碳捕集利用与封存".into()],
        created_by: author.id.clone(),
        created_at: now(),
    };
    write(store.as_ref(), async |tx| {
        tx.insert_dictionary_term(&term).await?;
        tx.insert_synonym_group(&group).await
    })
    .await
    .unwrap();
    // Bookkeeping is not a change: a token's last use, a follower's checkpoint.
    write(store.as_ref(), async |tx| {
        tx.touch_token(&token.id, now()).await?;
        tx.set_checkpoint("测试", 1).await
    })
    .await
    .unwrap();
    assert!(write(store.as_ref(), async |tx| tx.revoke_token(&token.id, now()).await).await.unwrap());

    let feed = store.changes_after(0, 100).await.unwrap();
    let got: Vec<(ChangeKind, &str)> = feed.iter().map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        got,
        [
            (ChangeKind::Organisation, e.id.as_str()),
            (ChangeKind::User, author.id.as_str()),
            (ChangeKind::Token, token.id.as_str()),
            (ChangeKind::Need, n.meta.id.as_str()),
            (ChangeKind::Achievement, a.meta.id.as_str()),
            (ChangeKind::Docking, d.id.as_str()),
            (ChangeKind::Docking, d.id.as_str()),
            (ChangeKind::Transfer, t.id.as_str()),
            (ChangeKind::Dictionary, term.id.as_str()),
            (ChangeKind::Dictionary, group.id.as_str()),
            (ChangeKind::Token, token.id.as_str()),
        ]
    );
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.checkpoint("测试").await.unwrap(), 1, "each follower's checkpoint by name");
    assert_eq!(store.checkpoint("suggest").await.unwrap(), 0);
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_leaves_nothing() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let before = store.last_change_seq().await.unwrap();
    let n = need(&e, &author, serde_json::json!({}));
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_need(&n).await.unwrap();
        tx.set_checkpoint("suggest", 99).await.unwrap();
    }
    assert!(store.get_need(&n.meta.id).await.unwrap().is_none());
    assert_eq!(store.last_change_seq().await.unwrap(), before);
    assert_eq!(store.checkpoint("suggest").await.unwrap(), 0);
    // The connection came back clean: the next write succeeds.
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    assert!(store.get_need(&n.meta.id).await.unwrap().is_some());
}

/// Writers commit concurrently while a follower polls the feed as the indexer does: it reads
/// "after" its checkpoint and moves the checkpoint to the last position read. Had a position
/// become visible before an earlier one (a transaction drawing its position, then committing
/// after a later one), the follower would pass it for good. Every change must be seen, once.
#[tokio::test]
async fn a_follower_polling_under_concurrent_writers_misses_no_change() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let start = store.last_change_seq().await.unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let (mut checkpoint, mut seen) = (start, Vec::new());
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let batch = store.changes_after(checkpoint, 1000).await.unwrap();
                for change in &batch {
                    assert!(change.seq > checkpoint);
                    checkpoint = change.seq;
                    seen.push(change.id.clone());
                }
                if finished && batch.is_empty() {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };
    let mut written = Vec::new();
    let mut writers = Vec::new();
    for w in 0..8 {
        let needs: Vec<_> =
            (0..40).map(|i| need(&e, &author, serde_json::json!({"title": format!("并发写入需求{w}-{i}")}))).collect();
        written.extend(needs.iter().map(|n| n.meta.id.clone()));
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in needs {
                let mut tx = store.begin().await?;
                tx.insert_need(&n).await?;
                tx.commit().await?;
            }
            Ok::<_, techmarket::storage::StoreError>(())
        }));
    }
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let mut seen = follower.await.unwrap();
    seen.sort();
    written.sort();
    assert_eq!(seen, written, "every committed change seen by the follower, once");
}

#[tokio::test]
async fn a_store_names_its_backend_and_its_database_and_closes() {
    use techmarket::storage::Backend;
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let options = crate::helpers::test_config(&dir, &url).database_options();
    let store = techmarket::storage::connect(&options).await.unwrap();
    let expected = if url.starts_with("sqlite") { Backend::Sqlite } else { Backend::Postgres };
    assert_eq!(store.backend(), expected);
    let id = store.database_id().await.unwrap();
    assert!(id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'), "{id}");
    store.ping().await.unwrap();
    store.close().await;
    let closed = store.ping().await.unwrap_err();
    assert!(closed.is_closed(), "{closed:?}");
    let again = techmarket::storage::connect(&options).await.unwrap();
    assert_eq!(again.database_id().await.unwrap(), id, "the identity is made once, with the schema");
    let (other, _other_dir) = spawn_store().await;
    assert_ne!(other.database_id().await.unwrap(), id, "another database, another identity");
}

/// Commits that append to the feed are signalled to listeners on PostgreSQL (LISTEN/NOTIFY, so
/// that other instances hear of them at once); a transaction rolled back signals nothing.
/// SQLite, one instance, has no signal.
#[tokio::test]
async fn commits_to_the_feed_are_signalled_to_other_instances_on_postgres() {
    use std::time::Duration;
    let (store, _dir) = spawn_store().await;
    let Some(mut signal) = store.listen_changes().await.unwrap() else {
        assert_eq!(store.backend(), techmarket::storage::Backend::Sqlite, "only SQLite goes without");
        return;
    };
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    tokio::time::timeout(Duration::from_secs(5), signal.next())
        .await
        .expect("the organisation's commit heard")
        .unwrap();
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    tokio::time::timeout(Duration::from_secs(5), signal.next()).await.expect("the user's commit heard").unwrap();
    // Rolled back: nothing heard.
    let n = need(&e, &author, serde_json::json!({}));
    let mut tx = store.begin().await.unwrap();
    tx.insert_need(&n).await.unwrap();
    drop(tx);
    assert!(tokio::time::timeout(Duration::from_millis(300), signal.next()).await.is_err(), "a rollback is silent");
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), signal.next()).await.expect("the need's commit heard").unwrap();
}
