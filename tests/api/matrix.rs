//! The authorization matrix: every route the router exposes (read from the service's own OpenAPI
//! document, so a new route without a row here fails the test) against seven actors (anonymous,
//! enterprise A, enterprise B, university A, university B, a manager, an admin), with the
//! expected status of each cell, and what listings, search hits, facet counts and exports show
//! to each, on the real service.
//!
//! For writes, a permitted actor sends a request that passes the access check and then stops at
//! the next rule (a missing version, an invalid body, a dry run), so that one table can run in
//! any order and still tell "may not" (401/403/404) from "may" (the next rule's answer).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, achievement_body, need_body, spawn_app};

const ACTORS: [&str; 7] =
    ["anonymous", "enterprise A", "enterprise B", "university A", "university B", "manager", "admin"];

/// One row: a route (method and documented path), the concrete request, and the status each
/// actor gets, in the order of `ACTORS`.
struct Row {
    method: Method,
    route: &'static str,
    path: String,
    body: Option<Value>,
    expected: [u16; 7],
}

fn row(method: Method, route: &'static str, path: impl Into<String>, body: Option<Value>, expected: [u16; 7]) -> Row {
    Row { method, route, path: path.into(), body, expected }
}

pub(crate) struct World {
    tokens: [Option<String>; 7],
    e_a: Actor,
    e_b: Actor,
    pub(crate) u_a: Actor,
    u_b: Actor,
    m: Actor,
    need_public: String,
    need_managers: String,
    need_private: String,
    achievement: String,
    introduced: String,
    signed: String,
    transfer: String,
    spare_token: String,
}

pub(crate) async fn world(app: &TestApp) -> World {
    let e_a = app.enterprise("东营甲石化有限公司").await;
    let e_b = app.enterprise("东营乙装备有限公司").await;
    let u_a = app.university("中国石油大学(华东)").await;
    let u_b = app.university("山东理工大学").await;
    let m = app.manager().await;
    let need_public = app.create_need(&e_a, json!({"title": "炼化装置二氧化碳捕集工艺"})).await;
    let need_managers =
        app.create_need(&e_a, json!({"title": "保密的催化剂寿命预测需求", "visibility": "managers"})).await;
    let need_private = app.create_need(&e_a, json!({"title": "私有的储罐腐蚀监测需求", "visibility": "private"})).await;
    let achievement = app.create_achievement(&u_a, json!({})).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let achievement_id = id(&achievement);
    let signed = crate::transfers::negotiating(app, &m, &id(&need_public), &achievement_id).await;
    let contract = json!({"contract_type": "transfer", "amount": "120.50", "signed_on": "2026-11-20"});
    let r = crate::transfers::sign(app, &m, &signed, contract).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let transfer = crate::transfers::transfer_of(app, &m.token, &signed).await["id"].as_str().unwrap().to_string();
    let introduced = crate::transfers::negotiating(app, &m, &id(&need_managers), &achievement_id).await;
    let spare = app.user_in(&u_b.org_id, "university").await;
    let r = app.get(&format!("/api/v1/users/{}/tokens", spare.user_id), &app.admin).await;
    let spare_token = r.body[0]["id"].as_str().unwrap().to_string();
    World {
        tokens: [
            None,
            Some(e_a.token.clone()),
            Some(e_b.token.clone()),
            Some(u_a.token.clone()),
            Some(u_b.token.clone()),
            Some(m.token.clone()),
            Some(app.admin.clone()),
        ],
        need_public: id(&need_public),
        need_managers: id(&need_managers),
        need_private: id(&need_private),
        achievement: achievement_id,
        introduced,
        signed,
        transfer,
        spare_token,
        e_a,
        e_b,
        u_a,
        u_b,
        m,
    }
}

