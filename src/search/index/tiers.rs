//! The search API's ranking in one pass over the query's scored terms: which records hold which
//! concepts, and which the viewer may see, are bit sets per segment (the filter's cached, since
//! a segment never changes), so the postings of each term are read once for the score and once,
//! without frequencies, for the concepts, rather than once for every nested clause that names
//! them. The score is the one `SearchIndex::concept_ranking` defines: BM25 of the scored terms,
//! plus `SOME_STEP` for holding a concept and `ALL_STEP` for holding every required one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::fastfield::AliveBitSet;
use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, Query, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

use super::{ALL_STEP, SOME_STEP};
use crate::search::query::Concept;
use crate::search::schema::Fields;

/// Filters kept per segment: beyond this many the cache starts again (a filter is a bit per
/// record: 125 KB per segment entry at a million records).
const CACHED_FILTERS: usize = 128;

/// A set of a segment's documents.
pub(super) struct Bits(Vec<u64>);

impl Bits {
    fn empty(max_doc: DocId) -> Bits {
        Bits(vec![0; (max_doc as usize).div_ceil(64)])
    }

    fn insert(&mut self, doc: DocId) {
        self.0[doc as usize / 64] |= 1 << (doc % 64);
    }

    pub(super) fn contains(&self, doc: DocId) -> bool {
        self.0.get(doc as usize / 64).is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    fn or(&mut self, other: &Bits) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a |= b);
    }

    fn and(&mut self, other: &Bits) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a &= b);
    }

    /// Whether a live document is in both sets.
    fn meets_alive(&self, other: &Bits, alive: Option<&AliveBitSet>) -> bool {
        self.0.iter().zip(&other.0).enumerate().any(|(i, (a, b))| {
            let mut both = a & b;
            while both != 0 {
                let doc = (i * 64) as DocId + both.trailing_zeros();
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    return true;
                }
                both &= both - 1;
            }
            false
        })
    }
}

/// The visibility-and-filters bit sets of recent searches, by segment and filter.
#[derive(Default)]
pub(super) struct FilterCache(Mutex<HashMap<(SegmentId, String), Arc<Bits>>>);

impl FilterCache {
    pub(super) fn get(&self, reader: &SegmentReader, key: &str, weight: &dyn Weight) -> tantivy::Result<Arc<Bits>> {
        let id = (reader.segment_id(), key.to_string());
        if let Some(bits) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(bits.clone());
        }
        let mut bits = Bits::empty(reader.max_doc());
        weight.for_each_no_score(reader, &mut |docs| docs.iter().for_each(|&d| bits.insert(d)))?;
        let bits = Arc::new(bits);
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_FILTERS {
            cache.clear();
        }
        cache.insert(id, bits.clone());
        Ok(bits)
    }
}

/// Which records a pass admits.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Admit {
    /// Those holding a required concept (they all carry `SOME_STEP`).
    HoldingRequired,
    /// Every visible record the scored terms match, `SOME_STEP` for those holding any concept.
    AnyTerm,
}

/// Wraps the collectors of a search run over the scored terms alone: admits what the viewer
/// may see and the pass admits, and adds the concept tiers to the BM25 score. Its fruit comes
/// with, for each required concept, whether a record the viewer may see holds it.
pub(super) struct Tiered<'a, C> {
    pub inner: C,
    pub fields: Fields,
    pub cache: &'a FilterCache,
    pub spec: Tiers,
}

/// What a tiered pass needs besides its collectors.
pub(super) struct Tiers {
    /// Visibility and the request's filters, with scoring disabled.
    pub filter: Box<dyn Weight>,
    /// Names the filter in the cache: equal keys, equal filters.
    pub filter_key: String,
    pub required: Vec<Concept>,
    /// The query's other (generic) concepts: holding one earns `SOME_STEP` too.
    pub others: Vec<Concept>,
    pub admit: Admit,
}

/// The filter's weight, without scoring.
pub(super) fn filter_weight(filter: &dyn Query, searcher: &tantivy::Searcher) -> tantivy::Result<Box<dyn Weight>> {
    filter.weight(EnableScoring::disabled_from_searcher(searcher))
}

