//! Keeps the search index consistent with the database, which is the source of truth.
//!
//! Every write to a need or achievement adds a row to the change log in the same transaction.
//! `catch_up` reads the log after the index's checkpoint, re-reads the changed records (their
//! current state, so replays are idempotent) and applies them in one commit whose payload is the
//! new checkpoint. A crash at any point loses nothing: the next start resumes from the last
//! committed checkpoint. `open` builds the index from the database when there is none (or it was
//! built with another dictionary); `rebuild` does so on demand and switches to the new build.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::domain::record::Library;
use crate::search::analyzer::{Analyzer, ExtraTerm};
use crate::search::engine::{Search, SearchError, SearchSettings, add_to_build, commit_build};
use crate::search::index::SearchIndex;
use crate::storage::{Store, StoreError};

/// Records read per database round trip while following the log or rebuilding.
const BATCH: u32 = 500;
/// How many changes a long catch-up reads between two commits of the index.
const COMMIT_EVERY: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// The terms and synonym groups kept in the database.
async fn dictionary_additions(store: &dyn Store) -> Result<(Vec<ExtraTerm>, Vec<Vec<String>>), StoreError> {
    let terms: Vec<ExtraTerm> = store
        .list_dictionary_terms()
        .await?
        .into_iter()
        .map(|t| ExtraTerm { word: t.word, freq: t.freq.map(|f| f as usize) })
        .collect();
    let groups: Vec<Vec<String>> = store.list_synonym_groups().await?.into_iter().map(|g| g.members).collect();
    Ok((terms, groups))
}

/// The analyzer version the current dictionary gives, without building the analyzer.
pub async fn dictionary_version(store: &dyn Store) -> Result<String, StoreError> {
    let (terms, groups) = dictionary_additions(store).await?;
    Ok(Analyzer::version_of(&terms, &groups))
}

/// The analyzer of the shipped dictionary plus the terms and synonyms kept in the database.
pub async fn load_analyzer(store: &dyn Store) -> Result<Arc<Analyzer>, StoreError> {
    let (terms, groups) = dictionary_additions(store).await?;
    let build = move || {
        if terms.is_empty() && groups.is_empty() {
            Analyzer::shipped()
        } else {
            Arc::new(Analyzer::new(&terms, &groups))
        }
    };
    Ok(tokio::task::spawn_blocking(build).await.unwrap_or_else(|_| Analyzer::shipped()))
}

/// Opens the index `CURRENT` names, building it from the database when there is none, when it
/// was built by another analyzer, or when it belongs to another database (or to a later point
/// of this database's change log than the log holds: a database restored or recreated). Such an
/// index is never served: it would answer with another database's records. `catch_up` next
/// applies the changes since its checkpoint.
pub async fn open(store: &dyn Store, settings: SearchSettings) -> Result<Arc<Search>, IndexingError> {
    let analyzer = load_analyzer(store).await?;
    let database = store.database_id().await?;
    if let Some(index) = Search::open_current(&settings, analyzer.clone()).await? {
        let bound = crate::search::engine::current_database(&settings);
        let logged = store.last_change_seq().await?;
        if bound.as_deref() == Some(database.as_str()) && index.last_seq() <= logged {
            return Ok(Search::serve(settings, index));
        }
        tracing::warn!(
            index_database = bound.as_deref().unwrap_or("(not recorded)"),
            database = %database,
            index_position = index.last_seq(),
            log_position = logged,
            "the search index in {} was built from another database (or a later point of its change log); \
             rebuilding it from this one",
            settings.dir.display()
        );
    }
    let (dir, index) = build(store, &settings, analyzer).await?;
    crate::search::engine::switch_current(&settings.dir, &dir)?;
    let search = Search::serve(settings, index);
    search.remove_stale_dirs();
    Ok(search)
}

/// Scans every record into a new index directory. The checkpoint is the last change before the
/// scan began: changes during the scan are applied again afterwards, harmlessly.
async fn build(
    store: &dyn Store,
    settings: &SearchSettings,
    analyzer: Arc<Analyzer>,
) -> Result<(std::path::PathBuf, SearchIndex), IndexingError> {
    let seq = store.last_change_seq().await?;
    let database = store.database_id().await?;
    let (dir, index) = Search::new_build(settings, analyzer).await?;
    let index = Arc::new(index);
    let mut after = String::new();
    loop {
        let needs = store.scan_needs(&after, BATCH).await?;
        let Some(last) = needs.last() else { break };
        after = last.meta.id.clone();
        add_to_build(index.clone(), needs, Vec::new()).await?;
    }
    let mut after = String::new();
    loop {
        let achievements = store.scan_achievements(&after, BATCH).await?;
        let Some(last) = achievements.last() else { break };
        after = last.meta.id.clone();
        add_to_build(index.clone(), Vec::new(), achievements).await?;
    }
    commit_build(index.clone(), seq).await?;
    crate::search::engine::bind_to_database(&dir, &database)?;
    let index = Arc::try_unwrap(index).map_err(|_| SearchError::Task("index still shared after build".into()))?;
    Ok((dir, index))
}