fn table(w: &World, admin_id: &str) -> Vec<Row> {
    use Method as M;
    let (np, nm, nv, a) = (&w.need_public, &w.need_managers, &w.need_private, &w.achievement);
    let need = Some(need_body());
    let achievement = Some(achievement_body());
    let empty = Some(json!({}));
    let note = Some(json!({"note": "跟进记录"}));
    vec![
        row(M::GET, "/health", "/health", None, [200, 200, 200, 200, 200, 200, 200]),
        row(M::GET, "/ready", "/ready", None, [200, 200, 200, 200, 200, 200, 200]),
        row(M::GET, "/api/v1/vocabularies", "/api/v1/vocabularies", None, [200, 200, 200, 200, 200, 200, 200]),
        row(M::GET, "/api/v1/me", "/api/v1/me", None, [401, 200, 200, 200, 200, 200, 200]),
        // Needs: enterprises post their own; staff post for an organisation (here without one).
        row(M::GET, "/api/v1/needs", "/api/v1/needs", None, [401, 200, 200, 200, 200, 200, 200]),
        row(M::POST, "/api/v1/needs", "/api/v1/needs", need.clone(), [401, 201, 201, 403, 403, 422, 422]),
        row(M::GET, "/api/v1/needs/{id}", format!("/api/v1/needs/{np}"), None, [401, 200, 200, 200, 200, 200, 200]),
        // The managers-only need: its owner, staff, and the university it was introduced to.
        row(M::GET, "/api/v1/needs/{id}", format!("/api/v1/needs/{nm}"), None, [401, 200, 404, 200, 404, 200, 200]),
        row(M::GET, "/api/v1/needs/{id}", format!("/api/v1/needs/{nv}"), None, [401, 200, 404, 404, 404, 404, 404]),
        row(
            M::PATCH,
            "/api/v1/needs/{id}",
            format!("/api/v1/needs/{np}"),
            empty.clone(),
            [401, 428, 403, 403, 403, 428, 428],
        ),
        row(
            M::PATCH,
            "/api/v1/needs/{id}",
            format!("/api/v1/needs/{nv}"),
            empty.clone(),
            [401, 428, 404, 404, 404, 404, 404],
        ),
        row(
            M::POST,
            "/api/v1/needs/{id}/{action}",
            format!("/api/v1/needs/{np}/reopen"),
            None,
            [401, 409, 403, 403, 403, 409, 409],
        ),
        row(
            M::POST,
            "/api/v1/needs/{id}/{action}",
            format!("/api/v1/needs/{nv}/reopen"),
            None,
            [401, 409, 404, 404, 404, 404, 404],
        ),
        row(
            M::GET,
            "/api/v1/needs/{id}/matches",
            format!("/api/v1/needs/{np}/matches"),
            None,
            [401, 403, 403, 403, 403, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/needs/{id}/matches",
            format!("/api/v1/needs/{nv}/matches"),
            None,
            [401, 403, 403, 403, 403, 404, 404],
        ),
        // Achievements: universities post their own.
        row(M::GET, "/api/v1/achievements", "/api/v1/achievements", None, [401, 200, 200, 200, 200, 200, 200]),
        row(M::POST, "/api/v1/achievements", "/api/v1/achievements", achievement, [401, 403, 403, 201, 201, 422, 422]),
        row(
            M::GET,
            "/api/v1/achievements/{id}",
            format!("/api/v1/achievements/{a}"),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/achievements/{id}",
            format!("/api/v1/achievements/{a}"),
            empty.clone(),
            [401, 403, 403, 428, 403, 428, 428],
        ),
        row(
            M::POST,
            "/api/v1/achievements/{id}/{action}",
            format!("/api/v1/achievements/{a}/reopen"),
            None,
            [401, 403, 403, 409, 403, 409, 409],
        ),
        row(
            M::GET,
            "/api/v1/achievements/{id}/matches",
            format!("/api/v1/achievements/{a}/matches"),
            None,
            [401, 403, 403, 403, 403, 200, 200],
        ),
        // Search.
        row(M::GET, "/api/v1/search", "/api/v1/search?q=需求", None, [401, 200, 200, 200, 200, 200, 200]),
        row(M::GET, "/api/v1/dictionary", "/api/v1/dictionary", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::POST,
            "/api/v1/dictionary/terms",
            "/api/v1/dictionary/terms",
            empty.clone(),
            [401, 403, 403, 403, 403, 403, 422],
        ),
        row(
            M::POST,
            "/api/v1/dictionary/synonyms",
            "/api/v1/dictionary/synonyms",
            empty.clone(),
            [401, 403, 403, 403, 403, 403, 422],
        ),
        row(M::GET, "/api/v1/admin/index", "/api/v1/admin/index", None, [401, 403, 403, 403, 403, 403, 200]),
        row(
            M::POST,
            "/api/v1/admin/index/rebuild",
            "/api/v1/admin/index/rebuild",
            None,
            [401, 403, 403, 403, 403, 403, 200],
        ),
        // Dockings: parties see their own; managers all.
        row(M::GET, "/api/v1/dockings", "/api/v1/dockings", None, [401, 200, 200, 200, 200, 200, 200]),
        row(M::POST, "/api/v1/dockings", "/api/v1/dockings", empty.clone(), [401, 403, 403, 403, 403, 400, 400]),
        row(
            M::POST,
            "/api/v1/dockings/bulk",
            "/api/v1/dockings/bulk",
            empty.clone(),
            [401, 403, 403, 403, 403, 400, 400],
        ),
        row(M::GET, "/api/v1/dockings/queue", "/api/v1/dockings/queue", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::GET,
            "/api/v1/dockings/{id}",
            format!("/api/v1/dockings/{}", w.introduced),
            None,
            [401, 200, 404, 200, 404, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/dockings/{id}/{action}",
            format!("/api/v1/dockings/{}/notes", w.introduced),
            note.clone(),
            [401, 200, 404, 200, 404, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/dockings/{id}/{action}",
            format!("/api/v1/dockings/{}/assign", w.signed),
            empty.clone(),
            [401, 403, 404, 403, 404, 422, 422],
        ),
        // Transfers.
        row(M::GET, "/api/v1/transfers", "/api/v1/transfers", None, [401, 200, 200, 200, 200, 200, 200]),
        row(
            M::GET,
            "/api/v1/transfers/{id}",
            format!("/api/v1/transfers/{}", w.transfer),
            None,
            [401, 200, 404, 200, 404, 200, 200],
        ),
        row(
            M::PATCH,
            "/api/v1/transfers/{id}",
            format!("/api/v1/transfers/{}", w.transfer),
            empty.clone(),
            [401, 403, 403, 403, 403, 428, 428],
        ),
        // Statistics: staff only.
        row(M::GET, "/api/v1/stats/counts", "/api/v1/stats/counts?by=field", None, [401, 403, 403, 403, 403, 200, 200]),
        row(M::GET, "/api/v1/stats/funnel", "/api/v1/stats/funnel", None, [401, 403, 403, 403, 403, 200, 200]),
        row(M::GET, "/api/v1/stats/contracts", "/api/v1/stats/contracts", None, [401, 403, 403, 403, 403, 200, 200]),
        row(M::GET, "/api/v1/stats/managers", "/api/v1/stats/managers", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::GET,
            "/api/v1/stats/report",
            "/api/v1/stats/report?month=2026-11",
            None,
            [401, 403, 403, 403, 403, 200, 200],
        ),
        // Imports (dry runs, sent as CSV below) and exports.
        row(
            M::POST,
            "/api/v1/imports",
            "/api/v1/imports?library=needs&dry_run=true",
            None,
            [401, 200, 200, 403, 403, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/imports",
            "/api/v1/imports?library=achievements&dry_run=true",
            None,
            [401, 403, 403, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/imports/templates/{file}",
            "/api/v1/imports/templates/needs.xlsx",
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/exports/{library}",
            "/api/v1/exports/needs?format=jsonl",
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(M::GET, "/api/v1/exports/dockings", "/api/v1/exports/dockings", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::GET,
            "/api/v1/exports/transfers",
            "/api/v1/exports/transfers",
            None,
            [401, 403, 403, 403, 403, 200, 200],
        ),
        // Organisations, users and tokens.
        row(M::GET, "/api/v1/organisations", "/api/v1/organisations", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::POST,
            "/api/v1/organisations",
            "/api/v1/organisations",
            empty.clone(),
            [401, 403, 403, 403, 403, 403, 422],
        ),
        row(
            M::GET,
            "/api/v1/organisations/{id}",
            format!("/api/v1/organisations/{}", w.e_b.org_id),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(M::GET, "/api/v1/users", "/api/v1/users", None, [401, 403, 403, 403, 403, 403, 200]),
        row(M::POST, "/api/v1/users", "/api/v1/users", empty.clone(), [401, 403, 403, 403, 403, 403, 422]),
        row(
            M::GET,
            "/api/v1/users/{id}/tokens",
            format!("/api/v1/users/{}/tokens", w.e_a.user_id),
            None,
            [401, 200, 404, 404, 404, 404, 200],
        ),
        row(
            M::GET,
            "/api/v1/users/{id}/tokens",
            format!("/api/v1/users/{admin_id}/tokens"),
            None,
            [401, 404, 404, 404, 404, 404, 200],
        ),
        row(
            M::POST,
            "/api/v1/users/{id}/tokens",
            format!("/api/v1/users/{}/tokens", w.u_a.user_id),
            empty,
            [401, 403, 403, 403, 403, 403, 201],
        ),
        // Signing in and sessions: a sign-in without fields is refused before any attempt
        // counts; a token cannot sign out (it is revoked instead).
        row(M::POST, "/api/v1/sessions", "/api/v1/sessions", Some(json!({})), [422, 422, 422, 422, 422, 422, 422]),
        row(M::GET, "/api/v1/sessions", "/api/v1/sessions", None, [401, 200, 200, 200, 200, 200, 200]),
        // Applications to join: anyone files one (without fields: refused before anything);
        // managers and admins review (an approved organisation has nothing to review: 409).
        row(
            M::POST,
            "/api/v1/applications",
            "/api/v1/applications",
            Some(json!({})),
            [422, 422, 422, 422, 422, 422, 422],
        ),
        row(M::GET, "/api/v1/applications", "/api/v1/applications", None, [401, 403, 403, 403, 403, 200, 200]),
        row(
            M::POST,
            "/api/v1/applications/{id}/{action}",
            format!("/api/v1/applications/{}/approve", w.e_b.org_id),
            None,
            [401, 403, 403, 403, 403, 409, 409],
        ),
        row(
            M::DELETE,
            "/api/v1/sessions/current",
            "/api/v1/sessions/current",
            None,
            [401, 422, 422, 422, 422, 422, 422],
        ),
        row(M::PUT, "/api/v1/me/password", "/api/v1/me/password", Some(json!({})), [401, 422, 422, 422, 422, 422, 422]),
        row(
            M::POST,
            "/api/v1/users/{id}/password",
            format!("/api/v1/users/{}/password", w.e_b.user_id),
            Some(json!({})),
            [401, 403, 403, 403, 403, 403, 422],
        ),
        row(
            M::DELETE,
            "/api/v1/users/{id}/sessions",
            format!("/api/v1/users/{}/sessions", w.e_b.user_id),
            None,
            [401, 403, 403, 403, 403, 403, 200],
        ),
        row(M::GET, "/api/v1/audit", "/api/v1/audit", None, [401, 403, 403, 403, 403, 403, 200]),
        row(M::GET, "/api/v1/audit/export", "/api/v1/audit/export", None, [401, 403, 403, 403, 403, 403, 200]),
        // Notifications: everyone signed in has an inbox and may subscribe (an empty body is
        // refused before anything); what is not one's own is not found.
        row(M::GET, "/api/v1/notifications", "/api/v1/notifications", None, [401, 200, 200, 200, 200, 200, 200]),
        row(
            M::POST,
            "/api/v1/notifications/read-all",
            "/api/v1/notifications/read-all",
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/notifications/{seq}/read",
            "/api/v1/notifications/999999999/read",
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            M::POST,
            "/api/v1/subscriptions",
            "/api/v1/subscriptions",
            Some(json!({})),
            [401, 400, 400, 400, 400, 400, 400],
        ),
        row(M::GET, "/api/v1/subscriptions", "/api/v1/subscriptions", None, [401, 200, 200, 200, 200, 200, 200]),
        row(
            M::GET,
            "/api/v1/subscriptions/{id}",
            format!("/api/v1/subscriptions/{}", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            M::DELETE,
            "/api/v1/subscriptions/{id}",
            format!("/api/v1/subscriptions/{}", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            M::GET,
            "/api/v1/subscriptions/{id}/deliveries",
            format!("/api/v1/subscriptions/{}/deliveries", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            M::GET,
            "/api/v1/deliveries/{id}",
            format!("/api/v1/deliveries/{}", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            M::POST,
            "/api/v1/deliveries/{id}/redeliver",
            format!("/api/v1/deliveries/{}/redeliver", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        // Another user's token: only an admin revokes it (the admin's cell comes last).
        row(
            M::DELETE,
            "/api/v1/tokens/{id}",
            format!("/api/v1/tokens/{}", w.spare_token),
            None,
            [401, 404, 404, 404, 404, 404, 204],
        ),
    ]
}

/// The routes the service documents: every method and path of its OpenAPI document.
async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let r = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    let doc: Value = r.json().await.unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

async fn send(app: &TestApp, row: &Row, token: Option<&str>) -> crate::helpers::Response {
    if row.route == "/api/v1/imports" {
        // A dry run: the need file names enterprise B as its 单位, which only staff may do.
        let csv = if row.path.contains("library=needs") {
            "需求名称,需求描述,技术领域,需求类型,地区代码,单位\r\n焊接机器人视觉引导,需要焊缝跟踪的视觉引导系统，精度0.2毫米。,intelligent_manufacturing,tech_breakthrough,370502,东营乙装备有限公司\r\n"
        } else {
            "成果名称,成果简介,技术领域,成果类型,技术成熟度\r\n焊缝视觉跟踪系统,激光视觉焊缝跟踪，精度0.2毫米。,intelligent_manufacturing,patent,6\r\n"
        };
        let mut request = app.client.post(app.url(&row.path)).header("Content-Type", "text/csv").body(csv);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        return crate::helpers::Response::from(request.send().await.unwrap()).await;
    }
    app.send(row.method.clone(), &row.path, token, row.body.clone()).await
}

/// Sends every row as every actor (by the credentials given, in the order of `ACTORS`); the cells
/// that differ from the table, and how many cells were sent.
async fn run_table(app: &TestApp, rows: &[Row], credentials: &[Option<String>; 7]) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut cells = 0;
    for row in rows {
        for (i, token) in credentials.iter().enumerate() {
            let r = send(app, row, token.as_deref()).await;
            cells += 1;
            if r.status.as_u16() != row.expected[i] {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {} {}",
                    row.method,
                    row.path,
                    ACTORS[i],
                    row.expected[i],
                    r.status.as_u16(),
                    &r.text[..r.text.len().min(200)]
                ));
            }
            if r.status.is_client_error() || r.status.is_server_error() {
                assert!(
                    r.body["error"]["code"].is_string(),
                    "{} {}: not the envelope: {}",
                    row.method,
                    row.path,
                    r.text
                );
            }
        }
    }
    (failures, cells)
}

#[tokio::test]
async fn every_route_answers_every_actor_as_the_access_rules_say() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let admin_id = app.get("/api/v1/me", &app.admin).await.body["user_id"].as_str().unwrap().to_string();
    let rows = table(&w, &admin_id);

    // Every documented route has a row, and every row names a documented route.
    let documented = documented_routes(&app).await;
    let covered: BTreeSet<(String, String)> =
        rows.iter().map(|r| (r.method.as_str().to_string(), r.route.to_string())).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&documented).collect();
    assert!(missing.is_empty(), "routes without a row in the authorization matrix: {missing:?}");
    assert!(unknown.is_empty(), "rows for routes the service does not document: {unknown:?}");

    let (mut failures, mut cells) = run_table(&app, &rows, &w.tokens).await;
    // Signed in by session (bearer) instead of token: the same answers. Left out: the rows
    // whose first run changed what a second one finds (a revoked token) or that end sessions.
    let mut sessions: [Option<String>; 7] = Default::default();
    let actors = [&w.e_a, &w.e_b, &w.u_a, &w.u_b, &w.m];
    for (i, actor) in actors.into_iter().enumerate() {
        let login = format!("1390546{:04}", i);
        crate::sessions::with_password(&app, actor, &login, "矩阵测试用的登录密码").await;
        sessions[i + 1] = Some(crate::sessions::session(&app, &login, "矩阵测试用的登录密码").await);
    }
    let admin = crate::helpers::Actor { token: app.admin.clone(), org_id: String::new(), user_id: admin_id.clone() };
    crate::sessions::with_password(&app, &admin, "admin@dongying-tech.cn", "矩阵测试用的登录密码").await;
    sessions[6] = Some(crate::sessions::session(&app, "admin@dongying-tech.cn", "矩阵测试用的登录密码").await);
    let once = ["/api/v1/tokens/{id}", "/api/v1/sessions/current", "/api/v1/users/{id}/sessions"];
    let again: Vec<Row> = table(&w, &admin_id).into_iter().filter(|r| !once.contains(&r.route)).collect();
    let (by_session, session_cells) = run_table(&app, &again, &sessions).await;
    failures.extend(by_session.into_iter().map(|f| format!("by session: {f}")));
    cells += session_cells;
    eprintln!("authorization matrix: {} routes, {} rows, {cells} cells", documented.len(), rows.len());
    assert!(failures.is_empty(), "{} of {cells} cells differ:\n{}", failures.len(), failures.join("\n"));
}

/// What the listings, search hits and facet counts, exports and an import naming another
/// organisation show to each actor.
#[tokio::test]
async fn listings_search_exports_and_imports_show_each_actor_only_what_it_may_see() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let visible_needs = |token: &str| {
        let app = &app;
        let token = token.to_string();
        async move {
            let r = app.get("/api/v1/needs?limit=100", &token).await;
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        }
    };
    let all: BTreeSet<String> = [&w.need_public, &w.need_managers, &w.need_private].into_iter().cloned().collect();
    let public_only: BTreeSet<String> = [w.need_public.clone()].into();
    let staff_view: BTreeSet<String> = [w.need_public.clone(), w.need_managers.clone()].into();
    let expectations: [(usize, &BTreeSet<String>); 6] =
        [(1, &all), (2, &public_only), (3, &public_only), (4, &public_only), (5, &staff_view), (6, &staff_view)];
    for (actor, expected) in expectations {
        let token = w.tokens[actor].clone().unwrap();
        assert_eq!(&visible_needs(&token).await, expected, "needs listed to {}", ACTORS[actor]);
        // Search: the hits and the facet counts agree with the listing.
        let body = app
            .search_until(&token, &[("q", "固态电池"), ("library", "needs")], |b| {
                b["total"].as_u64() == Some(expected.len() as u64)
            })
            .await;
        let hits: BTreeSet<String> = crate::helpers::hit_ids(&body).into_iter().collect();
        assert_eq!(&hits, expected, "search hits for {}: {body}", ACTORS[actor]);
        let facet_total: u64 =
            body["facets"]["field"].as_array().unwrap().iter().map(|f| f["count"].as_u64().unwrap()).sum();
        assert_eq!(facet_total, expected.len() as u64, "facet counts for {}: {body}", ACTORS[actor]);
        // The export of the library: the same records.
        let r = app.client.get(app.url("/api/v1/exports/needs?format=jsonl")).bearer_auth(&token).send().await.unwrap();
        let text = r.text().await.unwrap();
        let exported: BTreeSet<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(&exported, expected, "exported to {}", ACTORS[actor]);
        // Dockings: the parties see theirs, managers all, others none.
        let r = app.get("/api/v1/dockings", &token).await;
        let dockings = r.body["items"].as_array().unwrap().len();
        let expected_dockings = match actor {
            1 | 3 | 5 | 6 => 2,
            _ => 0,
        };
        assert_eq!(dockings, expected_dockings, "dockings listed to {}: {}", ACTORS[actor], r.body);
        let r = app.get("/api/v1/transfers", &token).await;
        let expected_transfers = usize::from(expected_dockings > 0);
        assert_eq!(r.body["items"].as_array().unwrap().len(), expected_transfers, "transfers to {}", ACTORS[actor]);
    }

    // An enterprise's import that names another organisation is refused on that row, for any
    // way of naming it; a manager's import for that organisation is fine.
    let csv = "需求名称,需求描述,技术领域,需求类型,地区代码,单位\r\n焊接机器人视觉引导,需要焊缝跟踪的视觉引导系统，精度0.2毫米。,intelligent_manufacturing,tech_breakthrough,370502,东营乙装备有限公司\r\n";
    let upload = |token: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/api/v1/imports?library=needs&dry_run=true"))
                .bearer_auth(token)
                .header("Content-Type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            crate::helpers::Response::from(r).await
        }
    };
    let r = upload(w.e_a.token.clone()).await;
    assert_eq!(
        (r.body["invalid"].as_u64(), r.body["errors"][0]["code"].as_str()),
        (Some(1), Some("field_not_allowed")),
        "{}",
        r.body
    );
    let r = upload(w.tokens[5].clone().unwrap()).await;
    assert_eq!(r.body["invalid"], 0, "{}", r.body);
    assert_eq!(r.body["created"], 1, "{}", r.body);
}