pub(super) struct TieredSegment<S> {
    inner: S,
    filter: Arc<Bits>,
    /// Admit only the records in `some`.
    holders_only: bool,
    some: Bits,
    every: Bits,
    /// For each required concept: whether a record of the segment the viewer may see holds it.
    visible: Vec<bool>,
}

impl<C> Tiered<'_, C> {
    /// The records of a segment holding `concept`: one of its whole terms in a text field, or
    /// all its parts (as `SearchIndex::held`).
    fn held(&self, reader: &SegmentReader, concept: &Concept) -> tantivy::Result<Bits> {
        let mut bits = self.any_of(reader, concept.whole.iter().map(|(t, _)| t.as_str()))?;
        if !concept.parts.is_empty() {
            let mut all: Option<Bits> = None;
            for part in &concept.parts {
                let held = self.any_of(reader, [part.as_str()])?;
                match &mut all {
                    None => all = Some(held),
                    Some(all) => all.and(&held),
                }
            }
            if let Some(all) = all {
                bits.or(&all);
            }
        }
        Ok(bits)
    }

    /// The records of a segment with any of `terms` in a text field.
    fn any_of<'t>(&self, reader: &SegmentReader, terms: impl IntoIterator<Item = &'t str>) -> tantivy::Result<Bits> {
        let mut bits = Bits::empty(reader.max_doc());
        let f = &self.fields;
        let inverted =
            [reader.inverted_index(f.title)?, reader.inverted_index(f.keywords)?, reader.inverted_index(f.body)?];
        for term in terms {
            for (index, field) in inverted.iter().zip([f.title, f.keywords, f.body]) {
                let Some(mut postings) =
                    index.read_postings(&Term::from_field_text(field, term), IndexRecordOption::Basic)?
                else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    bits.insert(doc);
                    doc = postings.advance();
                }
            }
        }
        Ok(bits)
    }
}

