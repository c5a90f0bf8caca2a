//! Matching for live records, on inputs loaded before each call: the first pass ranks a need's
//! (or achievement's) counterparts in the index; the second explains the candidates, given their
//! records as the database holds them (structured fit, matched terms, highlights, near misses).
//! No database read happens here: `app::matches` loads, calls these passes and writes.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::fit::{Fit, assess};
use super::{Feedback, FieldEvidence, KeywordMemo, MATCHER_VERSION, MatchInput, MatchParams, rank_among};
use crate::domain::achievement::{Achievement, AchievementContent};
use crate::domain::docking::{
    Docking, DockingAction, DockingEvent, DockingSource, DockingState, EventKind, ReasonCode,
};
use crate::domain::need::{Need, NeedContent};
use crate::domain::new_id;
use crate::domain::record::Library;
use crate::domain::vocab::{RecordStatus, TechField, Visibility};
use crate::search::index::{Counterparts, Frequencies, IndexError, SearchIndex, SearchRequest};

/// How the background matcher suggests.
#[derive(Debug, Clone, Copy)]
pub struct MatchSettings {
    /// Lowest score stored as a suggestion.
    pub threshold: f32,
    /// At most this many suggestions wait for review per record.
    pub max_suggestions: usize,
    /// How often the worker looks for writes it was not told about.
    pub poll_interval: Duration,
}

/// The record matches are sought for.
#[derive(Debug, Clone)]
pub enum Subject {
    Need(Need),
    Achievement(Achievement),
}

impl Subject {
    pub fn library(&self) -> Library {
        match self {
            Subject::Need(_) => Library::Needs,
            Subject::Achievement(_) => Library::Achievements,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Subject::Need(n) => &n.meta.id,
            Subject::Achievement(a) => &a.meta.id,
        }
    }

    pub fn visibility(&self) -> Visibility {
        match self {
            Subject::Need(n) => n.content.visibility,
            Subject::Achievement(a) => a.content.visibility,
        }
    }

    fn status(&self) -> RecordStatus {
        match self {
            Subject::Need(n) => n.meta.status,
            Subject::Achievement(a) => a.meta.status,
        }
    }

    fn field(&self) -> TechField {
        match self {
            Subject::Need(n) => n.content.field,
            Subject::Achievement(a) => a.content.field,
        }
    }

    fn text(&self) -> String {
        match self {
            Subject::Need(n) => need_text(&n.content),
            Subject::Achievement(a) => achievement_text(&a.content),
        }
    }

    /// Private records are not matched (DOMAIN.md), nor closed or withdrawn ones.
    pub fn is_matchable(&self) -> bool {
        matchable(self.visibility(), self.status())
    }
}

/// Whether a record with this visibility and status takes part in matching.
fn matchable(visibility: Visibility, status: RecordStatus) -> bool {
    visibility != Visibility::Private && status == RecordStatus::Open
}

/// What the matcher reads of a need: title, problem, targets and keywords.
pub fn need_text(c: &NeedContent) -> String {
    [c.title.as_str(), &c.description, &c.targets, &c.keywords.join(" ")].join("\n")
}

/// What the matcher reads of an achievement: title, abstract and keywords.
pub fn achievement_text(c: &AchievementContent) -> String {
    [c.title.as_str(), &c.summary, &c.keywords.join(" ")].join("\n")
}

/// A digest of what matching and the fit read of a need: a change to anything else (contact,
/// visibility, deadline) is not material.
pub fn need_fingerprint(c: &NeedContent) -> String {
    digest(&serde_json::json!([
        c.title,
        c.description,
        c.targets,
        c.keywords,
        c.field,
        c.need_type,
        c.cooperation_modes,
        c.budget_max.map(|w| w.hundredths()),
        c.region
    ]))
}

pub fn achievement_fingerprint(c: &AchievementContent) -> String {
    digest(&serde_json::json!([
        c.title,
        c.summary,
        c.keywords,
        c.field,
        c.trl,
        c.stage,
        c.cooperation_modes,
        c.asking_price.map(|w| w.hundredths()),
        c.region
    ]))
}

