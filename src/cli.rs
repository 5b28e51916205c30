//! Command-line interface: the raw flags (clap), dispatched to [`crate::cmd`].
//! The contract is read here, once, after the flags are parsed (`--contract
//! DIR`, else the bundled one), and handed to the command as a value.
//!
//! Exit codes: 0 success; 1 a threshold or check failed (`run`); 2 bad usage,
//! configuration or target, or a failure to run; 130/143 a `run` stopped by
//! SIGINT/SIGTERM (results written).

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::domain::Contract;

/// Load and conformance testing harness for the MSPS pension-administrator web
/// services.
#[derive(Debug, Parser)]
#[command(name = "mss-harness", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a set-up: a scenario with every key, a credentials-file template
    /// (mode 600) and a .gitignore in DIR, then the next three commands.
    Init(cmd::init::InitArgs),
    /// Print synthetic report bodies as JSON Lines (valid ones, or invalid cases
    /// with --invalid).
    Payload(cmd::payload::PayloadArgs),
    /// Run a load scenario against the embedded mock (default) or a URL and
    /// write a results folder.
    Run(cmd::run::RunArgs),
    /// Run the conformance suite against the embedded mock (default) or a URL:
    /// check by check, where the target departs from the protocol.
    Conform(crate::conform::ConformArgs),
    /// Check connectivity to a target stage by stage (DNS, TCP, TLS, token,
    /// clock skew, one harmless call per service) and write preflight.json.
    Preflight(cmd::preflight::PreflightArgs),
    /// Run the bundled mock Ministry (the same server as `mss-mock`).
    Mock(mss_mock::cli::MockArgs),
    /// Compare a run with one or several baseline runs: per service and metric
    /// the change with its interval and a verdict (exit 1 on `regressed`).
    Compare(cmd::compare::CompareArgs),
    /// The run history (SQLite, `run --history FILE`): list the runs, add
    /// results folders, write the trend page with its change points, or
    /// check the newest run against the runs before it (exit 1 on
    /// `regressed`).
    History(cmd::history::HistoryArgs),
    /// Retract what a run against a real target stored, from its ledger:
    /// every stored affiliation still inside its retraction window, under
    /// the same guards and caps as `run`; resumable, never twice (exit 1
    /// when some are left to take up with the ministry).
    Cleanup(cmd::cleanup::CleanupArgs),
    /// Merge the results folders of N workers into one run's results, exactly
    /// (exit 1 when a threshold fails on the merged result).
    Merge(cmd::merge::MergeArgs),
    /// Write report.html, report.md and junit.xml again from a results folder.
    Report(ReportArgs),
    /// Rewrite the code lists that a contract folder's openapi.json repeats
    /// (document types, administrators, departments and municipalities, the
    /// codigos each response lists) from its CSV files, after an annex
    /// changed a CSV file.
    SyncContract(SyncContractArgs),
    /// Capacity planning from the plateaus of runs: throughput against
    /// concurrency, a Universal Scalability Law fit with intervals, the peak,
    /// where the latency SLO is crossed (exit 2 when it cannot be fitted).
    Capacity(cmd::capacity::CapacityArgs),
    /// Write the ministry's first-week informe (informe.md, informe.html, in
    /// Spanish) from results folders and production request logs.
    Informe(crate::informe::InformeArgs),
}

impl Command {
    /// The `--contract DIR` of the command, when it takes one and was given one.
    pub fn contract_dir(&self) -> Option<&std::path::Path> {
        match self {
            Command::Payload(a) => a.contract.as_deref(),
            Command::Run(a) => a.contract.as_deref(),
            Command::Conform(a) => a.contract.as_deref(),
            Command::Preflight(a) => a.contract.as_deref(),
            Command::Mock(a) => a.contract.as_deref(),
            Command::Informe(a) => a.contract.as_deref(),
            Command::Cleanup(a) => a.contract.as_deref(),
            Command::Compare(_)
            | Command::History(_)
            | Command::Merge(_)
            | Command::Report(_)
            | Command::Init(_)
            | Command::SyncContract(_)
            | Command::Capacity(_) => None,
        }
    }
}

/// Flags of `sync-contract`.
#[derive(Debug, clap::Args)]
pub struct SyncContractArgs {
    /// The contract folder (an edited copy of contract/).
    pub dir: std::path::PathBuf,
}

