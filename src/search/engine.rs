//! Keeps the index consistent with the database, which is the source of truth.
//!
//! Every write to a need or achievement adds a row to the change log in the same transaction.
//! The follower reads the log after the index's checkpoint, re-reads the changed records (their
//! current state, so replays are idempotent), applies them in one commit whose payload is the
//! new checkpoint, and sleeps until woken by a local write or until the poll interval passes
//! (writes through other instances sharing the database). A crash at any point loses nothing:
//! the next start resumes from the last committed checkpoint.
//!
//! Index directories live under `<data dir>/index/`, one per build; the file `CURRENT` names the
//! one in use. A build with another analyzer (dictionary, synonyms, rules) is never mixed into
//! an existing one: a rebuild scans the database into a new directory and switches `CURRENT`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, Notify};
use utoipa::ToSchema;

use super::analyzer::{Analyzer, ExtraTerm};
use super::index::{IndexError, SearchIndex, SearchOutcome, SearchRequest};
use super::schema::IndexRecord;
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::record::Library;
use crate::storage::{Store, StoreError};

/// Records read per database round trip while following the log or rebuilding.
const BATCH: u32 = 500;
const CURRENT_FILE: &str = "CURRENT";

#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// Where index directories are kept.
    pub dir: PathBuf,
    /// After a local write, wait this long to batch more writes into one commit.
    pub commit_delay: Duration,
    /// How often to look for writes made through other instances.
    pub poll_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("index task failed: {0}")]
    Task(String),
    #[error("cannot update {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SearchError + '_ {
    move |source| SearchError::Io { path: path.display().to_string(), source }
}

/// How the index compares with the database.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DriftReport {
    pub analyzer: String,
    pub checkpoint: i64,
    pub last_change: i64,
    pub libraries: Vec<LibraryDrift>,
    /// True when every record is in the index at its current version and nothing else is.
    pub consistent: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

pub struct Search {
    store: Arc<dyn Store>,
    settings: SearchSettings,
    current: RwLock<Arc<SearchIndex>>,
    /// One writer of the index at a time: the follower, a drain, or a rebuild.
    apply: Mutex<()>,
    wake: Notify,
    stopped: AtomicBool,
    follower: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SearchError::Task(e.to_string()))?.map_err(SearchError::from)
}

impl Search {
    /// Opens the index named by `CURRENT`, rebuilding from the database when there is none or
    /// when it was built by another analyzer. Call `catch_up` (or `spawn_follower`) next to
    /// apply the changes since its checkpoint.
    pub async fn open(store: Arc<dyn Store>, settings: SearchSettings) -> Result<Arc<Search>, SearchError> {
        std::fs::create_dir_all(&settings.dir).map_err(io(&settings.dir))?;
        let analyzer = load_analyzer(store.as_ref()).await?;
        let current_dir =
            std::fs::read_to_string(settings.dir.join(CURRENT_FILE)).ok().map(|n| settings.dir.join(n.trim()));
        let existing = match current_dir {
            Some(dir) if dir.join("meta.json").exists() => {
                let analyzer = analyzer.clone();
                match blocking(move || SearchIndex::open_or_create(&dir, analyzer)).await {
                    Ok(index) => Some(index),
                    Err(SearchError::Index(IndexError::AnalyzerMismatch { found, expected, .. })) => {
                        tracing::info!(%found, %expected, "the dictionary changed since the index was built; rebuilding");
                        None
                    }
                    Err(other) => return Err(other),
                }
            }
            _ => None,
        };
        let fresh = existing.is_none();
        let index = match existing {
            Some(index) => index,
            None => {
                let (dir, index) = Self::build(store.as_ref(), &settings.dir, analyzer).await?;
                Self::switch_current(&settings.dir, &dir)?;
                index
            }
        };
        let search = Arc::new(Search {
            store,
            settings,
            current: RwLock::new(Arc::new(index)),
            apply: Mutex::new(()),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
            follower: std::sync::Mutex::new(None),
        });
        if fresh {
            search.remove_stale_dirs();
        }
        Ok(search)
    }

    pub fn current(&self) -> Arc<SearchIndex> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn analyzer_version(&self) -> String {
        self.current().analyzer().version().to_string()
    }

    /// Tells the follower a record was written here, so it indexes it without waiting.
    pub fn notify_write(&self) {
        self.wake.notify_one();
    }

