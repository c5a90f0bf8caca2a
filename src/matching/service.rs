//! Matching for live records: the ranked counterparts of a need or achievement with their
//! explanations (the matches API), suggestions stored as dockings, and the background worker
//! that suggests for every record written, following the change log from a stored checkpoint so
//! that nothing written is left unmatched across restarts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use utoipa::ToSchema;

use super::fit::{Fit, assess};
use super::{Feedback, FieldEvidence, MATCHER_VERSION, MatchInput, MatchParams, rank};
use crate::domain::achievement::{Achievement, AchievementContent};
use crate::domain::docking::{Docking, DockingEvent, DockingSource, DockingState, EventKind, ReasonCode};
use crate::domain::need::{Need, NeedContent};
use crate::domain::record::Library;
use crate::domain::vocab::{RecordStatus, TechField, Visibility};
use crate::domain::{new_id, now};
use crate::search::engine::Search;
use crate::search::index::{IndexError, SearchIndex, SearchRequest};
use crate::storage::{DockingQuery, Store, StoreError};

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

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("the matching task failed: {0}")]
    Task(String),
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

    fn visibility(&self) -> Visibility {
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

    /// The record's dockings: the query that lists them.
    fn dockings_query(&self) -> DockingQuery {
        let mut query = DockingQuery { limit: 500, ..DockingQuery::default() };
        match self {
            Subject::Need(n) => query.need_id = Some(n.meta.id.clone()),
            Subject::Achievement(a) => query.achievement_id = Some(a.meta.id.clone()),
        }
        query
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

/// The matcher of the running service (or of a command).
pub struct Matcher {
    store: Arc<dyn Store>,
    search: Arc<Search>,
    settings: MatchSettings,
    params: MatchParams,
    wake: Notify,
    stop: tokio::sync::watch::Sender<bool>,
    worker: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Matcher {
    pub fn new(store: Arc<dyn Store>, search: Arc<Search>, settings: MatchSettings) -> Arc<Matcher> {
        Arc::new(Matcher {
            store,
            search,
            settings,
            params: MatchParams::default(),
            wake: Notify::new(),
            stop: tokio::sync::watch::channel(false).0,
            worker: std::sync::Mutex::new(None),
        })
    }

    /// Loads a record as a subject.
    pub async fn subject(&self, library: Library, id: &str) -> Result<Option<Subject>, MatchError> {
        Ok(match library {
            Library::Needs => self.store.get_need(id).await?.map(Subject::Need),
            Library::Achievements => self.store.get_achievement(id).await?.map(Subject::Achievement),
        })
    }

    /// What managers decided about this record's dockings, as ranking feedback.
    async fn feedback(&self, subject: &Subject, dockings: &[Docking]) -> Result<Feedback, MatchError> {
        let accepted: Vec<String> = dockings
            .iter()
            .filter(|d| {
                matches!(
                    d.state,
                    DockingState::Accepted
                        | DockingState::Introduced
                        | DockingState::Negotiating
                        | DockingState::Signed
                )
            })
            .map(|d| counterpart(subject, d).to_string())
            .collect();
        let rejected: Vec<String> = dockings
            .iter()
            .filter(|d| d.reason == Some(ReasonCode::FieldMismatch))
            .map(|d| counterpart(subject, d).to_string())
            .collect();
        let mut feedback = Feedback::default();
        match subject {
            Subject::Need(_) => {
                for a in self.store.achievements_by_ids(&accepted).await? {
                    feedback.accepted_keywords.extend(a.content.keywords);
                }
                for a in self.store.achievements_by_ids(&rejected).await? {
                    feedback.rejected_fields.push(a.content.field.code().to_string());
                }
            }
            Subject::Achievement(_) => {
                for n in self.store.needs_by_ids(&accepted).await? {
                    feedback.accepted_keywords.extend(n.content.keywords);
                }
                for n in self.store.needs_by_ids(&rejected).await? {
                    feedback.rejected_fields.push(n.content.field.code().to_string());
                }
            }
        }
        Ok(feedback)
    }

    /// The best `limit` counterparts of a record, open and not private, each with its
    /// explanation. The structured fit multiplies the matcher's score.
    pub async fn matches(&self, subject: &Subject, limit: usize) -> Result<Matches, MatchError> {
        let dockings = self.store.list_dockings(&subject.dockings_query()).await?.items;
        self.rank_with(subject, limit, dockings).await
    }

    /// `matches` for a record whose dockings are already loaded.
    async fn rank_with(&self, subject: &Subject, limit: usize, dockings: Vec<Docking>) -> Result<Matches, MatchError> {
        let feedback = self.feedback(subject, &dockings).await?;
        let field = subject.field();
        let input = MatchInput {
            text: subject.text(),
            field: (field != TechField::Other).then(|| field.code().to_string()),
            exclude_id: Some(subject.id().to_string()),
            feedback,
        };
        let other = match subject.library() {
            Library::Needs => Library::Achievements,
            Library::Achievements => Library::Needs,
        };
        let request = SearchRequest {
            library: Some(other),
            viewer_is_staff: true,
            status: Some(RecordStatus::Open),
            // Room for the structured fit to re-order.
            limit: (limit * 3).max(30),
            ..SearchRequest::default()
        };
        let index = self.search.current();
        let params = self.params;
        let ranking = {
            let index = index.clone();
            let input = input.clone();
            tokio::task::spawn_blocking(move || rank(&index, &input, request, &params))
                .await
                .map_err(|e| MatchError::Task(e.to_string()))??
        };
        let ids: Vec<String> = ranking.candidates.iter().map(|c| c.retrieved.id.clone()).collect();
        let mut pairs: Vec<(Need, Achievement, &super::Candidate)> = Vec::new();
        match subject {
            Subject::Need(need) => {
                let found = self.store.achievements_by_ids(&ids).await?;
                for c in &ranking.candidates {
                    if let Some(a) = found.iter().find(|a| a.meta.id == c.retrieved.id) {
                        pairs.push((need.clone(), a.clone(), c));
                    }
                }
            }
            Subject::Achievement(achievement) => {
                let found = self.store.needs_by_ids(&ids).await?;
                for c in &ranking.candidates {
                    if let Some(n) = found.iter().find(|n| n.meta.id == c.retrieved.id) {
                        pairs.push((n.clone(), achievement.clone(), c));
                    }
                }
            }
        }
        // The index may trail the database by a moment: re-check what it said.
        pairs.retain(|(n, a, _)| match subject {
            Subject::Need(_) => matchable(a.content.visibility, a.meta.status),
            Subject::Achievement(_) => matchable(n.content.visibility, n.meta.status),
        });
        let mut scored: Vec<(Need, Achievement, &super::Candidate, Fit, f32)> = pairs
            .into_iter()
            .map(|(n, a, c)| {
                let fit = assess(&n.content, &a.content);
                let score = (c.score * fit.factor).clamp(0.0, 1.0);
                (n, a, c, fit, score)
            })
            .collect();
        scored.sort_by(|x, y| y.4.total_cmp(&x.4).then_with(|| x.2.retrieved.id.cmp(&y.2.retrieved.id)));
        scored.truncate(limit);

        let dictionary_version = self.search.analyzer_version();
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
        let text = input.text.clone();
        let (terms, highlights) = tokio::task::spawn_blocking(move || term_evidence(&index, &text, &texts))
            .await
            .map_err(|e| MatchError::Task(e.to_string()))??;
        let items = scored
            .into_iter()
            .zip(terms)
            .zip(highlights)
            .map(|(((need, achievement, c, fit, score), matched_terms), (title_html, snippet_html))| {
                let near_miss = near_miss(&fit, c.text);
                let matched_keywords: Vec<KeywordHit> = c
                    .keyword_hits
                    .iter()
                    .map(|(k, w)| KeywordHit { keyword: k.clone(), specificity: round(*w) })
                    .collect();
                let summary = summary(score, &matched_terms, &matched_keywords, &fit, near_miss.as_ref());
                let explanation = Explanation {
                    direction,
                    score: round(score),
                    text_score: round(c.text),
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
                MatchItem { need, achievement, score: round(score), explanation }
            })
            .collect();
        Ok(Matches { field: ranking.field, items, dictionary_version, dockings })
    }

    /// Stores the record's best matches above the threshold as suggested dockings, as long as
    /// neither side of a pair has `max_suggestions` waiting for review already (so the queue
    /// holds a few per record, and a rejection makes room for the next candidate); a pair with
    /// an open docking, or a closed one from when both sides read as they do now, is left
    /// alone. Returns how many were created.
    pub async fn suggest(&self, subject: &Subject) -> Result<usize, MatchError> {
        if !subject.is_matchable() {
            return Ok(0);
        }
        let existing = self.store.list_dockings(&subject.dockings_query()).await?.items;
        let waiting = existing.iter().filter(|d| d.state == DockingState::Suggested).count();
        let room = self.settings.max_suggestions.saturating_sub(waiting);
        if room == 0 {
            return Ok(0);
        }
        // Enough candidates to pass over the pairs that already have a docking.
        let limit = (self.settings.max_suggestions + existing.len()).min(50);
        let matches = self.rank_with(subject, limit, existing).await?;
        let mut created = 0;
        for item in matches.items.iter().filter(|i| i.score >= self.settings.threshold) {
            if created == room {
                break;
            }
            if self.waiting(subject, item).await? >= self.settings.max_suggestions {
                continue;
            }
            let at = now();
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
                dictionary_version: Some(matches.dictionary_version.clone()),
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
                note: format!("score {:.2}", item.score),
            };
            match self.store.create_docking(&docking, &event, true).await {
                Ok(None) => created += 1,
                Ok(Some(_)) => {}
                // Another instance suggested the same pair at the same moment.
                Err(StoreError::UniqueViolation { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if created > 0 {
            tracing::info!(library = subject.library().route(), id = subject.id(), created, "dockings suggested");
        }
        Ok(created)
    }

    /// How many suggestions wait for review for the counterpart of `subject` in `item`.
    async fn waiting(&self, subject: &Subject, item: &MatchItem) -> Result<usize, MatchError> {
        let mut query = DockingQuery {
            states: vec![DockingState::Suggested],
            limit: self.settings.max_suggestions as u32,
            ..DockingQuery::default()
        };
        match subject {
            Subject::Need(_) => query.achievement_id = Some(item.achievement.meta.id.clone()),
            Subject::Achievement(_) => query.need_id = Some(item.need.meta.id.clone()),
        }
        let page = self.store.list_dockings(&query).await?;
        Ok(page.items.len() + usize::from(page.next_cursor.is_some()))
    }

    /// Suggests for every record written since the checkpoint and already in the index (so
    /// records written together find each other), then moves the checkpoint.
    pub async fn run_pending(&self) -> Result<usize, MatchError> {
        let indexed = self.search.current().last_seq();
        let mut created = 0;
        loop {
            let from = self.store.matcher_checkpoint().await?;
            // A long backlog (the first start on an existing database) yields to a shutdown
            // between batches; the checkpoint keeps the place.
            if from >= indexed || *self.stop.borrow() {
                return Ok(created);
            }
            let changes = self.store.changes_after(from, 200).await?;
            let changes: Vec<_> = changes.into_iter().filter(|c| c.seq <= indexed).collect();
            let Some(last) = changes.last().map(|c| c.seq) else { return Ok(created) };
            let mut seen = HashSet::new();
            for change in changes.iter().filter(|c| seen.insert((c.library, c.record_id.clone()))) {
                let Some(subject) = self.subject(change.library, &change.record_id).await? else { continue };
                match self.suggest(&subject).await {
                    Ok(n) => created += n,
                    // The database is retried from the same checkpoint; a record the index cannot
                    // rank is logged and passed over rather than holding up every later write.
                    Err(MatchError::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        tracing::error!(id = %change.record_id, error = %e, "matching a record failed; passed over")
                    }
                }
            }
            self.store.set_matcher_checkpoint(last).await?;
        }
    }

    /// Re-runs suggestion for every record (`techmarket match --all`): (records, created).
    pub async fn match_all(&self) -> Result<(usize, usize), MatchError> {
        let (mut records, mut created) = (0, 0);
        let mut after = String::new();
        loop {
            let page = self.store.scan_needs(&after, 200).await?;
            let Some(last) = page.last().map(|n| n.meta.id.clone()) else { break };
            for need in page {
                records += 1;
                created += self.suggest(&Subject::Need(need)).await?;
            }
            after = last;
        }
        after.clear();
        loop {
            let page = self.store.scan_achievements(&after, 200).await?;
            let Some(last) = page.last().map(|a| a.meta.id.clone()) else { break };
            for achievement in page {
                records += 1;
                created += self.suggest(&Subject::Achievement(achievement)).await?;
            }
            after = last;
        }
        self.store.set_matcher_checkpoint(self.search.current().last_seq()).await?;
        Ok((records, created))
    }

    /// Tells the worker there was a write.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Starts the background worker.
    pub fn spawn_worker(self: &Arc<Self>) {
        let matcher = self.clone();
        let mut stop = self.stop.subscribe();
        let handle = tokio::spawn(async move {
            loop {
                if let Err(e) = matcher.run_pending().await {
                    tracing::warn!(error = %e, "background matching failed; retrying");
                }
                tokio::select! {
                    _ = matcher.wake.notified() => {
                        // Let the index commit the write first.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    _ = tokio::time::sleep(matcher.settings.poll_interval) => {}
                    _ = stop.changed() => break,
                }
            }
        });
        *self.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    /// Stops the worker, letting a run in progress finish.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        let handle = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
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
) -> Result<(Vec<Vec<MatchedTerm>>, Vec<(String, String)>), IndexError> {
    let analyzer = index.analyzer();
    let weights = index.term_weights(text);
    let mut all_terms = Vec::with_capacity(candidates.len());
    for c in candidates {
        let terms = |s: &str| -> HashSet<String> { analyzer.analyze(s).into_iter().map(|t| t.text).collect() };
        let parts = [("title", terms(&c.title)), ("keywords", terms(&c.keywords)), ("description", terms(&c.body))];
        let mut matched = Vec::new();
        // A lone Latin letter or digit (℃ leaves a `c`) explains nothing to a reader.
        for (term, weight) in weights.iter().filter(|(t, _)| t.chars().count() > 1 || !t.is_ascii()) {
            let found = |t: &str| -> Vec<&'static str> {
                parts.iter().filter(|(_, set)| set.contains(t)).map(|(name, _)| *name).collect()
            };
            let fields = found(term);
            if !fields.is_empty() {
                matched.push(MatchedTerm { term: term.clone(), weight: round(*weight), fields, synonym: None });
                continue;
            }
            if let Some((synonym, fields)) =
                analyzer.synonyms(term).iter().map(|s| (s, found(s))).find(|(_, f)| !f.is_empty())
            {
                matched.push(MatchedTerm {
                    term: term.clone(),
                    weight: round(*weight),
                    fields,
                    synonym: Some(synonym.clone()),
                });
            }
        }
        matched.truncate(12);
        all_terms.push(matched);
    }
    let pairs: Vec<(String, String)> = candidates.iter().map(|c| (c.title.clone(), c.body.clone())).collect();
    let highlights = index.highlight(text, &pairs)?;
    Ok((all_terms, highlights))
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
