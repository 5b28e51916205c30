//! The fixed percentage limits of `compare`'s older flags
//! (`--max-p99-increase`, `--max-throughput-drop`,
//! `--max-error-rate-increase`): extra checks applied only when given, on top
//! of the statistical verdict. Each takes a value for every service (`25%`)
//! and may be repeated with `SERVICE=VALUE` for one service. With several
//! baselines the baseline value is their mean.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::domain::Service;
use crate::results::Summary;
use crate::results::comparison::LimitCheck;

/// A limit flag: its name and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The flag as typed.
    pub name: &'static str,
    /// `%` or `pp`.
    pub unit: &'static str,
}

impl Flag {
    /// `value` (`NUMBER` or `KEY=NUMBER`, as given) split at its `=`: the key
    /// and the number, both trimmed.
    pub fn split(value: &str) -> (Option<&str>, &str) {
        match value.split_once('=') {
            Some((key, n)) => (Some(key.trim()), n.trim()),
            None => (None, value.trim()),
        }
    }

    /// `number` (of `value`) read in this flag's unit: an error naming the
    /// unit (`e.g. {example}{unit}`) when it is not written in it, `None`
    /// when it is not a non-negative number.
    pub fn number(self, value: &str, number: &str, example: u32) -> anyhow::Result<Option<f64>> {
        let (flag, unit) = (self.name, self.unit);
        let n = number.strip_suffix(unit).ok_or_else(|| {
            anyhow::anyhow!("{flag} {value:?}: write the value in {unit}, e.g. {example}{unit}")
        })?;
        Ok(n.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0))
    }
}

/// `--max-p99-increase`.
pub const P99: Flag = Flag {
    name: "--max-p99-increase",
    unit: "%",
};
/// `--max-throughput-drop`.
pub const THROUGHPUT: Flag = Flag {
    name: "--max-throughput-drop",
    unit: "%",
};
/// `--max-error-rate-increase`.
pub const ERROR_RATE: Flag = Flag {
    name: "--max-error-rate-increase",
    unit: "pp",
};

/// A limit for every service (when given), with per-service overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limit {
    all: Option<f64>,
    per: BTreeMap<String, f64>,
}

impl Limit {
    /// The limit of service `name`, if one was given.
    pub fn for_service(&self, name: &str) -> Option<f64> {
        self.per.get(name).copied().or(self.all)
    }
}

/// Parse the values of flag `f` (`25%`, `SERVICE=40%`); none given is no
/// limit.
pub fn parse(f: Flag, values: &[String]) -> anyhow::Result<Limit> {
    let flag = f.name;
    let mut limit = Limit::default();
    for v in values {
        let (service, number) = Flag::split(v);
        let n = f
            .number(v, number, 25)?
            .ok_or_else(|| anyhow::anyhow!("{flag} {v:?}: not a non-negative number"))?;
        match service {
            Some(s) => {
                if !Service::ALL.iter().any(|x| x.name() == s) {
                    bail!(
                        "{flag} {v:?}: unknown service {s:?} (ReportarAfiliaciontraslado or ReportarRetractoAfiliacion)"
                    );
                }
                limit.per.insert(s.to_owned(), n);
            }
            None => limit.all = Some(n),
        }
    }
    Ok(limit)
}

/// The three limits: p99, throughput, error rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// `--max-p99-increase`.
    pub p99: Limit,
    /// `--max-throughput-drop`.
    pub throughput: Limit,
    /// `--max-error-rate-increase`.
    pub error_rate: Limit,
}

/// p99 in ms, stored reports per second and error rate in % of a service.
fn values(s: &Summary, name: &str) -> Option<[f64; 3]> {
    let v = s.services.get(name)?;
    let sent = v.requests.saturating_sub(v.dropped());
    Some([
        v.latency_us.p99 as f64 / 1000.0,
        v.stored as f64 / s.duration_s.max(1e-9),
        // One definition of the error rate (crate::results).
        crate::results::error_rate(sent, v.stored + v.rejected_as_expected) * 100.0,
    ])
}

