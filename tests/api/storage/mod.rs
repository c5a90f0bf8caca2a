//! Storage conformance: the `Store` contract, run against SQLite and (in CI) PostgreSQL, one
//! suite per part of the store: records and their listings (here), accounts, the change log,
//! dockings, transfers and statistics.

mod accounts;
mod changes;
mod dockings;
mod notifications;
mod records;
mod sessions;
mod transfers;

use crate::helpers::now;
use chrono::NaiveDate;
use techmarket::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use techmarket::domain::need::{Need, NeedContent, NeedInput};
use techmarket::domain::new_id;
use techmarket::domain::org::{ApiToken, Organisation, TokenSecret, User};
use techmarket::domain::record::RecordMeta;
use techmarket::domain::vocab::{OrgKind, RecordStatus, Role, TechField};
use techmarket::storage::{ListQuery, Store, StoreError};

use crate::helpers::{achievement_body, need_body, spawn_store, write};

pub(crate) async fn org(store: &dyn Store, name: &str, kind: OrgKind) -> Organisation {
    let new = techmarket::domain::org::NewOrganisation { name: name.into(), kind, region: "370502".into() };
    let org = Organisation::registered(new, now());
    write(store, async |tx| tx.insert_organisation(&org).await).await.unwrap();
    org
}

pub(crate) async fn user(store: &dyn Store, org: &Organisation, role: Role) -> User {
    let user = User {
        id: new_id(),
        org_id: org.id.clone(),
        name: "测试用户".into(),
        role,
        email: String::new(),
        phone: String::new(),
        created_at: now(),
    };
    write(store, async |tx| tx.insert_user(&user).await).await.unwrap();
    user
}

/// Issues a token as the application does; the secret and the stored token.
pub(crate) async fn token(
    store: &dyn Store,
    user: &User,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> (String, ApiToken) {
    let secret = TokenSecret::generate();
    let token = ApiToken {
        id: new_id(),
        user_id: user.id.clone(),
        name: name.into(),
        prefix: secret.prefix.clone(),
        created_at: now(),
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    write(store, async |tx| tx.insert_token(&token, &secret.hash).await).await.unwrap();
    (secret.secret, token)
}

pub(crate) fn need(org: &Organisation, author: &User, overrides: serde_json::Value) -> Need {
    let input: NeedInput = serde_json::from_value(crate::helpers::merge(need_body(), overrides)).unwrap();
    let content = NeedContent::parse(&input, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    Need { meta: RecordMeta::new(new_id(), org.id.clone(), org.name.clone(), author.id.clone(), now()), content }
}

pub(crate) fn achievement(org: &Organisation, author: &User) -> Achievement {
    let input: AchievementInput = serde_json::from_value(achievement_body()).unwrap();
    let content = AchievementContent::parse(&input).unwrap();
    Achievement { meta: RecordMeta::new(new_id(), org.id.clone(), org.name.clone(), author.id.clone(), now()), content }
}

#[tokio::test]
async fn records_round_trip_exactly() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营蓝海化工新材料有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "东营石油工程大学", OrgKind::University).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let professor = user(store.as_ref(), &u, Role::University).await;

    let n = need(&e, &author, serde_json::json!({"budget_min": 0.01, "budget_max": 99999.99}));
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    assert_eq!(store.get_need(&n.meta.id).await.unwrap().unwrap(), n);

    let a = achievement(&u, &professor);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
    assert_eq!(store.get_achievement(&a.meta.id).await.unwrap().unwrap(), a);

    assert!(store.get_need(&new_id()).await.unwrap().is_none());
    assert_eq!(store.get_organisation(&e.id).await.unwrap().unwrap(), e);
    assert_eq!(store.find_organisation_by_name("东营石油工程大学").await.unwrap().unwrap(), u);
    assert_eq!(store.get_user(&author.id).await.unwrap().unwrap(), author);
}

#[tokio::test]
async fn an_update_applies_only_on_the_expected_version() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "垦利稀土橡胶有限公司", OrgKind::Enterprise).await;
    let author = user(store.as_ref(), &e, Role::Enterprise).await;
    let n = need(&e, &author, serde_json::json!({}));
    write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();

    let mut changed = n.clone();
    changed.content.title = "窄分布稀土顺丁橡胶".into();
    changed.meta.status = RecordStatus::Closed;
    let stored = write(store.as_ref(), async |tx| tx.update_need(&changed, now()).await).await.unwrap();
    assert_eq!(stored.meta.version, 2);
    assert_eq!(store.get_need(&n.meta.id).await.unwrap().unwrap(), stored);

    let stale = write(store.as_ref(), async |tx| tx.update_need(&changed, now()).await).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "{stale:?}");
    let mut gone = changed.clone();
    gone.meta.id = new_id();
    assert!(matches!(
        write(store.as_ref(), async |tx| tx.update_need(&gone, now()).await).await,
        Err(StoreError::NotFound)
    ));

    let a = achievement(&e, &author);
    write(store.as_ref(), async |tx| tx.insert_achievement(&a).await).await.unwrap();
    let mut changed = a.clone();
    changed.content.trl = Some(9);
    write(store.as_ref(), async |tx| tx.update_achievement(&changed, now()).await).await.unwrap();
    assert!(matches!(
        write(store.as_ref(), async |tx| tx.update_achievement(&changed, now()).await).await,
        Err(StoreError::VersionConflict { current: 2 })
    ));
}

