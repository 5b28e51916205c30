//! `mss-harness history [list|add|report|check] --history FILE`: the run
//! history ([`crate::history`]). `list` (the default) prints the runs, `add
//! RESULTS_DIR...` adds results folders, `report --out DIR` writes the trend
//! page `history.html`, `check` judges the newest run against the runs before
//! it.
//!
//! Exit codes: 0 done (`check`: nothing regressed); 1 `check` judged a line
//! `regressed` (or an explicit limit failed, or with
//! `--fail-on-inconclusive` a line is inconclusive); 2 bad usage, a file that
//! is no history of this version, unreadable folders.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};

use crate::history::check::{self, Basis, CheckOptions};
use crate::history::store::RunRow;
use crate::history::{self, History, trend};
use crate::stats::changepoint::Params;
use crate::stats::flags::JudgeArgs;

/// The history file when none is given.
pub const DEFAULT_FILE: &str = "results/history.db";

/// Flags of `history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The history file (SQLite).
    #[arg(long, value_name = "FILE", global = true, default_value = DEFAULT_FILE)]
    pub history: PathBuf,
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
}

/// The subcommands of `history`.
#[derive(Debug, Clone, Subcommand)]
pub enum HistoryCommand {
    /// List the runs, oldest first: id, start, commit, scenario, target,
    /// verdict, and per service p50, p99, stored reports per second and
    /// errors.
    List(ListArgs),
    /// Add results folders (runs made without --history, a merged run); a
    /// folder already there is not added twice.
    Add(AddArgs),
    /// Write history.html: per scenario, target and service the p50, p99,
    /// throughput and error rate over the runs, change points marked.
    Report(ReportArgs),
    /// Judge the newest run against the runs before it (same scenario and
    /// target): per service and metric a verdict, as `compare` (exit 1 on
    /// `regressed`).
    Check(CheckArgs),
}

/// Flags of `history list`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// List only this many of the newest runs.
    #[arg(long, value_name = "RUNS")]
    pub last: Option<usize>,
}

/// Flags of `history add`.
#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// Results folders (each with summary.json; latency.hlog for the
    /// verdict's estimates).
    #[arg(required = true, value_name = "RESULTS_DIR")]
    pub dirs: Vec<PathBuf>,
    /// The commit under test [default: $GITHUB_SHA, $CI_COMMIT_SHA, or
    /// `git rev-parse HEAD` here].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
}

/// Flags of `history report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Write history.html into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Draw this many of the newest runs of each scenario and target.
    #[arg(long, value_name = "RUNS", default_value_t = trend::DEFAULT_LAST,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub last: usize,
}

/// Flags of `history check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// How many earlier runs of the same scenario and target to judge
    /// against (at least 3).
    #[arg(long, value_name = "RUNS", default_value_t = check::DEFAULT_WINDOW,
          value_parser = clap::value_parser!(u32).range(check::MIN_WINDOW as i64..).map(|n| n as usize))]
    pub window: usize,
    /// Until the window is full, compare the newest run's folder with
    /// these baseline folders instead (as `compare` does).
    #[arg(long = "baseline", value_name = "DIR", num_args = 1..)]
    pub baselines: Vec<PathBuf>,
    /// How to judge.
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// Run `history`: the exit code.
pub fn run(args: &HistoryArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    let file = &args.history;
    match &args.command {
        None => list(&History::open(file)?, &ListArgs::default(), out),
        Some(HistoryCommand::List(a)) => list(&History::open(file)?, a, out),
        Some(HistoryCommand::Add(a)) => {
            let mut h = History::open_or_create(file)?;
            let commit = history::record::commit(a.commit.as_deref());
            for dir in &a.dirs {
                let added = history::add(&mut h, dir, commit.clone())
                    .map_err(|e| e.context(format!("history add {}", dir.display())))?;
                writeln!(out, "{}", added.line(dir, file))?;
            }
            Ok(0)
        }
        Some(HistoryCommand::Report(a)) => {
            let h = History::open(file)?;
            let t = trend::trend(&h, a.last, &Params::default())?;
            let page = crate::report::history::write(&a.out, &t)?;
            let shifts: usize = t
                .groups
                .iter()
                .flat_map(|g| &g.services)
                .flat_map(|s| &s.series)
                .map(|s| s.shifts.len())
                .sum();
            writeln!(
                out,
                "wrote {} ({} runs, {shifts} change point{})",
                page.display(),
                t.runs,
                if shifts == 1 { "" } else { "s" }
            )?;
            Ok(0)
        }
        Some(HistoryCommand::Check(a)) => {
            let h = History::open(file)?;
            let opts = CheckOptions {
                window: a.window,
                judge: a.judge.options()?,
                baselines: a.baselines.clone(),
            };
            let c = check::check(&h, &opts)?;
            if let Some(dir) = &a.judge.out {
                crate::report::compare_out::write(
                    dir,
                    Path::new(&c.newest.run.source),
                    &c.comparison,
                )?;
            }
            writeln!(out, "{}", basis_line(&c.newest, &c.basis, a.window))?;
            let fail = a.judge.fail_on_inconclusive;
            crate::report::compare_out::print(&c.comparison, fail, "history check", out)?;
            Ok(u8::from(crate::report::compare_out::fails(
                &c.comparison,
                fail,
            )))
        }
    }
}