/// Applies every change after the index's checkpoint; returns how many changes it read and the
/// change-log position the index has committed. Changes are read `BATCH` at a time and committed
/// every `COMMIT_EVERY` (an index commit is a disk sync and a new segment to merge), and once at
/// the end: a long catch-up (a large import) commits a few dozen times, not once per batch.
pub async fn catch_up(store: &dyn Store, search: &Search) -> Result<(usize, i64), IndexingError> {
    let _writer = search.writer().await;
    let mut applied = 0;
    let mut seq = search.current().last_seq();
    // Changes read since the last commit, and whether any of them is a record the index holds.
    let (mut uncommitted, mut staged) = (0, false);
    loop {
        let changes = store.changes_after(seq, BATCH).await?;
        let Some(last) = changes.last().map(|c| c.seq) else { break };
        applied += changes.len();
        uncommitted += changes.len();
        let mut need_ids: Vec<String> = Vec::new();
        let mut achievement_ids: Vec<String> = Vec::new();
        let mut seen: HashSet<(Library, &str)> = HashSet::new();
        // The index holds needs and achievements; the other changes of the feed only move its
        // position on.
        for (library, id) in changes.iter().filter_map(|c| c.record()) {
            if seen.insert((library, id)) {
                match library {
                    Library::Needs => need_ids.push(id.to_string()),
                    Library::Achievements => achievement_ids.push(id.to_string()),
                }
            }
        }
        seq = last;
        if !(need_ids.is_empty() && achievement_ids.is_empty()) {
            let needs = store.needs_by_ids(&need_ids).await?;
            let achievements = store.achievements_by_ids(&achievement_ids).await?;
            let found: HashSet<&str> = needs
                .iter()
                .map(|n| n.meta.id.as_str())
                .chain(achievements.iter().map(|a| a.meta.id.as_str()))
                .collect();
            let deleted: Vec<String> =
                need_ids.iter().chain(&achievement_ids).filter(|id| !found.contains(id.as_str())).cloned().collect();
            search.stage(needs, achievements, deleted).await?;
            staged = true;
        }
        if staged && uncommitted >= COMMIT_EVERY {
            search.commit(seq).await?;
            (uncommitted, staged) = (0, false);
        }
    }
    if staged {
        search.commit(seq).await?;
    } else {
        // Nothing the index holds changed since the last commit: no commit, the position moves on.
        search.current().pass(seq);
    }
    if applied > 0 {
        tracing::debug!(changes = applied, "index caught up");
    }
    Ok((applied, search.current().last_seq()))
}

/// Rebuilds the index from the database with the current dictionary into a new directory, then
/// switches to it. Searches keep using the old index until the switch.
pub async fn rebuild(store: &dyn Store, search: &Search) -> Result<String, IndexingError> {
    let writer = search.writer().await;
    let analyzer = load_analyzer(store).await?;
    let version = analyzer.version().to_string();
    let (dir, index) = build(store, search.settings(), analyzer).await?;
    search.switch_to(&dir, index)?;
    tracing::info!(analyzer = %version, dir = %dir.display(), "index rebuilt");
    drop(writer);
    catch_up(store, search).await?;
    Ok(version)
}

/// Rebuilds the context's index (`techmarket reindex`); the analyzer's version and how the new
/// index compares with the database.
pub async fn reindex(cx: &crate::app::App) -> Result<(String, DriftReport), IndexingError> {
    let version = rebuild(cx.store.as_ref(), &cx.search).await?;
    let report = check(cx.store.as_ref(), &cx.search).await?;
    Ok((version, report))
}

/// How the context's index compares with the database (`techmarket index check`).
pub async fn drift(cx: &crate::app::App) -> Result<DriftReport, IndexingError> {
    check(cx.store.as_ref(), &cx.search).await
}

/// Compares the index with the database: counts, and every record's version.
pub async fn check(store: &dyn Store, search: &Search) -> Result<DriftReport, IndexingError> {
    let index = search.current();
    let mut libraries = Vec::new();
    for library in [Library::Needs, Library::Achievements] {
        let stored: BTreeMap<String, i64> = store.record_versions(library).await?.into_iter().collect();
        let indexed = search.versions(library).await?;
        let first = |ids: Vec<String>| ids.into_iter().take(20).collect::<Vec<_>>();
        libraries.push(LibraryDrift {
            library: library.route().to_string(),
            in_database: stored.len(),
            in_index: indexed.len(),
            missing: first(stored.keys().filter(|id| !indexed.contains_key(*id)).cloned().collect()),
            stale: first(
                stored
                    .iter()
                    .filter(|(id, v)| indexed.get(*id).is_some_and(|iv| iv != *v))
                    .map(|(id, _)| id.clone())
                    .collect(),
            ),
            extra: first(indexed.keys().filter(|id| !stored.contains_key(*id)).cloned().collect()),
        });
    }
    let consistent = libraries.iter().all(|l| l.missing.is_empty() && l.stale.is_empty() && l.extra.is_empty());
    Ok(DriftReport {
        analyzer: index.analyzer().version().to_string(),
        checkpoint: index.last_seq(),
        last_change: store.last_change_seq().await?,
        libraries,
        consistent,
    })
}

/// How the index compares with the database.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DriftReport {
    pub analyzer: String,
    pub checkpoint: i64,
    pub last_change: i64,
    pub libraries: Vec<LibraryDrift>,
    /// True when every record is in the index at its current version and nothing else is.
    pub consistent: bool,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LibraryDrift {
    pub library: String,
    pub in_database: usize,
    pub in_index: usize,
    /// Ids in the database but not in the index (first 20).
    pub missing: Vec<String>,
    /// Ids whose indexed version is not the stored one (first 20).
    pub stale: Vec<String>,
    /// Ids in the index but not in the database (first 20).
    pub extra: Vec<String>,
}
