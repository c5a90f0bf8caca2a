//! The error envelope: malformed, mistyped, unknown, oversized and misrouted input all answer in
//! `{"error": {"code", "message", "request_id"}}` with a stable code, and change nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Response, need_body, spawn_app};

#[tokio::test]
async fn malformed_json_is_answered_in_the_envelope_and_creates_nothing() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/needs"))
            .bearer_auth(&enterprise.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let r = Response::from(send("{\"title\": \"碳捕集\",", "application/json").await.unwrap()).await;
    let message = r.assert_error(StatusCode::BAD_REQUEST, "malformed_json");
    assert!(message.contains("not valid JSON"), "{message}");
    let r = Response::from(send("title=碳捕集", "application/x-www-form-urlencoded").await.unwrap()).await;
    let message = r.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(message.contains("application/json"), "{message}");
    let r = Response::from(send("[1, 2]", "application/json").await.unwrap()).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_body");

    let list = app.get("/api/v1/needs", &enterprise.token).await;
    assert_eq!(list.body["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_name_the_field() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    let body = crate::helpers::merge(need_body(), json!({"budjet": 100}));
    let r = app.post("/api/v1/needs", &enterprise.token, body).await;
    let message = r.assert_error(StatusCode::BAD_REQUEST, "unknown_field");
    assert!(message.contains("budjet") && message.contains("budget_min"), "{message}");

    let body = crate::helpers::merge(need_body(), json!({"budget_min": "五百万"}));
    let r = app.post("/api/v1/needs", &enterprise.token, body).await;
    let message = r.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    assert!(message.contains("budget_min"), "{message}");
    assert_eq!(r.body["error"]["details"]["field"], "budget_min");

    let body = crate::helpers::merge(need_body(), json!({"contact": {"name": "张三", "wechat": "zs"}}));
    let r = app.post("/api/v1/needs", &enterprise.token, body).await;
    let message = r.assert_error(StatusCode::BAD_REQUEST, "unknown_field");
    assert!(message.contains("contact") && message.contains("wechat"), "{message}");
}

#[tokio::test]
async fn fields_only_the_service_sets_are_refused_with_what_to_do_instead() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    for (field, value) in [
        ("status", json!("closed")),
        ("id", json!("x")),
        ("owner", json!({"id": "x"})),
        ("created_at", json!("2020-01-01T00:00:00Z")),
    ] {
        let body = crate::helpers::merge(need_body(), json!({ field: value }));
        let r = app.post("/api/v1/needs", &enterprise.token, body).await;
        let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "read_only_field");
        assert!(message.contains(field), "{message}");
    }
    let need = app.create_need(&enterprise, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    let r = app.patch(&path, &enterprise.token, json!({"status": "closed"}), Some(1)).await;
    let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "read_only_field");
    assert!(message.contains("/close"), "{message}");
    let r = app.patch(&path, &enterprise.token, json!({"version": 5, "title": "改"}), None).await;
    r.assert_error(StatusCode::CONFLICT, "version_conflict");
    let r = app.patch(&path, &enterprise.token, json!({"org_id": enterprise.org_id}), Some(1)).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");
    assert_eq!(app.get(&path, &enterprise.token).await.body["version"], 1, "nothing changed");
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    let huge = "碳".repeat(400_000); // 1.2 MB of UTF-8, above the 1 MiB limit
    let body = crate::helpers::merge(need_body(), json!({"description": huge}));
    let r = app.post("/api/v1/needs", &enterprise.token, body).await;
    let message = r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(message.contains("1048576"), "{message}");
    assert_eq!(app.get("/api/v1/needs", &enterprise.token).await.body["items"], json!([]));
}

#[tokio::test]
async fn bad_path_and_query_parameters_say_what_is_wrong() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;
    let r = app.get("/api/v1/needs/不是编号", &enterprise.token).await;
    let message = r.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    assert!(message.contains("不是编号"), "{message}");
    for (query, needle) in [
        ("limit=1000", "limit"),
        ("limit=abc", "abc"),
        ("field=石油", "石油"),
        ("region=东营", "region"),
        ("updated_since=昨天", "updated_since"),
        ("cursor=xyz", "cursor"),
        ("trl_min=5", "trl_min"),
        ("sort=new", "sort"),
    ] {
        let r = app.get(&format!("/api/v1/needs?{query}"), &enterprise.token).await;
        let message = r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        assert!(message.contains(needle), "{query}: {message}");
    }
    let r = app.get("/api/v1/achievements?trl_min=10", &enterprise.token).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    let r = app.get("/api/v1/achievements?need_type=talent", &enterprise.token).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = spawn_app().await;
    let r = app.send(reqwest::Method::GET, "/api/v1/需求", Some(&app.admin), None).await;
    let message = r.assert_error(StatusCode::NOT_FOUND, "route_not_found");
    assert!(message.contains("openapi.json"), "{message}");
    let r = app.send(reqwest::Method::DELETE, "/api/v1/needs", Some(&app.admin), None).await;
    assert!(r.status.is_client_error());
    assert!(r.body["error"]["code"].is_string(), "{}", r.text);
    let r = app.send(reqwest::Method::PUT, "/health", None, None).await;
    assert!(r.body["error"]["code"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn a_client_request_id_is_echoed_and_a_missing_one_is_made() {
    let app = spawn_app().await;
    let chinese = reqwest::header::HeaderValue::from_bytes("trace-东营".as_bytes()).unwrap();
    let r = app.client.get(app.url("/health")).header("x-request-id", chinese).send().await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(generated, "trace-东营", "non-ASCII ids are replaced");
    assert_eq!(generated.len(), 36);
    let r = app.client.get(app.url("/health")).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
}
