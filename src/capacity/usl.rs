//! The Universal Scalability Law (N. J. Gunther): throughput `X` against
//! concurrency `N`,
//!
//! ```text
//! X(N) = λ·N / (1 + σ·(N − 1) + κ·N·(N − 1))
//! ```
//!
//! λ is the throughput of one request in flight (req/s), σ the contention
//! (the serial share of the work) and κ the coherency cost (crosstalk between
//! requests in flight). With κ > 0 the throughput peaks at `N* = √((1 − σ)/κ)`
//! and falls beyond it; with κ = 0 it levels off at `λ/σ`.
//!
//! The fit uses the law's linear form: `N/X = a + b·(N − 1) + c·N·(N − 1)`
//! with `a = 1/λ`, `b = σ/λ`, `c = κ/λ`, solved by weighted least squares
//! whose weights `(X²/N)²` make each residual count as an error in throughput
//! (`δ(N/X) ≈ −N/X² · δX`), with σ, κ ≥ 0 (the best of the fits that drop a
//! negative term). The confidence intervals are a percentile bootstrap: the
//! per-second samples are resampled with replacement within each plateau and
//! refitted.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A sample: concurrency (requests in flight, by Little's law) and
/// throughput (req/s) over one second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Concurrency N.
    pub n: f64,
    /// Throughput X, req/s.
    pub x: f64,
}

pub use crate::results::capacity::Usl;

/// Why samples cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Too few usable samples (positive N and X).
    #[error("{0} usable samples; the fit needs at least 3 (concurrency and throughput above 0)")]
    TooFew(usize),
    /// The samples do not determine the parameters (e.g. a single concurrency).
    #[error("the samples do not determine the law (all at about the same concurrency?)")]
    Degenerate,
    /// The fit has no bound: the throughput grows in proportion to the load.
    #[error("the throughput grows in proportion to the load: no saturation in the samples")]
    Unbounded,
}

/// Solve the weighted least squares of `y ≈ Σ βⱼ·colⱼ` (normal equations,
/// columns scaled); `None` when singular.
fn solve(cols: &[Vec<f64>], y: &[f64], w: &[f64]) -> Option<Vec<f64>> {
    let k = cols.len();
    let scale: Vec<f64> = cols
        .iter()
        .map(|c| c.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300))
        .collect();
    let mut m = vec![vec![0.0; k + 1]; k];
    for i in 0..y.len() {
        for r in 0..k {
            let xr = cols[r][i] / scale[r];
            for c in 0..k {
                m[r][c] += w[i] * xr * cols[c][i] / scale[c];
            }
            m[r][k] += w[i] * xr * y[i];
        }
    }
    // Gaussian elimination with partial pivoting.
    for p in 0..k {
        let best = (p..k).max_by(|&a, &b| m[a][p].abs().total_cmp(&m[b][p].abs()))?;
        m.swap(p, best);
        let diag = m[p][p];
        let norm = m[p][..k].iter().fold(0.0f64, |s, v| s.max(v.abs()));
        if diag.abs() <= 1e-12 * norm.max(1e-300) {
            return None;
        }
        let pivot = m[p].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != p {
                let f = row[p] / diag;
                for (v, pv) in row.iter_mut().zip(&pivot).skip(p) {
                    *v -= f * pv;
                }
            }
        }
    }
    Some((0..k).map(|r| m[r][k] / m[r][r] / scale[r]).collect())
}

/// Fit the law to `samples` (those with N > 0 and X > 0).
pub fn fit(samples: &[Sample]) -> Result<Usl, FitError> {
    let usable: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.n > 0.0 && s.x > 0.0 && s.n.is_finite() && s.x.is_finite())
        .collect();
    if usable.len() < 3 {
        return Err(FitError::TooFew(usable.len()));
    }
    let y: Vec<f64> = usable.iter().map(|s| s.n / s.x).collect();
    let w: Vec<f64> = usable.iter().map(|s| (s.x * s.x / s.n).powi(2)).collect();
    let one: Vec<f64> = vec![1.0; usable.len()];
    let lin: Vec<f64> = usable.iter().map(|s| s.n - 1.0).collect();
    let quad: Vec<f64> = usable.iter().map(|s| s.n * (s.n - 1.0)).collect();
    let sse = |a: f64, b: f64, c: f64| -> f64 {
        (0..usable.len())
            .map(|i| {
                let r = y[i] - (a + b * lin[i] + c * quad[i]);
                w[i] * r * r
            })
            .sum()
    };
    // Every subset of the two terms that σ, κ ≥ 0 may switch off.
    let mut best: Option<(f64, Usl)> = None;
    for (use_b, use_c) in [(true, true), (true, false), (false, true), (false, false)] {
        let mut cols = vec![one.clone()];
        if use_b {
            cols.push(lin.clone());
        }
        if use_c {
            cols.push(quad.clone());
        }
        let Some(beta) = solve(&cols, &y, &w) else {
            continue;
        };
        let a = beta[0];
        let b = if use_b { beta[1] } else { 0.0 };
        let c = if use_c { beta[cols.len() - 1] } else { 0.0 };
        if a.is_nan() || a <= 0.0 || b < 0.0 || c < 0.0 {
            continue;
        }
        let e = sse(a, b, c);
        let usl = Usl {
            lambda: 1.0 / a,
            sigma: b / a,
            kappa: c / a,
        };
        if best.as_ref().is_none_or(|(s, _)| e < *s) {
            best = Some((e, usl));
        }
    }
    best.map(|(_, u)| u).ok_or(FitError::Degenerate)
}

