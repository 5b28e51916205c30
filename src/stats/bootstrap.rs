//! A circular block bootstrap over a run's per-second HdrHistograms: how far
//! each percentile of the run can be trusted, autocorrelation included.
//!
//! HdrHistograms add exactly, so a resampled run is the sum of resampled
//! seconds. Seconds are drawn in blocks of consecutive seconds (wrapping at
//! the end) so that what is correlated within a few seconds — a stall, a
//! burst of slow answers — stays together and widens the error as it should;
//! drawing single requests (or single seconds) would count them as
//! independent. The error is the standard deviation of `ln(percentile)` over
//! the replicates, so a change is judged in relative terms.
//!
//! A histogram is kept as the distinct values recorded in the run and, per
//! second, the counts at them: a replicate adds a few thousand counts and
//! walks one array, instead of adding whole HdrHistograms.

use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Replicates drawn per run; the relative error of a standard deviation
/// estimated from `B` replicates is about `1/√(2B)`, 3% here.
pub const REPLICATES: usize = 500;

/// A run's per-second histograms over the run's distinct values.
#[derive(Debug, Clone, Default)]
pub struct Seconds {
    /// The distinct values recorded in the run (HdrHistogram's highest
    /// equivalent value of each bucket), rising.
    values: Vec<u64>,
    /// Per second: (index into `values`, count).
    seconds: Vec<Vec<(u32, u64)>>,
}

impl Seconds {
    /// The per-second histograms of a run, in time order (an empty histogram
    /// is a second without answers).
    pub fn new<'a>(histograms: impl IntoIterator<Item = &'a Histogram<u64>>) -> Self {
        let mut b = SecondsBuilder::default();
        for (i, h) in histograms.into_iter().enumerate() {
            b.add(i, h);
        }
        b.build()
    }

    /// Number of seconds.
    pub fn len(&self) -> usize {
        self.seconds.len()
    }

    /// Whether there are no seconds.
    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    /// Values recorded over the run.
    pub fn total(&self) -> u64 {
        self.seconds.iter().flatten().map(|(_, c)| c).sum()
    }

    fn counts_of(&self, picked: impl Iterator<Item = usize>, counts: &mut [u64]) -> u64 {
        counts.fill(0);
        let mut total = 0;
        for s in picked {
            for (i, c) in &self.seconds[s] {
                counts[*i as usize] += c;
                total += c;
            }
        }
        total
    }

    /// The `qs` quantiles (rising) of the whole run (as HdrHistogram reads
    /// them: the value at rank ⌈q·n⌉), `None` when nothing was recorded.
    pub fn quantiles(&self, qs: &[f64]) -> Option<Vec<u64>> {
        let mut counts = vec![0; self.values.len()];
        let total = self.counts_of(0..self.len(), &mut counts);
        self.read_quantiles(&counts, total, qs)
    }

    /// The `q` quantile of second `i` alone; `None` when it recorded nothing.
    pub fn second_quantile(&self, i: usize, q: f64) -> Option<u64> {
        let mut counts = vec![0; self.values.len()];
        let total = self.counts_of(std::iter::once(i), &mut counts);
        self.read_quantiles(&counts, total, &[q])?.first().copied()
    }

    /// The `qs` quantiles (rising) of `counts`, in one walk.
    fn read_quantiles(&self, counts: &[u64], total: u64, qs: &[f64]) -> Option<Vec<u64>> {
        if total == 0 {
            return None;
        }
        let last = *self.values.last()?;
        let mut out = vec![last; qs.len()];
        let ranks: Vec<u64> = qs
            .iter()
            .map(|q| ((q * total as f64).ceil() as u64).clamp(1, total))
            .collect();
        let (mut k, mut seen) = (0, 0);
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            while k < ranks.len() && seen >= ranks[k] {
                out[k] = self.values[i];
                k += 1;
            }
            if k == ranks.len() {
                break;
            }
        }
        Some(out)
    }
}

