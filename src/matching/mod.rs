//! Turns a need (or an achievement) into ranked candidates from the other library.
//!
//! Retrieval is the search index's weighted term query over the whole record (title,
//! description, targets, keywords). The candidates are then re-ranked with evidence a person
//! would use, each part measured on the evaluation's dev split (BENCHMARKS.md):
//! - the technical field, as a distribution: the record's declared field, the fields of the
//!   strongest candidates, and the fields of the candidates whose specific keywords occur in the
//!   record's text; a candidate's text and keyword evidence is multiplied by its field's share,
//!   so a strong text match in an unlikely field ranks below a fair one in the likely field;
//! - the candidate's own keywords found in the record's text, weighted by how specific each
//!   keyword is in the catalogue;
//! - keyword feedback: specific keywords shared by the best candidates of the first pass (and by
//!   counterparts a manager accepted) lift the candidates that carry them too;
//! - manager decisions: counterparts rejected as `field_mismatch` take weight from their field.

pub mod duplicates;
pub mod fit;
pub mod service;

use std::collections::{HashMap, HashSet};

use crate::search::analyzer::normalize_text;
use crate::search::index::{Counterparts, IndexError, Retrieved, SearchIndex, SearchRequest};

/// Identifies the ranking method; stored with every suggestion so a score can be reproduced.
pub const MATCHER_VERSION: &str = "match-2";

/// The knobs of the ranking, with values chosen on the evaluation's dev split (BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
pub struct MatchParams {
    /// How many candidates the index returns for re-ranking.
    pub candidates: usize,
    /// How many of the strongest candidates vote on the field.
    pub field_voters: usize,
    /// Weight of the keyword-to-field vote next to the candidates' vote (which weighs 1).
    pub keyword_field_vote: f32,
    /// The part of a candidate's score its field cannot take away: score ∝ (floor + share).
    pub field_floor: f32,
    /// Weight of keyword evidence relative to the normalised text score.
    pub keyword_weight: f32,
    /// How many first-pass candidates lend their keywords as feedback.
    pub feedback_depth: usize,
    /// Weight of keyword feedback.
    pub feedback_weight: f32,
    /// How many of the record's terms (those of most weight) retrieve the candidates; twice as
    /// many candidates are then scored with all the terms. A title has fewer; a description
    /// often three times as many, and its common words cost the most to retrieve with.
    pub max_terms: usize,
}

