//! The flags that say how a run is judged, shared by `compare` and
//! `history check` (flattened into each command's flags): the minimum
//! effects, `--fail-on-inconclusive`, `--out` and the explicit limits, and the
//! [`Options`] they make.

use std::path::PathBuf;

use clap::Args;

use super::compare::{MinEffect, Options};
use super::limits::{self, Limits};
use super::multiplicity::FAMILY_ALPHA;

/// How to judge, as flags.
#[derive(Debug, Clone, Default, Args)]
pub struct JudgeArgs {
    /// Smallest change worth acting on: `5%` for p50, p90, p99 and
    /// throughput, or `METRIC=VALUE` (`p99=10%`, `error_rate=0.5pp`);
    /// repeatable. Defaults: p50, p90, p99 1%, throughput 3%, error rate
    /// 0.5pp.
    #[arg(long = "min-effect", value_name = "[METRIC=]VALUE")]
    pub min_effect: Vec<String>,
    /// Exit 1 on an inconclusive line too.
    #[arg(long)]
    pub fail_on_inconclusive: bool,
    /// Write `compare.json` into DIR; when DIR is the judged run's folder its
    /// `report.html` (and `report.md`, `junit.xml`) is written again, with
    /// the comparison in it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Extra limit: largest allowed growth of p99, e.g. `25%`, or
    /// `SERVICE=40%` (repeatable). None unless given.
    #[arg(long = "max-p99-increase", value_name = "[SERVICE=]PERCENT")]
    pub max_p99_increase: Vec<String>,
    /// Extra limit: largest allowed fall of stored reports per second, e.g.
    /// `10%`. None unless given.
    #[arg(long = "max-throughput-drop", value_name = "[SERVICE=]PERCENT")]
    pub max_throughput_drop: Vec<String>,
    /// Extra limit: largest allowed growth of the error rate in percentage
    /// points, e.g. `0.5pp`. None unless given.
    #[arg(long = "max-error-rate-increase", value_name = "[SERVICE=]POINTS")]
    pub max_error_rate_increase: Vec<String>,
}

impl JudgeArgs {
    /// The options these flags give, or the flag whose value is wrong.
    pub fn options(&self) -> anyhow::Result<Options> {
        Ok(Options {
            min_effect: MinEffect::parse(&self.min_effect)?,
            family_alpha: FAMILY_ALPHA,
            limits: Limits {
                p99: limits::parse(limits::P99, &self.max_p99_increase)?,
                throughput: limits::parse(limits::THROUGHPUT, &self.max_throughput_drop)?,
                error_rate: limits::parse(limits::ERROR_RATE, &self.max_error_rate_increase)?,
            },
        })
    }
}
