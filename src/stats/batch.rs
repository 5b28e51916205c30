//! The mean of an autocorrelated series (a run's per-second counts) and how
//! far it can be trusted: batch means. Consecutive seconds of a run are not
//! independent (a slow second is often followed by another), so the variance
//! of the mean is the variance of one second over the *effective* number of
//! seconds, `len / τ`. The autocorrelation time `τ` is estimated from
//! non-overlapping batches of `b = ⌊√len⌋` values (the usual batch size of
//! the batch-means method): `τ = b · Var(batch means) / Var(values)`, at
//! least 1. (latte takes the largest such ratio over batch sizes 1, 2, 4, …;
//! over a 30-second run that maximum of noisy ratios is biased upwards, so one
//! batch size is used here.)

/// Fewest batches an estimate of τ is made from.
pub const MIN_BATCHES: usize = 2;

/// The mean of a series with its autocorrelation-aware variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesMean {
    /// The mean.
    pub mean: f64,
    /// The variance of one value (sample variance, n − 1).
    pub var: f64,
    /// The autocorrelation time τ (≥ 1): values per independent value.
    pub tau: f64,
    /// Number of values.
    pub len: usize,
}

impl SeriesMean {
    /// Effective number of independent values: `len / τ`.
    pub fn effective_len(&self) -> f64 {
        self.len as f64 / self.tau
    }

    /// The variance of the mean: `var · τ / len`.
    pub fn var_of_mean(&self) -> f64 {
        self.var * self.tau / self.len as f64
    }
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// The autocorrelation time of `x` from batch means (1 when the values do not
/// vary, or the series is too short for [`MIN_BATCHES`] batches of 2).
pub fn autocorrelation_time(x: &[f64]) -> f64 {
    let (_, var) = mean_var(x);
    let b = (x.len() as f64).sqrt().floor() as usize;
    if var <= 0.0 || !var.is_finite() || b < 2 || x.len() / b < MIN_BATCHES {
        return 1.0;
    }
    let means: Vec<f64> = x
        .chunks_exact(b)
        .map(|c| c.iter().sum::<f64>() / b as f64)
        .collect();
    let (_, vb) = mean_var(&means);
    (b as f64 * vb / var).max(1.0)
}

/// The mean of `x` and its autocorrelation-aware variance; `None` for fewer
/// than two values.
pub fn series_mean(x: &[f64]) -> Option<SeriesMean> {
    if x.len() < 2 {
        return None;
    }
    let (mean, var) = mean_var(x);
    Some(SeriesMean {
        mean,
        var,
        tau: autocorrelation_time(x),
        len: x.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn independent_values_have_tau_near_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x: Vec<f64> = (0..4096).map(|_| rng.random::<f64>()).collect();
        let m = series_mean(&x).expect("mean");
        assert!(m.tau < 1.5, "{m:?}");
        assert!((m.mean - 0.5).abs() < 0.02, "{m:?}");
    }

    #[test]
    fn clustered_values_count_once_per_cluster() {
        // Each random value repeated 8 times: 512 independent values in 4096.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut x = Vec::new();
        for _ in 0..512 {
            let v = rng.random::<f64>();
            x.extend(std::iter::repeat_n(v, 8));
        }
        let m = series_mean(&x).expect("mean");
        assert!((5.0..=12.0).contains(&m.tau), "{m:?}");
        let eff = m.effective_len();
        assert!((340.0..=820.0).contains(&eff), "{eff}");
    }

    #[test]
    fn constant_and_short_series() {
        let m = series_mean(&[3.0; 10]).expect("mean");
        assert_eq!((m.mean, m.var, m.tau), (3.0, 0.0, 1.0));
        assert_eq!(m.var_of_mean(), 0.0);
        assert!(series_mean(&[1.0]).is_none());
    }
}
