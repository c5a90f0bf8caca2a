//! One library as a batch of matching sees it: the records a request's filters let through, and
//! for each term the batch asks about, its postings among those records only, read once for the
//! whole batch. It retrieves as `SearchIndex::retrieve` does (the same terms, the same BM25
//! weights from the whole catalogue's statistics, the same sums in the same order), so a batch
//! ranks exactly as its records would one by one; but a term's postings over the other library
//! are decoded once per batch instead of once per record.

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::postings::Postings;
use tantivy::query::{Bm25Weight, EnableScoring};
use tantivy::schema::Field;
use tantivy::{DocSet, TERMINATED};

use super::terms;
use super::*;

/// A term's postings in one field among the allowed records: (slot, term frequency, field
/// length code), in slot order; and its BM25 weight in the catalogue.
struct TermPostings {
    weight: Bm25Weight,
    postings: Vec<(u32, u32, u8)>,
}

/// How many postings the batch keeps at most (12 bytes each, about 100 MB): past it, a term's
/// postings are read for the ranking that asks and not kept, so a batch against a large library
/// stays bounded in memory.
const KEPT_POSTINGS: usize = 8_000_000;
/// How many records' stored fields the batch keeps at most.
const KEPT_RECORDS: usize = 100_000;

/// The terms read so far (in each of the four fields), and how many postings they hold.
#[derive(Default)]
struct TermCache {
    terms: HashMap<String, [Option<Arc<Option<TermPostings>>>; 4]>,
    postings: usize,
}

/// The allowed records of one library (see the module's documentation).
pub struct Counterparts {
    searcher: tantivy::Searcher,
    /// Each allowed record's address; its position is its slot.
    addresses: Vec<DocAddress>,
    /// For each segment, each document's slot (`u32::MAX` when not allowed).
    slots: Vec<Vec<u32>>,
    /// The title, keywords and body fields, in the order the query's clauses name them; then the
    /// one-field `text` view of the first stage.
    fields: [Field; 4],
    terms: Mutex<TermCache>,
    /// The terms' frequencies in the whole catalogue, looked up once for the batch.
    frequencies: Frequencies,
    stored: Mutex<HashMap<u32, Arc<Retrieved>>>,
}

impl SearchIndex {
    /// The records `request`'s visibility and filters let through (its text is not read), on
    /// the index as it is now.
    pub fn counterparts(&self, request: &SearchRequest) -> Result<Counterparts, IndexError> {
        let searcher = self.reader.searcher();
        let filter = self.filter_query(request).weight(EnableScoring::disabled_from_searcher(&searcher))?;
        let mut addresses = Vec::new();
        let mut slots = Vec::new();
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let mut of_segment = vec![u32::MAX; reader.max_doc() as usize];
            let alive = reader.alive_bitset();
            let mut allowed = filter.scorer(reader, 1.0)?;
            let mut doc = allowed.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| !a.is_deleted(doc)) {
                    of_segment[doc as usize] = addresses.len() as u32;
                    addresses.push(DocAddress::new(ord as u32, doc));
                }
                doc = allowed.advance();
            }
            slots.push(of_segment);
        }
        let f = &self.fields;
        Ok(Counterparts {
            frequencies: self.frequencies_on(searcher.clone()),
            searcher,
            addresses,
            slots,
            fields: [f.title, f.keywords, f.body, f.text],
            terms: Mutex::new(TermCache::default()),
            stored: Mutex::new(HashMap::new()),
        })
    }
}

impl Counterparts {
    /// How many records are allowed.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// Whether `index`, as it is now, is the one these were taken from (same segments, same
    /// deletions).
    pub fn is_current(&self, index: &SearchIndex) -> bool {
        index.reader.searcher().generation().segments() == self.searcher.generation().segments()
    }

    /// The batch's memo of the terms' frequencies (for the explanations of its rankings).
    pub fn frequencies(&self) -> &Frequencies {
        &self.frequencies
    }

