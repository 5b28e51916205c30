//! What the rest of the harness reads of a run ([`RunContext`]): its metrics,
//! clock, stop, retries, the records the target stored, and the answers it
//! gave that the contract does not list — for the run command, the progress
//! line, the dashboard and the capacity search.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{Interruption, Limiter, RunContext, Unexpected};
use crate::domain::Contract;
use crate::metrics::Metrics;
use crate::schedule::ArrivalSchedule;
use crate::token::TokenCache;

impl RunContext {
    /// Metrics of the run.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The contract the run follows.
    pub fn contract(&self) -> &Arc<Contract> {
        &self.contract
    }

    /// Retries sent and retries the budget refused, per service.
    pub fn retries(&self) -> ([u64; 2], [u64; 2]) {
        let load = |a: &[std::sync::atomic::AtomicU64; 2]| {
            [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)]
        };
        (load(&self.retries), load(&self.retries_refused))
    }

    /// The retry budget's ratio (0–1).
    pub fn retry_budget(&self) -> f64 {
        self.budget.ratio()
    }

    /// Answers whose codigo the contract does not list, per service, codigo
    /// and HTTP status.
    pub fn unexpected(&self) -> Unexpected {
        self.unexpected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records the target answered `OK` to, per service (for reconciliation).
    pub fn stored(&self) -> [u64; 2] {
        [
            self.stored[0].load(Ordering::Relaxed),
            self.stored[1].load(Ordering::Relaxed),
        ]
    }

    /// The token caches, per service (the same cache when one client_id serves both).
    pub fn tokens(&self) -> &[Arc<TokenCache>; 2] {
        &self.tokens
    }

    /// The distinct token caches: one cache serving both services is listed
    /// once, so that its requests are counted once.
    pub fn token_caches(&self) -> Vec<&Arc<TokenCache>> {
        let mut caches: Vec<&Arc<TokenCache>> = Vec::with_capacity(2);
        for cache in &self.tokens {
            if !caches.iter().any(|c| Arc::ptr_eq(c, cache)) {
                caches.push(cache);
            }
        }
        caches
    }

    /// The open model's timetable (a capacity search extends it as it goes).
    pub fn schedule(&self) -> Option<&ArrivalSchedule> {
        self.schedule.as_ref()
    }

    /// Requests now in flight.
    pub fn in_flight(&self) -> usize {
        self.stop.in_flight()
    }

    /// Reports whose answers were lost and that wait to be sent again, or are
    /// being sent again now (what a run does after its load, for the progress line).
    pub fn lost_reports(&self) -> usize {
        self.unresolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
            + self.resending.load(Ordering::Relaxed)
    }

    /// A data error that stopped the run, if any.
    pub fn fatal(&self) -> Option<String> {
        self.stop.fatal()
    }

    /// What the run's feeder has sent, if it has one.
    pub fn feeder(&self) -> Option<super::data::FeederState> {
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .feeder_state()
    }

    /// (index, count) of this worker.
    pub fn worker(&self) -> (u16, u16) {
        self.worker
    }

    /// The production caps' limiter, against a production target.
    pub fn limiter(&self) -> Option<&Limiter> {
        self.limiter.as_ref()
    }

    /// When the run's clock started (the first iteration), if it has.
    pub fn started(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    /// The signal that stopped the run, if one did.
    pub fn interruption(&self) -> Option<Interruption> {
        self.stop.interruption()
    }

    /// Seconds the load lasted: the planned duration, or, when a signal
    /// stopped the run, from its start until the load ended (what rates divide by).
    pub fn load_seconds(&self) -> f64 {
        let planned = self.duration.as_secs_f64();
        match (self.interruption(), self.started()) {
            (None, _) => planned,
            (Some(_), None) => 0.0,
            (Some(i), Some(start)) => {
                let end = i.ended.unwrap_or_else(Instant::now);
                end.saturating_duration_since(start)
                    .as_secs_f64()
                    .min(planned)
            }
        }
    }
}
