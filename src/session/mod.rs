//! One run, from a validated plan to its results folder: the run's options
//! and outcome, the target resolved ([`crate::target`]), the load driven
//! ([`drive`]), with its faults ([`faults`]), its progress line
//! ([`progress`]), Goose's log filter ([`goose_log`]); and `--dry-run`'s
//! text ([`dry_run`]). `mss-harness run` (`crate::cmd::run`) parses the
//! arguments and calls [`run_blocking`]; tests call [`run_scenario`] or
//! [`run_prepared`].

mod drive;
pub mod dry_run;
mod faults;
pub mod goose_log;
mod outputs;
mod progress;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use drive::{OnStart, run_prepared};

use crate::scenario::RunPlan;

/// The grace period of a stopped run when none is given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// What a run may do beyond its scenario (the command line's guards).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--confirm-production HOST`.
    pub confirm_production: Option<String>,
    /// TLS, overrides.
    pub connect: crate::connect::ConnectArgs,
    /// (index, count) of this worker; (0, 0) and (0, 1) mean a single process.
    pub worker: (u16, u16),
    /// When the load starts, for workers.
    pub start_at: Option<DateTime<Utc>>,
    /// `--grace`: how long requests in flight may finish after a stop signal;
    /// `None` for [`DEFAULT_GRACE`].
    pub grace: Option<Duration>,
    /// `--dashboard`: the live view the run shows itself on.
    pub dashboard: Option<Arc<crate::live::Dashboard>>,
    /// `--goose-report`: also send through Goose's own metrics and write its
    /// report, `goose-report.html` (a second metrics system on every request:
    /// off unless asked for).
    pub goose_report: bool,
    /// `--overwrite`: replace an earlier run's results folder named by
    /// `--out` (see [`crate::results::folder`]).
    pub overwrite: bool,
    /// The scenario's feeder, checked before the target is contacted.
    pub feeder: crate::engine::CheckedFeeder,
    /// `--ledger FILE`: the ledger a run against a URL appends to, instead
    /// of `ledger.jsonl` in its results folder (see [`crate::ledger`]).
    pub ledger: Option<PathBuf>,
}

impl RunOptions {
    /// (index, count) of this worker, (0, 1) for a single process.
    pub fn worker(&self) -> (u16, u16) {
        if self.worker.1 == 0 {
            (0, 1)
        } else {
            self.worker
        }
    }

    /// The grace period of a stopped run.
    pub fn grace(&self) -> Duration {
        self.grace.unwrap_or(DEFAULT_GRACE)
    }
}

/// The result of `run`: the exit code and where the results are.
#[derive(Debug)]
pub struct RunOutcome {
    /// 0 passed, 1 failed; 130 or 143 stopped by SIGINT or SIGTERM.
    pub exit: u8,
    /// The results folder.
    pub dir: PathBuf,
    /// `summary.json` as written.
    pub summary: Value,
}
/// Run a validated plan (the library entry point tests use).
pub async fn run_scenario(plan: RunPlan, out: Option<PathBuf>) -> anyhow::Result<RunOutcome> {
    run_scenario_with(plan, out, &RunOptions::default()).await
}

/// Run a validated plan with the command line's guards and connection
/// settings: resolve its target, then [`run_prepared`]. An embedded mock
/// stops when the run is over.
pub async fn run_scenario_with(
    plan: RunPlan,
    out: Option<PathBuf>,
    options: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let plan = plan.for_worker(options.worker());
    // A bad feeder file is refused before anything is sent (a token included).
    options
        .feeder
        .check(&plan, options.worker())
        .map_err(crate::usage::usage)?;
    let resolved = crate::target::resolve(
        &plan,
        &options.connect,
        options.confirm_production.as_deref(),
    )
    .await?;
    let mock = resolved.mock.as_ref().map(|m| m.mock.clone());
    let outcome = run_prepared(
        plan,
        out,
        resolved.http,
        resolved.target,
        mock,
        &resolved.label,
        None,
        options,
    )
    .await;
    drop(resolved.mock);
    outcome
}

/// Run a validated plan as the process's one run, on a runtime of its own:
/// the process's Ctrl-C handling ([`crate::interrupt`]) and Goose's log
/// filter installed before Goose starts, the dashboard `bound` beforehand
/// (so that an address in use stops the command before anything is sent)
/// served for the run, then [`run_scenario_with`].
pub fn run_blocking(
    plan: RunPlan,
    out: Option<PathBuf>,
    mut options: RunOptions,
    bound: Option<crate::live::Bound>,
) -> anyhow::Result<RunOutcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(crate::cpu::WORKER_THREAD)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Before Goose initialises, so that its Ctrl-C handler stays out.
        crate::interrupt::install()?;
        // And its logger: Goose warns on stderr about every failed request,
        // which a run against a failing target (or a fault rehearsal) would
        // flood; the harness classifies them in its outputs instead.
        goose_log::GooseErrorsOnly::install();
        if let Some(bound) = bound {
            options.dashboard = Some(bound.serve().context("--dashboard")?);
        }
        run_scenario_with(plan, out, &options).await
    })
}
