//! The matcher's retrieval: the best candidates for a record's weightiest terms (visibility and
//! filters checked only for those that could enter the top), scored again with all the terms.

use super::*;

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

impl SearchIndex {
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
            let top = self.top_visible(&searcher, text.as_ref(), &wide)?;
            let (all, _) = self.query_terms(&request.text, usize::MAX);
            let mut top = self.rescored(&searcher, &all, top)?;
            top.truncate(request.limit.max(1));
            top
        } else {
            // Scored again as a flat sum, clause by clause: the union adds a record's clauses in
            // the order its scorers reach it, which a batch (`Counterparts`) cannot repeat.
            let top = self.top_visible(&searcher, text.as_ref(), request)?;
            self.rescored(&searcher, &terms, top)?
        };
        let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
        let coverage = self.coverage(&searcher, &self.term_weights(&request.text), &addresses)?;
        let mut out = Vec::with_capacity(top.len());
        for ((score, address), coverage) in top.into_iter().zip(coverage) {
            out.push(self.retrieved(&searcher, address, score, coverage)?);
        }
        Ok(out)
    }

    /// The records of `top` with their exact scores for `terms` (`exact_scores`), best first.
    fn rescored(
        &self,
        searcher: &tantivy::Searcher,
        terms: &[(String, f32)],
        mut top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<(f32, DocAddress)>, IndexError> {
        let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
        for ((score, _), exact) in top.iter_mut().zip(self.exact_scores(searcher, terms, &addresses)?) {
            *score = exact;
        }
        top.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(top)
    }

    /// A candidate from its stored fields, with its score and coverage.
    pub(super) fn retrieved(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: f32,
        coverage: f32,
    ) -> Result<Retrieved, IndexError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let library = if text(self.fields.library) == "achievements" { Library::Achievements } else { Library::Needs };
        let keywords = doc.get_all(self.fields.keywords).filter_map(|v| v.as_str().map(str::to_string)).collect();
        Ok(Retrieved { library, id: text(self.fields.id), score, field: text(self.fields.field), keywords, coverage })
    }

    /// The `request.limit` best records for `text` that pass the request's visibility and
    /// filters, best first. The filter is checked only for the records whose score could enter
    /// the top (one forward seek each), instead of being intersected with every record the
    /// terms match; the entry threshold carries over from one segment to the next.
    pub(super) fn top_visible(
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
    pub(super) fn exact_scores(
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
    pub(super) fn coverage(
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

    /// The terms of `text` (its `max_terms` weightiest) and their synonyms, each with its weight
    /// in the query; and whether terms were left out.
    pub(super) fn query_terms(&self, text: &str, max_terms: usize) -> (Vec<(String, f32)>, bool) {
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
    pub(super) fn term_union(&self, terms: &[(String, f32)]) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, weight) in terms {
            let mut per_field = Vec::new();
            self.term_clauses(term, *weight, &mut per_field);
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_field))));
        }
        if clauses.is_empty() { None } else { Some(Box::new(BooleanQuery::new(clauses))) }
    }

    /// In how many records a term occurs, in the text field where it is most frequent.
    pub(super) fn document_frequency(&self, searcher: &tantivy::Searcher, term: &str) -> u64 {
        [self.fields.title, self.fields.keywords, self.fields.body]
            .into_iter()
            .map(|field| searcher.doc_freq(&Term::from_field_text(field, term)).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// One term in every text field, each with its weight: one clause per field.
    pub(super) fn term_clauses(&self, term: &str, weight: f32, clauses: &mut Vec<(Occur, Box<dyn Query>)>) {
        let f = &self.fields;
        let w = &self.weights;
        for (field, field_weight) in [(f.title, w.title), (f.keywords, w.keywords), (f.body, w.body)] {
            let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(query), field_weight * weight))));
        }
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
