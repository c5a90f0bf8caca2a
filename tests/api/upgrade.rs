//! Upgrades: a database made by an earlier landed schema, with data in every table, takes the
//! current migrations and keeps every row readable, on both backends; the service then starts
//! on it. The data (`upgrade/from_20261206.sql`) was written by the service itself (the ignored
//! test `write_the_upgrade_fixture` below, run when sign-in was added, whose writes of these
//! tables are those of the 20261206 schema), dumped as that schema's columns, and is kept as it
//! was: a later schema gets a fixture of its own.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Row};

use crate::helpers::{fresh_database_url, spawn_app, start, test_config};

/// The schema the fixture belongs to: every migration up to this version.
const FROM_VERSION: i64 = 20261206000001;
const FIXTURE: &str = include_str!("upgrade/from_20261206.sql");
/// The tables of that schema, parents first.
const TABLES: [&str; 14] = [
    "database_identity",
    "organisations",
    "users",
    "api_tokens",
    "needs",
    "achievements",
    "dictionary_terms",
    "synonym_groups",
    "import_keys",
    "dockings",
    "docking_events",
    "transfers",
    "changes",
    "checkpoints",
];
/// Columns the database numbers itself (left out of the fixture, so that PostgreSQL's sequences
/// go on from the rows).
const NUMBERED: [&str; 2] = ["changes.seq", "docking_events.seq"];
/// Columns later migrations added (not in the fixture's schema).
const LATER: [&str; 12] = [
    "needs.confirmed_at",
    "needs.reminded_at",
    "achievements.confirmed_at",
    "achievements.reminded_at",
    "users.login",
    "users.password_hash",
    "users.must_change_password",
    "organisations.credit_code",
    "organisations.status",
    "organisations.review_reason",
    "organisations.reviewed_by",
    "organisations.reviewed_at",
];
const BOOLEANS: [&str; 3] = ["was_introduced", "need_interest", "achievement_interest"];

fn migrations_dir(backend: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend)
}

/// Applies the migrations up to `FROM_VERSION` only.
async fn migrate_to_old_schema(url: &str) {
    let backend = if url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    let mut migrator = sqlx::migrate::Migrator::new(migrations_dir(backend)).await.unwrap();
    migrator.migrations =
        migrator.migrations.iter().filter(|m| m.version <= FROM_VERSION).cloned().collect::<Vec<_>>().into();
    if backend == "sqlite" {
        let options: sqlx::sqlite::SqliteConnectOptions =
            url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().create_if_missing(true);
        let mut c = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        migrator.run(&mut c).await.unwrap();
        for statement in FIXTURE.split(";\n").filter(|s| !s.trim().is_empty()) {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut c).await.unwrap();
        }
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        migrator.run(&mut c).await.unwrap();
        for statement in FIXTURE.split(";\n").filter(|s| !s.trim().is_empty()) {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut c).await.unwrap();
        }
    }
}

