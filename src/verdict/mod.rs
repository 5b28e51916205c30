//! The verdict on a run: each threshold judged over the whole load, each
//! plateau judged over its seconds, the highest sustained rate, the
//! reconciliation of what the harness counted with what the target stored,
//! and whether the run passed; and the run's `summary.json`, its record
//! judged ([`build_summary`], the one builder of every summary). Used by
//! `run`, `merge` and the live dashboard. The verdict reads the results
//! (`crate::results`); the results never read the verdict.
//!
//! One definition of each number (docs/results.md): a request is *sent* when
//! it went out (a dropped one never did); the *error rate* is the sent
//! requests neither stored nor rejected as expected over the sent requests —
//! what the target answered; the *drop rate* is the dropped over every
//! request, sent or dropped — what the harness could not send. The threshold
//! over the whole run, each plateau, `compare` and the reports use these.

use std::time::Duration;

use crate::domain::Service;
use crate::metrics::ServiceTotals;
use crate::outcome::Outcome;
use crate::results::error_rate;
use crate::results::record::Window;
use crate::results::{PlateauCheck, Reconciled, Reconciliation, Stage, Summary, ThresholdResult};
use crate::scenario::{Metric, Threshold};

pub mod delivery;
mod summary;

pub use summary::build_summary;

/// `metric` measured over `totals` (the selected services) over a load of
/// `seconds`.
pub fn metric_value(metric: Metric, totals: &[&ServiceTotals], seconds: f64) -> f64 {
    let mut latency = crate::hdr::histogram();
    let (mut requests, mut ok, mut dropped, mut stored) = (0u64, 0u64, 0u64, 0u64);
    for t in totals {
        let _ = latency.add(&t.latency);
        requests += t.requests();
        ok += t.succeeded();
        dropped += t.count(&Outcome::Dropped);
        stored += t.stored();
    }
    match metric {
        Metric::Percentile(q) => {
            if latency.is_empty() {
                0.0
            } else {
                latency.value_at_quantile(q / 100.0) as f64
            }
        }
        Metric::Max => latency.max() as f64,
        Metric::Mean => latency.mean(),
        Metric::ErrorRate => error_rate(requests - dropped, ok),
        Metric::DropRate => {
            if requests == 0 {
                0.0
            } else {
                dropped as f64 / requests as f64
            }
        }
        Metric::Throughput => stored as f64 / seconds.max(1e-9),
    }
}

/// Each of `thresholds` (its scope: a service, or every one) judged on
/// `totals` over a load of `seconds`.
pub fn thresholds(
    thresholds: &[(Option<Service>, Threshold)],
    totals: &[ServiceTotals],
    seconds: f64,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|(scope, t)| {
            let selected: Vec<&ServiceTotals> = totals
                .iter()
                .filter(|x| scope.is_none_or(|s| s == x.service))
                .collect();
            let value = metric_value(t.metric, &selected, seconds);
            let shown = match t.metric {
                Metric::Percentile(_) | Metric::Max | Metric::Mean => {
                    format!("{:.1} ms", value / 1000.0)
                }
                Metric::ErrorRate | Metric::DropRate => format!("{:.3}%", value * 100.0),
                Metric::Throughput => format!("{value:.1} req/s"),
            };
            ThresholdResult {
                expr: t.expr.clone(),
                scope: scope.map_or("global", Service::name).to_owned(),
                ok: t.holds(value),
                value: round3(value),
                shown,
            }
        })
        .collect()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// For the open model (from `start_rate`, through `stages` of a rate and a
/// duration): each plateau (a stage that holds its rate, 10 s or longer)
/// judged by `checks` (the global latency and error-rate thresholds) over its
/// seconds (the first two left out as settling time), and the highest plateau
/// rate at which they all hold — what `go-live` reports. The load lasted
/// `seconds` (less than planned when a signal stopped it): a plateau it cut
/// short counts over the seconds it held, when still 10 or more.
pub fn plateaus(
    start_rate: f64,
    stages: &[(f64, Duration)],
    checks: &[Threshold],
    seconds: f64,
    window: &Window<'_>,
) -> (Vec<Stage>, Option<f64>) {
    let mut out = Vec::new();
    let mut highest: Option<f64> = None;
    let (mut at, mut from) = (0u64, start_rate);
    // Whole seconds of load (a planned duration's fraction is not cut off).
    let until = (seconds + 1e-6).floor() as u64;
    for &(rate, duration) in stages {
        let length = duration.as_secs().min(until.saturating_sub(at));
        let plateau = (rate - from).abs() < 1e-9 && length >= 10;
        if plateau {
            let (latency, completed, errors) = window(at + 2, at + length);
            let mut results = Vec::new();
            let mut all = completed > 0;
            for t in checks {
                let value = t.plateau_value(&latency, completed, errors);
                let ok = t.holds(value);
                all &= ok;
                results.push(PlateauCheck {
                    expr: t.expr.clone(),
                    ok,
                    value: round3(value),
                });
            }
            if all && highest.is_none_or(|h| rate > h) {
                highest = Some(rate);
            }
            out.push(Stage {
                rate,
                start_s: at,
                end_s: at + length,
                completed,
                achieved_rate: (completed as f64 / (length.saturating_sub(2).max(1)) as f64 * 10.0)
                    .round()
                    / 10.0,
                ok: all,
                thresholds: results,
                settle_s: None,
                reason: None,
            });
        }
        at += length;
        from = rate;
    }
    (out, highest)
}

