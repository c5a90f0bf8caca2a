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

/// `body` posted to `path` with `Accept-Language: language` (none when empty).
async fn post_in(
    app: &crate::helpers::TestApp,
    language: &str,
    path: &str,
    token: &str,
    body: reqwest::Body,
) -> Response {
    techmarket::webhooks::install_tls();
    let mut request = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .header("Content-Type", if path.contains("imports") { "text/csv" } else { "application/json" })
        .body(body);
    if !language.is_empty() {
        request = request.header("Accept-Language", language);
    }
    Response::from(request.send().await.unwrap()).await
}

fn has_cjk(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn errors_are_in_chinese_by_default_and_in_english_when_asked_with_the_same_codes() {
    let app = spawn_app().await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let bad = json!({"title": "泡沫体系", "abstract": "耐温抗盐", "field": "ccus", "achievement_type": "new_product", "trl": 12});
    for language in ["", "zh-CN,zh;q=0.9", "fr"] {
        let r = post_in(&app, language, "/api/v1/achievements", &u.token, bad.to_string().into()).await;
        let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(message.contains("「技术成熟度」应为 1 到 9 级（收到 12）"), "{language}: {message}");
        let field = &r.body["error"]["details"]["fields"][0];
        assert_eq!((field["field"].as_str(), field["code"].as_str()), (Some("trl"), Some("out_of_range")));
        assert!(has_cjk(field["message"].as_str().unwrap()), "{field}");
        assert!(!r.text.contains("message_zh"), "{}", r.text);
        assert_eq!(r.headers["content-language"], "zh-CN");
    }
    for language in ["en", "en-US,en;q=0.9,zh;q=0.5"] {
        let r = post_in(&app, language, "/api/v1/achievements", &u.token, bad.to_string().into()).await;
        let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(message.contains("`trl` must be a readiness level from 1 to 9 (got 12)"), "{message}");
        assert!(!has_cjk(r.body["error"]["details"]["fields"][0]["message"].as_str().unwrap()));
        assert_eq!(r.headers["content-language"], "en");
    }

    // Every kind of error: the HTTP layer's, a rule's, a state machine's.
    let r = post_in(&app, "", "/api/v1/needs", &u.token, "{\"title\": ".into()).await;
    assert!(has_cjk(&r.assert_error(StatusCode::BAD_REQUEST, "malformed_json")));
    let r = post_in(&app, "", "/api/v1/nowhere", &u.token, "{}".into()).await;
    assert!(has_cjk(&r.assert_error(StatusCode::NOT_FOUND, "route_not_found")));
    let r = post_in(&app, "", "/api/v1/needs", &u.token, need_body().to_string().into()).await;
    assert!(has_cjk(&r.assert_error(StatusCode::FORBIDDEN, "forbidden")));
    let achievement = app.create_achievement(&u, json!({})).await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let need = app.create_need(&e, json!({})).await;
    let r = app
        .post("/api/v1/dockings", &m.token, json!({"need_id": need["id"], "achievement_id": achievement["id"]}))
        .await;
    let docking = r.body["id"].as_str().or(r.body["error"]["details"]["docking_id"].as_str()).unwrap().to_string();
    let r = post_in(&app, "", &format!("/api/v1/dockings/{docking}/sign"), &m.token, "{}".into()).await;
    let message = r.assert_error(StatusCode::CONFLICT, "invalid_docking_transition");
    assert!(message.contains("不能签约") || message.contains("不能"), "{message}");
    assert!(has_cjk(&message), "{message}");

    // An import's report, row by row.
    let csv = "外部编号,成果名称,成果简介,技术领域,成果类型,技术成熟度\nUPC-002,,缺少名称,石油装备,专利,12\n";
    let r = post_in(&app, "", "/api/v1/imports?library=achievements&dry_run=true", &u.token, csv.into()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let messages: Vec<&str> =
        r.body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"「名称」必填"), "{messages:?}");
    assert!(!r.text.contains("message_zh"));
    let r = post_in(&app, "en", "/api/v1/imports?library=achievements&dry_run=true", &u.token, csv.into()).await;
    assert_eq!(r.body["errors"][0]["message"], "`title` is required", "{}", r.text);
}
