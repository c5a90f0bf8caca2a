//! One tantivy index: opening it (refusing one built by another analyzer), applying batches of
//! records with the change-log checkpoint in the commit payload, and running searches with
//! visibility, filters and facets inside the query.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use super::analyzer::Analyzer;
use super::query::{Concept, Matched, ParsedQuery};
use super::schema::{Fields, IndexRecord, register_tokenizer};
use crate::domain::record::Library;
use crate::domain::vocab::{CooperationMode, RecordStatus, TechField};

/// Memory the index writer may buffer before flushing a segment.
const WRITER_MEMORY: usize = 50_000_000;
/// In a search's ranking: added when a record holds every required concept of the query.
const ALL_STEP: f32 = 10_000.0;
/// In a search's ranking: added when a record holds at least one concept.
const SOME_STEP: f32 = 1_000.0;
/// Weight of a synonym's match relative to the word the user typed.
const SYNONYM_WEIGHT: f32 = 0.6;
/// Weight of a sub-word of a query word (电池 of 固态电池): it widens recall, but a record with
/// the whole word ranks first.
const SUBWORD_WEIGHT: f32 = 0.4;

/// Per-field weights of text matches. Measured on the CSL evaluation set (dev split): the keywords a
/// record's authors chose say most about its topic; weighting the title above the body did
/// not help (title 1/1.5/2 with keywords 3: nDCG@10 0.388/0.384/0.377 title-only needs,
/// 0.489/0.479/0.472 with descriptions). See BENCHMARKS.md.
#[derive(Debug, Clone, Copy)]
pub struct FieldWeights {
    pub title: f32,
    pub keywords: f32,
    pub body: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights { title: 1.0, keywords: 3.0, body: 1.0 }
    }
}

/// What the index last applied, stored in every commit's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last change-log sequence number whose record is in the index.
    pub seq: i64,
    /// The analyzer version the index was built with.
    pub analyzer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("the index at {path} was built with analyzer {found}, not {expected}; rebuild it")]
    AnalyzerMismatch { path: String, found: String, expected: String },
    #[error("the index is closed")]
    Closed,
    #[error(
        "the index is in use by another techmarket process on this data directory; stop it, or ask the running service (GET /api/v1/admin/index, POST /api/v1/admin/index/rebuild)"
    )]
    Locked,
    #[error("cannot prepare the index directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    /// `None` once closed: a closed index still answers searches but takes no writes.
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    fields: Fields,
    analyzer: Arc<Analyzer>,
    weights: FieldWeights,
    /// The checkpoint's sequence number, kept in memory for the follower.
    last_seq: AtomicI64,
}

/// A scored record; the better one compares greater (higher score, then the earlier address).
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: f32,
    address: DocAddress,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.address.cmp(&self.address))
    }
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Relevance,
    Newest,
}

/// A search as the index runs it. Visibility is part of the query: what the viewer may not
/// see is neither returned nor counted.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub library: Option<Library>,
    pub viewer_org: String,
    pub viewer_is_staff: bool,
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    pub cooperation: Option<CooperationMode>,
    pub status: Option<RecordStatus>,
    pub sort: SortOrder,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub library: Library,
    pub id: String,
    pub score: f32,
}

/// Counts by value, largest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    pub field: Vec<(String, u64)>,
    pub region: Vec<(String, u64)>,
    pub trl: Vec<(String, u64)>,
    pub cooperation: Vec<(String, u64)>,
}

/// A candidate for matching: its text score and the stored fields matching reasons need.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    pub library: Library,
    pub id: String,
    pub score: f32,
    pub field: String,
    pub keywords: Vec<String>,
    /// The share of the request text's term weight (see `term_weights`) the record contains, in
    /// its title, keywords or body: absolute text evidence in 0..1, unlike `score`, which only
    /// compares candidates of one request.
    pub coverage: f32,
}

#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// Whether the first hits hold every required concept of the query.
    pub matched: Matched,
    /// How many records (of `total`) hold every required concept; they come first.
    pub complete: usize,
    /// The query's concepts (normalised words), in the order typed.
    pub concepts: Vec<String>,
    /// With `Matched::Partial`: the required concepts no record the viewer may see (with the
    /// filters) holds.
    pub missing: Vec<String>,
}

