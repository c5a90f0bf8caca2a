//! The arrows ARCHITECTURE.md says must never exist, checked on the source: a change that adds one
//! fails here, with the file and line to move.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of the Rust files under `src/<part>` (outside comments) that contain any of `needles`.
fn offending(part: &str, needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(part);
    let mut found = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|n| code.contains(n)) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn http_calls_the_application_layer_never_the_store_and_starts_no_tasks() {
    let found = offending("http", &["Store", "store.", "crate::storage::Store", "tokio::spawn"]);
    assert!(found.is_empty(), "move these into src/app (or a follower):\n{}", found.join("\n"));
}

#[test]
fn search_and_matching_never_read_the_database() {
    for part in ["search", "matching"] {
        let found = offending(part, &["crate::storage", "storage::"]);
        assert!(
            found.is_empty(),
            "src/{part} is given what the database holds; load it in src/app:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_store_is_plain_code() {
    let found = offending("storage", &["macro_rules!"]);
    assert!(found.is_empty(), "write the store in plain code over the Dialect trait:\n{}", found.join("\n"));
}

#[test]
fn only_the_application_layer_and_the_store_write() {
    let writes = [
        ".insert_organisation(",
        ".insert_user(",
        ".insert_token(",
        ".revoke_token(",
        ".touch_token(",
        ".insert_need(",
        ".update_need(",
        ".insert_achievement(",
        ".update_achievement(",
        ".import_records(",
        ".insert_dictionary_term(",
        ".insert_synonym_group(",
        ".create_docking(",
        ".update_docking(",
        ".sign_docking(",
        ".update_transfer(",
        ".set_matcher_checkpoint(",
    ];
    for part in ["http", "followers", "search", "matching", "domain", "demo"] {
        let found = offending(part, &writes);
        assert!(found.is_empty(), "writes go through src/app:\n{}", found.join("\n"));
    }
}
