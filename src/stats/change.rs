//! The change of a metric from one or several baseline runs to a run, with
//! its interval, on the judged scale (`ln` for a relative metric, points for
//! the error rate).
//!
//! With one or two baselines the variance of the change is the runs' own
//! (within-run) variances: `Σ wⱼ / k² + w_c`. Such a verdict cannot see the
//! noise *between* runs (another machine load, another process layout), which
//! is usually larger than what one run shows; it says so.
//!
//! With three or more, the spread of the baselines' values `s²` (k − 1
//! degrees of freedom) is used as well, as a random-effects model: a run's
//! value is `μ + u + e`, `Var(u) = τ²` between runs, `Var(e) = w` within. The
//! baselines' mean has variance `max(s², w̄) / k`; the run's is `w_c + τ²`,
//! with `τ² = max(0, s² − w̄)`. The parts estimated from `s²` have k − 1
//! degrees of freedom, the within-run ones are taken as exact, and the
//! quantile is Student's t at the Welch–Satterthwaite degrees of freedom (as
//! latte's Welch test), so three baselines that disagree give a wide interval.

use super::dist::t_quantile;
use super::estimate::Estimate;

/// Baselines from which the spread between runs is used.
pub const MIN_BASELINES_FOR_SPREAD: usize = 3;

/// A change with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Current minus the baselines' mean, on the judged scale.
    pub estimate: f64,
    /// Variance from the runs' own noise.
    pub within: f64,
    /// Variance from the spread between baseline runs (0 below three).
    pub between: f64,
    /// Welch–Satterthwaite degrees of freedom (infinite when `between` is 0).
    pub df: f64,
    /// The quantile the half-width is made of.
    pub factor: f64,
}

impl Change {
    /// The half-width of the interval.
    pub fn half_width(&self) -> f64 {
        self.factor * (self.within + self.between).sqrt()
    }

    /// Lower end.
    pub fn low(&self) -> f64 {
        self.estimate - self.half_width()
    }

    /// Upper end.
    pub fn high(&self) -> f64 {
        self.estimate + self.half_width()
    }
}

/// The change from `baselines` (at least one) to `current`, its interval
/// leaving `tail` probability on each side (the one-sided level of the line).
pub fn change(baselines: &[Estimate], current: &Estimate, tail: f64) -> Change {
    let k = baselines.len().max(1) as f64;
    let mean = baselines.iter().map(|b| b.value).sum::<f64>() / k;
    let w_bar = baselines.iter().map(|b| b.var).sum::<f64>() / k;
    let (mut within, mut between) = (current.var, 0.0);
    if baselines.len() >= MIN_BASELINES_FOR_SPREAD {
        let s2 = baselines
            .iter()
            .map(|b| (b.value - mean).powi(2))
            .sum::<f64>()
            / (k - 1.0);
        if s2 > w_bar {
            // The baselines disagree more than their own noise says: the
            // mean's variance and the current run's extra both come from s².
            between = s2 / k + (s2 - w_bar);
        } else {
            within += w_bar / k;
        }
    } else {
        within += w_bar / k;
    }
    let df = if between > 0.0 {
        (within + between).powi(2) * (k - 1.0) / (between * between)
    } else {
        f64::INFINITY
    };
    Change {
        estimate: current.value - mean,
        within,
        between,
        df,
        factor: t_quantile(1.0 - tail, df),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(value: f64, var: f64) -> Estimate {
        Estimate {
            value,
            var,
            shown: value,
            requests: 1000,
        }
    }

    #[test]
    fn one_baseline_adds_the_two_variances() {
        let c = change(&[est(1.0, 0.04)], &est(1.5, 0.05), 0.025);
        assert!((c.estimate - 0.5).abs() < 1e-12);
        assert!((c.within - 0.09).abs() < 1e-12);
        assert_eq!((c.between, c.df), (0.0, f64::INFINITY));
        assert!((c.half_width() - 1.959_964 * 0.3).abs() < 1e-4);
    }

    #[test]
    fn three_agreeing_baselines_narrow_the_baseline_side() {
        let b = [est(1.0, 0.04), est(1.01, 0.04), est(0.99, 0.04)];
        let c = change(&b, &est(1.0, 0.04), 0.025);
        assert_eq!(c.between, 0.0);
        assert!((c.within - (0.04 + 0.04 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn baselines_that_disagree_widen_it_beyond_their_own_noise() {
        // Each run says ±0.01, but they spread by 0.3: between-run noise.
        let b = [est(1.0, 0.0001), est(1.3, 0.0001), est(0.7, 0.0001)];
        let cur = est(1.2, 0.0001);
        let one = change(&b[..1], &cur, 0.025);
        let three = change(&b, &cur, 0.025);
        assert!(three.between > 0.0 && three.df < 3.0, "{three:?}");
        assert!(
            three.half_width() > 20.0 * one.half_width(),
            "{three:?} {one:?}"
        );
        // With more baselines the t quantile falls back towards the normal's.
        let many: Vec<Estimate> = (0..12)
            .map(|i| est(if i % 2 == 0 { 1.3 } else { 0.7 }, 0.0001))
            .collect();
        let c = change(&many, &cur, 0.025);
        assert!(c.factor < 2.3 && c.factor > 1.96, "{c:?}");
    }
}
