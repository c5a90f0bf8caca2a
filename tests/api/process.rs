//! techmarket as real processes: the service killed with SIGKILL in the middle of a write burst
//! (after a restart every acknowledged record is in the database and searchable), and the
//! index and evaluation commands.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{fresh_database_url, need_body};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn techmarket(dir: &std::path::Path, url: &str, port: u16, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techmarket"));
    command
        .args(args)
        .env("TECHMARKET__DATABASE__URL", url)
        .env("TECHMARKET__DATA__DIR", dir)
        .env("TECHMARKET__SERVER__PORT", port.to_string())
        .env("TECHMARKET__SERVER__WORKERS", "2")
        .env("TECHMARKET__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn serve(dir: &std::path::Path, url: &str, port: u16) -> Child {
    let child = techmarket(dir, url, port, &["serve"]).spawn().expect("start techmarket");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("http://127.0.0.1:{port}/ready")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "the service did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Result<Value, String> {
    let r = client.post(url).bearer_auth(token).json(&body).send().await.map_err(|e| e.to_string())?;
    if r.status() != StatusCode::CREATED {
        return Err(format!("status {}", r.status()));
    }
    r.json().await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_process_killed_during_a_write_burst_keeps_every_acknowledged_record_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let output =
        techmarket(dir.path(), &url, port, &["admin", "create-token"]).stdout(Stdio::piped()).output().unwrap();
    let admin = String::from_utf8(output.stdout).unwrap().trim().to_string();

    let mut child = serve(dir.path(), &url, port).await;
    techmarket::webhooks::install_tls();
    let client = reqwest::Client::new();
    let org = post(
        &client,
        format!("{base}/organisations"),
        &admin,
        json!({"name": "东营胜科石油装备有限公司", "kind": "enterprise", "region": "370503"}),
    )
    .await
    .unwrap();
    let user = post(
        &client,
        format!("{base}/users"),
        &admin,
        json!({"org_id": org["id"], "name": "赵铁军", "role": "enterprise"}),
    )
    .await
    .unwrap();
    let token = post(&client, format!("{base}/users/{}/tokens", user["id"].as_str().unwrap()), &admin, json!({}))
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();

    // Four writers post needs as fast as they can; the process is killed once 40 are acknowledged.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, token, acknowledged) =
                (client.clone(), base.clone(), token.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body =
                        crate::helpers::merge(need_body(), json!({"title": format!("抽油机井突发写入{w}号{i}")}));
                    match post(&client, format!("{base}/needs"), &token, body).await {
                        Ok(need) => acknowledged.lock().unwrap().push(need["id"].as_str().unwrap().to_string()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 40 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL"); // std's kill sends SIGKILL on Unix
    child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let mut child = serve(dir.path(), &url, port).await;
    let mut found = Vec::new();
    for page in 1..=(acknowledged.len().div_ceil(50) + 1) {
        let r = client
            .get(format!("{base}/search"))
            .bearer_auth(&token)
            .query(&[("q", "突发写入"), ("limit", "50"), ("page", &page.to_string()), ("sort", "newest")])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        found.extend(crate::helpers::hit_ids(&body));
    }
    for id in &acknowledged {
        assert!(found.contains(id), "acknowledged need {id} is not searchable after the restart");
        let r = client.get(format!("{base}/needs/{id}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let check = client.get(format!("{base}/admin/index")).bearer_auth(&admin).send().await.unwrap();
    let report: Value = check.json().await.unwrap();
    assert_eq!(report["consistent"], true, "{report}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_command_line_rebuilds_and_checks_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let run = |args: &[&str]| techmarket(dir.path(), &url, port, args).stdout(Stdio::piped()).output().unwrap();
    assert!(run(&["seed-demo"]).status.success());
    let check = run(&["index", "check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["libraries"][0]["in_index"], 40);
    let rebuilt = run(&["reindex"]);
    assert!(rebuilt.status.success());
    let text = String::from_utf8(rebuilt.stdout).unwrap();
    assert!(text.contains("40 needs") && text.contains("82 achievements"), "{text}");

    // Matching everything stores suggestions once: a second run finds nothing new.
    let matched = run(&["match", "--all"]);
    assert!(matched.status.success());
    let text = String::from_utf8(matched.stdout).unwrap();
    let created: usize =
        text.split(": ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(text.starts_with("matched 122 records") && created >= 40, "{text}");
    let again = String::from_utf8(run(&["match", "--all"]).stdout).unwrap();
    assert!(again.contains(": 0 new suggestions"), "{again}");
    assert!(!run(&["match"]).status.success(), "`match` alone says what to add");
}

#[test]
fn the_eval_command_writes_a_trec_run_from_the_matching_path() {
    let dir = tempfile::tempdir().unwrap();
    let achievements = dir.path().join("achievements.jsonl");
    let needs = dir.path().join("needs.jsonl");
    std::fs::write(
        &achievements,
        [
            json!({"id": "a1", "title": "相变吸收剂低能耗二氧化碳捕集", "abstract": "胺基相变吸收剂，再生能耗低。", "keywords": ["碳捕集", "吸收剂"], "field": "环境科学与工程"}),
            json!({"id": "a2", "title": "耐盐碱大豆新品种", "abstract": "盐碱地出苗率高。", "keywords": ["大豆"], "field": "作物学"}),
            json!({"id": "a3", "title": "", "abstract": "扫描隧道显微镜研究材料断裂。", "keywords": [], "field": "材料科学与工程"}),
        ]
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect::<String>(),
    )
    .unwrap();
    std::fs::write(
        &needs,
        json!({"id": "n1", "title": "燃煤烟气CCUS改造", "description": "需要低能耗吸收剂"}).to_string() + "\n",
    )
    .unwrap();
    let run = dir.path().join("run.trec");
    let output = Command::new(env!("CARGO_BIN_EXE_techmarket"))
        .args([
            "eval",
            "--achievements",
            achievements.to_str().unwrap(),
            "--needs",
            needs.to_str().unwrap(),
            "--run",
            run.to_str().unwrap(),
        ])
        .env("TECHMARKET__DATA__DIR", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&run).unwrap();
    let first: Vec<&str> = text.lines().next().unwrap().split(' ').collect();
    assert_eq!(first[..4], ["n1", "Q0", "a1", "1"], "{text}");
    assert_eq!(first[5], "techmarket");
    assert!(!text.contains(" a2 "), "an unrelated record is not ranked: {text}");
}

#[tokio::test]
async fn the_command_line_imports_a_gbk_csv_after_a_dry_run_and_refuses_a_bad_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let run = |args: &[&str]| {
        techmarket(dir.path(), &url, port, args).stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap()
    };
    assert!(run(&["seed-demo"]).status.success());
    let text = "外部编号,成果名称,成果简介,技术领域,成果类型,技术成熟度\r\n\
        CLI-1,稠油热采井筒隔热油管,真空隔热油管导热系数降至0.006。,石油装备,专利,7\r\n\
        CLI-2,油田采出水电化学除油,电絮凝除油率95%。,资源与环境,技术秘密,5\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let file = dir.path().join("成果.csv");
    std::fs::write(&file, &gbk).unwrap();
    let path = file.to_str().unwrap();
    let args = ["import", path, "--library", "achievements", "--org", "东营石油工程大学"];

    let dry = run(&[&args[..], &["--dry-run"]].concat());
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!((report["created"].as_i64(), report["written"].as_bool()), (Some(2), Some(false)));
    assert_eq!(report["encoding"], "gbk");

    let real = run(&args);
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    let report: Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!(report["written"], true);
    let again: Value = serde_json::from_slice(&run(&args).stdout).unwrap();
    assert_eq!(again["existing"], 2, "{again}");

    // A bad row: nothing of the file is written and the exit status says so.
    std::fs::write(
        &file,
        "成果名称,成果简介,技术领域,成果类型,技术成熟度\n盐碱地改良剂,改良剂,不存在的领域,专利,5\n页岩气压裂工艺,压裂,石油装备,专利,6\n",
    )
    .unwrap();
    let bad = run(&["import", path, "--library", "achievements", "--org", "东营石油工程大学"]);
    assert!(!bad.status.success());
    let report: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!((report["invalid"].as_i64(), report["written"].as_bool()), (Some(1), Some(false)));
    assert_eq!(report["errors"][0]["column"], "技术领域");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--skip-invalid"));
    let check: Value = serde_json::from_slice(&run(&["index", "check"]).stdout).unwrap();
    assert_eq!(check["libraries"][1]["in_database"], 84, "82 demo achievements and the 2 imported: {check}");
}

/// A first run without surprises: `serve` says where its data is, `GET /` leads to the API
/// reference, and a second `serve` on the same data directory says another process holds it,
/// which one, and what to do.
#[tokio::test]
async fn serve_names_its_data_and_a_second_serve_on_it_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let first = techmarket(dir.path(), &url, port, &["serve"]).stdout(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("http://127.0.0.1:{port}/ready")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "the service did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    techmarket::webhooks::install_tls();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let home = client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::FOUND);
    assert_eq!(home.headers()["location"], "/console/");

    let second = techmarket(dir.path(), &url, free_port(), &["serve"]).stderr(Stdio::piped()).output().unwrap();
    assert!(!second.status.success());
    let message = String::from_utf8(second.stderr).unwrap();
    let absolute = std::fs::canonicalize(dir.path()).unwrap().display().to_string();
    assert!(message.contains("正被另一个 techmarket 进程使用"), "{message}");
    assert!(message.contains(&absolute), "the data directory by its absolute path: {message}");
    assert!(message.contains(&format!("进程号 {}", first.id())), "which process: {message}");
    assert!(message.contains("TECHMARKET__DATA__DIR"), "how to choose another: {message}");

    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    let output = first.wait_with_output().unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains(&format!("data directory: {absolute}")), "{printed}");
    assert!(printed.contains("database: "), "{printed}");
}

/// `serve --demo` is not ready until its demo is loaded and searchable: at the first 200 of
/// `/ready`, the tokens are written and a search finds the demo's records; before it, `/ready`
/// answers 503 `not_ready`, in Chinese.
#[tokio::test]
async fn the_demo_is_ready_only_once_its_records_are_searchable() {
    techmarket::webhooks::install_tls();
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    // An indexer slower to follow than the demo is to load (it waits 1.5 s to batch writes).
    let mut child = techmarket(dir.path(), &url, port, &["serve", "--demo"])
        .env("TECHMARKET__SEARCH__COMMIT_DELAY_MS", "1500")
        .env("TECHMARKET__SEARCH__POLL_INTERVAL_MS", "5000")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut refusals = 0;
    let tokens = dir.path().join("demo-tokens.env");
    let mut token = None;
    let client = reqwest::Client::new();
    loop {
        assert!(Instant::now() < deadline, "the service did not become ready");
        if token.is_none()
            && let Ok(text) = std::fs::read_to_string(&tokens)
        {
            token = text.lines().find_map(|l| l.strip_prefix("export TM_ENTERPRISE=")).map(str::to_string);
        }
        match client.get(format!("http://127.0.0.1:{port}/ready")).send().await {
            Ok(r) if r.status() == StatusCode::OK => break,
            Ok(r) => {
                assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "not_ready");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("服务正在载入数据") || message.contains("搜索索引正在追赶数据库"),
                    "{message}"
                );
                refusals += 1;
            }
            Err(_) => {}
        }
    }
    // At once, as a load balancer's first search would: it finds what it will ever find.
    let token = token.or_else(|| {
        let text = std::fs::read_to_string(&tokens).ok()?;
        text.lines().find_map(|l| l.strip_prefix("export TM_ENTERPRISE=")).map(str::to_string)
    });
    let token = token.expect("the tokens, written before ready");
    let totals = async || {
        let mut totals = Vec::new();
        for q in ["工艺", "系统", "技术", "碳捕集"] {
            let found: serde_json::Value = client
                .get(format!("http://127.0.0.1:{port}/api/v1/search"))
                .query(&[("q", q)])
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            totals.push(found["total"].as_u64().unwrap());
        }
        totals
    };
    let at_ready = totals().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = totals().await;
    assert!(later.iter().all(|t| *t > 0), "{later:?}");
    assert_eq!(at_ready, later, "searchable at the first ready ({refusals} refusals before)");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

/// A log that cannot be written never stops the service: with standard error on a full device
/// (`/dev/full`), every request's log line fails, and the service goes on answering.
#[tokio::test]
async fn a_log_that_cannot_be_written_never_stops_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let mut child = techmarket(dir.path(), &url, port, &["serve", "--demo"])
        .env("TECHMARKET__LOG__LEVEL", "info")
        .stderr(Stdio::from(full))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("http://127.0.0.1:{port}/ready")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(child.try_wait().unwrap().is_none(), "the service stopped while its log could not be written");
        assert!(Instant::now() < deadline, "the service did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/vocabularies")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(child.try_wait().unwrap().is_none(), "the service is still running");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "a clean stop, not a panic: {status}");
}

#[tokio::test]
async fn requests_a_client_spoils_are_warnings_at_most_and_each_request_line_names_its_actor() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let port = free_port();
    let log = dir.path().join("service.log");
    let mut child = techmarket(dir.path(), &url, port, &["serve", "--demo"])
        .env("TECHMARKET__LOG__LEVEL", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("http://127.0.0.1:{port}/ready")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "the service did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tokens = std::fs::read_to_string(dir.path().join("demo-tokens.env")).unwrap();
    let token = tokens.lines().find_map(|l| l.strip_prefix("export TM_ENTERPRISE=")).unwrap().to_string();
    for spoiled in [
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
        "GARBAGE\r\n\r\n".to_string(),
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(140_000)),
        format!(
            "GET /api/v1/needs/not-an-id HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(spoiled.as_bytes()).unwrap();
        let mut answer = [0u8; 64];
        let n = s.read(&mut answer).unwrap();
        assert!(
            String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 4"),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("ERROR"), "a client's mistake logged as an error:\n{text}");
    for status in ["status=414", "status=400", "status=431"] {
        assert!(text.lines().any(|l| l.contains("WARN") && l.contains(status)), "no warning with {status}:\n{text}");
    }
    let line = text.lines().find(|l| l.contains("path=\"/api/v1/needs/not-an-id\"")).expect("the request's line");
    assert!(
        line.contains("status=400")
            && line.contains("user=")
            && line.contains("credential=\"tm_")
            && line.contains("client=\"127.0.0.1\""),
        "{line}"
    );
}
