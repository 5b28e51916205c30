//! The history file: one SQLite database (rusqlite, SQLite compiled in) with
//! three tables, its layout marked by SQLite's own header fields
//! (`PRAGMA application_id` says the file is an mss-harness history,
//! `PRAGMA user_version` which layout it has). A file of another layout or
//! another program is refused, never rewritten. docs/results.md, "Run
//! history", describes the tables.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

pub use super::error::StoreError;
use super::record::{Record, Run, ServiceRow};
use crate::stats::compare::{RunMeasures, ServiceMeasures};
use crate::stats::estimate::{Estimate, Measured, Metric};

/// The layout this mss-harness reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a history: "MSSH".
pub const APPLICATION_ID: i64 = 0x4D53_5348;

/// The tables of version 1.
const SCHEMA: &str = "
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    commit_sha TEXT,
    scenario TEXT NOT NULL,
    scenario_sha256 TEXT,
    target TEXT NOT NULL,
    passed INTEGER NOT NULL,
    harness_version TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at TEXT NOT NULL,
    summary_sha256 TEXT NOT NULL UNIQUE,
    summary_json TEXT NOT NULL
);
CREATE INDEX runs_by_series ON runs (scenario, target, started_ms);
CREATE TABLE services (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    requests INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    rejected_as_expected INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    p50_ms REAL NOT NULL,
    p90_ms REAL NOT NULL,
    p95_ms REAL NOT NULL,
    p99_ms REAL NOT NULL,
    p999_ms REAL NOT NULL,
    max_ms REAL NOT NULL,
    throughput REAL NOT NULL,
    error_rate REAL,
    PRIMARY KEY (run_id, service)
);
CREATE TABLE estimates (
    run_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    metric TEXT NOT NULL,
    shown REAL,
    value REAL,
    variance REAL,
    requests INTEGER,
    too_few TEXT,
    needs INTEGER,
    PRIMARY KEY (run_id, service, metric),
    FOREIGN KEY (run_id, service) REFERENCES services (run_id, service) ON DELETE CASCADE
);
";

/// A run as listed: its id in the history and the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Its id in the history.
    pub id: i64,
    /// Its row of `runs` and its services' rows.
    pub run: Run,
}

impl RunRow {
    /// Whether `other` ran the same scenario (name and file) against the same
    /// target: runs a window compares.
    pub fn same_series(&self, other: &RunRow) -> bool {
        let (a, b) = (&self.run, &other.run);
        a.scenario == b.scenario && a.scenario_sha256 == b.scenario_sha256 && a.target == b.target
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceRow> {
        self.run.services.iter().find(|s| s.service == name)
    }

    /// Its start in UTC, written by `format` (chrono's: `%Y-%m-%d %H:%M UTC`);
    /// as its summary says when the time is out of range.
    pub fn started(&self, format: &str) -> String {
        chrono::DateTime::from_timestamp_millis(self.run.started_ms).map_or_else(
            || self.run.started_at.clone(),
            |t| t.format(format).to_string(),
        )
    }

    /// Its commit, short (12 characters); `—` when not known.
    pub fn short_commit(&self) -> String {
        self.run
            .commit
            .as_deref()
            .map_or_else(|| "—".to_owned(), |c| c.chars().take(12).collect())
    }
}

/// What [`History::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A new run, with its id.
    New(i64),
    /// The same summary was already there, as this run.
    Already(i64),
}

/// An open history file.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// How a history file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// To read: never written, an empty file refused.
    Read,
    /// To add runs: made when absent or empty, refused when read-only.
    Write,
}

