//! The data directory holds confidential needs, contacts and API tokens (the SQLite file, its
//! journal, the search index, `demo-tokens.env`), so everything the service creates there is
//! readable by its own user alone: files 0600, folders 0700. New files get it from the process's
//! file-creation mask; a data directory left by an older version is tightened at start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Folders the service creates: owner only.
pub const DIR_MODE: u32 = 0o700;
/// Files the service creates: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process's file-creation mask so that every file and folder created from now on (by
/// SQLite, tantivy or the service itself) has no group or other permissions.
pub fn private_by_default() {
    // SAFETY: umask only replaces the process's creation mask and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` if needed and takes group and other permissions away from it and everything
/// under it (symbolic links are left alone, not followed).
pub fn make_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    tighten(dir)
}

fn tighten(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let wanted = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
    if meta.permissions().mode() & 0o777 != wanted {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path())?;
        }
    }
    Ok(())
}

/// Writes a file that only the owner may read (`demo-tokens.env`), replacing any older one.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    // An older file keeps its mode when opened: set it as well.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(contents)?;
    file.sync_all()
}
