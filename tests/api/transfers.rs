//! The transfer library and the statistics through the API: a signing creates its transfer in
//! the same write, only with a valid contract; the parties read their own transfers and nobody
//! else's; managers record milestones and outcomes; every statistic equals a direct count of
//! the stored records and events (on SQLite and on PostgreSQL); the monthly report carries them.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{Value, json};
use techmarket::domain::docking::{DockingSource, DockingState};
use techmarket::domain::stats::month_of;
use techmarket::storage::{DockingQuery, ListQuery};

use crate::helpers::{Actor, TestApp, spawn_app};

/// A docking of `need` and `achievement` moved by `m` to `negotiating`: created by hand, or the
/// matcher's suggestion of the same pair accepted.
pub(crate) async fn negotiating(app: &TestApp, m: &Actor, need: &str, achievement: &str) -> String {
    let r = app.post("/api/v1/dockings", &m.token, json!({"need_id": need, "achievement_id": achievement})).await;
    let id = match r.status {
        StatusCode::CREATED => r.body["id"].as_str().unwrap().to_string(),
        StatusCode::CONFLICT => {
            let id = r.body["error"]["details"]["docking_id"].as_str().unwrap().to_string();
            if r.body["error"]["details"]["state"] == "suggested" {
                let a = app.post(&format!("/api/v1/dockings/{id}/accept"), &m.token, json!({})).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            }
            id
        }
        other => panic!("creating the docking: {other} {}", r.text),
    };
    // Introduced on 2026-11-19 (China Standard Time), so that contracts may be dated from then;
    // the service's clock then reads 2026-12-01, so dates up to that day are not in the future.
    app.travel_to("2026-11-19T10:00:00+08:00");
    for action in ["introduce", "negotiate"] {
        let r = app.post(&format!("/api/v1/dockings/{id}/{action}"), &m.token, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    }
    app.travel_to("2026-12-01T10:00:00+08:00");
    id
}

pub(crate) async fn sign(app: &TestApp, m: &Actor, docking: &str, contract: Value) -> crate::helpers::Response {
    app.post(&format!("/api/v1/dockings/{docking}/sign"), &m.token, json!({"contract": contract})).await
}

pub(crate) async fn transfer_of(app: &TestApp, token: &str, docking: &str) -> Value {
    let r = app.get(&format!("/api/v1/transfers?docking_id={docking}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"][0].clone()
}

#[tokio::test]
async fn signing_creates_the_transfer_which_the_parties_read_and_managers_complete() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let other = app.enterprise("垦利石化装备有限公司").await;
    let m = app.manager().await;
    let need = app.create_need(&e, json!({})).await;
    let achievement = app.create_achievement(&u, json!({})).await;
    let docking = negotiating(&app, &m, need["id"].as_str().unwrap(), achievement["id"].as_str().unwrap()).await;

    // Without a contract, or with a bad one, nothing is signed.
    let r = app.post(&format!("/api/v1/dockings/{docking}/sign"), &m.token, json!({})).await;
    assert!(r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "contract_required").contains("技术转让"));
    let r =
        sign(&app, &m, &docking, json!({"contract_type": "转让", "amount": "12.345", "signed_on": "2026-11-20"})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> =
        r.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["contract_type", "amount"]);
    let r = app.get(&format!("/api/v1/dockings/{docking}"), &m.token).await;
    assert_eq!(r.body["state"], "negotiating");
    assert_eq!(transfer_of(&app, &m.token, &docking).await, Value::Null);
    // A contract goes with signing only.
    let r = app
        .post(&format!("/api/v1/dockings/{docking}/fail"), &m.token, json!({"reason": "budget_gap", "contract": {}}))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "contract_not_accepted");
    // A contract dated before the parties were introduced (2026-11-19) is refused.
    let r =
        sign(&app, &m, &docking, json!({"contract_type": "transfer", "amount": "350.25", "signed_on": "2026-11-18"}))
            .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "signed_on");
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "before_introduction");
    assert_eq!(transfer_of(&app, &m.token, &docking).await, Value::Null, "nothing signed");

    let r = sign(
        &app,
        &m,
        &docking,
        json!({"contract_type": "transfer", "amount": "350.25", "signed_on": "2026-11-20",
               "registration_number": "2026370502000123"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "signed");
    let t = transfer_of(&app, &m.token, &docking).await;
    assert_eq!(t["amount"], "350.25", "amounts are exact decimal strings");
    assert_eq!(t["contract_type_label"], "技术转让");
    assert_eq!(t["landing_enterprise"], "东营新能源材料有限公司", "the need's enterprise by default");
    assert_eq!(t["landing_region"], need["region"]);
    assert_eq!(t["need"]["title"], need["title"]);
    assert_eq!(t["manager_id"], m.user_id.as_str());
    let id = t["id"].as_str().unwrap().to_string();

    // The two parties read it; anybody else does not learn it exists.
    for party in [&e, &u] {
        let r = app.get(&format!("/api/v1/transfers/{id}"), &party.token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app.get("/api/v1/transfers", &party.token).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    }
    app.get(&format!("/api/v1/transfers/{id}"), &other.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/v1/transfers", &other.token).await.body["items"], json!([]));
    // Only managers update, with the version they read.
    let progress = json!({
        "milestones": [
            {"kind": "pilot", "date": "2026-11-24", "note": "中试线连续运行72小时", "evidence": ["中试报告 DY-ZS-2026-031"]},
            {"kind": "production", "date": "2026-11-28", "evidence": ["投产验收单"]},
        ],
        "outcomes": {"new_output_value": "1200.5", "new_products": 2, "jobs": 35},
    });
    let r = app.patch(&format!("/api/v1/transfers/{id}"), &e.token, progress.clone(), Some(1)).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&format!("/api/v1/transfers/{id}"), &m.token, progress.clone(), None)
        .await
        .assert_error(StatusCode::PRECONDITION_REQUIRED, "version_required");
    let r = app.patch(&format!("/api/v1/transfers/{id}"), &m.token, progress.clone(), Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["landed_on"], "2026-11-28");
    assert_eq!(r.body["milestones"][0]["kind_label"], "中试");
    assert_eq!(r.body["outcomes"]["new_output_value"], "1200.50");
    assert_eq!(r.body["amount"], "350.25", "what the update does not name stays");
    app.patch(&format!("/api/v1/transfers/{id}"), &m.token, progress, Some(1))
        .await
        .assert_error(StatusCode::CONFLICT, "version_conflict");
    let r = app
        .patch(
            &format!("/api/v1/transfers/{id}"),
            &m.token,
            json!({"milestones": [{"kind": "pilot", "date": "2026-11-01"}]}),
            Some(2),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.text.contains("before the contract was signed"), "{}", r.text);
    // Nor can an update move the signing date before the introduction.
    let r = app.patch(&format!("/api/v1/transfers/{id}"), &m.token, json!({"signed_on": "2026-11-10"}), Some(2)).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "before_introduction");

    // A second contract cannot reuse the registration number; its docking stays unsigned.
    let need2 = app.create_need(&e, json!({"title": "稠油降黏剂复配工艺", "keywords": ["稠油降黏"]})).await;
    let docking2 = negotiating(&app, &m, need2["id"].as_str().unwrap(), achievement["id"].as_str().unwrap()).await;
    let r = sign(
        &app,
        &m,
        &docking2,
        json!({"contract_type": "license", "amount": 80, "signed_on": "2026-11-21", "registration_number": "2026370502000123"}),
    )
    .await;
    r.assert_error(StatusCode::CONFLICT, "registration_number_taken");
    assert_eq!(app.get(&format!("/api/v1/dockings/{docking2}"), &m.token).await.body["state"], "negotiating");
}

/// Counts of `values` by key.
fn tally<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for v in values {
        *out.entry(v.to_string()).or_default() += 1;
    }
    out
}

