//! Every way in applies the same rules with the same codes: the API, an import over HTTP and the
//! command-line import decide who owns a new record alike (a manager may not file a need under a
//! university; an enterprise may not file records under another organisation).

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, need_body, spawn_app};
use crate::imports::upload;
use crate::process::techmarket;

/// A needs file with one valid row owned by `organisation` (empty: no 单位).
fn needs_csv(organisation: &str) -> Vec<u8> {
    format!(
        "单位,需求名称,需求描述,技术领域,需求类型,地区代码\r\n\
         {organisation},稠油降黏剂复配工艺,胜利油田稠油区块降黏剂效果衰减，需复配新配方。,油气勘探开发,技术攻关,370502\r\n"
    )
    .into_bytes()
}

/// Runs `techmarket import` on the test's database (with an index of its own) and returns the
/// exit status, the report it printed (if any) and what it said on stderr.
fn cli_import(app: &TestApp, file: &[u8], args: &[&str]) -> (bool, Option<Value>, String) {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("needs.csv");
    std::fs::write(&path, file).unwrap();
    let url = app.config.database_url();
    let mut all = vec!["import", path.to_str().unwrap(), "--library", "needs"];
    all.extend_from_slice(args);
    let out = techmarket(data.path(), &url, 0, &all).stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
    let report = serde_json::from_slice(&out.stdout).ok();
    (out.status.success(), report, String::from_utf8_lossy(&out.stderr).to_string())
}

#[tokio::test]
async fn a_need_filed_under_a_university_is_refused_alike_by_the_api_the_import_and_the_command_line() {
    let app = spawn_app().await;
    let university = app.university("东营石油工程大学").await;
    let m = app.manager().await;

    // The API.
    let mut body = need_body();
    body["org_id"] = json!(university.org_id);
    app.post("/api/v1/needs", &m.token, body)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "wrong_organisation_kind");

    // An import over HTTP: the row is invalid with the same code, and nothing is written.
    let r = upload(&app, &m.token, "library=needs", "text/csv", needs_csv("东营石油工程大学")).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "import_invalid");
    let errors = &r.body["error"]["details"]["errors"];
    assert_eq!(errors[0]["code"], "wrong_organisation_kind", "{}", r.body);
    assert_eq!(errors[0]["column"], "单位");
    let r =
        upload(&app, &m.token, &format!("library=needs&org_id={}", university.org_id), "text/csv", needs_csv("")).await;
    assert_eq!(r.body["error"]["details"]["errors"][0]["code"], "wrong_organisation_kind", "{}", r.body);

    // The command line, as the same manager.
    let (ok, report, stderr) = cli_import(&app, &needs_csv("东营石油工程大学"), &["--as", &m.user_id]);
    assert!(!ok, "refused whole: {stderr}");
    let report = report.expect("the report is printed");
    assert_eq!(report["errors"][0]["code"], "wrong_organisation_kind", "{report}");
    assert_eq!(report["written"], false);

    let listed = app.get(&format!("/api/v1/needs?org_id={}", university.org_id), &m.token).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was filed under the university");
}

#[tokio::test]
async fn an_enterprise_filing_under_another_organisation_is_refused_alike_by_every_way_in() {
    let app = spawn_app().await;
    let e = app.enterprise("东营胜利石化有限公司").await;
    let other = app.enterprise("东营港经济开发区化工有限公司").await;

    // The API.
    let mut body = need_body();
    body["org_id"] = json!(other.org_id);
    app.post("/api/v1/needs", &e.token, body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");

    // An import over HTTP naming the other organisation for the whole file: refused before a row
    // is read, with the same code (it used to be written to the enterprise's own organisation).
    let query = format!("library=needs&org_id={}", other.org_id);
    upload(&app, &e.token, &query, "text/csv", needs_csv(""))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "field_not_allowed");
    // ... or in a row's 单位.
    let r = upload(&app, &e.token, "library=needs&dry_run=true", "text/csv", needs_csv("东营港经济开发区化工有限公司"))
        .await;
    assert_eq!(r.body["errors"][0]["code"], "field_not_allowed", "{}", r.body);
    // Naming its own organisation, by id or by name, is fine.
    let query = format!("library=needs&dry_run=true&org_id={}", e.org_id);
    let r = upload(&app, &e.token, &query, "text/csv", needs_csv("东营胜利石化有限公司")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["invalid"], 0, "{}", r.body);

    // The command line, as the enterprise's user.
    let (ok, report, stderr) = cli_import(&app, &needs_csv(""), &["--as", &e.user_id, "--org", &other.org_id]);
    assert!(!ok && report.is_none(), "refused before a row is read");
    assert!(stderr.contains("field_not_allowed"), "{stderr}");

    let listed = app.get("/api/v1/needs", &other.token).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was filed under the other enterprise");
    let listed = app.get("/api/v1/needs", &e.token).await;
    assert_eq!(listed.body["items"], json!([]), "nor under the enterprise's own");
}

#[tokio::test]
async fn the_openapi_document_lists_the_catalogue_of_error_codes() {
    let app = spawn_app().await;
    let doc: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let code = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
    let listed: Vec<&str> =
        code["enum"].as_array().expect("an enum of codes").iter().filter_map(Value::as_str).collect();
    for expected in ["wrong_organisation_kind", "field_not_allowed", "import_invalid", "version_conflict", "busy"] {
        assert!(listed.contains(&expected), "{expected} is not listed: {listed:?}");
    }
    let description = code["description"].as_str().unwrap();
    assert!(description.contains("`wrong_organisation_kind` (422)"), "{description}");
    // A code the service answers with is one the document lists.
    let r = app.get("/api/v1/needs/not-an-id", &app.admin).await;
    assert!(listed.contains(&r.body["error"]["code"].as_str().unwrap()), "{}", r.body);
}
