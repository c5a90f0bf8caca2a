//! Records read in bulk (by ids, scans, versions), imports written all or nothing, listing
//! counts, and the dictionary.

use crate::helpers::now;
use crate::helpers::write;
use chrono::Utc;
use techmarket::domain::dictionary::{DictionaryTerm, SynonymGroup};
use techmarket::domain::new_id;
use techmarket::domain::record::Library;
use techmarket::domain::vocab::{OrgKind, RecordStatus, Role};
use techmarket::storage::{ImportKey, ListQuery, StoreError};

use super::{achievement, need, org, user};
use crate::helpers::spawn_store;

#[tokio::test]
async fn records_are_read_by_ids_and_scanned_in_id_order_with_their_versions() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营科瑞石油装备有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let n = need(&e, &author, serde_json::json!({"title": format!("井下工具需求{i}")}));
        write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
        ids.push(n.meta.id);
    }
    let a = achievement(&e, &author);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();

    let wanted = vec![ids[3].clone(), new_id(), ids[1].clone()];
    let mut found: Vec<String> = store.needs_by_ids(&wanted).await.unwrap().into_iter().map(|n| n.meta.id).collect();
    found.sort();
    assert_eq!(found, [ids[1].clone(), ids[3].clone()], "missing ids are left out");
    assert!(store.needs_by_ids(&[]).await.unwrap().is_empty());
    assert_eq!(store.achievements_by_ids(std::slice::from_ref(&a.meta.id)).await.unwrap(), [a.clone()]);

    let first = store.scan_needs("", 2).await.unwrap();
    assert_eq!(first.iter().map(|n| n.meta.id.clone()).collect::<Vec<_>>(), ids[..2]);
    let rest = store.scan_needs(&first[1].meta.id, 10).await.unwrap();
    assert_eq!(rest.iter().map(|n| n.meta.id.clone()).collect::<Vec<_>>(), ids[2..]);
    assert_eq!(store.scan_achievements("", 10).await.unwrap(), [a.clone()]);

    let mut changed = store.get_need(&ids[0]).await.unwrap().unwrap();
    changed.content.targets = "耐温180℃".into();
    write(store.as_ref(), async |tx| tx.update_need(&changed, now()).await).await.unwrap();
    let mut versions = store.record_versions(Library::Needs).await.unwrap();
    versions.sort();
    assert_eq!(versions.len(), 5);
    assert_eq!(versions[0], (ids[0].clone(), 2));
    assert!(versions[1..].iter().all(|(_, v)| *v == 1));
    assert_eq!(store.record_versions(Library::Achievements).await.unwrap(), [(a.meta.id.clone(), 1)]);
}

