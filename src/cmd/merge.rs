//! `mss-harness merge DIR... --out DIR`: the results of N workers as one run,
//! exactly ([`crate::results::merge`]: HdrHistogram addition of every interval
//! and of the totals, summed counts and error classes, time series joined on
//! wall-clock seconds), its summary built as a single run's is
//! ([`crate::verdict::build_summary`]), written as a single run writes its
//! folder (summary, hlogs, timeseries, errors, reports), with the thresholds
//! judged on the merged result.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::Contract;
use crate::usage::usage;

/// Flags of `merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The workers' results folders.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged results go: a new or empty folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace the earlier results in --out DIR (a folder with a
    /// summary.json); without it a folder that holds anything is refused.
    #[arg(long)]
    pub overwrite: bool,
}

/// Merge `args.dirs` into `args.out`; the exit code (0 thresholds hold, 1 not).
pub fn run(args: &MergeArgs) -> anyhow::Result<u8> {
    if args.dirs.iter().any(|d| same_folder(d, &args.out)) {
        return Err(usage(format!(
            "--out {}: names one of the workers' folders; the merged results go to a folder of their own",
            args.out.display()
        )));
    }
    let merged = crate::results::merge::read(&args.dirs, Contract::embedded())?;
    crate::results::folder::claim(&args.out, args.overwrite).map_err(|e| usage(e.to_string()))?;
    if args.dirs.len() as u64 != merged.count {
        eprintln!(
            "merge: {} of {} workers given (missing: {:?}); the result covers only these",
            args.dirs.len(),
            merged.count,
            merged.missing
        );
    }
    let summary = crate::verdict::build_summary(&merged.record()?, &merged.facts);
    merged.write(&args.out, &summary)?;
    crate::report::write_all(&args.out).context("the reports")?;
    crate::results::table::print(&summary, &args.out);
    // The merged plan delivered and every threshold held (the reconciliation
    // and the faults describe one worker's target: not judged here).
    let passed =
        summary.delivery.as_ref().is_none_or(|d| d.ok) && summary.thresholds.iter().all(|t| t.ok);
    Ok(if passed { 0 } else { 1 })
}

/// Whether `a` and `b` name one folder (as written, or once resolved).
fn same_folder(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}
