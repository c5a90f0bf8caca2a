//! Backup and restore of the embedded database. `techmarket backup DIR` writes a consistent copy
//! of the SQLite database while the service runs and takes writes (`VACUUM INTO`: one read
//! transaction, so the copy holds every write committed before it began and none after), with a
//! manifest naming the database and its feed position. The search index is not copied: it is
//! rebuilt from the database when the restored service starts. `techmarket restore DIR` puts the
//! copy into an empty data folder, applies any newer migrations, and checks it is the database
//! the manifest names. PostgreSQL is backed up with `pg_dump` and restored with `pg_restore`
//! (README, "Backup and restore").

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::storage::{self, Backend};

/// The database file in a backup folder, and the manifest beside it.
pub const DATABASE_FILE: &str = "techmarket.db";
pub const MANIFEST_FILE: &str = "backup.json";

/// What a backup folder says about its copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The identity of the database copied (the search index and demo tokens name it too).
    pub database_id: String,
    /// The feed position the copy holds at least (read just before it was taken).
    pub last_change_seq: i64,
    /// When the copy began (RFC 3339).
    pub taken_at: String,
    /// The techmarket version that took it.
    pub version: String,
    pub note: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] storage::StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_path_buf(), source }
}

fn postgres_refusal(what: &str) -> BackupError {
    BackupError::Refused(format!(
        "the database is PostgreSQL: {what} it with pg_dump / pg_restore, then run `techmarket reindex` \
         (README, \"Backup and restore\")"
    ))
}

/// The SQLite file a configuration names.
fn sqlite_file(config: &Config) -> Option<PathBuf> {
    let url = config.database_url();
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Copies the database into `dir` (created; it must not hold a backup already).
pub async fn backup(config: &Config, dir: &Path) -> Result<Manifest, BackupError> {
    let target = dir.join(DATABASE_FILE);
    if target.exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a backup: give a new folder (a backup is never overwritten)",
            dir.display()
        )));
    }
    crate::files::private_by_default();
    crate::files::make_private(dir).map_err(io(dir))?;
    let store = storage::connect(&config.database_options()).await?;
    if store.backend() == Backend::Postgres {
        store.close().await;
        return Err(postgres_refusal("back up"));
    }
    let taken_at = crate::app::Clock::default().now();
    let database_id = store.database_id().await?;
    let last_change_seq = store.last_change_seq().await?;
    let copied = store.backup_into(&target).await;
    store.close().await;
    copied?;
    let manifest = Manifest {
        database_id,
        last_change_seq,
        taken_at: taken_at.to_rfc3339(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        note: "the search index is not in the backup: the restored service rebuilds it from the database".into(),
    };
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let path = dir.join(MANIFEST_FILE);
    crate::files::write_private(&path, &text).map_err(io(&path))?;
    sync(&target)?;
    sync(dir)?;
    Ok(manifest)
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io(path))
}

/// Puts the backup in `dir` into the configured data folder, which must hold no database and no
/// index yet; applies newer migrations and checks the database is the one the manifest names.
pub async fn restore(config: &Config, dir: &Path) -> Result<Manifest, BackupError> {
    let Some(target) = sqlite_file(config) else { return Err(postgres_refusal("restore")) };
    let source = dir.join(DATABASE_FILE);
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest: Manifest = std::fs::read(&manifest_path).map_err(io(&manifest_path)).and_then(|bytes| {
        serde_json::from_slice(&bytes).map_err(|e| {
            BackupError::Refused(format!("{} is not a techmarket backup manifest: {e}", manifest_path.display()))
        })
    })?;
    if !source.is_file() {
        return Err(BackupError::Refused(format!(
            "{} holds no {DATABASE_FILE}: not a techmarket backup",
            dir.display()
        )));
    }
    let index = config.data.dir.join("index");
    let occupied = target.exists() || std::fs::read_dir(&index).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        return Err(BackupError::Refused(format!(
            "the data folder {} already holds a database or an index: restore goes into an empty data folder \
             (move the old one aside first, or point TECHMARKET__DATA__DIR at a new folder)",
            config.data.dir.display()
        )));
    }
    crate::files::private_by_default();
    crate::files::make_private(&config.data.dir).map_err(io(&config.data.dir))?;
    let partial = target.with_extension("db.restoring");
    std::fs::copy(&source, &partial).map_err(io(&partial))?;
    sync(&partial)?;
    std::fs::rename(&partial, &target).map_err(io(&target))?;
    if let Some(parent) = target.parent() {
        sync(parent)?;
    }
    let store = storage::connect(&config.database_options()).await?;
    let found = store.database_id().await;
    store.close().await;
    let found = found?;
    if found != manifest.database_id {
        return Err(BackupError::Refused(format!(
            "the restored database says it is {found}, the manifest {}: the backup folder was mixed up",
            manifest.database_id
        )));
    }
    Ok(manifest)
}
