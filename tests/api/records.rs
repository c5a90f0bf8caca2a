//! Creating, reading, updating, listing and closing needs and achievements.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_enterprise_posts_a_need_and_a_manager_reads_it_back() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("广饶固态电池材料科技有限公司").await;
    let manager = app.manager().await;

    let created = app.create_need(&enterprise, json!({})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["owner"]["id"], enterprise.org_id.as_str());
    assert_eq!(created["owner"]["name"], "广饶固态电池材料科技有限公司");
    assert_eq!(created["status"], "open");
    assert_eq!(created["version"], 1);
    assert_eq!(created["budget_max"], 1200.5);
    assert_eq!(created["labels"]["field"], "新能源与节能");
    assert_eq!(created["labels"]["price"], "500.00-1200.50 万元");

    let read = app.get(&format!("/api/v1/needs/{id}"), &manager.token).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.headers["etag"], "\"1\"");
    assert_eq!(read.body["title"], "固态电池电解液溶剂高纯化工艺");
    assert_eq!(read.body["keywords"], json!(["固态电池", "电解液溶剂"]));
    assert_eq!(read.body["contact"]["name"], "刘思远", "managers see contacts");
}

#[tokio::test]
async fn a_university_uploads_an_achievement_and_an_enterprise_reads_it_without_contact() {
    let app = spawn_app().await;
    let university = app.university("山东海洋化工研究院").await;
    let enterprise = app.enterprise("东营蓝海化工新材料有限公司").await;

    let created = app.create_achievement(&university, json!({})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["trl"], 6);
    assert_eq!(created["labels"]["trl"], "相关环境中的系统或分系统原型演示");
    assert_eq!(created["contact"]["phone"], "0546-8392102", "the owner sees its contact");

    let read = app.get(&format!("/api/v1/achievements/{id}"), &enterprise.token).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["abstract"], "络合吸附除金属离子与精密精馏耦合，产品水分低于8ppm。");
    assert!(read.body["contact"].is_null(), "contact is hidden from other organisations: {}", read.body);
}

#[tokio::test]
async fn a_manager_posts_a_need_on_behalf_of_an_enterprise() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营胜科石油装备有限公司").await;
    let manager = app.manager().await;

    let created = app.create_need(&manager, json!({"org_id": enterprise.org_id})).await;
    assert_eq!(created["owner"]["id"], enterprise.org_id.as_str());
    assert_eq!(created["created_by"], manager.user_id.as_str());

    let r = app.post("/api/v1/needs", &manager.token, crate::helpers::need_body()).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "org_id_required");
    let university = app.university("东营石油工程大学").await;
    let r = app
        .post(
            "/api/v1/needs",
            &manager.token,
            crate::helpers::merge(crate::helpers::need_body(), json!({"org_id": university.org_id})),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "wrong_organisation_kind");
}

#[tokio::test]
async fn a_partial_update_changes_only_the_named_fields_and_bumps_the_version() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营港绿氢能源科技有限公司").await;
    let need = app.create_need(&enterprise, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());

    let r = app
        .patch(&path, &enterprise.token, json!({"title": "绿氢合成绿氨低压催化剂", "budget_max": null}), Some(1))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.headers["etag"], "\"2\"");
    assert_eq!(r.body["title"], "绿氢合成绿氨低压催化剂");
    assert!(r.body["budget_max"].is_null());
    assert_eq!(r.body["budget_min"], 500.0);
    assert_eq!(r.body["description"], need["description"]);

    // The body's `version` works as well as If-Match.
    let r = app.patch(&path, &enterprise.token, json!({"keywords": ["绿氨"], "version": 2}), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["keywords"], json!(["绿氨"]));
}

#[tokio::test]
async fn a_stale_write_gets_409_and_changes_nothing() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("垦利稀土橡胶有限公司").await;
    let manager = app.manager().await;
    let need = app.create_need(&enterprise, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());

    let first = app.patch(&path, &manager.token, json!({"title": "经理修改的标题"}), Some(1)).await;
    assert_eq!(first.status, StatusCode::OK);
    let stale = app.patch(&path, &enterprise.token, json!({"title": "企业修改的标题"}), Some(1)).await;
    stale.assert_error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(stale.body["error"]["details"]["current_version"], 2);

    let read = app.get(&path, &enterprise.token).await;
    assert_eq!(read.body["title"], "经理修改的标题");
    assert_eq!(read.body["version"], 2);

    let missing = app.patch(&path, &enterprise.token, json!({"title": "没有版本"}), None).await;
    missing.assert_error(StatusCode::PRECONDITION_REQUIRED, "version_required");
}

#[tokio::test]
async fn concurrent_updates_with_the_same_version_let_exactly_one_win() {
    let app = spawn_app().await;
    let university = app.university("鲁东理工大学").await;
    let achievement = app.create_achievement(&university, json!({})).await;
    let path = format!("/api/v1/achievements/{}", achievement["id"].as_str().unwrap());

    let writes =
        (0..8).map(|i| app.patch(&path, &university.token, json!({"team_lead": format!("负责人{i}")}), Some(1)));
    let results = futures_util::future::join_all(writes).await;
    let ok = results.iter().filter(|r| r.status == StatusCode::OK).count();
    let conflicts = results.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!((ok, conflicts), (1, 7));
    let read = app.get(&path, &university.token).await;
    assert_eq!(read.body["version"], 2);
}