/// A file's header: (application id, user version, tables and indexes).
fn header(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), \
                (SELECT user_version FROM pragma_user_version), \
                (SELECT count(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

impl History {
    /// Open the history at `path` to add runs, making it (and its folder)
    /// when there is none; a file that is not a history of
    /// [`SCHEMA_VERSION`], or that this user may not write, is refused.
    pub fn open_or_create(path: &Path) -> Result<History, StoreError> {
        if path.is_dir() {
            return Err(StoreError::Folder(path.to_path_buf()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::NoFolder {
                path: path.to_path_buf(),
                error,
            })?;
        }
        Self::open_at(path, Mode::Write)
    }

    /// Open the existing history at `path` to read it (read-only: the file
    /// is never written).
    pub fn open(path: &Path) -> Result<History, StoreError> {
        if path.is_dir() {
            return Err(StoreError::Folder(path.to_path_buf()));
        }
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        Self::open_at(path, Mode::Read)
    }

    fn open_at(path: &Path, mode: Mode) -> Result<History, StoreError> {
        let sql = |e| StoreError::sqlite(path, e);
        let flags = match mode {
            Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            Mode::Write => OpenFlags::default(),
        };
        let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        // Another CI job writing the same file waits instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let mut found = header(&conn).map_err(sql)?;
        if found == (0, 0, 0) {
            if mode == Mode::Read {
                return Err(StoreError::Foreign {
                    path: path.to_path_buf(),
                    why: "an empty file; `mss-harness run --history FILE` or `history add` makes a history of it".into(),
                });
            }
            if conn.is_readonly(rusqlite::MAIN_DB).map_err(sql)? {
                return Err(StoreError::ReadOnly(path.to_path_buf()));
            }
            // Made under SQLite's write lock, and only if another process
            // did not make it meanwhile.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            if header(&tx).map_err(sql)? == (0, 0, 0) {
                tx.execute_batch(SCHEMA).map_err(sql)?;
                tx.execute_batch(&format!(
                    "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
                ))
                .map_err(sql)?;
            }
            tx.commit().map_err(sql)?;
            found = header(&conn).map_err(sql)?;
        }
        match found {
            (APPLICATION_ID, SCHEMA_VERSION, _) => {}
            (APPLICATION_ID, version, _) => {
                return Err(StoreError::UnknownVersion {
                    path: path.to_path_buf(),
                    found: version,
                    harness: env!("CARGO_PKG_VERSION"),
                });
            }
            (app, _, objects) => {
                return Err(StoreError::Foreign {
                    path: path.to_path_buf(),
                    why: format!(
                        "an SQLite database of application id {app:#x}, with {objects} tables and indexes"
                    ),
                });
            }
        }
        if mode == Mode::Write && conn.is_readonly(rusqlite::MAIN_DB).map_err(sql)? {
            return Err(StoreError::ReadOnly(path.to_path_buf()));
        }
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(sql)?;
        Ok(History {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, e)
    }

    /// Append `r` (in one transaction); a summary already there is not added
    /// twice.
    pub fn add(&mut self, r: &Record) -> Result<Added, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(sql)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM runs WHERE summary_sha256 = ?1",
                [&r.summary_sha256],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(id) = existing {
            return Ok(Added::Already(id));
        }
        tx.execute(
            "INSERT INTO runs (started_at, started_ms, duration_s, commit_sha, scenario, \
             scenario_sha256, target, passed, harness_version, source, added_at, \
             summary_sha256, summary_json) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.run.started_at,
                r.run.started_ms,
                r.duration_s,
                r.run.commit,
                r.run.scenario,
                r.run.scenario_sha256,
                r.run.target,
                r.run.passed,
                r.harness_version,
                r.run.source,
                r.added_at,
                r.summary_sha256,
                r.summary_json,
            ],
        )
        .map_err(sql)?;
        let id = tx.last_insert_rowid();
        for s in &r.run.services {
            tx.execute(
                "INSERT INTO services (run_id, service, requests, sent, stored, \
                 rejected_as_expected, errors, dropped, p50_ms, p90_ms, p95_ms, p99_ms, \
                 p999_ms, max_ms, throughput, error_rate) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    id,
                    s.service,
                    s.requests as i64,
                    s.sent as i64,
                    s.stored as i64,
                    s.rejected_as_expected as i64,
                    s.errors as i64,
                    s.dropped as i64,
                    s.p50_ms,
                    s.p90_ms,
                    s.p95_ms,
                    s.p99_ms,
                    s.p999_ms,
                    s.max_ms,
                    s.throughput,
                    s.error_rate,
                ],
            )
            .map_err(sql)?;
        }
        for (service, m) in &r.measures.services {
            for (metric, measured) in &m.metrics {
                let (shown, value, var, requests, too_few, needs) = match measured {
                    Measured::Estimate(e) => (
                        Some(e.shown),
                        Some(e.value),
                        Some(e.var),
                        Some(e.requests as i64),
                        None,
                        None,
                    ),
                    Measured::TooFew { shown, why, needs } => (
                        *shown,
                        None,
                        None,
                        None,
                        Some(why.as_str()),
                        needs.map(|n| n as i64),
                    ),
                };
                tx.execute(
                    "INSERT INTO estimates (run_id, service, metric, shown, value, variance, \
                     requests, too_few, needs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        id,
                        service,
                        metric.name(),
                        shown,
                        value,
                        var,
                        requests,
                        too_few,
                        needs
                    ],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(Added::New(id))
    }

    /// The rows `sql` selects with `params`, each read by `row`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        stmt.query_map(params, row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sql(e))
    }

    /// Every run, oldest first (by start, then id), with its services.
    pub fn runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let mut runs = self.rows(
            "SELECT id, started_at, started_ms, commit_sha, scenario, scenario_sha256, \
             target, passed, source FROM runs ORDER BY started_ms, id",
            [],
            |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    run: Run {
                        started_at: r.get(1)?,
                        started_ms: r.get(2)?,
                        commit: r.get(3)?,
                        scenario: r.get(4)?,
                        scenario_sha256: r.get(5)?,
                        target: r.get(6)?,
                        passed: r.get(7)?,
                        source: r.get(8)?,
                        services: Vec::new(),
                    },
                })
            },
        )?;
        // A count column: never negative in a file this harness wrote.
        let count = |r: &rusqlite::Row<'_>, i| r.get::<_, i64>(i).map(|n| n.max(0) as u64);
        let rows = self.rows(
            "SELECT run_id, service, requests, sent, stored, rejected_as_expected, errors, \
             dropped, p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms, throughput, \
             error_rate FROM services ORDER BY run_id, service",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    ServiceRow {
                        service: r.get(1)?,
                        requests: count(r, 2)?,
                        sent: count(r, 3)?,
                        stored: count(r, 4)?,
                        rejected_as_expected: count(r, 5)?,
                        errors: count(r, 6)?,
                        dropped: count(r, 7)?,
                        p50_ms: r.get(8)?,
                        p90_ms: r.get(9)?,
                        p95_ms: r.get(10)?,
                        p99_ms: r.get(11)?,
                        p999_ms: r.get(12)?,
                        max_ms: r.get(13)?,
                        throughput: r.get(14)?,
                        error_rate: r.get(15)?,
                    },
                ))
            },
        )?;
        for (run_id, s) in rows {
            if let Some(run) = runs.iter_mut().find(|r| r.id == run_id) {
                run.run.services.push(s);
            }
        }
        Ok(runs)
    }

    /// The estimates of run `run` as the verdict reads them.
    pub fn measures(&self, run: &RunRow) -> Result<RunMeasures, StoreError> {
        type Row = (
            String,
            String,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = self.rows(
            "SELECT service, metric, shown, value, variance, requests, too_few, needs \
             FROM estimates WHERE run_id = ?1",
            [run.id],
            |r| Row::try_from(r),
        )?;
        let duration_s: f64 = self
            .conn
            .query_row("SELECT duration_s FROM runs WHERE id = ?1", [run.id], |r| {
                r.get(0)
            })
            .map_err(|e| self.sql(e))?;
        let mut measures = RunMeasures {
            name: format!("run #{} ({})", run.id, run.run.started_at),
            source: format!("{} run #{}", self.path.display(), run.id),
            scenario: run.run.scenario.clone(),
            seconds: duration_s,
            services: Default::default(),
        };
        for s in &run.run.services {
            let mut metrics = Vec::new();
            for metric in Metric::ALL {
                let row = rows
                    .iter()
                    .find(|r| r.0 == s.service && r.1 == metric.name());
                let measured = match row {
                    Some((_, _, Some(shown), Some(value), Some(var), requests, None, _)) => {
                        Measured::Estimate(Estimate {
                            value: *value,
                            var: *var,
                            shown: *shown,
                            requests: requests.unwrap_or(0).max(0) as u64,
                        })
                    }
                    Some((_, _, shown, _, _, _, why, needs)) => Measured::TooFew {
                        shown: *shown,
                        why: why
                            .clone()
                            .unwrap_or_else(|| "no estimate was kept".to_owned()),
                        needs: needs.map(|n| n.max(0) as u64),
                    },
                    None => Measured::TooFew {
                        shown: None,
                        why: format!("the history keeps no {} of this run", metric.name()),
                        needs: None,
                    },
                };
                metrics.push((metric, measured));
            }
            measures.services.insert(
                s.service.clone(),
                ServiceMeasures {
                    requests: s.requests,
                    metrics,
                },
            );
        }
        Ok(measures)
    }

    /// The `summary.json` text run `id` was added with.
    pub fn summary_json(&self, id: i64) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT summary_json FROM runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|e| self.sql(e))
    }
}