impl<C: Collector> Collector for Tiered<'_, C> {
    type Fruit = (C::Fruit, Vec<bool>);
    type Child = TieredSegment<C::Child>;

    fn for_segment(&self, ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let spec = &self.spec;
        let filter = self.cache.get(reader, &spec.filter_key, spec.filter.as_ref())?;
        let mut some = Bits::empty(reader.max_doc());
        let mut every: Option<Bits> = None;
        let mut visible = Vec::with_capacity(spec.required.len());
        for concept in &spec.required {
            let held = self.held(reader, concept)?;
            some.or(&held);
            visible.push(held.meets_alive(&filter, reader.alive_bitset()));
            match &mut every {
                None => every = Some(held),
                Some(every) => every.and(&held),
            }
        }
        // A pass that admits only holders of a required concept gives every record it admits
        // `SOME_STEP`: the generic concepts' holders matter only to the other pass.
        let holders_only = spec.admit == Admit::HoldingRequired;
        if !holders_only {
            for concept in &spec.others {
                some.or(&self.held(reader, concept)?);
            }
        }
        Ok(TieredSegment {
            inner: self.inner.for_segment(ordinal, reader)?,
            filter,
            holders_only,
            some,
            every: every.unwrap_or_else(|| Bits::empty(reader.max_doc())),
            visible,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<<Self::Child as SegmentCollector>::Fruit>) -> tantivy::Result<Self::Fruit> {
        let (inner, held): (Vec<_>, Vec<Vec<bool>>) = fruits.into_iter().unzip();
        let mut visible = vec![false; self.spec.required.len()];
        for segment in held {
            visible.iter_mut().zip(segment).for_each(|(v, s)| *v |= s);
        }
        Ok((self.inner.merge_fruits(inner)?, visible))
    }
}

impl<S: SegmentCollector> SegmentCollector for TieredSegment<S> {
    type Fruit = (S::Fruit, Vec<bool>);

    fn collect(&mut self, doc: DocId, score: Score) {
        let holds_some = self.some.contains(doc);
        if !self.filter.contains(doc) || (self.holders_only && !holds_some) {
            return;
        }
        let mut score = score;
        if holds_some {
            score += SOME_STEP;
        }
        if self.every.contains(doc) {
            score += ALL_STEP;
        }
        self.inner.collect(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        (self.inner.harvest(), self.visible)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SearchIndex, SearchOutcome, SearchRequest, SortOrder};
    use crate::domain::record::{Library, RecordMeta};
    use crate::domain::vocab::{CooperationMode, RecordStatus, TechField, Visibility};
    use crate::search::analyzer::Analyzer;
    use crate::search::schema::IndexRecord;

    const WORDS: &[&str] = &[
        "固态电池",
        "锂电池",
        "电池",
        "催化剂",
        "加氢",
        "稳定性",
        "热管理",
        "储能系统",
        "新能源汽车",
        "电解液",
        "正极材料",
        "膜分离",
        "污水处理",
        "智能制造",
        "工业机器人",
        "视觉检测",
        "数控机床",
        "碳纤维",
        "复合材料",
        "生物医药",
        "疫苗",
        "基因编辑",
        "传感器",
        "芯片",
        "光伏",
        "氢能",
        "燃料电池",
        "钻井",
        "页岩气",
        "技术",
        "提高",
        "方法",
        "系统",
        "固态",
        "机器人",
        "AI",
        "5G",
    ];
    const QUERIES: &[&str] = &[
        "固态电池",
        "催化剂 加氢 稳定性",
        "锂电池 热管理",
        "固態電池 电解液",
        "智能制造 视觉检测 机器人",
        "量子计算",
        "量子计算 光伏",
        "技术",
        "提高 方法",
        "储能系统 技术",
        "碳纤维复合材料",
        "AI 芯片 传感器",
        "页岩气 钻井 稳定性",
        "燃料电池 氢能",
        "电池",
        "疫苗 基因编辑 生物医药",
    ];

    /// A small random-looking but fixed catalogue in three commits (so three segments), with a
    /// few records replaced and deleted, every visibility and status, two libraries.
    fn catalogue(dir: &std::path::Path) -> SearchIndex {
        let index = SearchIndex::open_or_create(dir, Analyzer::shipped()).expect("index");
        let mut state: u64 = 7;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let fields = [TechField::NewEnergy, TechField::NewMaterials, TechField::Biomedicine, TechField::Petrochemical];
        let modes = [CooperationMode::Transfer, CooperationMode::JointDevelopment, CooperationMode::LicenseOpen];
        let statuses = [
            RecordStatus::Open,
            RecordStatus::Open,
            RecordStatus::Open,
            RecordStatus::Expired,
            RecordStatus::Withdrawn,
        ];
        let visibilities = [Visibility::Public, Visibility::Public, Visibility::Managers, Visibility::Private];
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a time");
        for (batch, seq) in [(0..700usize, 1), (700..1400, 2), (1400..2000, 3)] {
            let mut metas = Vec::new();
            let mut texts = Vec::new();
            for i in batch.clone() {
                let mut pick = |k: usize| (0..k).map(|_| WORDS[next(WORDS.len())]).collect::<Vec<_>>();
                let title = format!("{}的{}研究", pick(2).join(""), pick(1)[0]);
                let keywords: Vec<String> = pick(2).into_iter().map(String::from).collect();
                let body =
                    format!("本项目针对{}，开展{}。{}", pick(3).join("、"), pick(2).join("与"), pick(2).join("和"));
                let mut meta =
                    RecordMeta::new(format!("r{i:05}"), format!("org{}", next(4)), "单位".into(), "u".into(), now);
                meta.status = statuses[next(statuses.len())];
                meta.updated_at = now - chrono::Duration::seconds(next(100_000) as i64);
                metas.push(meta);
                let region = ["370502", "370105", "110000"][next(3)];
                let library = if next(3) == 0 { Library::Needs } else { Library::Achievements };
                let extra = (fields[next(4)], visibilities[next(4)], next(10), modes[next(3)], region, library);
                texts.push((title, keywords, body, extra));
            }
            let records: Vec<IndexRecord<'_>> = metas
                .iter()
                .zip(&texts)
                .map(|(meta, (title, keywords, body, (field, visibility, trl, mode, region, library)))| IndexRecord {
                    library: *library,
                    meta,
                    visibility: *visibility,
                    field: field.code(),
                    region,
                    trl: (*trl > 0 && *library == Library::Achievements).then_some(*trl as u8),
                    cooperation: std::slice::from_ref(mode),
                    title,
                    keywords,
                    body: vec![body.as_str()],
                })
                .collect();
            // A few of the previous batch's records go (deleted documents stay in their segment).
            let deleted: Vec<String> =
                (0..20).map(|k| format!("r{:05}", batch.start.saturating_sub(1 + k * 7))).collect();
            index.apply(&records, if seq > 1 { &deleted } else { &[] }, seq).expect("apply");
        }
        index
    }

    fn same(label: &str, tiered: &SearchOutcome, reference: &SearchOutcome) {
        assert_eq!(tiered.total, reference.total, "{label}: total");
        assert_eq!(tiered.complete, reference.complete, "{label}: complete");
        assert_eq!(tiered.matched, reference.matched, "{label}: matched");
        assert_eq!(tiered.missing, reference.missing, "{label}: missing");
        assert_eq!(tiered.facets, reference.facets, "{label}: facets");
        assert_eq!(tiered.facets_counted, reference.facets_counted, "{label}: facets counted");
        assert_eq!(tiered.hits.len(), reference.hits.len(), "{label}: page");
        for (i, (a, b)) in tiered.hits.iter().zip(&reference.hits).enumerate() {
            // The same score (summed in another order); records with equal scores may swap.
            assert!((a.score - b.score).abs() < 0.01, "{label}: score at {i}: {} vs {}", a.score, b.score);
            if a.id != b.id {
                let b_score_of_a = reference.hits.iter().find(|h| h.id == a.id).map(|h| h.score);
                assert!(
                    b_score_of_a.is_some_and(|s| (s - a.score).abs() < 0.01),
                    "{label}: at {i} {} (score {}) where the reference has {} (score {})",
                    a.id,
                    a.score,
                    b.id,
                    b.score
                );
            }
        }
    }

    /// A batch's `Counterparts` retrieves exactly what `retrieve` does, record by record (the
    /// same candidates, bit for bit the same scores and coverage), with terms left out or not,
    /// for a record of either library, over segments with deleted records and every visibility.
    #[test]
    fn counterparts_retrieve_exactly_what_the_index_retrieves() {
        let dir = tempfile::tempdir().expect("dir");
        let index = catalogue(dir.path());
        let mut compared = 0;
        for library in [Library::Needs, Library::Achievements] {
            let request = SearchRequest {
                library: Some(library),
                viewer_is_staff: true,
                status: Some(RecordStatus::Open),
                ..SearchRequest::default()
            };
            let counterparts = index.counterparts(&request).expect("counterparts");
            assert!(!counterparts.is_empty());
            for text in
                QUERIES.iter().chain(&["固态电池的热管理研究，本项目针对电解液、正极材料与稳定性，开展加氢和催化剂"])
            {
                for (max_terms, limit) in [(48, 30), (2, 30), (3, 5), (48, 400)] {
                    let request = SearchRequest { text: text.to_string(), limit, ..request.clone() };
                    let direct = index.retrieve(&request, max_terms).expect("retrieve");
                    let batched = counterparts.retrieve(&index, &request, max_terms).expect("counterparts");
                    assert_eq!(batched, direct, "{text} ({library:?}, {max_terms} terms, top {limit})");
                    compared += usize::from(!direct.is_empty());
                }
            }
        }
        assert!(compared > 40, "{compared}");
    }

    /// The matcher's first stage (term at a time over the `text` view, the filter from the
    /// cached bit set) ranks what tantivy's own query over that field ranks: the union of the
    /// weighted terms, AND visibility and filters, top k; for every viewer, over segments with
    /// deleted records.
    #[test]
    fn the_first_stage_ranks_the_text_view_as_tantivy_does() {
        use crate::search::index::terms::TermTable;
        use tantivy::Term;
        use tantivy::collector::TopDocs;
        use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
        use tantivy::schema::IndexRecordOption;
        let dir = tempfile::tempdir().expect("dir");
        let index = catalogue(dir.path());
        let searcher = index.reader.searcher();
        let viewers = [("org1", false, false), ("org2", true, false), ("org3", false, true), ("nobody", false, false)];
        let mut compared = 0;
        for (org, staff, own_only) in viewers {
            for library in [Some(Library::Achievements), None] {
                for text in QUERIES
                    .iter()
                    .chain(&["固态电池的热管理研究，本项目针对电解液、正极材料与稳定性，开展加氢和催化剂"])
                {
                    let request = SearchRequest {
                        viewer_org: org.to_string(),
                        viewer_is_staff: staff,
                        own_only,
                        library,
                        ..SearchRequest::default()
                    };
                    let (terms, _) = index.query_terms(text, 3, &index.frequencies());
                    for k in [5, 40, 3000] {
                        let mut table = TermTable::new(&searcher, &index.fields).expect("table");
                        let ours = index.first_stage(&mut table, &terms, &request, k).expect("first stage");
                        let union: Vec<(Occur, Box<dyn Query>)> = terms
                            .iter()
                            .map(|(t, w)| {
                                let q = TermQuery::new(
                                    Term::from_field_text(index.fields.text, t),
                                    IndexRecordOption::WithFreqs,
                                );
                                (Occur::Should, Box::new(BoostQuery::new(Box::new(q), *w)) as Box<dyn Query>)
                            })
                            .collect();
                        let query = BooleanQuery::new(vec![
                            (Occur::Must, Box::new(BooleanQuery::new(union)) as Box<dyn Query>),
                            (Occur::Must, Box::new(ConstScoreQuery::new(index.filter_query(&request), 0.0))),
                        ]);
                        let reference =
                            searcher.search(&query, &TopDocs::with_limit(k).order_by_score()).expect("search");
                        let label = format!("{text} ({org}, {library:?}, top {k})");
                        assert_eq!(ours.len(), reference.len(), "{label}");
                        for (i, ((score, address), (expected, at))) in ours.iter().zip(&reference).enumerate() {
                            assert!((score - expected).abs() < 1e-3, "{label}: score at {i}: {score} vs {expected}");
                            if address != at {
                                let theirs = reference.iter().find(|(_, a)| a == address).map(|(s, _)| *s);
                                assert!(theirs.is_some_and(|s| (s - score).abs() < 1e-3), "{label}: at {i}");
                            }
                        }
                        compared += usize::from(!ours.is_empty());
                    }
                }
            }
        }
        assert!(compared > 200, "{compared}");
    }

    #[test]
    fn the_tiered_pass_finds_counts_and_ranks_what_the_nested_query_did() {
        let dir = tempfile::tempdir().expect("dir");
        let index = catalogue(dir.path());
        let viewers = [("org1", false, false), ("org2", true, false), ("org3", false, true), ("nobody", false, false)];
        let mut compared = 0;
        let mut partial = 0;
        for text in QUERIES {
            for (org, staff, own_only) in viewers {
                for variant in 0..4 {
                    let mut request = SearchRequest {
                        text: text.to_string(),
                        viewer_org: org.into(),
                        viewer_is_staff: staff,
                        own_only,
                        limit: 20,
                        ..SearchRequest::default()
                    };
                    match variant {
                        1 => request.library = Some(Library::Achievements),
                        2 => {
                            request.field = Some(TechField::NewEnergy);
                            request.trl_min = Some(4);
                            request.offset = 5;
                        }
                        3 => {
                            request.sort = SortOrder::Newest;
                            request.status = Some(RecordStatus::Expired);
                        }
                        _ => {}
                    }
                    let label = format!("{text} as {org} (staff {staff}, own {own_only}), variant {variant}");
                    let tiered = index.search(&request).expect("search");
                    let reference = index.search_by_query(&request).expect("reference");
                    same(&label, &tiered, &reference);
                    // The filter is cached by segment: a second run reads it from the cache.
                    same(&label, &index.search(&request).expect("again"), &reference);
                    compared += 1;
                    partial += usize::from(reference.matched == crate::search::query::Matched::Partial);
                }
            }
        }
        assert_eq!(compared, QUERIES.len() * 16);

        // Past the cap, the facets count the first records and say how many.
        let searcher = index.reader.searcher();
        let live = searcher.search(&tantivy::query::AllQuery, &tantivy::collector::Count).expect("count");
        for (cap, counted) in [(50, 50), (live + 1, live)] {
            let capped =
                super::super::searching::Capped { inner: tantivy::collector::Count, cap, used: Default::default() };
            let (seen, reported) = searcher.search(&tantivy::query::AllQuery, &capped).expect("capped");
            assert_eq!((seen, reported), (counted, counted), "cap {cap} over {live} records");
        }
        assert!(partial > 10, "the partial pass was compared too ({partial} times)");
    }
}