impl SearchIndex {
    /// Opens the index in `dir`, or creates it there. An index built by another analyzer is an
    /// error: its tokens would not match this analyzer's queries (PITFALLS 17).
    pub fn open_or_create(dir: &Path, analyzer: Arc<Analyzer>) -> Result<SearchIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.display().to_string(), source })?;
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir)?
        } else {
            let (schema, _) = Fields::schema();
            Index::create_in_dir(dir, schema)?
        };
        let opened = Self::with_index(index, analyzer)?;
        let checkpoint = opened.checkpoint()?;
        if !checkpoint.analyzer.is_empty() && checkpoint.analyzer != opened.analyzer.version() {
            return Err(IndexError::AnalyzerMismatch {
                path: dir.display().to_string(),
                found: checkpoint.analyzer,
                expected: opened.analyzer.version().to_string(),
            });
        }
        Ok(opened)
    }

    /// An index in memory (evaluation, benchmarks).
    pub fn in_memory(analyzer: Arc<Analyzer>) -> Result<SearchIndex, IndexError> {
        let (schema, _) = Fields::schema();
        Self::with_index(Index::create_in_ram(schema), analyzer)
    }

    fn with_index(index: Index, analyzer: Arc<Analyzer>) -> Result<SearchIndex, IndexError> {
        register_tokenizer(&index, analyzer.clone());
        let fields = Fields::of(&index.schema())?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => IndexError::Locked,
            other => IndexError::Tantivy(other),
        })?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let mut opened = SearchIndex {
            index,
            reader,
            writer: Mutex::new(Some(writer)),
            fields,
            analyzer,
            weights: FieldWeights::default(),
            last_seq: AtomicI64::new(0),
        };
        opened.last_seq = AtomicI64::new(opened.checkpoint()?.seq);
        Ok(opened)
    }

    /// The sequence number of the last change applied.
    pub fn last_seq(&self) -> i64 {
        self.last_seq.load(Ordering::Acquire)
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter<TantivyDocument>>>, IndexError> {
        let guard = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            return Err(IndexError::Closed);
        }
        Ok(guard)
    }

    /// Releases the writer and its directory lock, after background merges finish.
    pub fn close(&self) -> Result<(), IndexError> {
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer {
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Adds records without committing (a rebuild commits once at the end).
    pub fn add(&self, records: &[IndexRecord<'_>]) -> Result<(), IndexError> {
        let guard = self.writer()?;
        let writer = guard.as_ref().ok_or(IndexError::Closed)?;
        for record in records {
            writer.add_document(record.document(&self.fields))?;
        }
        Ok(())
    }

    pub fn with_weights(mut self, weights: FieldWeights) -> Self {
        self.weights = weights;
        self
    }

    pub fn analyzer(&self) -> &Arc<Analyzer> {
        &self.analyzer
    }

    /// The checkpoint of the last commit (seq 0 and no analyzer for a new index).
    pub fn checkpoint(&self) -> Result<Checkpoint, IndexError> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default())
    }

    /// Replaces the given records (delete by id, then add) and removes `deleted` ids, then
    /// commits with `seq` as the checkpoint and makes the result visible to searches. Applying
    /// the same batch twice leaves the same index.
    pub fn apply(&self, records: &[IndexRecord<'_>], deleted: &[String], seq: i64) -> Result<(), IndexError> {
        let mut guard = self.writer()?;
        let writer = guard.as_mut().ok_or(IndexError::Closed)?;
        for id in deleted {
            writer.delete_term(self.fields.id_term(id));
        }
        for record in records {
            writer.delete_term(self.fields.id_term(&record.meta.id));
            writer.add_document(record.document(&self.fields))?;
        }
        let checkpoint = Checkpoint { seq, analyzer: self.analyzer.version().to_string() };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&checkpoint).unwrap_or_default());
        prepared.commit()?;
        drop(guard);
        self.last_seq.store(seq, Ordering::Release);
        self.reader.reload()?;
        Ok(())
    }

    /// (id → version) of every document of a library, for the drift check.
    pub fn versions(&self, library: Library) -> Result<BTreeMap<String, i64>, IndexError> {
        let searcher = self.reader.searcher();
        let query =
            TermQuery::new(Term::from_field_text(self.fields.library, library.route()), IndexRecordOption::Basic);
        let addresses = searcher.search(&query, &tantivy::collector::DocSetCollector)?;
        let mut out = BTreeMap::new();
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc.get_first(self.fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let version = doc.get_first(self.fields.version).and_then(|v| v.as_i64()).unwrap_or_default();
            out.insert(id, version);
        }
        Ok(out)
    }

    /// The `request.limit` best records for the request's text (its `max_terms` weightiest
    /// terms), with their field and keywords, visibility and filters applied as in `search`.
    ///
    /// When terms were left out, twice as many records are retrieved with the weightiest terms,
    /// then scored with all of them (the same BM25 sums tantivy computes, one forward seek per
    /// term, field and record), and the best `request.limit` kept.
    pub fn retrieve(&self, request: &SearchRequest, max_terms: usize) -> Result<Vec<Retrieved>, IndexError> {
        let searcher = self.reader.searcher();
        let (terms, pruned) = self.query_terms(&request.text, max_terms);
        let Some(text) = self.term_union(&terms) else { return Ok(Vec::new()) };
        let top = if pruned {
            let wide = SearchRequest { limit: request.limit.max(1) * 2, ..request.clone() };
            let mut top = self.top_visible(&searcher, text.as_ref(), &wide)?;
            let (all, _) = self.query_terms(&request.text, usize::MAX);
            let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
            for ((score, _), exact) in top.iter_mut().zip(self.exact_scores(&searcher, &all, &addresses)?) {
                *score = exact;
            }
            top.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            top.truncate(request.limit.max(1));
            top
        } else {
            self.top_visible(&searcher, text.as_ref(), request)?
        };
        let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
        let coverage = self.coverage(&searcher, &self.term_weights(&request.text), &addresses)?;
        let mut out = Vec::with_capacity(top.len());
        for ((score, address), coverage) in top.into_iter().zip(coverage) {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let library =
                if text(self.fields.library) == "achievements" { Library::Achievements } else { Library::Needs };
            let keywords = doc.get_all(self.fields.keywords).filter_map(|v| v.as_str().map(str::to_string)).collect();
            out.push(Retrieved {
                library,
                id: text(self.fields.id),
                score,
                field: text(self.fields.field),
                keywords,
                coverage,
            });
        }
        Ok(out)
    }

    /// The `request.limit` best records for `text` that pass the request's visibility and
    /// filters, best first. The filter is checked only for the records whose score could enter
    /// the top (one forward seek each), instead of being intersected with every record the
    /// terms match; the entry threshold carries over from one segment to the next.
    fn top_visible(
        &self,
        searcher: &tantivy::Searcher,
        text: &dyn Query,
        request: &SearchRequest,
    ) -> Result<Vec<(f32, DocAddress)>, IndexError> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        use tantivy::query::EnableScoring;

        let k = request.limit.max(1);
        let weight = text.weight(EnableScoring::enabled_from_searcher(searcher))?;
        let filter = self.filter_query(request).weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let mut allowed = filter.scorer(reader, 1.0)?;
            let alive = reader.alive_bitset();
            let floor = |heap: &BinaryHeap<Reverse<Ranked>>| {
                if heap.len() < k { f32::MIN } else { heap.peek().map_or(f32::MIN, |r| r.0.score) }
            };
            let start = floor(&heap);
            weight.for_each_pruning(start, reader, &mut |doc, score| {
                let passes = alive.is_none_or(|a| !a.is_deleted(doc)) && lands_on(allowed.as_mut(), doc);
                if passes {
                    heap.push(Reverse(Ranked { score, address: DocAddress::new(ord as u32, doc) }));
                    if heap.len() > k {
                        heap.pop();
                    }
                }
                floor(&heap)
            })?;
        }
        let mut top: Vec<Ranked> = heap.into_iter().map(|r| r.0).collect();
        top.sort_by(|a, b| b.cmp(a));
        Ok(top.into_iter().map(|r| (r.score, r.address)).collect())
    }

    /// For each record, its score for the flat union of `terms` (as `term_union` scores it).
    fn exact_scores(
        &self,
        searcher: &tantivy::Searcher,
        terms: &[(String, f32)],
        addresses: &[DocAddress],
    ) -> Result<Vec<f32>, IndexError> {
        use tantivy::query::EnableScoring;
        use tantivy::{DocSet, TERMINATED};
        let mut out = vec![0.0; addresses.len()];
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, weight) in terms {
            self.term_clauses(term, *weight, &mut clauses);
        }
        let scoring = EnableScoring::enabled_from_searcher(searcher);
        let weights: Vec<Box<dyn tantivy::query::Weight>> =
            clauses.iter().map(|(_, q)| q.weight(scoring)).collect::<Result<_, _>>()?;
        for (segment, docs) in by_segment(addresses) {
            let reader = searcher.segment_reader(segment);
            for weight in &weights {
                let mut scorer = weight.scorer(reader, 1.0)?;
                for (doc, i) in &docs {
                    if scorer.doc() == TERMINATED {
                        break;
                    }
                    if lands_on(scorer.as_mut(), *doc) {
                        out[*i] += scorer.score();
                    }
                }
            }
        }
        Ok(out)
    }

    /// For each record, the summed weight of the `weights` terms it contains in its title,
    /// keywords or body (one seek per term, field and record, in each segment's postings).
    fn coverage(
        &self,
        searcher: &tantivy::Searcher,
        weights: &[(String, f32)],
        addresses: &[DocAddress],
    ) -> Result<Vec<f32>, IndexError> {
        use tantivy::{DocSet, TERMINATED};
        let mut out = vec![0.0; addresses.len()];
        for (segment, docs) in by_segment(addresses) {
            let reader = searcher.segment_reader(segment);
            let fields = [self.fields.title, self.fields.keywords, self.fields.body];
            let inverted: Vec<_> = fields.iter().map(|f| reader.inverted_index(*f)).collect::<Result<_, _>>()?;
            for (term, weight) in weights {
                let mut found = vec![false; docs.len()];
                for (field, index) in fields.iter().zip(&inverted) {
                    let Some(mut postings) = index
                        .read_postings(&Term::from_field_text(*field, term), IndexRecordOption::Basic)
                        .map_err(tantivy::TantivyError::from)?
                    else {
                        continue;
                    };
                    for (k, (doc, _)) in docs.iter().enumerate() {
                        if postings.doc() == TERMINATED {
                            break;
                        }
                        found[k] |= lands_on(&mut postings, *doc);
                    }
                }
                for (k, (_, i)) in docs.iter().enumerate() {
                    if found[k] {
                        out[*i] += weight;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The distinct terms of `text` (no sub-words) with their weight in a match: inverse
    /// document frequency in the catalogue times the query weight, normalised to sum 1; most
    /// weighty first.
    pub fn term_weights(&self, text: &str) -> Vec<(String, f32)> {
        let searcher = self.reader.searcher();
        let total = searcher.num_docs() as f32;
        let mut counts: Vec<(String, usize)> = Vec::new();
        for token in self.analyzer.analyze(text).into_iter().filter(|t| !t.subword) {
            match counts.iter_mut().find(|(t, _)| *t == token.text) {
                Some(entry) => entry.1 += 1,
                None => counts.push((token.text, 1)),
            }
        }
        let mut weights: Vec<(String, f32)> = counts
            .into_iter()
            .map(|(term, count)| {
                let df = self.document_frequency(&searcher, &term) as f32;
                let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                (term, idf * (1.0 + (count as f32).ln()))
            })
            .collect();
        let sum: f32 = weights.iter().map(|(_, w)| w).sum();
        if sum > 0.0 {
            weights.iter_mut().for_each(|(_, w)| *w /= sum);
        }
        weights.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        weights
    }

    /// How many records the index holds.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// How many records of the index have this keyword's rarest word among their keywords, and
    /// how many records there are.
    pub fn keyword_frequency(&self, keyword: &str) -> (u64, u64) {
        let searcher = self.reader.searcher();
        let total = searcher.num_docs();
        let rarest = self
            .analyzer
            .analyze(keyword)
            .iter()
            .filter(|t| !t.subword)
            .map(|t| searcher.doc_freq(&Term::from_field_text(self.fields.keywords, &t.text)).unwrap_or(0))
            .min()
            .unwrap_or(total);
        (rarest, total)
    }

    /// Runs a search: the query read as concepts (`query::ParsedQuery`). When records hold every
    /// required concept (visibility and filters applied), they come first, followed by records
    /// that hold some; records holding none are left out. When none holds them all, every record
    /// that matches a term is listed, those holding a concept first (`Matched::Partial`), with
    /// the concepts no record holds.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchOutcome, IndexError> {
        let searcher = self.reader.searcher();
        let parsed = ParsedQuery::parse(&self.analyzer, &request.text);
        let filter = self.filter_query(request);
        if parsed.is_empty() {
            return self.collect(&searcher, filter, request, false, Matched::All, &parsed, Vec::new());
        }
        let ranked = self.concept_ranking(&parsed);
        let required = parsed.required();
        // Records that hold every concept come first, then those that hold some; a record that
        // holds none, matching only through a part of a word or a generic word, is left out.
        // How many hold every concept is counted in the same pass (their score has `ALL_STEP`).
        let held: Vec<Box<dyn Query>> = required.iter().map(|c| self.held(c)).collect();
        let query = BooleanQuery::new(vec![
            (Occur::Must, ranked.box_clone()),
            (Occur::Must, Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0))),
            (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::union(held)), 0.0))),
        ]);
        let outcome = self.collect(&searcher, Box::new(query), request, true, Matched::All, &parsed, Vec::new())?;
        if outcome.complete > 0 {
            return Ok(outcome);
        }
        // Nothing holds every concept: say which ones no visible record holds, and show the
        // records that hold some.
        let mut missing = Vec::new();
        for concept in required {
            let held = BooleanQuery::new(vec![(Occur::Must, self.held(concept)), (Occur::Must, filter.box_clone())]);
            if searcher.search(&held, &Count)? == 0 {
                missing.push(concept.text.clone());
            }
        }
        let some =
            BooleanQuery::new(vec![(Occur::Must, ranked), (Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0)))]);
        self.collect(&searcher, Box::new(some), request, true, Matched::Partial, &parsed, missing)
    }

    /// The ranking of a search, in three tiers: records that hold every required concept
    /// (`ALL_STEP`), then records that hold some (`SOME_STEP`), then, only when nothing holds
    /// them all, records that match through parts of words alone; within a tier the BM25 sum of
    /// every weighted term (words, synonyms, narrower terms, sub-words). Ordering the middle
    /// tier by how many concepts each record holds was measured and is worse (BENCHMARKS.md,
    /// "Search quality").
    fn concept_ranking(&self, parsed: &ParsedQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(text) = self.term_union(&parsed.scored_terms()) {
            clauses.push((Occur::Should, text));
        }
        let every: Vec<(Occur, Box<dyn Query>)> =
            parsed.required().iter().map(|c| (Occur::Must, self.held(c))).collect();
        clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(every)), ALL_STEP))));
        let any: Vec<Box<dyn Query>> = parsed.concepts.iter().map(|c| self.held(c)).collect();
        clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::union(any)), SOME_STEP))));
        Box::new(BooleanQuery::new(clauses))
    }

    /// Records that hold a concept: one of its whole terms in a text field, or all its parts.
    fn held(&self, concept: &Concept) -> Box<dyn Query> {
        let whole = concept.whole.iter().map(|(term, _)| term.as_str());
        let mut either: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, self.any_term(whole))];
        if !concept.parts.is_empty() {
            let all: Vec<(Occur, Box<dyn Query>)> =
                concept.parts.iter().map(|part| (Occur::Must, self.any_term([part.as_str()]))).collect();
            either.push((Occur::Should, Box::new(BooleanQuery::new(all))));
        }
        Box::new(BooleanQuery::new(either))
    }

    /// Records with any of `terms` in a text field (no scoring).
    fn any_term<'t>(&self, terms: impl IntoIterator<Item = &'t str>) -> Box<dyn Query> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in terms {
            for field in [f.title, f.keywords, f.body] {
                let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::Basic);
                clauses.push((Occur::Should, Box::new(query)));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Runs `query` and collects the page, the total and the facets.
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        searcher: &tantivy::Searcher,
        query: Box<dyn Query>,
        request: &SearchRequest,
        has_text: bool,
        matched: Matched,
        parsed: &ParsedQuery,
        missing: Vec<String>,
    ) -> Result<SearchOutcome, IndexError> {
        let mut facet_field = FacetCollector::for_field("facet_field");
        facet_field.add_facet("/");
        let mut facet_region = FacetCollector::for_field("facet_region");
        facet_region.add_facet("/");
        let mut facet_trl = FacetCollector::for_field("facet_trl");
        facet_trl.add_facet("/");
        let mut facet_cooperation = FacetCollector::for_field("facet_cooperation");
        facet_cooperation.add_facet("/");
        let facet_collectors = (facet_field, facet_region, facet_trl, facet_cooperation);
        let top = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset);
        let (addresses, total, complete, counts): (Vec<(f32, DocAddress)>, usize, usize, _) =
            if has_text && request.sort == SortOrder::Relevance {
                let (top, (total, complete), counts) =
                    searcher.search(&query, &(top.order_by_score(), (Count, AtLeast(ALL_STEP)), facet_collectors))?;
                (top, total, complete, counts)
            } else {
                let (top, (total, complete), counts) = searcher.search(
                    &query,
                    &(
                        top.order_by_fast_field::<i64>("updated_at", Order::Desc),
                        (Count, AtLeast(if has_text { ALL_STEP } else { f32::MIN })),
                        facet_collectors,
                    ),
                )?;
                (top.into_iter().map(|(_, address)| (0.0, address)).collect(), total, complete, counts)
            };
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc.get_first(self.fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let library = match doc.get_first(self.fields.library).and_then(|v| v.as_str()) {
                Some("achievements") => Library::Achievements,
                _ => Library::Needs,
            };
            hits.push(Hit { library, id, score });
        }
        let facet = |counts: &tantivy::collector::FacetCounts| -> Vec<(String, u64)> {
            let mut out: Vec<(String, u64)> = counts
                .get("/")
                .map(|(facet, count)| (facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(), count))
                .collect();
            out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            out
        };
        let facets = Facets {
            field: facet(&counts.0),
            region: facet(&counts.1),
            trl: facet(&counts.2),
            cooperation: facet(&counts.3),
        };
        Ok(SearchOutcome { total, hits, facets, matched, complete, concepts: parsed.words(), missing })
    }

    /// For each (title, body): the title, whole, and the best passage of the body, as HTML:
    /// matches of the terms of `text` in `<b>`, everything else escaped, `…` where the passage
    /// was cut. Passages are about 100 characters (tantivy counts the budget in bytes,
    /// PITFALLS 12).
    pub fn highlight(&self, text: &str, records: &[(String, String)]) -> Result<Vec<(String, String)>, IndexError> {
        self.highlight_terms(&self.query_terms(text, usize::MAX).0, records)
    }

    /// As `highlight`, with the terms of a search's concepts (synonyms and narrower terms too).
    pub fn highlight_search(
        &self,
        text: &str,
        records: &[(String, String)],
    ) -> Result<Vec<(String, String)>, IndexError> {
        self.highlight_terms(&ParsedQuery::parse(&self.analyzer, text).scored_terms(), records)
    }

    fn highlight_terms(
        &self,
        terms: &[(String, f32)],
        records: &[(String, String)],
    ) -> Result<Vec<(String, String)>, IndexError> {
        let searcher = self.reader.searcher();
        let Some(query) = self.term_union(terms) else {
            return Ok(records.iter().map(|(title, body)| (escape(title), lead(body))).collect());
        };
        let mut titles = SnippetGenerator::create(&searcher, &*query, self.fields.title)?;
        let mut bodies = SnippetGenerator::create(&searcher, &*query, self.fields.body)?;
        bodies.set_max_num_chars(300);
        let mut out = Vec::with_capacity(records.len());
        for (title, body) in records {
            titles.set_max_num_chars(title.len().max(1));
            let title_snippet = titles.snippet(title);
            let offset = title_snippet.fragment_range().start;
            let ranges: Vec<std::ops::Range<usize>> =
                title_snippet.highlighted().iter().map(|r| r.start + offset..r.end + offset).collect();
            let title_html = mark(title, &ranges);
            let snippet = bodies.snippet(body);
            let meaningful = |r: &std::ops::Range<usize>| {
                snippet.fragment().get(r.clone()).is_some_and(|t| !(t.chars().count() == 1 && t.is_ascii()))
            };
            if !snippet.highlighted().iter().any(meaningful) {
                out.push((title_html, lead(body)));
                continue;
            }
            let range = snippet.fragment_range();
            let mut body_html = mark(snippet.fragment(), snippet.highlighted());
            if range.start > 0 {
                body_html.insert(0, '…');
            }
            if range.end < body.len() {
                body_html.push('…');
            }
            out.push((title_html, body_html));
        }
        Ok(out)
    }

    /// The terms of `text` (its `max_terms` weightiest) and their synonyms, each with its weight
    /// in the query; and whether terms were left out.
    fn query_terms(&self, text: &str, max_terms: usize) -> (Vec<(String, f32)>, bool) {
        let tokens = self.analyzer.analyze(text);
        // A term the text repeats matters more: weight by 1 + ln(count), in order of first use.
        let mut counts: Vec<(String, bool, usize)> = Vec::new();
        for token in tokens {
            match counts.iter_mut().find(|(t, _, _)| *t == token.text) {
                Some(entry) => {
                    entry.2 += 1;
                    entry.1 &= token.subword;
                }
                None => counts.push((token.text, token.subword, 1)),
            }
        }
        let weight_of =
            |subword: bool, count: usize| (if subword { SUBWORD_WEIGHT } else { 1.0 }) * (1.0 + (count as f32).ln());
        let pruned = counts.len() > max_terms;
        if pruned {
            let searcher = self.reader.searcher();
            let total = searcher.num_docs() as f32;
            let mut ranked: Vec<(f32, usize)> = counts
                .iter()
                .enumerate()
                .map(|(i, (term, subword, count))| {
                    let df = self.document_frequency(&searcher, term) as f32;
                    let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                    (idf * weight_of(*subword, *count), i)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut keep: Vec<usize> = ranked.into_iter().take(max_terms).map(|(_, i)| i).collect();
            keep.sort_unstable();
            counts = keep.into_iter().map(|i| counts[i].clone()).collect();
        }
        let mut seen: std::collections::HashSet<String> = counts.iter().map(|(t, _, _)| t.clone()).collect();
        let mut terms: Vec<(String, f32)> = Vec::new();
        for (term, subword, count) in counts {
            let weight = weight_of(subword, count);
            for synonym in self.analyzer.synonyms(&term) {
                if seen.insert(synonym.clone()) {
                    terms.push((synonym.clone(), SYNONYM_WEIGHT * weight));
                }
            }
            terms.push((term, weight));
        }
        (terms, pruned)
    }

    /// The OR of `terms`, each the OR of its title, keywords and body clauses; `None` without
    /// terms. Nested on purpose: a flat union of term clauses would let tantivy run block-max
    /// WAND, but with the hundred and more terms of a need's description its bookkeeping cost
    /// far more than it skipped (BENCHMARKS.md, "Matcher speed": 75 ms against 12.7 ms at 100,000
    /// generated achievements).
    fn term_union(&self, terms: &[(String, f32)]) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, weight) in terms {
            let mut per_field = Vec::new();
            self.term_clauses(term, *weight, &mut per_field);
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_field))));
        }
        if clauses.is_empty() { None } else { Some(Box::new(BooleanQuery::new(clauses))) }
    }

    /// In how many records a term occurs, in the text field where it is most frequent.
    fn document_frequency(&self, searcher: &tantivy::Searcher, term: &str) -> u64 {
        [self.fields.title, self.fields.keywords, self.fields.body]
            .into_iter()
            .map(|field| searcher.doc_freq(&Term::from_field_text(field, term)).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// One term in every text field, each with its weight: one clause per field.
    fn term_clauses(&self, term: &str, weight: f32, clauses: &mut Vec<(Occur, Box<dyn Query>)>) {
        let f = &self.fields;
        let w = &self.weights;
        for (field, field_weight) in [(f.title, w.title), (f.keywords, w.keywords), (f.body, w.body)] {
            let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(query), field_weight * weight))));
        }
    }

    /// Visibility (as in `domain::record::can_view`) and the request's filters.
    fn filter_query(&self, r: &SearchRequest) -> Box<dyn Query> {
        let f = &self.fields;
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let public_open: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, term(f.visibility, "public")),
            (Occur::MustNot, term(f.status, RecordStatus::Withdrawn.code())),
        ]));
        let mut visible = vec![(Occur::Should, public_open), (Occur::Should, term(f.org_id, &r.viewer_org))];
        if r.viewer_is_staff {
            visible.push((Occur::Should, term(f.visibility, "managers")));
            visible.push((Occur::Should, term(f.visibility, "public")));
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(AllQuery)), (Occur::Must, Box::new(BooleanQuery::new(visible)))];
        if let Some(library) = r.library {
            must.push((Occur::Must, term(f.library, library.route())));
        }
        if let Some(field) = r.field {
            must.push((Occur::Must, term(f.field, field.code())));
        }
        if let Some(prefix) = &r.region_prefix {
            must.push((Occur::Must, term(f.region, prefix)));
        }
        if let Some(mode) = r.cooperation {
            must.push((Occur::Must, term(f.cooperation, mode.code())));
        }
        if let Some(status) = r.status {
            must.push((Occur::Must, term(f.status, status.code())));
        }
        if r.trl_min.is_some() || r.trl_max.is_some() {
            let lo = u64::from(r.trl_min.unwrap_or(1));
            let hi = u64::from(r.trl_max.unwrap_or(9));
            let range = RangeQuery::new(
                std::ops::Bound::Included(Term::from_field_u64(f.trl, lo)),
                std::ops::Bound::Included(Term::from_field_u64(f.trl, hi)),
            );
            must.push((Occur::Must, Box::new(range)));
        }
        Box::new(BooleanQuery::new(must))
    }
}