    /// `SearchIndex::retrieve` among these records: `index` must be the index they were taken
    /// from, `request.text` and `request.limit` are read.
    pub fn retrieve(
        &self,
        index: &SearchIndex,
        request: &SearchRequest,
        max_terms: usize,
    ) -> Result<Vec<Retrieved>, IndexError> {
        let tokens = index.analyzer.analyze(&request.text);
        let total = self.searcher.num_docs();
        let mut df = |t: &str| self.frequencies.document_frequency(t);
        let (terms, pruned) = index.query_terms_of(&tokens, max_terms, total, &mut df);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let k = request.limit.max(1);
        let w = &index.weights;
        let fields = [(0, w.title), (1, w.keywords), (2, w.body)];
        let mut top = if pruned {
            self.top(&self.sums(&terms, &[(terms::TEXT, 1.0)])?, k * 2)
        } else {
            self.top(&self.sums(&terms, &fields)?, k)
        };
        if pruned {
            let (all, _) = index.query_terms_of(&tokens, usize::MAX, total, &mut df);
            let exact = self.sums(&all, &fields)?;
            for (score, slot) in top.iter_mut() {
                *score = exact[*slot as usize];
            }
            top.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| self.address(a.1).cmp(&self.address(b.1))));
            top.truncate(k);
        }
        let coverage = self.coverage(&index.term_weights_of(&tokens, total, &mut df), &top)?;
        let mut out = Vec::with_capacity(top.len());
        for ((score, slot), coverage) in top.into_iter().zip(coverage) {
            let stored = self.stored(index, slot)?;
            out.push(Retrieved { score, coverage, ..(*stored).clone() });
        }
        Ok(out)
    }

    fn address(&self, slot: u32) -> DocAddress {
        self.addresses[slot as usize]
    }

    /// Each record's score for the flat union of `terms` in `fields` (field index, field weight):
    /// clause by clause, term by term and field by field, as `exact_scores` (title, keywords and
    /// body) and `SearchIndex::first_stage` (the `text` view, weight 1) add them.
    fn sums(&self, terms: &[(String, f32)], fields: &[(usize, f32)]) -> Result<Vec<f32>, IndexError> {
        let mut sums = vec![0.0f32; self.addresses.len()];
        for (term, weight) in terms {
            for &(i, field_weight) in fields {
                let Some(postings) = &*self.postings(i, term)? else { continue };
                let scoring = postings.weight.boost_by(field_weight * weight);
                for &(slot, tf, norm) in &postings.postings {
                    sums[slot as usize] += scoring.score(norm, tf);
                }
            }
        }
        Ok(sums)
    }

    /// The best `k` (score, slot) with a score, best first; ties to the earlier address.
    fn top(&self, sums: &[f32], k: usize) -> Vec<(f32, u32)> {
        let mut scored: Vec<(f32, u32)> =
            sums.iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(slot, s)| (*s, slot as u32)).collect();
        let order = |a: &(f32, u32), b: &(f32, u32)| {
            b.0.total_cmp(&a.0).then_with(|| self.address(a.1).cmp(&self.address(b.1)))
        };
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        scored
    }

    /// The coverage `SearchIndex::exact_scores` gives the chosen records.
    fn coverage(&self, weights: &[(String, f32)], top: &[(f32, u32)]) -> Result<Vec<f32>, IndexError> {
        let mut out = vec![0.0f32; top.len()];
        // Each allowed record's place in `top` (`u32::MAX` when not there).
        let mut position = vec![u32::MAX; self.addresses.len()];
        for (k, (_, slot)) in top.iter().enumerate() {
            position[*slot as usize] = k as u32;
        }
        let mut found = vec![false; top.len()];
        for (term, weight) in weights {
            found.fill(false);
            for i in terms::TITLE_KEYWORDS_BODY {
                if let Some(postings) = &*self.postings(i, term)? {
                    for (slot, _, _) in &postings.postings {
                        let p = position[*slot as usize];
                        if p != u32::MAX {
                            found[p as usize] = true;
                        }
                    }
                }
            }
            for (k, hit) in found.iter().enumerate() {
                if *hit {
                    out[k] += weight;
                }
            }
        }
        Ok(out)
    }

    /// A term's postings in field `i` among the allowed records, read once.
    fn postings(&self, i: usize, text: &str) -> Result<Arc<Option<TermPostings>>, IndexError> {
        if let Some(Some(found)) = self.terms.lock().expect("term cache").terms.get(text).map(|t| &t[i]) {
            return Ok(found.clone());
        }
        let field = self.fields[i];
        let term = Term::from_field_text(field, text);
        let mut postings = Vec::new();
        for (ord, reader) in self.searcher.segment_readers().iter().enumerate() {
            let inverted = reader.inverted_index(field)?;
            let Some(mut docs) =
                inverted.read_postings(&term, IndexRecordOption::WithFreqs).map_err(tantivy::TantivyError::from)?
            else {
                continue;
            };
            let norms = reader.get_fieldnorms_reader(field)?;
            let slots = &self.slots[ord];
            let mut doc = docs.doc();
            while doc != TERMINATED {
                let slot = slots[doc as usize];
                if slot != u32::MAX {
                    postings.push((slot, docs.term_freq(), norms.fieldnorm_id(doc)));
                }
                doc = docs.advance();
            }
        }
        let found = if postings.is_empty() {
            None
        } else {
            Some(TermPostings { weight: Bm25Weight::for_terms(&self.searcher, std::slice::from_ref(&term))?, postings })
        };
        let found = Arc::new(found);
        let mut cache = self.terms.lock().expect("term cache");
        let size = found.as_ref().as_ref().map_or(0, |p| p.postings.len());
        if cache.postings + size <= KEPT_POSTINGS {
            cache.postings += size;
            cache.terms.entry(text.to_string()).or_default()[i] = Some(found.clone());
        }
        Ok(found)
    }

    /// A record's stored fields (library, id, field, keywords), read once.
    fn stored(&self, index: &SearchIndex, slot: u32) -> Result<Arc<Retrieved>, IndexError> {
        if let Some(found) = self.stored.lock().expect("stored cache").get(&slot) {
            return Ok(found.clone());
        }
        let found = Arc::new(index.retrieved(&self.searcher, self.address(slot), 0.0, 0.0)?);
        let mut stored = self.stored.lock().expect("stored cache");
        if stored.len() < KEPT_RECORDS {
            stored.insert(slot, found.clone());
        }
        Ok(found)
    }
}