#[tokio::test]
async fn listings_apply_visibility_filters_and_cursor_inside_the_query() {
    let (store, _dir) = spawn_store().await;
    let e1 = org(store.as_ref(), "企业甲", OrgKind::Enterprise).await;
    let e2 = org(store.as_ref(), "企业乙", OrgKind::Enterprise).await;
    let a1 = user(store.as_ref(), &e1, Role::Enterprise).await;
    for (visibility, field) in
        [("public", "ccus"), ("managers", "ccus"), ("private", "new_energy"), ("public", "new_energy")]
    {
        let n = need(&e1, &a1, serde_json::json!({"visibility": visibility, "field": field}));
        write(store.as_ref(), async |tx| tx.insert_need(&n).await).await.unwrap();
    }
    let q = |org: &Organisation, staff: bool| ListQuery {
        viewer_org: org.id.clone(),
        viewer_is_staff: staff,
        limit: 50,
        ..Default::default()
    };
    assert_eq!(store.list_needs(&q(&e1, false)).await.unwrap().items.len(), 4, "owner sees all");
    assert_eq!(store.list_needs(&q(&e2, false)).await.unwrap().items.len(), 2, "others see public");
    assert_eq!(store.list_needs(&q(&e2, true)).await.unwrap().items.len(), 3, "staff see all but private");

    let ccus = ListQuery { field: Some(TechField::Ccus), ..q(&e2, true) };
    assert_eq!(store.list_needs(&ccus).await.unwrap().items.len(), 2);
    let page = store.list_needs(&ListQuery { limit: 3, ..q(&e1, false) }).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let rest =
        store.list_needs(&ListQuery { limit: 3, cursor: page.next_cursor.clone(), ..q(&e1, false) }).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    assert!(rest.items[0].meta.id < page.items[2].meta.id);
}

#[tokio::test]
async fn tokens_are_found_by_hash_and_revoked_once() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营华锆纳米材料有限公司", OrgKind::Enterprise).await;
    let u = user(store.as_ref(), &e, Role::Enterprise).await;
    let (secret, token) = token(store.as_ref(), &u, "测试", None).await;
    let found = store.find_token_by_hash(&techmarket::domain::org::hash_token(&secret)).await.unwrap().unwrap();
    assert_eq!(
        (found.user_id.as_str(), found.role, found.org_id.as_str()),
        (u.id.as_str(), Role::Enterprise, e.id.as_str())
    );
    assert!(store.find_token_by_hash("0".repeat(64).as_str()).await.unwrap().is_none());
    assert!(write(store.as_ref(), async |tx| tx.revoke_token(&token.id, now()).await).await.unwrap());
    assert!(!write(store.as_ref(), async |tx| tx.revoke_token(&token.id, now()).await).await.unwrap());
    let listed: Vec<ApiToken> = store.list_tokens(&u.id).await.unwrap();
    assert!(listed[0].revoked_at.is_some());

    let duplicate = TokenSecret {
        secret: secret.clone(),
        hash: techmarket::domain::org::hash_token(&secret),
        prefix: "tm_".into(),
    };
    let mut again = token.clone();
    again.id = new_id();
    let err = write(store.as_ref(), async |tx| tx.insert_token(&again, &duplicate.hash).await).await.unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_writers_all_succeed() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营智联焊接机器人有限公司", OrgKind::Enterprise).await;
    let u = user(store.as_ref(), &e, Role::Enterprise).await;
    let writes = (0..40).map(|i| {
        let store = store.clone();
        let n = need(&e, &u, serde_json::json!({"title": format!("焊接机器人需求{i}")}));
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            tx.insert_need(&n).await?;
            tx.commit().await
        })
    });
    for result in futures_util::future::join_all(writes).await {
        result.unwrap().unwrap();
    }
    let all =
        store.list_needs(&ListQuery { viewer_org: e.id.clone(), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(all.items.len(), 40);
}