fn digest(value: &serde_json::Value) -> String {
    let hash = Sha256::digest(value.to_string().as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A term of the record found in the candidate.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MatchedTerm {
    pub term: String,
    /// Its share of the record's query weight (the weights of all the record's terms sum to 1).
    pub weight: f32,
    /// Where the candidate has it: `title`, `keywords`, `description`.
    pub fields: Vec<&'static str>,
    /// Found as this synonym of the term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synonym: Option<String>,
}

/// A candidate keyword found in the record's text.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KeywordHit {
    pub keyword: String,
    /// 0..1: how rare the keyword is in the catalogue.
    pub specificity: f32,
}

/// A close candidate that something stands in the way of.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NearMiss {
    /// The codes of the blocking aspects (`trl`, `budget`, `cooperation`, `field`).
    pub gaps: Vec<&'static str>,
    pub message: String,
}

/// Why a candidate was ranked where it is: data, with a Chinese rendering in `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Explanation {
    /// `need_to_achievements` or `achievement_to_needs`.
    pub direction: &'static str,
    pub score: f32,
    /// The text score relative to the best candidate's.
    pub text_score: f32,
    /// The share of the record's term weight the candidate contains: the score shown is at most
    /// its square root, whatever the field and the fit say.
    pub coverage: f32,
    /// The share of the candidate's field in the record's field evidence.
    pub field_share: f32,
    /// The record's terms found in the candidate, weightiest first.
    pub matched_terms: Vec<MatchedTerm>,
    /// The candidate's keywords found in the record's text.
    pub matched_keywords: Vec<KeywordHit>,
    /// The candidate's keywords shared with the best candidates or accepted counterparts.
    pub feedback_keywords: Vec<String>,
    pub fit: Fit,
    pub near_miss: Option<NearMiss>,
    /// The candidate's title with the matched terms in `<b>`, and its best passage.
    pub title_html: String,
    pub snippet_html: String,
    pub summary: String,
    pub matcher_version: String,
    pub dictionary_version: String,
}

/// A value as stored with a docking: the JSON the API shows (through text, so that
/// single-precision figures keep their short form, 0.683 rather than 0.6830000281333923).
pub fn stored_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_string(value).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// One ranked counterpart.
#[derive(Debug, Clone)]
pub struct MatchItem {
    pub need: Need,
    pub achievement: Achievement,
    pub score: f32,
    pub explanation: Explanation,
}

impl MatchItem {
    /// The counterpart's id, seen from `library`'s record.
    pub fn counterpart_id(&self, subject: Library) -> &str {
        match subject {
            Library::Needs => &self.achievement.meta.id,
            Library::Achievements => &self.need.meta.id,
        }
    }
}

/// The matches of one record.
#[derive(Debug, Clone)]
pub struct Matches {
    pub field: FieldEvidence,
    pub items: Vec<MatchItem>,
    pub dictionary_version: String,
    /// The record's dockings (read for the feedback), to show beside the matches.
    pub dockings: Vec<Docking>,
}

/// The first pass over the index: the ranked candidates of the subject's counterpart library,
/// with room for the structured fit to re-order (`limit` × 3, at least 30). `feedback` is what
/// managers decided about the subject's dockings, loaded by the caller.
pub fn first_pass(
    index: &SearchIndex,
    subject: &Subject,
    feedback: Feedback,
    limit: usize,
    params: &MatchParams,
) -> Result<(MatchInput, super::Ranking), IndexError> {
    first_pass_among(index, None, &mut KeywordMemo::default(), subject, feedback, limit, params)
}

/// The filters of a first pass for a record of `library`: open records of the other library,
/// as a manager sees them.
pub fn counterpart_request(library: Library) -> SearchRequest {
    let other = match library {
        Library::Needs => Library::Achievements,
        Library::Achievements => Library::Needs,
    };
    SearchRequest {
        library: Some(other),
        viewer_is_staff: true,
        status: Some(RecordStatus::Open),
        ..SearchRequest::default()
    }
}

