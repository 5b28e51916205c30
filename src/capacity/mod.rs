//! Capacity planning from the plateaus of one or more runs: the measured
//! points (offered rate, throughput, concurrency by Little's law, latency
//! percentiles), a fit of the Universal Scalability Law with bootstrap
//! intervals ([`usl`]), the predicted peak throughput, the offered rate at
//! which a latency objective (the SLO, e.g. `p99 < 800ms`) is crossed, and a
//! paragraph in English and in Spanish. `mss-harness capacity DIR...` and
//! every run with several plateaus (`summary.json`'s `capacity`, a section of
//! `report.html`) use it; [`search`] is the run that finds the knee itself.
//!
//! A point is a plateau: its seconds after a settling time. Each second is
//! one sample: throughput X = accepted requests in that second, concurrency
//! N = completed requests × their mean latency from the intended send time
//! (Little's law, L = λ·W).

mod render;
pub mod search;
pub mod usl;

pub use render::Lang;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::domain::Service;
use crate::results::Stage;
use crate::results::capacity::Capacity;
use crate::results::record::Window;
use crate::scenario::{LoadModel, Metric, RunPlan, Threshold};
use usl::{Fitted, Sample};

/// Plateaus a fit needs at least.
pub const MIN_PLATEAUS: usize = 4;
/// Bootstrap resamples of the fit.
pub const RESAMPLES: usize = 500;
/// A plateau whose throughput is below this share of its offered rate was
/// not sustained: the target was past its knee.
pub const SUSTAINED: f64 = 0.95;
/// The objective when neither `--slo` nor the scenario gives one.
pub const DEFAULT_SLO: &str = "p99 < 800ms";

/// One second of a run, every service together.
#[derive(Debug, Clone)]
pub struct Second {
    /// Latency from the intended send time of the requests that ended in it, µs.
    pub latency: Histogram<u64>,
    /// Requests that ended in it.
    pub completed: u64,
    /// Of which not `ok`.
    pub errors: u64,
}

/// A plateau of a run: the seconds to analyse and the rate offered.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    /// The run (its folder or scenario name).
    pub run: String,
    /// Offered rate, req/s (`None` in the closed model).
    pub offered: Option<f64>,
    /// First second analysed (after the settling time).
    pub from_s: u64,
    /// End (exclusive).
    pub to_s: u64,
    /// Closed model: the users.
    pub users: Option<usize>,
}

/// A measured point: one plateau.
#[derive(Debug, Clone)]
pub struct Point {
    /// The plateau.
    pub plateau: Plateau,
    /// Accepted requests per second.
    pub throughput: f64,
    /// Completed requests per second (every outcome).
    pub completed_rate: f64,
    /// Mean requests in flight (Little's law).
    pub concurrency: f64,
    /// Latency percentiles over the plateau, ms.
    pub p50_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// The SLO's percentile, ms.
    pub slo_ms: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// Share of completed requests not `ok`.
    pub error_rate: f64,
    /// The per-second samples.
    pub samples: Vec<Sample>,
}

/// Where the SLO is crossed, and how that was found.
#[derive(Debug, Clone, PartialEq)]
pub enum Crossing {
    /// Between two measured plateaus (offered rates), linearly.
    Interpolated {
        /// The offered rate.
        rate: f64,
        /// The plateau within the SLO and the one beyond it.
        between: (f64, f64),
    },
    /// From the fit: response time N(X)/X (Little's law on the fitted
    /// curve), scaled by the percentile-to-mean ratio measured at the
    /// highest plateau within the SLO; at most the peak, beyond which an
    /// open load's queue grows without bound.
    Predicted {
        /// The offered rate.
        rate: f64,
    },
    /// Already beyond the SLO at the lowest plateau.
    BelowLowest {
        /// The lowest offered rate measured.
        rate: f64,
    },
    /// Not crossed by the plateaus, and no fit to predict from.
    NotCrossed {
        /// The highest offered rate measured.
        rate: f64,
    },
}

