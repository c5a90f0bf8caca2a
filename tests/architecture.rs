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

/// The store's write methods, read from the write traits of `src/storage/mod.rs` (the parts of
/// `StoreTx`): every `async fn` between `pub trait …Writes` and its closing brace.
fn write_methods() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage/mod.rs")).unwrap();
    let mut methods = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        let name = line.strip_prefix("pub trait ").map(|rest| rest.split([':', ' ', '{']).next().unwrap_or_default());
        if name.is_some_and(|n| n.ends_with("Writes")) {
            inside = true;
        } else if inside && line == "}" {
            inside = false;
        } else if inside && let Some(rest) = line.strip_prefix("async fn ") {
            methods.push(rest.split(['(', '<']).next().unwrap().to_string());
        }
    }
    methods
}

/// Lines of one file of `src/` (outside comments) that contain any of `needles`.
fn offending_file(file: &str, needles: &[String]) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, line)| needles.iter().any(|n| line.split("//").next().unwrap_or_default().contains(n.as_str())))
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn the_write_methods_are_read_from_the_code() {
    let methods = write_methods();
    for expected in ["insert_need", "update_docking", "insert_transfer", "set_checkpoint", "revoke_token"] {
        assert!(methods.iter().any(|m| m == expected), "{expected} not found among {methods:?}");
    }
    assert!(methods.len() >= 15, "{methods:?}");
}

#[test]
fn only_a_unit_of_work_of_the_application_layer_writes() {
    let mut needles: Vec<String> = write_methods().iter().map(|m| format!(".{m}(")).collect();
    needles.extend(["StoreTx".to_string(), "store.begin(".to_string(), "store().begin(".to_string()]);
    let borrowed: Vec<&str> = needles.iter().map(String::as_str).collect();
    for part in ["http", "followers", "search", "matching", "domain", "demo"] {
        let found = offending(part, &borrowed);
        assert!(found.is_empty(), "writes go through a unit of work in src/app:\n{}", found.join("\n"));
    }
    for file in ["main.rs", "startup.rs", "judged.rs", "generate.rs", "eval.rs", "lib.rs"] {
        let found = offending_file(file, &needles);
        assert!(found.is_empty(), "writes go through a unit of work in src/app:\n{}", found.join("\n"));
    }
    // Inside the application layer, only the unit of work begins a transaction.
    let begun: Vec<String> = offending("app", &["store.begin(", "StoreTx>"])
        .into_iter()
        .filter(|line| !line.contains("app/unit.rs"))
        .collect();
    assert!(begun.is_empty(), "open a unit of work (`cx.begin(actor)`) instead:\n{}", begun.join("\n"));
}

#[test]
fn every_now_comes_from_the_context_clock() {
    let needles = ["Utc::now", "Local::now", "SystemTime::now", "domain::now"];
    let found: Vec<String> = ["app", "domain", "http", "followers", "search", "matching", "storage", "demo"]
        .into_iter()
        .flat_map(|part| offending(part, &needles))
        .filter(|line| !line.contains("app/mod.rs"))
        .collect();
    assert!(found.is_empty(), "read the time from the context's clock (`cx.clock.now()`):\n{}", found.join("\n"));
    let owned: Vec<String> = needles.iter().map(|n| n.to_string()).collect();
    for file in ["main.rs", "startup.rs", "judged.rs", "generate.rs", "eval.rs"] {
        let found = offending_file(file, &owned);
        assert!(found.is_empty(), "read the time from the context's clock:\n{}", found.join("\n"));
    }
}

#[test]
fn the_ways_in_import_nothing_from_the_store_or_the_index() {
    let found = offending("http", &["crate::storage", "crate::search"]);
    assert!(found.is_empty(), "a handler builds app's queries (app::queries) and calls app:\n{}", found.join("\n"));
    let needles: Vec<String> = ["techmarket::storage", "techmarket::search", "storage::connect", "indexing::open"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    let found = offending_file("main.rs", &needles);
    assert!(found.is_empty(), "a subcommand opens the context through startup and calls app:\n{}", found.join("\n"));
}

/// The modules of `src/<part>` each file names (`super::name`), mod.rs (the part's root) aside.
fn sibling_imports(part: &str) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(part);
    let modules: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok()?.path().file_stem().map(|s| s.to_string_lossy().to_string()))
        .filter(|m| m != "mod")
        .collect();
    let mut graph = std::collections::BTreeMap::new();
    for module in &modules {
        let Ok(text) = std::fs::read_to_string(root.join(format!("{module}.rs"))) else { continue };
        let code: String =
            text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let named = modules
            .iter()
            .filter(|other| *other != module && code.contains(&format!("super::{other}::")))
            .cloned()
            .collect();
        graph.insert(module.clone(), named);
    }
    graph
}

#[test]
fn no_circle_between_the_store_files() {
    let graph = sibling_imports("storage");
    // Depth-first search for a cycle, reporting its path.
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("src/storage files import each other in a circle: {}", cycle.join(" → "));
        }
    }
    assert!(graph.get("sql").is_some_and(|s| s.contains("rows")), "the graph is read: {graph:?}");
}

#[test]
fn every_store_method_has_a_conformance_test() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage/mod.rs")).unwrap();
    let methods: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("async fn").or_else(|| l.trim().strip_prefix("fn ")))
        .filter_map(|rest| rest.trim().split('(').next().map(str::to_string))
        .filter(|m| !m.is_empty() && !["from", "code", "parse", "library", "record"].contains(&m.as_str()))
        .collect();
    assert!(methods.len() > 40, "the store's methods are read: {methods:?}");
    let suite: String = rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/storage"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let untested: Vec<&String> = methods.iter().filter(|m| !suite.contains(&format!(".{m}("))).collect();
    assert!(untested.is_empty(), "store methods no conformance test calls (tests/api/storage): {untested:?}");
}

/// (lines, file, line, name) of every function in `src/`, by matching braces (outside comments).
fn function_lengths() -> Vec<(usize, String, usize, String)> {
    let mut out = Vec::new();
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default().trim_start();
            let signature = [
                "pub fn ",
                "fn ",
                "pub async fn ",
                "async fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "pub(crate) async fn ",
                "pub(super) async fn ",
            ]
            .iter()
            .find_map(|p| code.strip_prefix(p));
            let Some(name) = signature.and_then(|rest| rest.split(['(', '<']).next()) else { continue };
            let (mut depth, mut opened) = (0i32, false);
            for (offset, body) in lines[start..].iter().enumerate() {
                let body = body.split("//").next().unwrap_or_default();
                if !opened && body.trim_end().ends_with(';') {
                    break;
                }
                for c in body.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if opened && depth == 0 {
                    out.push((offset + 1, file.display().to_string(), start + 1, name.to_string()));
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn no_function_in_src_is_longer_than_about_a_hundred_lines() {
    let lengths = function_lengths();
    assert!(lengths.len() > 500, "the functions are read: {}", lengths.len());
    let long: Vec<String> = lengths
        .iter()
        .filter(|(n, ..)| *n > 110)
        .map(|(n, file, line, name)| format!("{file}:{line}: {name} has {n} lines"))
        .collect();
    assert!(long.is_empty(), "split these into named steps:\n{}", long.join("\n"));
}
