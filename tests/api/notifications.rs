//! Notifications through the real stack: events written with the change that causes them, the
//! inbox per role, webhooks delivered to a receiver started inside the test (each format signed
//! as its platform documents it), retries and the dead letter, a restart in the middle of a
//! delivery, the SSRF guard at registration and at delivery, and expiry with renewal on a
//! controllable clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::dockings::{act, solvent_need, suggested_pair};
use crate::helpers::{TestApp, fresh_database_url, start, test_config_with};

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Received {
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers a path: status, body, delay.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: String,
    delay: Duration,
}

/// A receiver on 127.0.0.1: records every request (and every connection) and answers by the
/// path's first segment.
#[derive(Clone)]
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<Mutex<usize>>,
    answers: Arc<Mutex<Vec<(String, Answer)>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            connections: Arc::default(),
            answers: Arc::default(),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                *r.connections.lock().unwrap() += 1;
                let r = r.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else { return };
                    let answer = r.answer_for(&request.target);
                    r.received.lock().unwrap().push(request);
                    tokio::time::sleep(answer.delay).await;
                    let reply = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        answer.status,
                        answer.body.len(),
                        answer.body
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        receiver
    }

    fn answer(&self, prefix: &str, status: u16, body: &str, delay: Duration) {
        self.answers.lock().unwrap().push((prefix.to_string(), Answer { status, body: body.to_string(), delay }));
    }

    fn answer_for(&self, target: &str) -> Answer {
        let answers = self.answers.lock().unwrap();
        answers.iter().rev().find(|(p, _)| target.starts_with(p.as_str())).map(|(_, a)| a.clone()).unwrap_or(Answer {
            status: 200,
            body: "{}".into(),
            delay: Duration::ZERO,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn at(&self, prefix: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.target.starts_with(prefix)).cloned().collect()
    }

    /// Waits until `count` requests to paths under `prefix` arrived (at most 15 s).
    async fn wait_for(&self, prefix: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.at(prefix);
            if got.len() >= count {
                return got;
            }
            assert!(Instant::now() < deadline, "{prefix}: {} of {count} requests arrived", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { target, headers, body })
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A service whose webhooks may reach 127.0.0.1 (the receiver), retrying fast.
async fn notifying_app(allow: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(&dir).await;
    start(test_config_with(&dir, &url, &notification_settings(allow)), Arc::new(dir), None).await
}

fn notification_settings(allow: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("TECHMARKET__NOTIFICATIONS__ALLOW_HOSTS", allow),
        ("TECHMARKET__NOTIFICATIONS__RETRY_BASE_MS", "50"),
        ("TECHMARKET__NOTIFICATIONS__RETRY_MAX_MS", "200"),
        ("TECHMARKET__NOTIFICATIONS__MAX_ATTEMPTS", "3"),
        ("TECHMARKET__NOTIFICATIONS__POLL_INTERVAL_MS", "50"),
        ("TECHMARKET__NOTIFICATIONS__TIMEOUT_SECS", "5"),
        ("TECHMARKET__NOTIFICATIONS__EXPIRY_INTERVAL_MS", "100"),
        ("TECHMARKET__NOTIFICATIONS__SUGGESTION_MIN_SCORE", "0"),
        ("TECHMARKET__NOTIFICATIONS__PUBLIC_URL", "https://market.example.cn"),
    ]
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/v1/subscriptions", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// Polls the inbox of `token` until `done` holds (at most 15 s).
async fn inbox_until(app: &TestApp, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get("/api/v1/notifications?limit=100", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if done(&r.body) {
            return r.body;
        }
        assert!(Instant::now() < deadline, "the inbox never satisfied the condition: {}", r.body);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn kinds(inbox: &Value) -> Vec<String> {
    inbox["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect()
}

fn has(inbox: &Value, kind: &str, subject: &str) -> bool {
    inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == kind && n["subject"] == subject)
}

#[tokio::test]
async fn each_format_reaches_its_receiver_signed_as_the_platform_documents() {
    let receiver = Receiver::start().await;
    receiver.answer("/wecom", 200, r#"{"errcode":0,"errmsg":"ok"}"#, Duration::ZERO);
    receiver.answer("/ding", 200, r#"{"errcode":0,"errmsg":"ok"}"#, Duration::ZERO);
    receiver.answer("/feishu", 200, r#"{"code":0,"msg":"success"}"#, Duration::ZERO);
    let app = notifying_app("127.0.0.1").await;
    let m = app.manager().await;
    let generic =
        subscribe(&app, &m.token, json!({"url": receiver.url("/generic"), "format": "generic", "name": "对接系统"}))
            .await;
    let secret = generic["secret"].as_str().expect("the generic secret is shown once").to_string();
    assert!(secret.starts_with("whsec_"));
    subscribe(
        &app,
        &m.token,
        json!({"url": receiver.url("/wecom/send?key=ROBOTKEY"), "format": "wecom", "events": ["docking_changed"]}),
    )
    .await;
    subscribe(&app, &m.token, json!({"url": receiver.url("/ding/send?access_token=TOKEN"), "format": "dingtalk", "secret": "SECding", "events": ["docking_changed"]})).await;
    subscribe(&app, &m.token, json!({"url": receiver.url("/feishu/hook/abc"), "format": "feishu", "secret": "feishu-secret", "events": ["docking_changed"]})).await;

    // The secret and the robot's key are never shown again.
    let listed = app.get("/api/v1/subscriptions", &m.token).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 4);
    assert!(!listed.text.contains(&secret) && !listed.text.contains("ROBOTKEY") && !listed.text.contains("SECding"));

    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let (docking, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    let r = act(&app, &m.token, &docking, "accept", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Generic: HMAC-SHA256 over "<timestamp>.<body>" with the secret; the event id in a header.
    let got = receiver.wait_for("/generic", 2).await;
    let moved =
        got.iter().find(|r| r.header("x-techmarket-event") == Some("docking_changed")).expect("docking_changed");
    let timestamp = moved.header("x-techmarket-timestamp").unwrap();
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(&moved.body);
    let expected: String = hmac_sha256(secret.as_bytes(), &message).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(moved.header("x-techmarket-signature").unwrap(), format!("v1={expected}"));
    let body = moved.json();
    assert_eq!(moved.header("x-techmarket-event-id").unwrap(), body["id"]);
    assert_eq!(body["type"], "docking_changed");
    assert_eq!(body["data"]["to"], "accepted");
    assert_eq!(body["link"], format!("https://market.example.cn/api/v1/dockings/{docking}"));
    assert!((chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap()).abs() < 60);
    assert!(got.iter().any(|r| r.header("x-techmarket-event") == Some("suggestion_new")), "the suggestion too");

    // WeCom: markdown, Chinese, a link back; only the kinds asked for.
    let wecom = receiver.wait_for("/wecom", 1).await;
    let body = wecom[0].json();
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("对接状态变更") && content.contains("固态电池电解液溶剂高纯化工艺"), "{content}");
    assert!(content.contains(&format!("(https://market.example.cn/api/v1/dockings/{docking})")), "{content}");

    // DingTalk: timestamp (ms) and sign = Base64(HMAC-SHA256(secret, "timestamp\nsecret")), URL-encoded.
    let ding = receiver.wait_for("/ding", 1).await;
    let sent = reqwest::Url::parse(&format!("http://receiver{}", ding[0].target)).unwrap();
    let query: Vec<(String, String)> = sent.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("access_token"), "TOKEN");
    let ts = get("timestamp");
    assert_eq!(get("sign"), b64(&hmac_sha256(b"SECding", format!("{ts}\nSECding").as_bytes())));
    assert!((chrono::Utc::now().timestamp_millis() - ts.parse::<i64>().unwrap()).abs() < 60_000);
    assert_eq!(ding[0].json()["msgtype"], "markdown");

    // Feishu: timestamp (s) and sign = Base64(HMAC-SHA256(key = "timestamp\nsecret", "")) in the body.
    let feishu = receiver.wait_for("/feishu", 1).await;
    let body = feishu[0].json();
    let ts = body["timestamp"].as_str().unwrap();
    assert_eq!(body["sign"], b64(&hmac_sha256(format!("{ts}\nfeishu-secret").as_bytes(), b"")));
    assert_eq!(body["msg_type"], "interactive");

    // The delivery log says each was delivered.
    let subs = app.get("/api/v1/subscriptions", &m.token).await.body;
    for s in subs.as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let log = app.get(&format!("/api/v1/subscriptions/{id}/deliveries"), &m.token).await;
        let items = log.body["items"].as_array().unwrap().clone();
        assert!(!items.is_empty(), "{}", log.text);
        assert!(items.iter().all(|d| d["status"] == "delivered" || d["status"] == "pending"), "{}", log.text);
    }
    // An enterprise sees none of the market's subscriptions.
    assert_eq!(app.get("/api/v1/subscriptions", &e.token).await.body, json!([]));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_given_up_and_can_be_redelivered() {
    let receiver = Receiver::start().await;
    receiver.answer("/down", 500, "{}", Duration::ZERO);
    receiver.answer("/robot", 200, r#"{"errcode":310000,"errmsg":"keywords not in content"}"#, Duration::ZERO);
    let app = notifying_app("127.0.0.1").await;
    let m = app.manager().await;
    let down = subscribe(
        &app,
        &m.token,
        json!({"url": receiver.url("/down"), "format": "generic", "events": ["docking_changed"]}),
    )
    .await;
    subscribe(
        &app,
        &m.token,
        json!({"url": receiver.url("/robot?access_token=x"), "format": "dingtalk", "events": ["docking_changed"]}),
    )
    .await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let (docking, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    assert_eq!(act(&app, &m.token, &docking, "accept", json!({})).await.status, StatusCode::OK);

    // Three attempts (the configured maximum), then dead; a robot's 200 with an error code is a failure.
    let attempts = receiver.wait_for("/down", 3).await;
    receiver.wait_for("/robot", 3).await;
    let ids: Vec<_> = attempts.iter().map(|r| r.header("x-techmarket-event-id").unwrap().to_string()).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "every attempt carries the same event id");
    let id = down["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivery = loop {
        let log = app.get(&format!("/api/v1/subscriptions/{id}/deliveries?status=dead"), &m.token).await;
        if let Some(d) = log.body["items"].as_array().unwrap().first() {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "never dead: {}", log.text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_code"], 500);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.at("/down").len(), 3, "nothing after the dead letter");
    let delivery_id = delivery["id"].as_str().unwrap();
    let one = app.get(&format!("/api/v1/deliveries/{delivery_id}"), &m.token).await;
    assert_eq!(one.body["log"].as_array().unwrap().len(), 3, "{}", one.text);
    assert!(one.body["log"][0]["error"].as_str().unwrap().contains("500"));

    // Redelivered once the receiver is back.
    receiver.answer("/down", 204, "", Duration::ZERO);
    let r = app.post(&format!("/api/v1/deliveries/{delivery_id}/redeliver"), &m.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    receiver.wait_for("/down", 4).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let one = app.get(&format!("/api/v1/deliveries/{delivery_id}"), &m.token).await;
        if one.body["status"] == "delivered" {
            assert_eq!(one.body["log"].as_array().unwrap().len(), 4, "the log keeps the earlier round");
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {}", one.text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Another organisation cannot see or redeliver it.
    app.post(&format!("/api/v1/deliveries/{delivery_id}/redeliver"), &e.token, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_delivery_sends_it_once() {
    let receiver = Receiver::start().await;
    receiver.answer("/slow", 200, "{}", Duration::from_millis(1500));
    let app = notifying_app("127.0.0.1").await;
    let m = app.manager().await;
    subscribe(
        &app,
        &m.token,
        json!({"url": receiver.url("/slow"), "format": "generic", "events": ["docking_changed"]}),
    )
    .await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let (docking, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    assert_eq!(act(&app, &m.token, &docking, "accept", json!({})).await.status, StatusCode::OK);
    receiver.wait_for("/slow", 1).await;
    // Stopped while the receiver holds the request: the attempt finishes and is recorded.
    let (config, dir, admin) = app.stop().await;
    let app = start(config, dir, Some(admin)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.at("/slow");
    assert_eq!(got.len(), 1, "sent once across the restart");
    let subs = app.get("/api/v1/subscriptions", &m.token).await.body;
    let id = subs[0]["id"].as_str().unwrap();
    let log = app.get(&format!("/api/v1/subscriptions/{id}/deliveries"), &m.token).await;
    assert_eq!(log.body["items"][0]["status"], "delivered", "{}", log.text);
    assert_eq!(log.body["items"][0]["attempts"], 1);
}

#[tokio::test]
async fn no_webhook_reaches_an_internal_address_at_registration_or_at_delivery() {
    let canary = Receiver::start().await;
    let port = canary.port;
    let app = notifying_app("").await;
    let m = app.manager().await;
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.8/hook".to_string(),
        "http://192.168.1.10/hook".to_string(),
        "http://[fd12::1]/hook".to_string(),
        "ftp://example.com/hook".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let r = app.post("/api/v1/subscriptions", &m.token, json!({"url": url, "format": "generic"})).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "webhook_refused");
    }
    // Chinese by default.
    let r = app.send(reqwest::Method::POST, "/api/v1/subscriptions", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let zh = app
        .client
        .post(app.url("/api/v1/subscriptions"))
        .bearer_auth(&m.token)
        .header("accept-language", "zh-CN")
        .json(&json!({"url": format!("http://127.1:{port}/"), "format": "generic"}))
        .send()
        .await
        .unwrap();
    let zh: Value = zh.json().await.unwrap();
    assert!(zh["error"]["message"].as_str().unwrap().contains("不是公网地址"), "{zh}");

    // Registered while the operator allowed the host, delivered after the allowance is gone:
    // refused again at delivery.
    let (config, dir, admin) = app.stop().await;
    let allowed = test_config_with(&dir, &config.database.url, &notification_settings("127.0.0.1"));
    let app = start(allowed, dir, Some(admin)).await;
    subscribe(&app, &m.token, json!({"url": format!("http://127.0.0.1:{port}/in"), "format": "generic"})).await;
    let (config, dir, admin) = app.stop().await;
    let closed = test_config_with(&dir, &config.database.url, &notification_settings(""));
    let app = start(closed, dir, Some(admin)).await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let (docking, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;
    assert_eq!(act(&app, &m.token, &docking, "accept", json!({})).await.status, StatusCode::OK);
    let subs = app.get("/api/v1/subscriptions", &m.token).await.body;
    let id = subs[0]["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = app.get(&format!("/api/v1/subscriptions/{id}/deliveries?status=dead"), &m.token).await;
        if let Some(d) = log.body["items"].as_array().unwrap().first() {
            assert!(d["last_error"].as_str().unwrap().contains("not a public address"), "{d}");
            break;
        }
        assert!(Instant::now() < deadline, "never refused: {}", log.text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(*canary.connections.lock().unwrap(), 0, "the canary saw no connection");
}

#[tokio::test]
async fn the_inbox_tells_each_role_what_it_may_see() {
    let app = notifying_app("").await;
    let m = app.manager().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let outsider = app.enterprise("胜利油田某装备有限公司").await;
    let (docking, ..) = suggested_pair(&app, &e, &u, &m, solvent_need()).await;

    // The suggestion: the manager hears of it, the parties not yet.
    inbox_until(&app, &m.token, |b| has(b, "suggestion_new", &docking)).await;
    let before = app.get("/api/v1/notifications", &e.token).await.body;
    assert!(!kinds(&before).iter().any(|k| k == "suggestion_new" || k == "docking_changed"), "{before}");

    // Accepted: both parties hear of it; an outsider hears nothing of it.
    assert_eq!(act(&app, &m.token, &docking, "accept", json!({})).await.status, StatusCode::OK);
    let inbox = inbox_until(&app, &e.token, |b| has(b, "docking_changed", &docking)).await;
    assert!(inbox["unread"].as_i64().unwrap() >= 1);
    inbox_until(&app, &u.token, |b| has(b, "docking_changed", &docking)).await;
    let theirs = app.get("/api/v1/notifications", &outsider.token).await.body;
    assert!(!theirs.to_string().contains(&docking), "{theirs}");
    let n = inbox["items"].as_array().unwrap().iter().find(|n| n["subject"] == docking.as_str()).unwrap().clone();
    assert!(n["headline"].as_str().unwrap().contains("经理人确认"), "{n}");
    assert_eq!(n["read"], false);

    // Marked read: it moves behind the unread; an outsider cannot mark it.
    let seq = n["seq"].as_i64().unwrap();
    app.post(&format!("/api/v1/notifications/{seq}/read"), &outsider.token, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = app.post(&format!("/api/v1/notifications/{seq}/read"), &e.token, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let after = app.get("/api/v1/notifications?unread=true", &e.token).await.body;
    assert!(!after["items"].as_array().unwrap().iter().any(|i| i["seq"] == seq), "{after}");
    let all = app.get("/api/v1/notifications", &e.token).await.body;
    let items = all["items"].as_array().unwrap();
    let first_read = items.iter().position(|i| i["read"] == true).unwrap();
    assert!(items[first_read..].iter().all(|i| i["read"] == true), "unread first: {all}");
    let r = app.post("/api/v1/notifications/read-all", &m.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.get("/api/v1/notifications", &m.token).await.body["unread"], 0);

    // Paged with the cursor, nothing twice.
    let first = app.get("/api/v1/notifications?limit=1", &m.token).await.body;
    let cursor = first["next_cursor"].as_str().expect("more than one").to_string();
    let second = app.get(&format!("/api/v1/notifications?limit=1&cursor={cursor}"), &m.token).await.body;
    assert_ne!(first["items"][0]["seq"], second["items"][0]["seq"]);
}

#[tokio::test]
async fn records_expire_on_the_clock_remind_their_owners_and_renew() {
    let app = notifying_app("").await;
    let m = app.manager().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let today = chrono::NaiveDate::parse_from_str(&app.market_today(), "%Y-%m-%d").unwrap();
    let deadline = (today + chrono::Duration::days(5)).to_string();
    let need = app.create_need(&e, json!({"deadline": deadline})).await;
    let need_id = need["id"].as_str().unwrap().to_string();
    let achievement = app.create_achievement(&u, json!({})).await;
    let achievement_id = achievement["id"].as_str().unwrap().to_string();

    // Five days before its deadline: the owner is reminded, once.
    inbox_until(&app, &e.token, |b| has(b, "record_expiring", &need_id)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let inbox = app.get("/api/v1/notifications?limit=100", &e.token).await.body;
    assert_eq!(kinds(&inbox).iter().filter(|k| *k == "record_expiring").count(), 1, "{inbox}");

    // Past the deadline: expired, kept, out of the default listing and of search.
    let later = chrono::Utc::now() + chrono::Duration::days(7);
    app.travel_to(&later.to_rfc3339());
    inbox_until(&app, &e.token, |b| has(b, "record_expired", &need_id)).await;
    let got = app.get(&format!("/api/v1/needs/{need_id}"), &e.token).await;
    assert_eq!(got.body["status"], "expired");
    let listed = app.get("/api/v1/needs", &m.token).await.body;
    assert!(!listed.to_string().contains(&need_id), "out of the default listing");
    let expired = app.get("/api/v1/needs?status=expired", &m.token).await.body;
    assert!(expired.to_string().contains(&need_id), "listed when asked for");
    let counts = app.get("/api/v1/stats/counts?by=field", &m.token).await.body;
    let needs = counts["libraries"].as_array().unwrap().iter().find(|l| l["library"] == "needs").unwrap().clone();
    assert_eq!(needs["expired"], 1, "{counts}");

    // Renewing needs a new deadline; with one it is open again.
    let renew = format!("/api/v1/needs/{need_id}/renew");
    app.post(&renew, &e.token, json!({}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "renewal_needs_deadline");
    app.post(&renew, &u.token, json!({})).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let new_deadline = (later.date_naive() + chrono::Duration::days(60)).to_string();
    let r = app.post(&renew, &e.token, json!({"deadline": new_deadline})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["deadline"], new_deadline);

    // An achievement expires a year after its last confirmation; renewing restarts the year.
    app.travel_to(&(chrono::Utc::now() + chrono::Duration::days(366)).to_rfc3339());
    inbox_until(&app, &u.token, |b| has(b, "record_expired", &achievement_id)).await;
    let renew = format!("/api/v1/achievements/{achievement_id}/renew");
    app.post(&renew, &u.token, json!({"deadline": "2030-01-01"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");
    let r = app.post(&renew, &u.token, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "open");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = app.get(&format!("/api/v1/achievements/{achievement_id}"), &u.token).await;
    assert_eq!(got.body["status"], "open", "the renewal holds over the next sweeps");
}

#[tokio::test]
async fn an_import_that_names_an_expired_record_again_renews_it() {
    let app = notifying_app("").await;
    let u = app.university("中国石油大学(华东)").await;
    let csv = "外部编号,成果名称,成果简介,关键词,技术领域,成果类型,技术成熟度\r\n\
        UPC-2026-101,页岩油水平井体积压裂液体系,低伤害滑溜水压裂液，降阻率75%。,压裂液,油气勘探开发,专利,6\r\n"
        .as_bytes()
        .to_vec();
    let r = crate::imports::upload(&app, &u.token, "library=achievements", "text/csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["items"][0]["id"].as_str().unwrap().to_string();
    app.travel_to(&(chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339());
    inbox_until(&app, &u.token, |b| has(b, "record_expired", &id)).await;
    let dry =
        crate::imports::upload(&app, &u.token, "library=achievements&dry_run=true", "text/csv", csv.clone()).await;
    assert_eq!(dry.body["renewed"], 0, "a dry run renews nothing");
    assert_eq!(app.get(&format!("/api/v1/achievements/{id}"), &u.token).await.body["status"], "expired");
    let r = crate::imports::upload(&app, &u.token, "library=achievements", "text/csv", csv).await;
    assert_eq!((r.body["existing"].as_i64(), r.body["renewed"].as_i64()), (Some(1), Some(1)), "{}", r.text);
    let got = app.get(&format!("/api/v1/achievements/{id}"), &u.token).await;
    assert_eq!(got.body["status"], "open");
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_event_once_between_them() {
    let receiver = Receiver::start().await;
    // No suggestions: the background matcher would race the manager to the same pairs (the
    // instances hear each other's writes at once on PostgreSQL), and a pair suggested first
    // cannot be made by hand.
    let mut settings = notification_settings("127.0.0.1");
    settings.push(("TECHMARKET__MATCHING__THRESHOLD", "1"));
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(&dir).await;
    let first = start(test_config_with(&dir, &url, &settings), Arc::new(dir), None).await;
    let other_dir = tempfile::tempdir().expect("temp dir");
    let second =
        start(test_config_with(&other_dir, &url, &settings), Arc::new(other_dir), Some(first.admin.clone())).await;
    let m = first.manager().await;
    subscribe(
        &first,
        &m.token,
        json!({"url": receiver.url("/both"), "format": "generic", "events": ["docking_changed"]}),
    )
    .await;
    let e = first.enterprise("东营新能源材料有限公司").await;
    let u = first.university("中国石油大学(华东)").await;
    // Dockings a manager makes by hand, alternately on each instance: each is an event.
    let mut made = 0;
    for i in 0..12 {
        let need = first.create_need(&e, json!({"title": format!("油田采出水处理工艺第{i}项")})).await;
        let achievement = first.create_achievement(&u, json!({"title": format!("采出水深度处理技术第{i}项")})).await;
        let app = if i % 2 == 0 { &first } else { &second };
        let body = json!({"need_id": need["id"], "achievement_id": achievement["id"]});
        let r = app.post("/api/v1/dockings", &m.token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        made += 1;
    }
    let got = receiver.wait_for("/both", made).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got_after = receiver.at("/both");
    let mut ids: Vec<_> = got_after.iter().map(|r| r.header("x-techmarket-event-id").unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), made, "every event arrived");
    assert_eq!(got_after.len(), made, "none twice ({} then {})", got.len(), got_after.len());
}

#[tokio::test]
async fn the_weekly_summary_is_written_once_a_week_to_managers_and_active_organisations() {
    let app = notifying_app("").await;
    let m = app.manager().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let quiet = app.enterprise("东营某机械有限公司").await;
    let summaries = |b: &Value| kinds(b).iter().filter(|k| *k == "weekly_summary").count();
    let before = summaries(&app.get("/api/v1/notifications?limit=100", &m.token).await.body);
    app.create_need(&e, json!({})).await;
    app.create_need(&e, json!({"title": "油田采出水深度处理工艺"})).await;

    // The Monday 09:30 in Dongying after the week the needs were posted in (never today: on a
    // Monday before 09:30 the needs belong to the week that has just begun): one summary of that
    // week, to the manager and to the organisation that posted; none to the quiet one.
    let offset = techmarket::domain::market_offset();
    let local = chrono::Utc::now().with_timezone(&offset);
    let at = (1..8)
        .map(|d| (local.date_naive() + chrono::Duration::days(d)).and_hms_opt(9, 30, 0).unwrap())
        .map(|t| t.and_local_timezone(offset).unwrap())
        .find(|t| chrono::Datelike::weekday(t) == chrono::Weekday::Mon && *t > local)
        .unwrap();
    app.travel_to(&at.to_rfc3339());
    let inbox = inbox_until(&app, &m.token, |b| summaries(b) == before + 1).await;
    let summary = inbox["items"].as_array().unwrap().iter().find(|n| n["kind"] == "weekly_summary").unwrap().clone();
    assert_eq!(summary["facts"]["new_needs"], 2, "{summary}");
    assert!(summary["headline"].as_str().unwrap().starts_with("本周汇总"));
    let theirs = inbox_until(&app, &e.token, |b| summaries(b) >= 1).await;
    assert!(theirs.to_string().contains("本单位新增需求 2 项"), "{theirs}");
    assert_eq!(summaries(&app.get("/api/v1/notifications", &quiet.token).await.body), 0);

    // Restarted within the same week: not written again.
    let (config, dir, admin) = app.stop().await;
    let app = start(config, dir, Some(admin)).await;
    app.travel_to(&(at + chrono::Duration::hours(2)).to_rfc3339());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(summaries(&app.get("/api/v1/notifications?limit=100", &m.token).await.body), before + 1);
}

#[tokio::test]
async fn a_renewal_without_a_body_or_with_null_is_a_plain_renewal() {
    let app = notifying_app("").await;
    let u = app.university("中国石油大学(华东)").await;
    let id = app.create_achievement(&u, json!({})).await["id"].as_str().unwrap().to_string();
    let url = app.url(&format!("/api/v1/achievements/{id}/renew"));
    let none = app.client.post(&url).bearer_auth(&u.token).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::OK);
    let null = app
        .client
        .post(&url)
        .bearer_auth(&u.token)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(null.status(), StatusCode::OK);
    let body: Value = null.json().await.unwrap();
    assert_eq!(body["version"], 3, "each renewal is a new version");
}

#[tokio::test]
async fn a_signed_contract_and_its_milestones_reach_both_parties_and_nobody_else() {
    let app = notifying_app("").await;
    let m = app.manager().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let outsider = app.enterprise("垦利石化装备有限公司").await;
    let need = app.create_need(&e, json!({})).await;
    let achievement = app.create_achievement(&u, json!({})).await;
    let docking =
        crate::transfers::negotiating(&app, &m, need["id"].as_str().unwrap(), achievement["id"].as_str().unwrap())
            .await;
    let contract = json!({"contract_type": "transfer", "amount": "350.25", "signed_on": "2026-11-20"});
    let r = crate::transfers::sign(&app, &m, &docking, contract).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let transfer = crate::transfers::transfer_of(&app, &m.token, &docking).await;
    let id = transfer["id"].as_str().unwrap().to_string();
    let progress = json!({"milestones": [{"kind": "pilot", "date": "2026-11-24", "note": "中试线连续运行72小时"}]});
    let r = app.patch(&format!("/api/v1/transfers/{id}"), &m.token, progress, Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for party in [&e, &u, &m] {
        let inbox =
            inbox_until(&app, &party.token, |b| has(b, "contract_signed", &id) && has(b, "milestone_recorded", &id))
                .await;
        let signed =
            inbox["items"].as_array().unwrap().iter().find(|n| n["kind"] == "contract_signed").unwrap().clone();
        assert!(signed["headline"].as_str().unwrap().contains("350.25 万元"), "{signed}");
        let milestone =
            inbox["items"].as_array().unwrap().iter().find(|n| n["kind"] == "milestone_recorded").unwrap().clone();
        assert!(milestone["headline"].as_str().unwrap().contains("中试"), "{milestone}");
        assert!(has(&inbox, "docking_changed", &docking), "the signing moved the docking too");
    }
    let theirs = app.get("/api/v1/notifications?limit=100", &outsider.token).await.body;
    assert!(!theirs.to_string().contains(&id) && !theirs.to_string().contains(&docking), "{theirs}");
}
