//! Organisations, users and the life of an API token.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_issued_token_works_until_it_is_revoked() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let me = app.get("/api/v1/me", &e.token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "enterprise");
    assert_eq!(me.body["organisation"]["name"], "东营蓝海化工新材料有限公司");

    let tokens = app.get(&format!("/api/v1/users/{}/tokens", e.user_id), &app.admin).await;
    let token_id = tokens.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(tokens.body[0]["prefix"].as_str().unwrap(), &e.token[..11]);

    let r = app.send(reqwest::Method::DELETE, &format!("/api/v1/tokens/{token_id}"), Some(&e.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/api/v1/me", &e.token).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "token_revoked");
    let r = app.send(reqwest::Method::DELETE, &format!("/api/v1/tokens/{token_id}"), Some(&app.admin), None).await;
    r.assert_error(StatusCode::CONFLICT, "already_revoked");
}

#[tokio::test]
async fn a_token_expires_by_the_service_clock_and_a_past_expiry_cannot_be_issued() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let r = app
        .post(
            &format!("/api/v1/users/{}/tokens", e.user_id),
            &app.admin,
            json!({"name": "一天期", "expires_at": "2031-03-02T00:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["token"].as_str().unwrap().to_string();
    app.travel_to("2031-03-01T12:00:00+08:00");
    assert_eq!(app.get("/api/v1/me", &secret).await.status, StatusCode::OK, "valid the day before");
    // The expiry is read from the context's clock, which a test moves.
    app.travel_to("2031-03-02T00:00:01+08:00");
    let r = app.get("/api/v1/me", &secret).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "token_expired");

    let r = app
        .post(&format!("/api/v1/users/{}/tokens", e.user_id), &app.admin, json!({"expires_at": "2031-03-01T00:00:00Z"}))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = app
        .post(
            &format!("/api/v1/users/{}/tokens", e.user_id),
            &app.admin,
            json!({"name": "一年期", "expires_at": "2099-01-01T00:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["expires_at"], "2098-12-31T16:00:00Z");
    assert_eq!(app.get("/api/v1/me", r.body["token"].as_str().unwrap()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn organisation_names_are_unique() {
    let app = spawn_app().await;
    app.org("东营港绿氢能源科技有限公司", "enterprise").await;
    let r = app
        .post(
            "/api/v1/organisations",
            &app.admin,
            json!({"name": "东营港绿氢能源科技有限公司", "kind": "enterprise", "region": "370505"}),
        )
        .await;
    let message = r.assert_error(StatusCode::CONFLICT, "already_exists");
    assert!(message.contains("东营港绿氢能源科技有限公司"), "{message}");
}

#[tokio::test]
async fn admins_list_users_a_page_at_a_time_and_managers_list_the_managers() {
    let app = spawn_app().await;
    let a = app.enterprise("东营康泰生物医药有限公司").await;
    app.university("齐鲁生物医药研究所").await;
    let m1 = app.manager().await;
    let m2 = app.manager().await;
    let r = app.get(&format!("/api/v1/users?org_id={}", a.org_id), &app.admin).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["items"][0]["role_label"], "企业用户");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    // Five users (the admin, two parties, two managers), two a page, in the envelope of every listing.
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_string();
    loop {
        let r = app.get(&path, &app.admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
    app.get("/api/v1/users?limit=0", &app.admin).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/api/v1/users?role=boss", &app.admin).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");

    // A manager lists the managers it could assign a docking to, and no one else.
    let r = app.get("/api/v1/users?role=manager", &m1.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut managers: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    managers.sort();
    let mut expected = vec![m1.user_id.as_str(), m2.user_id.as_str()];
    expected.sort();
    assert_eq!(managers, expected);
    app.get("/api/v1/users", &m1.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    app.get("/api/v1/users?role=manager", &a.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn the_command_line_creates_the_first_admin_token_on_a_fresh_install() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_techmarket"))
        .args(["admin", "create-token", "--name", "初始化"])
        .env("TECHMARKET__DATABASE__URL", &url)
        .env("TECHMARKET__DATA__DIR", dir.path())
        .env("TECHMARKET__LOG__LEVEL", "warn")
        .output()
        .expect("run techmarket");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tm_"), "{token}");

    let config = crate::helpers::test_config(&dir, &url);
    let app = crate::helpers::start(config, std::sync::Arc::new(dir), Some(token.clone())).await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["organisation"]["kind"], "operator");
}