/// The law levelling off at `ceiling` (κ = 0, σ = λ/ceiling), λ fitted to
/// `samples`: for an open load, whose plateaus beyond the knee were not
/// sustained and so bound the peak by the throughput they reached.
pub fn fit_levelling_at(samples: &[Sample], ceiling: f64) -> Result<Usl, FitError> {
    let usable: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.n > 0.0 && s.x > 0.0 && s.n.is_finite() && s.x.is_finite())
        .collect();
    if usable.is_empty() || ceiling.is_nan() || ceiling <= 0.0 {
        return Err(FitError::TooFew(usable.len()));
    }
    // N/X − (N − 1)/ceiling = 1/λ, weighted as in `fit`.
    let (mut num, mut den) = (0.0, 0.0);
    for s in &usable {
        let w = (s.x * s.x / s.n).powi(2);
        num += w * (s.n / s.x - (s.n - 1.0) / ceiling);
        den += w;
    }
    let a = num / den;
    if a.is_nan() || a <= 0.0 {
        return Err(FitError::Degenerate);
    }
    Ok(Usl {
        lambda: 1.0 / a,
        sigma: (1.0 / a / ceiling).min(1.0),
        kappa: 0.0,
    })
}

/// A central estimate with its 95% interval (percentile bootstrap).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The fit on every sample.
    pub value: f64,
    /// 2.5th percentile of the bootstrap fits (NaN when none could be
    /// fitted: see [`Estimate::bounds`]).
    pub low: f64,
    /// 97.5th percentile of the bootstrap fits (infinite when some of them
    /// have no finite value, e.g. no maximum).
    pub high: f64,
}

/// A fit with its intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The fit on every sample.
    pub usl: Usl,
    /// λ, σ, κ with intervals.
    pub lambda: Estimate,
    /// σ.
    pub sigma: Estimate,
    /// κ.
    pub kappa: Estimate,
    /// The peak throughput (or the level it tends to).
    pub peak: Estimate,
    /// The concurrency of the peak; `None` when the fit levels off (κ = 0).
    pub peak_at: Option<Estimate>,
    /// Bootstrap resamples that could be fitted.
    pub resamples: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Estimate {
    /// The 95% interval, or `None` when no resample could be fitted (there
    /// is then no interval to give, only the fit on every sample).
    pub fn bounds(&self) -> Option<(f64, f64)> {
        (!self.low.is_nan() && !self.high.is_nan()).then_some((self.low, self.high))
    }
}

