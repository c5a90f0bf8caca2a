//! The search API's path: a query read as concepts, ranked in tiers (every concept, some, BM25
//! within), with visibility, filters and facet counts inside the query.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tiers::{self, Admit, Tiers};
use super::*;
pub use crate::domain::record::SortOrder;

/// A search as the index runs it. Visibility is part of the query: what the viewer may not
/// see is neither returned nor counted.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub library: Option<Library>,
    pub viewer_org: String,
    pub viewer_is_staff: bool,
    /// Only the viewer's own organisation's records (one not yet approved to join).
    pub own_only: bool,
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

#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// How many of the matching records the facets counted: all of `total`, or the first
    /// `FACET_CAP` in index order when more match (so a search's cost is bounded).
    pub facets_counted: usize,
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
        let Some(scored) = self.term_union(&parsed.scored_terms()) else {
            return self.collect(&searcher, filter, request, false, Matched::All, &parsed, Vec::new());
        };
        // One pass over the scored terms (`tiers`): records that hold every concept come first,
        // then those that hold some; a record that holds none, matching only through a part of
        // a word or a generic word, is left out. How many hold every concept is counted in the
        // same pass (their score has `ALL_STEP`).
        let required: Vec<&Concept> = parsed.required();
        let key = filter_key(request);
        let tiers = |admit| -> Result<Tiers, IndexError> {
            Ok(Tiers {
                filter: tiers::filter_weight(filter.as_ref(), &searcher)?,
                filter_key: key.clone(),
                required: required.iter().map(|c| (*c).clone()).collect(),
                others: parsed
                    .concepts
                    .iter()
                    .filter(|c| !required.iter().any(|r| std::ptr::eq(*r, *c)))
                    .cloned()
                    .collect(),
                admit,
            })
        };
        let (outcome, visible) = self.collect_tiered(
            &searcher,
            scored.as_ref(),
            request,
            Matched::All,
            &parsed,
            Vec::new(),
            tiers(Admit::HoldingRequired)?,
        )?;
        if outcome.complete > 0 {
            return Ok(outcome);
        }
        // Nothing holds every concept: say which ones no visible record holds, and show the
        // records that hold some.
        let missing = required.iter().zip(visible).filter(|(_, held)| !held).map(|(c, _)| c.text.clone()).collect();
        let (outcome, _) = self.collect_tiered(
            &searcher,
            scored.as_ref(),
            request,
            Matched::Partial,
            &parsed,
            missing,
            tiers(Admit::AnyTerm)?,
        )?;
        Ok(outcome)
    }

    #[cfg(test)]
    /// The ranking of a search, in three tiers: records that hold every required concept
    /// (`ALL_STEP`), then records that hold some (`SOME_STEP`), then, only when nothing holds
    /// them all, records that match through parts of words alone; within a tier the BM25 sum of
    /// every weighted term (words, synonyms, narrower terms, sub-words). Ordering the middle
    /// tier by how many concepts each record holds was measured and is worse (BENCHMARKS.md,
    /// "Search quality").
    pub(super) fn concept_ranking(&self, parsed: &ParsedQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(text) = self.term_union(&parsed.scored_terms()) {
            clauses.push((Occur::Should, text));
        }
        clauses.push((Occur::Should, self.holds_every(parsed)));
        let any: Vec<Box<dyn Query>> = parsed.concepts.iter().map(|c| self.held(c)).collect();
        clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::union(any)), SOME_STEP))));
        Box::new(BooleanQuery::new(clauses))
    }

    #[cfg(test)]
    /// Records that hold every required concept, scored `ALL_STEP`.
    fn holds_every(&self, parsed: &ParsedQuery) -> Box<dyn Query> {
        let every: Vec<(Occur, Box<dyn Query>)> =
            parsed.required().iter().map(|c| (Occur::Must, self.held(c))).collect();
        Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(every)), ALL_STEP))
    }

    #[cfg(test)]
    /// Records that hold a concept: one of its whole terms in a text field, or all its parts.
    pub(super) fn held(&self, concept: &Concept) -> Box<dyn Query> {
        let whole = concept.whole.iter().map(|(term, _)| term.as_str());
        let mut either: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, self.any_term(whole))];
        if !concept.parts.is_empty() {
            let all: Vec<(Occur, Box<dyn Query>)> =
                concept.parts.iter().map(|part| (Occur::Must, self.any_term([part.as_str()]))).collect();
            either.push((Occur::Should, Box::new(BooleanQuery::new(all))));
        }
        Box::new(BooleanQuery::new(either))
    }

    #[cfg(test)]
    /// Records with any of `terms` in a text field (no scoring).
    pub(super) fn any_term<'t>(&self, terms: impl IntoIterator<Item = &'t str>) -> Box<dyn Query> {
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

    /// The search as one tantivy query per pass, nested clauses for the tiers: what `search`
    /// computed before its tiered pass, kept to check that pass against (`tiers::tests`).
    #[cfg(test)]
    pub(super) fn search_by_query(&self, request: &SearchRequest) -> Result<SearchOutcome, IndexError> {
        let searcher = self.reader.searcher();
        let parsed = ParsedQuery::parse(&self.analyzer, &request.text);
        let filter = self.filter_query(request);
        let ranked = self.concept_ranking(&parsed);
        let required = parsed.required();
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

    /// Runs `query` (the filter alone: a search without text) and collects the page, the total
    /// and the facets.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn collect(
        &self,
        searcher: &tantivy::Searcher,
        query: Box<dyn Query>,
        request: &SearchRequest,
        has_text: bool,
        matched: Matched,
        parsed: &ParsedQuery,
        missing: Vec<String>,
    ) -> Result<SearchOutcome, IndexError> {
        Ok(self.collect_with(searcher, query.as_ref(), None, request, has_text, matched, parsed, missing)?.0)
    }

    /// Runs the scored terms `query` in tiers (`tiers`) and collects as `collect` does; with, for
    /// each required concept, whether a record the viewer may see holds it.
    #[allow(clippy::too_many_arguments)]
    fn collect_tiered(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        request: &SearchRequest,
        matched: Matched,
        parsed: &ParsedQuery,
        missing: Vec<String>,
        spec: Tiers,
    ) -> Result<(SearchOutcome, Vec<bool>), IndexError> {
        self.collect_with(searcher, query, Some(spec), request, true, matched, parsed, missing)
    }

    #[allow(clippy::too_many_arguments)]
    fn collect_with(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        tiers: Option<Tiers>,
        request: &SearchRequest,
        has_text: bool,
        matched: Matched,
        parsed: &ParsedQuery,
        missing: Vec<String>,
    ) -> Result<(SearchOutcome, Vec<bool>), IndexError> {
        let mut facet_field = FacetCollector::for_field("facet_field");
        facet_field.add_facet("/");
        let mut facet_region = FacetCollector::for_field("facet_region");
        facet_region.add_facet("/");
        let mut facet_trl = FacetCollector::for_field("facet_trl");
        facet_trl.add_facet("/");
        let mut facet_cooperation = FacetCollector::for_field("facet_cooperation");
        facet_cooperation.add_facet("/");
        let facets = Capped {
            inner: (facet_field, facet_region, facet_trl, facet_cooperation),
            cap: FACET_CAP,
            used: Default::default(),
        };
        let top = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset);
        let counts = (Count, AtLeast(if has_text { ALL_STEP } else { f32::MIN }));
        let (addresses, (total, complete), (facet_counts, facets_counted), visible) =
            if has_text && request.sort == SortOrder::Relevance {
                let ((top, counts, facets), visible) =
                    self.run(searcher, query, tiers, (top.order_by_score(), counts, facets))?;
                (top, counts, facets, visible)
            } else {
                let ((top, counts, facets), visible) = self.run(
                    searcher,
                    query,
                    tiers,
                    (top.order_by_fast_field::<i64>("updated_at", Order::Desc), counts, facets),
                )?;
                (top.into_iter().map(|(_, address)| (0.0, address)).collect(), counts, facets, visible)
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
            field: facet(&facet_counts.0),
            region: facet(&facet_counts.1),
            trl: facet(&facet_counts.2),
            cooperation: facet(&facet_counts.3),
        };
        let outcome =
            SearchOutcome { total, hits, facets, facets_counted, matched, complete, concepts: parsed.words(), missing };
        Ok((outcome, visible))
    }

    /// Runs `query` into `collector`, in tiers when given them.
    fn run<C: tantivy::collector::Collector>(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        tiers: Option<Tiers>,
        collector: C,
    ) -> tantivy::Result<(C::Fruit, Vec<bool>)> {
        match tiers {
            None => Ok((searcher.search(query, &collector)?, Vec::new())),
            Some(spec) => searcher
                .search(query, &tiers::Tiered { inner: collector, fields: self.fields, cache: &self.filters, spec }),
        }
    }

    /// Visibility (as in `domain::record::can_view`) and the request's filters.
    pub(super) fn filter_query(&self, r: &SearchRequest) -> Box<dyn Query> {
        let f = &self.fields;
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let public_open: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, term(f.visibility, "public")),
            (Occur::MustNot, term(f.status, RecordStatus::Withdrawn.code())),
        ]));
        let mut visible = vec![(Occur::Should, term(f.org_id, &r.viewer_org))];
        if !r.own_only {
            visible.push((Occur::Should, public_open));
        }
        if r.viewer_is_staff && !r.own_only {
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
        match r.status {
            Some(status) => must.push((Occur::Must, term(f.status, status.code()))),
            // Expired records are kept but left out unless asked for, as in the listings.
            None => must.push((Occur::MustNot, term(f.status, RecordStatus::Expired.code()))),
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

/// Names what `filter_query` builds from a request: equal names, equal filters.
pub(super) fn filter_key(r: &SearchRequest) -> String {
    format!(
        "{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        r.viewer_org,
        r.viewer_is_staff,
        r.own_only,
        r.library,
        r.field,
        r.region_prefix,
        r.trl_min,
        r.trl_max,
        r.cooperation,
        r.status
    )
}

/// The most matching records a search's facets count: beyond it the counts are of the first
/// this many in index order (the response says how many were counted).
pub const FACET_CAP: usize = 10_000;

/// A collector fed only the first `cap` records collected, across segments; its fruit comes
/// with how many it was fed.
pub(super) struct Capped<C> {
    pub inner: C,
    pub cap: usize,
    pub used: Arc<AtomicUsize>,
}

pub(super) struct CappedSegment<S> {
    inner: S,
    cap: usize,
    used: Arc<AtomicUsize>,
    full: bool,
}

impl<C: tantivy::collector::Collector> tantivy::collector::Collector for Capped<C> {
    type Fruit = (C::Fruit, usize);
    type Child = CappedSegment<C::Child>;

    fn for_segment(
        &self,
        ordinal: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let inner = self.inner.for_segment(ordinal, reader)?;
        Ok(CappedSegment { inner, cap: self.cap, used: self.used.clone(), full: false })
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<Self::Child as tantivy::collector::SegmentCollector>::Fruit>,
    ) -> tantivy::Result<Self::Fruit> {
        let counted = self.used.load(Ordering::Relaxed).min(self.cap);
        Ok((self.inner.merge_fruits(fruits)?, counted))
    }
}

impl<S: tantivy::collector::SegmentCollector> tantivy::collector::SegmentCollector for CappedSegment<S> {
    type Fruit = S::Fruit;

    fn collect(&mut self, doc: tantivy::DocId, score: tantivy::Score) {
        if self.full {
            return;
        }
        if self.used.fetch_add(1, Ordering::Relaxed) >= self.cap {
            self.full = true;
            return;
        }
        self.inner.collect(doc, score);
    }

    fn harvest(self) -> S::Fruit {
        self.inner.harvest()
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
