//! A run's totals per service: its histograms over the whole run and its
//! requests per outcome class, what the results are written from.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::domain::Service;
use crate::outcome::Outcome;

/// Totals of one service over a run.
#[derive(Debug, Clone)]
pub struct ServiceTotals {
    /// The service.
    pub service: Service,
    /// Latency from the intended send time, every completed request.
    pub latency: Histogram<u64>,
    /// Service time from the actual send, every completed request.
    pub service_time: Histogram<u64>,
    /// Send lag (intended send time → actual send), every request sent.
    pub send_lag: Histogram<u64>,
    /// Requests per outcome class (dropped and interrupted included).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// The slowest requests of the run, slowest first (at most
    /// [`super::SLOWEST`]).
    pub slowest: Vec<super::SlowRequest>,
    /// Per bucket of the `/metrics` latency histogram ([`super::BUCKETS_S`],
    /// then `+Inf`) the slowest request with a trace id in it; empty when
    /// not kept (a merged run).
    pub exemplars: Vec<Option<super::Exemplar>>,
}

impl ServiceTotals {
    /// Requests of every class.
    pub fn requests(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Valid reports the target stored (class `ok`).
    pub fn stored(&self) -> u64 {
        self.count(&Outcome::Ok)
    }

    /// Invalid records refused with their expected codigo.
    pub fn rejected_as_expected(&self) -> u64 {
        self.count(&Outcome::RejectedAsExpected)
    }

    /// Requests that are not errors: stored, or rejected as expected.
    pub fn succeeded(&self) -> u64 {
        self.stored() + self.rejected_as_expected()
    }

    /// Requests in `class`.
    pub fn count(&self, class: &Outcome) -> u64 {
        self.outcomes.get(class).copied().unwrap_or(0)
    }
}
