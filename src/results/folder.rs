//! Claiming a results folder before a run (or a merge) writes into it.
//!
//! A folder that already holds files would end up with two runs in it: the new
//! run's files beside whatever of the old one the new run does not write
//! (`goose-report.html`, a capacity chart, a spilled time series), and a reader
//! would then mix the two. So a folder is written only when it is new or empty;
//! `--overwrite` replaces an earlier results folder (one with a
//! `summary.json`), and nothing else is ever deleted.

use std::path::{Path, PathBuf};

/// Why a folder cannot receive a run's results.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder holds files and `--overwrite` was not given.
    #[error(
        "--out {}: the folder is not empty (it holds {first}{more}); a run would leave its files beside the new ones: choose a new folder, or add --overwrite to replace this earlier run",
        dir.display()
    )]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
        /// One entry it holds.
        first: String,
        /// ", and N more" when it holds others.
        more: String,
    },
    /// `--overwrite` was given, but the folder is not a results folder.
    #[error(
        "--out {}: --overwrite replaces an earlier results folder, and this one holds no summary.json (it holds {first}): nothing was deleted; choose another folder",
        dir.display()
    )]
    NotResults {
        /// The folder.
        dir: PathBuf,
        /// One entry it holds.
        first: String,
    },
    /// `--overwrite` was given, but the folder holds a run's ledger: the
    /// only record of what a real target stored.
    #[error(
        "--out {}: --overwrite would delete {name}, the record of what a real target stored: nothing was deleted; run `mss-harness cleanup` on it or move it first, or choose another folder",
        dir.display()
    )]
    HoldsLedger {
        /// The folder.
        dir: PathBuf,
        /// The ledger's file name.
        name: String,
    },
    /// The folder cannot be read, emptied or created.
    #[error("--out {}: {source}", dir.display())]
    Io {
        /// The folder.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Make `dir` ready for a run's results: created when missing; refused when it
/// holds anything, unless `overwrite` and it is an earlier results folder
/// (it has a `summary.json`), which is then removed and made anew.
pub fn claim(dir: &Path, overwrite: bool) -> Result<(), FolderError> {
    let io = |source| FolderError::Io {
        dir: dir.to_owned(),
        source,
    };
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(io)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(e)),
    };
    names.sort();
    if let Some(first) = names.first() {
        let has_summary = names.iter().any(|n| n == "summary.json");
        if !overwrite {
            let first = if has_summary { "summary.json" } else { first };
            return Err(FolderError::NotEmpty {
                dir: dir.to_owned(),
                first: first.to_owned(),
                more: match names.len() {
                    1 => String::new(),
                    n => format!(", and {} more", n - 1),
                },
            });
        }
        if !has_summary {
            return Err(FolderError::NotResults {
                dir: dir.to_owned(),
                first: first.clone(),
            });
        }
        if let Some(name) = names
            .iter()
            .find(|n| n.as_str() == crate::ledger::FILE_NAME)
        {
            return Err(FolderError::HoldsLedger {
                dir: dir.to_owned(),
                name: name.clone(),
            });
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn a_new_or_empty_folder_is_taken() {
        let t = scratch();
        let new = t.path().join("a/b");
        claim(&new, false).expect("created");
        assert!(new.is_dir());
        claim(&new, false).expect("empty");
    }

    #[test]
    fn an_earlier_run_is_refused_then_replaced_when_asked() {
        let t = scratch();
        let dir = t.path().join("run");
        std::fs::create_dir(&dir).expect("dir");
        for f in ["summary.json", "goose-report.html", "report.html"] {
            std::fs::write(dir.join(f), "old").expect("write");
        }
        let e = claim(&dir, false).expect_err("not empty").to_string();
        assert!(e.contains("summary.json, and 2 more"), "{e}");
        assert!(e.contains("--overwrite"), "{e}");
        assert!(dir.join("goose-report.html").exists(), "nothing deleted");
        claim(&dir, true).expect("replaced");
        assert_eq!(std::fs::read_dir(&dir).expect("read").count(), 0);
        // A run's ledger is never deleted.
        std::fs::write(dir.join("summary.json"), "old").expect("write");
        std::fs::write(dir.join(crate::ledger::FILE_NAME), "{}").expect("write");
        let e = claim(&dir, true).expect_err("holds a ledger").to_string();
        assert!(
            e.contains("ledger.jsonl, the record of what a real target stored"),
            "{e}"
        );
        assert!(
            dir.join(crate::ledger::FILE_NAME).exists(),
            "nothing deleted"
        );
    }

    #[test]
    fn overwrite_never_deletes_a_folder_that_is_not_a_run() {
        let t = scratch();
        std::fs::write(t.path().join("thesis.tex"), "mine").expect("write");
        let e = claim(t.path(), true).expect_err("not a run").to_string();
        assert!(
            e.contains("no summary.json") && e.contains("thesis.tex"),
            "{e}"
        );
        assert!(t.path().join("thesis.tex").exists());
    }
}
