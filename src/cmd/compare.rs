//! `mss-harness compare BASELINE_DIR CURRENT_DIR`: a run against a baseline,
//! service by service, within tolerances; exit 0 when every check holds, 1 when
//! one does not, 2 when the folders cannot be compared.
//!
//! Three checks per service that has requests in the baseline: the p99 latency
//! (from the intended send time) may grow by at most `--max-p99-increase`, the
//! throughput of stored reports may fall by at most `--max-throughput-drop`,
//! and the error rate (sent requests neither stored nor rejected as expected,
//! over the sent: docs/results.md) may
//! grow by at most `--max-error-rate-increase` percentage points.
//!
//! Both folders' `summary.json` may be of schema version 1 or 2 (version 1 is
//! read as 2: see [`crate::results::upgrade_v1`]); another version is refused,
//! named, with exit 2.
//! Each flag takes a value for every service (`25%`), and may be repeated with
//! `SERVICE=VALUE` to set one service's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;

use crate::domain::Service;
use crate::results::Summary;

/// Flags of `compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Results folder of the baseline run (its `summary.json` is read).
    pub baseline: PathBuf,
    /// Results folder of the run to judge.
    pub current: PathBuf,
    /// Largest allowed growth of p99, e.g. `25%`, or `SERVICE=40%` (repeatable).
    #[arg(long = "max-p99-increase", value_name = "[SERVICE=]PERCENT", default_values_t = vec!["25%".to_owned()])]
    pub max_p99_increase: Vec<String>,
    /// Largest allowed fall of stored reports per second, e.g. `10%`.
    #[arg(long = "max-throughput-drop", value_name = "[SERVICE=]PERCENT", default_values_t = vec!["10%".to_owned()])]
    pub max_throughput_drop: Vec<String>,
    /// Largest allowed growth of the error rate in percentage points, e.g. `0.5pp`.
    #[arg(long = "max-error-rate-increase", value_name = "[SERVICE=]POINTS", default_values_t = vec!["0.5pp".to_owned()])]
    pub max_error_rate_increase: Vec<String>,
}

/// A tolerance for every service, with per-service overrides.
#[derive(Debug, Clone)]
struct Tolerance {
    all: f64,
    per: BTreeMap<String, f64>,
}

impl Tolerance {
    fn for_service(&self, s: Service) -> f64 {
        self.per.get(s.name()).copied().unwrap_or(self.all)
    }
}

/// A tolerance flag: its name, unit and default for every service.
struct Flag {
    name: &'static str,
    unit: &'static str,
    default: f64,
}

const P99: Flag = Flag {
    name: "--max-p99-increase",
    unit: "%",
    default: 25.0,
};
const THROUGHPUT: Flag = Flag {
    name: "--max-throughput-drop",
    unit: "%",
    default: 10.0,
};
const ERROR_RATE: Flag = Flag {
    name: "--max-error-rate-increase",
    unit: "pp",
    default: 0.5,
};

fn parse_tolerance(f: &Flag, values: &[String]) -> anyhow::Result<Tolerance> {
    let (flag, unit) = (f.name, f.unit);
    let mut all = None;
    let mut per = BTreeMap::new();
    for v in values {
        let (service, number) = match v.split_once('=') {
            Some((s, n)) => (Some(s.trim()), n.trim()),
            None => (None, v.trim()),
        };
        let n = number
            .strip_suffix(unit)
            .ok_or_else(|| {
                anyhow::anyhow!("{flag} {v:?}: write the value in {unit}, e.g. 25{unit}")
            })?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| anyhow::anyhow!("{flag} {v:?}: not a non-negative number"))?;
        match service {
            Some(s) => {
                let known = Service::ALL.iter().any(|x| x.name() == s);
                if !known {
                    bail!(
                        "{flag} {v:?}: unknown service {s:?} (ReportarAfiliaciontraslado or ReportarRetractoAfiliacion)"
                    );
                }
                per.insert(s.to_owned(), n);
            }
            None => all = Some(n),
        }
    }
    Ok(Tolerance {
        all: all.unwrap_or(f.default),
        per,
    })
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Service name.
    pub service: String,
    /// `p99`, `throughput` or `error_rate`.
    pub metric: &'static str,
    /// Baseline value (ms, req/s or %).
    pub baseline: f64,
    /// Current value.
    pub current: f64,
    /// Change: % for p99 and throughput (positive = worse), points for error rate.
    pub change: f64,
    /// The allowed change.
    pub limit: f64,
    /// Whether it holds.
    pub ok: bool,
}

