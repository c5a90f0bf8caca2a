//! Search quality, measured: the judged query set (`benches/search-judged.jsonl`) run over the
//! demo catalogue through the application layer, as a technology manager sees it (public and
//! managers-only records), with precision@5, recall@10, MRR@10 and the zero-result rate.
//! `techmarket search-eval` prints them; `--peer-dir` also writes the catalogue and the queries
//! as the analyzer's tokens for the peer harness (`benches/peers/search_judged.py`), so a BM25
//! engine is measured on the same tokens and the same filters.
//!
//! A line of the set: `{"q": "碳捕獲", "library": "achievements", "field": "ccus",
//! "region": "3705", "trl_min": 5, "trl_max": 9, "relevant": ["title", …], "note": "…"}`;
//! everything but `q` and `relevant` is optional. Relevant records are named by their titles
//! (the demo's ids are made when it loads); each title must be a demo record's.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::app::queries::SearchQuery;
use crate::app::{self, App};
use crate::domain::record::{Library, Principal};
use crate::domain::vocab::TechField;

/// The judged set shipped with the repository.
pub const SHIPPED: &str = include_str!("../benches/search-judged.jsonl");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgedQuery {
    pub q: String,
    #[serde(default)]
    pub library: Option<String>,
    #[serde(default)]
    pub field: Option<TechField>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub trl_min: Option<u8>,
    #[serde(default)]
    pub trl_max: Option<u8>,
    pub relevant: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// Parses the set: one JSON object a line; blank lines and lines starting with `#` are skipped.
pub fn parse(text: &str) -> Result<Vec<JudgedQuery>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

impl JudgedQuery {
    /// The search request of this query (scoped to the viewer by `app::search`).
    pub fn request(&self, limit: usize) -> Result<SearchQuery, String> {
        let library = match self.library.as_deref() {
            None => None,
            Some("needs") => Some(Library::Needs),
            Some("achievements") => Some(Library::Achievements),
            Some(other) => return Err(format!("`{}`: library `{other}` is not needs or achievements", self.q)),
        };
        Ok(SearchQuery {
            text: self.q.clone(),
            library,
            field: self.field,
            region_prefix: self.region.clone(),
            trl_min: self.trl_min,
            trl_max: self.trl_max,
            limit,
            ..SearchQuery::default()
        })
    }
}

/// One query's answer.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub q: String,
    /// Titles of the first ten hits, best first.
    pub top: Vec<String>,
    pub total: usize,
    pub matched: String,
    pub precision_at_5: f64,
    pub recall_at_10: f64,
    pub reciprocal_rank: f64,
    /// Relevant records the first ten hits lack.
    pub missed: Vec<String>,
}

/// The set's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub queries: usize,
    pub precision_at_5: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    /// Share of queries with no hit at all.
    pub zero_result_rate: f64,
    /// Share of queries answered with related results only (`matched: partial`).
    pub partial_rate: f64,
}

/// Scores a ranking (titles, best first) against the relevant titles.
pub fn score(top: &[String], relevant: &[String]) -> (f64, f64, f64, Vec<String>) {
    let relevant: HashSet<&str> = relevant.iter().map(String::as_str).collect();
    let hits5 = top.iter().take(5).filter(|t| relevant.contains(t.as_str())).count();
    let hits10 = top.iter().take(10).filter(|t| relevant.contains(t.as_str())).count();
    let rr = top.iter().take(10).position(|t| relevant.contains(t.as_str())).map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
    let shown: HashSet<&str> = top.iter().take(10).map(String::as_str).collect();
    let mut missed: Vec<String> = relevant.iter().filter(|t| !shown.contains(*t)).map(|t| t.to_string()).collect();
    missed.sort();
    let recall = if relevant.is_empty() { 1.0 } else { hits10 as f64 / relevant.len() as f64 };
    (hits5 as f64 / 5.0, recall, rr, missed)
}

pub fn summarise(results: &[(QueryResult, bool)]) -> Summary {
    let n = results.len().max(1) as f64;
    let mean = |f: &dyn Fn(&QueryResult) -> f64| results.iter().map(|(r, _)| f(r)).sum::<f64>() / n;
    Summary {
        queries: results.len(),
        precision_at_5: mean(&|r| r.precision_at_5),
        recall_at_10: mean(&|r| r.recall_at_10),
        mrr_at_10: mean(&|r| r.reciprocal_rank),
        zero_result_rate: results.iter().filter(|(r, _)| r.total == 0).count() as f64 / n,
        partial_rate: results.iter().filter(|(_, partial)| *partial).count() as f64 / n,
    }
}

/// Runs every query as `who` and scores it. Fails when a relevant title names no record.
pub async fn run(cx: &App, who: &Principal, queries: &[JudgedQuery]) -> Result<Vec<(QueryResult, bool)>, String> {
    let catalogue = catalogue(cx, who).await?;
    let titles: HashSet<&str> = catalogue.iter().map(|r| r.title.as_str()).collect();
    let mut out = Vec::with_capacity(queries.len());
    for query in queries {
        if let Some(unknown) = query.relevant.iter().find(|t| !titles.contains(t.as_str())) {
            return Err(format!("`{}`: the relevant title `{unknown}` is no visible demo record's", query.q));
        }
        let response = app::search::search(cx, who, query.request(10)?, 1, 10).await.map_err(|e| e.to_string())?;
        let top: Vec<String> = response.items.iter().map(|h| h.title.clone()).collect();
        let (p5, r10, rr, missed) = score(&top, &query.relevant);
        let partial = response.matched == app::search::Matched::Partial;
        out.push((
            QueryResult {
                q: query.q.clone(),
                top,
                total: response.total,
                matched: if partial { "partial" } else { "all" }.to_string(),
                precision_at_5: p5,
                recall_at_10: r10,
                reciprocal_rank: rr,
                missed,
            },
            partial,
        ));
    }
    Ok(out)
}