fn interval(value: f64, mut draws: Vec<f64>, total: usize) -> Estimate {
    if total == 0 {
        return Estimate {
            value,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    // Resamples without a finite value sort last, as +∞.
    let infinite = total - draws.len();
    draws.sort_by(f64::total_cmp);
    draws.extend(std::iter::repeat_n(f64::INFINITY, infinite));
    Estimate {
        value,
        low: percentile(&draws, 0.025),
        high: percentile(&draws, 0.975),
    }
}

/// How the groups of samples are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// [`fit`] on every sample.
    Free,
    /// [`fit_levelling_at`]: the groups marked `true` were not sustained;
    /// the highest mean throughput among them is the ceiling, the others give λ.
    Ceiling,
}

fn fit_groups(groups: &[(Vec<Sample>, bool)], mode: Mode) -> Result<Usl, FitError> {
    match mode {
        Mode::Free => {
            let all: Vec<Sample> = groups.iter().flat_map(|g| g.0.iter()).copied().collect();
            fit(&all)
        }
        Mode::Ceiling => {
            // The most any plateau beyond the knee delivered: further past
            // it, a target that spends work on shedding delivers less.
            let ceiling = groups
                .iter()
                .filter(|g| g.1 && !g.0.is_empty())
                .map(|g| g.0.iter().map(|s| s.x).sum::<f64>() / g.0.len() as f64)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            let below: Vec<Sample> = groups
                .iter()
                .filter(|g| !g.1)
                .flat_map(|g| g.0.iter())
                .copied()
                .collect();
            let ceiling = ceiling.ok_or(FitError::TooFew(0))?;
            fit_levelling_at(&below, ceiling)
        }
    }
}

/// Fit `groups` of samples (one group per plateau; `true` for a plateau
/// whose offered rate was not sustained) and bootstrap 95% intervals from
/// `resamples` resamplings within each group, with a fixed `seed` (the same
/// data give the same intervals).
pub fn fit_with_intervals(
    groups: &[(Vec<Sample>, bool)],
    mode: Mode,
    resamples: usize,
    seed: u64,
) -> Result<Fitted, FitError> {
    let usl = fit_groups(groups, mode)?;
    let (peak, peak_at) = usl.peak().ok_or(FitError::Unbounded)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draws: [Vec<f64>; 5] = Default::default();
    let mut fitted = 0;
    let mut resample: Vec<(Vec<Sample>, bool)> = Vec::with_capacity(groups.len());
    for _ in 0..resamples {
        resample.clear();
        for (g, beyond) in groups.iter().filter(|g| !g.0.is_empty()) {
            let drawn = (0..g.len())
                .map(|_| g[rng.random_range(0..g.len())])
                .collect();
            resample.push((drawn, *beyond));
        }
        let Ok(u) = fit_groups(&resample, mode) else {
            continue;
        };
        fitted += 1;
        draws[0].push(u.lambda);
        draws[1].push(u.sigma);
        draws[2].push(u.kappa);
        if let Some((x, n)) = u.peak() {
            draws[3].push(x);
            if let Some(n) = n {
                draws[4].push(n);
            }
        }
    }
    let [l, s, k, p, n] = draws;
    Ok(Fitted {
        usl,
        lambda: interval(usl.lambda, l, fitted),
        sigma: interval(usl.sigma, s, fitted),
        kappa: interval(usl.kappa, k, fitted),
        peak: interval(peak, p, fitted),
        peak_at: peak_at.map(|v| interval(v, n, fitted)),
        resamples: fitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normal noise (Box–Muller) from a seeded generator.
    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Ten plateaus of ten seconds each, concurrency 1–120, from known
    /// parameters with 1% noise on the throughput and on the concurrency.
    fn synthetic(truth: Usl, seed: u64) -> Vec<(Vec<Sample>, bool)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        [1.0, 4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 90.0, 120.0]
            .iter()
            .map(|&n| {
                let samples = (0..10)
                    .map(|_| Sample {
                        n: n * (1.0 + 0.01 * normal(&mut rng)),
                        x: truth.throughput(n) * (1.0 + 0.01 * normal(&mut rng)),
                    })
                    .collect();
                (samples, false)
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_known_parameters_and_its_intervals_hold_them() {
        let truth = Usl {
            lambda: 100.0,
            sigma: 0.05,
            kappa: 0.0005,
        };
        let groups = synthetic(truth, 19);
        let f = fit_with_intervals(&groups, Mode::Free, 400, 7).expect("fit");
        for (name, est, true_value) in [
            ("lambda", f.lambda, truth.lambda),
            ("sigma", f.sigma, truth.sigma),
            ("kappa", f.kappa, truth.kappa),
        ] {
            let off = (est.value - true_value).abs() / true_value;
            assert!(
                off < 0.05,
                "{name}: fitted {} vs true {true_value} ({:.1}% off)",
                est.value,
                off * 100.0
            );
            assert!(
                est.low <= true_value && true_value <= est.high,
                "{name}: true {true_value} outside [{}, {}]",
                est.low,
                est.high
            );
            assert!(
                est.low < est.value && est.value < est.high,
                "{name}: {est:?}"
            );
        }
        let (true_peak, true_at) = truth.peak().expect("peak");
        assert!(
            (f.peak.value - true_peak).abs() / true_peak < 0.02,
            "{:?}",
            f.peak
        );
        assert!(f.peak.low <= true_peak && true_peak <= f.peak.high);
        let at = f.peak_at.expect("a maximum");
        assert!((at.value - true_at.expect("n*")).abs() / true_at.expect("n*") < 0.05);
    }

    #[test]
    fn a_wrong_model_misses_the_truth() {
        // The same check fails when the data come from other parameters: the
        // test above is not satisfied by any fit.
        let groups = synthetic(
            Usl {
                lambda: 100.0,
                sigma: 0.10,
                kappa: 0.0005,
            },
            19,
        );
        let f = fit_with_intervals(&groups, Mode::Free, 200, 7).expect("fit");
        assert!(
            !(f.sigma.low <= 0.05 && 0.05 <= f.sigma.high),
            "{:?}",
            f.sigma
        );
    }

    #[test]
    fn a_level_curve_has_no_maximum_and_negative_terms_are_dropped() {
        // Contention only: the throughput tends to λ/σ = 2000.
        let truth = Usl {
            lambda: 100.0,
            sigma: 0.05,
            kappa: 0.0,
        };
        let samples: Vec<Sample> = [1.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0]
            .iter()
            .map(|&n| Sample {
                n,
                x: truth.throughput(n),
            })
            .collect();
        let u = fit(&samples).expect("fit");
        assert!(
            u.kappa.abs() < 1e-9 && (u.sigma - 0.05).abs() < 1e-9,
            "{u:?}"
        );
        let (x, at) = u.peak().expect("peak");
        assert!((x - 2000.0).abs() < 1e-6 && at.is_none());
        // Rising linearly: no bound at all.
        let linear: Vec<Sample> = (1..6)
            .map(|n| Sample {
                n: f64::from(n),
                x: 50.0 * f64::from(n),
            })
            .collect();
        assert_eq!(fit(&linear).expect("fit").peak(), None);
        assert_eq!(fit(&linear[..2]), Err(FitError::TooFew(2)));
    }

    #[test]
    fn a_ceiling_bounds_the_curve_at_the_throughput_not_sustained() {
        // A hard limit of 100 in service at 20 ms: linear to 5000 req/s, then
        // flat while the queue (and so the concurrency) grows.
        let below: Vec<Sample> = [5.0, 10.0, 20.0, 40.0, 80.0]
            .iter()
            .map(|&n| Sample { n, x: 50.0 * n })
            .collect();
        let beyond = vec![
            Sample {
                n: 1100.0,
                x: 5000.0
            };
            4
        ];
        let groups = vec![(below, false), (beyond, true)];
        let free = fit_with_intervals(&groups, Mode::Free, 50, 1).expect("free");
        assert!(
            free.peak.value > 6000.0,
            "the free fit overshoots: {:?}",
            free.peak
        );
        let bounded = fit_with_intervals(&groups, Mode::Ceiling, 50, 1).expect("ceiling");
        assert!(
            (bounded.peak.value - 5000.0).abs() < 1e-6,
            "{:?}",
            bounded.peak
        );
        assert!(bounded.peak_at.is_none());
        for n in [1.0, 50.0, 100.0, 1000.0, 1e6] {
            assert!(bounded.usl.throughput(n) < 5000.0, "{n}: {:?}", bounded.usl);
        }
    }

    #[test]
    fn with_contention_at_or_above_one_the_peak_is_lambda_at_one_in_flight() {
        for (sigma, kappa) in [(1.5, 0.0), (1.0, 0.001), (2.0, 0.01)] {
            let u = Usl {
                lambda: 100.0,
                sigma,
                kappa,
            };
            let (x, n) = u.peak().expect("a peak");
            assert_eq!((x, n), (100.0, Some(1.0)), "σ {sigma} κ {kappa}");
            // Nothing on the curve beats it.
            for n in [1.5, 2.0, 10.0, 100.0] {
                assert!(u.throughput(n) < x, "σ {sigma} κ {kappa} N {n}");
            }
        }
        // σ = 1, κ = 0: flat at λ, no maximum to name.
        let flat = Usl {
            lambda: 100.0,
            sigma: 1.0,
            kappa: 0.0,
        };
        assert_eq!(flat.peak(), Some((100.0, None)));
    }

    #[test]
    fn no_resample_fitted_gives_no_interval_not_nan() {
        let e = interval(5.0, Vec::new(), 0);
        assert_eq!(e.value, 5.0);
        assert_eq!(e.bounds(), None);
        let e = interval(5.0, vec![4.0, 6.0], 2);
        assert_eq!(e.bounds(), Some((4.0, 6.0)));
    }

    #[test]
    fn concurrency_at_inverts_the_law_on_its_rising_side() {
        let u = Usl {
            lambda: 100.0,
            sigma: 0.05,
            kappa: 0.0005,
        };
        for n in [1.0, 5.0, 20.0, 40.0] {
            let back = u.concurrency_at(u.throughput(n)).expect("n");
            assert!((back - n).abs() < 1e-6, "{n} → {back}");
        }
        let (peak, _) = u.peak().expect("peak");
        assert_eq!(u.concurrency_at(peak * 1.01), None);
        let level = Usl { kappa: 0.0, ..u };
        // (1 − σ)/(λ/x − σ) = 0.95/0.05
        assert!((level.concurrency_at(1000.0).expect("n") - 19.0).abs() < 1e-9);
        assert_eq!(level.concurrency_at(2000.0), None);
    }
}
