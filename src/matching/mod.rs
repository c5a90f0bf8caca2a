//! Turns a need (or an achievement) into ranked candidates from the other library.
//!
//! Retrieval is the search index's weighted term query over the whole record (title,
//! description, targets, keywords). The candidates are then re-ranked with evidence a person
//! would use: the technical field (the record's declared field, or, when it has none, the field
//! most of the strongest candidates share), and the candidate's own keywords found in the
//! record's text, weighted by how specific each keyword is in the catalogue.

use std::collections::HashMap;

use crate::search::analyzer::normalize_text;
use crate::search::index::{IndexError, Retrieved, SearchIndex, SearchRequest};

/// Identifies the ranking method; stored with every suggestion so a score can be reproduced.
pub const MATCHER_VERSION: &str = "match-1";

/// The knobs of the ranking, with values chosen on the evaluation's dev split (BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
pub struct MatchParams {
    /// How many candidates the index returns for re-ranking.
    pub candidates: usize,
    /// How many of the strongest candidates vote on the field when the record declares none.
    pub field_voters: usize,
    /// Relative score increase for a candidate in the (declared or inferred) field.
    pub field_boost: f32,
    /// Weight of keyword evidence relative to the normalised text score.
    pub keyword_weight: f32,
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams { candidates: 200, field_voters: 10, field_boost: 2.0, keyword_weight: 0.6 }
    }
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
}

/// Where the field evidence came from.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldEvidence {
    /// The record declares its field.
    Declared(String),
    /// Inferred from the strongest candidates: the field and the share of their score it holds.
    Inferred { field: String, share: f32 },
    /// No field evidence.
    Unknown,
}

/// A ranked candidate with the parts of its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub retrieved: Retrieved,
    /// 0..1, comparable across records of one ranking.
    pub score: f32,
    /// The text score relative to the best candidate's (0..1).
    pub text: f32,
    /// The field evidence applies to this candidate.
    pub same_field: bool,
    /// The candidate's keywords that occur in the record's text, with their specificity weight.
    pub keyword_hits: Vec<(String, f32)>,
}

/// The ranking of one record's candidates.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub field: FieldEvidence,
    pub candidates: Vec<Candidate>,
}

/// Ranks the candidates of `request`'s library for `input`. `request` carries the viewer,
/// filters and how many results to return; its text is replaced by the input's.
pub fn rank(
    index: &SearchIndex,
    input: &MatchInput,
    mut request: SearchRequest,
    params: &MatchParams,
) -> Result<Ranking, IndexError> {
    let wanted = request.limit;
    request.text = input.text.clone();
    request.limit = params.candidates.max(wanted);
    let mut retrieved = index.retrieve(&request)?;
    if let Some(own) = &input.exclude_id {
        retrieved.retain(|r| &r.id != own);
    }
    let Some(best) = retrieved.first().map(|r| r.score).filter(|s| *s > 0.0) else {
        return Ok(Ranking { field: FieldEvidence::Unknown, candidates: Vec::new() });
    };

    let field = match &input.field {
        Some(field) => FieldEvidence::Declared(field.clone()),
        None => infer_field(&retrieved, params.field_voters),
    };
    let (field_code, field_weight) = match &field {
        FieldEvidence::Declared(f) => (Some(f.as_str()), 1.0),
        FieldEvidence::Inferred { field, share } => (Some(field.as_str()), *share),
        FieldEvidence::Unknown => (None, 0.0),
    };

    let text = normalize_text(&input.text);
    let mut specificity: HashMap<String, f32> = HashMap::new();
    // Each keyword's specificity is looked up once per ranking.
    let mut candidates: Vec<Candidate> = retrieved
        .into_iter()
        .map(|r| {
            let text_score = r.score / best;
            let same_field = field_code.is_some_and(|f| f == r.field);
            let keyword_hits: Vec<(String, f32)> = r
                .keywords
                .iter()
                .filter_map(|k| {
                    let normalized = normalize_text(k);
                    if normalized.chars().count() < 2 || !text.contains(&normalized) {
                        return None;
                    }
                    let weight =
                        *specificity.entry(normalized.clone()).or_insert_with(|| keyword_specificity(index, k));
                    Some((k.clone(), weight))
                })
                .collect();
            let keyword_score: f32 = keyword_hits.iter().map(|(_, w)| w).sum::<f32>().min(2.0);
            let boost = if same_field { 1.0 + params.field_boost * field_weight } else { 1.0 };
            let raw = text_score * boost + params.keyword_weight * keyword_score;
            let ceiling = 1.0 + params.field_boost + 2.0 * params.keyword_weight;
            Candidate { retrieved: r, score: raw / ceiling, text: text_score, same_field, keyword_hits }
        })
        .collect();
    sort(&mut candidates);
    candidates.truncate(wanted);
    Ok(Ranking { field, candidates })
}

fn sort(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.retrieved.id.cmp(&b.retrieved.id)));
}

/// The field most of the strongest candidates share, weighted by their text score.
fn infer_field(retrieved: &[Retrieved], voters: usize) -> FieldEvidence {
    let mut votes: HashMap<&str, f32> = HashMap::new();
    let mut total = 0.0;
    for r in retrieved.iter().take(voters) {
        if !r.field.is_empty() {
            *votes.entry(r.field.as_str()).or_default() += r.score;
            total += r.score;
        }
    }
    let winner = votes.into_iter().max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)));
    match winner {
        Some((field, weight)) if total > 0.0 => {
            FieldEvidence::Inferred { field: field.to_string(), share: weight / total }
        }
        _ => FieldEvidence::Unknown,
    }
}

/// How specific a keyword is: inverse document frequency in the catalogue's keywords, scaled
/// to about 1 for a keyword a handful of records share, near 0 for one most records have.
fn keyword_specificity(index: &SearchIndex, keyword: &str) -> f32 {
    let (df, total) = index.keyword_frequency(keyword);
    if total == 0 {
        return 0.0;
    }
    let idf = ((total as f32 + 1.0) / (df as f32 + 1.0)).ln();
    let max = (total as f32 + 1.0).ln();
    (idf / max * 1.5).min(1.0)
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

    #[test]
    fn the_field_is_inferred_from_the_strongest_candidates_and_favours_its_records() {
        let (index, ids) = index(&[
            record("a", "二氧化碳捕集吸收剂", &["吸收剂"], "环境工程"),
            record("b", "二氧化碳捕集膜分离", &["膜分离"], "环境工程"),
            record("c", "二氧化碳驱油封存", &["驱油"], "石油工程"),
        ]);
        let input = MatchInput { text: "二氧化碳捕集".into(), field: None, exclude_id: None };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        let FieldEvidence::Inferred { field, share } = &ranking.field else { panic!("{:?}", ranking.field) };
        assert_eq!(field, "环境工程");
        assert!(*share > 0.5);
        assert!(ranking.candidates.iter().take(2).all(|c| c.same_field));
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
        let input =
            MatchInput {
                text: "二氧化碳捕集后用于驱油".into(), field: Some("石油工程".into()), exclude_id: None
            };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        assert_eq!(ranking.field, FieldEvidence::Declared("石油工程".into()));
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
            MatchInput { text: "耐盐碱大豆新品种".into(), field: None, exclude_id: Some(ids["a"].clone()) };
        let ranking = rank(&index, &input, request(), &MatchParams::default()).unwrap();
        assert_eq!(ranking.candidates.len(), 1);
        assert_eq!(ranking.candidates[0].retrieved.id, ids["b"]);
    }
}
