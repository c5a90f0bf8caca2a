//! Who may do and see what: every role on every route, allowed, denied (403) or hidden (404).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Actor, TestApp, achievement_body, need_body, spawn_app};

struct Cast {
    owner_enterprise: Actor,
    other_enterprise: Actor,
    owner_university: Actor,
    other_university: Actor,
    manager: Actor,
    admin: Actor,
}

async fn cast(app: &TestApp) -> Cast {
    let me = app.get("/api/v1/me", &app.admin).await;
    let admin = Actor {
        token: app.admin.clone(),
        org_id: me.body["organisation"]["id"].as_str().unwrap().to_string(),
        user_id: me.body["user_id"].as_str().unwrap().to_string(),
    };
    Cast {
        owner_enterprise: app.enterprise("东营蓝海化工新材料有限公司").await,
        other_enterprise: app.enterprise("东营胜科石油装备有限公司").await,
        owner_university: app.university("东营石油工程大学").await,
        other_university: app.university("鲁东理工大学").await,
        manager: app.manager().await,
        admin,
    }
}

#[tokio::test]
async fn need_visibility_decides_who_reads_it_and_hidden_means_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    // (visibility, [owner, other enterprise, university, manager, admin]) -> readable?
    let table = [
        ("public", [true, true, true, true, true]),
        ("managers", [true, false, false, true, true]),
        ("private", [true, false, false, false, false]),
    ];
    for (visibility, expected) in table {
        let need = app.create_need(&c.owner_enterprise, json!({"visibility": visibility})).await;
        let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
        let readers = [&c.owner_enterprise, &c.other_enterprise, &c.owner_university, &c.manager, &c.admin];
        for (reader, allowed) in readers.iter().zip(expected) {
            let r = app.get(&path, &reader.token).await;
            if allowed {
                assert_eq!(r.status, StatusCode::OK, "{visibility} need readable by {reader:?}");
            } else {
                r.assert_error(StatusCode::NOT_FOUND, "not_found");
            }
        }
        // Listings apply the same rule inside the query.
        for (reader, allowed) in readers.iter().zip(expected) {
            let list = app.get("/api/v1/needs", &reader.token).await;
            let ids: Vec<&str> =
                list.body["items"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
            assert_eq!(ids.contains(&need["id"].as_str().unwrap()), allowed, "{visibility} need listed for {reader:?}");
        }
    }
}

