//! The four words a line of `compare` ends in, and what would resolve an
//! inconclusive one.
//!
//! With the change's interval `[low, high]` (shown units: % or points) and the
//! minimum effect `m` worth acting on:
//! - `regressed`: the interval lies beyond `m` in the bad direction (a rise of
//!   latency or error rate, a fall of throughput);
//! - `improved`: it lies beyond `m` in the good direction;
//! - `unchanged`: it lies within `±m`;
//! - `inconclusive`: it straddles `±m`: the data cannot tell.

use super::change::Change;

/// A line's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Worse by more than the minimum effect.
    Regressed,
    /// Better by more than the minimum effect.
    Improved,
    /// Within the minimum effect either way.
    Unchanged,
    /// The data cannot tell.
    Inconclusive,
}

impl Verdict {
    /// The word printed and written.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The verdict of an interval `[low, high]` against a minimum effect `m`
/// (same units), a rise being bad when `worse_up`.
pub fn judge(low: f64, high: f64, m: f64, worse_up: bool) -> Verdict {
    let (up, down) = (low > m, high < -m);
    if up || down {
        if up == worse_up {
            Verdict::Regressed
        } else {
            Verdict::Improved
        }
    } else if low >= -m && high <= m {
        Verdict::Unchanged
    } else {
        Verdict::Inconclusive
    }
}

/// What would turn an inconclusive line into a verdict, if the change stayed
/// what it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution {
    /// Runs this many times as many requests (or as long, at the same rate):
    /// the within-run variances fall as 1/n.
    MoreRequests(f64),
    /// More requests cannot: the spread between baseline runs alone is wider
    /// than the margin; more baseline runs can.
    MoreBaselines,
    /// The change sits on the minimum effect itself: no sample size tells.
    Never,
}

/// What resolves `c` against the minimum effect `m` given on the judged
/// scale as `(lower, upper)` (`ln(1 − m)`, `ln(1 + m)` for a relative
/// metric; `−m`, `m` for points).
pub fn resolve(c: &Change, (lower, upper): (f64, f64)) -> Resolution {
    let d = c.estimate;
    // The distance the half-width must shrink to: to the nearer edge when the
    // change is inside the band (unchanged), past the edge when outside.
    let gap = if d > lower && d < upper {
        (upper - d).min(d - lower)
    } else {
        (d - upper).max(lower - d)
    };
    if gap <= 0.0 || c.factor <= 0.0 {
        return Resolution::Never;
    }
    let allowed = (gap / c.factor).powi(2);
    if allowed <= c.between {
        return Resolution::MoreBaselines;
    }
    if c.within <= 0.0 {
        return Resolution::Never;
    }
    Resolution::MoreRequests(c.within / (allowed - c.between))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_words() {
        assert_eq!(judge(4.0, 16.0, 3.0, true), Verdict::Regressed);
        assert_eq!(judge(4.0, 16.0, 3.0, false), Verdict::Improved);
        assert_eq!(judge(-16.0, -4.0, 3.0, false), Verdict::Regressed);
        assert_eq!(judge(-2.0, 2.5, 3.0, true), Verdict::Unchanged);
        assert_eq!(judge(-2.0, 3.5, 3.0, true), Verdict::Inconclusive);
        assert_eq!(judge(2.0, 10.0, 3.0, true), Verdict::Inconclusive);
        // On the edge: not beyond it.
        assert_eq!(judge(3.0, 10.0, 3.0, true), Verdict::Inconclusive);
        assert_eq!(Verdict::Regressed.word(), "regressed");
    }

    fn c(estimate: f64, within: f64, between: f64) -> Change {
        Change {
            estimate,
            within,
            between,
            df: f64::INFINITY,
            factor: 2.0,
        }
    }

    #[test]
    fn resolutions() {
        // +10% measured with a half-width of 12%: to clear +3% the half-width
        // must fall to 7%: (12/7)² ≈ 2.9 times the requests.
        let band = (-0.03, 0.03);
        let r = resolve(&c(0.10, 0.0036, 0.0), band);
        let Resolution::MoreRequests(f) = r else {
            panic!("{r:?}")
        };
        assert!((f - (0.12f64 / 0.07).powi(2)).abs() < 1e-9, "{f}");
        // Inside the band: to the nearer edge.
        let Resolution::MoreRequests(f) = resolve(&c(0.01, 0.0004, 0.0), band) else {
            panic!()
        };
        assert!((f - (0.04f64 / 0.02).powi(2)).abs() < 1e-9, "{f}");
        assert_eq!(resolve(&c(0.03, 0.01, 0.0), band), Resolution::Never);
        assert_eq!(
            resolve(&c(0.10, 0.0001, 0.01), band),
            Resolution::MoreBaselines
        );
    }
}
