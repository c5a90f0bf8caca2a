//! Search and matching benchmarks on the CSL records of the evaluation set (`$EVAL/csl`, README.md
//! "Matching quality"; `../shared/eval` by default): tokenization throughput,
//! indexing throughput at 100,000+ records, search latency at that size, index size per record,
//! and the latency of matching one need against that catalogue (the matcher's ranking, and with
//! the highlighting the matches API adds for a page of ten).
//!
//!   cargo bench --bench search [-- REPEAT]      (REPEAT copies of the 10,853 CSL records; 10)
//!   cargo bench --bench search -- gen DIR [--tokens]
//!                                   (the records `techmarket gen` wrote to DIR; with --tokens also
//!                                    DIR/peer-docs.txt and DIR/peer-queries.txt, the same texts
//!                                    as this analyzer's tokens, for benches/peers)
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "gen") {
        let dir = PathBuf::from(args.get(at + 1).expect("gen DIR"));
        return generated(&dir, args.iter().any(|a| a == "--tokens"));
    }
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
            let frequencies = index.frequencies();
            std::hint::black_box(index.term_weights(text, &frequencies));
            std::hint::black_box(index.highlight(text, &pairs, &frequencies).expect("highlight"));
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

/// One generated record, as `techmarket gen` writes it (the import columns).
#[derive(serde::Deserialize)]
struct GenRecord {
    title: String,
    #[serde(default, alias = "description")]
    r#abstract: String,
    #[serde(default)]
    keywords: Vec<String>,
    field: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    trl: Option<u8>,
    #[serde(default)]
    visibility: String,
}

fn read_generated(path: &Path) -> Vec<GenRecord> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(file).lines().map(|l| serde_json::from_str(&l.expect("line")).expect("record")).collect()
}

/// The generated corpus: index the achievements, then match each need (title + description) as
/// the matcher does, three measured passes; the median of the passes' percentiles is printed.
fn generated(dir: &Path, tokens: bool) {
    use techmarket::domain::vocab::{TechField, Visibility};
    let analyzer = Analyzer::shipped();
    let started = Instant::now();
    let raw = read_generated(&dir.join("achievements.jsonl"));
    let needs = read_generated(&dir.join("needs.jsonl"));
    println!("read {} achievements and {} needs in {:.1} s", raw.len(), needs.len(), started.elapsed().as_secs_f64());
    let org = new_id();
    let records: Vec<Achievement> = raw
        .iter()
        .map(|r| {
            let eval = EvalRecord {
                id: String::new(),
                title: r.title.clone(),
                description: r.r#abstract.clone(),
                keywords: r.keywords.clone(),
                field: None,
            };
            let mut a = achievement(&eval, &org);
            a.content.keywords = r.keywords.clone();
            a.content.field = r.field.parse::<TechField>().unwrap_or(TechField::Other);
            a.content.region = r.region.clone();
            a.content.trl = r.trl;
            a.content.visibility = if r.visibility == "managers" { Visibility::Managers } else { Visibility::Public };
            a
        })
        .collect();
    if tokens {
        use std::io::Write;
        let mut docs = std::io::BufWriter::new(std::fs::File::create(dir.join("peer-docs.txt")).expect("peer-docs"));
        for a in &records {
            let text = format!("{} {} {}", a.content.title, a.content.keywords.join(" "), a.content.summary);
            let words: Vec<String> = analyzer.analyze(&text).into_iter().map(|t| t.text).collect();
            writeln!(docs, "{}", words.join(" ")).expect("write");
        }
        let mut queries =
            std::io::BufWriter::new(std::fs::File::create(dir.join("peer-queries.txt")).expect("peer-queries"));
        for n in &needs {
            let mut seen = std::collections::HashSet::new();
            let words: Vec<String> = analyzer
                .analyze(&format!("{} {}", n.title, n.r#abstract))
                .into_iter()
                .filter(|t| !t.subword && seen.insert(t.text.clone()))
                .map(|t| t.text)
                .collect();
            writeln!(queries, "{}", words.join(" ")).expect("write");
        }
        println!("peer token files written to {}", dir.display());
    }
    let index_dir = tempfile::tempdir().expect("temp dir");
    let index = SearchIndex::open_or_create(index_dir.path(), analyzer.clone()).expect("index");
    let started = Instant::now();
    for chunk in records.chunks(1000) {
        let docs: Vec<IndexRecord<'_>> = chunk.iter().map(IndexRecord::from).collect();
        index.add(&docs).expect("add");
    }
    index.apply(&[], &[], 1).expect("commit");
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "indexing: {} records in {:.1} s = {:.0} records/s; index {:.1} MB",
        records.len(),
        elapsed,
        records.len() as f64 / elapsed,
        dir_size(index_dir.path()) as f64 / 1e6
    );
    let texts: HashMap<&str, (&str, &str)> =
        records.iter().map(|a| (a.meta.id.as_str(), (a.content.title.as_str(), a.content.summary.as_str()))).collect();
    let queries: Vec<(String, Option<String>)> =
        needs.iter().map(|n| (format!("{} {}", n.title, n.r#abstract), Some(n.field.clone()))).collect();
    // MATCH_PARAMS=name=value,... tries other knobs (as `techmarket eval --match-params`).
    let params = MatchParams::parse(&std::env::var("MATCH_PARAMS").unwrap_or_default()).expect("MATCH_PARAMS");
    let passes_wanted: usize = std::env::var("PASSES").ok().and_then(|p| p.parse().ok()).unwrap_or(3);
    let mut passes: Vec<[f64; 4]> = Vec::new();
    for pass in 0..=passes_wanted {
        let (mut rank_times, mut page_times) = (Vec::new(), Vec::new());
        for (text, field) in &queries {
            let request = SearchRequest {
                library: Some(Library::Achievements),
                viewer_is_staff: true,
                limit: 10,
                ..SearchRequest::default()
            };
            let input = MatchInput { text: text.clone(), field: field.clone(), ..MatchInput::default() };
            let started = Instant::now();
            let ranking = rank(&index, &input, request, &params).expect("rank");
            rank_times.push(started.elapsed());
            let pairs: Vec<(String, String)> = ranking
                .candidates
                .iter()
                .map(|c| texts[c.retrieved.id.as_str()])
                .map(|(t, b)| (t.to_string(), b.to_string()))
                .collect();
            let frequencies = index.frequencies();
            std::hint::black_box(index.term_weights(text, &frequencies));
            std::hint::black_box(index.highlight(text, &pairs, &frequencies).expect("highlight"));
            page_times.push(started.elapsed());
        }
        rank_times.sort();
        page_times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let figures = [
            ms(percentile(&rank_times, 0.5)),
            ms(percentile(&rank_times, 0.99)),
            ms(percentile(&page_times, 0.5)),
            ms(percentile(&page_times, 0.99)),
        ];
        if pass > 0 {
            println!(
                "pass {pass}: ranking p50 {:.2} ms p99 {:.2} ms; with explanations p50 {:.2} ms p99 {:.2} ms",
                figures[0], figures[1], figures[2], figures[3]
            );
            passes.push(figures);
        }
    }
    let median = |k: usize| {
        let mut v: Vec<f64> = passes.iter().map(|p| p[k]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "RESULT techmarket achievements={} needs={} rank_p50={:.2} rank_p99={:.2} explained_p50={:.2} explained_p99={:.2}",
        records.len(),
        queries.len(),
        median(0),
        median(1),
        median(2),
        median(3)
    );
}
