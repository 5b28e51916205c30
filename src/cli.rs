//! Command-line interface: the raw flags (clap), dispatched to [`crate::cmd`].
//!
//! Exit codes: 0 success; 1 a threshold or check failed (`run`); 2 bad usage,
//! configuration or target, or a failure to run; 130/143 a `run` stopped by
//! SIGINT/SIGTERM (results written).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd;

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
    /// Compare a run with a baseline run, service by service, within tolerances
    /// (exit 1 on a regression).
    Compare(cmd::compare::CompareArgs),
    /// Merge the results folders of N workers into one run's results, exactly
    /// (exit 1 when a threshold fails on the merged result).
    Merge(cmd::merge::MergeArgs),
    /// Write report.html, report.md and junit.xml again from a results folder.
    Report(ReportArgs),
    /// Capacity planning from the plateaus of runs: throughput against
    /// concurrency, a Universal Scalability Law fit with intervals, the peak,
    /// where the latency SLO is crossed (exit 2 when it cannot be fitted).
    Capacity(cmd::capacity::CapacityArgs),
    /// Write the ministry's first-week informe (informe.md, informe.html, in
    /// Spanish) from results folders and production request logs.
    Informe(crate::informe::InformeArgs),
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
    if let Command::Merge(args) = &cli.command {
        return match cmd::merge::run(args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("mss-harness: merge: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Command::Capacity(args) = &cli.command {
        return match cmd::capacity::run(args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("mss-harness: capacity: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Command::Preflight(args) = &cli.command {
        return ExitCode::from(cmd::preflight::run(args));
    }
    if let Command::Run(args) = &cli.command {
        return match cmd::run::run(args) {
            Ok(Some(outcome)) => ExitCode::from(outcome.exit),
            Ok(None) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mss-harness: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Command::Conform(args) = &cli.command {
        return ExitCode::from(crate::conform::run(args));
    }
    if let Command::Compare(args) = &cli.command {
        return match cmd::compare::compare(args) {
            Ok(checks) => match cmd::compare::print(&checks, &mut std::io::stdout().lock()) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("mss-harness: {e}");
                    ExitCode::from(2)
                }
            },
            Err(e) => {
                eprintln!("mss-harness: compare: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let result = match cli.command {
        Command::Run(_)
        | Command::Compare(_)
        | Command::Conform(_)
        | Command::Preflight(_)
        | Command::Capacity(_)
        | Command::Merge(_) => Ok(()),
        Command::Informe(args) => crate::informe::run(&args).map(|written| {
            for p in written {
                println!("wrote {}", p.display());
            }
        }),
        Command::Report(args) => crate::report::write_all(&args.dir).map(|()| {
            println!(
                "wrote {}, report.md and junit.xml",
                args.dir.join("report.html").display()
            );
        }),
        Command::Payload(args) => cmd::payload::run(&args, &mut std::io::stdout().lock()),
        Command::Mock(args) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(mss_mock::cli::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mss-harness: {e:#}");
            ExitCode::from(2)
        }
    }
}