/// Counts the records whose score is at least the given one (in a search: those holding every
/// concept, which carry `ALL_STEP`).
struct AtLeast(f32);

struct AtLeastInSegment {
    min: f32,
    count: usize,
}

impl tantivy::collector::Collector for AtLeast {
    type Fruit = usize;
    type Child = AtLeastInSegment;

    fn for_segment(&self, _: tantivy::SegmentOrdinal, _: &tantivy::SegmentReader) -> tantivy::Result<AtLeastInSegment> {
        Ok(AtLeastInSegment { min: self.0, count: 0 })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, counts: Vec<usize>) -> tantivy::Result<usize> {
        Ok(counts.into_iter().sum())
    }
}

impl tantivy::collector::SegmentCollector for AtLeastInSegment {
    type Fruit = usize;

    fn collect(&mut self, _: tantivy::DocId, score: tantivy::Score) {
        if score >= self.min {
            self.count += 1;
        }
    }

    fn harvest(self) -> usize {
        self.count
    }
}

/// The records of `addresses` by segment, each segment's in document order, with their position
/// in `addresses`.
fn by_segment(addresses: &[DocAddress]) -> BTreeMap<u32, Vec<(u32, usize)>> {
    let mut out: BTreeMap<u32, Vec<(u32, usize)>> = BTreeMap::new();
    for (i, a) in addresses.iter().enumerate() {
        out.entry(a.segment_ord).or_default().push((a.doc_id, i));
    }
    out.values_mut().for_each(|docs| docs.sort_unstable());
    out
}

/// Moves `docs` forward to `doc` (never back: callers ask in document order) and says whether
/// it holds that document.
fn lands_on(docs: &mut dyn tantivy::DocSet, doc: u32) -> bool {
    let current = docs.doc();
    let at = if current == tantivy::TERMINATED || current >= doc { current } else { docs.seek(doc) };
    at == doc
}

/// `text` as HTML with the byte `ranges` in `<b>`.
fn mark(text: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len() + ranges.len() * 7);
    let mut at = 0;
    for range in ranges {
        if range.start < at
            || range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            continue;
        }
        // A lone Latin letter or digit (the `t` of GJ/t, the `c` ℃ leaves) is no evidence of a
        // match: it stays unmarked.
        let marked = &text[range.clone()];
        if marked.chars().count() == 1 && marked.is_ascii() {
            continue;
        }
        out.push_str(&escape(&text[at..range.start]));
        out.push_str("<b>");
        out.push_str(&escape(&text[range.clone()]));
        out.push_str("</b>");
        at = range.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// The first 100 characters of a text, escaped, with `…` if cut.
fn lead(text: &str) -> String {
    let mut out = escape(&text.chars().take(100).collect::<String>());
    if text.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
