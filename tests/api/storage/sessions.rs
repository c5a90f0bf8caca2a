//! Logins and passwords, sessions, failed sign-ins and the audit log.

use chrono::Duration;
use techmarket::domain::account::{Session, SessionSecret};
use techmarket::domain::audit::{AuditEntry, AuditQuery, Outcome};
use techmarket::domain::vocab::{OrgKind, Role};
use techmarket::storage::StoreError;

use super::{org, user};
use crate::helpers::{now, spawn_store, write};

#[tokio::test]
async fn a_login_is_unique_and_finds_the_credentials() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营华泰化工集团", OrgKind::Enterprise).await;
    let a = user(store.as_ref(), &e, Role::Enterprise).await;
    let b = user(store.as_ref(), &e, Role::Enterprise).await;
    let at = now();
    let none = store.get_credentials(&a.id).await.unwrap().unwrap();
    assert_eq!((none.login, none.password_hash, none.must_change_password), (None, None, false));
    write(store.as_ref(), async |tx| {
        tx.set_login(&a.id, Some("13805461234"), at).await?;
        tx.set_password(&a.id, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", true, at).await?;
        assert_eq!(tx.changed(), vec![a.id.clone()], "the user changed, named once");
        Ok(())
    })
    .await
    .unwrap();
    let found = store.find_login("13805461234").await.unwrap().unwrap();
    assert_eq!(found.user_id, a.id);
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    assert!(found.must_change_password);
    assert_eq!(store.get_credentials(&a.id).await.unwrap().unwrap(), found);
    let taken = write(store.as_ref(), async |tx| tx.set_login(&b.id, Some("13805461234"), at).await).await;
    assert!(matches!(taken, Err(StoreError::UniqueViolation { .. })), "{taken:?}");
    assert!(store.find_login("zhang.wei@upc.edu.cn").await.unwrap().is_none());
    let missing =
        write(store.as_ref(), async |tx| tx.set_password(&techmarket::domain::new_id(), "h", false, at).await).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

#[tokio::test]
async fn sessions_are_found_by_their_hash_touched_and_ended() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营科达机电有限公司", OrgKind::Enterprise).await;
    let a = user(store.as_ref(), &e, Role::Enterprise).await;
    let at = now();
    let open = |client: &str| {
        let secret = SessionSecret::generate();
        let session = Session {
            id: techmarket::domain::new_id(),
            user_id: a.id.clone(),
            prefix: secret.prefix.clone(),
            created_at: at,
            last_seen_at: at,
            expires_at: at + Duration::hours(12),
            ended_at: None,
            client: client.into(),
        };
        (secret, session)
    };
    let (s1, one) = open("203.0.113.7");
    let (_s2, two) = open("198.51.100.9");
    let (_s3, three) = open("2001:db8::1");
    for (secret, session) in [(&s1, &one), (&_s2, &two), (&_s3, &three)] {
        write(store.as_ref(), async |tx| tx.insert_session(session, &secret.hash, &secret.csrf_hash).await)
            .await
            .unwrap();
    }
    let found = store.find_session_by_hash(&s1.hash).await.unwrap().unwrap();
    assert_eq!(found.session, one);
    assert_eq!(
        (found.csrf_hash.as_str(), found.org_id.as_str(), found.role),
        (s1.csrf_hash.as_str(), e.id.as_str(), Role::Enterprise)
    );
    let later = at + Duration::minutes(5);
    write(store.as_ref(), async |tx| tx.touch_session(&one.id, later).await).await.unwrap();
    assert_eq!(store.find_session_by_hash(&s1.hash).await.unwrap().unwrap().session.last_seen_at, later);
    assert!(write(store.as_ref(), async |tx| tx.end_session(&two.id, later).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.end_session(&two.id, later).await).await.unwrap(), "ended once");
    // Ending all but one ends only the open ones.
    let ended = write(store.as_ref(), async |tx| tx.end_sessions(&a.id, Some(&one.id), later).await).await.unwrap();
    assert_eq!(ended, 1);
    let listed = store.list_sessions(&a.id).await.unwrap();
    assert_eq!(listed.len(), 3);
    let state: Vec<(String, bool)> = listed.iter().map(|s| (s.id.clone(), s.ended_at.is_some())).collect();
    assert!(state.contains(&(one.id.clone(), false)) && state.contains(&(three.id.clone(), true)), "{state:?}");
    assert!(store.find_session_by_hash("0".repeat(64).as_str()).await.unwrap().is_none());
}

