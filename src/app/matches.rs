//! Matching on live records: the ranked counterparts of a record with the reasons (the matches
//! API, a manual docking's explanation), and suggestions written as dockings (the suggester
//! follower, a refill after a rejection, `techmarket match --all`). Records and dockings are
//! loaded here, before each pass of `matching::service` over the index.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

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
    Explanation, MatchItem, Matches, Subject, achievement_fingerprint, candidate_ids, counterpart_request, explain,
    feedback, feedback_ids, first_pass, first_pass_among, need_fingerprint, rescored, suggestion,
};
use crate::matching::{Feedback, KeywordMemo, MATCHER_VERSION, MatchParams};
use crate::search::index::{Counterparts, SearchIndex};
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
        tokio::task::spawn_blocking(move || {
            let frequencies = index.frequencies();
            let (needs, achievements): (Vec<&Need>, Vec<&Achievement>) =
                (needs.iter().collect(), achievements.iter().collect());
            explain(&index, &subject, &input, ranking, &needs, &achievements, limit, None, &frequencies)
        })
        .await
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
    Ok(suggest_one(cx, subject).await?.len())
}

/// `suggest`, returning the dockings it created.
async fn suggest_one(cx: &App, subject: &Subject) -> Result<Vec<Docking>> {
    if !subject.is_matchable() {
        return Ok(Vec::new());
    }
    let settings = cx.matching;
    let mut existing = dockings_of(cx, subject).await?;
    if rescore(cx, subject, &existing).await? > 0 {
        existing = dockings_of(cx, subject).await?;
    }
    let waiting = existing.iter().filter(|d| d.state == DockingState::Suggested).count();
    let room = settings.max_suggestions.saturating_sub(waiting);
    if room == 0 {
        return Ok(Vec::new());
    }
    // Enough candidates to pass over the pairs that already have a docking.
    let limit = (settings.max_suggestions + existing.len()).min(50);
    let matches = rank_with(cx, subject, limit, existing).await?;
    let mut created = Vec::new();
    for item in matches.items.iter().filter(|i| i.score >= settings.threshold) {
        if created.len() == room {
            break;
        }
        if waiting_for(cx, subject, item).await? >= settings.max_suggestions {
            continue;
        }
        let mut unit = cx.begin(Actor::System(MATCHER)).await?;
        if let Written::Created(docking) = write_suggestion(cx, &mut unit, item, &matches.dictionary_version).await? {
            unit.commit().await?;
            created.push(docking);
        }
    }
    if !created.is_empty() {
        tracing::info!(
            library = subject.library().route(),
            id = subject.id(),
            created = created.len(),
            "dockings suggested"
        );
    }
    Ok(created)
}

/// What writing a suggestion did.
enum Written {
    Created(Docking),
    /// The pair has its docking already: nothing was written.
    Exists,
    /// Another instance suggested the same pair at the same moment: the unit failed on it and is
    /// not to be committed.
    Raced,
}

/// Writes the suggestion of a ranked pair in `unit`, with its notification.
async fn write_suggestion(
    cx: &App,
    unit: &mut super::unit::UnitOfWork<'_>,
    item: &MatchItem,
    dictionary_version: &str,
) -> Result<Written> {
    let (docking, event) = suggestion(item, dictionary_version, unit.at());
    match unit.create_docking(&docking, &event, true).await {
        Ok(None) => {
            announce(cx, unit, item, &docking);
            Ok(Written::Created(docking))
        }
        Ok(Some(_)) => Ok(Written::Exists),
        Err(StoreError::UniqueViolation { .. }) => Ok(Written::Raced),
        Err(e) => Err(e.into()),
    }
}

/// The notification of a new suggestion, if its score is worth one.
fn announce(cx: &App, unit: &mut super::unit::UnitOfWork<'_>, item: &MatchItem, docking: &Docking) {
    if f64::from(item.score) >= cx.notifications.suggestion_min_score {
        let (need, achievement) = (&item.need.content.title, &item.achievement.content.title);
        unit.notify(super::notifications::suggestion(docking, need, achievement));
    }
}

