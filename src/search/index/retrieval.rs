//! The matcher's retrieval: the best candidates for a record's weightiest terms (visibility and
//! filters checked only for those that could enter the top), scored again with all the terms.

use std::collections::{BinaryHeap, HashMap};

use super::frequencies::Frequencies;
use super::terms::{self, TermTable};
use super::*;
use crate::search::analyzer::AnalyzedToken;

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

thread_local! {
    /// The first stage's sum per record of a segment, kept between retrievals on a thread (at a
    /// million records, 4 MB that would otherwise be allocated and faulted in for every one).
    static SUMS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The `k` best records offered so far.
struct Best {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Ranked>>,
}

impl Best {
    fn new(k: usize) -> Best {
        Best { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// The score a record must beat to enter (`f32::MIN` until `k` are kept).
    fn floor(&self) -> f32 {
        if self.heap.len() < self.k { f32::MIN } else { self.heap.peek().map_or(f32::MIN, |r| r.0.score) }
    }

    fn offer(&mut self, score: f32, address: DocAddress) {
        self.heap.push(std::cmp::Reverse(Ranked { score, address }));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// (score, address), best first.
    fn into_sorted(self) -> Vec<(f32, DocAddress)> {
        let mut top: Vec<Ranked> = self.heap.into_iter().map(|r| r.0).collect();
        top.sort_by(|a, b| b.cmp(a));
        top.into_iter().map(|r| (r.score, r.address)).collect()
    }
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
    /// When terms were left out (a long text), twice as many records are first retrieved from the
    /// one-field `text` view of each record with the weightiest terms (`first_stage`), then every
    /// one is scored with all the terms over title, keywords and body: the same BM25 sums tantivy
    /// computes, one forward seek per term, field and record; the best `request.limit` are kept.
    /// A short text is scored over the three fields at once (no term left out, the exact top).
    pub fn retrieve(&self, request: &SearchRequest, max_terms: usize) -> Result<Vec<Retrieved>, IndexError> {
        let searcher = self.reader.searcher();
        let mut table = TermTable::new(&searcher, &self.fields)?;
        let tokens = self.analyzer.analyze(&request.text);
        let total = searcher.num_docs();
        let (terms, pruned) = self.query_terms_of(&tokens, max_terms, total, &mut |t| table.document_frequency(t));
        let weights = self.term_weights_of(&tokens, total, &mut |t| table.document_frequency(t));
        let top = if pruned {
            let top = self.first_stage(&mut table, &terms, request, request.limit.max(1) * 2)?;
            let (all, _) = self.query_terms_of(&tokens, usize::MAX, total, &mut |t| table.document_frequency(t));
            self.rescored(&mut table, &all, &weights, top)?
        } else {
            let Some(text) = self.term_union(&terms) else { return Ok(Vec::new()) };
            // Scored again as a flat sum, clause by clause: the union adds a record's clauses in
            // the order its scorers reach it, which a batch (`Counterparts`) cannot repeat.
            let top = self.top_visible(&searcher, text.as_ref(), request)?;
            self.rescored(&mut table, &terms, &weights, top)?
        };
        let mut out = Vec::with_capacity(request.limit.max(1));
        for (score, coverage, address) in top.into_iter().take(request.limit.max(1)) {
            out.push(self.retrieved(&searcher, address, score, coverage)?);
        }
        Ok(out)
    }

    /// The first stage for a long text: the best `k` records `request` lets through for the
    /// union of `terms` in the one-field `text` view, each term's BM25 weighted by its weight in
    /// the query; best first, ties to the earlier address. Term at a time: each term's postings
    /// are read block by block into one sum per record of the segment (no union of cursors), then
    /// the records the visibility filter admits (a cached bit set) that could enter the top are
    /// offered to it. The sums are added in the order of `terms`, as `Counterparts` adds them.
    pub(super) fn first_stage(
        &self,
        table: &mut TermTable<'_>,
        terms: &[(String, f32)],
        request: &SearchRequest,
        k: usize,
    ) -> Result<Vec<(f32, DocAddress)>, IndexError> {
        let weighted: Vec<_> = terms
            .iter()
            .filter_map(|(term, weight)| {
                let entry = table.get(term);
                table.weight(&entry, terms::TEXT, *weight).map(|w| (w, entry))
            })
            .collect();
        let searcher = table.searcher();
        let filter = tiers::filter_weight(self.filter_query(request).as_ref(), searcher)?;
        let key = searching::filter_key(request);
        let mut best = Best::new(k);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let allowed = self.filters.get(reader, &key, filter.as_ref())?;
            let alive = reader.alive_bitset();
            let norms = table.norms(terms::TEXT, ord);
            SUMS.with_borrow_mut(|sums| -> Result<(), IndexError> {
                sums.clear();
                sums.resize(reader.max_doc() as usize, 0.0);
                for (weight, entry) in &weighted {
                    let Some(mut block) = table.blocks(entry, terms::TEXT, ord)? else { continue };
                    while !block.docs().is_empty() {
                        for (&doc, &tf) in block.docs().iter().zip(block.freqs()) {
                            sums[doc as usize] += weight.score(norms.fieldnorm_id(doc), tf);
                        }
                        block.advance();
                    }
                }
                for (doc, &score) in sums.iter().enumerate() {
                    let doc = doc as u32;
                    // Below the floor a record cannot enter: an equal score loses on its later address.
                    if score > 0.0
                        && score >= best.floor()
                        && allowed.contains(doc)
                        && alive.is_none_or(|a| a.is_alive(doc))
                    {
                        best.offer(score, DocAddress::new(ord as u32, doc));
                    }
                }
                Ok(())
            })?;
        }
        Ok(best.into_sorted())
    }

    /// The records of `top` with their exact scores for `terms` and their coverage of the
    /// `weights` terms (`exact_scores`), best first.
    fn rescored(
        &self,
        table: &mut TermTable<'_>,
        terms: &[(String, f32)],
        weights: &[(String, f32)],
        top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<(f32, f32, DocAddress)>, IndexError> {
        let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
        let (scores, coverage) = self.exact_scores(table, terms, weights, &addresses)?;
        let mut out: Vec<(f32, f32, DocAddress)> =
            scores.into_iter().zip(coverage).zip(addresses).map(|((s, c), a)| (s, c, a)).collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        Ok(out)
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
        use tantivy::query::EnableScoring;

        let k = request.limit.max(1);
        let weight = text.weight(EnableScoring::enabled_from_searcher(searcher))?;
        let filter = self.filter_query(request).weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut best = Best::new(k);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let mut allowed = filter.scorer(reader, 1.0)?;
            let alive = reader.alive_bitset();
            weight.for_each_pruning(best.floor(), reader, &mut |doc, score| {
                if alive.is_none_or(|a| !a.is_deleted(doc)) && lands_on(allowed.as_mut(), doc) {
                    best.offer(score, DocAddress::new(ord as u32, doc));
                }
                best.floor()
            })?;
        }
        Ok(best.into_sorted())
    }

    /// For each record, its score for the flat union of `terms` (as `term_union` scores it), and
    /// its coverage: the summed weight of the `weights` terms it contains in its title, keywords
    /// or body (every `weights` term is one of `terms`). One seek per term, field and record, in
    /// each segment's postings.
    pub(super) fn exact_scores(
        &self,
        table: &mut TermTable<'_>,
        terms: &[(String, f32)],
        weights: &[(String, f32)],
        addresses: &[DocAddress],
    ) -> Result<(Vec<f32>, Vec<f32>), IndexError> {
        use tantivy::postings::Postings;
        use tantivy::{DocSet, TERMINATED};
        let mut scores = vec![0.0; addresses.len()];
        // Which records hold each `weights` term, summed in `weights`' order at the end.
        let mut holds = vec![vec![false; addresses.len()]; weights.len()];
        let covers: HashMap<&str, usize> = weights.iter().enumerate().map(|(k, (t, _))| (t.as_str(), k)).collect();
        let w = &self.weights;
        let field_weights = [w.title, w.keywords, w.body];
        // Each term's clause per field, as `term_clauses` weighs it.
        let clauses: Vec<_> = terms
            .iter()
            .map(|(term, weight)| {
                let entry = table.get(term);
                let scoring = terms::TITLE_KEYWORDS_BODY.map(|i| table.weight(&entry, i, field_weights[i] * weight));
                (covers.get(term.as_str()).copied(), entry, scoring)
            })
            .collect();
        for (segment, docs) in by_segment(addresses) {
            for (covered, entry, scoring) in &clauses {
                for i in terms::TITLE_KEYWORDS_BODY {
                    let Some(weight) = &scoring[i] else { continue };
                    let Some(mut postings) = table.postings(entry, i, segment as usize)? else { continue };
                    let norms = table.norms(i, segment as usize);
                    for (doc, k) in &docs {
                        if postings.doc() == TERMINATED {
                            break;
                        }
                        if lands_on(&mut postings, *doc) {
                            scores[*k] += weight.score(norms.fieldnorm_id(*doc), postings.term_freq());
                            if let Some(c) = covered {
                                holds[*c][*k] = true;
                            }
                        }
                    }
                }
            }
        }
        let mut coverage = vec![0.0; addresses.len()];
        for ((_, weight), holders) in weights.iter().zip(holds) {
            for (i, held) in holders.into_iter().enumerate() {
                if held {
                    coverage[i] += weight;
                }
            }
        }
        Ok((scores, coverage))
    }

    /// The distinct terms of `text` (no sub-words) with their weight in a match: inverse
    /// document frequency in the catalogue times the query weight, normalised to sum 1; most
    /// weighty first. The frequencies are those of `frequencies` (`SearchIndex::frequencies`).
    pub fn term_weights(&self, text: &str, frequencies: &Frequencies) -> Vec<(String, f32)> {
        let tokens = self.analyzer.analyze(text);
        let total = frequencies.searcher().num_docs();
        self.term_weights_of(&tokens, total, &mut |t| frequencies.document_frequency(t))
    }

    /// `term_weights` of `text`, and the terms its highlights mark (its terms, sub-words and
    /// synonyms, as `query_terms` gives them), from one analysis of it.
    pub fn explained_terms(&self, text: &str, frequencies: &Frequencies) -> (Vec<(String, f32)>, Vec<(String, f32)>) {
        let tokens = self.analyzer.analyze(text);
        let total = frequencies.searcher().num_docs();
        let mut df = |t: &str| frequencies.document_frequency(t);
        let weights = self.term_weights_of(&tokens, total, &mut df);
        (weights, self.query_terms_of(&tokens, usize::MAX, total, &mut df).0)
    }

    /// `term_weights` of analysed text, with `total` records and `df` their frequencies.
    pub(super) fn term_weights_of(
        &self,
        tokens: &[AnalyzedToken],
        total: u64,
        df: &mut dyn FnMut(&str) -> u64,
    ) -> Vec<(String, f32)> {
        let total = total as f32;
        let mut counts: Vec<(&str, usize)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for token in tokens.iter().filter(|t| !t.subword) {
            match at.get(token.text.as_str()) {
                Some(&k) => counts[k].1 += 1,
                None => {
                    at.insert(&token.text, counts.len());
                    counts.push((&token.text, 1));
                }
            }
        }
        let mut weights: Vec<(String, f32)> = counts
            .into_iter()
            .map(|(term, count)| {
                let df = df(term) as f32;
                let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                (term.to_string(), idf * (1.0 + (count as f32).ln()))
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
    #[cfg(test)]
    pub(super) fn query_terms(
        &self,
        text: &str,
        max_terms: usize,
        frequencies: &Frequencies,
    ) -> (Vec<(String, f32)>, bool) {
        let tokens = self.analyzer.analyze(text);
        let total = frequencies.searcher().num_docs();
        self.query_terms_of(&tokens, max_terms, total, &mut |t| frequencies.document_frequency(t))
    }

    /// `query_terms` of analysed text, with `total` records and `df` their frequencies.
    pub(super) fn query_terms_of(
        &self,
        tokens: &[AnalyzedToken],
        max_terms: usize,
        total: u64,
        df: &mut dyn FnMut(&str) -> u64,
    ) -> (Vec<(String, f32)>, bool) {
        // A term the text repeats matters more: weight by 1 + ln(count), in order of first use.
        let mut counts: Vec<(&str, bool, usize)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for token in tokens {
            match at.get(token.text.as_str()) {
                Some(&k) => {
                    counts[k].2 += 1;
                    counts[k].1 &= token.subword;
                }
                None => {
                    at.insert(&token.text, counts.len());
                    counts.push((&token.text, token.subword, 1));
                }
            }
        }
        let weight_of =
            |subword: bool, count: usize| (if subword { SUBWORD_WEIGHT } else { 1.0 }) * (1.0 + (count as f32).ln());
        let pruned = counts.len() > max_terms;
        if pruned {
            let total = total as f32;
            let mut ranked: Vec<(f32, usize)> = counts
                .iter()
                .enumerate()
                .map(|(i, (term, subword, count))| {
                    let df = df(term) as f32;
                    let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                    (idf * weight_of(*subword, *count), i)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut keep: Vec<usize> = ranked.into_iter().take(max_terms).map(|(_, i)| i).collect();
            keep.sort_unstable();
            counts = keep.into_iter().map(|i| counts[i]).collect();
        }
        let mut seen: std::collections::HashSet<&str> = counts.iter().map(|(t, _, _)| *t).collect();
        let mut terms: Vec<(String, f32)> = Vec::new();
        for (term, subword, count) in counts {
            let weight = weight_of(subword, count);
            for synonym in self.analyzer.synonyms(term) {
                if seen.insert(synonym) {
                    terms.push((synonym.clone(), SYNONYM_WEIGHT * weight));
                }
            }
            terms.push((term.to_string(), weight));
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
