//! What `compare` and `history check` put out of a comparison
//! ([`Comparison`]): the text table they print (a line per service and metric
//! with the change, its interval and the verdict, how the false-alarm rate is
//! kept, the explicit limits, a closing line), whether it fails a build, and
//! with `--out` `compare.json` and the judged run's reports again.

use std::io::Write;
use std::path::Path;

use crate::results::comparison::{self, Comparison};

/// Write `c` as `dir/compare.json`; when `dir` is the judged run's folder
/// (`judged`), its reports again, now with the comparison (a baseline's are
/// left as they are).
pub fn write(dir: &Path, judged: &Path, c: &Comparison) -> anyhow::Result<()> {
    comparison::write(dir, c)?;
    let same = matches!((dir.canonicalize(), judged.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same {
        super::write_all(dir)?;
    }
    Ok(())
}

/// Whether `c` fails the build: a regression, or with `fail_on_inconclusive`
/// an inconclusive line.
pub fn fails(c: &Comparison, fail_on_inconclusive: bool) -> bool {
    c.regressed || (fail_on_inconclusive && c.lines.iter().any(|l| l.verdict == "inconclusive"))
}

fn num(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}{unit}"))
}

/// Print `c` to `out`, the closing line led by `command` (`compare`,
/// `history check`).
pub fn print(
    c: &Comparison,
    fail_on_inconclusive: bool,
    command: &str,
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
            "{command}: REGRESSION ({tally}{})",
            if limit_failed {
                "; an explicit limit failed"
            } else {
                ""
            }
        )
    } else if fails(c, fail_on_inconclusive) {
        format!("{command}: INCONCLUSIVE, failing as asked ({tally})")
    } else {
        format!("{command}: no regression ({tally})")
    };
    writeln!(out, "{line}")
}
