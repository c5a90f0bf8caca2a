//! The service as a process: health, readiness, the OpenAPI document, restarts, the demo data.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, start};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let r = app.send(reqwest::Method::GET, "/health", None, None).await;
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = app.send(reqwest::Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.store.close().await;
    let r = app.send(reqwest::Method::GET, "/ready", None, None).await;
    r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let r = app.send(reqwest::Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"].as_str().unwrap().chars().next(), Some('3'));
    let mut documented = BTreeSet::new();
    for (path, item) in r.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "GET /health",
        "GET /ready",
        "POST /api/v1/needs",
        "GET /api/v1/needs",
        "GET /api/v1/needs/{id}",
        "PATCH /api/v1/needs/{id}",
        "POST /api/v1/needs/{id}/{action}",
        "POST /api/v1/achievements",
        "GET /api/v1/achievements",
        "GET /api/v1/achievements/{id}",
        "PATCH /api/v1/achievements/{id}",
        "POST /api/v1/achievements/{id}/{action}",
        "POST /api/v1/organisations",
        "GET /api/v1/organisations",
        "GET /api/v1/organisations/{id}",
        "POST /api/v1/users",
        "GET /api/v1/users",
        "POST /api/v1/users/{id}/tokens",
        "GET /api/v1/users/{id}/tokens",
        "DELETE /api/v1/tokens/{id}",
        "GET /api/v1/me",
        "POST /api/v1/sessions",
        "POST /api/v1/applications",
        "GET /api/v1/applications",
        "POST /api/v1/applications/{id}/{action}",
        "GET /api/v1/sessions",
        "DELETE /api/v1/sessions/current",
        "PUT /api/v1/me/password",
        "POST /api/v1/users/{id}/password",
        "DELETE /api/v1/users/{id}/sessions",
        "GET /api/v1/audit",
        "GET /api/v1/audit/export",
        "GET /api/v1/notifications",
        "POST /api/v1/notifications/read-all",
        "POST /api/v1/notifications/{seq}/read",
        "POST /api/v1/subscriptions",
        "GET /api/v1/subscriptions",
        "GET /api/v1/subscriptions/{id}",
        "DELETE /api/v1/subscriptions/{id}",
        "GET /api/v1/subscriptions/{id}/deliveries",
        "GET /api/v1/deliveries/{id}",
        "POST /api/v1/deliveries/{id}/redeliver",
        "GET /api/v1/vocabularies",
        "GET /api/v1/search",
        "GET /api/v1/dictionary",
        "POST /api/v1/dictionary/terms",
        "POST /api/v1/dictionary/synonyms",
        "GET /api/v1/admin/index",
        "POST /api/v1/admin/index/rebuild",
        "GET /api/v1/needs/{id}/matches",
        "GET /api/v1/achievements/{id}/matches",
        "GET /api/v1/dockings",
        "POST /api/v1/dockings",
        "GET /api/v1/dockings/queue",
        "POST /api/v1/dockings/bulk",
        "GET /api/v1/dockings/{id}",
        "POST /api/v1/dockings/{id}/{action}",
        "GET /api/v1/transfers",
        "GET /api/v1/transfers/{id}",
        "PATCH /api/v1/transfers/{id}",
        "GET /api/v1/stats/counts",
        "GET /api/v1/stats/funnel",
        "GET /api/v1/stats/contracts",
        "GET /api/v1/stats/managers",
        "GET /api/v1/stats/report",
        "POST /api/v1/imports",
        "GET /api/v1/imports/templates/{file}",
        "GET /api/v1/exports/transfers",
        "GET /api/v1/exports/dockings",
        "GET /api/v1/exports/{library}",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(documented, expected);
    let schemas = r.body["components"]["schemas"].as_object().unwrap();
    for schema in ["NeedInput", "NeedResponse", "AchievementInput", "ErrorBody", "TechField"] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    assert!(schemas["NeedInput"]["properties"].as_object().unwrap().contains_key("budget_min"));
}

#[tokio::test]
async fn vocabularies_carry_chinese_labels() {
    let app = spawn_app().await;
    let r = app.send(reqwest::Method::GET, "/api/v1/vocabularies", None, None).await;
    let fields = r.body["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["code"] == "ccus" && f["label"].as_str().unwrap().contains("碳捕集")));
    assert_eq!(r.body["trl"].as_array().unwrap().len(), 9);
    assert!(r.body["cooperation_modes"].as_array().unwrap().iter().any(|m| m["label"] == "作价入股"));
}

#[tokio::test]
async fn a_restart_keeps_every_acknowledged_record() {
    let app = spawn_app().await;
    let e = app.enterprise("东营碳中和科技服务有限公司").await;
    let u = app.university("胜利能源技术研究院").await;
    let mut need_ids = Vec::new();
    for i in 0..20 {
        let n = app.create_need(&e, json!({"title": format!("燃煤烟气二氧化碳捕集需求{i}")})).await;
        need_ids.push(n["id"].as_str().unwrap().to_string());
    }
    let a = app.create_achievement(&u, json!({})).await;
    let path = format!("/api/v1/achievements/{}", a["id"].as_str().unwrap());
    app.patch(&path, &u.token, json!({"title": "CO2地质封存泄漏监测"}), Some(1)).await;

    let (config, dir, admin) = app.stop().await;
    let app = start(config, dir, Some(admin)).await;

    let list = app.get("/api/v1/needs?limit=100", &e.token).await;
    let mut listed: Vec<String> =
        list.body["items"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();
    listed.sort();
    need_ids.sort();
    assert_eq!(listed, need_ids);
    let read = app.get(&path, &u.token).await;
    assert_eq!(read.body["title"], "CO2地质封存泄漏监测");
    assert_eq!(read.body["version"], 2);
    assert_eq!(app.get("/api/v1/me", &e.token).await.status, StatusCode::OK, "tokens survive too");
}

#[tokio::test]
async fn the_demo_data_set_loads_once_and_is_readable_through_the_api() {
    let app = spawn_app().await;
    let seeded = techmarket::demo::seed(&app.context).await.unwrap();
    assert!(seeded.created);
    assert!(seeded.needs >= 40 && seeded.achievements >= 80);
    let manager = seeded.tokens.iter().find(|t| t.variable == "TM_MANAGER").unwrap();
    let needs = app.get("/api/v1/needs?limit=100", &manager.secret).await;
    let titles: Vec<&str> =
        needs.body["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"固态电池电解液溶剂高纯化工艺"), "{titles:?}");
    assert!(!titles.contains(&"医药中间体手性催化不对称合成"), "a private need stays with its owner");
    let again = techmarket::demo::seed(&app.context).await.unwrap();
    assert!(!again.created);
    let needs = app.get("/api/v1/needs?limit=100&field=ccus", &manager.secret).await;
    assert_eq!(needs.body["items"].as_array().unwrap().len(), 3, "seeding twice adds nothing");
}

/// What a search for `q` answers: (total, items returned).
async fn found(app: &crate::helpers::TestApp, token: &str, q: &str) -> (u64, usize) {
    let r = app.get(&format!("/api/v1/search?q={q}&library=achievements&limit=50"), token).await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
    (r.body["total"].as_u64().unwrap(), r.body["items"].as_array().unwrap().len())
}

#[tokio::test]
async fn an_index_follows_its_own_database_and_is_rebuilt_when_started_on_another() {
    let app = spawn_app().await;
    let u = app.university("中国石油大学(华东)").await;
    for i in 0..3 {
        app.create_achievement(&u, json!({"title": format!("烟气二氧化碳捕集吸收剂{i}")})).await;
    }
    app.search.catch_up().await.unwrap();
    assert_eq!(found(&app, &u.token, "二氧化碳捕集").await, (3, 3));
    let (config_a, dir, admin_a) = app.stop().await;

    // Another database, the same data folder (and so the same index directory), as when one
    // runs on PostgreSQL after SQLite.
    let url_b = match std::env::var("TECHMARKET_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => crate::helpers::fresh_database_url(&dir).await,
        _ => format!("sqlite://{}", dir.path().join("other.db").display()),
    };
    let app = start(crate::helpers::test_config(&dir, &url_b), dir.clone(), None).await;
    let report = app.get("/api/v1/admin/index", &app.admin).await;
    assert_eq!(report.body["consistent"], true, "{}", report.body);
    let u = app.university("中国石油大学(华东)").await;
    assert_eq!(found(&app, &u.token, "二氧化碳捕集").await, (0, 0), "none of the other database's records");
    app.create_achievement(&u, json!({"title": "烟气二氧化碳捕集吸收剂"})).await;
    app.search.catch_up().await.unwrap();
    assert_eq!(found(&app, &u.token, "二氧化碳捕集").await, (1, 1));
    let (_, dir, _) = app.stop().await;

    // Back on the first database: its own records again, and only those.
    let app = start(config_a, dir, Some(admin_a)).await;
    let report = app.get("/api/v1/admin/index", &app.admin).await;
    assert_eq!(report.body["consistent"], true, "{}", report.body);
    let m = app.manager().await;
    assert_eq!(found(&app, &m.token, "二氧化碳捕集").await, (3, 3));
}

/// An index written by an earlier version (here: without the one-field `text` view the
/// matcher's first stage reads) is rebuilt at start, not served or written into.
#[tokio::test]
async fn an_index_of_an_earlier_version_is_rebuilt_at_start() {
    let app = spawn_app().await;
    let u = app.university("中国石油大学(华东)").await;
    for i in 0..3 {
        app.create_achievement(&u, json!({"title": format!("烟气二氧化碳捕集吸收剂{i}")})).await;
    }
    app.search.catch_up().await.unwrap();
    let (config, dir, admin) = app.stop().await;

    let settings = config.search_settings();
    let current = std::fs::read_to_string(settings.dir.join("CURRENT")).unwrap();
    let current = settings.dir.join(current.trim());
    std::fs::remove_dir_all(&current).unwrap();
    std::fs::create_dir_all(&current).unwrap();
    let (schema, _) = techmarket::search::schema::Fields::schema();
    let mut earlier = tantivy::schema::Schema::builder();
    for (_, entry) in schema.fields().filter(|(_, e)| e.name() != "text") {
        earlier.add_field(entry.clone());
    }
    tantivy::Index::create_in_dir(&current, earlier.build()).unwrap();

    let app = start(config, dir, Some(admin)).await;
    let report = app.get("/api/v1/admin/index", &app.admin).await;
    assert_eq!(report.body["consistent"], true, "{}", report.body);
    let m = app.manager().await;
    assert_eq!(found(&app, &m.token, "二氧化碳捕集").await, (3, 3));
    let a = app.create_achievement(&u, json!({"title": "二氧化碳捕集胺液再生节能工艺"})).await;
    app.search.catch_up().await.unwrap();
    assert_eq!(found(&app, &m.token, "二氧化碳捕集").await, (4, 4), "{a}");
}

#[tokio::test]
async fn the_api_reference_is_browsable_offline_from_the_binary() {
    let app = spawn_app().await;
    let get = |path: &'static str| {
        let url = app.url(path);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let page = get("/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    // Every script and style the page loads is the service's own.
    for (attribute, _) in html.match_indices("src=\"").chain(html.match_indices("href=\"")) {
        let target = &html[attribute..];
        let value = target.split('"').nth(1).unwrap();
        assert!(value.starts_with("/docs/"), "{value} is not served by the binary");
        let r = app.client.get(app.url(value)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{value}");
    }
    let bundle = get("/docs/swagger-ui-bundle.js").await.bytes().await.unwrap();
    assert!(bundle.len() > 1_000_000 && bundle.windows(15).any(|w| w == b"SwaggerUIBundle"));
    let init = get("/docs/init.js").await.text().await.unwrap();
    assert!(init.contains("/api/v1/openapi.json") && init.contains("validatorUrl: null"), "{init}");
    let r = get("/docs/elsewhere.js").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
    let r = app.client.post(app.url("/docs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// The create bodies say which fields a create needs and which vocabularies are closed, and the
/// server agrees: each required field left out is refused with that field named, and a value
/// outside a vocabulary is refused with the Chinese error listing the choices.
#[tokio::test]
async fn create_bodies_declare_what_the_server_requires_and_the_closed_vocabularies() {
    let app = spawn_app().await;
    let doc = app.send(reqwest::Method::GET, "/api/v1/openapi.json", None, None).await.body;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let u = app.university("中国石油大学（华东）").await;
    for (path, input, create, required) in techmarket::http::openapi::CREATE_BODIES {
        let schema = &doc["components"]["schemas"][create];
        let declared: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(declared, required, "{create}: {schema}");
        let body_ref = &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body_ref, &json!(format!("#/components/schemas/{create}")));
        let patch = &doc["paths"][format!("{path}/{{id}}")]["patch"]["requestBody"]["content"]["application/json"];
        assert_eq!(patch["schema"]["$ref"], json!(format!("#/components/schemas/{input}")), "a patch needs nothing");
        assert_eq!(schema["properties"]["field"]["$ref"], "#/components/schemas/TechField", "{schema}");
        let modes = &schema["properties"]["cooperation_modes"]["items"]["$ref"];
        assert_eq!(modes, "#/components/schemas/CooperationMode", "{schema}");
        let visibility = schema["properties"]["visibility"].to_string();
        assert!(visibility.contains("#/components/schemas/Visibility"), "{visibility}");

        let (actor, full) = if path == "/api/v1/needs" {
            (&e, crate::helpers::need_body())
        } else {
            (&u, crate::helpers::achievement_body())
        };
        for field in required {
            let mut body = full.clone();
            body.as_object_mut().unwrap().remove(*field);
            let r = app.post(path, &actor.token, body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} without {field}: {}", r.text);
            assert!(r.text.contains(&format!("\"field\":\"{field}\"")), "{path} without {field}: {}", r.text);
        }
        let mut body = full.clone();
        body["field"] = json!("quantum");
        let r = app.post(path, &actor.token, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("ccus"), "the choices are listed: {}", r.text);
        let r = app.post(path, &actor.token, full).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}