/// The highest rate of the steps (a capacity search's) that held.
pub fn highest_sustained(steps: &[Stage]) -> Option<f64> {
    steps
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
}

/// Per service (in [`Service::ALL`] order): what the target holds, what the
/// harness counted stored, and how many requests may or may not have been
/// stored (abandoned by a stop, or left unresolved). Checked and ok when
/// nothing was lost and nothing duplicated.
pub fn reconcile(target: [u64; 2], harness: [u64; 2], unanswered: [u64; 2]) -> Reconciliation {
    let mut r = Reconciliation::unchecked();
    r.checked = true;
    let mut ok = true;
    for (i, s) in Service::ALL.into_iter().enumerate() {
        let lost = harness[i].saturating_sub(target[i]);
        let duplicated = target[i].saturating_sub(harness[i] + unanswered[i]);
        ok &= lost == 0 && duplicated == 0;
        r.services.insert(
            s.name().to_owned(),
            Reconciled {
                harness: harness[i],
                target: target[i],
                lost,
                duplicated,
                unanswered: unanswered[i],
            },
        );
    }
    r.ok = Some(ok);
    r
}

/// Whether a run passed: it delivered its plan ([`delivery`]), every
/// threshold held, the reconciliation (when checked) agreed, and no answer
/// had a codigo the contract does not list.
pub fn passed(summary: &Summary) -> bool {
    summary.delivery.as_ref().is_none_or(|d| d.ok)
        && summary.thresholds.iter().all(|t| t.ok)
        && summary.reconciliation.ok != Some(false)
        && hints(summary).is_empty()
}

/// The hint lines of a summary, one per service and unexpected codigo.
pub fn hints(summary: &Summary) -> Vec<String> {
    summary
        .services
        .values()
        .flat_map(|s| s.unexpected_codigos.iter().flatten())
        .map(|u| format!("mss-harness: hint: {}", u.hint))
        .collect()
}

/// What a person must know of how the sending ended, beyond the verdict:
/// a feeder whose data ran out before the plan was done.
pub fn notes(summary: &Summary) -> Vec<String> {
    summary
        .audit
        .as_ref()
        .and_then(|a| a.feeder.as_ref())
        .filter(|f| f.exhausted)
        .map(|f| {
            format!(
                "mss-harness: the feeder's data ran out: {} of its {} rows sent (strategy {}), and the sending stopped there; the rest of the plan was not sent",
                f.rows_sent, f.rows, f.strategy
            )
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plateau_cut_short_by_a_stop_counts_over_the_seconds_it_held() {
        let checks = [Threshold::parse("p99 < 1s").expect("threshold")];
        let stages = [(10.0, Duration::from_secs(30))];
        let asked = std::sync::Mutex::new(Vec::new());
        let window = |from: u64, to: u64| {
            asked.lock().expect("lock").push((from, to));
            let mut h = crate::hdr::histogram();
            crate::hdr::record(&mut h, 1000);
            (h, (to - from) * 10, 0)
        };
        let (full, highest) = plateaus(10.0, &stages, &checks, 30.0, &window);
        assert_eq!(full[0].end_s, 30);
        assert_eq!(highest, Some(10.0));
        let (cut, _) = plateaus(10.0, &stages, &checks, 12.5, &window);
        assert_eq!(cut[0].end_s, 12);
        assert_eq!(cut[0].achieved_rate, 10.0);
        assert_eq!(*asked.lock().expect("lock"), vec![(2, 30), (2, 12)]);
        // Stopped before it had held 10 s: no plateau to judge.
        let (none, highest) = plateaus(10.0, &stages, &checks, 8.0, &window);
        assert!(none.is_empty());
        assert_eq!(highest, None);
    }

    #[test]
    fn the_error_rate_is_of_the_sent_requests_and_the_drop_rate_of_every_request() {
        let mut t = ServiceTotals {
            service: Service::Afiliacion,
            latency: crate::hdr::histogram(),
            service_time: crate::hdr::histogram(),
            send_lag: crate::hdr::histogram(),
            outcomes: Default::default(),
            slowest: Vec::new(),
            exemplars: Vec::new(),
        };
        t.outcomes.insert(Outcome::Ok, 97);
        t.outcomes.insert(Outcome::Dropped, 2);
        t.outcomes.insert(Outcome::Business("NEG01".into()), 1);
        let value = metric_value(Metric::ErrorRate, &[&t], 1.0);
        assert!((value - 1.0 / 98.0).abs() < 1e-12, "{value}");
        let drops = metric_value(Metric::DropRate, &[&t], 1.0);
        assert!((drops - 0.02).abs() < 1e-12, "{drops}");
        // The plateau judgement: the same number from a window's counts
        // (`Metrics::window`: 98 sent, 1 error of those sent).
        let t = Threshold::parse("error_rate < 1%").expect("threshold");
        let plateau = t.plateau_value(&crate::hdr::histogram(), 98, 1);
        assert!((plateau - value).abs() < 1e-12, "{plateau}");
    }

    #[test]
    fn reconciliation_counts_lost_and_duplicated() {
        let r = reconcile([10, 5], [10, 5], [0, 0]);
        assert_eq!(r.ok, Some(true));
        let r = reconcile([9, 7], [10, 5], [0, 1]);
        assert_eq!(r.ok, Some(false));
        let a = &r.services["ReportarAfiliaciontraslado"];
        assert_eq!((a.lost, a.duplicated), (1, 0));
        let b = &r.services["ReportarRetractoAfiliacion"];
        assert_eq!((b.lost, b.duplicated, b.unanswered), (0, 1, 1));
    }
}