/// [`Seconds`] gathered one histogram at a time (a long run's per-second
/// histograms are read as they come, never all held at once): each second
/// kept as its (value, count) pairs.
#[derive(Debug, Default)]
pub struct SecondsBuilder {
    seconds: Vec<Vec<(u64, u64)>>,
}

impl SecondsBuilder {
    /// Add `h` to second `i` (a second may come in several histograms).
    pub fn add(&mut self, i: usize, h: &Histogram<u64>) {
        self.extend_to(i + 1);
        let second = &mut self.seconds[i];
        second.extend(h.iter_recorded().map(|v| {
            (
                h.highest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            )
        }));
    }

    /// Make sure there are at least `len` seconds (the later ones empty).
    pub fn extend_to(&mut self, len: usize) {
        if self.seconds.len() < len {
            self.seconds.resize_with(len, Vec::new);
        }
    }

    /// The seconds over the run's distinct values.
    pub fn build(self) -> Seconds {
        let mut values: Vec<u64> = self.seconds.iter().flatten().map(|(v, _)| *v).collect();
        values.sort_unstable();
        values.dedup();
        let seconds = self
            .seconds
            .into_iter()
            .map(|mut pairs| {
                pairs.sort_unstable();
                let mut out: Vec<(u32, u64)> = Vec::with_capacity(pairs.len());
                for (value, count) in pairs {
                    let i = values.partition_point(|x| *x < value) as u32;
                    match out.last_mut() {
                        Some(last) if last.0 == i => last.1 += count,
                        _ => out.push((i, count)),
                    }
                }
                out
            })
            .collect();
        Seconds { values, seconds }
    }
}

/// The block length for a run of `len` seconds: `⌈len^(1/3)⌉` (the usual
/// order for a block bootstrap of a variance), at least `tau` (the series'
/// autocorrelation time, [`super::batch::autocorrelation_time`]), at most
/// half the run.
pub fn block_length(len: usize, tau: f64) -> usize {
    let by_len = (len as f64).cbrt().ceil() as usize;
    by_len.max(tau.ceil() as usize).min((len / 2).max(1))
}

