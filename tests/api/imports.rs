//! Bulk import and export through the API with real files: a GBK CSV with Chinese headers and
//! bad rows (dry run, all-or-nothing, skipping, idempotent re-import, a duplicate), an XLSX
//! made by a spreadsheet library, JSON Lines, a failure at row 15,000 that leaves nothing
//! behind, the templates, and exports that honour visibility and import again.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::json;
use techmarket::tabular::{Cell, Sheet};

use crate::helpers::{TestApp, spawn_app};

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> crate::helpers::Response {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/imports?{query}")))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    crate::helpers::Response::from(r).await
}

async fn count(app: &TestApp, token: &str, library: &str) -> usize {
    let r = app.get(&format!("/api/v1/{library}?limit=100"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().unwrap().len()
}

/// Three achievements as a university's Excel would save them (GBK): the second has no title
/// and a TRL of 12.
fn achievements_csv() -> Vec<u8> {
    let text = "外部编号,成果名称,成果简介,关键词,技术领域,成果类型,技术成熟度,报价(万元),联系人,序号\r\n\
        UPC-2026-001,页岩油水平井体积压裂液体系,\"低伤害滑溜水压裂液,降阻率75%。\",\"压裂液、页岩油\",油气勘探开发,patent,6,120.5,王教授,1\r\n\
        UPC-2026-002,,缺少名称的一行,,油气勘探开发,专利,12,,,2\r\n\
        UPC-2026-003,盐碱地耐盐水稻新品种,耐盐3‰以上，亩产600公斤。,耐盐水稻,现代农业与盐碱地利用,新品种,7,面议,,3\r\n";
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    gbk.into_owned()
}

#[tokio::test]
async fn a_gbk_csv_is_checked_row_by_row_and_imported_all_or_nothing_and_once() {
    let app = spawn_app().await;
    let u = app.university("中国石油大学(华东)").await;
    // Already in the library: the first row nearly repeats it.
    let existing = app.create_achievement(&u, json!({"title": "页岩油水平井体积压裂液体系研究"})).await;

    let r = upload(&app, &u.token, "library=achievements&dry_run=true", "text/csv", achievements_csv()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let report = &r.body;
    assert_eq!(report["encoding"], "gbk");
    assert_eq!(
        (report["rows"].as_i64(), report["created"].as_i64(), report["invalid"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(report["written"], false);
    assert_eq!(report["ignored_columns"], json!(["序号"]));
    let errors: Vec<(i64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert!(errors.contains(&(3, "成果名称")), "{errors:?}");
    assert!(errors.contains(&(3, "技术成熟度")), "{errors:?}");
    assert!(report["errors"][0]["message"].as_str().unwrap().len() > 10);
    assert_eq!(report["items"][0]["action"], "create");
    assert_eq!(report["items"][0]["id"], json!(null), "a dry run has created nothing to point to");
    assert_eq!(report["items"][1]["action"], "invalid");
    assert_eq!(report["duplicates"][0]["row"], 2);
    assert_eq!(report["duplicates"][0]["existing_id"], existing["id"]);
    assert_eq!(count(&app, &u.token, "achievements").await, 1, "a dry run writes nothing");

    // A real run with an invalid row writes nothing and says how to go on.
    let r = upload(&app, &u.token, "library=achievements", "text/csv", achievements_csv()).await;
    let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "import_invalid");
    assert!(message.contains("on_error=skip"), "{message}");
    assert_eq!(r.body["error"]["details"]["errors"].as_array().unwrap().len(), 2);
    assert_eq!(count(&app, &u.token, "achievements").await, 1);

    // Skipping the invalid row imports the other two; 面议 leaves the price empty.
    let r =
        upload(&app, &u.token, "library=achievements&on_error=skip&encoding=gbk", "text/csv", achievements_csv()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.body["created"].as_i64(), r.body["invalid"].as_i64()), (Some(2), Some(1)));
    // The titles are compared while the rows are written: a row is not its own duplicate.
    assert_eq!(r.body["duplicates"].as_array().unwrap().len(), 1, "{}", r.body["duplicates"]);
    assert_eq!(r.body["duplicates"][0]["existing_id"], existing["id"]);
    let rice = r.body["items"][2]["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/achievements/{rice}"), &u.token).await.body["asking_price"], json!(null));
    let id = r.body["items"][0]["id"].as_str().unwrap().to_string();
    let a = app.get(&format!("/api/v1/achievements/{id}"), &u.token).await;
    assert_eq!(a.body["title"], "页岩油水平井体积压裂液体系");
    assert_eq!(a.body["keywords"], json!(["压裂液", "页岩油"]));
    assert_eq!(a.body["field"], "oil_gas", "a Chinese label becomes its code");
    assert_eq!(a.body["achievement_type"], "patent");
    assert_eq!(a.body["asking_price"], 120.5);
    assert_eq!(a.body["contact"]["name"], "王教授");
    assert_eq!(count(&app, &u.token, "achievements").await, 3);

    // The same file again: nothing new, the rows are recognised by their 外部编号.
    let r = upload(&app, &u.token, "library=achievements&on_error=skip", "text/csv", achievements_csv()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.body["created"].as_i64(), r.body["existing"].as_i64()), (Some(0), Some(2)));
    assert_eq!(r.body["renewed"], 2, "naming them again renews them");
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    assert_eq!(count(&app, &u.token, "achievements").await, 3);

    // The imported records are indexed and searchable like any other.
    app.search.catch_up().await.unwrap();
    let hits = app.search_until(&u.token, &[("q", "耐盐水稻")], |b| !b["items"].as_array().unwrap().is_empty()).await;
    assert_eq!(hits["items"][0]["title"], "盐碱地耐盐水稻新品种");
}

/// An XLSX of needs as a manager fills it after survey visits, made with a spreadsheet library.
fn needs_xlsx(org: &str) -> Vec<u8> {
    let text = |s: &str| Cell::Text(s.to_string());
    let sheet = Sheet {
        name: "企业需求".into(),
        header: [
            "*需求名称",
            "*需求描述",
            "*技术领域",
            "*需求类型",
            "*地区代码",
            "单位",
            "预算上限（万元）",
            "合作方式",
            "有效期",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: vec![
            vec![
                text("稠油降黏剂复配工艺"),
                text("孤岛油田稠油黏度高，需要低成本降黏剂复配方案。"),
                text("油气勘探开发"),
                text("技术攻关"),
                Cell::Int(370502),
                text(org),
                Cell::Int(300),
                text("合作开发，委托开发"),
                text("2030-06-30"),
            ],
            vec![
                text("橡胶轮胎胎面胶耐磨改性"),
                text("提升子午线轮胎胎面胶耐磨性能。"),
                text("新材料"),
                text("tech_breakthrough"),
                Cell::Int(370523),
                text(org),
                Cell::Decimal("80.5".into()),
                text(""),
                text(""),
            ],
        ],
    };
    techmarket::tabular::xlsx(&[sheet]).unwrap()
}

#[tokio::test]
async fn a_manager_imports_needs_from_xlsx_for_the_enterprise_named_in_each_row() {
    let app = spawn_app().await;
    let e = app.enterprise("东营胜利油田技术公司").await;
    let m = app.manager().await;
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let r = upload(&app, &m.token, "library=needs", XLSX, needs_xlsx("东营胜利油田技术公司")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["format"], "xlsx");
    assert_eq!(r.body["created"], 2);
    let id = r.body["items"][0]["id"].as_str().unwrap();
    let need = app.get(&format!("/api/v1/needs/{id}"), &e.token).await;
    assert_eq!(need.status, StatusCode::OK, "the enterprise owns it: {}", need.text);
    assert_eq!(need.body["owner"]["id"], e.org_id.as_str());
    assert_eq!(need.body["need_type"], "tech_breakthrough");
    assert_eq!(need.body["cooperation_modes"], json!(["joint_development", "commissioned_development"]));
    assert_eq!(need.body["budget_max"], 300.0);

    // An unknown organisation is a row error; the enterprise cannot import achievements or for others.
    let r = upload(&app, &m.token, "library=needs&dry_run=true", XLSX, needs_xlsx("不存在的公司")).await;
    assert_eq!(r.body["errors"][0]["column"], "单位");
    assert_eq!(r.body["errors"][0]["code"], "unknown_organisation");
    upload(&app, &e.token, "library=achievements", "text/csv", achievements_csv())
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = upload(&app, &e.token, "library=needs&dry_run=true", XLSX, needs_xlsx("另一家公司")).await;
    assert_eq!(r.body["errors"][0]["code"], "field_not_allowed");
    // Files that cannot be read, or miss a required column, say so.
    upload(&app, &m.token, "library=needs", "text/csv", Vec::new())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file");
    let r = upload(&app, &m.token, "library=needs", "text/csv", "需求名称\r\n稠油降黏\r\n".into()).await;
    assert!(r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "missing_column").contains("需求描述"));
    upload(&app, &m.token, "library=people", "text/csv", Vec::new())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
}

/// JSON Lines of `n` valid needs of the enterprise; line `bad` (1-based), if any, has no title.
fn needs_jsonl(n: usize, bad: Option<usize>) -> Vec<u8> {
    let mut out = String::new();
    for i in 1..=n {
        let title = if Some(i) == bad { String::new() } else { format!("第{i}号油田化学品技术需求") };
        let line = json!({
            "external_id": format!("SURVEY-{i:05}"), "title": title, "description": "现场调研收集的技术需求。",
            "field": "petrochemical", "need_type": "tech_breakthrough", "region": "370502", "keywords": ["油田化学品"],
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out.into_bytes()
}

#[tokio::test]
async fn a_failure_at_row_15000_leaves_nothing_behind() {
    let app = spawn_app().await;
    let e = app.enterprise("东营石化集团").await;
    let r = upload(&app, &e.token, "library=needs", "application/x-ndjson", needs_jsonl(15_000, Some(15_000))).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "import_invalid");
    assert_eq!(r.body["error"]["details"]["errors"][0]["row"], 15_000);
    assert_eq!(r.body["error"]["details"]["errors"][0]["column"], "title", "the column as the file names it");
    assert_eq!(count(&app, &e.token, "needs").await, 0, "nothing of the first 14,999 rows was written");

    let r = upload(&app, &e.token, "library=needs", "application/x-ndjson", needs_jsonl(15_000, None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!(r.body["created"], 15_000);
    let page = app
        .store
        .list_needs(&techmarket::storage::ListQuery { viewer_is_staff: true, limit: 100, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert!(page.next_cursor.is_some());
    let r = upload(&app, &e.token, "library=needs", "application/x-ndjson", needs_jsonl(3, None)).await;
    assert_eq!((r.body["created"].as_i64(), r.body["existing"].as_i64()), (Some(0), Some(3)));
}

/// External ids are looked up a few thousand rows at a time: a file of 5,000 rows whose first
/// 3,000 were imported before, one later row repeating a new id of another chunk (an error of
/// that row) and one naming an old id again (existing, as its first row is). The service keeps
/// the records of 200 KB of cells between check and write: the rows after are read and built
/// again from the file as they are written.
#[tokio::test]
async fn external_ids_are_recognised_across_the_files_chunks() {
    let app = crate::hostile::spawn_limited(|l| l.import_keep_bytes = 200_000).await;
    let e = app.enterprise("东营石化集团").await;
    let r = upload(&app, &e.token, "library=needs", "application/x-ndjson", needs_jsonl(3_000, None)).await;
    assert_eq!(r.body["created"], 3_000, "{}", &r.text[..r.text.len().min(500)]);
    let file = String::from_utf8(needs_jsonl(5_000, None)).unwrap();
    let lines: Vec<String> = file
        .lines()
        .enumerate()
        .map(|(i, line)| match i + 1 {
            4_600 => line.replace("SURVEY-04600", "SURVEY-03100"),
            4_700 => line.replace("SURVEY-04700", "SURVEY-00100"),
            _ => line.to_string(),
        })
        .collect();
    let file = (lines.join("\n") + "\n").into_bytes();
    assert!(file.len() > 1024 * 1024, "past the mebibyte an upload may keep in memory: received to disk");
    let r = upload(&app, &e.token, "library=needs&on_error=skip", "application/x-ndjson", file).await;
    assert_eq!(r.status, StatusCode::OK, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!((r.body["created"].as_i64(), r.body["existing"].as_i64()), (Some(1_998), Some(3_001)));
    assert_eq!(r.body["invalid"], 1);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0]["row"].as_i64(), errors[0]["code"].as_str()), (Some(4_600), Some("repeated_external_id")));
    assert!(errors[0]["message"].as_str().unwrap().contains("SURVEY-03100"));
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items[4_699]["action"], "existing");
    assert_eq!(items[4_699]["id"], items[99]["id"], "the row names the record imported as SURVEY-00100");
    assert_eq!(items[2_999]["action"], "existing");
    assert_eq!(items[3_000]["action"], "create");
    // The records are built again from the file when they are written: each under the id the
    // report gives it, with its row's content, the skipped row's id given to nobody.
    for i in [3_000, 4_600, 4_999] {
        let read = app.get(&format!("/api/v1/needs/{}", items[i]["id"].as_str().unwrap()), &e.token).await;
        assert_eq!(read.status, StatusCode::OK, "row {}", i + 1);
        assert_eq!(read.body["title"], items[i]["title"]);
        assert_eq!(read.body["id"], items[i]["id"]);
    }
    assert_eq!(items[4_599]["action"], "invalid");
    assert!(items[4_599]["id"].is_null());

    // Every record once in the index, the renewed ones (a second change each) included.
    app.search.catch_up().await.unwrap();
    let hits = app.search(&e.token, &[("q", "油田化学品"), ("library", "needs")]).await;
    assert_eq!(hits.body["total"], 4_998, "{}", hits.text);
}

/// A GBK CSV of more than a mebibyte, as Excel saves it, is received to disk, decoded as it is read
/// (twice: checked, then written) and imported whole, every Chinese text intact.
#[tokio::test]
async fn a_large_gbk_csv_is_received_to_disk_and_read_where_it_lies() {
    let app = crate::hostile::spawn_limited(|l| l.import_keep_bytes = 100_000).await;
    let u = app.university("中国石油大学(华东)").await;
    let mut text = String::from("外部编号,成果名称,成果简介,关键词,技术领域,成果类型,技术成熟度\r\n");
    for i in 1..=10_000 {
        text.push_str(&format!(
            "UPC-{i:05},第{i}号稠油降黏剂,\"针对胜利油田稠油，降黏率达到百分之九十以上，第{i}批现场试验。\",\"稠油、降黏\",油气勘探开发,专利,6\r\n"
        ));
    }
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable && gbk.len() > 1024 * 1024, "{}", gbk.len());
    let r = upload(&app, &u.token, "library=achievements", "text/csv", gbk.into_owned()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text.chars().take(300).collect::<String>());
    assert_eq!((r.body["encoding"].as_str(), r.body["created"].as_i64()), (Some("gbk"), Some(10_000)));
    let items = r.body["items"].as_array().unwrap();
    for i in [0, 4_999, 9_999] {
        let read = app.get(&format!("/api/v1/achievements/{}", items[i]["id"].as_str().unwrap()), &u.token).await;
        assert_eq!(read.body["title"], format!("第{}号稠油降黏剂", i + 1));
        assert_eq!(
            read.body["abstract"],
            format!("针对胜利油田稠油，降黏率达到百分之九十以上，第{}批现场试验。", i + 1)
        );
        assert_eq!(read.body["keywords"], json!(["稠油", "降黏"]));
    }
    app.search.catch_up().await.unwrap();
    let hits = app.search(&u.token, &[("q", "稠油降黏剂"), ("library", "achievements")]).await;
    assert_eq!(hits.body["total"], 10_000, "{}", hits.text.chars().take(300).collect::<String>());
}

/// A broken line after thousands of good rows refuses the whole file: nothing of the rows before
/// it is written.
#[tokio::test]
async fn a_file_broken_after_thousands_of_good_rows_writes_nothing() {
    let app = spawn_app().await;
    let e = app.enterprise("东营石化集团").await;
    let mut file = needs_jsonl(3_000, None);
    file.extend_from_slice("{\"title\": \"未写完的一行\"\n".as_bytes());
    let r = upload(&app, &e.token, "library=needs&on_error=skip", "application/x-ndjson", file).await;
    let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file");
    assert!(message.contains("3001"), "{message}");
    assert_eq!(count(&app, &e.token, "needs").await, 0);
}

fn sheets(bytes: Vec<u8>) -> Vec<(String, Vec<Vec<String>>)> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    workbook
        .worksheets()
        .into_iter()
        .map(|(name, range)| (name, range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()))
        .collect()
}

async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
    let r = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let media = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, media, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn templates_list_the_columns_and_the_allowed_values_in_chinese() {
    let app = spawn_app().await;
    let u = app.university("中国科学院青岛能源所").await;
    let (status, media, bytes) = download(&app, &u.token, "/api/v1/imports/templates/needs.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(media.contains("spreadsheetml"));
    let book = sheets(bytes);
    assert_eq!(book[0].0, "企业需求");
    assert!(book[0].1[0].contains(&"*需求名称".to_string()));
    assert_eq!(book[1].0, "填写说明");
    let field_row = book[1].1.iter().find(|r| r[1] == "field").unwrap();
    assert!(field_row[4].contains("油气勘探开发 (oil_gas)"), "{field_row:?}");
    let (_, _, bytes) = download(&app, &u.token, "/api/v1/imports/templates/achievements.xlsx").await;
    assert!(sheets(bytes)[0].1[0].contains(&"*成果名称".to_string()));
    let r = app.get("/api/v1/imports/templates/people.xlsx", &u.token).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn exports_honour_visibility_and_import_again() {
    let app = spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let other = app.enterprise("垦利石化装备有限公司").await;
    let m = app.manager().await;
    app.create_need(&e, json!({"title": "公开的电解液提纯需求", "contact": {"name": "李工", "phone": "13900000000"}}))
        .await;
    app.create_need(&e, json!({"title": "仅经理人可见的配方需求", "visibility": "managers"})).await;
    app.create_need(&e, json!({"title": "内部保密需求", "visibility": "private"})).await;

    let (status, media, bytes) = download(&app, &other.token, "/api/v1/exports/needs?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(media.starts_with("text/csv"));
    let csv = String::from_utf8(bytes).unwrap();
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("公开的电解液提纯需求") && csv.contains("新能源与节能"), "{csv}");
    assert!(!csv.contains("仅经理人可见") && !csv.contains("内部保密"), "{csv}");
    assert!(!csv.contains("13900000000"), "contacts only for those entitled: {csv}");

    let (_, _, bytes) = download(&app, &m.token, "/api/v1/exports/needs?format=xlsx&field=new_energy").await;
    let rows = &sheets(bytes)[0].1;
    assert_eq!(rows.len(), 3, "header and the two needs a manager sees: {rows:?}");
    assert!(rows.iter().any(|r| r.contains(&"13900000000".to_string())));
    let (_, media, bytes) = download(&app, &e.token, "/api/v1/exports/needs?format=jsonl").await;
    assert!(media.starts_with("application/x-ndjson"));
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 3, "the owner sees its private need too");
    download(&app, &other.token, "/api/v1/exports/needs?format=pdf").await;
    app.get("/api/v1/exports/needs?colour=red", &other.token)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_query");

    // The owner's export is a valid import file: a dry run recognises every row as a duplicate.
    let (_, _, bytes) = download(&app, &e.token, "/api/v1/exports/needs?format=csv").await;
    let r = upload(&app, &e.token, "library=needs&dry_run=true", "text/csv", bytes).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["invalid"], 0, "{}", r.body["errors"]);
    assert_eq!(r.body["duplicates"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["ignored_columns"], json!(["ID", "状态"]));

    // Transfers are a manager's export.
    app.get("/api/v1/exports/transfers", &e.token).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let (status, _, bytes) = download(&app, &m.token, "/api/v1/exports/transfers?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(bytes).unwrap().contains("合同金额(万元)"));
}

/// `techmarket gen`'s files are what the import takes: every generated row of both libraries is
/// valid, owned by the organisation it names, and found by a search for its own title.
#[tokio::test]
async fn generated_records_import_cleanly_and_are_searchable() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let sources = techmarket::generate::Sources::load(None).unwrap();
    techmarket::generate::generate(dir.path(), 40, 200, 3, &sources).unwrap();
    let orgs = std::fs::read_to_string(dir.path().join("organisations.jsonl")).unwrap();
    for line in orgs.lines() {
        let o: serde_json::Value = serde_json::from_str(line).unwrap();
        let r = app.post("/api/v1/organisations", &app.admin, o.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let manager = app.manager().await;
    for (file, library, rows) in [("achievements.jsonl", "achievements", 200), ("needs.jsonl", "needs", 40)] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let r = upload(&app, &manager.token, &format!("library={library}"), "application/x-ndjson", bytes).await;
        assert_eq!(r.status, StatusCode::OK, "{}", &r.text[..r.text.len().min(800)]);
        assert_eq!(r.body["created"], rows, "{}", &r.text[..r.text.len().min(800)]);
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(0));
    }
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("achievements.jsonl")).unwrap().lines().next().unwrap(),
    )
    .unwrap();
    let title = first["title"].as_str().unwrap().to_string();
    let body = app
        .search_until(&manager.token, &[("q", title.as_str()), ("library", "achievements")], |b| {
            b["items"].as_array().is_some_and(|items| items.iter().any(|i| i["title"] == title.as_str()))
        })
        .await;
    assert!(body["total"].as_u64().unwrap() >= 1);
}
