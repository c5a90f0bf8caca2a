//! Matching on live records: the ranked counterparts of a record with the reasons (the matches
//! API, a manual docking's explanation), and suggestions written as dockings (the suggester
//! follower, a refill after a rejection, `techmarket match --all`). Records and dockings are
//! loaded here, before each pass of `matching::service` over the index.

use std::collections::HashSet;

use serde::Serialize;
use utoipa::ToSchema;

use super::views::OrgRef;
use super::{Actor, App, Error, Result};
use crate::domain::achievement::Achievement;
use crate::domain::docking::{Docking, DockingState};
use crate::domain::need::Need;
use crate::domain::record::{Library, Principal};
use crate::domain::vocab::Visibility;
use crate::matching::service::{
    Explanation, MatchItem, Matches, Subject, achievement_fingerprint, candidate_ids, explain, feedback, feedback_ids,
    first_pass, need_fingerprint, rescored, suggestion,
};
use crate::matching::{MATCHER_VERSION, MatchParams};
use crate::storage::{Change, DockingQuery, StoreError};

/// The record's field evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldShare {
    pub field: String,
    pub share: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchEntry {
    /// The counterpart: an achievement for a need, a need for an achievement.
    pub id: String,
    pub title: String,
    pub owner: OrgRef,
    pub score: f32,
    pub explanation: Explanation,
    /// The docking of this pair, if there is one (open, or the latest closed one).
    pub docking: Option<DockingRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DockingRef {
    pub id: String,
    pub state: DockingState,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchesResponse {
    pub id: String,
    pub library: &'static str,
    pub matcher_version: &'static str,
    pub dictionary_version: String,
    /// The declared field, if any, and the field distribution the ranking used.
    pub declared_field: Option<String>,
    pub field_evidence: Vec<FieldShare>,
    pub items: Vec<MatchEntry>,
}

fn task_failed(e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "matching failed");
    Error::internal()
}

/// A record as a subject of matching.
pub async fn subject(cx: &App, library: Library, id: &str) -> Result<Option<Subject>, StoreError> {
    Ok(match library {
        Library::Needs => cx.store.get_need(id).await?.map(Subject::Need),
        Library::Achievements => cx.store.get_achievement(id).await?.map(Subject::Achievement),
    })
}

/// The record's dockings (at most 500), which feedback and the suggester read.
async fn dockings_of(cx: &App, subject: &Subject) -> Result<Vec<Docking>, StoreError> {
    let mut query = DockingQuery { limit: 500, ..DockingQuery::default() };
    match subject {
        Subject::Need(n) => query.need_id = Some(n.meta.id.clone()),
        Subject::Achievement(a) => query.achievement_id = Some(a.meta.id.clone()),
    }
    Ok(cx.store.list_dockings(&query).await?.items)
}

/// Needs and achievements by id, for the side each list holds.
async fn records_for(cx: &App, subject: &Subject, ids: &[String]) -> Result<(Vec<Need>, Vec<Achievement>), StoreError> {
    Ok(match subject {
        Subject::Need(_) => (Vec::new(), cx.store.achievements_by_ids(ids).await?),
        Subject::Achievement(_) => (cx.store.needs_by_ids(ids).await?, Vec::new()),
    })
}

/// The best `limit` counterparts of a record, open and not private, each with its explanation.
pub async fn rank(cx: &App, subject: &Subject, limit: usize) -> Result<Matches> {
    let dockings = dockings_of(cx, subject).await?;
    rank_with(cx, subject, limit, dockings).await
}

/// `rank` for a record whose dockings are already loaded.
async fn rank_with(cx: &App, subject: &Subject, limit: usize, dockings: Vec<Docking>) -> Result<Matches> {
    // Loaded first: the counterparts the managers' decisions name.
    let (accepted, rejected) = feedback_ids(subject, &dockings);
    let named: Vec<String> = accepted.into_iter().chain(rejected).collect();
    let (needs, achievements) = records_for(cx, subject, &named).await?;
    let feedback = feedback(subject, &dockings, &needs, &achievements);
    // The first pass over the index.
    let index = cx.search.current();
    let params = MatchParams::default();
    let (input, ranking) = {
        let (index, subject) = (index.clone(), subject.clone());
        tokio::task::spawn_blocking(move || first_pass(&index, &subject, feedback, limit, &params))
            .await
            .map_err(task_failed)?
            .map_err(task_failed)?
    };
    // The candidates as the database holds them now, then the second pass.
    let (needs, achievements) = records_for(cx, subject, &candidate_ids(&ranking)).await?;
    let dictionary_version = index.analyzer().version().to_string();
    let (field, items) = {
        let subject = subject.clone();
        tokio::task::spawn_blocking(move || explain(&index, &subject, &input, ranking, &needs, &achievements, limit))
            .await
            .map_err(task_failed)?
            .map_err(task_failed)?
    };
    Ok(Matches { field, items, dictionary_version, dockings })
}

/// The ranked counterparts of a record with the reasons (managers only; private records are
/// not matched, and not shown to managers).
pub async fn for_record(
    cx: &App,
    who: &Principal,
    library: Library,
    id: &str,
    limit: usize,
) -> Result<MatchesResponse> {
    let what = library.name();
    if !who.role.is_staff() {
        return Err(Error::forbidden("matches are for technology managers"));
    }
    let subject = subject(cx, library, id).await?.ok_or_else(|| Error::not_found(what, id))?;
    if subject.visibility() == Visibility::Private {
        return Err(Error::not_found(what, id));
    }
    let matches = rank(cx, &subject, limit).await?;
    let dockings = &matches.dockings;
    let items = matches
        .items
        .into_iter()
        .map(|item| {
            let other = item.counterpart_id(library).to_string();
            let docking = dockings
                .iter()
                .filter(|d| match library {
                    Library::Needs => d.achievement_id == other,
                    Library::Achievements => d.need_id == other,
                })
                .max_by_key(|d| (!d.state.is_final(), d.created_at))
                .map(|d| DockingRef { id: d.id.clone(), state: d.state });
            let (title, owner) = match library {
                Library::Needs => (item.achievement.content.title.clone(), OrgRef::of(&item.achievement.meta)),
                Library::Achievements => (item.need.content.title.clone(), OrgRef::of(&item.need.meta)),
            };
            MatchEntry { id: other, title, owner, score: item.score, explanation: item.explanation, docking }
        })
        .collect();
    Ok(MatchesResponse {
        id: id.to_string(),
        library: library.route(),
        matcher_version: MATCHER_VERSION,
        dictionary_version: matches.dictionary_version,
        declared_field: matches.field.declared.clone(),
        field_evidence: matches
            .field
            .shares
            .iter()
            .take(5)
            .map(|(field, share)| FieldShare { field: field.clone(), share: (share * 1000.0).round() / 1000.0 })
            .collect(),
        items,
    })
}

/// Stores the record's best matches above the threshold as suggested dockings, as long as
/// neither side of a pair has `max_suggestions` waiting for review already (so the queue holds a
/// few per record, and a rejection makes room for the next candidate); a pair with an open
/// docking, or a closed one from when both sides read as they do now, is left alone. Returns
/// how many were created.
pub async fn suggest(cx: &App, subject: &Subject) -> Result<usize> {
    if !subject.is_matchable() {
        return Ok(0);
    }
    let settings = cx.matching;
    let mut existing = dockings_of(cx, subject).await?;
    if rescore(cx, subject, &existing).await? > 0 {
        existing = dockings_of(cx, subject).await?;
    }
    let waiting = existing.iter().filter(|d| d.state == DockingState::Suggested).count();
    let room = settings.max_suggestions.saturating_sub(waiting);
    if room == 0 {
        return Ok(0);
    }
    // Enough candidates to pass over the pairs that already have a docking.
    let limit = (settings.max_suggestions + existing.len()).min(50);
    let matches = rank_with(cx, subject, limit, existing).await?;
    let mut created = 0;
    for item in matches.items.iter().filter(|i| i.score >= settings.threshold) {
        if created == room {
            break;
        }
        if waiting_for(cx, subject, item).await? >= settings.max_suggestions {
            continue;
        }
        let mut unit = cx.begin(Actor::System(MATCHER)).await?;
        let (docking, event) = suggestion(item, &matches.dictionary_version, unit.at());
        match unit.create_docking(&docking, &event, true).await {
            Ok(None) => {
                if f64::from(item.score) >= cx.notifications.suggestion_min_score {
                    let (need, achievement) = (&item.need.content.title, &item.achievement.content.title);
                    unit.notify(super::notifications::suggestion(&docking, need, achievement));
                }
                unit.commit().await?;
                created += 1;
            }
            // The pair has its docking already: the unit is dropped, writing nothing.
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

/// Re-scores the record's suggestions that wait for review and were made before its last
/// material change (what it asks or offers: see `need_fingerprint`), as the record's own
/// matches rank them now: the new score, explanation and near misses replace the old ones, so
/// the review queue agrees with the matches API. A suggestion that falls below the threshold
/// (or out of the ranking) is withdrawn by the matcher, with the gap that explains it as the
/// reason where there is one. Returns how many changed.
async fn rescore(cx: &App, subject: &Subject, dockings: &[Docking]) -> Result<usize> {
    let stale: Vec<&Docking> = dockings
        .iter()
        .filter(|d| d.state == DockingState::Suggested)
        .filter(|d| match subject {
            Subject::Need(n) => d.need_fingerprint != need_fingerprint(&n.content),
            Subject::Achievement(a) => d.achievement_fingerprint != achievement_fingerprint(&a.content),
        })
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    let matches = rank_with(cx, subject, RESCORE_DEPTH, dockings.to_vec()).await?;
    let mut changed = 0;
    for d in stale {
        let item =
            matches.items.iter().find(|i| i.need.meta.id == d.need_id && i.achievement.meta.id == d.achievement_id);
        let mut unit = cx.begin(Actor::System(MATCHER)).await?;
        let (mut updated, event) = rescored(d, item, &matches.dictionary_version, cx.matching.threshold, unit.at());
        if item.is_none() {
            match subject {
                Subject::Need(n) => updated.need_fingerprint = need_fingerprint(&n.content),
                Subject::Achievement(a) => updated.achievement_fingerprint = achievement_fingerprint(&a.content),
            }
        }
        match unit.update_docking(&updated, &event).await {
            Ok(_) => {
                unit.commit().await?;
                changed += 1;
            }
            // A manager acted on it meanwhile: theirs is the later word.
            Err(StoreError::VersionConflict { .. } | StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if changed > 0 {
        tracing::info!(library = subject.library().route(), id = subject.id(), changed, "suggestions re-scored");
    }
    Ok(changed)
}

/// How deep a ranking re-scoring reads: a suggestion not among these is no longer a candidate.
const RESCORE_DEPTH: usize = 50;

/// The actor of the suggester's writes.
pub const MATCHER: &str = "matcher";
/// The suggester's checkpoint in the feed of changes.
pub const SUGGESTER: &str = "suggest";

/// How many suggestions wait for review for the counterpart of `subject` in `item`.
async fn waiting_for(cx: &App, subject: &Subject, item: &MatchItem) -> Result<usize> {
    let mut query = DockingQuery {
        states: vec![DockingState::Suggested],
        limit: cx.matching.max_suggestions as u32,
        ..DockingQuery::default()
    };
    match subject {
        Subject::Need(_) => query.achievement_id = Some(item.achievement.meta.id.clone()),
        Subject::Achievement(_) => query.need_id = Some(item.need.meta.id.clone()),
    }
    let page = cx.store.list_dockings(&query).await?;
    Ok(page.items.len() + usize::from(page.next_cursor.is_some()))
}

/// Suggests for one record by id (a refill after a rejection); a record gone is nothing to do.
pub async fn suggest_for(cx: &App, library: Library, id: &str) -> Result<usize> {
    match subject(cx, library, id).await? {
        Some(subject) => suggest(cx, &subject).await,
        None => Ok(0),
    }
}

/// What a pass of the suggester did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub created: usize,
    /// The change-log position it has suggested up to.
    pub checkpoint: i64,
}

/// Suggests for every record written since the suggester's checkpoint and at or below
/// `indexed` (the position the index has committed, so records written together find each
/// other), then moves the checkpoint. `stop` is asked between batches: a long backlog yields to
/// a shutdown, and the checkpoint keeps the place.
pub async fn run_pending(cx: &App, indexed: i64, stop: impl Fn() -> bool) -> Result<Pending, StoreError> {
    let mut created = 0;
    loop {
        let from = cx.store.checkpoint(SUGGESTER).await?;
        if from >= indexed || stop() {
            return Ok(Pending { created, checkpoint: from });
        }
        let changes = cx.store.changes_after(from, 200).await?;
        let changes: Vec<_> = changes.into_iter().filter(|c| c.seq <= indexed).collect();
        let Some(last) = changes.last().map(|c| c.seq) else { return Ok(Pending { created, checkpoint: from }) };
        let mut seen = HashSet::new();
        for (library, id) in changes.iter().filter_map(Change::record).filter(|&(l, id)| seen.insert((l, id))) {
            let Some(subject) = subject(cx, library, id).await? else { continue };
            match suggest(cx, &subject).await {
                Ok(n) => created += n,
                Err(e) => {
                    // A database that fails is retried from the same checkpoint; a record the
                    // index cannot rank is logged and passed over rather than holding up every
                    // later write.
                    cx.store.ping().await?;
                    tracing::error!(%id, error = %e, "matching a record failed; passed over")
                }
            }
        }
        set_checkpoint(cx, last).await?;
    }
}

/// Moves the suggester's checkpoint in the feed.
async fn set_checkpoint(cx: &App, seq: i64) -> Result<(), StoreError> {
    let mut unit = cx.begin(Actor::System(MATCHER)).await?;
    unit.set_checkpoint(SUGGESTER, seq).await?;
    unit.commit().await
}

/// Re-runs suggestion for every record (`techmarket match --all`): (records, created).
pub async fn match_all(cx: &App) -> Result<(usize, usize)> {
    let (mut records, mut created) = (0, 0);
    for library in [Library::Needs, Library::Achievements] {
        let mut after = String::new();
        loop {
            let page: Vec<Subject> = match library {
                Library::Needs => cx.store.scan_needs(&after, 200).await?.into_iter().map(Subject::Need).collect(),
                Library::Achievements => {
                    cx.store.scan_achievements(&after, 200).await?.into_iter().map(Subject::Achievement).collect()
                }
            };
            let Some(last) = page.last().map(|s| s.id().to_string()) else { break };
            for subject in page {
                records += 1;
                created += suggest(cx, &subject).await?;
            }
            after = last;
        }
    }
    set_checkpoint(cx, cx.search.current().last_seq()).await?;
    Ok((records, created))
}
