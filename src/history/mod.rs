//! The run history: every run's summary kept in one SQLite file (e.g.
//! `results/history.db`), appended by `run --history FILE` or
//! `history add DIR...`, listed by `history list`, drawn as trends with their
//! change points by `history report`, and the newest run judged against the
//! runs before it by `history check` (the CI gate once a history exists).
//!
//! - [`store`]: the file, its tables and its schema version;
//! - [`error`]: why a file cannot be used;
//! - [`record`]: what is kept of a results folder;
//! - [`check`]: the newest run against its window, with `compare`'s
//!   statistics;
//! - [`trend`]: the series per scenario, target and service, with their change
//!   points.
//!
//! It stands above the verdict (a run's row says whether it passed) and below
//! the reports, which draw [`trend::Trend`].

use std::path::Path;

pub mod check;
pub mod error;
pub mod record;
pub mod store;
pub mod trend;

pub use store::{History, StoreError};

/// What adding a results folder did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Added as this run.
    New(i64),
    /// Already in the history as this run.
    Already(i64),
    /// Not added, and why.
    Skipped(String),
}

impl Added {
    /// What was done with the folder `dir` and the history `file`, in a line.
    pub fn line(&self, dir: &Path, file: &Path) -> String {
        let (dir, file) = (dir.display(), file.display());
        match self {
            Added::New(id) => format!("{dir}: added to {file} as run #{id}"),
            Added::Already(id) => format!("{dir}: already in {file} as run #{id}, not added again"),
            Added::Skipped(why) => format!("{dir}: not added to {file}: {why}"),
        }
    }
}

/// Add the results folder `dir` to `h`, the commit under test being `commit`.
pub fn add(h: &mut History, dir: &Path, commit: Option<String>) -> anyhow::Result<Added> {
    Ok(match record::read(dir, commit)? {
        record::Readout::Skip(why) => Added::Skipped(why),
        record::Readout::Run(r) => match h.add(&r)? {
            store::Added::New(id) => Added::New(id),
            store::Added::Already(id) => Added::Already(id),
        },
    })
}