/// `first_pass` among the counterparts of a batch (`SearchIndex::counterparts` of
/// `counterpart_request`), when given.
pub fn first_pass_among(
    index: &SearchIndex,
    among: Option<&Counterparts>,
    memo: &mut KeywordMemo,
    subject: &Subject,
    feedback: Feedback,
    limit: usize,
    params: &MatchParams,
) -> Result<(MatchInput, super::Ranking), IndexError> {
    let field = subject.field();
    let input = MatchInput {
        text: subject.text(),
        field: (field != TechField::Other).then(|| field.code().to_string()),
        exclude_id: Some(subject.id().to_string()),
        feedback,
    };
    let request = SearchRequest { limit: (limit * 3).max(30), ..counterpart_request(subject.library()) };
    let ranking = rank_among(index, among, memo, &input, request, params)?;
    Ok((input, ranking))
}

/// The ids of the records a ranking's candidates are, for the caller to load.
pub fn candidate_ids(ranking: &super::Ranking) -> Vec<String> {
    ranking.candidates.iter().map(|c| c.retrieved.id.clone()).collect()
}

/// The second pass: given the candidates' records as the database holds them now, the
/// structured fit, the final order, and each pair's explanation (the record's terms found in the
/// candidate, highlights, near misses). Candidates no longer open or now private are left out,
/// and, given a `floor`, those of the best `limit` whose score is below it (a batch of the
/// suggester writes no others, and explains none it would not write).
#[allow(clippy::too_many_arguments)]
pub fn explain(
    index: &SearchIndex,
    subject: &Subject,
    input: &MatchInput,
    ranking: super::Ranking,
    needs: &[&Need],
    achievements: &[&Achievement],
    limit: usize,
    floor: Option<f32>,
    frequencies: &Frequencies,
) -> (FieldEvidence, Vec<MatchItem>) {
    // The pairs are borrowed until the best `limit` are known: only those are copied.
    let mut pairs: Vec<(&Need, &Achievement, &super::Candidate)> = Vec::new();
    match subject {
        Subject::Need(need) => {
            for c in &ranking.candidates {
                if let Some(a) = achievements.iter().find(|a| a.meta.id == c.retrieved.id) {
                    pairs.push((need, a, c));
                }
            }
        }
        Subject::Achievement(achievement) => {
            for c in &ranking.candidates {
                if let Some(n) = needs.iter().find(|n| n.meta.id == c.retrieved.id) {
                    pairs.push((n, achievement, c));
                }
            }
        }
    }
    // The index may trail the database by a moment: re-check what it said.
    pairs.retain(|(n, a, _)| match subject {
        Subject::Need(_) => matchable(a.content.visibility, a.meta.status),
        Subject::Achievement(_) => matchable(n.content.visibility, n.meta.status),
    });
    // The fit orders (a gap lowers, the same city lifts a little), but only lowers the score
    // shown: a label is not evidence that the texts meet.
    let mut scored: Vec<(&Need, &Achievement, &super::Candidate, Fit, f32)> = pairs
        .into_iter()
        .map(|(n, a, c)| {
            let fit = assess(&n.content, &a.content);
            let score = (c.score * fit.factor.min(1.0)).clamp(0.0, 1.0);
            (n, a, c, fit, score)
        })
        .collect();
    let order = |x: &(&Need, &Achievement, &super::Candidate, Fit, f32)| x.2.rank_score * x.3.factor;
    scored.sort_by(|x, y| order(y).total_cmp(&order(x)).then_with(|| x.2.retrieved.id.cmp(&y.2.retrieved.id)));
    scored.truncate(limit);
    if let Some(floor) = floor {
        scored.retain(|x| round(x.4) >= floor);
    }

    let dictionary_version = index.analyzer().version().to_string();
    let direction = match subject {
        Subject::Need(_) => "need_to_achievements",
        Subject::Achievement(_) => "achievement_to_needs",
    };
    let texts: Vec<CandidateText> = scored
        .iter()
        .map(|(n, a, ..)| match subject {
            Subject::Need(_) => CandidateText {
                title: a.content.title.clone(),
                keywords: a.content.keywords.join(" "),
                body: a.content.summary.clone(),
            },
            Subject::Achievement(_) => CandidateText {
                title: n.content.title.clone(),
                keywords: n.content.keywords.join(" "),
                body: [n.content.description.as_str(), &n.content.targets].join("\n"),
            },
        })
        .collect();
    let (terms, highlights) = term_evidence(index, &input.text, &texts, frequencies);
    let items = scored
        .into_iter()
        .zip(terms)
        .zip(highlights)
        .map(|(((need, achievement, c, fit, score), matched_terms), (title_html, snippet_html))| {
            let near_miss = near_miss(&fit, c.text);
            let matched_keywords: Vec<KeywordHit> =
                c.keyword_hits.iter().map(|(k, w)| KeywordHit { keyword: k.clone(), specificity: round(*w) }).collect();
            let summary = summary(score, &matched_terms, &matched_keywords, &fit, near_miss.as_ref());
            let explanation = Explanation {
                direction,
                score: round(score),
                text_score: round(c.text),
                coverage: round(c.coverage),
                field_share: round(c.field_share),
                matched_terms,
                matched_keywords,
                feedback_keywords: c.feedback_keywords.clone(),
                fit,
                near_miss,
                title_html,
                snippet_html,
                summary,
                matcher_version: MATCHER_VERSION.to_string(),
                dictionary_version: dictionary_version.clone(),
            };
            MatchItem { need: need.clone(), achievement: achievement.clone(), score: round(score), explanation }
        })
        .collect();
    (ranking.field, items)
}

