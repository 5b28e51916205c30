//! `mss-harness compare BASELINE_DIR... CURRENT_DIR`: a run against one or
//! several baseline runs, judged with statistics (`src/stats/`): per service
//! and metric the change with its interval and one of `regressed`,
//! `improved`, `unchanged`, `inconclusive`. Exit 0 when nothing regressed, 1
//! on `regressed` (or an explicit limit exceeded, or, with
//! `--fail-on-inconclusive`, an inconclusive line), 2 when the folders cannot
//! be compared. This file is the flags and the printing; the judging is
//! [`crate::stats::compare`].

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::results::comparison::Comparison;
use crate::stats::flags::JudgeArgs;

/// Flags of `compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Results folders: the baseline runs (one or more; three or more add the
    /// spread between runs), then the run to judge, last.
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub folders: Vec<PathBuf>,
    /// How to judge.
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// The comparison of `args`, or why the folders cannot be compared; with
/// `--out`, `compare.json` written (and the folder's reports again).
pub fn compare(args: &CompareArgs) -> anyhow::Result<Comparison> {
    let opts = args.judge.options()?;
    let (current, baselines) = args
        .folders
        .split_last()
        .ok_or_else(|| anyhow::anyhow!("give the baseline folders and the run's folder"))?;
    let c = crate::stats::compare::compare(baselines, current, &opts)?;
    if let Some(dir) = &args.judge.out {
        crate::report::compare_out::write(dir, current, &c)?;
    }
    Ok(c)
}

/// Whether `c` fails the build: a regression, or with `fail_on_inconclusive`
/// an inconclusive line.
pub fn fails(c: &Comparison, fail_on_inconclusive: bool) -> bool {
    crate::report::compare_out::fails(c, fail_on_inconclusive)
}

/// Print `c` to `out`.
pub fn print(
    c: &Comparison,
    fail_on_inconclusive: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    crate::report::compare_out::print(c, fail_on_inconclusive, "compare", out)
}