/// Suggests for `subjects`, in their order, exactly what `suggest` on each in turn would: the
/// records without dockings are ranked together (on every core, the candidates read from the
/// database at once) and their suggestions written in one unit of work; a record with dockings
/// (whose earlier suggestions may need re-scoring, whose managers' decisions feed its ranking),
/// or one that a suggestion earlier in the batch has reached, goes through `suggest` after the
/// suggestions before it are written. How many suggestions wait for each counterpart is read
/// once and then counted as the batch suggests. Returns how many were created.
pub async fn suggest_batch(cx: &App, among: &mut Among, subjects: &[Subject]) -> Result<usize> {
    let settings = cx.matching;
    let engaged = engaged(cx, subjects).await?;
    let plain: Vec<bool> =
        subjects.iter().map(|s| s.is_matchable() && !engaged.contains(&(s.library(), s.id().to_string()))).collect();
    let chosen: Vec<&Subject> = subjects.iter().zip(&plain).filter(|(_, p)| **p).map(|(s, _)| s).collect();
    let ranked =
        rank_many(cx, among, chosen.iter().map(|s| (*s).clone()).collect(), settings.max_suggestions.min(50)).await?;
    let mut batch = Batch { waiting: waiting_counts(cx, &chosen, &ranked).await?, ..Batch::default() };
    let mut ranked = ranked.into_iter();
    let mut created = 0;
    for (subject, plain) in subjects.iter().zip(plain) {
        let key = (subject.library(), subject.id().to_string());
        let items = if plain { ranked.next() } else { None };
        let Some((items, dictionary_version)) = items.filter(|_| !batch.reached.contains(&key)) else {
            if !subject.is_matchable() {
                continue;
            }
            created += batch.flush(cx).await?;
            batch.waiting.clear();
            for docking in suggest_one(cx, subject).await? {
                batch.reached.insert(counterpart_key(subject, &docking));
                created += 1;
            }
            continue;
        };
        let mut made = 0;
        for item in items.into_iter().filter(|i| i.score >= settings.threshold) {
            if made == settings.max_suggestions {
                break;
            }
            let other = counterpart_of(subject, &item);
            let waiting = match batch.waiting.get(&other) {
                Some(n) => *n,
                None => waiting_for(cx, subject, &item).await?,
            };
            if waiting >= settings.max_suggestions {
                batch.waiting.insert(other, waiting);
                continue;
            }
            batch.waiting.insert(other.clone(), waiting + 1);
            batch.reached.insert(other);
            batch.pending.push((item, dictionary_version.clone()));
            made += 1;
        }
    }
    created += batch.flush(cx).await?;
    Ok(created)
}

/// The records of `subjects` that take part in a docking (in any state), read at once.
async fn engaged(cx: &App, subjects: &[Subject]) -> Result<HashSet<(Library, String)>> {
    let mut engaged = HashSet::new();
    for library in [Library::Needs, Library::Achievements] {
        let ids: Vec<String> = subjects.iter().filter(|s| s.library() == library).map(|s| s.id().to_string()).collect();
        if ids.is_empty() {
            continue;
        }
        let counts = cx.store.docking_counts(library, &ids, None).await?;
        engaged.extend(counts.into_keys().map(|id| (library, id)));
    }
    Ok(engaged)
}

/// How many suggestions wait for each counterpart the rankings of `chosen` could suggest (those
/// at or above the threshold), read at once.
async fn waiting_counts(
    cx: &App,
    chosen: &[&Subject],
    ranked: &[(Vec<MatchItem>, String)],
) -> Result<HashMap<(Library, String), usize>> {
    let mut others: HashSet<(Library, String)> = HashSet::new();
    for (subject, (items, _)) in chosen.iter().zip(ranked) {
        others.extend(items.iter().filter(|i| i.score >= cx.matching.threshold).map(|i| counterpart_of(subject, i)));
    }
    let mut waiting = HashMap::new();
    for library in [Library::Needs, Library::Achievements] {
        let ids: Vec<String> = others.iter().filter(|(l, _)| *l == library).map(|(_, id)| id.clone()).collect();
        if ids.is_empty() {
            continue;
        }
        let counts = cx.store.docking_counts(library, &ids, Some(DockingState::Suggested)).await?;
        for id in ids {
            let n = counts.get(&id).copied().unwrap_or(0) as usize;
            waiting.insert((library, id), n);
        }
    }
    Ok(waiting)
}

