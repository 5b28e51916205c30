//! `mss-harness run [SCENARIO]`: drive a scenario's load at the embedded mock
//! (the default) or a URL, and write a results folder.
//!
//! Exit codes: 0 every threshold met (and, against the mock, reconciliation
//! exact); 1 a threshold or the reconciliation failed; 2 usage, configuration
//! or target error; 130 (SIGINT, Ctrl-C) or 143 (SIGTERM) the run was stopped
//! by that signal and wrote its results from the load until then (see
//! [`crate::interrupt`]).
//!
//! This module parses the arguments and calls [`crate::session`], which runs
//! the plan.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::Contract;
use crate::history::History;
use crate::scenario::{ContractChoice, RunPlan, TargetPlan};
use crate::session::{RunOptions, RunOutcome, run_blocking};
use crate::usage::usage;

/// Flags of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A scenario file, or the name of a shipped one (smoke, baseline, go-live,
    /// soak, spike, token-expiry, incident, capacity).
    #[arg(default_value = "smoke")]
    pub scenario: String,
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Results folder [default: results/<utc-timestamp>-<scenario>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the earlier run in --out DIR (a folder with a summary.json);
    /// without it a folder that holds anything is refused, so that two runs'
    /// files never mix.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Against any host but this machine: the run starts only when this names
    /// the target's host.
    #[arg(long, value_name = "HOST")]
    pub confirm_production: Option<String>,
    /// Print the plan (host, stages, duration, requests, mix, caps) and send
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Connection settings.
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
    /// Run as worker INDEX of COUNT (e.g. `0/4`): this process sends 1/COUNT
    /// of every rate stage (closed model: of the users) from its own identity
    /// and numeroRadicado space; `mss-harness merge` joins the results.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "workers")]
    pub worker: Option<String>,
    /// Run as one of COUNT workers, INDEX from JOB_COMPLETION_INDEX (as a
    /// Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "COUNT", env = "MSS_WORKERS")]
    pub workers: Option<u16>,
    /// Start the load at this wall-clock time (RFC 3339, e.g.
    /// 2026-11-26T15:00:00Z), so that workers' stages line up.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// On Ctrl-C or SIGTERM, how long the requests in flight may take to
    /// finish before they are abandoned as `interrupted` (a second signal
    /// exits at once).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// The live dashboard and Prometheus `/metrics` (see [`crate::live`]).
    #[command(flatten)]
    pub dashboard: crate::live::DashboardArgs,
    /// Also write Goose's own HTML report, `goose-report.html`: every request
    /// then also goes through Goose's request metrics (a second metrics
    /// system on every request: on one core against a fast target, about 15 %
    /// fewer requests per second).
    #[arg(long)]
    pub goose_report: bool,
    /// Against a URL target: the ledger of what the run sent, appended to
    /// this file (kept across runs; mode 600) instead of `ledger.jsonl` in
    /// the results folder. `mss-harness cleanup FILE` retracts what it shows
    /// stored.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// After the run, add it to this run history (SQLite, made if absent;
    /// see `mss-harness history`). A worker's share is not added: add the
    /// merged folder with `history add`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["worker", "workers"])]
    pub history: Option<PathBuf>,
    /// The commit under test, kept with the run in --history [default:
    /// $GITHUB_SHA, $CI_COMMIT_SHA, or `git rev-parse HEAD` here].
    #[arg(long, value_name = "SHA", requires = "history")]
    pub commit: Option<String>,
}

/// `--worker INDEX/COUNT`, or `--workers COUNT` with INDEX from
/// `JOB_COMPLETION_INDEX`; (0, 1) without either.
pub fn parse_worker(spec: Option<&str>, workers: Option<u16>) -> anyhow::Result<(u16, u16)> {
    let (index, count) = match (spec, workers) {
        (Some(s), _) => {
            let (i, n) = s
                .split_once('/')
                .ok_or_else(|| usage(format!("--worker {s:?}: expected INDEX/COUNT, e.g. 0/4")))?;
            let parse = |x: &str, what: &str| {
                x.trim()
                    .parse::<u16>()
                    .map_err(|_| usage(format!("--worker {s:?}: {what} {x:?} is not a number")))
            };
            (parse(i, "INDEX")?, parse(n, "COUNT")?)
        }
        (None, Some(n)) => {
            let i = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                usage("--workers needs the worker's index in JOB_COMPLETION_INDEX (or give --worker INDEX/COUNT)")
            })?;
            let i = i
                .trim()
                .parse::<u16>()
                .map_err(|_| usage(format!("JOB_COMPLETION_INDEX {i:?} is not a number")))?;
            (i, n)
        }
        (None, None) => return Ok((0, 1)),
    };
    if count == 0 || index >= count {
        return Err(usage(format!(
            "worker {index}/{count}: INDEX must be below COUNT, and COUNT at least 1"
        )));
    }
    Ok((index, count))
}

/// Run `args` and write the results; errors are usage errors (exit 2). With
/// `--dry-run`, print the plan and send nothing (`None`). `contract` is
/// `--contract DIR`'s, read by the caller: it overrides the scenario's
/// `[contract] dir`; without either the run follows the bundled contract.
pub fn run(args: &RunArgs, contract: Option<Arc<Contract>>) -> anyhow::Result<Option<RunOutcome>> {
    let contract = match contract {
        Some(c) => ContractChoice::Given(c),
        None => ContractChoice::Default(Arc::clone(Contract::embedded())),
    };
    let scenario = RunPlan::load(&args.scenario, contract).map_err(|e| usage(e.to_string()))?;
    if args.ledger.is_some() && matches!(scenario.target, TargetPlan::Mock(_)) {
        return Err(usage(
            "--ledger: a run against the embedded mock keeps no ledger (what it stores ends with the run)",
        ));
    }
    let start_at = args
        .start_at
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| {
                    usage(format!(
                        "--start-at {t:?}: {e} (RFC 3339, e.g. 2026-11-26T15:00:00Z)"
                    ))
                })
        })
        .transpose()?;
    let options = RunOptions {
        confirm_production: args.confirm_production.clone(),
        connect: args.connect.clone(),
        worker: parse_worker(args.worker.as_deref(), args.workers)?,
        start_at,
        grace: Some(args.grace),
        dashboard: None,
        goose_report: args.goose_report,
        overwrite: args.overwrite,
        feeder: Default::default(),
        ledger: args.ledger.clone(),
    };
    if args.dry_run {
        // The feeder's whole file is read and checked: a bad row stops here too.
        options
            .feeder
            .check(&scenario, options.worker())
            .map_err(usage)?;
        print!("{}", crate::session::dry_run::text(&scenario, &options));
        if let Some(line) = options.feeder.describe() {
            println!("{line}");
        }
        return Ok(None);
    }
    // Before anything is sent: an address in use, or a history file of
    // another version, stops the run here.
    let dashboard = crate::live::bind(&args.dashboard).map_err(|e| usage(e.to_string()))?;
    let history = args
        .history
        .as_deref()
        .map(History::open_or_create)
        .transpose()
        .map_err(|e| usage(format!("--history: {e}")))?;
    let outcome = run_blocking(scenario, args.out.clone(), options, dashboard)?;
    if let (Some(mut h), Some(file)) = (history, &args.history) {
        let commit = crate::history::record::commit(args.commit.as_deref());
        let added = crate::history::add(&mut h, &outcome.dir, commit).map_err(|e| {
            e.context(format!(
                "--history {}: the run's results are in {}",
                file.display(),
                outcome.dir.display()
            ))
        })?;
        println!("history: {}", added.line(&outcome.dir, file));
    }
    Ok(Some(outcome))
}