#[tokio::test]
async fn achievement_visibility_mirrors_needs() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let table = [
        ("public", [true, true, true, true]),
        ("managers", [true, false, false, true]),
        ("private", [true, false, false, false]),
    ];
    for (visibility, expected) in table {
        let a = app.create_achievement(&c.owner_university, json!({"visibility": visibility})).await;
        let path = format!("/api/v1/achievements/{}", a["id"].as_str().unwrap());
        let readers = [&c.owner_university, &c.other_university, &c.owner_enterprise, &c.manager];
        for (reader, allowed) in readers.iter().zip(expected) {
            let r = app.get(&path, &reader.token).await;
            let want = if allowed { StatusCode::OK } else { StatusCode::NOT_FOUND };
            assert_eq!(r.status, want, "{visibility} achievement for {reader:?}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn only_the_owner_and_staff_change_a_record() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let need = app.create_need(&c.owner_enterprise, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    let mut version = 1;
    for (who, allowed) in [
        (&c.other_enterprise, false),
        (&c.owner_university, false),
        (&c.owner_enterprise, true),
        (&c.manager, true),
        (&c.admin, true),
    ] {
        let r = app.patch(&path, &who.token, json!({"tried": "尝试过的方案"}), Some(version)).await;
        if allowed {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            version += 1;
        } else {
            r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        let close = app.post(&format!("{path}/close"), &who.token, json!({})).await;
        if allowed {
            assert_eq!(close.status, StatusCode::OK, "{}", close.body);
            let reopen = app.post(&format!("{path}/reopen"), &who.token, json!({})).await;
            assert_eq!(reopen.status, StatusCode::OK);
            version += 2;
        } else {
            close.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
    }

    let achievement = app.create_achievement(&c.owner_university, json!({})).await;
    let path = format!("/api/v1/achievements/{}", achievement["id"].as_str().unwrap());
    for who in [&c.other_university, &c.owner_enterprise] {
        let r = app.patch(&path, &who.token, json!({"trl": 7}), Some(1)).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let r = app.patch(&path, &c.owner_university.token, json!({"trl": 7}), Some(1)).await;
    assert_eq!(r.body["trl"], 7);
}

#[tokio::test]
async fn a_hidden_record_cannot_be_changed_and_does_not_leak_its_existence() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let need = app.create_need(&c.owner_enterprise, json!({"visibility": "managers"})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    let r = app.patch(&path, &c.other_enterprise.token, json!({"title": "x"}), Some(1)).await;
    let hidden = r.assert_error(StatusCode::NOT_FOUND, "not_found");
    let absent = app
        .patch(
            "/api/v1/needs/01934a6e-0000-7000-8000-000000000000",
            &c.other_enterprise.token,
            json!({"title": "x"}),
            Some(1),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        hidden.replace(need["id"].as_str().unwrap(), "ID"),
        absent.replace("01934a6e-0000-7000-8000-000000000000", "ID")
    );
}

#[tokio::test]
async fn a_withdrawn_need_disappears_for_others_but_not_for_its_owner_or_managers() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let need = app.create_need(&c.owner_enterprise, json!({})).await;
    let id = need["id"].as_str().unwrap();
    app.post(&format!("/api/v1/needs/{id}/withdraw"), &c.owner_enterprise.token, json!({})).await;
    let path = format!("/api/v1/needs/{id}");
    assert_eq!(app.get(&path, &c.other_enterprise.token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&path, &c.owner_enterprise.token).await.status, StatusCode::OK);
    assert_eq!(app.get(&path, &c.manager.token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn who_may_post_to_each_library() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let r = app.post("/api/v1/needs", &c.owner_university.token, need_body()).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = app.post("/api/v1/achievements", &c.owner_enterprise.token, achievement_body()).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    // An owner cannot post into another organisation.
    let body = crate::helpers::merge(need_body(), json!({"org_id": c.other_enterprise.org_id}));
    let r = app.post("/api/v1/needs", &c.owner_enterprise.token, body).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");
    let body = crate::helpers::merge(achievement_body(), json!({"org_id": c.owner_university.org_id}));
    let r = app.post("/api/v1/achievements", &c.manager.token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn contacts_are_shown_only_to_managers_and_the_owner() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let need = app.create_need(&c.owner_enterprise, json!({})).await;
    let path = format!("/api/v1/needs/{}", need["id"].as_str().unwrap());
    for (who, shown) in [
        (&c.owner_enterprise, true),
        (&c.manager, true),
        (&c.admin, true),
        (&c.other_enterprise, false),
        (&c.owner_university, false),
    ] {
        let r = app.get(&path, &who.token).await;
        assert_eq!(!r.body["contact"].is_null(), shown, "contact for {who:?}: {}", r.body);
        assert!(shown || !r.text.contains("13905461202"), "the phone number must not appear anywhere");
        let list = app.get("/api/v1/needs", &who.token).await;
        assert!(shown || !list.text.contains("13905461202"), "nor in listings");
    }
}

#[tokio::test]
async fn administration_routes_admit_only_their_roles() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let org_body = json!({"name": "新企业", "kind": "enterprise", "region": "370502"});
    for who in [&c.manager, &c.owner_enterprise, &c.owner_university] {
        app.post("/api/v1/organisations", &who.token, org_body.clone())
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let user_body = json!({"org_id": c.owner_enterprise.org_id, "name": "新用户", "role": "enterprise"});
        app.post("/api/v1/users", &who.token, user_body).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.get("/api/v1/users", &who.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        let path = format!("/api/v1/users/{}/tokens", c.other_enterprise.user_id);
        app.post(&path, &who.token, json!({})).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.get(&path, &who.token).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    for who in [&c.owner_enterprise, &c.owner_university] {
        app.get("/api/v1/organisations", &who.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(app.get("/api/v1/organisations", &c.manager.token).await.status, StatusCode::OK);
    let own = app.get(&format!("/api/v1/users/{}/tokens", c.owner_enterprise.user_id), &c.owner_enterprise.token).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(!own.text.contains(&c.owner_enterprise.token), "token lists never carry secrets");
    let org = app.get(&format!("/api/v1/organisations/{}", c.owner_university.org_id), &c.owner_enterprise.token).await;
    assert_eq!(org.body["name"], "东营石油工程大学");
}

#[tokio::test]
async fn every_api_route_requires_a_token() {
    let app = spawn_app().await;
    let id = "01934a6e-0000-7000-8000-000000000000";
    let routes = [
        (Method::GET, "/api/v1/needs".to_string()),
        (Method::POST, "/api/v1/needs".to_string()),
        (Method::GET, format!("/api/v1/needs/{id}")),
        (Method::PATCH, format!("/api/v1/needs/{id}")),
        (Method::POST, format!("/api/v1/needs/{id}/close")),
        (Method::GET, "/api/v1/achievements".to_string()),
        (Method::POST, "/api/v1/achievements".to_string()),
        (Method::GET, format!("/api/v1/achievements/{id}")),
        (Method::PATCH, format!("/api/v1/achievements/{id}")),
        (Method::POST, format!("/api/v1/achievements/{id}/withdraw")),
        (Method::GET, "/api/v1/organisations".to_string()),
        (Method::POST, "/api/v1/organisations".to_string()),
        (Method::GET, format!("/api/v1/organisations/{id}")),
        (Method::GET, "/api/v1/users".to_string()),
        (Method::POST, "/api/v1/users".to_string()),
        (Method::GET, format!("/api/v1/users/{id}/tokens")),
        (Method::POST, format!("/api/v1/users/{id}/tokens")),
        (Method::DELETE, format!("/api/v1/tokens/{id}")),
        (Method::GET, "/api/v1/me".to_string()),
    ];
    for (method, path) in routes {
        let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
        let r = app.send(method.clone(), &path, None, body.clone()).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"techmarket\"");
        let r = app.send(method.clone(), &path, Some("tm_0000"), body).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let vocab = app.send(Method::GET, "/api/v1/vocabularies", None, None).await;
    assert_eq!(vocab.status, StatusCode::OK);
}