/// The capacity analysis of a set of plateaus.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The objective.
    pub slo: Threshold,
    /// The points, by offered rate (closed model: by concurrency).
    pub points: Vec<Point>,
    /// The fit, unless refused.
    pub fit: Option<Fitted>,
    /// Why there is no fit: what to run instead.
    pub refused: Option<String>,
    /// Where the SLO is crossed (open model only).
    pub crossing: Option<Crossing>,
    /// What may make the figures unreliable.
    pub warnings: Vec<String>,
    /// How the fit was made (with a fit).
    pub mode: Option<usl::Mode>,
}

/// Parse an objective: a latency percentile threshold such as `p99<800ms`.
pub fn parse_slo(text: &str) -> Result<Threshold, String> {
    let t = Threshold::parse(text)?;
    match (t.metric, t.op) {
        (Metric::Percentile(_), crate::scenario::Op::Lt | crate::scenario::Op::Le) => Ok(t),
        _ => Err(format!(
            "{text:?}: the SLO must be a latency percentile with < or <=, e.g. \"p99 < 800ms\""
        )),
    }
}

/// The objective of a scenario whose thresholds are `thresholds`: its first
/// global percentile threshold (`<`), else [`DEFAULT_SLO`].
pub fn scenario_slo(thresholds: &[(Option<Service>, Threshold)]) -> Threshold {
    thresholds
        .iter()
        .filter(|(scope, _)| scope.is_none())
        .find_map(|(_, t)| parse_slo(&t.expr).ok())
        .unwrap_or_else(|| parse_slo(DEFAULT_SLO).expect("the default SLO parses"))
}

fn quantile_of(slo: &Threshold) -> f64 {
    match slo.metric {
        Metric::Percentile(q) => q / 100.0,
        _ => 0.99,
    }
}

