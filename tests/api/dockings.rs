//! Matching with reasons and the docking library through the API: explanations and near misses,
//! background suggestions (no duplicates, rejected pairs not re-suggested unless a side changed
//! materially), every transition over HTTP, contact disclosure, each role's view, the review
//! queue, bulk review, assignment, notes, manager feedback and near-duplicate flags.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use techmarket::domain::record::Library;

use crate::helpers::{Actor, TestApp, spawn_app};

/// A need of an enterprise that wants a proven result (TRL 6 or more) within 1,200.5 万元.
pub(crate) fn solvent_need() -> Value {
    json!({
        "title": "固态电池电解液溶剂高纯化工艺",
        "description": "现有碳酸酯溶剂水分和金属离子含量偏高，影响固态电池循环寿命，需要高纯化工艺包。",
        "need_type": "achievement_introduction",
        "keywords": ["固态电池", "电解液溶剂", "高纯化"],
    })
}

async fn matches(app: &TestApp, token: &str, need_id: &str) -> Value {
    let r = app.get(&format!("/api/v1/needs/{need_id}/matches"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn ids(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// Waits until the listing `query` (as `token`) satisfies `done`, for at most 10 seconds.
pub(crate) async fn dockings_until(app: &TestApp, token: &str, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get(&format!("/api/v1/dockings?{query}"), token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if done(&r.body["items"]) {
            return r.body["items"].clone();
        }
        assert!(Instant::now() < deadline, "dockings?{query} never satisfied the condition: {}", r.body);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

pub(crate) async fn act(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> crate::helpers::Response {
    app.post(&format!("/api/v1/dockings/{id}/{action}"), token, body).await
}

#[tokio::test]
async fn matches_explain_the_terms_the_fit_and_the_near_misses() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let need = app.create_need(&e, solvent_need()).await;
    let good = app.create_achievement(&u, json!({})).await;
    let close = app
        .create_achievement(
            &u,
            json!({"title": "碳酸酯电解液溶剂精馏提纯小试工艺", "trl": 4, "stage": "small_trial", "asking_price": 1500,
                   "abstract": "电解液溶剂精馏提纯，水分与金属离子降至ppm级，完成小试。", "keywords": ["电解液溶剂", "精馏"]}),
        )
        .await;
    let unrelated = app
        .create_achievement(&u, json!({"title": "耐盐碱大豆新品种", "abstract": "盐碱地出苗率高。", "field": "modern_agriculture", "keywords": ["大豆"]}))
        .await;
    // Private records are not matched; closed ones are not offered.
    let private =
        app.create_achievement(&u, json!({"title": "电解液溶剂高纯化内部工艺", "visibility": "private"})).await;
    let closed = app.create_achievement(&u, json!({"title": "电解液溶剂高纯化旧工艺"})).await;
    let r =
        app.post(&format!("/api/v1/achievements/{}/close", closed["id"].as_str().unwrap()), &u.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.search.catch_up().await.unwrap();

    let body = matches(&app, &m.token, need["id"].as_str().unwrap()).await;
    let found = ids(&body["items"]);
    assert_eq!(found.first(), good["id"].as_str().map(String::from).as_ref(), "{body}");
    assert!(found.contains(&close["id"].as_str().unwrap().to_string()));
    assert!(!found.contains(&unrelated["id"].as_str().unwrap().to_string()), "no shared term: {body}");
    for hidden in [&private, &closed] {
        assert!(!found.contains(&hidden["id"].as_str().unwrap().to_string()), "{hidden}: {body}");
    }
    let r = app.get(&format!("/api/v1/achievements/{}/matches", private["id"].as_str().unwrap()), &m.token).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(body["matcher_version"], "match-2");
    assert_eq!(body["declared_field"], "new_energy");

    let top = &body["items"][0];
    let score = top["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");
    let x = &top["explanation"];
    let terms = x["matched_terms"].as_array().unwrap();
    let solvent = terms.iter().find(|t| t["term"] == "电解液溶剂").expect("电解液溶剂 is a matched term");
    assert!(solvent["weight"].as_f64().unwrap() > 0.0);
    assert!(solvent["fields"].as_array().unwrap().contains(&json!("keywords")), "{solvent}");
    assert!(x["matched_keywords"].as_array().unwrap().iter().any(|k| k["keyword"] == "电解液溶剂"), "{x}");
    assert!(x["title_html"].as_str().unwrap().contains("<b>"), "{x}");
    let fit = |item: &Value, code: &str| -> Value {
        item["explanation"]["fit"]["items"].as_array().unwrap().iter().find(|i| i["code"] == code).unwrap().clone()
    };
    assert_eq!(fit(top, "field")["status"], "fits");
    assert_eq!(fit(top, "trl")["values"]["required"], 6);
    assert_eq!(fit(top, "trl")["status"], "fits");
    assert_eq!(fit(top, "budget")["message"], "报价 900.00 万元，在预算 1200.50 万元以内");
    assert_eq!(fit(top, "cooperation")["values"]["common"], json!(["transfer"]));
    assert_eq!(fit(top, "region")["status"], "fits", "370502 and 370523 are both in 东营市");
    assert!(x["near_miss"].is_null());
    assert!(x["summary"].as_str().unwrap().starts_with("匹配度"), "{x}");

    let near = body["items"].as_array().unwrap().iter().find(|i| i["id"] == close["id"]).unwrap();
    assert_eq!(fit(near, "trl")["status"], "near_miss");
    assert_eq!(fit(near, "trl")["values"]["gap"], 2);
    assert_eq!(fit(near, "budget")["status"], "near_miss");
    assert_eq!(fit(near, "budget")["values"]["gap"], 299.5);
    let miss = &near["explanation"]["near_miss"];
    assert_eq!(miss["gaps"], json!(["trl", "budget"]), "{near}");
    assert!(miss["message"].as_str().unwrap().contains("低于成果引进类需求的 TRL 6"), "{miss}");

    // The reverse direction, and who may ask.
    let r = app.get(&format!("/api/v1/achievements/{}/matches", good["id"].as_str().unwrap()), &m.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r.body["items"]), [need["id"].as_str().unwrap()]);
    assert_eq!(r.body["items"][0]["explanation"]["direction"], "achievement_to_needs");
    let r = app.get(&format!("/api/v1/needs/{}/matches", need["id"].as_str().unwrap()), &e.token).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = app.get(&format!("/api/v1/needs/{}/matches?limit=0", need["id"].as_str().unwrap()), &m.token).await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn writes_are_matched_in_the_background_once_and_rejections_stick_until_a_material_change() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let achievement = app.create_achievement(&u, json!({})).await;
    app.search.catch_up().await.unwrap();
    let need = app.create_need(&e, solvent_need()).await;
    let need_id = need["id"].as_str().unwrap();
    let pair = format!("need_id={need_id}&achievement_id={}", achievement["id"].as_str().unwrap());

    let items = dockings_until(&app, &m.token, &pair, |items| !items.as_array().unwrap().is_empty()).await;
    let suggestion = &items[0];
    assert_eq!(suggestion["state"], "suggested");
    assert_eq!(suggestion["source"], "suggested");
    assert_eq!(suggestion["matcher_version"], "match-2");
    assert!(suggestion["dictionary_version"].as_str().unwrap().starts_with('2'), "{suggestion}");
    assert!(suggestion["score"].as_f64().unwrap() >= 0.2);
    assert!(!suggestion["explanation"]["matched_terms"].as_array().unwrap().is_empty());
    let stored_score = suggestion["explanation"]["score"].to_string();
    assert!(stored_score.len() <= 5, "stored figures keep their short form: {stored_score}");

    // Matching again (a non-material edit, and a full re-run) adds nothing.
    let r = app
        .patch(
            &format!("/api/v1/needs/{need_id}"),
            &e.token,
            json!({"contact": {"name": "王工", "phone": "13905461203"}}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.search.catch_up().await.unwrap();
    app.matcher.run_pending().await.unwrap();
    app.matcher.match_all().await.unwrap();
    let r = app.get(&format!("/api/v1/dockings?{pair}"), &m.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "no duplicate suggestion: {}", r.body);

    // Rejected, the pair is not suggested again while neither side changes materially...
    let id = suggestion["id"].as_str().unwrap();
    let r = act(&app, &m.token, id, "reject", json!({"reason": "budget_gap", "note": "企业预算暂未落实"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "rejected");
    assert_eq!(r.body["reason"], "budget_gap");
    app.matcher.match_all().await.unwrap();
    let r = app.get(&format!("/api/v1/dockings?{pair}"), &m.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);

    // ...and is suggested anew once the need changes what it asks for.
    let r = app
        .patch(
            &format!("/api/v1/needs/{need_id}"),
            &e.token,
            json!({"budget_max": 2000, "targets": "水分≤5ppm"}),
            Some(2),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = dockings_until(&app, &m.token, &pair, |items| items.as_array().unwrap().len() == 2).await;
    let states: Vec<&str> = items.as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"suggested") && states.contains(&"rejected"), "{states:?}");
}

#[tokio::test]
async fn a_rejection_makes_room_for_the_next_candidate() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let processes = ["减压精馏", "分子筛吸附", "络合除杂", "膜分离", "结晶提纯", "共沸精馏", "树脂吸附"];
    for process in processes {
        app.create_achievement(&u, json!({"title": format!("电解液溶剂{process}高纯化工艺")})).await;
    }
    // The achievements are matched (against no needs yet) before the need arrives, so every
    // suggestion comes from the need's own matching.
    app.search.catch_up().await.unwrap();
    app.matcher.run_pending().await.unwrap();
    let need = app.create_need(&e, solvent_need()).await;
    let query = format!("need_id={}&state=suggested", need["id"].as_str().unwrap());
    // At most five wait for review at a time (matching.max_suggestions).
    let waiting = dockings_until(&app, &m.token, &query, |items| items.as_array().unwrap().len() == 5).await;
    app.matcher.match_all().await.unwrap();
    let r = app.get(&format!("/api/v1/dockings?{query}"), &m.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5, "{}", r.body);

    let rejected = waiting[0]["id"].as_str().unwrap();
    let r = act(&app, &m.token, rejected, "reject", json!({"reason": "already_solved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refilled = dockings_until(&app, &m.token, &query, |items| {
        let ids = ids(items);
        ids.len() == 5 && !ids.contains(&rejected.to_string())
    })
    .await;
    let before: Vec<String> = ids(&waiting);
    assert_eq!(ids(&refilled).iter().filter(|id| !before.contains(id)).count(), 1, "one new candidate");
}

/// A suggested docking of a fresh pair, created by the background matcher.
pub(crate) async fn suggested_pair(
    app: &TestApp,
    e: &Actor,
    u: &Actor,
    m: &Actor,
    need: Value,
) -> (String, Value, Value) {
    let achievement =
        app.create_achievement(u, json!({"field": need.get("field").cloned().unwrap_or(json!("new_energy"))})).await;
    app.search.catch_up().await.unwrap();
    let need = app.create_need(e, need).await;
    let pair =
        format!("need_id={}&achievement_id={}", need["id"].as_str().unwrap(), achievement["id"].as_str().unwrap());
    let items = dockings_until(app, &m.token, &pair, |items| !items.as_array().unwrap().is_empty()).await;
    (items[0]["id"].as_str().unwrap().to_string(), need, achievement)
}

#[tokio::test]
async fn a_docking_moves_through_every_legal_transition_and_refuses_the_rest() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let (id, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;

    // Refusals say what is allowed; a rejection needs a reason, `other` a note.
    let r = act(&app, &m.token, &id, "sign", json!({})).await;
    let message = r.assert_error(StatusCode::CONFLICT, "invalid_docking_transition");
    assert_eq!(message, "cannot sign a docking that is `suggested`; allowed now: accept, reject");
    assert_eq!(r.body["error"]["details"]["allowed"], json!(["accept", "reject"]));
    act(&app, &m.token, &id, "reject", json!({}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    act(&app, &m.token, &id, "reject", json!({"reason": "other"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    act(&app, &m.token, &id, "accept", json!({"reason": "duplicate"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    act(&app, &m.token, &id, "accept", json!({"version": 7}))
        .await
        .assert_error(StatusCode::CONFLICT, "version_conflict");
    act(&app, &m.token, &id, "bless", json!({})).await.assert_error(StatusCode::NOT_FOUND, "route_not_found");
    // A reason sent as a form is refused, not dropped.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/dockings/{id}/reject")))
        .bearer_auth(&m.token)
        .body(r#"{"reason": "other"}"#)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    crate::helpers::Response::from(r).await.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = app
        .client
        .post(app.url(&format!("/api/v1/dockings/{id}/reject")))
        .bearer_auth(&m.token)
        .body("{\"reason\": ")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    crate::helpers::Response::from(r).await.assert_error(StatusCode::BAD_REQUEST, "malformed_json");
    act(&app, &m.token, &id, "accept", json!({"reason": "不存在"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_body");

    for (action, state) in
        [("accept", "accepted"), ("introduce", "introduced"), ("negotiate", "negotiating"), ("sign", "signed")]
    {
        let mut body = json!({"note": format!("{action} 备注")});
        if action == "sign" {
            body["contract"] = json!({"contract_type": "service", "amount": "45.00", "signed_on": app.market_today()});
        }
        let r = act(&app, &m.token, &id, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
        assert_eq!(r.body["state"], state);
    }
    let r = act(&app, &m.token, &id, "fail", json!({"reason": "party_unresponsive"})).await;
    r.assert_error(StatusCode::CONFLICT, "invalid_docking_transition");
    assert_eq!(r.body["error"]["details"]["allowed"], json!([]));

    let r = app.get(&format!("/api/v1/dockings/{id}"), &m.token).await;
    assert_eq!(r.body["manager_id"], m.user_id.as_str(), "the accepting manager drives it");
    let events = r.body["events"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> =
        events.iter().map(|e| (e["kind"].as_str().unwrap(), e["to_state"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        kinds,
        [
            ("created", "suggested"),
            ("transition", "accepted"),
            ("transition", "introduced"),
            ("transition", "negotiating"),
            ("transition", "signed")
        ]
    );
    assert_eq!(events[0]["actor_role"], "matcher");
    assert_eq!(events[2]["actor_id"], m.user_id.as_str());
    assert_eq!(events[2]["note"], "introduce 备注");
    assert!(events[2]["at"].as_str().unwrap().starts_with("20"));

    // Failing and withdrawing from each open state, on fresh pairs.
    for (path, last, reason) in [
        (&["accept"][..], "fail", Some("trl_too_low")),
        (&["accept", "introduce"][..], "fail", Some("party_unresponsive")),
        (&["accept", "introduce", "negotiate"][..], "withdraw", None),
    ] {
        let mut body = solvent_need();
        body["title"] = json!(format!("固态电池电解液溶剂高纯化工艺{}", path.len()));
        let (id, ..) = suggested_pair(&app, &e, &u, &m, body).await;
        for action in path {
            assert_eq!(act(&app, &m.token, &id, action, json!({})).await.status, StatusCode::OK);
        }
        let r = act(&app, &m.token, &id, last, reason.map(|r| json!({"reason": r})).unwrap_or(json!({}))).await;
        assert_eq!(r.status, StatusCode::OK, "{path:?} {last}: {}", r.text);
        assert_eq!(r.body["reason"].as_str(), reason);
    }
}

#[tokio::test]
async fn contacts_are_disclosed_from_introduction_and_each_role_sees_only_its_own() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let stranger = app.enterprise("垦利石化集团").await;
    let mut confidential = solvent_need();
    confidential["visibility"] = json!("managers");
    let (id, need, achievement) = suggested_pair(&app, &e, &u, &m, confidential).await;
    let path = format!("/api/v1/dockings/{id}");

    // A raw suggestion is the managers' business only.
    for party in [&e, &u, &stranger] {
        app.get(&path, &party.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = app.get("/api/v1/dockings", &party.token).await;
        assert_eq!(r.body["items"], json!([]), "{}", r.body);
        act(&app, &party.token, &id, "accept", json!({})).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    app.get("/api/v1/dockings/queue", &e.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");

    let need_path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    let achievement_path = format!("/api/v1/achievements/{}", achievement["id"].as_str().unwrap());
    assert_eq!(act(&app, &m.token, &id, "accept", json!({})).await.status, StatusCode::OK);
    // The records themselves: the confidential need stays hidden from the university, the public
    // achievement's contact from the enterprise, until the introduction.
    app.get(&need_path, &u.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = app.get(&achievement_path, &e.token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["contact"].is_null(), "{}", r.body);
    // Accepted: both parties see it, without the other side's contact; the university does not
    // see the confidential need's title yet. Strangers still see nothing.
    let r = app.get(&path, &e.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["achievement"]["contact"].is_null(), "{}", r.body);
    assert_eq!(r.body["need"]["contact"]["name"], "刘思远", "the owner reads its own contact");
    assert!(r.body["explanation"].is_null(), "explanations are for managers");
    assert_eq!(r.body["allowed_actions"], json!(["withdraw", "interest"]));
    let r = act(&app, &e.token, &id, "interest", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["allowed_actions"], json!(["withdraw"]), "interest marked once");
    let r = app.get(&path, &u.token).await;
    assert_eq!(r.body["allowed_actions"], json!(["withdraw", "interest"]), "the other party has not yet");
    assert!(r.body["need"]["contact"].is_null() && r.body["need"]["title"].is_null(), "{}", r.body);
    assert_eq!(r.body["achievement"]["title"], achievement["title"]);
    app.get(&path, &stranger.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = app.get("/api/v1/dockings", &u.token).await;
    assert_eq!(ids(&r.body["items"]), std::slice::from_ref(&id));
    act(&app, &u.token, &id, "introduce", json!({})).await.assert_error(StatusCode::FORBIDDEN, "forbidden");

    // The university marks interest; the manager introduces: contacts are disclosed both ways.
    let r = act(&app, &u.token, &id, "interest", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["achievement_interest"], true);
    assert_eq!(act(&app, &m.token, &id, "introduce", json!({})).await.status, StatusCode::OK);
    let r = app.get(&path, &u.token).await;
    assert_eq!(r.body["need"]["contact"]["phone"], "13905461202", "{}", r.body);
    assert_eq!(r.body["need"]["title"], need["title"]);
    let r = app.get(&path, &e.token).await;
    assert_eq!(r.body["achievement"]["contact"]["name"], "沈化成", "{}", r.body);
    let r = app.get(&need_path, &u.token).await;
    assert_eq!(r.status, StatusCode::OK, "introduced, the university reads the need: {}", r.text);
    assert_eq!(r.body["contact"]["phone"], "13905461202");
    let r = app.get(&achievement_path, &e.token).await;
    assert_eq!(r.body["contact"]["name"], "沈化成", "{}", r.body);
    app.get(&need_path, &stranger.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Managers' notes stay with the managers.
    let r = act(&app, &m.token, &id, "notes", json!({"note": "企业资金紧张，需关注"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events = app.get(&path, &e.token).await.body["events"].clone();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["note"].as_str()), (Some("note"), Some("")), "{last}");

    // A party withdraws; what was disclosed stays disclosed to the parties.
    let r = act(&app, &e.token, &id, "withdraw", json!({"note": "企业战略调整"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "withdrawn");
    assert_eq!(r.body["achievement"]["contact"]["name"], "沈化成");
    let events = app.get(&path, &m.token).await.body["events"].clone();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["actor_role"].as_str(), last["note"].as_str()), (Some("enterprise"), Some("企业战略调整")));
}

#[tokio::test]
async fn managers_review_the_queue_in_bulk_assign_and_annotate() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let other_manager = app.manager().await;
    let (first, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    let mut second_need = solvent_need();
    second_need["title"] = json!("锂电池电解液溶剂除水除杂");
    second_need["field"] = json!("new_materials");
    let (second, ..) = suggested_pair(&app, &e, &u, &m, second_need).await;

    let r = app.get("/api/v1/dockings/queue", &m.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let scores: Vec<f64> = r.body["items"].as_array().unwrap().iter().map(|d| d["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
    assert!(r.body["items"].as_array().unwrap().iter().all(|d| d["state"] == "suggested"));
    let r = app.get("/api/v1/dockings/queue?field=new_materials", &m.token).await;
    assert!(ids(&r.body["items"]).contains(&second) && !ids(&r.body["items"]).contains(&first), "{}", r.body);
    let r = app.get("/api/v1/dockings/queue?region=3705", &m.token).await;
    assert!(ids(&r.body["items"]).contains(&first));
    let r = app.get("/api/v1/dockings/queue?region=4401", &m.token).await;
    assert_eq!(r.body["items"], json!([]));
    // A suggestion whose need was closed leaves the queue (and stays in the library).
    let closed_need = app.get(&format!("/api/v1/dockings/{second}"), &m.token).await.body["need"]["id"].clone();
    let r = app.post(&format!("/api/v1/needs/{}/close", closed_need.as_str().unwrap()), &e.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/dockings/queue", &m.token).await;
    assert!(!ids(&r.body["items"]).contains(&second), "{}", r.body);
    let r = app.post(&format!("/api/v1/needs/{}/reopen", closed_need.as_str().unwrap()), &e.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.get("/api/v1/dockings/queue?state=accepted", &m.token)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/api/v1/dockings?state=waiting", &m.token).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");

    // Bulk: each id on its own.
    assert_eq!(act(&app, &m.token, &second, "accept", json!({})).await.status, StatusCode::OK);
    let r = app.post("/api/v1/dockings/bulk", &m.token, json!({"action": "accept", "ids": [first, second]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.body["succeeded"].as_u64(), r.body["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(r.body["results"][0]["state"], "accepted");
    assert_eq!(r.body["results"][1]["error"]["code"], "invalid_docking_transition");
    let r = app.post("/api/v1/dockings/bulk", &m.token, json!({"action": "sign", "ids": [first]})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_bulk_action");

    // Assign to another manager, add a note; list by manager and by state.
    let r = act(&app, &m.token, &first, "assign", json!({"manager_id": other_manager.user_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["manager_id"], other_manager.user_id.as_str());
    act(&app, &m.token, &first, "assign", json!({"manager_id": e.user_id}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "not_a_manager");
    let r =
        act(&app, &other_manager.token, &first, "notes", json!({"note": "已电话联系企业技术负责人，下周走访。"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let last = r.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["note"].as_str()),
        (Some("note"), Some("已电话联系企业技术负责人，下周走访。"))
    );
    act(&app, &m.token, &first, "notes", json!({"note": " "}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_note");
    let r = app.get("/api/v1/dockings?manager_id=me", &other_manager.token).await;
    assert_eq!(ids(&r.body["items"]), std::slice::from_ref(&first));
    let r = app.get(&format!("/api/v1/dockings?state=accepted&org_id={}", u.org_id), &m.token).await;
    assert_eq!(ids(&r.body["items"]).len(), 2);

    // Manual dockings start accepted; a pair with an open docking is refused.
    let extra = app.create_achievement(&u, json!({"title": "电解液溶剂在线水分检测仪"})).await;
    let need_id = r.body["items"][0]["need"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/v1/dockings",
            &m.token,
            json!({"need_id": need_id, "achievement_id": extra["id"], "note": "走访中发现"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!((r.body["state"].as_str(), r.body["source"].as_str()), (Some("accepted"), Some("manual")));
    assert!(r.body["explanation"]["fit"]["items"].is_array(), "{}", r.body);
    let r = app.post("/api/v1/dockings", &m.token, json!({"need_id": need_id, "achievement_id": extra["id"]})).await;
    r.assert_error(StatusCode::CONFLICT, "docking_exists");
    let r = app.post("/api/v1/dockings", &e.token, json!({"need_id": need_id, "achievement_id": extra["id"]})).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

/// A manual docking of the pair, or the matcher's suggestion of it if one came first: (id,
/// whether it is the suggestion).
async fn manual_or_suggested(app: &TestApp, m: &Actor, need_id: &str, achievement_id: &Value) -> (String, bool) {
    let r = app.post("/api/v1/dockings", &m.token, json!({"need_id": need_id, "achievement_id": achievement_id})).await;
    match r.status {
        StatusCode::CREATED => (r.body["id"].as_str().unwrap().to_string(), false),
        StatusCode::CONFLICT if r.body["error"]["details"]["state"] == "suggested" => {
            (r.body["error"]["details"]["docking_id"].as_str().unwrap().to_string(), true)
        }
        _ => panic!("creating the docking: {}", r.text),
    }
}

#[tokio::test]
async fn manager_feedback_moves_the_ranking() {
    let app = spawn_app().await;
    let e = app.enterprise("东营港经济开发区化工企业").await;
    let u = app.university("山东海洋化工研究院").await;
    let m = app.manager().await;
    // Two fields answer a need that declares none: heat-exchange materials and process control.
    let need = app
        .create_need(
            &e,
            json!({"title": "换热器结垢在线监测与防垢", "description": "循环水换热器结垢导致换热效率下降，需要在线监测结垢并防垢。",
                   "field": "other", "keywords": ["换热器", "结垢"], "need_type": "tech_service"}),
        )
        .await;
    let material = |title: &str, keywords: Value| json!({"title": title, "abstract": "换热器表面防垢涂层，降低结垢速率。", "field": "new_materials", "keywords": keywords});
    let monitor = |title: &str, keywords: Value| json!({"title": title, "abstract": "基于热阻变化的换热器结垢在线监测。", "field": "intelligent_manufacturing", "keywords": keywords});
    let m1 = app.create_achievement(&u, material("换热器防垢涂层材料", json!(["防垢涂层", "换热器"]))).await;
    let m2 = app.create_achievement(&u, material("换热器结垢抑制纳米涂层", json!(["防垢涂层", "纳米涂层"]))).await;
    let s1 = app.create_achievement(&u, monitor("换热器结垢在线监测系统", json!(["在线监测", "热阻"]))).await;
    let s2 = app.create_achievement(&u, monitor("循环水结垢热阻监测仪", json!(["在线监测", "循环水"]))).await;
    app.search.catch_up().await.unwrap();
    let need_id = need["id"].as_str().unwrap();
    let before = matches(&app, &m.token, need_id).await;
    let rank = |body: &Value, id: &Value| ids(&body["items"]).iter().position(|x| x == id.as_str().unwrap()).unwrap();

    // Rejecting a materials candidate as a field mismatch pushes the other materials one down.
    // (The background matcher may have suggested the pair already: the manager then rejects
    // the suggestion instead of failing a docking made by hand; both are the same feedback.)
    let (docking, suggested) = manual_or_suggested(&app, &m, need_id, &m1["id"]).await;
    let (action, body) = if suggested {
        ("reject", json!({"reason": "field_mismatch"}))
    } else {
        ("fail", json!({"reason": "field_mismatch"}))
    };
    let r = act(&app, &m.token, &docking, action, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = matches(&app, &m.token, need_id).await;
    let share = |body: &Value, field: &str| -> f64 {
        body["field_evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .map(|f| f["share"].as_f64().unwrap())
            .unwrap_or(0.0)
    };
    assert!(share(&after, "new_materials") < share(&before, "new_materials"), "{before}\n{after}");
    assert!(rank(&after, &m2["id"]) >= rank(&before, &m2["id"]), "{before}\n{after}");
    let m2_before = &before["items"][rank(&before, &m2["id"])]["score"];
    let m2_after = &after["items"][rank(&after, &m2["id"])]["score"];
    assert!(m2_after.as_f64() < m2_before.as_f64(), "{m2_before} → {m2_after}");

    // Accepting a monitoring candidate lends its keywords to the similar one.
    let (docking, suggested) = manual_or_suggested(&app, &m, need_id, &s1["id"]).await;
    if suggested {
        let r = act(&app, &m.token, &docking, "accept", json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let accepted = matches(&app, &m.token, need_id).await;
    let s2_item = &accepted["items"][rank(&accepted, &s2["id"])];
    assert!(s2_item["explanation"]["feedback_keywords"].as_array().unwrap().contains(&json!("在线监测")), "{s2_item}");
    assert!(s2_item["score"].as_f64() >= after["items"][rank(&after, &s2["id"])]["score"].as_f64());
}

#[tokio::test]
async fn the_same_need_posted_twice_is_flagged() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let other = app.enterprise("广饶橡胶轮胎集团").await;
    let first = app.create_need(&e, json!({})).await;
    assert!(first.get("possible_duplicates").is_none(), "{first}");
    // Another enterprise's need with the same title is not a duplicate.
    let theirs = app.create_need(&other, json!({})).await;
    assert!(theirs.get("possible_duplicates").is_none(), "{theirs}");
    let again = app.create_need(&e, json!({"title": "固態電池電解液溶劑高純化工藝"})).await;
    let flagged = again["possible_duplicates"].as_array().expect("flagged");
    assert_eq!(flagged.len(), 1, "{again}");
    assert_eq!(flagged[0]["id"], first["id"]);
    assert!(flagged[0]["similarity"].as_f64().unwrap() >= 0.8);
    let written = flagged[0]["similarity"].to_string();
    assert!(written.len() <= 5, "three decimals at most, not a float's noise: {written}");
}

#[tokio::test]
async fn a_pair_that_went_further_than_a_rejection_is_never_suggested_again() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let (id, need, achievement) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    let (need_id, achievement_id) = (need["id"].as_str().unwrap(), achievement["id"].as_str().unwrap());
    crate::transfers::negotiating(&app, &m, need_id, achievement_id).await;
    let contract = json!({"contract_type": "transfer", "amount": "300", "signed_on": "2026-11-20"});
    let r = crate::transfers::sign(&app, &m, &id, contract).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The enterprise changes what it asks for: a rejected pair would come back; a signed one not.
    let r = app.patch(&format!("/api/v1/needs/{need_id}"), &e.token, json!({"budget_max": 2000}), Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.search.catch_up().await.unwrap();
    app.matcher.run_pending().await.unwrap();
    app.matcher.match_all().await.unwrap();
    let r = app.get(&format!("/api/v1/dockings?need_id={need_id}&achievement_id={achievement_id}"), &m.token).await;
    let states: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["signed"], "{}", r.body);
    // Nor does the matches API offer it as a fresh candidate: it names the signed docking.
    let body = matches(&app, &m.token, need_id).await;
    let item = body["items"].as_array().unwrap().iter().find(|i| i["id"] == achievement["id"]).unwrap();
    assert_eq!(item["docking"]["state"], "signed");
}

/// The queue's entry for a docking, as managers see it.
async fn queued(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app.get("/api/v1/dockings/queue?limit=100", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().iter().find(|d| d["id"] == id).cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_material_change_re_scores_the_waiting_suggestions_or_withdraws_them() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    // The achievement asks 900 万元; the need's budget is 600: a near miss on the budget.
    let mut need = solvent_need();
    need["budget_min"] = json!(100);
    need["budget_max"] = json!(600);
    let (id, need, achievement) = suggested_pair(&app, &e, &u, &m, need).await;
    let need_id = need["id"].as_str().unwrap();
    let before = queued(&app, &m.token, &id).await;
    assert_eq!(before["explanation"]["near_miss"]["gaps"], json!(["budget"]), "{before}");
    let old_score = before["score"].as_f64().unwrap();

    // The enterprise raises its budget: the waiting suggestion is re-scored, without the near
    // miss, to the score the matches API gives the pair now.
    let r = app.patch(&format!("/api/v1/needs/{need_id}"), &e.token, json!({"budget_max": 1000}), Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let entry = queued(&app, &m.token, &id).await;
        if entry["score"].as_f64() != Some(old_score) {
            break entry;
        }
        assert!(Instant::now() < deadline, "never re-scored: {entry}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(after["state"], "suggested");
    assert!(after["score"].as_f64().unwrap() > old_score, "{old_score} → {after}");
    assert_eq!(after["explanation"]["near_miss"], Value::Null, "{after}");
    let now = matches(&app, &m.token, need_id).await;
    let item = now["items"].as_array().unwrap().iter().find(|i| i["id"] == achievement["id"]).unwrap();
    assert_eq!(after["score"], item["score"], "the queue and the matches API agree");
    let r = app.get(&format!("/api/v1/dockings/{id}"), &m.token).await;
    let last = r.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["actor_role"].as_str()), (Some("rescored"), Some("matcher")), "{last}");
    assert!(last["note"].as_str().unwrap().contains("重新评分"), "{last}");

    // The need turns to another subject: the suggestion no longer holds and is withdrawn, with a
    // reason, by the matcher.
    let other = json!({"title": "海上风电塔筒防腐涂层", "description": "近海风电塔筒浪溅区涂层三年即失效，需要长效防腐方案。",
                       "keywords": ["防腐涂层", "海上风电"], "targets": "", "field": "new_materials"});
    let r = app.patch(&format!("/api/v1/needs/{need_id}"), &e.token, other, Some(2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    let docking = loop {
        let r = app.get(&format!("/api/v1/dockings/{id}"), &m.token).await;
        if r.body["state"] != "suggested" {
            break r.body;
        }
        assert!(Instant::now() < deadline, "never withdrawn: {}", r.body);
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(docking["state"], "withdrawn", "{docking}");
    assert!(docking["reason"].is_string(), "{docking}");
    let last = docking["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["actor_role"], "matcher");
    assert!(last["note"].as_str().unwrap().contains("由系统撤回"), "{last}");
    assert_eq!(queued(&app, &m.token, &id).await, Value::Null, "gone from the queue");
}

#[tokio::test]
async fn the_score_is_held_down_by_the_text_evidence_whatever_the_field_says() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let need = app.create_need(&e, solvent_need()).await;
    let good = app.create_achievement(&u, json!({})).await;
    // The same field, the same city, cooperation that fits: but only one word of the need.
    let labelled = app
        .create_achievement(
            &u,
            json!({"title": "固态电池包液冷热管理系统", "abstract": "电池包液冷板流道优化，温差控制在3℃以内。",
                   "keywords": ["热管理", "液冷"], "region": "370523"}),
        )
        .await;
    app.search.catch_up().await.unwrap();
    let body = matches(&app, &m.token, need["id"].as_str().unwrap()).await;
    let item = |id: &Value| body["items"].as_array().unwrap().iter().find(|i| i["id"] == *id).cloned().unwrap();
    let (good, labelled) = (item(&good["id"]), item(&labelled["id"]));
    for i in [&good, &labelled] {
        let (score, coverage) = (i["score"].as_f64().unwrap(), i["explanation"]["coverage"].as_f64().unwrap());
        assert!(score <= coverage.sqrt() + 0.002, "the score is at most √coverage: {score} {coverage}");
    }
    let field =
        labelled["explanation"]["fit"]["items"].as_array().unwrap().iter().find(|f| f["code"] == "field").cloned();
    assert_eq!(field.unwrap()["status"], "fits", "{labelled}");
    assert!(labelled["score"].as_f64().unwrap() < 0.4, "a field label does not make a match: {labelled}");
    assert!(good["score"].as_f64().unwrap() > labelled["score"].as_f64().unwrap() + 0.1, "{good} {labelled}");
}

#[tokio::test]
async fn a_note_sent_as_null_is_a_note_left_out() {
    let app = crate::helpers::spawn_app().await;
    let m = app.manager().await;
    let e = app.enterprise("东营空备注测试有限公司").await;
    let u = app.university("空备注测试大学").await;
    let need = app.create_need(&e, serde_json::json!({})).await["id"].as_str().unwrap().to_string();
    let achievement = app.create_achievement(&u, serde_json::json!({})).await["id"].as_str().unwrap().to_string();
    let docking = crate::transfers::negotiating(&app, &m, &need, &achievement).await;
    // As the document allows: `note` and `contract` null. A failure needs its reason (422), not a 400.
    let r = app
        .post(
            &format!("/api/v1/dockings/{docking}/fail"),
            &m.token,
            serde_json::json!({"contract": null, "note": null}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/dockings/{docking}/fail"),
            &m.token,
            serde_json::json!({"reason": "party_unresponsive", "note": null}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
}

/// A context on a fresh database, with no followers: nothing is indexed or matched unless the
/// test asks.
async fn quiet_context(dir: &tempfile::TempDir, max_suggestions: usize) -> std::sync::Arc<techmarket::app::App> {
    let url = crate::helpers::fresh_database_url(dir).await;
    let max = max_suggestions.to_string();
    let config = crate::helpers::test_config_with(dir, &url, &[("TECHMARKET__MATCHING__MAX_SUGGESTIONS", &max)]);
    techmarket::telemetry::init(&config.log);
    techmarket::startup::open_context(&config).await.expect("open the context").0
}

/// Every docking of the market as (need, achievement, state, score, explanation), sorted.
async fn all_suggestions(cx: &techmarket::app::App) -> Vec<(String, String, String, String, String)> {
    let query = techmarket::storage::DockingQuery { limit: 1_000, ..Default::default() };
    let page = cx.store().list_dockings(&query).await.unwrap();
    assert!(page.next_cursor.is_none());
    let mut out = Vec::new();
    for d in page.items {
        let need = cx.store().get_need(&d.need_id).await.unwrap().unwrap().content.title;
        let achievement = cx.store().get_achievement(&d.achievement_id).await.unwrap().unwrap().content.title;
        let score = format!("{:?}", d.score);
        out.push((need, achievement, serde_json::to_string(&d.state).unwrap(), score, d.explanation.to_string()));
    }
    out.sort();
    out
}

#[tokio::test]
async fn batch_matching_suggests_what_one_by_one_matching_would() {
    // Five suggestions at most waiting per record (the default), in two batches: records of the
    // second that the first's suggestions reached take the one-by-one path.
    batch_and_one_by_one(5, Copies::Needs).await;
    // One at most, the needs matched before any achievement could be found (as if posted
    // first), then every achievement in one batch: an achievement and its copy compete for the
    // same need within the batch.
    batch_and_one_by_one(1, Copies::Achievements).await;
}

/// Which library the test copies after the demo market is written.
#[derive(Clone, Copy, PartialEq)]
enum Copies {
    Needs,
    Achievements,
}

async fn batch_and_one_by_one(max_suggestions: usize, copies: Copies) {
    use techmarket::app::matches;
    // The demo market twice (the needs and achievements of the city's industries, none matched)
    // with a second record of each need or achievement asking or offering the same.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (quiet_context(&dir_a, max_suggestions).await, quiet_context(&dir_b, max_suggestions).await);
    for cx in [&a, &b] {
        techmarket::demo::seed(cx).await.unwrap();
        let system = techmarket::app::Actor::System("test");
        if copies == Copies::Needs {
            let mut needs = cx.store().scan_needs("", 1_000).await.unwrap();
            for need in &mut needs {
                need.meta.id = techmarket::domain::new_id();
                need.content.title = format!("{}（二期）", need.content.title);
            }
            techmarket::app::records::insert_prepared(cx, system, &needs, &[]).await.unwrap();
        } else {
            let mut achievements = cx.store().scan_achievements("", 1_000).await.unwrap();
            for achievement in &mut achievements {
                achievement.meta.id = techmarket::domain::new_id();
                achievement.content.title = format!("{}（改进型）", achievement.content.title);
            }
            techmarket::app::records::insert_prepared(cx, system, &[], &achievements).await.unwrap();
        }
    }
    let changes = a.store().changes_after(0, 10_000).await.unwrap();
    let last = changes.last().unwrap().seq;
    let records: Vec<_> = changes.iter().filter_map(|c| c.record().map(|r| (c.seq, r))).collect();
    assert!(records.len() > 100, "the demo holds enough records to match: {}", records.len());
    let mut seen = std::collections::HashSet::new();
    let records: Vec<_> = records.into_iter().filter(|(_, r)| seen.insert(*r)).collect();
    let one_by_one = |upto: i64, after: i64| {
        let (a, records) = (a.clone(), records.clone());
        async move {
            for (_, (library, id)) in records.iter().filter(|(seq, _)| *seq > after && *seq <= upto) {
                matches::suggest_for(&a, *library, id).await.unwrap();
            }
        }
    };
    // Where the first batch ends: at the last need when the needs are matched first, on an
    // empty index; halfway otherwise.
    let first_upto = match copies {
        Copies::Achievements => {
            let upto = records.iter().filter(|(_, (l, _))| *l == Library::Needs).map(|(s, _)| *s).max().unwrap();
            assert!(records.iter().all(|(s, (l, _))| *l == Library::Needs || *s > upto), "needs come first");
            upto
        }
        Copies::Needs => {
            for cx in [&a, &b] {
                techmarket::app::indexing::catch_up(cx.store().as_ref(), cx.search()).await.unwrap();
            }
            changes[changes.len() / 2].seq
        }
    };
    // One record at a time in the order written, and as the suggester does, in batches.
    one_by_one(first_upto, 0).await;
    let first = matches::run_pending(&b, first_upto, || false).await.unwrap();
    for cx in [&a, &b] {
        techmarket::app::indexing::catch_up(cx.store().as_ref(), cx.search()).await.unwrap();
    }
    one_by_one(last, first_upto).await;
    let rest = matches::run_pending(&b, last, || false).await.unwrap();
    assert_eq!(rest.checkpoint, last);

    let (one_by_one, batched) = (all_suggestions(&a).await, all_suggestions(&b).await);
    assert_eq!(one_by_one.len(), first.created + rest.created);
    assert!(one_by_one.iter().all(|s| s.2 == "\"suggested\""), "{one_by_one:?}");
    assert_eq!(one_by_one, batched, "the batch writes exactly the one-by-one suggestions");
    // Some queues were full, so the batch had to count what waits for each record.
    let mut per_record = std::collections::HashMap::new();
    for s in &one_by_one {
        *per_record.entry(&s.0).or_insert(0) += 1;
        *per_record.entry(&s.1).or_insert(0) += 1;
    }
    assert!(per_record.values().any(|n| *n == max_suggestions), "a full queue: {per_record:?}");
    techmarket::startup::close(&a).await;
    techmarket::startup::close(&b).await;
}