/// What managers decided about a record's dockings, as ranking feedback: the keywords of the
/// counterparts accepted, the fields of those rejected as a field mismatch. The counterparts'
/// records are loaded by the caller.
pub fn feedback(subject: &Subject, dockings: &[Docking], needs: &[Need], achievements: &[Achievement]) -> Feedback {
    let (accepted, rejected) = feedback_ids(subject, dockings);
    let mut feedback = Feedback::default();
    match subject {
        Subject::Need(_) => {
            for a in achievements {
                if accepted.contains(&a.meta.id) {
                    feedback.accepted_keywords.extend(a.content.keywords.iter().cloned());
                }
                if rejected.contains(&a.meta.id) {
                    feedback.rejected_fields.push(a.content.field.code().to_string());
                }
            }
        }
        Subject::Achievement(_) => {
            for n in needs {
                if accepted.contains(&n.meta.id) {
                    feedback.accepted_keywords.extend(n.content.keywords.iter().cloned());
                }
                if rejected.contains(&n.meta.id) {
                    feedback.rejected_fields.push(n.content.field.code().to_string());
                }
            }
        }
    }
    feedback
}

/// The counterparts of a record's dockings that feedback reads: (accepted ones, ones rejected as
/// a field mismatch).
pub fn feedback_ids(subject: &Subject, dockings: &[Docking]) -> (Vec<String>, Vec<String>) {
    let accepted = dockings
        .iter()
        .filter(|d| {
            matches!(
                d.state,
                DockingState::Accepted | DockingState::Introduced | DockingState::Negotiating | DockingState::Signed
            )
        })
        .map(|d| counterpart(subject, d).to_string())
        .collect();
    let rejected = dockings
        .iter()
        .filter(|d| d.reason == Some(ReasonCode::FieldMismatch))
        .map(|d| counterpart(subject, d).to_string())
        .collect();
    (accepted, rejected)
}

