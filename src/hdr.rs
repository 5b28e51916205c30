//! The harness's latency histograms: microseconds, 3 significant digits,
//! values from 1 µs to one hour. The live metrics record into them, the
//! `.hlog` files hold them, and every reader of results (merge, report,
//! informe, capacity) builds them here: one precision everywhere, below all
//! of them.

use hdrhistogram::Histogram;

/// Largest value a histogram holds: one hour in microseconds.
pub const MAX_US: u64 = 3_600_000_000;

/// An empty histogram of the harness's precision (3 significant digits,
/// values in µs from 1 to [`MAX_US`]); it grows as larger values arrive.
pub fn histogram() -> Histogram<u64> {
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is a valid precision"))
}

/// Record `value` µs into a histogram of [`histogram`]'s kind, growing it as
/// needed (`saturating_record` would clamp to its current top instead), values
/// past [`MAX_US`] as `MAX_US`.
pub fn record(h: &mut Histogram<u64>, value: u64) {
    let value = value.clamp(1, MAX_US);
    if h.record(value).is_err() {
        h.saturating_record(value);
    }
}