/// The variance of `ln(quantile)` for each of `qs`, from [`REPLICATES`]
/// circular block bootstrap replicates with blocks of `block` seconds, drawn
/// from `seed`. `None` when fewer than two seconds were recorded, or fewer
/// than half the replicates had any value.
pub fn log_quantile_variances(
    s: &Seconds,
    qs: &[f64],
    block: usize,
    seed: u64,
) -> Option<Vec<f64>> {
    let n = s.len();
    if n < 2 || s.total() == 0 {
        return None;
    }
    let block = block.clamp(1, n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0; s.values.len()];
    let mut sums = vec![(0.0f64, 0.0f64); qs.len()];
    let mut kept = 0usize;
    let mut picked = Vec::with_capacity(n + block);
    for _ in 0..REPLICATES {
        picked.clear();
        while picked.len() < n {
            let start = rng.random_range(0..n);
            picked.extend((0..block).map(|k| (start + k) % n));
        }
        picked.truncate(n);
        let total = s.counts_of(picked.iter().copied(), &mut counts);
        let Some(values) = s.read_quantiles(&counts, total, qs) else {
            continue;
        };
        kept += 1;
        for (sum, v) in sums.iter_mut().zip(values) {
            let l = (v.max(1) as f64).ln();
            sum.0 += l;
            sum.1 += l * l;
        }
    }
    if kept * 2 < REPLICATES {
        return None;
    }
    let k = kept as f64;
    Some(
        sums.iter()
            .map(|(s1, s2)| ((s2 - s1 * s1 / k) / (k - 1.0)).max(0.0))
            .collect(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `seconds` histograms of `per` lognormal values (median 20 ms, σ 0.5),
    /// each second's values scaled by `slow(second)`.
    pub(crate) fn lognormal_seconds(
        seconds: usize,
        per: usize,
        seed: u64,
        slow: impl Fn(usize) -> f64,
    ) -> Vec<Histogram<u64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..seconds)
            .map(|s| {
                let mut h = crate::hdr::histogram();
                for _ in 0..per {
                    // Box–Muller.
                    let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                    let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    let v = 20_000.0 * (0.5 * z).exp() * slow(s);
                    crate::hdr::record(&mut h, v as u64);
                }
                h
            })
            .collect()
    }

    #[test]
    fn quantiles_match_the_summed_histogram() {
        let hs = lognormal_seconds(20, 50, 1, |_| 1.0);
        let s = Seconds::new(&hs);
        let mut all = crate::hdr::histogram();
        for h in &hs {
            all.add(h).expect("add");
        }
        assert_eq!(s.total(), 1000);
        let q = s.quantiles(&[0.5, 0.9, 0.99]).expect("quantiles");
        for (got, p) in q.iter().zip([0.5, 0.9, 0.99]) {
            assert_eq!(
                *got,
                all.highest_equivalent(all.value_at_quantile(p)),
                "q{p}"
            );
        }
    }

    #[test]
    fn a_second_in_several_histograms_is_their_sum() {
        // Ten seconds, each also split in two halves added one after the other.
        let hs = lognormal_seconds(10, 200, 4, |_| 1.0);
        let whole = Seconds::new(&hs);
        let mut b = SecondsBuilder::default();
        for (i, h) in hs.iter().enumerate() {
            let (mut first, mut second) = (crate::hdr::histogram(), crate::hdr::histogram());
            for (k, v) in h.iter_recorded().enumerate() {
                let half = if k % 2 == 0 { &mut first } else { &mut second };
                half.record_n(v.value_iterated_to(), v.count_at_value())
                    .expect("record");
            }
            b.add(i, &second);
            b.add(i, &first);
        }
        b.extend_to(12);
        let split = b.build();
        assert_eq!(split.len(), 12);
        assert_eq!(split.total(), whole.total());
        let qs = [0.5, 0.9, 0.99, 1.0];
        assert_eq!(split.quantiles(&qs), whole.quantiles(&qs));
        for i in 0..10 {
            assert_eq!(split.second_quantile(i, 0.9), whole.second_quantile(i, 0.9));
        }
        assert_eq!(split.second_quantile(11, 0.5), None);
    }

    #[test]
    fn the_error_of_a_median_is_the_textbook_one() {
        // ln X ~ N(ln 20 ms, 0.5): the median of n values has a standard error
        // of √(π/2)·σ/√n on the log scale, 0.0140 for n = 2000.
        let s = Seconds::new(&lognormal_seconds(40, 50, 2, |_| 1.0));
        let v = log_quantile_variances(&s, &[0.5], 3, 9).expect("variance");
        let se = v[0].sqrt();
        assert!((0.0110..=0.0175).contains(&se), "{se}");
    }

    #[test]
    fn correlated_seconds_widen_the_error() {
        // Every 8 s block of seconds runs 0.7x to 1.3x as slow: the seconds
        // are not independent, and blocks must see it.
        let slow = |s: usize| 1.0 + 0.3 * ((s / 8) as f64 * 2.1).sin();
        let s = Seconds::new(&lognormal_seconds(64, 30, 5, slow));
        let iid = log_quantile_variances(&s, &[0.5], 1, 1).expect("b1")[0].sqrt();
        let blocks = log_quantile_variances(&s, &[0.5], 8, 1).expect("b8")[0].sqrt();
        assert!(
            blocks > 1.5 * iid,
            "blocks {blocks} vs single seconds {iid}"
        );
    }

    #[test]
    fn too_little_is_none() {
        let one = Seconds::new(&lognormal_seconds(1, 10, 1, |_| 1.0));
        assert!(log_quantile_variances(&one, &[0.5], 1, 1).is_none());
        let empty = Seconds::new(&lognormal_seconds(5, 0, 1, |_| 1.0));
        assert!(empty.quantiles(&[0.5]).is_none());
        assert!(log_quantile_variances(&empty, &[0.5], 1, 1).is_none());
        assert_eq!(block_length(30, 1.0), 4);
        assert_eq!(block_length(30, 9.2), 10);
        assert_eq!(block_length(3, 1.0), 1);
    }
}