/// A suggested docking for a ranked pair, with its `created` event by the matcher.
pub fn suggestion(
    item: &MatchItem,
    dictionary_version: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> (Docking, DockingEvent) {
    let docking = Docking {
        id: new_id(),
        need_id: item.need.meta.id.clone(),
        achievement_id: item.achievement.meta.id.clone(),
        need_org_id: item.need.meta.org_id.clone(),
        achievement_org_id: item.achievement.meta.org_id.clone(),
        state: DockingState::Suggested,
        reason: None,
        source: DockingSource::Suggested,
        score: Some((f64::from(item.score) * 1000.0).round() / 1000.0),
        explanation: stored_json(&item.explanation),
        matcher_version: Some(MATCHER_VERSION.to_string()),
        dictionary_version: Some(dictionary_version.to_string()),
        need_fingerprint: need_fingerprint(&item.need.content),
        achievement_fingerprint: achievement_fingerprint(&item.achievement.content),
        manager_id: None,
        field: item.need.content.field,
        region: item.need.content.region.clone(),
        was_introduced: false,
        need_interest: false,
        achievement_interest: false,
        created_by: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let event = DockingEvent {
        docking_id: docking.id.clone(),
        at,
        actor_id: None,
        actor_role: "matcher".into(),
        kind: EventKind::Created,
        action: None,
        from_state: None,
        to_state: Some(DockingState::Suggested),
        reason: None,
        note: format!("系统推荐，匹配度 {:.2}", item.score),
    };
    (docking, event)
}

/// A waiting suggestion re-scored after one side changed: with the pair's new ranking `item`
/// at or above `threshold`, the new score, explanation and fingerprints and a `rescored` event;
/// otherwise withdrawn by the matcher (the blocking gap as the reason where the fit names one),
/// with the fingerprints of now, so the pair returns only after another material change.
pub fn rescored(
    d: &Docking,
    item: Option<&MatchItem>,
    dictionary_version: &str,
    threshold: f32,
    at: chrono::DateTime<chrono::Utc>,
) -> (Docking, DockingEvent) {
    let mut updated = d.clone();
    let old = d.score.unwrap_or(0.0);
    let mut event = DockingEvent {
        docking_id: d.id.clone(),
        at,
        actor_id: None,
        actor_role: "matcher".into(),
        kind: EventKind::Rescored,
        action: None,
        from_state: None,
        to_state: None,
        reason: None,
        note: String::new(),
    };
    if let Some(item) = item {
        updated.need_fingerprint = need_fingerprint(&item.need.content);
        updated.achievement_fingerprint = achievement_fingerprint(&item.achievement.content);
    }
    match item.filter(|i| i.score >= threshold) {
        Some(item) => {
            let (fresh, _) = suggestion(item, dictionary_version, at);
            updated.score = fresh.score;
            updated.explanation = fresh.explanation;
            updated.matcher_version = fresh.matcher_version;
            updated.dictionary_version = fresh.dictionary_version;
            event.note = format!("一方内容有实质变化，重新评分：{old:.3} → {:.3}", item.score);
        }
        None => {
            updated.state = DockingState::Withdrawn;
            let gap = item.and_then(|i| i.explanation.near_miss.as_ref()).and_then(|n| n.gaps.first().copied());
            updated.reason = Some(match gap {
                Some("trl") => ReasonCode::TrlTooLow,
                Some("budget") => ReasonCode::BudgetGap,
                Some("cooperation") => ReasonCode::CooperationMismatch,
                // A field gap is not a manager's `field_mismatch`, which the ranking learns from.
                _ => ReasonCode::Other,
            });
            event.kind = EventKind::Transition;
            event.action = Some(DockingAction::Withdraw);
            event.from_state = Some(DockingState::Suggested);
            event.to_state = Some(DockingState::Withdrawn);
            event.reason = updated.reason;
            event.note = match item {
                Some(i) => format!(
                    "一方内容有实质变化，重新评分 {:.3}，低于推荐阈值 {threshold:.2}，由系统撤回{}",
                    i.score,
                    i.explanation.near_miss.as_ref().map(|n| format!("：{}", n.message)).unwrap_or_default()
                ),
                None => "一方内容有实质变化，已不在候选之列，由系统撤回".to_string(),
            };
        }
    }
    (updated, event)
}

fn counterpart<'a>(subject: &Subject, docking: &'a Docking) -> &'a str {
    match subject {
        Subject::Need(_) => &docking.achievement_id,
        Subject::Achievement(_) => &docking.need_id,
    }
}

struct CandidateText {
    title: String,
    keywords: String,
    body: String,
}

