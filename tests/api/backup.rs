//! Backup and restore: a copy taken from the command line while the service takes writes holds
//! every write acknowledged before it began; restored into an empty data folder, the service
//! starts on it with a consistent index. PostgreSQL is pointed at pg_dump.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, start, test_config};
use crate::process::techmarket;

fn run(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    techmarket(dir, url, 0, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_writes_restores_every_acknowledged_write_into_an_empty_data_folder() {
    let app = spawn_app().await;
    let url = app.config.database_url();
    let data = app.config.data.dir.clone();
    let backup = tempfile::tempdir().unwrap();
    let into = backup.path().join("2026-12-06");
    if url.starts_with("postgres") {
        let out = run(&data, &url, &["backup", into.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let e = app.enterprise("东营石大胜华新能源有限公司").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, base, token) = (app.client.clone(), app.address.clone(), e.token.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = crate::helpers::merge(
                    crate::helpers::need_body(),
                    json!({"title": format!("第{n}批电解液添加剂中试需求")}),
                );
                let r =
                    client.post(format!("{base}/api/v1/needs")).bearer_auth(&token).json(&body).send().await.unwrap();
                if r.status() == StatusCode::CREATED {
                    let v: serde_json::Value = r.json().await.unwrap();
                    acknowledged.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                }
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let (d, u, i) = (data.clone(), url.clone(), into.clone());
    let out = tokio::task::spawn_blocking(move || run(&d, &u, &["backup", i.to_str().unwrap()])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let during = acknowledged.lock().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(acknowledged.lock().unwrap().len() > during, "writes went on during and after the backup");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(into.join("backup.json")).unwrap()).unwrap();
    assert!(manifest["last_change_seq"].as_i64().unwrap() > 20, "{manifest}");
    // A second backup into the same folder is refused: a backup is never overwritten.
    assert!(!run(&data, &url, &["backup", into.to_str().unwrap()]).status.success());
    app.stop().await;

    // Restore into an empty data folder; the service starts on it and rebuilds its index.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_url = format!("sqlite://{}", fresh.path().join("techmarket.db").display());
    let out = run(fresh.path(), &fresh_url, &["restore", into.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Not twice: the folder holds a database now.
    let again = run(fresh.path(), &fresh_url, &["restore", into.to_str().unwrap()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("empty data folder"));
    let config = test_config(&fresh, &fresh_url);
    let restored = start(config, Arc::new(fresh), None).await;
    for id in &before {
        let r = restored.get(&format!("/api/v1/needs/{id}"), &restored.admin).await;
        assert_eq!(r.status, StatusCode::OK, "need {id}, acknowledged before the backup, is missing: {}", r.text);
    }
    let report = restored.get("/api/v1/admin/index", &restored.admin).await;
    assert_eq!(report.body["consistent"], true, "{}", report.body);
    let hits = restored
        .search_until(&restored.admin, &[("q", "电解液添加剂"), ("library", "needs")], |b| {
            b["total"].as_u64() >= Some(before.len() as u64)
        })
        .await;
    assert!(hits["total"].as_u64().unwrap() >= before.len() as u64);
}
