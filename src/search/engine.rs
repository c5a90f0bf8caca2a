//! The tantivy gateway of the running service: the index directories under `<data dir>/index/`
//! (one per build; the file `CURRENT` names the one in use), the index searches read, and the
//! one writer at a time that applies changes. It knows nothing of the database: what to apply,
//! and when, is decided by `app::indexing` and the indexer follower.
//!
//! A build with another analyzer (dictionary, synonyms, rules) is never mixed into an existing
//! one: a rebuild writes a new directory and switches `CURRENT`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

use super::analyzer::Analyzer;
use super::index::{IndexError, SearchIndex, SearchOutcome, SearchRequest};
use super::schema::IndexRecord;
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::record::Library;

const CURRENT_FILE: &str = "CURRENT";
/// In each index directory: the id of the database the index was built from.
const DATABASE_FILE: &str = "DATABASE";

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
    #[error("index task failed: {0}")]
    Task(String),
    #[error("cannot update {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SearchError + '_ {
    move |source| SearchError::Io { path: path.display().to_string(), source }
}

pub struct Search {
    settings: SearchSettings,
    current: RwLock<Arc<SearchIndex>>,
    /// One writer of the index at a time: the indexer, a drain, or a rebuild.
    apply: Mutex<()>,
}

/// Runs index work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SearchError::Task(e.to_string()))?.map_err(SearchError::from)
}

impl Search {
    /// The index `CURRENT` names, if there is one built with `analyzer`; `None` when there is
    /// none or it was built by another analyzer (then a build is due).
    pub async fn open_current(
        settings: &SearchSettings,
        analyzer: Arc<Analyzer>,
    ) -> Result<Option<SearchIndex>, SearchError> {
        std::fs::create_dir_all(&settings.dir).map_err(io(&settings.dir))?;
        let current_dir =
            std::fs::read_to_string(settings.dir.join(CURRENT_FILE)).ok().map(|n| settings.dir.join(n.trim()));
        match current_dir {
            Some(dir) if dir.join("meta.json").exists() => {
                match blocking(move || SearchIndex::open_or_create(&dir, analyzer)).await {
                    Ok(index) => Ok(Some(index)),
                    Err(SearchError::Index(IndexError::AnalyzerMismatch { found, expected, .. })) => {
                        tracing::info!(%found, %expected, "the dictionary changed since the index was built; rebuilding");
                        Ok(None)
                    }
                    Err(SearchError::Index(IndexError::Outdated { field, .. })) => {
                        tracing::info!(%field, "the index was built by an earlier version (without this field); rebuilding");
                        Ok(None)
                    }
                    Err(other) => Err(other),
                }
            }
            _ => Ok(None),
        }
    }

    /// A new, empty index directory for a build.
    pub async fn new_build(
        settings: &SearchSettings,
        analyzer: Arc<Analyzer>,
    ) -> Result<(PathBuf, SearchIndex), SearchError> {
        std::fs::create_dir_all(&settings.dir).map_err(io(&settings.dir))?;
        let dir = settings.dir.join(format!("idx-{}", uuid::Uuid::now_v7().simple()));
        let target = dir.clone();
        let index = blocking(move || SearchIndex::open_or_create(&target, analyzer)).await?;
        Ok((dir, index))
    }

    /// Serves `index`, built into `dir`, from now on.
    pub fn serve(settings: SearchSettings, index: SearchIndex) -> Arc<Search> {
        Arc::new(Search { settings, current: RwLock::new(Arc::new(index)), apply: Mutex::new(()) })
    }

    pub fn settings(&self) -> &SearchSettings {
        &self.settings
    }

    pub fn current(&self) -> Arc<SearchIndex> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn analyzer_version(&self) -> String {
        self.current().analyzer().version().to_string()
    }

    /// The right to write the index, held by one writer at a time.
    pub async fn writer(&self) -> MutexGuard<'_, ()> {
        self.apply.lock().await
    }

    /// Stages records (their current state; `deleted` are gone) for the next commit. Call with
    /// the writer held.
    pub async fn stage(
        &self,
        needs: Vec<Need>,
        achievements: Vec<Achievement>,
        deleted: Vec<String>,
    ) -> Result<(), SearchError> {
        let index = self.current();
        blocking(move || index.stage(&records(&needs, &achievements), &deleted)).await
    }

    /// Commits what was staged, with the change-log position `seq` as its payload, and makes it
    /// visible to searches. Call with the writer held.
    pub async fn commit(&self, seq: i64) -> Result<(), SearchError> {
        let index = self.current();
        blocking(move || index.commit(seq)).await
    }

    /// Switches searches to a finished build, and removes older builds.
    pub fn switch_to(&self, dir: &Path, index: SearchIndex) -> Result<(), SearchError> {
        switch_current(&self.settings.dir, dir)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        self.remove_stale_dirs();
        Ok(())
    }

    /// Releases the index writer (and its lock), once no writer holds it.
    pub async fn close(&self) {
        let _writer = self.apply.lock().await;
        let index = self.current();
        if let Err(error) = blocking(move || index.close()).await {
            tracing::warn!(%error, "closing the index writer failed");
        }
    }

    /// Deletes index directories other than the current one (old builds).
    pub fn remove_stale_dirs(&self) {
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

    /// Every indexed record's version, of one library.
    pub async fn versions(&self, library: Library) -> Result<BTreeMap<String, i64>, SearchError> {
        let index = self.current();
        blocking(move || index.versions(library)).await
    }
}

/// Adds a batch of records to an index being built (not yet committed).
pub async fn add_to_build(
    index: Arc<SearchIndex>,
    needs: Vec<Need>,
    achievements: Vec<Achievement>,
) -> Result<(), SearchError> {
    blocking(move || index.add(&records(&needs, &achievements))).await
}

/// Commits a build at change-log position `seq`.
pub async fn commit_build(index: Arc<SearchIndex>, seq: i64) -> Result<(), SearchError> {
    blocking(move || index.apply(&[], &[], seq)).await
}

/// Points `CURRENT` at `dir`, atomically (write a temporary file, then rename).
/// Records in a built index directory the database it was built from.
pub fn bind_to_database(dir: &Path, database: &str) -> Result<(), SearchError> {
    let temporary = dir.join(format!("{DATABASE_FILE}.tmp"));
    std::fs::write(&temporary, database).map_err(io(&temporary))?;
    std::fs::rename(&temporary, dir.join(DATABASE_FILE)).map_err(io(dir))?;
    Ok(())
}

/// The database the index `CURRENT` names was built from, if it says.
pub fn current_database(settings: &SearchSettings) -> Option<String> {
    let name = std::fs::read_to_string(settings.dir.join(CURRENT_FILE)).ok()?;
    let id = std::fs::read_to_string(settings.dir.join(name.trim()).join(DATABASE_FILE)).ok()?;
    Some(id.trim().to_string())
}

pub fn switch_current(parent: &Path, dir: &Path) -> Result<(), SearchError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let temporary = parent.join(format!("{CURRENT_FILE}.tmp"));
    std::fs::write(&temporary, &name).map_err(io(&temporary))?;
    std::fs::rename(&temporary, parent.join(CURRENT_FILE)).map_err(io(parent))?;
    Ok(())
}

/// The index view of a batch of records.
fn records<'a>(needs: &'a [Need], achievements: &'a [Achievement]) -> Vec<IndexRecord<'a>> {
    needs.iter().map(IndexRecord::from).chain(achievements.iter().map(IndexRecord::from)).collect()
}
