//! Organisations, users and tokens.

use crate::helpers::now;
use crate::helpers::write;
use techmarket::domain::vocab::{OrgKind, Role};
use techmarket::storage::StoreError;

use super::{org, user};
use crate::helpers::spawn_store;

#[tokio::test]
async fn organisations_are_unique_by_name_and_listed_and_found() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营胜利石化有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "东营石油工程大学", OrgKind::University).await;
    let mut same_name = e.clone();
    same_name.id = techmarket::domain::new_id();
    let err = write(store.as_ref(), async |tx| tx.insert_organisation(&same_name).await).await.unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    let listed = store.list_organisations().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&e) && listed.contains(&u));
    assert!(store.find_organisation_by_name("不存在的单位").await.unwrap().is_none());
    assert!(store.get_organisation(&techmarket::domain::new_id()).await.unwrap().is_none());
}

#[tokio::test]
async fn users_are_listed_by_organisation_or_all() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营海科新能源有限公司", OrgKind::Enterprise).await;
    let u = org(store.as_ref(), "中国石油大学（华东）", OrgKind::University).await;
    let a = user(store.as_ref(), &e, Role::Enterprise).await;
    let b = user(store.as_ref(), &e, Role::Enterprise).await;
    let c = user(store.as_ref(), &u, Role::University).await;
    let of_e = store.list_users(Some(&e.id)).await.unwrap();
    assert_eq!(of_e.len(), 2);
    assert!(of_e.contains(&a) && of_e.contains(&b));
    assert_eq!(store.list_users(None).await.unwrap().len(), 3);
    assert_eq!(store.get_user(&c.id).await.unwrap().unwrap(), c);
    assert!(store.get_user(&techmarket::domain::new_id()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_token_records_its_last_use_and_reads_back_whole() {
    let (store, _dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营国瓷功能材料有限公司", OrgKind::Enterprise).await;
    let u = user(store.as_ref(), &e, Role::Enterprise).await;
    let expires = chrono::DateTime::from_timestamp_micros(now().timestamp_micros() + 86_400_000_000).unwrap();
    let (secret, token) = super::token(store.as_ref(), &u, "导入脚本", Some(expires)).await;
    assert_eq!(store.get_token(&token.id).await.unwrap().unwrap(), token);
    let at = now();
    write(store.as_ref(), async |tx| tx.touch_token(&token.id, at).await).await.unwrap();
    let read = store.get_token(&token.id).await.unwrap().unwrap();
    assert_eq!((read.last_used_at, read.expires_at, read.name.as_str()), (Some(at), Some(expires), "导入脚本"));
    let found = store.find_token_by_hash(&techmarket::domain::org::hash_token(&secret)).await.unwrap().unwrap();
    assert_eq!(
        (found.token_id.as_str(), found.last_used_at, found.expires_at),
        (token.id.as_str(), Some(at), Some(expires))
    );
    assert!(
        !write(store.as_ref(), async |tx| tx.revoke_token(&techmarket::domain::new_id(), at).await).await.unwrap(),
        "no such token"
    );
}

#[tokio::test]
async fn an_application_is_reviewed_once_and_its_credit_code_is_unique() {
    let (store, _dir) = spawn_store().await;
    let new = techmarket::domain::org::NewOrganisation {
        name: "东营垦利石化有限公司".into(),
        kind: OrgKind::Enterprise,
        region: "370521".into(),
    };
    let mut applied = techmarket::domain::org::Organisation::registered(new.clone(), now());
    applied.status = techmarket::domain::vocab::OrgStatus::Pending;
    applied.credit_code = Some("91370500MA94R2L8H2".into());
    write(store.as_ref(), async |tx| tx.insert_organisation(&applied).await).await.unwrap();
    assert_eq!(store.get_organisation(&applied.id).await.unwrap().unwrap(), applied);
    let mut again = techmarket::domain::org::Organisation::registered(
        techmarket::domain::org::NewOrganisation { name: "别的名字".into(), ..new },
        now(),
    );
    again.credit_code = applied.credit_code.clone();
    let err = write(store.as_ref(), async |tx| tx.insert_organisation(&again).await).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UniqueViolation { constraint } if constraint.contains("credit_code")),
        "{err:?}"
    );
    let reviewer = user(store.as_ref(), &applied, Role::Enterprise).await;
    let at = now();
    let approved = techmarket::domain::vocab::OrgStatus::Approved;
    assert!(
        write(store.as_ref(), async |tx| tx
            .review_organisation(&applied.id, approved, "材料齐全", &reviewer.id, at)
            .await)
        .await
        .unwrap()
    );
    assert!(
        !write(store.as_ref(), async |tx| tx.review_organisation(&applied.id, approved, "", &reviewer.id, at).await)
            .await
            .unwrap(),
        "once"
    );
    let read = store.get_organisation(&applied.id).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.review_reason.as_str(), read.reviewed_by, read.reviewed_at),
        (approved, "材料齐全", Some(reviewer.id.clone()), Some(at))
    );
}

#[tokio::test]
async fn a_backup_copies_the_database_or_says_pg_dump_does() {
    let (store, dir) = spawn_store().await;
    let e = org(store.as_ref(), "东营备份测试有限公司", OrgKind::Enterprise).await;
    let target = dir.path().join("copy.db");
    let result = store.backup_into(&target).await;
    match store.backend() {
        techmarket::storage::Backend::Sqlite => {
            result.unwrap();
            let copy = techmarket::storage::connect(&techmarket::storage::DatabaseOptions {
                url: format!("sqlite://{}", target.display()),
                max_connections: 1,
                acquire_timeout_secs: 5,
                sqlite_max_pages: 0,
            })
            .await
            .unwrap();
            assert_eq!(copy.get_organisation(&e.id).await.unwrap().unwrap(), e);
            assert_eq!(copy.database_id().await.unwrap(), store.database_id().await.unwrap());
        }
        techmarket::storage::Backend::Postgres => assert!(result.unwrap_err().to_string().contains("pg_dump")),
    }
}
