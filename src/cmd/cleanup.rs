//! `mss-harness cleanup LEDGER --scenario SCENARIO [--dry-run]`: retract
//! what a rehearsal against a real target stored, from the run's ledger
//! ([`crate::ledger::cleanup`] does the work).
//!
//! Exit codes: 0 every stored affiliation is retracted (with `--dry-run`:
//! every one can be); 1 some are left — outside the retraction window, in
//! doubt, or refused — to take up with the ministry; 2 usage, configuration
//! or target error (nothing sent); 130/143 stopped by SIGINT/SIGTERM (run it
//! again to go on: nothing is sent twice).

use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::Contract;
use crate::ledger::cleanup::{self, Options};
use crate::scenario::{ContractChoice, RunPlan};
use crate::usage::usage;

/// Flags of `cleanup`.
#[derive(Debug, Clone, clap::Args)]
pub struct CleanupArgs {
    /// The ledger a run wrote (`ledger.jsonl` in its results folder, or the
    /// file `run --ledger` named).
    pub ledger: PathBuf,
    /// The scenario the run used (a file, or a shipped scenario's name): its
    /// target, credentials, token settings and production caps.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: String,
    /// The contract folder the run used [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// List what would be retracted, and what cannot be; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Against any host but this machine: retractions are sent only when
    /// this names the target's host.
    #[arg(long, value_name = "HOST")]
    pub confirm_production: Option<String>,
    /// Connection settings.
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
}

/// Run `args` (`contract`: `--contract DIR`'s, read by the caller); print
/// the report; the exit code. Errors are usage errors (exit 2).
pub fn run(args: &CleanupArgs, contract: Option<Arc<Contract>>) -> anyhow::Result<u8> {
    let contract = match contract {
        Some(c) => ContractChoice::Given(c),
        None => ContractChoice::Default(Arc::clone(Contract::embedded())),
    };
    let plan = RunPlan::load(&args.scenario, contract).map_err(|e| usage(e.to_string()))?;
    let options = Options {
        ledger: args.ledger.clone(),
        dry_run: args.dry_run,
        confirm_production: args.confirm_production.clone(),
        connect: args.connect.clone(),
        today: crate::domain::today_bogota(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let done = runtime.block_on(async {
        crate::interrupt::install()?;
        cleanup::run(&plan, &options).await
    })?;
    print!("{}", done.text());
    Ok(done.exit_code())
}
