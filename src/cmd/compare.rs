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

use crate::results::comparison::{self, Comparison};
use crate::stats::compare::{MinEffect, Options};
use crate::stats::limits::{self, Limits};
use crate::stats::multiplicity::FAMILY_ALPHA;

/// Flags of `compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Results folders: the baseline runs (one or more; three or more add the
    /// spread between runs), then the run to judge, last.
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub folders: Vec<PathBuf>,
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

/// The comparison of `args`, or why the folders cannot be compared; with
/// `--out`, `compare.json` written (and the folder's reports again).
pub fn compare(args: &CompareArgs) -> anyhow::Result<Comparison> {
    let opts = Options {
        min_effect: MinEffect::parse(&args.min_effect)?,
        family_alpha: FAMILY_ALPHA,
        limits: Limits {
            p99: limits::parse(limits::P99, &args.max_p99_increase)?,
            throughput: limits::parse(limits::THROUGHPUT, &args.max_throughput_drop)?,
            error_rate: limits::parse(limits::ERROR_RATE, &args.max_error_rate_increase)?,
        },
    };
    let (current, baselines) = args
        .folders
        .split_last()
        .ok_or_else(|| anyhow::anyhow!("give the baseline folders and the run's folder"))?;
    let c = crate::stats::compare::compare(baselines, current, &opts)?;
    if let Some(dir) = &args.out {
        comparison::write(dir, &c)?;
        // The judged run's reports again, now with the comparison; a baseline's
        // are left as they are.
        let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
        if same(dir, current) {
            crate::report::write_all(dir)?;
        }
    }
    Ok(c)
}

/// Whether `c` fails the build: a regression, or with `fail_on_inconclusive`
/// an inconclusive line.
pub fn fails(c: &Comparison, fail_on_inconclusive: bool) -> bool {
    c.regressed || (fail_on_inconclusive && c.lines.iter().any(|l| l.verdict == "inconclusive"))
}

fn num(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}{unit}"))
}

/// Print `c` to `out`.
pub fn print(
    c: &Comparison,
    fail_on_inconclusive: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let conf = format!("{:.1}%", c.line_confidence_pct);
    writeln!(
        out,
        "{:<28} {:<11} {:>11} {:>11} {:>8}  {:<20} {:>9}  verdict",
        "service",
        "metric",
        "baseline",
        "current",
        "change",
        format!("interval ({conf})"),
        "min"
    )?;
    for l in &c.lines {
        let u = &l.change_unit;
        let change = l
            .change
            .map_or_else(|| "—".to_owned(), |v| format!("{v:+.1}{u}"));
        let interval = match (l.low, l.high) {
            (Some(a), Some(b)) => format!("[{a:+.1}{u}, {b:+.1}{u}]"),
            _ => "—".to_owned(),
        };
        writeln!(
            out,
            "{:<28} {:<11} {:>11} {:>11} {:>8}  {:<20} {:>9}  {}",
            l.service,
            l.metric,
            num(l.baseline, &l.unit),
            num(l.current, &l.unit),
            change,
            interval,
            format!("±{}{u}", l.min_effect),
            l.verdict
        )?;
        if let Some(note) = &l.note {
            writeln!(out, "    {note}")?;
        }
    }
    writeln!(
        out,
        "each interval is {conf}: a false `regressed` anywhere among these {} judged lines has at most {:.0}% probability (Bonferroni)",
        c.lines_judged,
        100.0 * c.family_alpha
    )?;
    if c.between_runs {
        writeln!(
            out,
            "{} baselines: the intervals include the spread between runs as well as each run's own noise",
            c.baselines.len()
        )?;
    } else {
        writeln!(
            out,
            "{} baseline{}: the intervals hold each run's own noise, not the noise between runs (machine load); give 3 or more baselines to include it",
            c.baselines.len(),
            if c.baselines.len() == 1 { "" } else { "s" }
        )?;
    }
    if !c.limits.is_empty() {
        writeln!(out, "explicit limits:")?;
        for l in &c.limits {
            let (unit, change, limit) = match l.metric.as_str() {
                "p99" => (
                    "ms",
                    format!("{:+.1}%", l.change),
                    format!("{:.1}%", l.limit),
                ),
                "throughput" => (
                    "/s",
                    format!("{:+.1}%", -l.change),
                    format!("-{:.1}%", l.limit),
                ),
                _ => (
                    "%",
                    format!("{:+.2}pp", l.change),
                    format!("{:.2}pp", l.limit),
                ),
            };
            writeln!(
                out,
                "{:<28} {:<11} {:>10.2}{unit:<2} {:>10.2}{unit:<2} {:>10} {:>9}  {}",
                l.service,
                l.metric,
                l.baseline,
                l.current,
                change,
                limit,
                if l.ok { "ok" } else { "FAIL" }
            )?;
        }
    }
    let count = |w: &str| c.lines.iter().filter(|l| l.verdict == w).count();
    let tally = format!(
        "{} regressed, {} improved, {} unchanged, {} inconclusive",
        count("regressed"),
        count("improved"),
        count("unchanged"),
        count("inconclusive")
    );
    let limit_failed = c.limits.iter().any(|l| !l.ok);
    let line = if c.regressed {
        format!(
            "compare: REGRESSION ({tally}{})",
            if limit_failed {
                "; an explicit limit failed"
            } else {
                ""
            }
        )
    } else if fails(c, fail_on_inconclusive) {
        format!("compare: INCONCLUSIVE, failing as asked ({tally})")
    } else {
        format!("compare: no regression ({tally})")
    };
    writeln!(out, "{line}")
}
