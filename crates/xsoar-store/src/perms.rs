//! Owner-only permissions for the data directory and the database files.
//!
//! The database holds instance secrets (credentials, API keys), like the `api-key` file next to
//! it, so on Unix the data directory is 0700 and the database with its `-wal` and `-shm` files
//! 0600. A directory or file found looser (created by an older build, or by hand) is tightened
//! and a warning says so. Elsewhere permissions are left to the platform.

use crate::StoreError;
use std::path::{Path, PathBuf};

/// Mode of the data directory.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// Mode of the database files.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// What [`prepare_data_dir`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirReport {
    /// The directory was created (owner-only).
    Created,
    /// It existed with owner-only access.
    Private,
    /// It existed and others had access; it was tightened to owner-only (the old mode).
    Tightened(u32),
    /// It existed, others have access and it could not be tightened (not the owner, for
    /// example a bind mount); a warning was logged (the mode).
    Loose(u32),
}

fn error(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Permissions {
        path: path.display().to_string(),
        error,
    }
}

/// Create the data directory (and its parents) if needed, readable by the owner only, and
/// tighten an existing one that others can read or enter.
pub fn prepare_data_dir(dir: &Path) -> Result<DataDirReport, StoreError> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(DIR_MODE);
        }
        builder.create(dir).map_err(|e| error(dir, e))?;
        // The mode above is filtered by the umask and ignored for parents; set it exactly.
        #[cfg(unix)]
        set_mode(dir, DIR_MODE)?;
        return Ok(DataDirReport::Created);
    }
    #[cfg(unix)]
    {
        let old = mode_of(dir)?;
        if old & 0o077 != 0 {
            return Ok(match set_mode(dir, DIR_MODE) {
                Ok(()) => {
                    tracing::warn!(
                        path = %dir.display(),
                        old_mode = format_args!("{old:o}"),
                        "the data directory was open to others; restricted it to its owner (0700)"
                    );
                    DataDirReport::Tightened(old)
                }
                Err(e) => {
                    tracing::warn!(
                        path = %dir.display(),
                        old_mode = format_args!("{old:o}"),
                        error = %e,
                        "the data directory is open to others and could not be restricted; \
                         it holds the API key and instance secrets: chmod 700 it"
                    );
                    DataDirReport::Loose(old)
                }
            });
        }
    }
    Ok(DataDirReport::Private)
}

/// Create the database file, owner-only, if it does not exist (SQLite gives its `-wal` and
/// `-shm` files the database's mode).
pub(crate) fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path).map(drop).map_err(|e| error(path, e))
}

/// The database file and its `-wal`/`-shm` companions.
fn database_files(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        out.push(PathBuf::from(name));
    }
    out
}

/// Tighten every existing database file to owner-only, warning about each that was looser.
pub(crate) fn secure_database_files(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    for file in database_files(path) {
        if !file.exists() {
            continue;
        }
        if let Some(old) = tighten(&file, FILE_MODE)? {
            tracing::warn!(
                path = %file.display(),
                old_mode = format_args!("{old:o}"),
                "a database file was open to others; restricted it to its owner (0600)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = database_files(path);
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| error(path, e))
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Result<u32, StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| error(path, e))?;
    Ok(meta.permissions().mode() & 0o7777)
}

/// Set `mode` when the current mode grants group or others anything; the old mode if it did.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> Result<Option<u32>, StoreError> {
    let old = mode_of(path)?;
    if old & 0o077 == 0 {
        return Ok(None);
    }
    set_mode(path, mode)?;
    Ok(Some(old))
}
