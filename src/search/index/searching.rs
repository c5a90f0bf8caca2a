//! The search API's path: a query read as concepts, ranked in tiers (every concept, some, BM25
//! within), with visibility, filters and facet counts inside the query.

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
    pub(super) fn concept_ranking(&self, parsed: &ParsedQuery) -> Box<dyn Query> {
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

    /// Runs `query` and collects the page, the total and the facets.
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