/// For each candidate: the record's terms it contains (and where), and its highlighted title
/// and passage.
#[allow(clippy::type_complexity)]
fn term_evidence(
    index: &SearchIndex,
    text: &str,
    candidates: &[CandidateText],
    frequencies: &Frequencies,
) -> (Vec<Vec<MatchedTerm>>, Vec<(String, String)>) {
    let analyzer = index.analyzer();
    let (weights, marked) = index.explained_terms(text, frequencies);
    // A lone Latin letter or digit (℃ leaves a `c`) explains nothing to a reader.
    let weights: Vec<&(String, f32)> = weights.iter().filter(|(t, _)| t.chars().count() > 1 || !t.is_ascii()).collect();
    // The terms looked for in each field: the record's, then their synonyms.
    let mut sought: Vec<&str> = weights.iter().map(|(t, _)| t.as_str()).collect();
    for (term, _) in &weights {
        for synonym in analyzer.synonyms(term) {
            if !sought.contains(&synonym.as_str()) {
                sought.push(synonym);
            }
        }
    }
    // One finder for the terms the highlights mark and those sought: each field of a
    // candidate is searched once for both.
    let highlighter = index.highlighter(&marked, &sought, frequencies);
    let finder = highlighter.finder();
    let mut all_terms = Vec::with_capacity(candidates.len());
    let mut highlights = Vec::with_capacity(candidates.len());
    for c in candidates {
        let (in_title, in_keywords, in_body) =
            (finder.occurrences(&c.title), finder.occurrences(&c.keywords), finder.occurrences(&c.body));
        // For each field, which of the finder's terms it holds.
        let holds = |found: &[(usize, std::ops::Range<usize>)]| -> Vec<bool> {
            let mut held = vec![false; finder.given()];
            for (i, _) in found {
                held[*i] = true;
            }
            held
        };
        let parts = [("title", holds(&in_title)), ("keywords", holds(&in_keywords)), ("description", holds(&in_body))];
        let mut matched = Vec::new();
        for (term, weight) in weights.iter().map(|p| (&p.0, p.1)) {
            let found = |t: &str| -> Vec<&'static str> {
                let Some(i) = finder.index_of(t) else { return Vec::new() };
                parts.iter().filter(|(_, held)| held[i]).map(|(name, _)| *name).collect()
            };
            let fields = found(term);
            if !fields.is_empty() {
                matched.push(MatchedTerm { term: term.clone(), weight: round(weight), fields, synonym: None });
                continue;
            }
            if let Some((synonym, fields)) =
                analyzer.synonyms(term).iter().map(|s| (s, found(s))).find(|(_, f)| !f.is_empty())
            {
                matched.push(MatchedTerm {
                    term: term.clone(),
                    weight: round(weight),
                    fields,
                    synonym: Some(synonym.clone()),
                });
            }
        }
        matched.truncate(12);
        all_terms.push(matched);
        highlights.push(highlighter.mark_found(&c.title, &in_title, &c.body, &in_body));
    }
    (all_terms, highlights)
}

/// A candidate whose text matches well (at least half the best candidate's text score) but
/// which the fit blocks somewhere is a near miss.
fn near_miss(fit: &Fit, text_score: f32) -> Option<NearMiss> {
    let gaps: Vec<_> = fit.gaps().collect();
    if gaps.is_empty() || text_score < 0.5 {
        return None;
    }
    let message = format!("内容相近，但{}", gaps.iter().map(|g| g.message.as_str()).collect::<Vec<_>>().join("；"));
    Some(NearMiss { gaps: gaps.iter().map(|g| g.code).collect(), message })
}

fn summary(
    score: f32,
    terms: &[MatchedTerm],
    keywords: &[KeywordHit],
    fit: &Fit,
    near_miss: Option<&NearMiss>,
) -> String {
    let mut parts = vec![format!("匹配度 {:.0}%", score * 100.0)];
    if !terms.is_empty() {
        let shown: Vec<&str> = terms.iter().take(5).map(|t| t.term.as_str()).collect();
        parts.push(format!("共同技术词：{}", shown.join("、")));
    }
    if !keywords.is_empty() {
        let shown: Vec<&str> = keywords.iter().map(|k| k.keyword.as_str()).collect();
        parts.push(format!("关键词命中：{}", shown.join("、")));
    }
    for item in fit.items.iter().filter(|i| i.status == super::fit::FitStatus::Fits) {
        parts.push(item.message.clone());
    }
    if let Some(near) = near_miss {
        parts.push(format!("差一点：{}", near.message));
    }
    parts.join("；")
}

fn round(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