/// Flags of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A results folder (with summary.json, latency.hlog, timeseries.csv).
    pub dir: std::path::PathBuf,
}

/// Parse `args` and run the command; the process's exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = crate::live::join_address(args.into_iter().map(Into::into).collect());
    // Before anything allocates much (the contract, below), every command
    // the mock included: see its doc for what huge pages cost.
    mss_mock::huge_pages_off();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The contract, read once: the one `--contract DIR` names (`given`),
    // else the bundled one. The flags' defaults that come from it (the
    // default administrator) are filled in by each command.
    let given = match cli
        .command
        .contract_dir()
        .map(|dir| (dir, Contract::from_dir(dir)))
    {
        None => None,
        Some((_, Ok(c))) => Some(Arc::new(c)),
        Some((dir, Err(e))) => {
            eprintln!("mss-harness: --contract {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let contract = given
        .clone()
        .unwrap_or_else(|| Arc::clone(Contract::embedded()));
    // Each command's exit code; an error is printed, prefixed with the
    // command's name where it has one, and exits 2.
    let ok = |()| 0;
    match cli.command {
        Command::Merge(args) => exit("merge: ", cmd::merge::run(&args)),
        Command::Capacity(args) => exit("capacity: ", cmd::capacity::run(&args)),
        Command::Preflight(args) => ExitCode::from(cmd::preflight::run(&args, &contract)),
        Command::Run(args) => exit(
            "",
            cmd::run::run(&args, given).map(|outcome| outcome.map_or(0, |o| o.exit)),
        ),
        Command::Cleanup(args) => exit("cleanup: ", cmd::cleanup::run(&args, given)),
        Command::Conform(args) => ExitCode::from(crate::conform::run(&args, &contract)),
        Command::Compare(args) => compare(&args),
        Command::History(args) => exit(
            "history: ",
            cmd::history::run(&args, &mut std::io::stdout().lock()),
        ),
        Command::Informe(args) => exit(
            "",
            crate::informe::run(&args, contract).map(|written| {
                for p in written {
                    println!("wrote {}", p.display());
                }
                0
            }),
        ),
        Command::Report(args) => exit(
            "",
            crate::report::write_all(&args.dir).map(|()| {
                println!(
                    "wrote {}, report.md and junit.xml",
                    args.dir.join("report.html").display()
                );
                0
            }),
        ),
        Command::Payload(args) => exit(
            "",
            cmd::payload::run(&args, &contract, &mut std::io::stdout().lock()).map(ok),
        ),
        Command::Init(args) => exit("", cmd::init::run(&args).map(ok)),
        Command::SyncContract(args) => exit(
            "",
            Contract::sync_code_lists(&args.dir)
                .map(|changed| {
                    let file = args.dir.join("openapi.json");
                    if changed.is_empty() {
                        println!("{}: already states the CSV files", file.display());
                    }
                    for pointer in changed {
                        println!("{}: rewrote {pointer}", file.display());
                    }
                    0
                })
                .map_err(|e| anyhow::anyhow!("sync-contract {}: {e}", args.dir.display())),
        ),
        Command::Mock(args) => exit(
            "",
            tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(mss_mock::cli::run(args, contract)))
                .map(ok),
        ),
    }
}

/// A command's exit code: its own, or 2 after printing its error (after
/// `mss-harness: ` and `prefix`).
fn exit(prefix: &str, result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mss-harness: {prefix}{e:#}");
            ExitCode::from(2)
        }
    }
}

/// `compare`: exit 1 on a regression (or, when asked, an inconclusive
/// metric), 2 when the runs cannot be compared or the table not printed.
fn compare(args: &cmd::compare::CompareArgs) -> ExitCode {
    match cmd::compare::compare(args) {
        Ok(c) => {
            let failed = cmd::compare::fails(&c, args.judge.fail_on_inconclusive);
            match cmd::compare::print(
                &c,
                args.judge.fail_on_inconclusive,
                &mut std::io::stdout().lock(),
            ) {
                Ok(()) if failed => ExitCode::from(1),
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mss-harness: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("mss-harness: compare: {e:#}");
            ExitCode::from(2)
        }
    }
}