/// The counterpart of `subject` in a ranked pair, as (library, id).
fn counterpart_of(subject: &Subject, item: &MatchItem) -> (Library, String) {
    match subject {
        Subject::Need(_) => (Library::Achievements, item.achievement.meta.id.clone()),
        Subject::Achievement(_) => (Library::Needs, item.need.meta.id.clone()),
    }
}

/// The counterpart of `subject` in one of its dockings, as (library, id).
fn counterpart_key(subject: &Subject, docking: &Docking) -> (Library, String) {
    match subject {
        Subject::Need(_) => (Library::Achievements, docking.achievement_id.clone()),
        Subject::Achievement(_) => (Library::Needs, docking.need_id.clone()),
    }
}

/// A batch's decisions not yet written, and what it knows of the queues.
#[derive(Default)]
struct Batch {
    /// Suggestions decided, in order, with the dictionary version of their ranking.
    pending: Vec<(MatchItem, String)>,
    /// How many suggestions wait for a record (those of the database when first asked, and the
    /// batch's own since).
    waiting: HashMap<(Library, String), usize>,
    /// The records that a suggestion of this batch has reached.
    reached: HashSet<(Library, String)>,
}

impl Batch {
    /// Writes the pending suggestions in one unit of work, many to a statement and without
    /// looking for the pairs' dockings: each pair names a record of the batch that had none when
    /// the batch began, and the batch suggests a pair once. If another instance wrote one of the
    /// pairs meanwhile (the unit fails on it), one unit each, as `suggest` does (which
    /// recognises what exists). Returns how many were created.
    async fn flush(&mut self, cx: &App) -> Result<usize> {
        if self.pending.is_empty() {
            return Ok(0);
        }
        let pending = std::mem::take(&mut self.pending);
        let mut unit = cx.begin(Actor::System(MATCHER)).await?;
        let rows: Vec<_> = pending.iter().map(|(item, version)| suggestion(item, version, unit.at())).collect();
        match unit.insert_suggested(&rows).await {
            Ok(()) => {
                for ((item, _), (docking, _)) in pending.iter().zip(&rows) {
                    announce(cx, &mut unit, item, docking);
                }
                unit.commit().await?;
                tracing::info!(created = rows.len(), "dockings suggested in a batch");
                return Ok(rows.len());
            }
            Err(StoreError::UniqueViolation { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        drop(unit);
        let mut created = 0;
        for (item, dictionary_version) in &pending {
            let mut unit = cx.begin(Actor::System(MATCHER)).await?;
            if let Written::Created(_) = write_suggestion(cx, &mut unit, item, dictionary_version).await? {
                unit.commit().await?;
                created += 1;
            }
        }
        Ok(created)
    }
}

/// Each library's open records as the first pass of every record of the other sees them
/// (`SearchIndex::counterparts`), with each term's postings among them read once: kept from one
/// batch to the next while the index has not changed.
#[derive(Default)]
pub struct Among {
    kept: HashMap<Library, Arc<Counterparts>>,
}

impl Among {
    /// The counterparts of the records of each of `libraries` on `index` as it is now.
    async fn current(
        &mut self,
        index: &Arc<SearchIndex>,
        libraries: HashSet<Library>,
    ) -> Result<HashMap<Library, Arc<Counterparts>>> {
        self.kept.retain(|_, c| c.is_current(index));
        let missing: Vec<Library> = libraries.iter().filter(|l| !self.kept.contains_key(l)).copied().collect();
        let index = index.clone();
        let built = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .map(|l| index.counterparts(&counterpart_request(l)).map(|c| (l, Arc::new(c))))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(task_failed)?
        .map_err(task_failed)?;
        self.kept.extend(built);
        Ok(self.kept.iter().filter(|(l, _)| libraries.contains(l)).map(|(l, c)| (*l, c.clone())).collect())
    }
}

/// The ranked counterparts (up to `limit`, with their explanations) and the dictionary version
/// of records without dockings, as `rank` gives them, less those scoring below the suggester's
/// threshold: the first and second passes run on every core, and the candidates of all are read
/// from the database together in between.
async fn rank_many(
    cx: &App,
    among: &mut Among,
    subjects: Vec<Subject>,
    limit: usize,
) -> Result<Vec<(Vec<MatchItem>, String)>> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let index = cx.search.current();
    let dictionary_version = index.analyzer().version().to_string();
    let threshold = cx.matching.threshold;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(subjects.len());
    let share = subjects.len().div_ceil(threads);
    let params = MatchParams::default();
    let among = among.current(&index, subjects.iter().map(Subject::library).collect()).await?;
    let mut tasks = Vec::new();
    for part in subjects.chunks(share) {
        let (index, part, among) = (index.clone(), part.to_vec(), among.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut memo = KeywordMemo::default();
            part.into_iter()
                .map(|s| {
                    let counterparts = among.get(&s.library()).map(|c| c.as_ref());
                    first_pass_among(&index, counterparts, &mut memo, &s, Feedback::default(), limit, &params)
                        .map(|r| (s, r))
                })
                .collect::<Result<Vec<_>, _>>()
        }));
    }
    let mut first = Vec::with_capacity(subjects.len());
    for task in tasks {
        first.extend(task.await.map_err(task_failed)?.map_err(task_failed)?);
    }
    // The candidates as the database holds them now.
    let (mut need_ids, mut achievement_ids) = (BTreeSet::new(), BTreeSet::new());
    for (subject, (_, ranking)) in &first {
        let ids = candidate_ids(ranking);
        match subject {
            Subject::Need(_) => achievement_ids.extend(ids),
            Subject::Achievement(_) => need_ids.extend(ids),
        }
    }
    let (needs, achievements) =
        (Arc::new(needs_by_id(cx, need_ids).await?), Arc::new(achievements_by_id(cx, achievement_ids).await?));
    let mut tasks = Vec::new();
    let mut rest = first.into_iter();
    loop {
        let part: Vec<_> = rest.by_ref().take(share).collect();
        if part.is_empty() {
            break;
        }
        let (index, needs, achievements, among) = (index.clone(), needs.clone(), achievements.clone(), among.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|(subject, (input, ranking))| {
                    let ids = candidate_ids(&ranking);
                    let (n, a): (Vec<&Need>, Vec<&Achievement>) = match subject {
                        Subject::Need(_) => (Vec::new(), ids.iter().filter_map(|id| achievements.get(id)).collect()),
                        Subject::Achievement(_) => (ids.iter().filter_map(|id| needs.get(id)).collect(), Vec::new()),
                    };
                    // The batch's frequencies, as its rankings used them.
                    let own;
                    let frequencies = match among.get(&subject.library()) {
                        Some(counterparts) => counterparts.frequencies(),
                        None => {
                            own = index.frequencies();
                            &own
                        }
                    };
                    let floor = Some(threshold);
                    explain(&index, &subject, &input, ranking, &n, &a, limit, floor, frequencies).1
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut out = Vec::with_capacity(subjects.len());
    for task in tasks {
        let items = task.await.map_err(task_failed)?;
        out.extend(items.into_iter().map(|items| (items, dictionary_version.clone())));
    }
    Ok(out)
}

/// How many ids one read asks for.
const READ_CHUNK: usize = 5_000;

/// Needs by id, read in chunks.
async fn needs_by_id(cx: &App, ids: BTreeSet<String>) -> Result<HashMap<String, Need>, StoreError> {
    let store = cx.store.clone();
    by_id(
        ids,
        |n: &Need| n.meta.id.clone(),
        |chunk| {
            let store = store.clone();
            async move { store.needs_by_ids(&chunk).await }
        },
    )
    .await
}

/// Achievements by id, read in chunks.
async fn achievements_by_id(cx: &App, ids: BTreeSet<String>) -> Result<HashMap<String, Achievement>, StoreError> {
    let store = cx.store.clone();
    by_id(
        ids,
        |a: &Achievement| a.meta.id.clone(),
        |chunk| {
            let store = store.clone();
            async move { store.achievements_by_ids(&chunk).await }
        },
    )
    .await
}

/// Records by id, `READ_CHUNK` ids per `read`.
async fn by_id<T, F, Fut>(
    ids: BTreeSet<String>,
    id: fn(&T) -> String,
    read: F,
) -> Result<HashMap<String, T>, StoreError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let ids: Vec<String> = ids.into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        out.extend(read(chunk.to_vec()).await?.into_iter().map(|r| (id(&r), r)));
    }
    Ok(out)
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
    run_pending_among(cx, &mut Among::default(), indexed, stop).await
}

/// `run_pending`, with counterparts kept from an earlier pass (while the index is unchanged).
pub async fn run_pending_among(
    cx: &App,
    among: &mut Among,
    indexed: i64,
    stop: impl Fn() -> bool,
) -> Result<Pending, StoreError> {
    let mut created = 0;
    loop {
        let from = cx.store.checkpoint(SUGGESTER).await?;
        if from >= indexed || stop() {
            return Ok(Pending { created, checkpoint: from });
        }
        let changes = cx.store.changes_after(from, BATCH).await?;
        let changes: Vec<_> = changes.into_iter().filter(|c| c.seq <= indexed).collect();
        let Some(last) = changes.last().map(|c| c.seq) else { return Ok(Pending { created, checkpoint: from }) };
        let mut seen = HashSet::new();
        let records: Vec<(Library, &str)> =
            changes.iter().filter_map(Change::record).filter(|&(l, id)| seen.insert((l, id))).collect();
        let subjects = subjects(cx, &records).await?;
        match suggest_batch(cx, among, &subjects).await {
            Ok(n) => created += n,
            Err(e) => {
                // A database that fails is retried from the same checkpoint; otherwise the batch
                // is matched again record by record (what it wrote is recognised), and a record
                // the index cannot rank is logged and passed over rather than holding up every
                // later write.
                cx.store.ping().await?;
                tracing::warn!(error = %e, "matching a batch failed; matching its records one by one");
                for subject in &subjects {
                    match suggest(cx, subject).await {
                        Ok(n) => created += n,
                        Err(e) => {
                            cx.store.ping().await?;
                            tracing::error!(id = subject.id(), error = %e, "matching a record failed; passed over")
                        }
                    }
                }
            }
        }
        set_checkpoint(cx, last).await?;
    }
}

/// How many changes of the feed the suggester reads, and matches as one batch, at a time.
const BATCH: u32 = 1_000;

/// The records of `records` that still exist, in that order.
async fn subjects(cx: &App, records: &[(Library, &str)]) -> Result<Vec<Subject>, StoreError> {
    let ids = |library| records.iter().filter(|(l, _)| *l == library).map(|(_, id)| id.to_string()).collect();
    let mut needs = needs_by_id(cx, ids(Library::Needs)).await?;
    let mut achievements = achievements_by_id(cx, ids(Library::Achievements)).await?;
    Ok(records
        .iter()
        .filter_map(|(library, id)| match library {
            Library::Needs => needs.remove(*id).map(Subject::Need),
            Library::Achievements => achievements.remove(*id).map(Subject::Achievement),
        })
        .collect())
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
    let mut among = Among::default();
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
            records += page.len();
            created += suggest_batch(cx, &mut among, &page).await?;
            after = last;
        }
    }
    set_checkpoint(cx, cx.search.current().last_seq()).await?;
    Ok((records, created))
}