#[tokio::test]
async fn failed_sign_ins_are_counted_in_their_window_and_cleared() {
    let (store, _dir) = spawn_store().await;
    let t0 = now();
    for minutes in [0, 5, 20] {
        let at = t0 + Duration::minutes(minutes);
        write(store.as_ref(), async |tx| tx.add_sign_in_failure("login:13805461234", at).await).await.unwrap();
    }
    write(store.as_ref(), async |tx| tx.add_sign_in_failure("client:203.0.113.7", t0).await).await.unwrap();
    let (count, earliest) = store.sign_in_failures("login:13805461234", t0 + Duration::minutes(1)).await.unwrap();
    assert_eq!((count, earliest), (2, Some(t0 + Duration::minutes(5))));
    assert_eq!(store.sign_in_failures("login:无人", t0).await.unwrap(), (0, None));
    write(store.as_ref(), async |tx| tx.clear_sign_in_failures("login:13805461234").await).await.unwrap();
    assert_eq!(store.sign_in_failures("login:13805461234", t0).await.unwrap().0, 0);
    assert_eq!(store.sign_in_failures("client:203.0.113.7", t0).await.unwrap().0, 1, "another key is kept");
}

fn entry(actor: &str, at: chrono::DateTime<chrono::Utc>, records: &[&str], outcome: Outcome) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at,
        actor: actor.into(),
        actor_org: "机构".into(),
        credential: "tm_1a2b3c4d".into(),
        operation: "POST /api/v1/needs".into(),
        records: records.iter().map(|r| r.to_string()).collect(),
        outcome,
        detail: String::new(),
        client: "203.0.113.7".into(),
        request_id: "请求-1".into(),
    }
}

#[tokio::test]
async fn the_audit_log_is_read_newest_first_by_filter_and_page_and_pruned() {
    let (store, _dir) = spawn_store().await;
    let t0 = now();
    let r1 = techmarket::domain::new_id();
    let r2 = techmarket::domain::new_id();
    let entries = [
        entry("张工", t0, &[&r1], Outcome::Ok),
        entry("李老师", t0 + Duration::minutes(1), &[&r1, &r2], Outcome::Denied),
        entry("张工", t0 + Duration::minutes(2), &[], Outcome::Failed),
        entry("张工", t0 + Duration::days(400), &[&r2], Outcome::Ok),
    ];
    // A unit of work writes an entry with its changes; `changed` names what it changed so far.
    write(store.as_ref(), async |tx| {
        assert!(tx.changed().is_empty());
        for e in &entries {
            tx.insert_audit(e).await?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let all = |q: AuditQuery| {
        let store = store.clone();
        async move { store.list_audit(&AuditQuery { limit: 10, ..q }).await.unwrap() }
    };
    let page = all(AuditQuery::default()).await;
    assert_eq!(page.items.len(), 4);
    assert!(page.items.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let mut read = page.items[3].clone();
    read.seq = 0;
    assert_eq!(read, entries[0], "an entry reads back whole");
    assert_eq!(all(AuditQuery { actor: Some("张工".into()), ..Default::default() }).await.items.len(), 3);
    assert_eq!(all(AuditQuery { record: Some(r1.clone()), ..Default::default() }).await.items.len(), 2);
    assert_eq!(all(AuditQuery { outcome: Some(Outcome::Denied), ..Default::default() }).await.items[0].actor, "李老师");
    let window =
        AuditQuery { from: Some(t0 + Duration::minutes(1)), to: Some(t0 + Duration::minutes(2)), ..Default::default() };
    assert_eq!(all(window).await.items.len(), 1, "from inclusive, to exclusive");
    let first = store.list_audit(&AuditQuery { limit: 3, ..Default::default() }).await.unwrap();
    let cursor: i64 = first.next_cursor.clone().unwrap().parse().unwrap();
    let rest = all(AuditQuery { before: Some(cursor), ..Default::default() }).await;
    assert_eq!((first.items.len(), rest.items.len(), rest.next_cursor), (3, 1, None));
    let pruned = write(store.as_ref(), async |tx| tx.prune_audit(t0 + Duration::minutes(2), t0).await).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(all(AuditQuery::default()).await.items.len(), 2);
}
