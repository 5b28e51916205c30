//! Why a history file cannot be used, each case named for the user: no file,
//! a folder, another program's file, another layout, a damaged file, a file
//! that may not be written, and SQLite's other errors with the file's name.

use std::path::{Path, PathBuf};

use super::store::SCHEMA_VERSION;

/// Why a history file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No file where one was expected.
    #[error(
        "{0}: no run history there (`mss-harness run --history FILE` or `mss-harness history add` makes one)"
    )]
    Missing(PathBuf),
    /// A folder where the history's file was expected.
    #[error(
        "{0}: a folder, not a run history file (--history names the file, e.g. results/history.db)"
    )]
    Folder(PathBuf),
    /// The folder of a new history file could not be made.
    #[error("{path}: cannot make its folder: {error}")]
    NoFolder {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file of another program (or not SQLite).
    #[error("{path}: not an mss-harness run history ({why})")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// A history of a layout this mss-harness does not read.
    #[error(
        "{path}: a run history of schema version {found}; this mss-harness {harness} reads version {SCHEMA_VERSION} (it was written by another version of mss-harness: use that one, or start a new history file)"
    )]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// This harness's version.
        harness: &'static str,
    },
    /// A file SQLite finds damaged (cut short, overwritten).
    #[error(
        "{path}: the run history is damaged (SQLite: {message}); restore the file from a copy, or start a new history file"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        message: String,
    },
    /// Runs are to be added to a file this process may not write.
    #[error("{0}: cannot add runs to it: the file is read-only to this user")]
    ReadOnly(PathBuf),
    /// SQLite failed otherwise.
    #[error("{path}: {cause}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
}

impl StoreError {
    /// SQLite's error `e` on the file `path`, named for what it means.
    pub(super) fn sqlite(path: &Path, e: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match &e {
            rusqlite::Error::SqliteFailure(f, message) => match f.code {
                rusqlite::ErrorCode::DatabaseCorrupt => StoreError::Damaged {
                    path,
                    message: message.clone().unwrap_or_else(|| f.to_string()),
                },
                rusqlite::ErrorCode::NotADatabase => StoreError::Foreign {
                    path,
                    why: "not an SQLite database".into(),
                },
                _ => StoreError::Sqlite { path, cause: e },
            },
            _ => StoreError::Sqlite { path, cause: e },
        }
    }
}
