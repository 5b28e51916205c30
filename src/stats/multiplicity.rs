//! The false-alarm rate of a whole comparison, not of each line: Bonferroni.
//!
//! A comparison judges many lines at once (every service × p50, p90, p99,
//! throughput, error rate). Each line's `regressed` is a one-sided test
//! ("the change is beyond the minimum effect in the bad direction"); run at
//! level α each, m lines would raise a false alarm somewhere with probability
//! up to m·α. Bonferroni runs each at α/m, so that a false `regressed`
//! anywhere has probability at most α whatever the lines' dependence (they are
//! strongly dependent: p50, p90 and p99 come from the same requests, where
//! methods that assume independence would not hold). Each line's interval is
//! then the two-sided 1 − 2α/m interval, whose lower (or upper) end is the
//! test: the interval printed is the one the verdict reads. Holm's step-down
//! would reject a little more once one line is rejected, but its lines would
//! carry intervals of different widths, and the first line — the one that
//! decides whether a build fails — is judged at α/m by both.

/// Family-wise rate of a false `regressed` (and, apart, of a false
/// `improved`) over a whole comparison.
pub const FAMILY_ALPHA: f64 = 0.05;

/// The one-sided level of each of `lines` tests that keeps the family-wise
/// rate at `family_alpha` (Bonferroni); `family_alpha` itself for one line or
/// none.
pub fn per_line(family_alpha: f64, lines: usize) -> f64 {
    family_alpha / lines.max(1) as f64
}

/// The two-sided confidence of each line's interval, in %.
pub fn line_confidence(family_alpha: f64, lines: usize) -> f64 {
    100.0 * (1.0 - 2.0 * per_line(family_alpha, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_lines_at_five_percent_are_ninety_nine_percent_intervals() {
        assert!((per_line(0.05, 10) - 0.005).abs() < 1e-15);
        assert!((line_confidence(0.05, 10) - 99.0).abs() < 1e-9);
        assert_eq!(per_line(0.05, 0), 0.05);
    }
}
