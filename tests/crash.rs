//! Crash harness: the real `techmarket` binary takes a burst of concurrent writes and is killed
//! with SIGKILL at a random moment; after a restart, every write it acknowledged with 201 must be
//! in the database and found by search, and the index must equal a rebuild.
//!
//! `TECHMARKET_CRASH_ITERATIONS` (default 3) sets the number of kills; the database is SQLite,
//! or a fresh PostgreSQL database when `TECHMARKET_TEST_POSTGRES` is set (as in .ci/run).
//! `TECHMARKET_CRASH_SEED` replays a run. Each iteration prints what it did.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

const BINARY: &str = env!("CARGO_BIN_EXE_techmarket");
const WRITERS: usize = 8;

/// A small deterministic generator (the seed is printed, so a failing run can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

struct Service {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn command(data: &std::path::Path, url: &str, port: u16) -> Command {
    let mut c = Command::new(BINARY);
    c.env("TECHMARKET__DATA__DIR", data)
        .env("TECHMARKET__DATABASE__URL", url)
        .env("TECHMARKET__SERVER__PORT", port.to_string())
        .env("TECHMARKET__SERVER__WORKERS", "2")
        .env("TECHMARKET__LOG__LEVEL", "warn")
        .env("TECHMARKET__SEARCH__POLL_INTERVAL_MS", "100");
    c
}

async fn start(client: &reqwest::Client, data: &std::path::Path, url: &str) -> Service {
    let port = free_port();
    let child = command(data, url, port)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the service");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            return Service { child, base };
        }
        assert!(Instant::now() < deadline, "the service did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("TECHMARKET_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => {
            let base = base.trim_end_matches('/');
            let name = format!("tm_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await.expect("PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.join("techmarket.db").display()),
    }
}

async fn post(client: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let r = client.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

fn need(tag: &str) -> Value {
    json!({
        "title": format!("耐高温密封件国产化 {tag}"),
        "description": "井下工具密封件在180℃下寿命不足，需要耐高温氟橡胶配方与成型工艺。",
        "keywords": ["密封件", tag],
        "field": "petroleum_equipment",
        "need_type": "tech_breakthrough",
        "region": "370502",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_and_the_index_equals_a_rebuild() {
    let iterations: usize = std::env::var("TECHMARKET_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let seed: u64 = std::env::var("TECHMARKET_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = database_url(dir.path()).await;
    let backend = if url.starts_with("postgres") { "postgresql" } else { "sqlite" };
    eprintln!("crash harness: {iterations} iterations on {backend}, seed {seed}");
    techmarket::webhooks::install_tls();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();

    // Set-up through the command line, as an operator would: the admin's token, then an
    // enterprise whose user writes.
    let out = command(&data, &url, 0).args(["admin", "create-token"]).output().expect("create-token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut service = start(&client, &data, &url).await;
    let org = post(
        &client,
        &service.base,
        &admin,
        "/api/v1/organisations",
        json!({"name": "东营密封件有限公司", "kind": "enterprise", "region": "370502"}),
    )
    .await;
    let user = post(
        &client,
        &service.base,
        &admin,
        "/api/v1/users",
        json!({"org_id": org["id"], "name": "王工", "role": "enterprise", "phone": "13800000000"}),
    )
    .await;
    let token = post(
        &client,
        &service.base,
        &admin,
        &format!("/api/v1/users/{}/tokens", user["id"].as_str().unwrap()),
        json!({"name": "crash"}),
    )
    .await;
    let token = token["token"].as_str().unwrap().to_string();

    let mut acknowledged_total = 0;
    for iteration in 0..iterations {
        // A burst of concurrent writes, killed after a random moment.
        let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (client, base, token) = (client.clone(), service.base.clone(), token.clone());
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let tag = format!("k{iteration}w{w}n{n}");
                    n += 1;
                    let sent =
                        client.post(format!("{base}/api/v1/needs")).bearer_auth(&token).json(&need(&tag)).send().await;
                    match sent {
                        Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                            // Acknowledged only once the whole answer is read.
                            if let Ok(body) = r.json::<Value>().await {
                                let id = body["id"].as_str().unwrap().to_string();
                                acknowledged.lock().unwrap().push((id, tag));
                            }
                        }
                        Ok(r) => panic!("a write was refused: {}", r.status()),
                        Err(_) => break,
                    }
                }
            }));
        }
        let delay = 100 + rng.next() % 1400;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        service.child.kill().expect("SIGKILL");
        let _ = service.child.wait();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        acknowledged_total += acknowledged.len();

        // Restart: every acknowledged write is there and found by search.
        service = start(&client, &data, &url).await;
        let mut lost = Vec::new();
        for (id, _) in &acknowledged {
            let r = client.get(format!("{}/api/v1/needs/{id}", service.base)).bearer_auth(&token).send().await.unwrap();
            if r.status() != reqwest::StatusCode::OK {
                lost.push(id.clone());
            }
        }
        assert!(lost.is_empty(), "iteration {iteration}: {} acknowledged writes lost: {lost:?}", lost.len());
        let deadline = Instant::now() + Duration::from_secs(30);
        let check = loop {
            let r =
                client.get(format!("{}/api/v1/admin/index", service.base)).bearer_auth(&admin).send().await.unwrap();
            let body: Value = r.json().await.unwrap();
            if body["consistent"] == true || Instant::now() > deadline {
                break body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(check["consistent"], true, "iteration {iteration}: the index differs from the database: {check}");
        let mut unfound = Vec::new();
        for (id, tag) in &acknowledged {
            let r = client
                .get(format!("{}/api/v1/search", service.base))
                .query(&[("q", tag.as_str()), ("library", "needs")])
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let body: Value = r.json().await.unwrap();
            let found = body["items"].as_array().is_some_and(|items| items.iter().any(|i| i["id"] == id.as_str()));
            if !found {
                unfound.push(tag.clone());
            }
        }
        assert!(unfound.is_empty(), "iteration {iteration}: acknowledged writes not found by search: {unfound:?}");
        // The index equals a rebuild: the same hits before and after one.
        let hits = |base: String| {
            let (client, token) = (client.clone(), token.clone());
            async move {
                let r = client
                    .get(format!("{base}/api/v1/search"))
                    .query(&[("q", "密封件"), ("library", "needs"), ("limit", "1")])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                r.json::<Value>().await.unwrap()["total"].as_u64().unwrap()
            }
        };
        let before = hits(service.base.clone()).await;
        let r = client
            .post(format!("{}/api/v1/admin/index/rebuild", service.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "rebuild: {}", r.status());
        let after = hits(service.base.clone()).await;
        assert_eq!(before, after, "iteration {iteration}: a rebuild changed the search results");
        assert!(before as usize >= acknowledged_total, "every acknowledged write is counted");
        eprintln!(
            "iteration {iteration}: killed after {delay} ms, {} writes acknowledged, 0 lost, {before} records indexed, index consistent",
            acknowledged.len()
        );
    }
    let _ = service.child.kill();
    let _ = service.child.wait();
    eprintln!("crash harness: {iterations} kills on {backend}, {acknowledged_total} acknowledged writes, 0 lost");
}