#[tokio::test]
async fn an_import_is_written_whole_or_not_at_all_with_its_keys_and_changes() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营方圆有色金属有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let key = |library: Library, external: &str, record_id: &str| ImportKey {
        library,
        org_id: e.id.clone(),
        external_id: external.into(),
        record_id: record_id.into(),
        at: now(),
    };
    let n1 = need(&e, &author, serde_json::json!({"title": "铜冶炼烟气制酸"}));
    let n2 = need(&e, &author, serde_json::json!({"title": "阳极泥稀贵金属回收"}));
    let a = achievement(&e, &author);
    let keys = [key(Library::Needs, "FY-001", &n1.meta.id), key(Library::Needs, "FY-002", &n2.meta.id)];
    write(store.as_ref(), async |tx| {
        tx.insert_need(&n1).await?;
        tx.insert_need(&n2).await?;
        tx.insert_achievement(&a).await?;
        tx.insert_import_keys(&keys).await
    })
    .await
    .unwrap();
    let mut imported = store.imported_ids(Library::Needs, &e.id).await.unwrap();
    imported.sort();
    assert_eq!(imported, [("FY-001".to_string(), n1.meta.id.clone()), ("FY-002".to_string(), n2.meta.id.clone())]);
    assert!(store.imported_ids(Library::Achievements, &e.id).await.unwrap().is_empty());
    // The import's look-up: only the ids asked for, in statements of at most a thousand.
    let asked: Vec<String> = ["FY-002", "FY-404", "FY-001"].map(String::from).to_vec();
    let mut found = store.imported_records(Library::Needs, &e.id, &asked).await.unwrap();
    found.sort();
    assert_eq!(found, [("FY-001".to_string(), n1.meta.id.clone()), ("FY-002".to_string(), n2.meta.id.clone())]);
    assert!(store.imported_records(Library::Achievements, &e.id, &asked).await.unwrap().is_empty());
    let many: Vec<String> = (0..2_500).map(|i| format!("X-{i}")).chain(["FY-002".to_string()]).collect();
    let found = store.imported_records(Library::Needs, &e.id, &many).await.unwrap();
    assert_eq!(found, [("FY-002".to_string(), n2.meta.id.clone())]);
    let records = store.changes_after(0, 50).await.unwrap().iter().filter(|c| c.record().is_some()).count();
    assert_eq!(records, 3, "one change per record");

    // A second import reusing an external id fails whole: its new record is not written either.
    let n3 = need(&e, &author, serde_json::json!({"title": "电解铜箔表面处理"}));
    let err = write(store.as_ref(), async |tx| {
        tx.insert_need(&n3).await?;
        tx.insert_import_keys(&[key(Library::Needs, "FY-001", &n3.meta.id)]).await
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    assert!(store.get_need(&n3.meta.id).await.unwrap().is_none());
    let records = store.changes_after(0, 50).await.unwrap().iter().filter(|c| c.record().is_some()).count();
    assert_eq!(records, 3, "no change of the failed import");
}

#[tokio::test]
async fn many_records_are_written_many_to_a_statement_exactly_as_one_by_one() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "滨州魏桥轻量化材料有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "滨州学院", OrgKind::University).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let professor = user(store.as_ref(), &u, Role::University).await;
    // Across statements (about a hundred rows each).
    let needs: Vec<_> = (0..230)
        .map(|i| need(&e, &author, serde_json::json!({"title": format!("铝合金压铸件气孔缺陷检测{i}")})))
        .collect();
    let achievements: Vec<_> = (0..130).map(|_| achievement(&u, &professor)).collect();
    let keys: Vec<ImportKey> = needs
        .iter()
        .enumerate()
        .map(|(i, n)| ImportKey {
            library: Library::Needs,
            org_id: e.id.clone(),
            external_id: format!("WQ-{i:04}"),
            record_id: n.meta.id.clone(),
            at: now(),
        })
        .collect();
    write(store.as_ref(), async |tx| {
        tx.insert_needs(&needs.iter().collect::<Vec<_>>()).await?;
        tx.insert_achievements(&achievements.iter().collect::<Vec<_>>()).await?;
        tx.insert_needs(&[]).await?;
        tx.insert_import_keys(&keys).await
    })
    .await
    .unwrap();
    let mut stored = store.scan_needs("", 1_000).await.unwrap();
    let mut expected = needs.clone();
    stored.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    expected.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    assert_eq!(stored, expected);
    let mut stored = store.scan_achievements("", 1_000).await.unwrap();
    let mut expected = achievements.clone();
    stored.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    expected.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    assert_eq!(stored, expected);
    assert_eq!(store.imported_ids(Library::Needs, &e.id).await.unwrap().len(), 230);
    let changes = store.changes_after(0, 1_000).await.unwrap();
    assert_eq!(changes.iter().filter(|c| c.record().is_some()).count(), 360, "one change per record");

    // A statement that fails (an id written already) leaves nothing of its unit.
    let again = need(&e, &author, serde_json::json!({"title": "压铸模具寿命提升"}));
    let err = write(store.as_ref(), async |tx| tx.insert_needs(&[&again, &needs[150]]).await).await.unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    assert!(store.get_need(&again.meta.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_listing_count_is_the_number_of_rows_all_its_pages_return() {
    let (store, _dir) = spawn_store().await;
    let e1 = org(store.as_ref(), "企业丙", OrgKind::Enterprise).await;
    let e2 = org(store.as_ref(), "企业丁", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e1, Role::Enterprise).await;
    for visibility in ["public", "public", "managers", "private", "public"] {
        write(store.as_ref(), async |tx| {
            tx.insert_need(&need(&e1, &author, serde_json::json!({"visibility": visibility}))).await
        })
        .await
        .unwrap();
    }
    for (viewer, staff) in [(&e1, false), (&e2, false), (&e2, true)] {
        let query = ListQuery { viewer_org: viewer.id.clone(), viewer_is_staff: staff, limit: 2, ..Default::default() };
        let mut all = 0;
        let mut page_query = query.clone();
        loop {
            let page = store.list_needs(&page_query).await.unwrap();
            all += page.items.len();
            match page.next_cursor {
                Some(c) => page_query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(store.count_listing(Library::Needs, &query).await.unwrap(), all as u64, "{} {staff}", viewer.name);
    }
    let a = achievement(&e1, &author);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
    let of_trl =
        |trl_min| ListQuery { viewer_org: e2.id.clone(), trl_min: Some(trl_min), limit: 10, ..Default::default() };
    let level = a.content.trl.unwrap_or(1);
    assert_eq!(store.list_achievements(&of_trl(level)).await.unwrap().items, [a.clone()]);
    assert!(store.list_achievements(&of_trl(level + 1)).await.unwrap().items.is_empty());
    store.ping().await.unwrap();
    let owner = ListQuery { viewer_org: e1.id.clone(), limit: 1, ..Default::default() };
    assert_eq!(store.count_listing(Library::Needs, &owner).await.unwrap(), 5);
    assert_eq!(store.count_listing(Library::Achievements, &owner).await.unwrap(), 1);
}

#[tokio::test]
async fn dictionary_terms_are_unique_and_synonym_groups_keep_their_members() {
    let (store, _dir) = spawn_store().await;
    let operator = org(store.as_ref(), "东营市科技大市场运营中心", OrgKind::Operator).await;
    let admin = user(store.as_ref(), &operator, Role::Admin).await;
    let term = DictionaryTerm {
        id: new_id(),
        word: "蛏子苗种".into(),
        freq: Some(5000),
        created_by: admin.id.clone(),
        created_at: now(),
    };
    write(store.as_ref(), async |tx| tx.insert_dictionary_term(&term).await).await.unwrap();
    let again = DictionaryTerm { id: new_id(), ..term.clone() };
    assert!(matches!(
        write(store.as_ref(), async |tx| tx.insert_dictionary_term(&again).await).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    assert_eq!(store.list_dictionary_terms().await.unwrap(), [term]);
    let group = SynonymGroup {
        id: new_id(),
        members: vec!["CCUS".into(), "碳捕集利用与封存".into()],
        created_by: admin.id.clone(),
        created_at: chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap(),
    };
    write(store.as_ref(), async |tx| tx.insert_synonym_group(&group).await).await.unwrap();
    assert_eq!(store.list_synonym_groups().await.unwrap(), [group]);
}

#[tokio::test]
async fn recent_titles_are_an_organisations_newest_that_have_not_expired() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "淄博新材料有限公司", OrgKind::Enterprise).await;
    let other = org(store.as_ref(), "潍坊动力有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let other_author = user(store.as_ref(), &other, Role::Enterprise).await;
    let mut written = Vec::new();
    for i in 0..5 {
        let mut n = need(&e, &author, serde_json::json!({"title": format!("碳化硅粉体提纯需求{i}")}));
        if i == 3 {
            n.meta.status = RecordStatus::Expired;
        }
        write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
        written.push((n.meta.id.clone(), n.content.title.clone()));
    }
    let theirs = need(&other, &other_author, serde_json::json!({"title": "别家的需求"}));
    write(store.as_ref(), async |tx| tx.insert_need(&theirs).await).await.unwrap();
    let a = achievement(&e, &author);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();

    let recent = store.recent_titles(Library::Needs, &e.id, None, 3).await.unwrap();
    let newest_first = vec![written[4].clone(), written[2].clone(), written[1].clone()];
    assert_eq!(recent, newest_first, "newest first, the expired one left out, at most the limit");
    assert_eq!(store.recent_titles(Library::Needs, &e.id, None, 50).await.unwrap().len(), 4);
    // Below an id: what an import compares with while it writes records with greater ids.
    let below = store.recent_titles(Library::Needs, &e.id, Some(&written[2].0), 50).await.unwrap();
    assert_eq!(below, [written[1].clone(), written[0].clone()]);
    assert_eq!(
        store.recent_titles(Library::Achievements, &e.id, None, 50).await.unwrap(),
        [(a.meta.id.clone(), a.content.title.clone())]
    );
    assert!(store.recent_titles(Library::Achievements, &other.id, None, 50).await.unwrap().is_empty());
}
