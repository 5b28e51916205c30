//! One run's estimate of one metric of one service, on the scale its change is
//! judged on, with its variance: `ln` of a latency percentile (variance from
//! the block bootstrap), `ln` of the stored reports per second and the error
//! rate in percentage points (variances from batch means over the seconds).
//! A metric the run has too little data for is [`Measured::TooFew`], saying
//! what it would need, and is never judged.

use super::batch;
use super::bootstrap::{self, Seconds};
use super::sample::ServiceSample;

/// A run shorter than this many seconds gives no error estimate: a block
/// bootstrap or batch means over fewer seconds sees almost no blocks.
pub const MIN_SECONDS: usize = 10;

/// A percentile is estimated only with at least this many values beyond it
/// (a p99 from fewer than 1,000 requests is nearly the maximum, whose
/// bootstrap error is known to be wrong).
pub const MIN_TAIL: f64 = 10.0;

/// The metrics `compare` judges, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Latency p50 (from the intended time).
    P50,
    /// Latency p90.
    P90,
    /// Latency p99.
    P99,
    /// Stored reports per second.
    Throughput,
    /// Sent requests neither stored nor rejected as expected, in %.
    ErrorRate,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 5] = [
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::Throughput,
        Metric::ErrorRate,
    ];

    /// The name printed and written (`p50`, …, `throughput`, `error_rate`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::Throughput => "throughput",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The quantile of a latency metric.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Metric::P50 => Some(0.5),
            Metric::P90 => Some(0.9),
            Metric::P99 => Some(0.99),
            _ => None,
        }
    }

    /// Whether the change is relative (%, judged on `ln`); the error rate's
    /// is a difference in percentage points.
    pub fn relative(self) -> bool {
        self != Metric::ErrorRate
    }

    /// Whether a rise is the bad direction (a fall, for throughput).
    pub fn worse_up(self) -> bool {
        self != Metric::Throughput
    }

    /// The unit of the metric's values: `ms`, `/s` or `%`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Throughput => "/s",
            Metric::ErrorRate => "%",
            _ => "ms",
        }
    }
}

/// A run's estimate of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// On the judged scale: `ln(value)` for a relative metric, percentage
    /// points for the error rate.
    pub value: f64,
    /// Variance of `value` within the run (sampling and autocorrelation).
    pub var: f64,
    /// The value as shown: ms, reports/s or %.
    pub shown: f64,
    /// Requests the estimate rests on.
    pub requests: u64,
}

/// A run's estimate, or why the run cannot give one.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    /// An estimate.
    Estimate(Estimate),
    /// Too little data: the value as shown (if any), why, and the requests a
    /// run would need (if more requests help).
    TooFew {
        /// The value as shown, when there is one.
        shown: Option<f64>,
        /// Why, in words.
        why: String,
        /// Requests per run that would give an estimate.
        needs: Option<u64>,
    },
}

/// Every metric of a service of a run of `seconds` seconds; `seed` draws the
/// bootstrap.
pub fn estimates(s: &ServiceSample, seconds: f64, seed: u64) -> Vec<(Metric, Measured)> {
    let mut out = Vec::new();
    let len = s.latency.len();
    let short = (len < MIN_SECONDS)
        .then(|| format!("a run of {len} s: an error estimate needs at least {MIN_SECONDS} s"));
    // The latency percentiles, together.
    let qs: Vec<f64> = Metric::ALL.iter().filter_map(|m| m.quantile()).collect();
    let points = s.latency.quantiles(&qs);
    let n = s.latency.total();
    let vars = match (&short, &points) {
        (None, Some(_)) => {
            let tau = batch::autocorrelation_time(&second_log_medians(&s.latency));
            bootstrap::log_quantile_variances(
                &s.latency,
                &qs,
                bootstrap::block_length(len, tau),
                seed,
            )
        }
        _ => None,
    };
    for (k, m) in Metric::ALL
        .iter()
        .filter(|m| m.quantile().is_some())
        .enumerate()
    {
        let q = qs[k];
        let shown = points.as_ref().map(|p| p[k] as f64 / 1000.0);
        // (Less a hair: 10 / 0.1 is 100.00000000000001 in floating point.)
        let needs = (MIN_TAIL / q.min(1.0 - q) - 1e-9).ceil() as u64;
        let measured = if let Some(why) = &short {
            Measured::TooFew {
                shown,
                why: why.clone(),
                needs: None,
            }
        } else if (n as f64) * q.min(1.0 - q) < MIN_TAIL {
            Measured::TooFew {
                shown,
                why: format!("{n} requests: a {} needs at least {needs}", m.name()),
                needs: Some(needs),
            }
        } else {
            match (shown, &vars) {
                (Some(v), Some(vars)) => Measured::Estimate(Estimate {
                    value: v.max(1e-3).ln(),
                    var: vars[k],
                    shown: v,
                    requests: n,
                }),
                _ => Measured::TooFew {
                    shown,
                    why: "no latency recorded".into(),
                    needs: None,
                },
            }
        };
        out.push((*m, measured));
    }
    out.push((Metric::Throughput, throughput(s, seconds, short.clone())));
    out.push((Metric::ErrorRate, error_rate(s, short)));
    out
}

/// The log median of each second with answers.
fn second_log_medians(s: &Seconds) -> Vec<f64> {
    (0..s.len())
        .filter_map(|i| s.second_quantile(i, 0.5))
        .map(|v| (v.max(1) as f64).ln())
        .collect()
}