/// Compare two summaries; the checks in table order.
fn checks(
    base: &Summary,
    cur: &Summary,
    base_dir: &Path,
    cur_dir: &Path,
    t: [&Tolerance; 3],
) -> anyhow::Result<Vec<Check>> {
    let (bs, cs) = (base_dir.join("summary.json"), cur_dir.join("summary.json"));
    if base.scenario != cur.scenario {
        bail!(
            "different scenarios: the baseline ran {} and the current run {}; compare runs of one scenario",
            base.scenario,
            cur.scenario
        );
    }
    let bsecs = base.duration_s.max(1e-9);
    let csecs = cur.duration_s.max(1e-9);
    let mut out = Vec::new();
    for s in Service::ALL {
        let name = s.name();
        let Some(b) = base.services.get(name).filter(|b| b.requests > 0) else {
            continue;
        };
        let c = cur
            .services
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("{}: key `services.{name}` missing", cs.display()))?;
        let (b99, c99) = (
            b.latency_us.p99 as f64 / 1000.0,
            c.latency_us.p99 as f64 / 1000.0,
        );
        let change = if b99 > 0.0 {
            (c99 - b99) / b99 * 100.0
        } else {
            0.0
        };
        let limit = t[0].for_service(s);
        out.push(Check {
            service: name.to_owned(),
            metric: "p99",
            baseline: b99,
            current: c99,
            change,
            limit,
            ok: change <= limit,
        });
        let (bt, ct) = (b.stored as f64 / bsecs, c.stored as f64 / csecs);
        let drop = if bt > 0.0 {
            (bt - ct) / bt * 100.0
        } else {
            0.0
        };
        let limit = t[1].for_service(s);
        out.push(Check {
            service: name.to_owned(),
            metric: "throughput",
            baseline: bt,
            current: ct,
            change: drop,
            limit,
            ok: drop <= limit,
        });
        // One definition of the error rate (crate::verdict).
        let rate = |v: &crate::results::ServiceSummary| {
            crate::verdict::error_rate(
                v.requests.saturating_sub(v.dropped()),
                v.stored + v.rejected_as_expected,
            ) * 100.0
        };
        let (be, ce) = (rate(b), rate(c));
        let limit = t[2].for_service(s);
        out.push(Check {
            service: name.to_owned(),
            metric: "error_rate",
            baseline: be,
            current: ce,
            change: ce - be,
            limit,
            ok: ce - be <= limit,
        });
    }
    if out.is_empty() {
        bail!("{}: the baseline has no requests", bs.display());
    }
    Ok(out)
}

/// The comparison of `args`: the checks, or why the folders cannot be compared.
pub fn compare(args: &CompareArgs) -> anyhow::Result<Vec<Check>> {
    let t = [
        parse_tolerance(&P99, &args.max_p99_increase)?,
        parse_tolerance(&THROUGHPUT, &args.max_throughput_drop)?,
        parse_tolerance(&ERROR_RATE, &args.max_error_rate_increase)?,
    ];
    let base = crate::results::read_summary(&args.baseline)?;
    let cur = crate::results::read_summary(&args.current)?;
    checks(
        &base,
        &cur,
        &args.baseline,
        &args.current,
        [&t[0], &t[1], &t[2]],
    )
}

