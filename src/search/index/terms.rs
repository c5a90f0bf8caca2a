//! One retrieval's terms as the term dictionaries know them. A need's text names a hundred-odd
//! distinct terms; the retrieval asks about each several times (its frequency to choose the
//! weightiest, its weight in the coverage, its BM25 weight and postings in the first stage and in
//! the exact pass), over four fields and every segment. Each (term, field, segment) is looked up
//! in the dictionary once here, and the postings are opened from what that lookup found.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::InvertedIndexReader;
use tantivy::postings::{BlockSegmentPostings, SegmentPostings, TermInfo};
use tantivy::query::Bm25Weight;
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};

use crate::search::schema::Fields;

/// The fields a term is looked up in: title, keywords, body (the exact pass, in the order of
/// `term_clauses`), then the one-field `text` view (the first stage).
pub(super) const TITLE_KEYWORDS_BODY: [usize; 3] = [0, 1, 2];
pub(super) const TEXT: usize = 3;

/// A term in one field: its dictionary entry in each segment, and in how many records it occurs.
pub(super) struct FieldTerm {
    infos: Vec<Option<TermInfo>>,
    pub doc_freq: u64,
}

/// The lookups of one retrieval, on one searcher.
pub(super) struct TermTable<'s> {
    searcher: &'s Searcher,
    fields: [tantivy::schema::Field; 4],
    /// Each segment's inverted index and field norms of the four fields.
    segments: Vec<[(Arc<InvertedIndexReader>, FieldNormReader); 4]>,
    total_docs: u64,
    /// Average field length of the four fields, as BM25 takes it.
    average: [f32; 4],
    known: HashMap<String, Arc<[FieldTerm; 4]>>,
}

impl<'s> TermTable<'s> {
    pub(super) fn new(searcher: &'s Searcher, f: &Fields) -> tantivy::Result<TermTable<'s>> {
        let fields = [f.title, f.keywords, f.body, f.text];
        let mut segments = Vec::with_capacity(searcher.segment_readers().len());
        let mut tokens = [0u64; 4];
        let mut total_docs = 0u64;
        for reader in searcher.segment_readers() {
            let mut of_segment = Vec::with_capacity(4);
            for (i, field) in fields.iter().enumerate() {
                let inverted = reader.inverted_index(*field)?;
                tokens[i] += inverted.total_num_tokens();
                of_segment.push((inverted, reader.get_fieldnorms_reader(*field)?));
            }
            total_docs += u64::from(reader.max_doc());
            segments.push(of_segment.try_into().unwrap_or_else(|_| unreachable!("four fields")));
        }
        // As tantivy's own BM25 statistics compute it (`Bm25Weight::for_terms`).
        let average = tokens.map(|t| t as f32 / total_docs as f32);
        Ok(TermTable { searcher, fields, segments, total_docs, average, known: HashMap::new() })
    }

    pub(super) fn searcher(&self) -> &'s Searcher {
        self.searcher
    }

    /// The term in each of the four fields (looked up on first use).
    pub(super) fn get(&mut self, term: &str) -> Arc<[FieldTerm; 4]> {
        if let Some(found) = self.known.get(term) {
            return found.clone();
        }
        let entry: [FieldTerm; 4] = std::array::from_fn(|i| {
            let key = Term::from_field_text(self.fields[i], term);
            // A dictionary that cannot be read counts as not holding the term (as `doc_freq`).
            let infos: Vec<Option<TermInfo>> =
                self.segments.iter().map(|s| s[i].0.get_term_info(&key).ok().flatten()).collect();
            let doc_freq = infos.iter().flatten().map(|info| u64::from(info.doc_freq)).sum();
            FieldTerm { infos, doc_freq }
        });
        let entry = Arc::new(entry);
        self.known.insert(term.to_string(), entry.clone());
        entry
    }

    /// In how many records the term occurs, in the title, keywords or body field where it is
    /// most frequent.
    pub(super) fn document_frequency(&mut self, term: &str) -> u64 {
        let entry = self.get(term);
        TITLE_KEYWORDS_BODY.iter().map(|&i| entry[i].doc_freq).max().unwrap_or(0)
    }

    /// The term's BM25 weight in field `i` (tantivy's, for one term), times `boost`; `None` when
    /// no record holds it there.
    pub(super) fn weight(&self, entry: &[FieldTerm; 4], i: usize, boost: f32) -> Option<Bm25Weight> {
        let doc_freq = entry[i].doc_freq;
        (doc_freq > 0).then(|| {
            Bm25Weight::for_one_term_without_explain(doc_freq, self.total_docs, self.average[i]).boost_by(boost)
        })
    }

    /// The term's postings (with frequencies) in field `i` of segment `segment`.
    pub(super) fn postings(
        &self,
        entry: &[FieldTerm; 4],
        i: usize,
        segment: usize,
    ) -> tantivy::Result<Option<SegmentPostings>> {
        let Some(info) = &entry[i].infos[segment] else { return Ok(None) };
        Ok(Some(self.segments[segment][i].0.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?))
    }

    /// The term's postings in field `i` of segment `segment`, block by block.
    pub(super) fn blocks(
        &self,
        entry: &[FieldTerm; 4],
        i: usize,
        segment: usize,
    ) -> tantivy::Result<Option<BlockSegmentPostings>> {
        let Some(info) = &entry[i].infos[segment] else { return Ok(None) };
        Ok(Some(self.segments[segment][i].0.read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?))
    }

    /// The field norms of field `i` in segment `segment`.
    pub(super) fn norms(&self, i: usize, segment: usize) -> &FieldNormReader {
        &self.segments[segment][i].1
    }
}
