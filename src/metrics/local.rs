//! What one request measured ([`Timing`]), and one service's histograms and
//! counts as a recording shard holds them and as the harvest adds the shards
//! up into the current second and the totals.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::hdr::{MAX_US, histogram, record};
use crate::outcome::Outcome;

/// How long one request took, each span optional (a request that never went
/// out has none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// From the intended send time to the answer (what the latency is).
    pub latency: Option<Duration>,
    /// From the actual send to the answer.
    pub service_time: Option<Duration>,
    /// From the intended send time to the actual send: how late the harness
    /// sent it.
    pub send_lag: Option<Duration>,
}

/// Histograms and counts of one service. A histogram exists once it has a
/// value: a service or outcome that never occurs costs nothing.
#[derive(Debug, Clone, Default)]
pub(super) struct Local {
    pub(super) latency_ok: Option<Histogram<u64>>,
    pub(super) latency_err: Option<Histogram<u64>>,
    pub(super) service_ok: Option<Histogram<u64>>,
    pub(super) service_err: Option<Histogram<u64>>,
    pub(super) send_lag: Option<Histogram<u64>>,
    pub(super) outcomes: BTreeMap<Outcome, u64>,
}

/// `d` in whole microseconds as the histograms record it (1 µs at least).
pub(super) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_US)
}

/// Record `value` into `slot`, creating the histogram on first use.
fn record_into(slot: &mut Option<Histogram<u64>>, value: u64) {
    record(slot.get_or_insert_with(histogram), value);
}

/// Add `from` into `into` (same precision everywhere: addition cannot fail).
fn add_into(into: &mut Option<Histogram<u64>>, from: &Option<Histogram<u64>>) {
    if let Some(f) = from.as_ref().filter(|f| !f.is_empty()) {
        let _ = into.get_or_insert_with(histogram).add(f);
    }
}

/// The sum of two optional histograms.
fn union(a: &Option<Histogram<u64>>, b: &Option<Histogram<u64>>) -> Histogram<u64> {
    let mut h = a.clone().unwrap_or_else(histogram);
    if let Some(b) = b {
        let _ = h.add(b);
    }
    h
}

impl Local {
    pub(super) fn new() -> Self {
        Local::default()
    }

    /// Record one request: its outcome and its [`Timing`].
    pub(super) fn record(&mut self, outcome: Outcome, timing: Timing) {
        let ok = outcome.is_ok();
        // Each span into its histogram of the outcome's side.
        for (span, if_ok, if_err) in [
            (timing.latency, &mut self.latency_ok, &mut self.latency_err),
            (
                timing.service_time,
                &mut self.service_ok,
                &mut self.service_err,
            ),
        ] {
            if let Some(d) = span {
                record_into(if ok { if_ok } else { if_err }, micros(d));
            }
        }
        if let Some(lag) = timing.send_lag {
            record_into(&mut self.send_lag, micros(lag));
        }
        match self.outcomes.get_mut(&outcome) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(outcome, 1);
            }
        }
    }

    pub(super) fn add(&mut self, other: &Local) {
        add_into(&mut self.latency_ok, &other.latency_ok);
        add_into(&mut self.latency_err, &other.latency_err);
        add_into(&mut self.service_ok, &other.service_ok);
        add_into(&mut self.service_err, &other.service_err);
        add_into(&mut self.send_lag, &other.send_lag);
        for (k, v) in &other.outcomes {
            match self.outcomes.get_mut(k) {
                Some(n) => *n += v,
                None => {
                    self.outcomes.insert(k.clone(), *v);
                }
            }
        }
    }

    pub(super) fn reset(&mut self) {
        for h in [
            &mut self.latency_ok,
            &mut self.latency_err,
            &mut self.service_ok,
            &mut self.service_err,
            &mut self.send_lag,
        ]
        .into_iter()
        .flatten()
        {
            if !h.is_empty() {
                h.reset();
            }
        }
        self.outcomes.clear();
    }

    pub(super) fn latency_all(&self) -> Histogram<u64> {
        union(&self.latency_ok, &self.latency_err)
    }

    pub(super) fn service_all(&self) -> Histogram<u64> {
        union(&self.service_ok, &self.service_err)
    }
}