impl MatchParams {
    /// The defaults with `name=value` pairs (separated by commas) applied, for tuning.
    pub fn parse(text: &str) -> Result<MatchParams, String> {
        let mut params = MatchParams::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}`: write name=value"))?;
            let number = |v: &str| v.parse::<f32>().map_err(|e| format!("{key}: {e}"));
            match key {
                "candidates" => params.candidates = value.parse().map_err(|e| format!("{key}: {e}"))?,
                "field_voters" => params.field_voters = value.parse().map_err(|e| format!("{key}: {e}"))?,
                "keyword_field_vote" => params.keyword_field_vote = number(value)?,
                "field_floor" => params.field_floor = number(value)?,
                "keyword_weight" => params.keyword_weight = number(value)?,
                "feedback_depth" => params.feedback_depth = value.parse().map_err(|e| format!("{key}: {e}"))?,
                "feedback_weight" => params.feedback_weight = number(value)?,
                "max_terms" => params.max_terms = value.parse().map_err(|e| format!("{key}: {e}"))?,
                other => {
                    return Err(format!(
                        "unknown parameter `{other}`: use candidates, field_voters, keyword_field_vote, field_floor, \
                         keyword_weight, feedback_depth, feedback_weight or max_terms"
                    ));
                }
            }
        }
        Ok(params)
    }
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams {
            candidates: 200,
            field_voters: 20,
            keyword_field_vote: 0.3,
            field_floor: 0.05,
            keyword_weight: 1.0,
            feedback_depth: 10,
            feedback_weight: 0.2,
            max_terms: 48,
        }
    }
}

/// What managers decided about this record's earlier suggestions.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    /// Keywords of counterparts a manager accepted: they count as keyword feedback at full
    /// strength.
    pub accepted_keywords: Vec<String>,
    /// Fields of counterparts rejected as `field_mismatch`: each halves its field's share.
    pub rejected_fields: Vec<String>,
}

/// The record to find matches for.
#[derive(Debug, Clone, Default)]
pub struct MatchInput {
    /// Title, description, targets and keywords, as one text.
    pub text: String,
    /// The declared field's code (or discipline), if any.
    pub field: Option<String>,
    /// Its own id, left out of the results.
    pub exclude_id: Option<String>,
    pub feedback: Feedback,
}

/// The field distribution the ranking used, most likely first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldEvidence {
    /// The declared field, if any.
    pub declared: Option<String>,
    /// (field, share) with shares summing to 1; empty when nothing could be said.
    pub shares: Vec<(String, f32)>,
}

impl FieldEvidence {
    /// The share of `field`.
    pub fn share(&self, field: &str) -> f32 {
        self.shares.iter().find(|(f, _)| f == field).map(|(_, s)| *s).unwrap_or(0.0)
    }

    /// The most likely field, if any.
    pub fn likely(&self) -> Option<(&str, f32)> {
        self.shares.first().map(|(f, s)| (f.as_str(), *s))
    }
}

/// A ranked candidate with the parts of its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub retrieved: Retrieved,
    /// 0..1, comparable across rankings (see `calibrate`).
    pub score: f32,
    /// The text score relative to the best candidate's (0..1).
    pub text: f32,
    /// The share of the candidate's field in the record's field distribution.
    pub field_share: f32,
    /// The share of the record's term weight the candidate contains (absolute, 0..1).
    pub coverage: f32,
    /// The ranking's own measure (text, keyword, feedback and field evidence), which orders
    /// the candidates; `score` is what it is shown as.
    pub rank_score: f32,
    /// The candidate's keywords that occur in the record's text, with their specificity weight.
    pub keyword_hits: Vec<(String, f32)>,
    /// The candidate's keywords shared with the best candidates or accepted counterparts.
    pub feedback_keywords: Vec<String>,
}

/// The ranking of one record's candidates.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub field: FieldEvidence,
    pub candidates: Vec<Candidate>,
}

/// A candidate keyword at most this often in the catalogue (share of records, at least 50) is
/// specific enough to lend feedback.
const FEEDBACK_MAX_SHARE: f64 = 0.025;
/// Keyword evidence and feedback are each capped, so no single part dominates.
const EVIDENCE_CAP: f32 = 2.0;

/// What rankings on one index learn about keywords, kept across the rankings of a batch: each
/// keyword normalised, and in how many records it occurs (`SearchIndex::keyword_frequency`).
/// Both depend only on the text and the index, so a ranking finds the same with a memo of
/// earlier rankings as with an empty one.
#[derive(Default)]
pub struct KeywordMemo {
    normalized: HashMap<String, String>,
    frequency: HashMap<String, u64>,
}

impl KeywordMemo {
    /// `normalize_text` of `text`.
    fn normalized(&mut self, text: &str) -> String {
        if let Some(found) = self.normalized.get(text) {
            return found.clone();
        }
        let normalized = normalize_text(text);
        self.normalized.insert(text.to_string(), normalized.clone());
        normalized
    }
}

/// How specific each keyword is in the catalogue, looked up once per ranking.
struct Specificity<'a> {
    index: &'a SearchIndex,
    catalogue: u64,
    known: HashMap<String, (f32, u64)>,
    memo: &'a mut KeywordMemo,
}

impl Specificity<'_> {
    /// (specificity weight, document frequency) of a keyword.
    fn of(&mut self, keyword: &str) -> (f32, u64) {
        let key = self.memo.normalized(keyword);
        if let Some(known) = self.known.get(&key) {
            return *known;
        }
        let index = self.index;
        let df = *self.memo.frequency.entry(keyword.to_string()).or_insert_with(|| index.keyword_frequency(keyword).0);
        let found = (specific(df, self.catalogue), df);
        self.known.insert(key, found);
        found
    }
}

/// Keyword feedback: the weight each keyword is lent by the first pass's best candidates and
/// the accepted counterparts, and what each candidate lent itself (which it may not use).
#[derive(Default)]
struct Lent {
    total: HashMap<String, f32>,
    by: HashMap<(usize, String), f32>,
}

impl Lent {
    /// The feedback a candidate receives from the others: (lift, the keywords that lift it).
    fn received(&self, i: usize, r: &Retrieved, memo: &mut KeywordMemo) -> (f32, Vec<String>) {
        let mut keywords = Vec::new();
        let mut lift = 0.0;
        for k in own_keywords(r, memo) {
            if let Some(w) = self.total.get(&k) {
                let own = self.by.get(&(i, k.clone())).copied().unwrap_or(0.0);
                if w - own > 1e-6 {
                    lift += w - own;
                    keywords.push(k);
                }
            }
        }
        (lift, keywords)
    }
}

/// Ranks the candidates of `request`'s library for `input`. `request` carries the viewer,
/// filters and how many results to return; its text is replaced by the input's.
pub fn rank(
    index: &SearchIndex,
    input: &MatchInput,
    request: SearchRequest,
    params: &MatchParams,
) -> Result<Ranking, IndexError> {
    rank_among(index, None, &mut KeywordMemo::default(), input, request, params)
}

/// `rank`, the candidates retrieved among `among` (taken from `index` with `request`'s
/// filters, for a batch of records) when given: the same ranking.
pub fn rank_among(
    index: &SearchIndex,
    among: Option<&Counterparts>,
    memo: &mut KeywordMemo,
    input: &MatchInput,
    mut request: SearchRequest,
    params: &MatchParams,
) -> Result<Ranking, IndexError> {
    let wanted = request.limit;
    request.text = input.text.clone();
    request.limit = params.candidates.max(wanted);
    let retrieved = match among {
        Some(counterparts) => counterparts.retrieve(index, &request, params.max_terms)?,
        None => index.retrieve(&request, params.max_terms)?,
    };
    Ok(rank_retrieved(index, memo, input, retrieved, wanted, params))
}

/// The ranking of the candidates `retrieve` found.
fn rank_retrieved(
    index: &SearchIndex,
    memo: &mut KeywordMemo,
    input: &MatchInput,
    mut retrieved: Vec<Retrieved>,
    wanted: usize,
    params: &MatchParams,
) -> Ranking {
    if let Some(own) = &input.exclude_id {
        retrieved.retain(|r| &r.id != own);
    }
    let Some(best) = retrieved.first().map(|r| r.score).filter(|s| *s > 0.0) else {
        return Ranking {
            field: FieldEvidence { declared: input.field.clone(), shares: Vec::new() },
            candidates: Vec::new(),
        };
    };
    let catalogue = index.num_docs().max(1);
    let mut specificity = Specificity { index, catalogue, known: HashMap::new(), memo };
    let hits = keyword_hits(&retrieved, &normalize_text(&input.text), &mut specificity);
    let field = field_distribution(&retrieved, &hits, input, params, catalogue, best);
    let first: Vec<f32> = retrieved
        .iter()
        .zip(&hits)
        .map(|(r, h)| {
            (r.score / best + params.keyword_weight * evidence(h)) * (params.field_floor + field.share(&r.field))
        })
        .collect();
    let lent = feedback(&retrieved, &first, input, params, &mut specificity);
    let mut candidates: Vec<Candidate> = retrieved
        .into_iter()
        .zip(hits)
        .enumerate()
        .map(|(i, (r, keyword_hits))| {
            let (lift, feedback_keywords) = lent.received(i, &r, specificity.memo);
            let text_score = r.score / best;
            let field_share = field.share(&r.field);
            let raw = (text_score
                + params.keyword_weight * evidence(&keyword_hits)
                + params.feedback_weight * lift.min(EVIDENCE_CAP))
                * (params.field_floor + field_share);
            let coverage = r.coverage;
            Candidate {
                retrieved: r,
                score: percentage(calibrate(raw), coverage),
                rank_score: raw,
                text: text_score,
                field_share,
                coverage,
                keyword_hits,
                feedback_keywords,
            }
        })
        .collect();
    candidates.sort_by(|a, b| b.rank_score.total_cmp(&a.rank_score).then_with(|| a.retrieved.id.cmp(&b.retrieved.id)));
    candidates.truncate(wanted);
    Ranking { field, candidates }
}

/// A candidate's keyword evidence: the sum of its hits' weights, capped.
fn evidence(hits: &[(String, f32)]) -> f32 {
    hits.iter().map(|(_, w)| w).sum::<f32>().min(EVIDENCE_CAP)
}

/// Each candidate's keywords that occur in the record's (normalised) text, with their
/// specificity; a candidate's field name among its keywords is not one.
fn keyword_hits(retrieved: &[Retrieved], text: &str, specificity: &mut Specificity) -> Vec<Vec<(String, f32)>> {
    retrieved
        .iter()
        .map(|r| {
            let field = specificity.memo.normalized(&r.field);
            r.keywords
                .iter()
                .filter_map(|k| {
                    let normalized = specificity.memo.normalized(k);
                    if normalized.chars().count() < 2 || normalized == field || !text.contains(&normalized) {
                        return None;
                    }
                    Some((k.clone(), specificity.of(k).0))
                })
                .collect()
        })
        .collect()
}

/// Keyword feedback from the first pass's best candidates (by their first-pass score `first`)
/// and from the keywords of the counterparts a manager accepted.
fn feedback(
    retrieved: &[Retrieved],
    first: &[f32],
    input: &MatchInput,
    params: &MatchParams,
    specificity: &mut Specificity,
) -> Lent {
    let mut order: Vec<usize> = (0..retrieved.len()).collect();
    order.sort_by(|&a, &b| first[b].total_cmp(&first[a]).then_with(|| retrieved[a].id.cmp(&retrieved[b].id)));
    let top_score = first[order[0]].max(f32::MIN_POSITIVE);
    let max_df = ((specificity.catalogue as f64 * FEEDBACK_MAX_SHARE) as u64).max(50);
    let mut lent = Lent::default();
    for &i in order.iter().take(params.feedback_depth) {
        for k in own_keywords(&retrieved[i], specificity.memo) {
            let (weight, df) = specificity.of(&k);
            if (2..=max_df).contains(&df) {
                let w = first[i] / top_score * weight;
                *lent.total.entry(k.clone()).or_default() += w;
                *lent.by.entry((i, k)).or_default() += w;
            }
        }
    }
    for k in &input.feedback.accepted_keywords {
        let (weight, _) = specificity.of(k);
        *lent.total.entry(normalize_text(k)).or_default() += weight;
    }
    lent
}

/// The evidence as a score in 0..1 that means the same for every record: 1 − e^(−evidence).
/// A candidate whose text leads in the likely field scores about 0.6; with specific keywords
/// in common, 0.8 and more; a candidate in an unlikely field stays low whatever its text.
fn calibrate(raw: f32) -> f32 {
    (1.0 - (-raw).exp()).clamp(0.0, 1.0)
}

/// The score shown (匹配度): the ranking's calibrated evidence, held down by the text evidence
/// alone. Field and keyword evidence order the candidates, but a candidate shares little of the
/// record's wording (coverage: the share of its term weight found) cannot score high: the
/// geometric mean of the two, so both must be high for a high score. BENCHMARKS.md gives the
/// share of related pairs by score on the evaluation set.
fn percentage(evidence: f32, coverage: f32) -> f32 {
    (evidence * coverage.clamp(0.0, 1.0)).sqrt().clamp(0.0, 1.0)
}

/// A candidate's keywords, normalised, without its field's name.
fn own_keywords(r: &Retrieved, memo: &mut KeywordMemo) -> Vec<String> {
    let field = memo.normalized(&r.field);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for k in &r.keywords {
        let k = memo.normalized(k);
        if k.chars().count() >= 2 && k != field && seen.insert(k.clone()) {
            out.push(k);
        }
    }
    out
}

/// The field distribution: the strongest candidates vote with their text score; each keyword
/// found in the text votes for the fields of the candidates carrying it; a declared field holds
/// half; fields of counterparts rejected as `field_mismatch` lose half their share each time.
fn field_distribution(
    retrieved: &[Retrieved],
    hits: &[Vec<(String, f32)>],
    input: &MatchInput,
    params: &MatchParams,
    catalogue: u64,
    best: f32,
) -> FieldEvidence {
    let mut votes: HashMap<&str, f32> = HashMap::new();
    for r in retrieved.iter().take(params.field_voters).filter(|r| !r.field.is_empty()) {
        *votes.entry(r.field.as_str()).or_default() += r.score / best;
    }
    let mut shares = normalise(votes);
    let mut carriers: HashMap<String, HashMap<&str, f32>> = HashMap::new();
    for (r, h) in retrieved.iter().zip(hits).filter(|(r, _)| !r.field.is_empty()) {
        for (k, _) in h {
            *carriers.entry(normalize_text(k)).or_default().entry(r.field.as_str()).or_default() += 1.0;
        }
    }
    let mut keyword_votes: HashMap<&str, f32> = HashMap::new();
    for fields in carriers.values() {
        let carried: f32 = fields.values().sum();
        let weight = specific(carried as u64, catalogue);
        for (f, n) in fields {
            *keyword_votes.entry(f).or_default() += n / carried * weight;
        }
    }
    for (f, s) in normalise(keyword_votes) {
        *shares.entry(f).or_default() += params.keyword_field_vote * s;
    }
    let mut shares = normalise(shares);
    if let Some(declared) = input.field.as_deref() {
        shares.values_mut().for_each(|s| *s *= 0.5);
        *shares.entry(declared).or_default() += 0.5;
    }
    for rejected in &input.feedback.rejected_fields {
        if let Some(s) = shares.get_mut(rejected.as_str()) {
            *s *= 0.5;
        }
    }
    let mut shares: Vec<(String, f32)> = normalise(shares).into_iter().map(|(f, s)| (f.to_string(), s)).collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    FieldEvidence { declared: input.field.clone(), shares }
}

fn normalise(mut votes: HashMap<&str, f32>) -> HashMap<&str, f32> {
    let total: f32 = votes.values().sum();
    if total > 0.0 {
        votes.values_mut().for_each(|v| *v /= total);
    } else {
        votes.clear();
    }
    votes
}

/// How specific a keyword is that `df` of `catalogue` records carry: inverse document frequency
/// scaled to about 1 for a keyword a handful of records share, near 0 for one most records have.
fn specific(df: u64, catalogue: u64) -> f32 {
    let idf = ((catalogue as f32 + 1.0) / (df as f32 + 1.0)).ln();
    let max = (catalogue as f32 + 1.0).ln();
    (idf / max * 1.5).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::new_id;
    use crate::eval::{EvalRecord, achievement};
    use crate::search::analyzer::Analyzer;
    use crate::search::schema::IndexRecord;

    fn record(id: &str, title: &str, keywords: &[&str], field: &str) -> EvalRecord {
        EvalRecord {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            field: Some(field.into()),
        }
    }

    /// An index of the records, each under its discipline as field; returns index ids by
    /// evaluation id.
    fn index(records: &[EvalRecord]) -> (SearchIndex, HashMap<String, String>) {
        let index = SearchIndex::in_memory(Analyzer::shipped()).unwrap();
        let org = new_id();
        let achievements: Vec<_> = records.iter().map(|r| achievement(r, &org)).collect();
        let docs: Vec<IndexRecord<'_>> = achievements
            .iter()
            .zip(records)
            .map(|(a, r)| {
                let mut doc = IndexRecord::from(a);
                doc.field = r.field.as_deref().unwrap();
                doc
            })
            .collect();
        index.add(&docs).unwrap();
        index.apply(&[], &[], 0).unwrap();
        let ids = achievements.iter().zip(records).map(|(a, r)| (r.id.clone(), a.meta.id.clone())).collect();
        (index, ids)
    }

    fn request() -> SearchRequest {
        SearchRequest { viewer_is_staff: true, limit: 10, ..SearchRequest::default() }
    }

    /// Forty records, each sharing some of the words of one long need.
    fn forty() -> (Vec<EvalRecord>, String) {
        let words = [
            "二氧化碳",
            "捕集",
            "吸收剂",
            "再生能耗",
            "燃煤烟气",
            "相变",
            "胺基",
            "溶剂",
            "降解",
            "腐蚀",
            "中试",
            "封存",
            "驱油",
            "膜分离",
            "催化剂",
            "甲醇",
            "加氢",
            "转化率",
            "选择性",
            "稳定性",
        ];
        let records = (0..40)
            .map(|i| {
                let title: String = (0..4).map(|k| words[(i * 3 + k * 7) % words.len()]).collect::<Vec<_>>().join("");
                let mut r = record(&format!("r{i}"), &title, &[words[i % words.len()]], "环境工程");
                r.description = (0..6).map(|k| words[(i + k * 5) % words.len()]).collect::<Vec<_>>().join("，");
                r
            })
            .collect();
        (records, words.join("、"))
    }

    #[test]
    fn with_fewer_terms_the_candidates_are_still_scored_with_all_of_them() {
        let (records, need) = forty();
        let (index, _) = index(&records);
        let mut wide = request();
        wide.text = need.clone();
        wide.limit = 40;
        let all: HashMap<String, f32> =
            index.retrieve(&wide, usize::MAX).unwrap().into_iter().map(|r| (r.id, r.score)).collect();
        let mut narrow = wide.clone();
        narrow.limit = 8;
        let pruned = index.retrieve(&narrow, 4).unwrap();
        assert_eq!(pruned.len(), 8);
        for r in &pruned {
            assert!(
                (r.score - all[&r.id]).abs() < 1e-4,
                "{} scored {} by 4 terms, {} by all",
                r.id,
                r.score,
                all[&r.id]
            );
        }
        assert!(pruned.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn what_the_viewer_may_not_see_is_never_a_candidate_however_well_it_matches() {
        let (mut records, need) = forty();
        records.push(record("secret", &need, &["二氧化碳"], "环境工程"));
        let (index, ids) = index(&records);
        let org = new_id();
        // The best match shown to managers only.
        let a = {
            let mut a = achievement(&records[40], &org);
            a.meta.id = ids["secret"].clone();
            a.content.visibility = crate::domain::vocab::Visibility::Managers;
            a
        };
        index.apply(&[IndexRecord::from(&a)], &[], 1).unwrap();
        for max_terms in [usize::MAX, 4] {
            let mut outsider = request();
            outsider.viewer_is_staff = false;
            outsider.viewer_org = new_id();
            outsider.text = need.clone();
            outsider.limit = 50;
            let found = index.retrieve(&outsider, max_terms).unwrap();
            if max_terms == usize::MAX {
                assert_eq!(found.len(), 40);
            }
            assert!(found.iter().all(|r| r.id != ids["secret"]), "max_terms {max_terms}");
            for viewer in [
                SearchRequest { viewer_org: org.clone(), ..outsider.clone() },
                SearchRequest { viewer_is_staff: true, ..outsider.clone() },
            ] {
                let seen = index.retrieve(&viewer, max_terms).unwrap();
                assert!(seen.iter().any(|r| r.id == ids["secret"]), "max_terms {max_terms}");
            }
        }
    }

    #[test]
    fn the_field_is_inferred_from_the_strongest_candidates_and_favours_its_records() {
        let (index, ids) = index(&[
            record("a", "二氧化碳捕集吸收剂", &["吸收剂"], "环境工程"),
            record("b", "二氧化碳捕集膜分离", &["膜分离"], "环境工程"),
            record("c", "二氧化碳驱油封存", &["驱油"], "石油工程"),
        ]);
        let input = MatchInput { text: "二氧化碳捕集".into(), ..MatchInput::default() };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        let (field, share) = ranking.field.likely().unwrap();
        assert_eq!(field, "环境工程");
        assert!(share > 0.5);
        assert!(ranking.candidates.iter().take(2).all(|c| c.retrieved.field == "环境工程"));
        assert_ne!(ranking.candidates[0].retrieved.id, ids["c"]);
        assert!(ranking.candidates.iter().all(|c| (0.0..=1.0).contains(&c.score)));
    }

    #[test]
    fn a_declared_field_wins_over_the_vote_and_keywords_in_the_text_are_evidence() {
        let (index, ids) = index(&[
            record("a", "二氧化碳捕集吸收剂", &["吸收剂"], "环境工程"),
            record("b", "二氧化碳捕集膜分离", &["膜分离"], "环境工程"),
            record("c", "二氧化碳驱油封存", &["驱油"], "石油工程"),
        ]);
        let input = MatchInput {
            text: "二氧化碳捕集后用于驱油".into(),
            field: Some("石油工程".into()),
            ..MatchInput::default()
        };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        assert_eq!(ranking.field.declared.as_deref(), Some("石油工程"));
        assert_eq!(ranking.field.likely().unwrap().0, "石油工程");
        let top = &ranking.candidates[0];
        assert_eq!(top.retrieved.id, ids["c"]);
        assert_eq!(top.keyword_hits.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["驱油"]);
    }

    #[test]
    fn the_record_itself_is_left_out() {
        let (index, ids) = index(&[
            record("a", "耐盐碱大豆新品种", &["大豆"], "作物学"),
            record("b", "耐盐碱大豆栽培", &["大豆"], "作物学"),
        ]);
        let input =
            MatchInput {
                text: "耐盐碱大豆新品种".into(), exclude_id: Some(ids["a"].clone()), ..MatchInput::default()
            };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        assert_eq!(ranking.candidates.len(), 1);
        assert_eq!(ranking.candidates[0].retrieved.id, ids["b"]);
    }
}
