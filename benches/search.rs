//! Search and matching benchmarks on the CSL records of the evaluation set (`$EVAL/csl`, README.md
//! "Matching quality"; `../shared/eval` by default): tokenization throughput,
//! indexing throughput at 100,000+ records, search latency at that size, index size per record,
//! and the latency of matching one need against that catalogue (the matcher's ranking, and with
//! the highlighting the matches API adds for a page of ten).
//!
//!   cargo bench --bench search [-- REPEAT]      (REPEAT copies of the 10,853 CSL records; 10)
//!
//! Figures go to BENCHMARKS.md. Single-threaded throughout: the numbers are per core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use techmarket::domain::achievement::Achievement;
use techmarket::domain::new_id;
use techmarket::domain::record::Library;
use techmarket::eval::{EvalRecord, achievement, document, load};
use techmarket::matching::{MatchInput, MatchParams, rank};
use techmarket::search::analyzer::Analyzer;
use techmarket::search::index::{SearchIndex, SearchRequest};
use techmarket::search::schema::IndexRecord;

/// The CSL files: `$EVAL/csl`, by default the evaluation set beside the project.
fn shared() -> PathBuf {
    match std::env::var_os("EVAL") {
        Some(eval) => PathBuf::from(eval).join("csl"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/csl"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(
                    |e| {
                        if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) }
                    },
                )
                .sum()
        })
        .unwrap_or(0)
}

fn latencies(index: &SearchIndex, queries: &[String], label: &str) {
    // One warm-up pass, then the measured one.
    for pass in 0..2 {
        let mut times = Vec::with_capacity(queries.len());
        for text in queries {
            let request = SearchRequest {
                text: text.clone(),
                library: Some(Library::Achievements),
                viewer_org: new_id(),
                viewer_is_staff: false,
                limit: 20,
                ..SearchRequest::default()
            };
            let started = Instant::now();
            let outcome = index.search(&request).expect("search");
            times.push(started.elapsed());
            std::hint::black_box(outcome);
        }
        if pass == 1 {
            times.sort();
            println!(
                "search latency, {label} ({} queries, top 20 + facets): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                times.len(),
                percentile(&times, 0.50).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times.last().unwrap().as_secs_f64() * 1e3
            );
        }
    }
}

fn main() {
    let repeat: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let mut base: Vec<EvalRecord> = load(&shared().join("achievements.jsonl")).expect("CSL achievements");
    base.extend(load(&shared().join("distractors.jsonl")).expect("CSL distractors"));
    let needs = load(&shared().join("needs-dev.jsonl")).expect("CSL needs");

    let analyzer = Analyzer::shipped();
    let texts: Vec<String> =
        base.iter().map(|r| format!("{} {} {}", r.title, r.keywords.join(" "), r.description)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let started = Instant::now();
    let mut tokens = 0;
    for text in &texts {
        tokens += analyzer.analyze(text).len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "tokenization: {:.2} MB/s per core ({:.1} MB of CSL text, {} tokens, {:.0} k tokens/s)",
        bytes as f64 / 1e6 / elapsed,
        bytes as f64 / 1e6,
        tokens,
        tokens as f64 / 1e3 / elapsed
    );

    let org = new_id();
    let records: Vec<Achievement> = (0..repeat).flat_map(|_| base.iter().map(|r| achievement(r, &org))).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let index = SearchIndex::open_or_create(dir.path(), analyzer.clone()).expect("index");
    let started = Instant::now();
    let mut offset = 0;
    for chunk in records.chunks(1000) {
        // The discipline is the record's field, as in the evaluation.
        let docs: Vec<IndexRecord<'_>> =
            chunk.iter().zip(base.iter().cycle().skip(offset)).map(|(a, r)| document(a, r)).collect();
        offset += chunk.len();
        index.add(&docs).expect("add");
    }
    index.apply(&[], &[], 1).expect("commit");
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "indexing: {} records in {:.1} s = {:.0} records/s (one writer thread, including tokenization and the commit)",
        records.len(),
        elapsed,
        records.len() as f64 / elapsed
    );
    let size = dir_size(dir.path());
    println!("index size: {:.1} MB, {:.0} bytes per record", size as f64 / 1e6, size as f64 / records.len() as f64);

    let titles: Vec<String> = needs.iter().map(|n| n.title.clone()).collect();
    let full: Vec<String> = needs.iter().map(|n| format!("{} {}", n.title, n.description)).collect();
    latencies(&index, &titles, &format!("title queries at {} records", records.len()));
    latencies(&index, &full, &format!("title+description queries at {} records", records.len()));
    let texts: HashMap<&str, (&str, &str)> =
        records.iter().map(|a| (a.meta.id.as_str(), (a.content.title.as_str(), a.content.summary.as_str()))).collect();
    matching(&index, &texts, &titles, &format!("title-only needs against {} achievements", records.len()));
    matching(&index, &texts, &full, &format!("title+description needs against {} achievements", records.len()));
}

/// Matching latency: `matching::rank` for a need (200 candidates re-ranked, top 10), and the same
/// plus highlighting the ten, as the matches API does.
fn matching(index: &SearchIndex, texts: &HashMap<&str, (&str, &str)>, needs: &[String], label: &str) {
    let params = MatchParams::default();
    for pass in 0..2 {
        let (mut rank_times, mut page_times) = (Vec::new(), Vec::new());
        for text in needs {
            let request = SearchRequest {
                library: Some(Library::Achievements),
                viewer_is_staff: true,
                limit: 10,
                ..SearchRequest::default()
            };
            let input = MatchInput { text: text.clone(), ..MatchInput::default() };
            let started = Instant::now();
            let ranking = rank(index, &input, request, &params).expect("rank");
            rank_times.push(started.elapsed());
            let pairs: Vec<(String, String)> = ranking
                .candidates
                .iter()
                .map(|c| texts[c.retrieved.id.as_str()])
                .map(|(t, b)| (t.to_string(), b.to_string()))
                .collect();
            std::hint::black_box(index.term_weights(text));
            std::hint::black_box(index.highlight(text, &pairs).expect("highlight"));
            page_times.push(started.elapsed());
        }
        if pass == 1 {
            for (times, what) in
                [(&mut rank_times, "ranking"), (&mut page_times, "ranking + term weights + highlighting")]
            {
                times.sort();
                println!(
                    "matching latency, {label} ({} needs, {what}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    times.len(),
                    percentile(times, 0.50).as_secs_f64() * 1e3,
                    percentile(times, 0.99).as_secs_f64() * 1e3,
                    times.last().unwrap().as_secs_f64() * 1e3
                );
            }
        }
    }
}
