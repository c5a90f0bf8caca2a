//! A storage fault is survived, not carried: a write that finds the database full is refused
//! with its own code and changes nothing, readiness says so, and the first write after space is
//! freed succeeds (before, every later write failed until a restart); a lost connection to
//! PostgreSQL answers 503 with `Retry-After` (before, 500) and the next write succeeds.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::{POSTGRES_ENV, need_body, start, test_config_with};

/// The cap on the SQLite file in the test, in pages: room for the schema, not for the filler.
const MAX_PAGES: i64 = 400;

#[tokio::test]
async fn a_full_database_refuses_writes_with_507_and_the_first_write_after_space_is_freed_succeeds() {
    if std::env::var(POSTGRES_ENV).is_ok_and(|v| !v.is_empty()) {
        return; // The page cap is SQLite's; PostgreSQL's disk_full maps to the same code.
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("techmarket.db").display());
    let config = test_config_with(&dir, &url, &[("TECHMARKET__DATABASE__SQLITE_MAX_PAGES", &MAX_PAGES.to_string())]);
    let app = start(config, Arc::new(dir), None).await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let before = app.post("/api/v1/needs", &e.token, need_body()).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.text);

    // Another connection fills the file to a few pages short of the service's cap (a cap only
    // stops the connection it is set on from growing the file).
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").fetch_one(&mut other).await.unwrap();
    assert!(pages + 20 < MAX_PAGES, "the schema alone takes {pages} pages");
    sqlx::query("CREATE TABLE filler (b BLOB)").execute(&mut other).await.unwrap();
    let filler = format!("INSERT INTO filler VALUES (zeroblob({}))", (MAX_PAGES - pages - 8) * 4096);
    sqlx::query(sqlx::AssertSqlSafe(filler)).execute(&mut other).await.unwrap();

    let mut body = need_body();
    body["title"] = json!("存储满时提交的需求");
    body["description"] = json!("说明文字".repeat(4000)); // about 48 KB: more than the pages left
    let full = app.post("/api/v1/needs", &e.token, body.clone()).await;
    full.assert_error(StatusCode::INSUFFICIENT_STORAGE, "storage_full");
    // In Chinese by default.
    let chinese = {
        techmarket::webhooks::install_tls();
        reqwest::Client::new()
    }
    .post(app.url("/api/v1/needs"))
    .bearer_auth(&e.token)
    .json(&body)
    .send()
    .await
    .unwrap();
    assert_eq!(chinese.status(), StatusCode::INSUFFICIENT_STORAGE);
    let text = chinese.text().await.unwrap();
    assert!(text.contains("存储空间已满"), "{text}");
    let ready = app.send(reqwest::Method::GET, "/ready", None, None).await;
    ready.assert_error(StatusCode::INSUFFICIENT_STORAGE, "storage_full");
    let listed = app.get("/api/v1/needs", &e.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "nothing of the refused write: {}", listed.body);

    // Space is freed: the next write succeeds, and readiness recovers with it.
    sqlx::query("DROP TABLE filler").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    let after = app.post("/api/v1/needs", &e.token, body).await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.text);
    let ready = app.send(reqwest::Method::GET, "/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    let listed = app.get("/api/v1/needs", &e.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "{}", listed.body);
}

/// PostgreSQL's connections are cut under the service while it writes (as a database restart
/// does): a request caught by it answers 503 `database_unavailable` with `Retry-After`, never
/// 500, and writes succeed again at once.
#[tokio::test]
async fn cut_database_connections_answer_503_with_retry_after_and_writes_recover() {
    if std::env::var(POSTGRES_ENV).map_or(true, |v| v.is_empty()) {
        return; // PostgreSQL only: SQLite has no server to lose.
    }
    let app = Arc::new(crate::helpers::spawn_app().await);
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let mut admin = sqlx::PgConnection::connect(&app.config.database_url()).await.unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (app, token) = (app.clone(), e.token.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in 0..15 {
                    let mut body = need_body();
                    body["title"] = json!(format!("连接中断时的需求 {w}-{i}"));
                    let r = app.post("/api/v1/needs", &token, body).await;
                    if r.status != StatusCode::CREATED {
                        r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
                        assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
                    }
                    answers.push(r.status);
                }
                answers
            })
        })
        .collect();
    for _ in 0..5 {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut admin)
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let mut answers = Vec::new();
    for writer in writers {
        answers.extend(writer.await.expect("no 500 and no panic"));
    }
    assert!(answers.contains(&StatusCode::CREATED), "{answers:?}");
    let mut body = need_body();
    body["title"] = json!("连接恢复后的需求");
    let after = app.post("/api/v1/needs", &e.token, body).await;
    assert_eq!(after.status, StatusCode::CREATED, "writes recover: {}", after.text);
}