/// A run's start as it is shown here: `2026-12-07 17:06:22 UTC`.
const WHEN: &str = "%Y-%m-%d %H:%M:%S UTC";

/// What the newest run was judged against, in one line.
fn basis_line(newest: &RunRow, basis: &Basis, window: usize) -> String {
    let head = format!(
        "history check: run #{} ({}, commit {}) of {} against {}",
        newest.id,
        newest.started(WHEN),
        newest.short_commit(),
        newest.run.scenario,
        newest.run.target
    );
    let ids = |runs: &[RunRow]| match (runs.first(), runs.last()) {
        (Some(a), Some(b)) if a.id != b.id => format!("#{} … #{}", a.id, b.id),
        (Some(a), _) => format!("#{}", a.id),
        _ => "none".to_owned(),
    };
    match basis {
        Basis::Window(runs) => format!(
            "{head}, judged against the {} run{} before it ({}; window {window})",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            ids(runs)
        ),
        Basis::Baselines(runs) => format!(
            "{head}: the window holds {} of {window} runs ({}), so the run's folder is compared with the baseline folders",
            runs.len(),
            ids(runs)
        ),
        Basis::TooFew(runs) => format!(
            "{head}: the window holds {} run{} ({}); at least {} are needed: every line is inconclusive",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            ids(runs),
            check::MIN_WINDOW
        ),
    }
}

/// Print the runs.
fn list(h: &History, a: &ListArgs, out: &mut impl Write) -> anyhow::Result<u8> {
    let runs = h.runs()?;
    let skip = a.last.map_or(0, |n| runs.len().saturating_sub(n));
    if runs.is_empty() {
        writeln!(out, "{}: no run yet", h.path().display())?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:>5}  {:<23}  {:<12}  {:<16}  {:<20}  verdict",
        "run", "started", "commit", "scenario", "target"
    )?;
    writeln!(
        out,
        "{:>5}  {:<28} {:>9} {:>9} {:>10} {:>7}",
        "", "  service", "p50 ms", "p99 ms", "stored/s", "errors"
    )?;
    for r in runs.iter().skip(skip) {
        writeln!(
            out,
            "{:>5}  {:<23}  {:<12}  {:<16}  {:<20}  {}",
            format!("#{}", r.id),
            r.started(WHEN),
            r.short_commit(),
            r.run.scenario,
            r.run.target,
            if r.run.passed { "pass" } else { "FAIL" }
        )?;
        for s in r.run.services.iter().filter(|s| s.requests > 0) {
            writeln!(
                out,
                "{:>5}    {:<26} {:>9.1} {:>9.1} {:>10.1} {:>7}",
                "", s.service, s.p50_ms, s.p99_ms, s.throughput, s.errors
            )?;
        }
    }
    writeln!(
        out,
        "{} run{} in {}",
        runs.len() - skip,
        if runs.len() - skip == 1 { "" } else { "s" },
        h.path().display()
    )?;
    Ok(0)
}
