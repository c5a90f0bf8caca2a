//! The migrations: a landed one is never edited (each file's digest is pinned in
//! `migrations/landed.sha256`; a new migration is added there when it lands), and applying every
//! migration to an empty database of each backend gives the schema the code reads and writes.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};

use crate::helpers::{fresh_database_url, test_config};

/// Every table the store uses, with its columns (`?`: nullable), as the code expects them.
const EXPECTED: [(&str, &str); 24] = [
    (
        "achievements",
        "id org_id title summary keywords field achievement_type trl? stage? ip_form patent_numbers cooperation_modes asking_price? team_lead region contact_name contact_phone contact_email visibility status created_by created_at updated_at version confirmed_at? reminded_at?",
    ),
    ("api_tokens", "id user_id name token_hash prefix created_at expires_at? revoked_at? last_used_at?"),
    ("audit_log", "seq at actor actor_org credential operation records outcome detail client request_id"),
    ("changes", "seq kind record_id changed_at"),
    ("checkpoints", "name seq"),
    ("database_identity", "id created_at"),
    (
        "deliveries",
        "id subscription_id event_seq status attempts next_at lease_until? last_code? last_error last_latency_ms? created_at delivered_at?",
    ),
    ("delivery_attempts", "delivery_id attempt at code? latency_ms error"),
    ("dictionary_terms", "id word freq? created_by created_at"),
    ("docking_events", "seq docking_id at actor_id? actor_role kind from_state? to_state? reason? note"),
    (
        "dockings",
        "id need_id achievement_id need_org_id achievement_org_id state reason? source score? explanation matcher_version? dictionary_version? need_fingerprint achievement_fingerprint manager_id? field region was_introduced need_interest achievement_interest created_by? created_at updated_at version",
    ),
    ("event_audience", "event_seq audience"),
    ("events", "seq id at kind subject data"),
    ("import_keys", "library org_id external_id record_id created_at"),
    (
        "needs",
        "id org_id title description targets tried keywords field need_type cooperation_modes budget_min? budget_max? deadline? region contact_name contact_phone contact_email visibility status created_by created_at updated_at version confirmed_at? reminded_at?",
    ),
    ("notification_reads", "user_id event_seq at"),
    ("inbox_marks", "user_id read_upto"),
    ("organisations", "id name kind region created_at credit_code? status review_reason reviewed_by? reviewed_at?"),
    ("sessions", "id user_id token_hash csrf_hash prefix created_at last_seen_at expires_at ended_at? client"),
    ("sign_in_failures", "key at"),
    ("subscriptions", "id audience org_id created_by name url format kinds secret created_at ended_at?"),
    ("synonym_groups", "id members created_by created_at"),
    (
        "transfers",
        "id docking_id need_id achievement_id need_org_id achievement_org_id manager_id? field contract_type amount signed_on registration_number? landing_enterprise landing_region milestones outcomes landed_on? created_by? created_at updated_at version",
    ),
    ("users", "id org_id name role email phone created_at login? password_hash? must_change_password"),
];

fn migrations_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

#[test]
fn no_landed_migration_has_been_edited_and_each_is_pinned() {
    let dir = migrations_dir();
    let pinned: BTreeMap<String, String> = std::fs::read_to_string(dir.join("landed.sha256"))
        .expect("migrations/landed.sha256")
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(digest, file)| (file.to_string(), digest.to_string()))
        .collect();
    let mut on_disk = Vec::new();
    for backend in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(dir.join(backend)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{backend}/{}", path.file_name().unwrap().to_string_lossy());
            let digest: String =
                Sha256::digest(std::fs::read(&path).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
            match pinned.get(&name) {
                Some(expected) => assert_eq!(
                    &digest, expected,
                    "{name} was edited after it landed: add a new migration instead, and restore this one"
                ),
                None => {
                    panic!("{name} is not pinned: add `sha256sum {name}` to migrations/landed.sha256 when it lands")
                }
            }
            on_disk.push(name);
        }
    }
    for name in pinned.keys() {
        assert!(on_disk.contains(name), "{name} is pinned but missing: a landed migration is never removed");
    }
    // The two backends have the same migrations, by version.
    let versions = |backend: &str| -> Vec<String> {
        let mut v: Vec<String> = on_disk
            .iter()
            .filter_map(|n| n.strip_prefix(&format!("{backend}/")))
            .map(|n| n.split('_').next().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(versions("sqlite"), versions("postgres"));
}

#[tokio::test]
async fn every_migration_applied_to_an_empty_database_gives_the_schema_the_code_expects() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(&dir).await;
    let store = techmarket::storage::connect(&test_config(&dir, &url).database_options()).await.expect("migrate");
    store.close().await;
    let (columns, applied): (Vec<(String, String, bool)>, Vec<(i64, bool)>) = if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let mut columns = Vec::new();
        for t in tables {
            let rows =
                sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({t})"))).fetch_all(&mut c).await.unwrap();
            for r in rows {
                let (name, notnull, pk): (String, i64, i64) = (r.get("name"), r.get("notnull"), r.get("pk"));
                columns.push((t.clone(), name, notnull == 0 && pk == 0));
            }
        }
        let applied = sqlx::query("SELECT version, success FROM _sqlx_migrations").fetch_all(&mut c).await.unwrap();
        (columns, applied.iter().map(|r| (r.get("version"), r.get("success"))).collect())
    } else {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let rows = sqlx::query(
            "SELECT table_name::text AS t, column_name::text AS c, is_nullable = 'YES' AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' \
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let columns = rows.iter().map(|r| (r.get("t"), r.get("c"), r.get("nullable"))).collect();
        let applied = sqlx::query("SELECT version, success FROM _sqlx_migrations").fetch_all(&mut c).await.unwrap();
        (columns, applied.iter().map(|r| (r.get("version"), r.get("success"))).collect())
    };
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column, nullable) in columns {
        found.entry(table).or_default().push(format!("{column}{}", if nullable { "?" } else { "" }));
    }
    let expected: BTreeMap<String, Vec<String>> =
        EXPECTED.iter().map(|(t, cols)| (t.to_string(), cols.split(' ').map(str::to_string).collect())).collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the tables");
    for (table, columns) in &expected {
        assert_eq!(&found[table], columns, "the columns of {table}, in order (`?`: nullable)");
    }
    let files = std::fs::read_dir(migrations_dir().join("sqlite")).unwrap().count();
    assert_eq!(applied.len(), files, "every migration is applied");
    assert!(applied.iter().all(|(_, ok)| *ok), "{applied:?}");
}