#[tokio::test]
async fn status_actions_follow_the_life_cycle() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营康泰生物医药有限公司").await;
    let need = app.create_need(&enterprise, json!({})).await;
    let id = need["id"].as_str().unwrap();

    let r = app.post(&format!("/api/v1/needs/{id}/close"), &enterprise.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["labels"]["status"], "已关闭");

    let r = app.post(&format!("/api/v1/needs/{id}/close"), &enterprise.token, json!({})).await;
    r.assert_error(StatusCode::CONFLICT, "invalid_status_transition");
    assert_eq!(r.body["error"]["details"]["allowed"], json!(["reopen", "withdraw"]));

    let r = app.post(&format!("/api/v1/needs/{id}/reopen"), &enterprise.token, json!({})).await;
    assert_eq!(r.body["status"], "open");
    let r = app.post(&format!("/api/v1/needs/{id}/withdraw"), &enterprise.token, json!({})).await;
    assert_eq!(r.body["status"], "withdrawn");
    let r = app.post(&format!("/api/v1/needs/{id}/reopen"), &enterprise.token, json!({})).await;
    r.assert_error(StatusCode::CONFLICT, "invalid_status_transition");

    let r = app.post(&format!("/api/v1/needs/{id}/archive"), &enterprise.token, json!({})).await;
    r.assert_error(StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn achievements_can_be_closed_and_a_stale_if_match_is_refused() {
    let app = spawn_app().await;
    let university = app.university("胜利能源技术研究院").await;
    let a = app.create_achievement(&university, json!({})).await;
    let id = a["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/achievements/{id}/close")))
        .bearer_auth(&university.token)
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    let r = crate::helpers::Response::from(r).await;
    r.assert_error(StatusCode::CONFLICT, "version_conflict");
    let r = app.post(&format!("/api/v1/achievements/{id}/close"), &university.token, json!({})).await;
    assert_eq!(r.body["status"], "closed");
}

#[tokio::test]
async fn listings_filter_and_page_stably_newest_first() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("黄河三角洲盐碱地农业发展有限公司").await;
    let manager = app.manager().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let field = if i % 2 == 0 { "modern_agriculture" } else { "new_energy" };
        let region = if i < 4 { "370522" } else { "370100" };
        let need = app
            .create_need(&enterprise, json!({"title": format!("耐盐碱大豆需求{i}"), "field": field, "region": region}))
            .await;
        ids.push(need["id"].as_str().unwrap().to_string());
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/needs?limit=3&cursor={c}"),
            None => "/api/v1/needs?limit=3".to_string(),
        };
        let page = app.get(&path, &manager.token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every record once, newest first");

    let by_field = app.get("/api/v1/needs?field=modern_agriculture", &manager.token).await;
    assert_eq!(by_field.body["items"].as_array().unwrap().len(), 4);
    let by_city = app.get("/api/v1/needs?region=3705", &manager.token).await;
    assert_eq!(by_city.body["items"].as_array().unwrap().len(), 4);
    let by_district = app.get("/api/v1/needs?region=370100&field=new_energy", &manager.token).await;
    assert_eq!(by_district.body["items"].as_array().unwrap().len(), 1);
    let by_owner = app.get(&format!("/api/v1/needs?org_id={}", enterprise.org_id), &manager.token).await;
    assert_eq!(by_owner.body["items"].as_array().unwrap().len(), 7);
    let future = app.get("/api/v1/needs?updated_since=2099-01-01", &manager.token).await;
    assert_eq!(future.body["items"].as_array().unwrap().len(), 0);
    let past = app.get("/api/v1/needs?updated_since=2020-01-01T00:00:00%2B08:00", &manager.token).await;
    assert_eq!(past.body["items"].as_array().unwrap().len(), 7);
    app.post(&format!("/api/v1/needs/{}/close", ids[0]), &enterprise.token, json!({})).await;
    let closed = app.get("/api/v1/needs?status=closed", &manager.token).await;
    assert_eq!(closed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn achievements_filter_by_minimum_trl() {
    let app = spawn_app().await;
    let university = app.university("山东新材料工业技术研究院").await;
    for trl in [3, 6, 9] {
        app.create_achievement(&university, json!({"trl": trl, "title": format!("纳米复合氧化锆 TRL{trl}")})).await;
    }
    let r = app.get("/api/v1/achievements?trl_min=6", &university.token).await;
    let trls: Vec<i64> = r.body["items"].as_array().unwrap().iter().map(|a| a["trl"].as_i64().unwrap()).collect();
    assert_eq!(trls, [9, 6]);
}

#[tokio::test]
async fn a_need_is_expired_by_the_service_clock_once_its_deadline_has_passed() {
    let app = spawn_app().await;
    let enterprise = app.enterprise("东营垦利石化装备有限公司").await;
    app.travel_to("2031-05-01T09:00:00+08:00");
    let created = app.create_need(&enterprise, json!({"deadline": "2031-05-31"})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["expired"], false);
    app.travel_to("2031-05-31T23:59:00+08:00");
    let read = app.get(&format!("/api/v1/needs/{id}"), &enterprise.token).await;
    assert_eq!(read.body["expired"], false, "the deadline day itself still counts");
    app.travel_to("2031-06-01T00:01:00+08:00");
    let read = app.get(&format!("/api/v1/needs/{id}"), &enterprise.token).await;
    assert_eq!(read.body["expired"], true, "the market's next day (China Standard Time)");
    let listed = app.get("/api/v1/needs", &enterprise.token).await;
    assert_eq!(listed.body["items"][0]["expired"], true);
}