fn groups(body: &Value, library: &str) -> BTreeMap<String, i64> {
    let l = body["libraries"].as_array().unwrap().iter().find(|l| l["library"] == library).unwrap();
    l["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_string(), g["count"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn statistics_equal_direct_counts_of_the_records_and_events() {
    let app = spawn_app().await;
    let e1 = app.enterprise("东营新能源材料有限公司").await;
    let e2 = app.enterprise("广饶橡胶轮胎集团").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let n1 = app.create_need(&e1, json!({})).await;
    let n2 = app
        .create_need(&e2, json!({"title": "子午线轮胎胎面胶耐磨改性", "description": "提高胎面胶耐磨性能。", "keywords": ["胎面胶", "耐磨"],
                                 "field": "new_materials", "region": "370523"}))
        .await;
    app.create_need(&e2, json!({"title": "内部技术储备", "visibility": "private", "field": "new_materials"})).await;
    let a1 = app.create_achievement(&u, json!({})).await;
    let a2 = app
        .create_achievement(
            &u,
            json!({"title": "白炭黑改性耐磨胎面胶", "abstract": "胎面胶耐磨指数提高20%。", "keywords": ["胎面胶"],
                                       "field": "new_materials", "region": "370523"}),
        )
        .await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let d1 = negotiating(&app, &m, &id(&n1), &id(&a1)).await;
    let d2 = negotiating(&app, &m, &id(&n2), &id(&a2)).await;
    let r =
        sign(&app, &m, &d1, json!({"contract_type": "transfer", "amount": "350.25", "signed_on": "2026-11-20"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = sign(&app, &m, &d2, json!({"contract_type": "development", "amount": "80.10", "signed_on": "2026-11-21"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t2 = transfer_of(&app, &m.token, &d2).await;
    let r = app
        .patch(
            &format!("/api/v1/transfers/{}", t2["id"].as_str().unwrap()),
            &m.token,
            json!({"milestones": [{"kind": "production", "date": "2026-11-30"}]}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d3 = negotiating(&app, &m, &id(&n2), &id(&a1)).await;
    let r = app.post(&format!("/api/v1/dockings/{d3}/fail"), &m.token, json!({"reason": "budget_gap"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Let the background matcher finish its suggestions, so the figures hold still.
    app.search.catch_up().await.unwrap();
    app.matcher.run_pending().await.unwrap();

    // The direct count: every record and event as the store lists them.
    let staff = ListQuery { viewer_is_staff: true, limit: 1000, ..ListQuery::default() };
    let needs: Vec<_> = app.store.list_needs(&staff).await.unwrap().items;
    let needs: Vec<_> = needs.into_iter().filter(|n| n.content.visibility.code() != "private").collect();
    let achievements = app.store.list_achievements(&staff).await.unwrap().items;
    let dockings =
        app.store.list_dockings(&DockingQuery { limit: 1000, ..DockingQuery::default() }).await.unwrap().items;
    assert!(dockings.len() >= 3);

    let r = app.get("/api/v1/stats/counts?by=field", &m.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(groups(&r.body, "needs"), tally(needs.iter().map(|n| n.content.field.code())));
    assert_eq!(groups(&r.body, "achievements"), tally(achievements.iter().map(|a| a.content.field.code())));
    assert_eq!(groups(&r.body, "dockings"), tally(dockings.iter().map(|d| d.field.code())));
    assert_eq!(groups(&r.body, "transfers"), tally(["new_energy", "new_materials"]));
    let labels = &r.body["libraries"][0]["groups"][0]["label"];
    assert!(labels.as_str().unwrap().chars().any(|c| c >= '\u{4e00}'), "fields carry their Chinese names");

    let r = app.get("/api/v1/stats/counts?by=region", &m.token).await;
    assert_eq!(groups(&r.body, "needs"), tally(needs.iter().map(|n| n.content.region.as_str())));
    assert_eq!(groups(&r.body, "dockings"), tally(dockings.iter().map(|d| d.region.as_str())));
    let r = app.get("/api/v1/stats/counts?by=organisation", &m.token).await;
    assert_eq!(groups(&r.body, "needs"), tally(needs.iter().map(|n| n.meta.org_id.as_str())));
    let both_sides = dockings.iter().flat_map(|d| [d.need_org_id.as_str(), d.achievement_org_id.as_str()]);
    assert_eq!(groups(&r.body, "dockings"), tally(both_sides));
    let dockings_total = r.body["libraries"][2]["total"].as_i64().unwrap();
    assert_eq!(dockings_total, dockings.len() as i64, "the total counts a docking once");
    let r = app.get("/api/v1/stats/counts?by=month", &m.token).await;
    assert_eq!(
        groups(&r.body, "achievements"),
        tally(achievements.iter().map(|a| month_of(a.meta.created_at)).collect::<Vec<_>>().iter().map(String::as_str))
    );
    assert_eq!(groups(&r.body, "transfers"), tally(["2026-11", "2026-11"]));
    // Filters: the field and region of the records, and a period that holds nothing.
    let r = app.get("/api/v1/stats/counts?by=field&field=new_materials&region=370523", &m.token).await;
    assert_eq!(groups(&r.body, "needs"), tally(["new_materials"]));
    let r = app.get("/api/v1/stats/counts?by=field&from=2020-01-01&to=2020-12-31", &m.token).await;
    assert_eq!(groups(&r.body, "needs"), BTreeMap::new());

    // The funnel, against the dockings' own events.
    let mut reached: BTreeMap<&str, i64> = BTreeMap::new();
    for d in &dockings {
        let events = app.store.docking_events(&d.id).await.unwrap();
        for state in [DockingState::Accepted, DockingState::Introduced, DockingState::Signed] {
            if events.iter().any(|e| e.to_state == Some(state)) {
                *reached.entry(state.code()).or_default() += 1;
            }
        }
    }
    let suggested = dockings.iter().filter(|d| d.source == DockingSource::Suggested).count() as i64;
    let r = app.get("/api/v1/stats/funnel", &m.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let counts: Vec<i64> = r.body["stages"].as_array().unwrap().iter().map(|s| s["count"].as_i64().unwrap()).collect();
    assert_eq!(
        counts,
        [needs.len() as i64, suggested, reached["accepted"], reached["introduced"], reached["signed"], 1]
    );
    assert_eq!(reached["signed"], 2);
    let landed = &r.body["stages"][5];
    assert_eq!(landed["conversion_rate"], 0.5);
    assert_eq!(landed["cohort"], 2, "landed of the two signed");
    // Every rate is a share of the stage before, in 0..1; suggestions per need is a ratio.
    for stage in r.body["stages"].as_array().unwrap() {
        if let Some(rate) = stage["conversion_rate"].as_f64() {
            assert!((0.0..=1.0).contains(&rate), "{stage}");
        }
    }
    let with_suggestions: BTreeSet<&str> =
        dockings.iter().filter(|d| d.source == DockingSource::Suggested).map(|d| d.need_id.as_str()).collect();
    let share = with_suggestions.len() as f64 / needs.len() as f64;
    assert!((r.body["stages"][1]["conversion_rate"].as_f64().unwrap() - share).abs() < 1e-4, "{}", r.body);
    let per_need = suggested as f64 / needs.len() as f64;
    assert!((r.body["ratios"]["suggestions_per_need"].as_f64().unwrap() - per_need).abs() < 1e-4);
    assert_eq!(landed["median_days"], 9.0, "signed 2026-11-21, in production 2026-11-30");

    // Contract amounts, exact, and the manager who drove them.
    let r = app.get("/api/v1/stats/contracts", &m.token).await;
    assert_eq!(r.body["total"], "430.35");
    assert_eq!(r.body["contracts"], 2);
    let by_type: BTreeMap<&str, &str> = r.body["by_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap(), t["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(by_type["transfer"], "350.25");
    assert_eq!(by_type["development"], "80.10");
    assert_eq!(by_type["consulting"], "0.00");
    let r = app.get("/api/v1/stats/contracts?from=2026-11-21&to=2026-11-21", &m.token).await;
    assert_eq!(r.body["total"], "80.10");
    let mut actions = 0;
    for d in &dockings {
        actions += app
            .store
            .docking_events(&d.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.actor_id.as_deref() == Some(&m.user_id))
            .count();
    }
    let r = app.get("/api/v1/stats/managers", &m.token).await;
    let mine =
        r.body["managers"].as_array().unwrap().iter().find(|x| x["manager_id"] == m.user_id.as_str()).unwrap().clone();
    assert_eq!(mine["actions"], actions as i64);
    assert_eq!(mine["signed"], 2);
    assert_eq!(mine["amount"], "430.35");
    assert_eq!(mine["dockings"], 3);

    // Only managers and admins read the figures; bad parameters say what to fix.
    app.get("/api/v1/stats/funnel", &e1.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = app.get("/api/v1/stats/counts?by=colour", &m.token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Two valid dates in the wrong order: a rule between values, 422.
    app.get("/api/v1/stats/funnel?from=2026-12-01&to=2026-11-01", &m.token)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "conflicting_parameters");
    app.get("/api/v1/stats/report?month=2026-13", &m.token)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_query");

    // The monthly report carries the same figures.
    let r = app.client.get(app.url("/api/v1/stats/report?month=2026-11")).bearer_auth(&m.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "a byte-order mark so Excel reads UTF-8");
    assert!(csv.contains("科技大市场月度报表 2026-11"));
    assert!(csv.contains("transfer,技术转让,1,350.25"), "{csv}");
    assert!(csv.contains("total,合计,2,430.35"), "{csv}");
    assert!(csv.contains("landed,落地转化,1,2,0.5,9"), "{csv}");
    let r = app
        .client
        .get(app.url("/api/v1/stats/report?month=2026-11&format=xlsx"))
        .bearer_auth(&m.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let table = techmarket::tabular::read(&r.bytes().await.unwrap(), techmarket::tabular::Format::Xlsx, None).unwrap();
    assert_eq!(
        table.headers,
        ["代码", "名称", "企业需求", "高校成果", "项目对接", "落地转化"],
        "the first sheet counts by field"
    );
    assert_eq!(table.rows.len(), 2, "new_energy and new_materials");

    // The docking and transfer libraries export whole, for managers.
    let r = app
        .client
        .get(app.url("/api/v1/exports/dockings?format=csv&state=signed"))
        .bearer_auth(&m.token)
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "header and the two signed dockings: {csv}");
    assert!(csv.contains("已签约") && csv.contains(n2["title"].as_str().unwrap()), "{csv}");
    let r =
        app.client.get(app.url("/api/v1/exports/transfers?format=jsonl")).bearer_auth(&m.token).send().await.unwrap();
    let lines: Vec<serde_json::Value> =
        r.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut amounts: Vec<&str> = lines.iter().map(|l| l["amount"].as_str().unwrap()).collect();
    amounts.sort();
    assert_eq!(amounts, ["350.25", "80.10"]);
    app.get("/api/v1/exports/dockings", &e1.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
}