    /// Runs the follower until `stop`: wakes on local writes (after the commit delay, to batch
    /// them) or every poll interval, and applies what the change log holds.
    pub fn spawn_follower(self: &Arc<Self>) {
        let search = self.clone();
        let handle = tokio::spawn(async move {
            while !search.stopped.load(Ordering::Acquire) {
                tokio::select! {
                    _ = search.wake.notified() => tokio::time::sleep(search.settings.commit_delay).await,
                    _ = tokio::time::sleep(search.settings.poll_interval) => {}
                }
                if search.stopped.load(Ordering::Acquire) {
                    break;
                }
                if let Err(error) = search.catch_up().await {
                    tracing::warn!(%error, "indexing from the change log failed; retrying");
                }
            }
        });
        *self.follower.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    /// Stops the follower, waits for it, and releases the index writer (and its lock).
    pub async fn close(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
        let follower = self.follower.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(follower) = follower {
            let _ = follower.await;
        }
        let _writer = self.apply.lock().await;
        let index = self.current();
        if let Err(error) = blocking(move || index.close()).await {
            tracing::warn!(%error, "closing the index writer failed");
        }
    }

    /// Applies every change after the index's checkpoint; returns how many changes it read.
    pub async fn catch_up(&self) -> Result<usize, SearchError> {
        let _writer = self.apply.lock().await;
        let mut applied = 0;
        loop {
            let index = self.current();
            let seq = index.last_seq();
            let changes = self.store.changes_after(seq, BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else { break };
            applied += changes.len();
            let mut need_ids: Vec<String> = Vec::new();
            let mut achievement_ids: Vec<String> = Vec::new();
            for change in &changes {
                let ids = match change.library {
                    Library::Needs => &mut need_ids,
                    Library::Achievements => &mut achievement_ids,
                };
                if !ids.contains(&change.record_id) {
                    ids.push(change.record_id.clone());
                }
            }
            let needs = self.store.needs_by_ids(&need_ids).await?;
            let achievements = self.store.achievements_by_ids(&achievement_ids).await?;
            let deleted: Vec<String> = need_ids
                .iter()
                .filter(|id| !needs.iter().any(|n| &n.meta.id == *id))
                .chain(achievement_ids.iter().filter(|id| !achievements.iter().any(|a| &a.meta.id == *id)))
                .cloned()
                .collect();
            blocking(move || index.apply(&records(&needs, &achievements), &deleted, last)).await?;
        }
        if applied > 0 {
            tracing::debug!(changes = applied, "index caught up");
        }
        Ok(applied)
    }

    /// Rebuilds the index from the database with the current dictionary into a new directory,
    /// then switches to it. Searches keep using the old index until the switch.
    pub async fn rebuild(&self) -> Result<String, SearchError> {
        let writer = self.apply.lock().await;
        let analyzer = load_analyzer(self.store.as_ref()).await?;
        let version = analyzer.version().to_string();
        let (dir, index) = Self::build(self.store.as_ref(), &self.settings.dir, analyzer).await?;
        Self::switch_current(&self.settings.dir, &dir)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        self.remove_stale_dirs();
        tracing::info!(analyzer = %version, dir = %dir.display(), "index rebuilt");
        drop(writer);
        self.catch_up().await?;
        Ok(version)
    }

    /// Scans every record into a new index directory. The checkpoint is the last change before
    /// the scan began: changes during the scan are applied again afterwards, harmlessly.
    async fn build(
        store: &dyn Store,
        parent: &Path,
        analyzer: Arc<Analyzer>,
    ) -> Result<(PathBuf, SearchIndex), SearchError> {
        let seq = store.last_change_seq().await?;
        let dir = parent.join(format!("idx-{}", uuid::Uuid::now_v7().simple()));
        let target = dir.clone();
        let index = blocking(move || SearchIndex::open_or_create(&target, analyzer)).await?;
        let index = Arc::new(index);
        let mut after = String::new();
        loop {
            let needs = store.scan_needs(&after, BATCH).await?;
            let Some(last) = needs.last() else { break };
            after = last.meta.id.clone();
            let index = index.clone();
            blocking(move || index.add(&records(&needs, &[]))).await?;
        }
        let mut after = String::new();
        loop {
            let achievements = store.scan_achievements(&after, BATCH).await?;
            let Some(last) = achievements.last() else { break };
            after = last.meta.id.clone();
            let index = index.clone();
            blocking(move || index.add(&records(&[], &achievements))).await?;
        }
        let committed = index.clone();
        blocking(move || committed.apply(&[], &[], seq)).await?;
        let index = Arc::try_unwrap(index).map_err(|_| SearchError::Task("index still shared after build".into()))?;
        Ok((dir, index))
    }

    /// Points `CURRENT` at `dir`, atomically (write a temporary file, then rename).
    fn switch_current(parent: &Path, dir: &Path) -> Result<(), SearchError> {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let temporary = parent.join(format!("{CURRENT_FILE}.tmp"));
        std::fs::write(&temporary, &name).map_err(io(&temporary))?;
        std::fs::rename(&temporary, parent.join(CURRENT_FILE)).map_err(io(parent))?;
        Ok(())
    }

    /// Deletes index directories other than the current one (old builds).
    fn remove_stale_dirs(&self) {
        let current = std::fs::read_to_string(self.settings.dir.join(CURRENT_FILE)).unwrap_or_default();
        let Ok(entries) = std::fs::read_dir(&self.settings.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("idx-")
                && name != current.trim()
                && let Err(error) = std::fs::remove_dir_all(entry.path())
            {
                tracing::warn!(%error, dir = %name, "could not remove an old index directory");
            }
        }
    }

    /// Runs a search on the current index.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchOutcome, SearchError> {
        let index = self.current();
        blocking(move || index.search(&request)).await
    }

    /// Compares the index with the database: counts, and every record's version.
    pub async fn check(&self) -> Result<DriftReport, SearchError> {
        let index = self.current();
        let mut libraries = Vec::new();
        for library in [Library::Needs, Library::Achievements] {
            let stored: BTreeMap<String, i64> = self.store.record_versions(library).await?.into_iter().collect();
            let searchable = index.clone();
            let indexed = blocking(move || searchable.versions(library)).await?;
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
            last_change: self.store.last_change_seq().await?,
            libraries,
            consistent,
        })
    }
}

/// The index view of a batch of records.
fn records<'a>(needs: &'a [Need], achievements: &'a [Achievement]) -> Vec<IndexRecord<'a>> {
    needs.iter().map(IndexRecord::from).chain(achievements.iter().map(IndexRecord::from)).collect()
}