fn throughput(s: &ServiceSample, seconds: f64, short: Option<String>) -> Measured {
    let shown = s.stored as f64 / seconds.max(1e-9);
    if let Some(why) = short {
        return Measured::TooFew {
            shown: Some(shown),
            why,
            needs: None,
        };
    }
    // Relative variance of the mean per-second count (batch means), or, without
    // timeseries.csv, the Poisson one of the total.
    let poisson = 1.0 / s.stored.max(1) as f64;
    let var = s
        .per_second
        .as_ref()
        .and_then(|rows| {
            let x: Vec<f64> = rows.iter().map(|r| r.stored as f64).collect();
            let m = batch::series_mean(&x)?;
            (m.mean > 0.0).then(|| m.var_of_mean() / (m.mean * m.mean))
        })
        .unwrap_or(poisson);
    Measured::Estimate(Estimate {
        // Half a report stands for none, so that a service that stored nothing
        // has a (very low) logarithm.
        value: (s.stored.max(1) as f64 - if s.stored == 0 { 0.5 } else { 0.0 }).ln()
            - seconds.max(1e-9).ln(),
        var,
        shown,
        requests: s.requests,
    })
}

fn error_rate(s: &ServiceSample, short: Option<String>) -> Measured {
    if s.sent == 0 {
        return Measured::TooFew {
            shown: None,
            why: "no request was sent".into(),
            needs: None,
        };
    }
    let shown = 100.0 * s.errors as f64 / s.sent as f64;
    if let Some(why) = short {
        return Measured::TooFew {
            shown: Some(shown),
            why,
            needs: None,
        };
    }
    // Never below the binomial variance of (errors + 1) / (sent + 2): no
    // errors in a small run is not a certain 0%.
    let n = s.sent as f64;
    let p = (s.errors as f64 + 1.0) / (n + 2.0);
    let floor = p * (1.0 - p) / (n + 2.0);
    // A ratio of per-second sums: its variance from the residuals e − R·s.
    let by_seconds = s.per_second.as_ref().and_then(|rows| {
        let r = s.errors as f64 / n;
        let d: Vec<f64> = rows
            .iter()
            .map(|x| x.errors as f64 - r * x.sent as f64)
            .collect();
        let m = batch::series_mean(&d)?;
        let mean_sent = rows.iter().map(|x| x.sent as f64).sum::<f64>() / rows.len() as f64;
        (mean_sent > 0.0).then(|| m.var_of_mean() / (mean_sent * mean_sent))
    });
    Measured::Estimate(Estimate {
        value: shown,
        var: 1e4 * by_seconds.unwrap_or(0.0).max(floor),
        shown,
        requests: s.sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bootstrap::tests::lognormal_seconds;
    use crate::stats::sample::SecondRow;

    fn service(seconds: usize, per: usize, errors_per_second: u64) -> ServiceSample {
        let hs = lognormal_seconds(seconds, per, 11, |_| 1.0);
        let n = (seconds * per) as u64;
        ServiceSample {
            latency: Seconds::new(&hs),
            per_second: Some(vec![
                SecondRow {
                    sent: per as u64,
                    stored: per as u64 - errors_per_second,
                    errors: errors_per_second,
                };
                seconds
            ]),
            requests: n,
            sent: n,
            stored: n - errors_per_second * seconds as u64,
            errors: errors_per_second * seconds as u64,
        }
    }

    fn get(e: &[(Metric, Measured)], m: Metric) -> &Measured {
        &e.iter().find(|(x, _)| *x == m).expect("metric").1
    }

    #[test]
    fn a_full_run_has_every_estimate() {
        let e = estimates(&service(30, 90, 0), 30.0, 1);
        for m in Metric::ALL {
            let Measured::Estimate(x) = get(&e, m) else {
                panic!("{m:?}: {:?}", get(&e, m));
            };
            assert!(x.var >= 0.0 && x.var.is_finite(), "{m:?} {x:?}");
        }
        let Measured::Estimate(p50) = get(&e, Metric::P50) else {
            unreachable!()
        };
        assert!((p50.shown - 20.0).abs() < 1.5, "{p50:?}");
        // Every second alike: the throughput's variance is nil; no errors: the
        // error rate's is the floor of 1 error in 2,702.
        let Measured::Estimate(tp) = get(&e, Metric::Throughput) else {
            unreachable!()
        };
        assert_eq!(tp.var, 0.0);
        let Measured::Estimate(er) = get(&e, Metric::ErrorRate) else {
            unreachable!()
        };
        assert!(er.var > 0.0 && er.var.sqrt() < 0.05, "{er:?}");
    }

    #[test]
    fn too_few_requests_or_seconds_give_no_estimate() {
        // 300 requests: a p99 needs 1,000; p50 and p90 are fine.
        let e = estimates(&service(30, 10, 0), 30.0, 1);
        assert!(matches!(get(&e, Metric::P90), Measured::Estimate(_)));
        let Measured::TooFew { why, needs, .. } = get(&e, Metric::P99) else {
            panic!("{e:?}")
        };
        assert_eq!(*needs, Some(1000));
        assert!(why.contains("300 requests"), "{why}");
        // A run of 4 s: nothing is estimated.
        let e = estimates(&service(4, 90, 0), 4.0, 1);
        for (m, x) in &e {
            assert!(matches!(x, Measured::TooFew { .. }), "{m:?}: {x:?}");
        }
    }
}
