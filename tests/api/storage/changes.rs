//! The change log (outbox): one entry per record write, in the write's transaction, in order.

use techmarket::domain::now;
use techmarket::domain::record::Library;
use techmarket::domain::vocab::{OrgKind, Role};

use super::{achievement, need, org, user};
use crate::helpers::spawn_store;

#[tokio::test]
async fn every_record_write_adds_one_change_in_order() {
    let (store, _dir) = spawn_store().await;
    assert_eq!(store.last_change_seq().await.unwrap(), 0, "an empty log");
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());
    let e = org(store.as_ref(), "东营港化工有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "山东石油化工学院", OrgKind::University).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let professor = user(store.as_ref(), &u, Role::University).await;
    let n = need(&e, &author, serde_json::json!({}));
    store.insert_need(&n).await.unwrap();
    let a = achievement(&u, &professor);
    store.insert_achievement(&a).await.unwrap();
    let mut changed = n.clone();
    changed.content.title = "炼化污水深度处理".into();
    store.update_need(&changed, now()).await.unwrap();
    // A failed write (a stale version) adds nothing.
    assert!(store.update_need(&changed, now()).await.is_err());

    let log = store.changes_after(0, 10).await.unwrap();
    let entries: Vec<(Library, &str)> = log.iter().map(|c| (c.library, c.record_id.as_str())).collect();
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
    assert_eq!(after_first.len(), 1, "at most `limit`");
    assert_eq!(after_first[0], log[1]);
    assert!(store.changes_after(log[2].seq, 10).await.unwrap().is_empty());
}
