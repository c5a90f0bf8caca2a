//! Joining the market: an organisation applies by itself, signs in at once and prepares
//! private drafts, sees only its own, and publishes once a manager approves; a rejection says why.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Actor, spawn_app};
use crate::sessions::session;

fn application(name: &str, code: &str, login: &str) -> Value {
    json!({
        "name": name,
        "credit_code": code,
        "kind": "enterprise",
        "region": "370523",
        "applicant_name": "刘经理",
        "login": login,
        "password": "入驻申请用的登录密码"
    })
}

#[tokio::test]
async fn an_organisation_applies_prepares_drafts_and_publishes_once_a_manager_approves() {
    let app = spawn_app().await;
    let m = app.manager().await;
    let e = app.enterprise("东营已入驻的化工有限公司").await;
    let public =
        app.create_need(&e, json!({"title": "已公开的催化裂化需求"})).await["id"].as_str().unwrap().to_string();

    // The check character of the credit code is checked; the application is in Chinese.
    let r = app
        .send(
            Method::POST,
            "/api/v1/applications",
            None,
            Some(application("东营广饶新材料有限公司", "91370523MA3C0NRK12", "13905462001")),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "invalid_credit_code", "{}", r.text);
    let r = app
        .send(
            Method::POST,
            "/api/v1/applications",
            None,
            Some(application("东营广饶新材料有限公司", "91370523MA3C0NRK11", "139 0546 2001")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["organisation"]["status"], "pending");
    assert_eq!(r.body["login"], "13905462001");
    let org = r.body["organisation"]["id"].as_str().unwrap().to_string();
    // The same code again is refused, whatever the name.
    app.send(
        Method::POST,
        "/api/v1/applications",
        None,
        Some(application("另一个名字的公司", "91370523ma3c0nrk11", "13905462002")),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "already_exists");

    // The applicant signs in at once; it sees only its own, publishes nothing, imports nothing.
    let s = session(&app, "13905462001", "入驻申请用的登录密码").await;
    let me = Actor { token: s.clone(), org_id: org.clone(), user_id: String::new() };
    let r = app
        .post(
            "/api/v1/needs",
            &s,
            crate::helpers::merge(crate::helpers::need_body(), json!({"title": "盐碱地生态修复需求"})),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "organisation_pending");
    let draft = app.create_need(&me, json!({"title": "盐碱地生态修复草稿需求", "visibility": "private"})).await;
    let draft = draft["id"].as_str().unwrap().to_string();
    let listed: Vec<String> = app.get("/api/v1/needs", &s).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, vec![draft.clone()], "its own draft only");
    app.get(&format!("/api/v1/needs/{public}"), &s).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.get(&format!("/api/v1/organisations/{}", e.org_id), &s).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = app.search(&s, &[("q", "催化裂化")]).await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
    let r = app
        .client
        .post(app.url("/api/v1/imports?library=needs&dry_run=true"))
        .bearer_auth(&s)
        .header("Content-Type", "text/csv")
        .body("需求名称\r\n测试\r\n")
        .send()
        .await
        .unwrap();
    crate::helpers::Response::from(r).await.assert_error(StatusCode::FORBIDDEN, "organisation_pending");
    // Nor does anyone outside see it.
    app.get(&format!("/api/v1/needs/{draft}"), &m.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    // A manager sees the application, and an enterprise may not review it.
    let pending = app.get("/api/v1/applications", &m.token).await;
    assert!(
        pending
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == org.as_str() && o["credit_code"] == "91370523MA3C0NRK11"),
        "{}",
        pending.text
    );
    app.post(&format!("/api/v1/applications/{org}/approve"), &e.token, json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = app.post(&format!("/api/v1/applications/{org}/approve"), &m.token, json!({"reason": "材料齐全"})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("approved")), "{}", r.text);
    app.post(&format!("/api/v1/applications/{org}/approve"), &m.token, json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "invalid_status_transition");
    // Approved: the same session publishes and sees the market.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/needs/{draft}"),
            Some(&s),
            Some(json!({"visibility": "public", "version": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.get(&format!("/api/v1/needs/{public}"), &s).await.status, StatusCode::OK);
    // The review is on the record.
    let audit = app.get(&format!("/api/v1/audit?record={org}"), &app.admin).await;
    let ops: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|x| x["operation"].as_str().unwrap()).collect();
    assert!(ops.contains(&"apply") && ops.contains(&"approve_application"), "{ops:?}");
}

#[tokio::test]
async fn a_rejection_needs_a_reason_which_the_applicant_reads_and_it_stays_restricted() {
    let app = spawn_app().await;
    let m = app.manager().await;
    let r = app
        .send(
            Method::POST,
            "/api/v1/applications",
            None,
            Some(application("东营某某贸易公司", "91370502MA3MQ7K5XE", "apply@maoyi.example.cn")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let org = r.body["organisation"]["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/applications/{org}/reject"), &m.token, json!({}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = app
        .post(&format!("/api/v1/applications/{org}/reject"), &m.token, json!({"reason": "经营范围与技术交易无关"}))
        .await;
    assert_eq!(r.body["status"], "rejected", "{}", r.text);
    let s = session(&app, "apply@maoyi.example.cn", "入驻申请用的登录密码").await;
    let own = app.get(&format!("/api/v1/organisations/{org}"), &s).await;
    assert_eq!(
        (own.body["status"].as_str(), own.body["review_reason"].as_str()),
        (Some("rejected"), Some("经营范围与技术交易无关"))
    );
    let r = app.post("/api/v1/needs", &s, crate::helpers::need_body()).await;
    r.assert_error(StatusCode::FORBIDDEN, "organisation_pending");
    let rejected = app.get("/api/v1/applications?status=rejected", &m.token).await;
    assert_eq!(rejected.body.as_array().unwrap().len(), 1);
    assert!(app.get("/api/v1/applications", &m.token).await.body.as_array().unwrap().is_empty(), "none pending");
}
