//! One tantivy index and its writer's life: opening it (refusing one built by another
//! analyzer), applying batches of records with the change-log checkpoint in the commit payload,
//! and what it holds. What it does with what it holds is in its parts: `searching` (the search
//! API: concepts, visibility and filters inside the query, facets), `retrieval` (the matcher's
//! candidates and their exact scores) and `highlight` (marked fragments).

mod counterparts;
mod frequencies;
mod highlight;
mod retrieval;
mod searching;
mod terms;
mod tiers;

use super::analyzer::Analyzer;
use super::query::{Concept, Matched, ParsedQuery};
use super::schema::{Fields, IndexRecord, register_tokenizer};
use crate::domain::record::Library;
use crate::domain::vocab::{CooperationMode, RecordStatus, TechField};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tantivy::collector::{Count, FacetCollector, TopDocs};
#[cfg(test)]
use tantivy::query::ConstScoreQuery;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

pub use counterparts::Counterparts;
pub use frequencies::Frequencies;
pub use highlight::Highlighter;
pub use retrieval::Retrieved;
pub use searching::{Facets, Hit, SearchOutcome, SearchRequest, SortOrder};

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
    #[error(
        "the index at {path} was built by an earlier version of techmarket (it lacks the field `{field}`); rebuild it"
    )]
    Outdated { path: String, field: String },
    #[error("the index is closed")]
    Closed,
    #[error(
        "the index is in use by another techmarket process on this data directory; stop it, or ask the running service (GET /api/v1/admin/index, POST /api/v1/admin/index/rebuild)"
    )]
    Locked,
    #[error("cannot prepare the index directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The settings of a new index. Its stored documents (id, library, field, version, keywords:
/// about 200 bytes each) are compressed in blocks of 2 KB instead of tantivy's 16 KB: the matcher
/// reads 200 records scattered over the index for every ranking, and each read decompresses a
/// whole block.
fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings { docstore_blocksize: 2_048, ..Default::default() }
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
    /// The visibility-and-filters sets of recent searches (`tiers`).
    filters: tiers::FilterCache,
    /// The ids (as hashes) staged since the last commit.
    staged: Mutex<std::collections::HashSet<u64>>,
}

fn id_hash(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id)
}

impl SearchIndex {
    /// Opens the index in `dir`, or creates it there. An index built by another analyzer is an
    /// error: its tokens would not match this analyzer's queries (PITFALLS 17).
    pub fn open_or_create(dir: &Path, analyzer: Arc<Analyzer>) -> Result<SearchIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.display().to_string(), source })?;
        let index = if dir.join("meta.json").exists() {
            let index = Index::open_in_dir(dir)?;
            let (current, _) = Fields::schema();
            if let Some((_, entry)) = current.fields().find(|(_, e)| index.schema().get_field(e.name()).is_err()) {
                return Err(IndexError::Outdated { path: dir.display().to_string(), field: entry.name().to_string() });
            }
            index
        } else {
            Index::builder().schema(Fields::schema().0).settings(settings()).create_in_dir(dir)?
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
        Self::with_index(Index::builder().schema(Fields::schema().0).settings(settings()).create_in_ram()?, analyzer)
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
            filters: Default::default(),
            staged: Mutex::new(std::collections::HashSet::new()),
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
            writer.add_document(record.document(&self.fields, &self.analyzer))?;
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
        self.stage(records, deleted)?;
        self.commit(seq)
    }

    /// Replaces the given records and removes `deleted` ids without committing: nothing is
    /// visible, or durable, until `commit`. A later stage of the same id replaces an earlier one.
    ///
    /// A record is deleted before it is added only if it may be there: in the last commit (which
    /// the reader shows), or staged since. A new record (every row of an import) is just added:
    /// tantivy keeps each delete, about 650 bytes, until the commit, and applies it to every
    /// segment then (42 MB of a 100,000-row import's peak, measured with heaptrack).
    pub fn stage(&self, records: &[IndexRecord<'_>], deleted: &[String]) -> Result<(), IndexError> {
        let guard = self.writer()?;
        let writer = guard.as_ref().ok_or(IndexError::Closed)?;
        let mut staged = self.staged.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for id in deleted {
            writer.delete_term(self.fields.id_term(id));
        }
        let searcher = self.reader.searcher();
        for record in records {
            let term = self.fields.id_term(&record.meta.id);
            // A hash stands for the id: a collision costs a delete that finds nothing.
            let fresh = staged.insert(id_hash(&record.meta.id));
            if !fresh || searcher.doc_freq(&term)? > 0 {
                writer.delete_term(term);
            }
            writer.add_document(record.document(&self.fields, &self.analyzer))?;
        }
        Ok(())
    }

    /// Commits what was staged with `seq` as the checkpoint and makes it visible to searches.
    pub fn commit(&self, seq: i64) -> Result<(), IndexError> {
        let mut guard = self.writer()?;
        let writer = guard.as_mut().ok_or(IndexError::Closed)?;
        let checkpoint = Checkpoint { seq, analyzer: self.analyzer.version().to_string() };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&checkpoint).unwrap_or_default());
        prepared.commit()?;
        // The reader shows the commit, and the staged ids are forgotten, before another stage
        // can run: `stage` decides from the two together whether a record may be in the index.
        self.reader.reload()?;
        self.staged.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
        drop(guard);
        self.last_seq.store(seq, Ordering::Release);
        Ok(())
    }

    /// Moves the position on past changes the index does not hold (dockings, accounts …)
    /// without a commit: the position committed with the last batch stays the durable one, and
    /// a restart reads those changes again, finding nothing to apply.
    pub fn pass(&self, seq: i64) {
        self.last_seq.fetch_max(seq, Ordering::AcqRel);
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

    /// How many records hold every token of `text` in their title (tests).
    #[cfg(test)]
    pub(crate) fn titles_matching(&self, text: &str) -> usize {
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .analyzer
            .analyze(text)
            .into_iter()
            .map(|t| {
                let term = Term::from_field_text(self.fields.title, &t.text);
                (Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>)
            })
            .collect();
        self.reader.searcher().search(&BooleanQuery::new(clauses), &Count).expect("count")
    }

    /// How many records the index holds.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// A memo of the terms' document frequencies on the index as it is now, for a piece of work
    /// that asks about the same terms more than once (an explanation's weights and highlights).
    pub fn frequencies(&self) -> Frequencies {
        self.frequencies_on(self.reader.searcher())
    }

    fn frequencies_on(&self, searcher: tantivy::Searcher) -> Frequencies {
        Frequencies::new(searcher, &self.fields)
    }
}