/// A record as the peers see it.
#[derive(Debug, Clone)]
pub struct CatalogueRecord {
    pub library: Library,
    pub title: String,
    pub text: String,
    pub field: TechField,
    pub region: String,
    pub trl: Option<u8>,
}

/// Every record `who` may see, with its searchable text (title, keywords, body).
pub async fn catalogue(cx: &App, who: &Principal) -> Result<Vec<CatalogueRecord>, String> {
    let mut ids: Vec<(Library, String)> = Vec::new();
    for page in 1..=20 {
        let request = SearchQuery { limit: 50, offset: (page as usize - 1) * 50, ..SearchQuery::default() };
        let response = app::search::search(cx, who, request, page, 50).await.map_err(|e| e.to_string())?;
        let done = response.items.len() < 50;
        for hit in response.items {
            let library = if hit.library == "needs" { Library::Needs } else { Library::Achievements };
            ids.push((library, hit.id));
        }
        if done {
            break;
        }
    }
    let of = |library: Library| ids.iter().filter(|(l, _)| *l == library).map(|(_, id)| id.clone()).collect::<Vec<_>>();
    let mut out = Vec::new();
    for n in cx.store().needs_by_ids(&of(Library::Needs)).await.map_err(|e| e.to_string())? {
        let c = n.content;
        out.push(CatalogueRecord {
            library: Library::Needs,
            text: [c.title.as_str(), &c.keywords.join(" "), &c.description, &c.targets, &c.tried].join(" "),
            title: c.title,
            field: c.field,
            region: c.region,
            trl: None,
        });
    }
    for a in cx.store().achievements_by_ids(&of(Library::Achievements)).await.map_err(|e| e.to_string())? {
        let c = a.content;
        out.push(CatalogueRecord {
            library: Library::Achievements,
            text: [c.title.as_str(), &c.keywords.join(" "), &c.summary].join(" "),
            title: c.title,
            field: c.field,
            region: c.region,
            trl: c.trl,
        });
    }
    Ok(out)
}

/// Writes `docs.jsonl` (title, library, field, region, trl, tokens) and `queries.jsonl` (the
/// set with each query's tokens) for the peer harness: the tokens are the analyzer's, sub-words
/// included, as the index holds them.
pub async fn write_peer_files(cx: &App, who: &Principal, queries: &[JudgedQuery], dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let analyzer = cx.search().current().analyzer().clone();
    let tokens = |text: &str| -> Vec<String> { analyzer.analyze(text).into_iter().map(|t| t.text).collect() };
    let write = |name: &str, lines: Vec<serde_json::Value>| -> Result<(), String> {
        let path = dir.join(name);
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        for line in lines {
            writeln!(file, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
        }
        file.flush().map_err(|e| format!("{}: {e}", path.display()))
    };
    let docs = catalogue(cx, who)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "title": r.title, "library": r.library.route(), "field": r.field.code(),
                "region": r.region, "trl": r.trl, "tokens": tokens(&r.text),
            })
        })
        .collect();
    write("docs.jsonl", docs)?;
    let lines = queries
        .iter()
        .map(|q| {
            serde_json::json!({
                "q": q.q, "tokens": tokens(&q.q), "library": q.library, "field": q.field.map(|f| f.code()),
                "region": q.region, "trl_min": q.trl_min, "trl_max": q.trl_max, "relevant": q.relevant,
            })
        })
        .collect();
    write("queries.jsonl", lines)
}

/// The demo catalogue in a temporary SQLite database and index, and a technology manager of
/// it. The folder is removed when the returned guard is dropped.
pub async fn demo_catalogue() -> Result<(tempfile::TempDir, std::sync::Arc<App>, Principal), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let env = vec![
        ("TECHMARKET__DATA__DIR".to_string(), dir.path().display().to_string()),
        ("TECHMARKET__DATABASE__URL".to_string(), format!("sqlite://{}", dir.path().join("judged.db").display())),
    ];
    let config = crate::config::Config::load(None, env).map_err(|e| e.to_string())?;
    let (cx, _) = crate::startup::open_context(&config).await.map_err(|e| e.to_string())?;
    let seeded = crate::demo::seed(&cx).await.map_err(|e| e.to_string())?;
    app::indexing::catch_up(cx.store().as_ref(), cx.search()).await.map_err(|e| e.to_string())?;
    let manager = seeded
        .tokens
        .iter()
        .find(|t| t.role == crate::domain::vocab::Role::Manager)
        .ok_or("the demo data has no technology manager")?;
    let who = app::accounts::authenticate(&cx, &manager.secret).await.map_err(|e| e.to_string())?;
    Ok((dir, cx, who))
}