/// The checks of the limits given, for every service the baselines had
/// requests in (`services`), in table order.
pub fn check(
    limits: &Limits,
    baselines: &[&Summary],
    current: &Summary,
    services: &[String],
) -> Vec<LimitCheck> {
    let mut out = Vec::new();
    for name in services {
        let bs: Vec<[f64; 3]> = baselines.iter().filter_map(|b| values(b, name)).collect();
        let (Some(c), false) = (values(current, name), bs.is_empty()) else {
            continue;
        };
        let b: Vec<f64> = (0..3)
            .map(|i| bs.iter().map(|v| v[i]).sum::<f64>() / bs.len() as f64)
            .collect();
        let rel = |base: f64, change: f64| {
            if base > 0.0 {
                change / base * 100.0
            } else {
                0.0
            }
        };
        let rows = [
            ("p99", &limits.p99, rel(b[0], c[0] - b[0])),
            ("throughput", &limits.throughput, rel(b[1], b[1] - c[1])),
            ("error_rate", &limits.error_rate, c[2] - b[2]),
        ];
        for (i, (metric, limit, change)) in rows.into_iter().enumerate() {
            if let Some(limit) = limit.for_service(name) {
                out.push(LimitCheck {
                    service: name.clone(),
                    metric: metric.to_owned(),
                    baseline: b[i],
                    current: c[i],
                    change,
                    limit,
                    ok: change <= limit,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A summary of 10 s whose affiliation service had `requests`, of which
    /// `stored` and `rejected`, at a p99 of `p99_ms`.
    fn summary(p99_ms: f64, stored: u64, rejected: u64, requests: u64) -> Summary {
        let mut s = crate::results::read_summary(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/results-v0.1-hlog/w0"),
        )
        .expect("summary");
        s.duration_s = 10.0;
        for (name, v) in s.services.iter_mut() {
            let first = name == "ReportarAfiliaciontraslado";
            v.requests = if first { requests } else { 0 };
            v.stored = if first { stored } else { 0 };
            v.rejected_as_expected = if first { rejected } else { 0 };
            v.errors.clear();
            v.latency_us.p99 = if first { (p99_ms * 1000.0) as u64 } else { 0 };
        }
        s
    }

    fn all() -> Limits {
        Limits {
            p99: parse(P99, &["25%".into()]).expect("p99"),
            throughput: parse(THROUGHPUT, &["10%".into()]).expect("tp"),
            error_rate: parse(ERROR_RATE, &["0.5pp".into()]).expect("er"),
        }
    }

    fn failing(base: &Summary, cur: &Summary) -> Vec<String> {
        check(&all(), &[base], cur, &["ReportarAfiliaciontraslado".into()])
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.metric)
            .collect()
    }

    #[test]
    fn each_limit_fails_on_its_own_regression_and_only_then() {
        let base = summary(100.0, 1000, 0, 1000);
        assert!(failing(&base, &summary(120.0, 950, 0, 952)).is_empty());
        assert_eq!(failing(&base, &summary(130.0, 1000, 0, 1000)), ["p99"]);
        assert_eq!(failing(&base, &summary(100.0, 880, 0, 880)), ["throughput"]);
        assert_eq!(
            failing(&base, &summary(100.0, 1000, 0, 1006)),
            ["error_rate"]
        );
        // Invalid records rejected as expected are not errors, nor stored.
        let invalid = summary(100.0, 950, 50, 1000);
        assert!(failing(&base, &invalid).is_empty());
        let checks = check(
            &all(),
            &[&base],
            &invalid,
            &["ReportarAfiliaciontraslado".into()],
        );
        assert_eq!(checks[1].current, 95.0);
        assert_eq!(checks[2].current, 0.0);
    }

    #[test]
    fn only_the_limits_given_are_checked() {
        let base = summary(100.0, 1000, 0, 1000);
        let limits = Limits {
            p99: parse(P99, &["ReportarRetractoAfiliacion=40%".into()]).expect("p99"),
            ..Limits::default()
        };
        let services = ["ReportarAfiliaciontraslado".to_owned()];
        assert!(check(&limits, &[&base], &summary(300.0, 10, 0, 1000), &services).is_empty());
    }

    #[test]
    fn per_service_overrides_and_bad_values() {
        let t = parse(
            P99,
            &["25%".into(), "ReportarRetractoAfiliacion=40%".into()],
        )
        .expect("p");
        assert_eq!(t.for_service("ReportarAfiliaciontraslado"), Some(25.0));
        assert_eq!(t.for_service("ReportarRetractoAfiliacion"), Some(40.0));
        for bad in ["25", "x%", "-3%", "Foo=3%"] {
            let e = parse(P99, &[bad.into()]).expect_err(bad).to_string();
            assert!(e.contains("--max-p99-increase") && e.contains(bad), "{e}");
        }
    }
}