/// Rows per table in the fixture.
fn fixture_counts() -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in FIXTURE.lines().filter(|l| l.starts_with("INSERT INTO ")) {
        let table = line["INSERT INTO ".len()..].split(' ').next().unwrap().to_string();
        *counts.entry(table).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn a_database_of_the_previous_schema_with_data_in_every_table_upgrades_intact() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    migrate_to_old_schema(&url).await;
    let counts = fixture_counts();
    assert_eq!(
        counts.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(),
        TABLES.into_iter().collect(),
        "data in every table"
    );

    // The current migrations, as the service applies them when it opens the store.
    let store = techmarket::storage::connect(&test_config(&dir, &url).database_options()).await.expect("upgrade");
    let database_id = FIXTURE
        .lines()
        .find(|l| l.starts_with("INSERT INTO database_identity"))
        .unwrap()
        .split('\'')
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(store.database_id().await.unwrap(), database_id);
    let orgs = store.list_organisations().await.unwrap();
    assert_eq!(orgs.len(), counts["organisations"]);
    let users = store.list_users(None).await.unwrap();
    assert_eq!(users.len(), counts["users"]);
    let mut tokens = 0;
    for u in &users {
        tokens += store.list_tokens(&u.id).await.unwrap().len();
        let credentials = store.get_credentials(&u.id).await.unwrap().unwrap();
        assert_eq!(
            (credentials.login, credentials.password_hash, credentials.must_change_password),
            (None, None, false)
        );
    }
    assert_eq!(tokens, counts["api_tokens"]);
    assert_eq!(store.scan_needs("", 1000).await.unwrap().len(), counts["needs"]);
    assert_eq!(store.scan_achievements("", 1000).await.unwrap().len(), counts["achievements"]);
    assert_eq!(store.list_dictionary_terms().await.unwrap().len(), counts["dictionary_terms"]);
    assert_eq!(store.list_synonym_groups().await.unwrap().len(), counts["synonym_groups"]);
    let dockings =
        store.list_dockings(&techmarket::storage::DockingQuery { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(dockings.items.len(), counts["dockings"]);
    let mut events = 0;
    for d in &dockings.items {
        events += store.docking_events(&d.id).await.unwrap().len();
    }
    assert_eq!(events, counts["docking_events"]);
    let transfers =
        store.list_transfers(&techmarket::storage::TransferQuery { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(transfers.items.len(), counts["transfers"]);
    assert_eq!(store.changes_after(0, 100_000).await.unwrap().len(), counts["changes"]);
    let checkpoint = FIXTURE.lines().find(|l| l.starts_with("INSERT INTO checkpoints")).unwrap();
    let seq: i64 = checkpoint.rsplit(", ").next().unwrap().trim_end_matches(");").parse().unwrap();
    assert!(seq > 0, "{checkpoint}");
    assert_eq!(store.checkpoint("suggest").await.unwrap(), seq);
    let imported: usize = {
        let mut n = 0;
        for org in &orgs {
            for library in
                [techmarket::domain::record::Library::Needs, techmarket::domain::record::Library::Achievements]
            {
                n += store.imported_ids(library, &org.id).await.unwrap().len();
            }
        }
        n
    };
    assert_eq!(imported, counts["import_keys"]);
    store.close().await;

    // The service starts on the upgraded database: its records are served and found.
    let app = start(test_config(&dir, &url), std::sync::Arc::new(dir), None).await;
    let needs = app.get("/api/v1/needs?limit=100", &app.admin).await;
    assert_eq!(needs.status, StatusCode::OK, "{}", needs.text);
    assert!(!needs.body["items"].as_array().unwrap().is_empty());
    let report = app.get("/api/v1/admin/index", &app.admin).await;
    assert_eq!(report.body["consistent"], true, "{}", report.body);
    // And writes with the new schema: an audited write, a sign-in.
    let e = app.enterprise("升级后新加入的东营企业").await;
    crate::sessions::with_password(&app, &e, "13905469999", "升级以后重新设置的密码").await;
    let r = app.get(&format!("/api/v1/audit?actor={}", e.user_id), &app.admin).await;
    assert!(!r.body["items"].as_array().unwrap().is_empty(), "{}", r.text);
}

/// Writes `upgrade/from_<schema>.sql`: a world with data in every table, made by the service,
/// dumped as INSERT statements for the tables of `FROM_VERSION`'s schema. Run by hand, on
/// SQLite, at the commit whose schema it belongs to:
/// `cargo test --test api upgrade::write_the_upgrade_fixture -- --ignored`.
#[tokio::test]
#[ignore]
async fn write_the_upgrade_fixture() {
    let app = spawn_app().await;
    let w = crate::matrix::world(&app).await;
    let r = app.post("/api/v1/dictionary/terms", &app.admin, json!({"word": "页岩油压裂", "freq": 5000})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/api/v1/dictionary/synonyms", &app.admin, json!({"members": ["压裂液", "压裂流体"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let csv = "外部编号,成果名称,成果简介,技术领域,成果类型,技术成熟度\r\nUPC-2026-101,稠油热采井筒降黏技术,井筒降黏率80%，已在孤东油田试用。,油气勘探开发,patent,6\r\n";
    let r = app
        .client
        .post(app.url("/api/v1/imports?library=achievements"))
        .bearer_auth(&w.u_a.token)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    app.matcher.match_all().await.unwrap();
    app.search.catch_up().await.unwrap();
    app.matcher.run_pending().await.unwrap();
    let url = app.config.database_url();
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut out = String::from(
        "-- Data in every table of the schema at migration 20261206000001, written by the service\n-- (tests/api/upgrade.rs, write_the_upgrade_fixture). Kept as it was: never regenerate it for a later schema.\n",
    );
    for table in TABLES {
        let order = if table == "changes" || table == "docking_events" { "seq" } else { "1" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY {order}")))
            .fetch_all(&mut c)
            .await
            .unwrap();
        for row in rows {
            let mut names = Vec::new();
            let mut values = Vec::new();
            for column in row.columns() {
                use sqlx::{Column, TypeInfo, ValueRef};
                let name = column.name();
                let qualified = format!("{table}.{name}");
                if NUMBERED.contains(&qualified.as_str()) || LATER.contains(&qualified.as_str()) {
                    continue;
                }
                let raw = row.try_get_raw(column.ordinal()).unwrap();
                let value = if raw.is_null() {
                    "NULL".to_string()
                } else {
                    match raw.type_info().name() {
                        "INTEGER" if BOOLEANS.contains(&name) => {
                            if row.get::<i64, _>(column.ordinal()) != 0 {
                                "TRUE".into()
                            } else {
                                "FALSE".into()
                            }
                        }
                        "INTEGER" => row.get::<i64, _>(column.ordinal()).to_string(),
                        "REAL" => format!("{:?}", row.get::<f64, _>(column.ordinal())),
                        _ => format!("'{}'", row.get::<String, _>(column.ordinal()).replace('\'', "''")),
                    }
                };
                names.push(name.to_string());
                values.push(value);
            }
            out.push_str(&format!("INSERT INTO {table} ({}) VALUES ({});\n", names.join(", "), values.join(", ")));
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/upgrade/from_20261206.sql");
    std::fs::write(&path, out).unwrap();
}
