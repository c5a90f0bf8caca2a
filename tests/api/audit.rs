//! The audit log through the API: each write with its unit of work, reads of confidential
//! parts, refusals, sign-ins, exports; filters, pages and the CSV export; nothing secret in it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::sessions::{session, sign_in, with_password};

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/audit?limit=100&{query}"), &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

/// The entries once `done` holds of them: a refusal's entry is written beside its answer.
async fn audit_until(app: &TestApp, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let items = audit(app, query).await;
        if done(&items) {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the audit log never showed what was expected for `{query}`: {:?}", audit(app, query).await);
}

#[tokio::test]
async fn every_write_read_of_a_confidential_part_refusal_and_sign_in_is_on_the_record() {
    let app = spawn_app().await;
    let e = app.enterprise("东营齐润化工有限公司").await;
    let other = app.enterprise("东营科瑞石油装备有限公司").await;
    let m = app.manager().await;

    // A write: who, for which organisation, what, which record, from where, its request id.
    let r = app
        .post(
            "/api/v1/needs",
            &e.token,
            crate::helpers::merge(
                crate::helpers::need_body(),
                json!({"title": "保密的加氢催化剂再生需求", "visibility": "managers", "contact": {"name": "王工", "phone": "13905461111", "email": "wang@qirun.cn"}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let need = r.body["id"].as_str().unwrap().to_string();
    let request_id = r.headers.get("x-request-id").unwrap().to_str().unwrap().to_string();
    let entries = audit(&app, &format!("record={need}")).await;
    let write = entries.iter().find(|x| x["operation"] == "POST /api/v1/needs").expect("the write's entry");
    assert_eq!(write["actor"], e.user_id.as_str());
    assert_eq!(write["actor_org"], e.org_id.as_str());
    assert_eq!(write["outcome"], "ok");
    assert_eq!(write["request_id"], request_id.as_str());
    assert_eq!(write["client"], "127.0.0.1");
    let credential = write["credential"].as_str().unwrap();
    assert!(
        credential.starts_with("tm_") && credential.len() == 11 && e.token.starts_with(credential),
        "a prefix only: {write}"
    );

    // A manager reads the confidential need and its contact: recorded. The owner reading its
    // own is not.
    assert_eq!(app.get(&format!("/api/v1/needs/{need}"), &m.token).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/needs/{need}"), &e.token).await.status, StatusCode::OK);
    let reads: Vec<Value> =
        audit(&app, &format!("record={need}")).await.into_iter().filter(|x| x["operation"] == "read_needs").collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["actor"], m.user_id.as_str());

    // Another enterprise is told the need does not exist: a denied entry for it.
    app.get(&format!("/api/v1/needs/{need}"), &other.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let denied = audit_until(&app, &format!("actor={}&outcome=denied", other.user_id), |d| !d.is_empty()).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["operation"], "GET /api/v1/needs/{id}");
    assert_eq!(denied[0]["detail"], "not_found");
    assert_eq!(denied[0]["records"], json!([need]), "the record it tried to read");
    // A 403 and a failed write too.
    app.get("/api/v1/audit", &other.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = app.post("/api/v1/needs", &other.token, json!({"title": ""})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let mine = audit_until(&app, &format!("actor={}", other.user_id), |m| m.len() >= 3).await;
    let outcomes: Vec<(&str, &str)> =
        mine.iter().map(|x| (x["outcome"].as_str().unwrap(), x["detail"].as_str().unwrap())).collect();
    assert!(
        outcomes.contains(&("denied", "forbidden")) && outcomes.contains(&("failed", "validation_failed")),
        "{outcomes:?}"
    );

    // Sign-ins, failed and not, and sign-out.
    with_password(&app, &e, "wang@qirun.cn", "齐润化工的登录密码2026").await;
    sign_in(&app, "wang@qirun.cn", "错误的密码错误的密码")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let s = session(&app, "wang@qirun.cn", "齐润化工的登录密码2026").await;
    assert_eq!(
        app.send(Method::DELETE, "/api/v1/sessions/current", Some(&s), None).await.status,
        StatusCode::NO_CONTENT
    );
    let mine = audit(&app, &format!("actor={}", e.user_id)).await;
    let ops: Vec<(&str, &str)> =
        mine.iter().map(|x| (x["operation"].as_str().unwrap(), x["outcome"].as_str().unwrap())).collect();
    for expected in [("sign_in", "failed"), ("sign_in", "ok"), ("sign_out", "ok"), ("change_password", "ok")] {
        assert!(ops.contains(&expected), "{expected:?} in {ops:?}");
    }
    assert!(mine.iter().any(|x| x["credential"].as_str().unwrap().starts_with("tms_")), "a session's prefix names it");

    // An export.
    assert_eq!(app.get("/api/v1/exports/needs?format=csv", &m.token).await.status, StatusCode::OK);
    let exports = audit(&app, &format!("actor={}", m.user_id)).await;
    assert!(exports.iter().any(|x| x["operation"] == "export_needs"), "{exports:?}");

    // Nothing secret and no contact detail anywhere in the log.
    let everything = app.get("/api/v1/audit/export", &app.admin).await;
    assert_eq!(everything.status, StatusCode::OK);
    for secret in ["13905461111", "王工", "齐润化工的登录密码2026", "错误的密码错误的密码", &e.token[3..], &s[4..]]
    {
        assert!(!everything.text.contains(secret), "`{secret}` is in the audit log");
    }
    assert!(everything.text.contains("sign_in") && everything.text.starts_with('\u{feff}'), "CSV with a BOM");
}

#[tokio::test]
async fn the_audit_log_pages_by_cursor_filters_by_time_and_says_what_is_wrong_with_a_filter() {
    let app = spawn_app().await;
    let e = app.enterprise("东营方圆有色金属有限公司").await;
    for n in 0..5 {
        app.create_need(&e, json!({"title": format!("第{n}号铜冶炼烟气治理需求")})).await;
    }
    let first = app.get(&format!("/api/v1/audit?actor={}&limit=3", e.user_id), &app.admin).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let rest = app.get(&format!("/api/v1/audit?actor={}&limit=3&cursor={cursor}", e.user_id), &app.admin).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 2);
    assert!(rest.body["next_cursor"].is_null());
    let seqs: Vec<i64> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.body["items"].as_array().unwrap())
        .map(|x| x["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats: {seqs:?}");
    // A date is a day of the market's calendar (UTC+8): tomorrow there, whatever the hour in UTC.
    let tomorrow = techmarket::domain::market_today(chrono::Utc::now()) + chrono::Duration::days(1);
    assert!(
        app.get(&format!("/api/v1/audit?from={tomorrow}"), &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for (query, message) in [
        ("outcome=maybe", "outcome"),
        ("from=yesterday", "from"),
        ("cursor=abc", "cursor"),
        ("record=42", "record"),
        ("limit=0", "limit"),
        ("who=me", "who"),
    ] {
        let r = app.get(&format!("/api/v1/audit?{query}"), &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert!(r.text.contains(message), "{query}: {}", r.text);
    }
}
