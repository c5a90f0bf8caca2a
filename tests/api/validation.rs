//! Every validation rule, with Chinese input: all problems reported at once, lengths counted in
//! characters, and nothing stored when anything is wrong.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, achievement_body, merge, need_body, spawn_app};

/// Posts `body` and returns the (field, code) pairs of the validation errors.
async fn rejected(app: &TestApp, path: &str, token: &str, body: Value) -> Vec<(String, String)> {
    let r = app.post(path, token, body).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    r.body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect()
}

#[tokio::test]
async fn need_rules_each_reject_with_their_own_code() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({"title": null}), vec![("title", "required")]),
        (json!({"title": "   "}), vec![("title", "blank")]),
        (json!({"title": "碳".repeat(201)}), vec![("title", "too_long")]),
        (json!({"description": null}), vec![("description", "required")]),
        (json!({"description": "需".repeat(20_001)}), vec![("description", "too_long")]),
        (json!({"field": "石油化工"}), vec![("field", "unknown_code")]),
        (json!({"field": null}), vec![("field", "required")]),
        (json!({"need_type": "买技术"}), vec![("need_type", "unknown_code")]),
        (json!({"cooperation_modes": ["transfer", "赠送"]}), vec![("cooperation_modes", "unknown_code")]),
        (json!({"budget_min": -1}), vec![("budget_min", "invalid_amount")]),
        (json!({"budget_min": 12.345}), vec![("budget_min", "invalid_amount")]),
        (json!({"budget_min": 300, "budget_max": 200}), vec![("budget_min", "range_inverted")]),
        (json!({"deadline": "2020-01-01"}), vec![("deadline", "in_past")]),
        (json!({"region": "东营市"}), vec![("region", "invalid_region")]),
        (json!({"region": "990502"}), vec![("region", "invalid_region")]),
        (json!({"region": null}), vec![("region", "required")]),
        (json!({"visibility": "secret"}), vec![("visibility", "unknown_code")]),
        (
            json!({"keywords": (0..21).map(|i| format!("关键词{i}")).collect::<Vec<_>>()}),
            vec![("keywords", "too_many")],
        ),
        (json!({"keywords": ["超".repeat(31)]}), vec![("keywords", "too_long")]),
        (
            json!({"contact": {"name": "张三", "phone": "电话123", "email": "zhang@"}}),
            vec![("contact.phone", "invalid_phone"), ("contact.email", "invalid_email")],
        ),
    ];
    for (overrides, expected) in cases {
        let got = rejected(&app, "/api/v1/needs", &e.token, merge(need_body(), overrides.clone())).await;
        assert_eq!(got, pairs(&expected), "for {overrides}");
    }
    assert_eq!(app.get("/api/v1/needs", &e.token).await.body["items"], json!([]), "nothing stored");
}

#[tokio::test]
async fn all_problems_of_one_need_are_reported_together_with_messages_that_say_what_to_fix() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let body =
        merge(need_body(), json!({"title": "碳".repeat(250), "field": "化工", "region": "3705", "budget_max": -5}));
    let r = app.post("/api/v1/needs", &e.token, body).await;
    let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(message.starts_with("4 invalid field(s)"), "{message}");
    let fields = r.body["error"]["details"]["fields"].as_array().unwrap();
    let title = fields.iter().find(|f| f["field"] == "title").unwrap();
    assert!(title["message"].as_str().unwrap().contains("250 characters; at most 200"), "{title}");
    let field = fields.iter().find(|f| f["field"] == "field").unwrap();
    assert!(
        field["message"].as_str().unwrap().contains("`化工`")
            && field["message"].as_str().unwrap().contains("petrochemical")
    );
}

#[tokio::test]
async fn limits_are_counted_in_characters_so_long_chinese_titles_fit() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let title = "碳".repeat(200); // 600 bytes
    let need = app.create_need(&e, json!({"title": title, "description": "述".repeat(20_000)})).await;
    assert_eq!(need["title"].as_str().unwrap().chars().count(), 200);
}

#[tokio::test]
async fn achievement_rules_each_reject_with_their_own_code() {
    let app = spawn_app().await;
    let u = app.university("东营石油工程大学").await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({"abstract": null}), vec![("abstract", "required")]),
        (json!({"trl": 0}), vec![("trl", "out_of_range")]),
        (json!({"trl": 10}), vec![("trl", "out_of_range")]),
        (json!({"trl": null, "stage": null}), vec![("trl", "required")]),
        (json!({"stage": "量产"}), vec![("stage", "unknown_code")]),
        (json!({"achievement_type": null}), vec![("achievement_type", "required")]),
        (json!({"ip_form": "专利"}), vec![("ip_form", "unknown_code")]),
        (json!({"patent_numbers": ["发明专利第1号"]}), vec![("patent_numbers", "invalid_patent_number")]),
        (json!({"asking_price": -100}), vec![("asking_price", "invalid_amount")]),
        (json!({"region": "1234567"}), vec![("region", "invalid_region")]),
        (json!({"team_lead": "李".repeat(51)}), vec![("team_lead", "too_long")]),
    ];
    for (overrides, expected) in cases {
        let got = rejected(&app, "/api/v1/achievements", &u.token, merge(achievement_body(), overrides.clone())).await;
        assert_eq!(got, pairs(&expected), "for {overrides}");
    }
    // A stage alone is enough; no price means 面议.
    let a = app.create_achievement(&u, json!({"trl": null, "stage": "industrialised", "asking_price": null})).await;
    assert_eq!(a["price_negotiable"], true);
    assert_eq!(a["labels"]["price"], "面议");
}

#[tokio::test]
async fn an_update_is_validated_like_a_create() {
    let app = spawn_app().await;
    let e = app.enterprise("东营蓝海化工新材料有限公司").await;
    let need = app.create_need(&e, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    let r = app.patch(&path, &e.token, json!({"budget_max": 100}), Some(1)).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "range_inverted");
    let r = app.patch(&path, &e.token, json!({"deadline": "2001-01-01"}), Some(1)).await;
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "in_past");
    assert_eq!(app.get(&path, &e.token).await.body["version"], 1);
}

#[tokio::test]
async fn organisation_and_user_input_is_validated() {
    let app = spawn_app().await;
    let r = app.post("/api/v1/organisations", &app.admin, json!({"name": "", "kind": "公司", "region": "37"})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"].as_array().unwrap().len(), 3);
    let org = app.org("东营华锆纳米材料有限公司", "enterprise").await;
    let r = app.post("/api/v1/users", &app.admin, json!({"org_id": org, "name": "经理", "role": "manager"})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "role_mismatch");
    let r = app
        .post(
            "/api/v1/users",
            &app.admin,
            json!({"org_id": "01934a6e-0000-7000-8000-000000000000", "name": "某人", "role": "enterprise"}),
        )
        .await;
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "unknown_organisation");
}