/// Measure `plateau` from its seconds (`seconds(s)` gives second `s`).
pub fn measure(
    plateau: &Plateau,
    slo: &Threshold,
    seconds: &dyn Fn(u64) -> Option<Second>,
) -> Option<Point> {
    let mut all = crate::hdr::histogram();
    let (mut completed, mut errors, mut n) = (0u64, 0u64, 0u64);
    let mut samples = Vec::new();
    let mut in_flight = 0.0;
    for s in plateau.from_s..plateau.to_s {
        n += 1;
        let Some(sec) = seconds(s) else {
            // A second in which nothing ended: nothing accepted, nothing in flight known.
            samples.push(Sample { n: 0.0, x: 0.0 });
            continue;
        };
        let _ = all.add(&sec.latency);
        completed += sec.completed;
        errors += sec.errors;
        let mean_s = if sec.latency.is_empty() {
            0.0
        } else {
            sec.latency.mean() / 1e6
        };
        let concurrency = sec.completed as f64 * mean_s;
        in_flight += concurrency;
        samples.push(Sample {
            n: concurrency,
            x: sec.completed.saturating_sub(sec.errors) as f64,
        });
    }
    if n == 0 || completed == 0 {
        return None;
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    Some(Point {
        plateau: plateau.clone(),
        throughput: completed.saturating_sub(errors) as f64 / n as f64,
        completed_rate: completed as f64 / n as f64,
        concurrency: in_flight / n as f64,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        slo_ms: ms(quantile_of(slo)),
        mean_ms: all.mean() / 1000.0,
        error_rate: errors as f64 / completed as f64,
        samples,
    })
}

/// The plateaus of a run's `summary.json` (`stages`; closed model: the run
/// after its ramp), named `run`.
/// Plateaus left out (the harness was the limit) are named in `left_out`.
pub fn plateaus_of(
    stages: &[Stage],
    duration_s: f64,
    scenario: Option<&RunPlan>,
    run: &str,
    left_out: &mut Vec<String>,
) -> Vec<Plateau> {
    let mut out = Vec::new();
    for st in stages {
        let (rate, start, end) = (st.rate, st.start_s, st.end_s);
        let settle = st.settle_s.unwrap_or(2);
        // A plateau at which the harness could not send on time measured the
        // harness, not the target.
        if let Some(Some(reason)) = &st.reason
            && reason.starts_with(search::HARNESS_LIMITED)
        {
            left_out.push(format!(
                "the plateau at {rate} req/s of {run} is left out: {reason}"
            ));
            continue;
        }
        if rate > 0.0 && end > start + settle {
            out.push(Plateau {
                run: run.to_owned(),
                offered: Some(rate),
                from_s: start + settle,
                to_s: end,
                users: None,
            });
        }
    }
    if out.is_empty()
        && let Some(&LoadModel::Closed { users, ramp, .. }) = scenario.map(|s| &s.load)
    {
        // A closed run is one point of a sweep of users: after its ramp and a
        // second of settling, to its last whole second.
        let end = duration_s.floor() as u64;
        let from = ramp.as_secs_f64().ceil() as u64 + 1;
        if end > from {
            out.push(Plateau {
                run: run.to_owned(),
                offered: None,
                from_s: from,
                to_s: end,
                users: Some(users),
            });
        }
    }
    out
}

/// The seconds of a results folder: `latency.hlog` (read with HdrHistogram's
/// interval-log reader) and `timeseries.csv`, every service merged.
pub fn seconds_of(dir: &Path) -> anyhow::Result<BTreeMap<u64, Second>> {
    let mut out: BTreeMap<u64, Second> = BTreeMap::new();
    let hlog = dir.join("latency.hlog");
    let bytes = std::fs::read(&hlog).with_context(|| format!("cannot read {}", hlog.display()))?;
    for (_, start, h) in crate::hlog::read(&bytes, &hlog)? {
        let s = out.entry(start.round() as u64).or_insert_with(|| Second {
            latency: crate::hdr::histogram(),
            completed: 0,
            errors: 0,
        });
        s.latency
            .add(&h)
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", hlog.display()))?;
    }
    for (second, c) in crate::results::rows::second_counts(dir)? {
        let s = out.entry(second).or_insert_with(|| Second {
            latency: crate::hdr::histogram(),
            completed: 0,
            errors: 0,
        });
        // Sent requests and their errors (crate::verdict).
        s.completed += c.sent;
        s.errors += c.errors.saturating_sub(c.dropped);
    }
    Ok(out)
}

/// Analyse `points` against `slo`: fit, peak, crossing, or the refusal.
pub fn analyse(mut points: Vec<Point>, slo: Threshold) -> Analysis {
    points.sort_by(|a, b| {
        let key = |p: &Point| p.plateau.offered.unwrap_or(p.concurrency);
        key(a).total_cmp(&key(b))
    });
    let mut warnings = Vec::new();
    let open: Vec<&Point> = points
        .iter()
        .filter(|p| p.plateau.offered.is_some())
        .collect();
    let beyond = |p: &Point| {
        p.plateau
            .offered
            .is_some_and(|r| p.throughput < SUSTAINED * r)
    };
    let saturated_by_rate = open.iter().any(|p| beyond(p));
    let mut fit = None;
    let mut mode = None;
    let refused = if points.len() < MIN_PLATEAUS {
        Some(format!(
            "{} plateau(s) measured; a capacity fit needs at least {MIN_PLATEAUS}, past the knee. \
             Run `mss-harness run capacity` (it steps the rate up until the target saturates), \
             a go-live ramp with {MIN_PLATEAUS} or more plateaus of 10 s or longer, or a sweep of \
             closed-model runs with rising users, and pass every results folder",
            points.len()
        ))
    } else {
        let groups: Vec<(Vec<Sample>, bool)> = points
            .iter()
            .map(|p| (p.samples.clone(), beyond(p)))
            .collect();
        let free = usl::fit_with_intervals(&groups, usl::Mode::Free, RESAMPLES, 19);
        // An open load beyond the knee: the plateaus not sustained bound the
        // peak by the throughput they reached; a free curve above it (a hump
        // between the knee and the queue's concurrency, where no plateau
        // settles) is not what the target did.
        let ceiling = saturated_by_rate.then(|| {
            points
                .iter()
                .filter(|p| beyond(p))
                .map(|p| p.throughput)
                .fold(0.0, f64::max)
        });
        let chosen = match (free, ceiling) {
            (Ok(f), Some(c)) if f.peak.value > c * 1.1 || f.peak.value < c * 0.9 => {
                mode = Some(usl::Mode::Ceiling);
                usl::fit_with_intervals(&groups, usl::Mode::Ceiling, RESAMPLES, 19)
            }
            (Err(_), Some(_)) => {
                mode = Some(usl::Mode::Ceiling);
                usl::fit_with_intervals(&groups, usl::Mode::Ceiling, RESAMPLES, 19)
            }
            (free, _) => {
                mode = Some(usl::Mode::Free);
                free
            }
        };
        match chosen {
            Err(usl::FitError::Unbounded) => Some(no_saturation(&points, None)),
            Err(e) => Some(format!(
                "the measured points cannot be fitted ({e}); run plateaus over a wider range of load, up past the knee (`mss-harness run capacity`)"
            )),
            Ok(f) => {
                let top = points
                    .iter()
                    .max_by(|a, b| a.concurrency.total_cmp(&b.concurrency))
                    .expect("at least 4 points");
                let linear = f.usl.lambda * top.concurrency;
                let efficiency = if linear > 0.0 {
                    f.usl.throughput(top.concurrency) / linear
                } else {
                    1.0
                };
                if efficiency > 0.8 && !saturated_by_rate {
                    Some(no_saturation(&points, Some(efficiency)))
                } else {
                    fit = Some(f);
                    None
                }
            }
        }
    };
    if fit.is_none() {
        mode = None;
    }
    let crossing = crossing(&points, &slo, fit.as_ref());
    if let Some(f) = &fit
        && f.resamples == 0
    {
        warnings.push(
            "no interval: none of the bootstrap resamples could be fitted, so the figures have no 95% interval; measure more plateaus, longer".to_owned(),
        );
    }
    if let Some(f) = &fit
        && f.peak.high.is_infinite()
    {
        warnings.push(
            "the peak's upper bound is open: in some resamples the throughput never peaks; measure further past the knee".to_owned(),
        );
    }
    Analysis {
        slo,
        points,
        fit,
        refused,
        crossing,
        warnings,
        mode,
    }
}

/// The refusal when the points show no saturation.
fn no_saturation(points: &[Point], efficiency: Option<f64>) -> String {
    let top = points
        .iter()
        .max_by(|a, b| a.throughput.total_cmp(&b.throughput));
    format!(
        "no saturation seen: up to {:.0} req/s ({:.1} requests in flight) the throughput still grows {} with the load, so a peak would be a guess. \
         Run higher: `mss-harness run capacity` with a higher [load] max_rate, or a ramp whose last plateaus shed load or fail the thresholds",
        top.map_or(0.0, |p| p.throughput),
        top.map_or(0.0, |p| p.concurrency),
        efficiency.map_or("in proportion".to_owned(), |e| format!(
            "almost in proportion ({:.0}% of linear)",
            e * 100.0
        ))
    )
}

/// Where the SLO is crossed along the offered rate.
fn crossing(points: &[Point], slo: &Threshold, fit: Option<&Fitted>) -> Option<Crossing> {
    let open: Vec<&Point> = points
        .iter()
        .filter(|p| p.plateau.offered.is_some())
        .collect();
    let rate = |p: &Point| p.plateau.offered.unwrap_or(0.0);
    let within = |p: &Point| slo.holds(p.slo_ms * 1000.0);
    let first = open.first()?;
    if !within(first) {
        return Some(Crossing::BelowLowest { rate: rate(first) });
    }
    // The first plateau beyond the SLO, and the last one within it below that.
    if let Some(i) = open.iter().position(|p| !within(p)) {
        let (a, b) = (open[i - 1], open[i]);
        let bound = slo.bound / 1000.0;
        let (ra, rb) = (rate(a), rate(b));
        let t = ((bound - a.slo_ms) / (b.slo_ms - a.slo_ms)).clamp(0.0, 1.0);
        return Some(Crossing::Interpolated {
            rate: ra + t * (rb - ra),
            between: (ra, rb),
        });
    }
    let last = open.last()?;
    let Some(f) = fit else {
        return Some(Crossing::NotCrossed { rate: rate(last) });
    };
    let (peak, _) = f.usl.peak()?;
    let ratio = if last.mean_ms > 0.0 {
        last.slo_ms / last.mean_ms
    } else {
        1.0
    };
    let predicted_ms = |x: f64| f.usl.concurrency_at(x).map(|n| n / x * 1000.0 * ratio);
    let bound = slo.bound / 1000.0;
    // The predicted percentile rises with the throughput: bisect below the peak.
    let (mut lo, mut hi) = (rate(last).min(peak * 0.999), peak * 0.999_999);
    if predicted_ms(hi).is_some_and(|ms| ms < bound) {
        return Some(Crossing::Predicted { rate: peak });
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        match predicted_ms(mid) {
            Some(ms) if ms < bound => lo = mid,
            _ => hi = mid,
        }
    }
    Some(Crossing::Predicted { rate: lo })
}

/// Read the plateaus of results folders and analyse them. `slo`: `--slo`, or
/// the first folder's scenario's objective (its `scenario.toml` read with
/// `contract` unless it names its own).
pub fn from_results(
    dirs: &[std::path::PathBuf],
    slo: Option<Threshold>,
    contract: &std::sync::Arc<mss_contract::Contract>,
) -> anyhow::Result<Analysis> {
    let mut points = Vec::new();
    let mut chosen = slo;
    let mut runs = Vec::new();
    for dir in dirs {
        let summary = crate::results::read_summary(dir)?;
        let scenario_path = dir.join("scenario.toml");
        let scenario = std::fs::read_to_string(&scenario_path)
            .ok()
            .and_then(|t| RunPlan::parse(&t, &scenario_path, contract).ok());
        if chosen.is_none() {
            chosen = scenario.as_ref().map(|s| scenario_slo(&s.thresholds));
        }
        runs.push((dir, summary, scenario));
    }
    let slo = chosen.unwrap_or_else(|| parse_slo(DEFAULT_SLO).expect("the default SLO parses"));
    let mut left_out = Vec::new();
    for (dir, summary, scenario) in runs {
        let name = dir.display().to_string();
        let plateaus = plateaus_of(
            &summary.stages,
            summary.duration_s,
            scenario.as_ref(),
            &name,
            &mut left_out,
        );
        if plateaus.is_empty() {
            continue;
        }
        let seconds = seconds_of(dir)?;
        for p in plateaus {
            if let Some(point) = measure(&p, &slo, &|s| seconds.get(&s).cloned()) {
                points.push(point);
            }
        }
    }
    let mut analysis = analyse(points, slo);
    analysis.warnings.extend(left_out);
    Ok(analysis)
}

/// The `capacity` section of a run's `summary.json`: its plateaus (`stages`,
/// two or more) of the scenario `name`, analysed against `slo`;
/// `window(from, to)` gives the merged latency, completed and error counts of
/// seconds `from..to`. `None` with fewer than two plateaus.
pub fn of_run(
    name: &str,
    slo: Threshold,
    stages: &[Stage],
    window: &Window<'_>,
) -> Option<Capacity> {
    if stages.len() < 2 {
        return None;
    }
    let mut left_out = Vec::new();
    let plateaus = plateaus_of(stages, 0.0, None, name, &mut left_out);
    let second = |s: u64| {
        let (latency, completed, errors) = window(s, s + 1);
        (completed > 0).then_some(Second {
            latency,
            completed,
            errors,
        })
    };
    let points = plateaus
        .iter()
        .filter_map(|p| measure(p, &slo, &second))
        .collect();
    let mut analysis = analyse(points, slo);
    analysis.warnings.extend(left_out);
    Some(analysis.to_section())
}

#[cfg(test)]
mod tests {
    use super::render::number;
    use super::*;

    fn second(completed: u64, errors: u64, latency_ms: f64) -> Second {
        let mut h = crate::hdr::histogram();
        for _ in 0..completed {
            crate::hdr::record(&mut h, (latency_ms * 1000.0) as u64);
        }
        Second {
            latency: h,
            completed,
            errors,
        }
    }

    /// A target of `capacity` req/s at 20 ms: below it, latency 20 ms; above,
    /// 200 ms and the excess shed.
    fn point(rate: f64, capacity: f64) -> Point {
        let slo = parse_slo("p99 < 100ms").expect("slo");
        let plateau = Plateau {
            run: "r".into(),
            offered: Some(rate),
            from_s: 1,
            to_s: 5,
            users: None,
        };
        let seconds = |_s: u64| {
            Some(if rate <= capacity {
                second(rate as u64, 0, 20.0)
            } else {
                let mut s = second(capacity as u64, 0, 220.0);
                let shed = (rate - capacity) as u64;
                for _ in 0..shed {
                    crate::hdr::record(&mut s.latency, 300);
                }
                s.completed += shed;
                s.errors += shed;
                s
            })
        };
        measure(&plateau, &slo, &seconds).expect("point")
    }

    /// The plateaus at `rates` of a target of 5,000 req/s ([`point`]).
    fn plateaus(rates: &[f64]) -> Vec<Point> {
        rates.iter().map(|&r| point(r, 5000.0)).collect()
    }

    /// Eight plateaus, four beyond the knee of a target of 5,000 req/s.
    const SATURATING: [f64; 8] = [250.0, 500.0, 1000.0, 2000.0, 4000.0, 4500.0, 6000.0, 8000.0];

    #[test]
    fn a_saturating_target_is_fitted_and_the_slo_crossing_interpolated() {
        let points = plateaus(&SATURATING);
        assert!(
            (points[2].concurrency - 20.0).abs() < 0.1,
            "{}",
            points[2].concurrency
        );
        let a = analyse(points, parse_slo("p99 < 100ms").expect("slo"));
        assert_eq!(a.refused, None);
        let f = a.fit.as_ref().expect("fit");
        assert!((f.peak.value - 5000.0).abs() / 5000.0 < 0.1, "{:?}", f.peak);
        match a.crossing {
            Some(Crossing::Interpolated { rate, between }) => {
                assert_eq!(between, (4500.0, 6000.0));
                assert!((4500.0..=6000.0).contains(&rate));
            }
            other => panic!("{other:?}"),
        }
        let en = a.paragraph(Lang::En);
        assert!(
            en.contains("interpolated between the measured plateaus at 4,500 and 6,000"),
            "{en}"
        );
        let es = a.paragraph(Lang::Es);
        assert!(
            es.contains("entre los escalones medidos de 4.500 y 6.000"),
            "{es}"
        );
    }

    #[test]
    fn a_fit_without_intervals_says_no_interval_never_nan() {
        let points = plateaus(&SATURATING);
        let mut a = analyse(points, parse_slo("p99 < 100ms").expect("slo"));
        // What no fitted resample leaves: the fit on every sample alone.
        let f = a.fit.as_mut().expect("fit");
        let none = |e: &mut usl::Estimate| {
            e.low = f64::NAN;
            e.high = f64::NAN;
        };
        for e in [&mut f.lambda, &mut f.sigma, &mut f.kappa, &mut f.peak] {
            none(e);
        }
        if let Some(at) = f.peak_at.as_mut() {
            none(at);
        }
        f.resamples = 0;
        let text = a.text();
        assert!(!text.contains("NaN"), "{text}");
        assert!(text.contains("no interval"), "{text}");
        assert!(text.contains("95% confidence interval: none"), "{text}");
        assert!(!a.paragraph(Lang::Es).contains("NaN"));
        let section = serde_json::to_value(a.to_section()).expect("json");
        assert_eq!(
            section["fit"]["peak_throughput"]["low"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn too_few_plateaus_or_no_saturation_are_refused_with_what_to_run() {
        let slo = parse_slo("p99 < 100ms").expect("slo");
        let few = plateaus(&[250.0, 500.0, 8000.0]);
        let a = analyse(few, slo.clone());
        assert!(a.fit.is_none());
        let why = a.refused.expect("refused");
        assert!(
            why.contains("at least 4") && why.contains("mss-harness run capacity"),
            "{why}"
        );
        let linear = plateaus(&[250.0, 500.0, 1000.0, 2000.0, 3000.0]);
        let a = analyse(linear, slo);
        let why = a.refused.expect("refused");
        assert!(why.starts_with("no saturation seen"), "{why}");
        assert!(matches!(a.crossing, Some(Crossing::NotCrossed { rate }) if rate == 3000.0));
    }

    #[test]
    fn slo_must_be_a_latency_percentile() {
        assert!(parse_slo("p99<800ms").is_ok());
        assert!(parse_slo("p95 <= 1s").is_ok());
        assert!(parse_slo("error_rate < 1%").is_err());
        assert!(parse_slo("p99 > 1s").is_err());
        assert!(parse_slo("p99 < fast").is_err());
    }

    #[test]
    fn numbers_are_rounded_and_grouped_per_language() {
        assert_eq!(number(4987.3, false), "4,990");
        assert_eq!(number(4987.3, true), "4.990");
        assert_eq!(number(12.345, true), "12,3");
        assert_eq!(number(150.0, false), "150");
    }
}