/// Print the table of `checks` to `out`; whether all hold.
pub fn print(checks: &[Check], out: &mut impl Write) -> std::io::Result<bool> {
    writeln!(
        out,
        "{:<28} {:<11} {:>12} {:>12} {:>10} {:>9}  result",
        "service", "metric", "baseline", "current", "change", "limit"
    )?;
    for c in checks {
        let (unit, change, limit) = match c.metric {
            "p99" => (
                "ms",
                format!("{:+.1}%", c.change),
                format!("{:.1}%", c.limit),
            ),
            "throughput" => (
                "/s",
                format!("{:+.1}%", -c.change),
                format!("-{:.1}%", c.limit),
            ),
            _ => (
                "%",
                format!("{:+.2}pp", c.change),
                format!("{:.2}pp", c.limit),
            ),
        };
        writeln!(
            out,
            "{:<28} {:<11} {:>10.2}{unit:<2} {:>10.2}{unit:<2} {:>10} {:>9}  {}",
            c.service,
            c.metric,
            c.baseline,
            c.current,
            change,
            limit,
            if c.ok { "ok" } else { "FAIL" }
        )?;
    }
    let ok = checks.iter().all(|c| c.ok);
    writeln!(
        out,
        "{}",
        if ok {
            "compare: within tolerances"
        } else {
            "compare: REGRESSION (a check above failed)"
        }
    )?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p99_ms: f64, stored: u64, requests: u64) -> Summary {
        summary_with(p99_ms, stored, 0, requests)
    }

    /// A summary of `smoke` over 10 s whose first service had `requests`, of
    /// which `stored` and `rejected`, at a p99 of `p99_ms`; the second none.
    fn summary_with(p99_ms: f64, stored: u64, rejected: u64, requests: u64) -> Summary {
        let mut s = crate::results::read_summary(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/results-v0.1-hlog/w0"),
        )
        .expect("summary");
        s.scenario = "smoke".into();
        s.duration_s = 10.0;
        for (name, v) in s.services.iter_mut() {
            let first = name == "ReportarAfiliaciontraslado";
            v.requests = if first { requests } else { 0 };
            v.stored = if first { stored } else { 0 };
            v.rejected_as_expected = if first { rejected } else { 0 };
            v.latency_us.p99 = if first { (p99_ms * 1000.0) as u64 } else { 0 };
        }
        s
    }

    fn tolerances() -> [Tolerance; 3] {
        [
            parse_tolerance(&P99, &["25%".into()]).expect("p99"),
            parse_tolerance(&THROUGHPUT, &["10%".into()]).expect("tp"),
            parse_tolerance(&ERROR_RATE, &["0.5pp".into()]).expect("er"),
        ]
    }

    fn run(base: &Summary, cur: &Summary) -> Vec<Check> {
        let t = tolerances();
        checks(
            base,
            cur,
            Path::new("b"),
            Path::new("c"),
            [&t[0], &t[1], &t[2]],
        )
        .expect("checks")
    }

    #[test]
    fn each_check_fails_on_its_own_regression_and_only_then() {
        let base = summary(100.0, 1000, 1000);
        assert!(run(&base, &summary(120.0, 950, 952)).iter().all(|c| c.ok));
        let slow = run(&base, &summary(130.0, 1000, 1000));
        assert_eq!(
            slow.iter()
                .filter(|c| !c.ok)
                .map(|c| c.metric)
                .collect::<Vec<_>>(),
            ["p99"]
        );
        let fewer = run(&base, &summary(100.0, 880, 880));
        assert_eq!(
            fewer
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.metric)
                .collect::<Vec<_>>(),
            ["throughput"]
        );
        let failing = run(&base, &summary(100.0, 1000, 1006));
        assert_eq!(
            failing
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.metric)
                .collect::<Vec<_>>(),
            ["error_rate"]
        );
        // Invalid records rejected as expected are not errors, nor stored.
        let invalid = run(&base, &summary_with(100.0, 950, 50, 1000));
        assert!(invalid.iter().all(|c| c.ok), "{invalid:?}");
        let er = invalid.iter().find(|c| c.metric == "error_rate");
        assert_eq!(er.map(|c| c.current), Some(0.0));
        let tp = invalid.iter().find(|c| c.metric == "throughput");
        assert_eq!(tp.map(|c| c.current), Some(95.0));
        // The idle retraction service is not compared.
        assert!(
            slow.iter()
                .all(|c| c.service == "ReportarAfiliaciontraslado")
        );
    }

    #[test]
    fn per_service_overrides_and_bad_values() {
        let t = parse_tolerance(
            &P99,
            &["25%".into(), "ReportarRetractoAfiliacion=40%".into()],
        )
        .expect("parse");
        // Only a per-service value given: the others take the default.
        let only = parse_tolerance(&THROUGHPUT, &["ReportarRetractoAfiliacion=40%".into()])
            .expect("parse");
        assert_eq!(only.for_service(Service::Afiliacion), 10.0);
        assert_eq!(t.for_service(Service::Afiliacion), 25.0);
        assert_eq!(t.for_service(Service::Retracto), 40.0);
        for bad in ["25", "x%", "-3%", "Foo=3%"] {
            let e = parse_tolerance(&P99, &[bad.into()])
                .expect_err(bad)
                .to_string();
            assert!(e.contains("--max-p99-increase") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn different_scenarios_are_refused() {
        let base = summary(100.0, 1000, 1000);
        let mut other = base.clone();
        other.scenario = "baseline".into();
        let t = tolerances();
        let e = checks(
            &base,
            &other,
            Path::new("b"),
            Path::new("c"),
            [&t[0], &t[1], &t[2]],
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("different scenarios"), "{e}");
    }
}
