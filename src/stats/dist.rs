//! Quantiles of the standard normal and Student's t distributions (through
//! `statrs`), the factor an interval's half-width is made of.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Degrees of freedom beyond which Student's t is taken as the normal.
const NORMAL_DF: f64 = 1e6;

/// The `p` quantile of the standard normal (`p` in (0, 1)).
pub fn normal_quantile(p: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(p.clamp(1e-15, 1.0 - 1e-15)),
        Err(_) => f64::NAN,
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom (`df` ≥ 1,
/// not necessarily whole: Welch–Satterthwaite's are not); an infinite or very
/// large `df` is the normal's.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !df.is_finite() || df >= NORMAL_DF {
        return normal_quantile(p);
    }
    match StudentsT::new(0.0, 1.0, df.max(1.0)) {
        Ok(t) => t.inverse_cdf(p.clamp(1e-15, 1.0 - 1e-15)),
        Err(_) => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values() {
        // Tables of the normal and of Student's t (two-sided 95% and 99%).
        for (p, df, want) in [
            (0.975, f64::INFINITY, 1.959_964),
            (0.995, f64::INFINITY, 2.575_829),
            (0.9975, f64::INFINITY, 2.807_034),
            (0.975, 2.0, 4.302_653),
            (0.995, 10.0, 3.169_273),
            (0.975, 30.0, 2.042_272),
        ] {
            let got = t_quantile(p, df);
            assert!(
                (got - want).abs() < 1e-4,
                "t({p}, {df}) = {got}, want {want}"
            );
        }
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((t_quantile(0.025, 5.0) + t_quantile(0.975, 5.0)).abs() < 1e-9);
    }
}
