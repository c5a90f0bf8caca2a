//! Signing in with a login and a password: sessions by bearer and by cookie (with its CSRF
//! token), sign-out, idle and absolute ends, password changes and resets, the limit on guessing,
//! and the first admin from the command line.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Actor, Response, TestApp, spawn_app, start, test_config_with};

/// Gives `actor` a login and a password it has changed from the admin's temporary one; returns
/// the login.
pub(crate) async fn with_password(app: &TestApp, actor: &Actor, login: &str, password: &str) -> String {
    let r = app
        .post(
            &format!("/api/v1/users/{}/password", actor.user_id),
            &app.admin,
            json!({"login": login, "temporary_password": "临时密码-请尽快修改-2026"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let signed = sign_in(app, login, "临时密码-请尽快修改-2026").await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);
    assert_eq!(signed.body["must_change_password"], true);
    let session = signed.body["token"].as_str().unwrap().to_string();
    let body = json!({"current_password": "临时密码-请尽快修改-2026", "new_password": password});
    let r = app.send(Method::PUT, "/api/v1/me/password", Some(&session), Some(body)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    login.to_string()
}

pub(crate) async fn sign_in(app: &TestApp, login: &str, password: &str) -> Response {
    app.send(Method::POST, "/api/v1/sessions", None, Some(json!({"login": login, "password": password}))).await
}

/// A session's secret after signing in.
pub(crate) async fn session(app: &TestApp, login: &str, password: &str) -> String {
    let r = sign_in(app, login, password).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["token"].as_str().unwrap().to_string()
}

/// The value of the cookie `name` among a response's Set-Cookie headers, and its attributes.
fn set_cookie<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(header: &str) -> String {
    header.split(';').next().unwrap().split_once('=').unwrap().1.to_string()
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).header("Cookie", format!("tm_session={cookie}"));
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Response::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_user_signs_in_by_login_and_password_and_works_by_bearer_and_by_cookie_with_its_csrf_token() {
    let app = spawn_app().await;
    let e = app.enterprise("东营威联化学有限公司").await;
    // Logins are normalised: a mobile number with +86 and spaces is the same login.
    with_password(&app, &e, "+86 138 0546 1234", "黄河口的盐碱地改良2026").await;
    let r = sign_in(&app, "13805461234", "黄河口的盐碱地改良2026").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["must_change_password"], false);
    assert_eq!(r.body["user"]["user_id"], e.user_id.as_str());
    let secret = r.body["token"].as_str().unwrap().to_string();
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tms_") && secret.len() == 68, "{secret}");
    // Browsers get the secret as an HttpOnly, SameSite=Strict cookie (plain HTTP on loopback:
    // not Secure), and the CSRF token in a cookie their script can read.
    let cookie = set_cookie(&r, "tm_session").expect("session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "loopback over plain HTTP: {cookie}");
    assert_eq!(cookie_value(cookie), secret);
    let csrf_cookie = set_cookie(&r, "tm_csrf").expect("csrf cookie");
    assert!(!csrf_cookie.contains("HttpOnly") && cookie_value(csrf_cookie) == csrf, "{csrf_cookie}");

    // By bearer, like a token.
    let need = app
        .create_need(
            &Actor { token: secret.clone(), ..e.clone() },
            json!({"title": "会话发布的乙烯裂解炉结焦监测需求"}),
        )
        .await;
    assert_eq!(need["owner"]["id"], e.org_id.as_str());
    // By cookie: reads need nothing more; a write without the CSRF token is refused and
    // changes nothing; with it, it goes through.
    let r = with_cookie(&app, Method::GET, "/api/v1/me", &secret, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = crate::helpers::merge(crate::helpers::need_body(), json!({"title": "跨站伪造的需求"}));
    let before = app.get("/api/v1/needs", &e.token).await.body["items"].as_array().unwrap().len();
    let r = with_cookie(&app, Method::POST, "/api/v1/needs", &secret, None, Some(body.clone())).await;
    r.assert_error(StatusCode::FORBIDDEN, "csrf_rejected");
    let r = with_cookie(&app, Method::POST, "/api/v1/needs", &secret, Some("tm_wrong"), Some(body.clone())).await;
    r.assert_error(StatusCode::FORBIDDEN, "csrf_rejected");
    assert_eq!(
        app.get("/api/v1/needs", &e.token).await.body["items"].as_array().unwrap().len(),
        before,
        "nothing written"
    );
    let r = with_cookie(&app, Method::POST, "/api/v1/needs", &secret, Some(&csrf), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The user's sessions: this one is current.
    let listed = app.get("/api/v1/sessions", &secret).await;
    let current: Vec<&Value> = listed.body.as_array().unwrap().iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["client"], "127.0.0.1");

    // Signing out ends it at once and clears the cookies.
    let r = with_cookie(&app, Method::DELETE, "/api/v1/sessions/current", &secret, Some(&csrf), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(set_cookie(&r, "tm_session").is_some_and(|c| c.contains("Max-Age=0") || c.contains("expires=")), "cleared");
    app.get("/api/v1/me", &secret).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    with_cookie(&app, Method::GET, "/api/v1/me", &secret, None, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // A token cannot sign out: it is revoked instead.
    app.send(Method::DELETE, "/api/v1/sessions/current", Some(&e.token), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_answer_and_guessing_is_limited() {
    let app = spawn_app().await;
    let e = app.enterprise("东营联合石化有限责任公司").await;
    with_password(&app, &e, "Chen.Gong@UnitedPetro.cn", "东营港的风电运维2026").await;
    let wrong = sign_in(&app, "chen.gong@unitedpetro.cn", "不是这个密码不是这个").await;
    let unknown = sign_in(&app, "nobody@unitedpetro.cn", "不是这个密码不是这个").await;
    let message = wrong.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials"),
        message,
        "nothing tells them apart"
    );
    // Four more failures reach the limit of five for the login: the sixth attempt is refused
    // before the password is looked at, even the right one, until the window has passed.
    for _ in 0..4 {
        sign_in(&app, "chen.gong@unitedpetro.cn", "还是不对还是不对还是")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let r = sign_in(&app, "chen.gong@unitedpetro.cn", "东营港的风电运维2026").await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry: u64 = r.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    let later = chrono::Utc::now() + chrono::Duration::minutes(16);
    app.travel_to(&later.to_rfc3339());
    let r = sign_in(&app, "chen.gong@unitedpetro.cn", "东营港的风电运维2026").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn one_address_guessing_many_logins_is_limited_too() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let config = test_config_with(&dir, &url, &[("TECHMARKET__ACCOUNTS__MAX_FAILURES_PER_CLIENT", "3")]);
    let app = start(config, std::sync::Arc::new(dir), None).await;
    for n in 0..3 {
        sign_in(&app, &format!("1380546000{n}"), "随便猜一个密码随便猜")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    sign_in(&app, "13805460009", "随便猜一个密码随便猜")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}

#[tokio::test]
async fn weak_passwords_are_refused_and_a_reset_password_must_be_changed_first() {
    let app = spawn_app().await;
    let u = app.university("中国石油大学（华东）科技处").await;
    let reset = |password: &str| json!({"login": "kjc@upc.edu.cn", "temporary_password": password});
    let path = format!("/api/v1/users/{}/password", u.user_id);
    for (password, code) in [
        ("短密码", "password_too_short"),
        ("1qaz2wsx3edc", "password_too_common"),
        ("kjc@upc.edu.cn", "password_is_login"),
    ] {
        let r = app.post(&path, &app.admin, reset(password)).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(r.body["error"]["details"]["fields"][0]["code"], code, "{}", r.text);
    }
    // Chinese by default.
    let r = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.admin)
        .header("Accept-Language", "zh-CN")
        .json(&reset("短密码"))
        .send()
        .await
        .unwrap();
    let r = Response::from(r).await;
    assert!(
        r.body["error"]["details"]["fields"][0]["message"].as_str().unwrap().contains("密码至少 10 个字符"),
        "{}",
        r.text
    );
    // A second user cannot take the same login.
    let other = app.university("山东石油化工学院").await;
    assert_eq!(app.post(&path, &app.admin, reset("临时密码-请尽快修改-2026")).await.status, StatusCode::NO_CONTENT);
    app.post(&format!("/api/v1/users/{}/password", other.user_id), &app.admin, reset("临时密码-请尽快修改-2026"))
        .await
        .assert_error(StatusCode::CONFLICT, "login_taken");
    // Until the user changes the temporary password, nothing but that (and who am I, sign out).
    let session = session(&app, "KJC@upc.edu.cn", "临时密码-请尽快修改-2026").await;
    app.get("/api/v1/needs", &session).await.assert_error(StatusCode::FORBIDDEN, "password_change_required");
    assert_eq!(app.get("/api/v1/me", &session).await.status, StatusCode::OK);
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let r = app
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(&session),
            Some(change("猜错了的当前密码啊", "校企合作的新密码2026")),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = app
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(&session),
            Some(change("临时密码-请尽快修改-2026", "password123")),
        )
        .await;
    assert_eq!(r.body["error"]["details"]["fields"][0]["code"], "password_too_common", "{}", r.text);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/me/password",
            Some(&session),
            Some(change("临时密码-请尽快修改-2026", "校企合作的新密码2026")),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get("/api/v1/needs", &session).await.status, StatusCode::OK, "changed: the session goes on");
    sign_in(&app, "kjc@upc.edu.cn", "临时密码-请尽快修改-2026")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn sessions_end_when_idle_past_their_limit_on_a_password_change_and_by_an_admin() {
    let app = spawn_app().await;
    let m = app.manager().await;
    let login = with_password(&app, &m, "13905460001", "技术经理人的长密码2026").await;
    let t0 = chrono::Utc::now();
    let at = |minutes: i64| (t0 + chrono::Duration::minutes(minutes)).to_rfc3339();
    // Idle: 120 minutes without a request ends a session; a request within them keeps it.
    let kept = session(&app, &login, "技术经理人的长密码2026").await;
    let idle = session(&app, &login, "技术经理人的长密码2026").await;
    app.travel_to(&at(100));
    assert_eq!(app.get("/api/v1/me", &kept).await.status, StatusCode::OK);
    app.travel_to(&at(190));
    assert_eq!(app.get("/api/v1/me", &kept).await.status, StatusCode::OK, "used 90 minutes ago");
    app.get("/api/v1/me", &idle).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // Absolute: 12 hours after sign-in, however it is used.
    for minutes in (280..=700).step_by(100) {
        app.travel_to(&at(minutes));
        assert_eq!(app.get("/api/v1/me", &kept).await.status, StatusCode::OK);
    }
    app.travel_to(&at(12 * 60 + 1));
    app.get("/api/v1/me", &kept).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // A password change ends every other session of the user.
    let a = session(&app, &login, "技术经理人的长密码2026").await;
    let b = session(&app, &login, "技术经理人的长密码2026").await;
    let body = json!({"current_password": "技术经理人的长密码2026", "new_password": "换过的技术经理人密码"});
    assert_eq!(app.send(Method::PUT, "/api/v1/me/password", Some(&a), Some(body)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", &a).await.status, StatusCode::OK);
    app.get("/api/v1/me", &b).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // An admin ends them all.
    let c = session(&app, &login, "换过的技术经理人密码").await;
    let r = app.send(Method::DELETE, &format!("/api/v1/users/{}/sessions", m.user_id), Some(&app.admin), None).await;
    assert_eq!((r.status, r.body["ended"].as_u64()), (StatusCode::OK, Some(2)), "{}", r.text);
    app.get("/api/v1/me", &a).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    app.get("/api/v1/me", &c).await.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // The manager's API token is untouched by all of this.
    assert_eq!(app.get("/api/v1/me", &m.token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_without_an_expiry_ends_after_the_configured_days_and_its_holder_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let config = test_config_with(&dir, &url, &[("TECHMARKET__ACCOUNTS__TOKEN_DAYS", "365")]);
    let app = start(config, std::sync::Arc::new(dir), None).await;
    let e = app.enterprise("东营金岭化工有限公司").await;
    let tokens = app.get(&format!("/api/v1/users/{}/tokens", e.user_id), &e.token).await;
    let token = &tokens.body[0];
    let created = chrono::DateTime::parse_from_rfc3339(token["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(token["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 365);
    // The admin's own first token too.
    let mine = app.get("/api/v1/me", &app.admin).await.body["user_id"].as_str().unwrap().to_string();
    let admin_tokens = app.get(&format!("/api/v1/users/{mine}/tokens"), &app.admin).await;
    assert!(admin_tokens.body[0]["expires_at"].is_string(), "{}", admin_tokens.text);
    app.travel_to(&(chrono::Utc::now() + chrono::Duration::days(366)).to_rfc3339());
    app.get("/api/v1/me", &e.token).await.assert_error(StatusCode::UNAUTHORIZED, "token_expired");
}

#[tokio::test]
async fn the_first_admin_gets_a_password_from_a_file_or_standard_input_never_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let file = dir.path().join("admin-password.txt");
    std::fs::write(&file, "运营中心管理员的密码2026\n").unwrap();
    let out = crate::process::techmarket(
        dir.path(),
        &url,
        0,
        &[
            "admin",
            "set-admin-password",
            "--login",
            "admin@dongying-tech.cn",
            "--password-file",
            file.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A weak password from standard input is refused, and nothing changes.
    let mut child = crate::process::techmarket(
        dir.path(),
        &url,
        0,
        &["admin", "set-admin-password", "--login", "admin@dongying-tech.cn"],
    )
    .stdin(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"admin12345\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"), "{}", String::from_utf8_lossy(&out.stderr));
    let config = test_config_with(&dir, &url, &[]);
    let app = start(config, std::sync::Arc::new(dir), None).await;
    let r = sign_in(&app, "ADMIN@dongying-tech.cn", "运营中心管理员的密码2026").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["user"]["role"], "admin");
}
