//! What the plan asked of a run and what the harness sent, and what held it
//! back, second by second: the evidence of `summary.json`'s `delivery`.
//!
//! - Every ticket of the plan is counted once, under the second it was *due*
//!   (not the second its answer came): `sent` when it was handed to the
//!   target on time, `dropped` when it was taken too late (every sender was
//!   busy: `max_in_flight` requests were in flight) or never taken. A closed
//!   model has no due times: a request counts under the second it went out.
//! - Once a second ([`RunContext::sample_second`]) the run notes the most
//!   requests that were in flight at once during that second, and the
//!   harness's own CPU ([`crate::cpu`]): a full in-flight cap names the
//!   target as what held the run back, a busy harness names the harness.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{RunContext, service_index};
use crate::cpu::{CpuMeter, CpuSecond};
use crate::domain::Service;

/// Tickets sent and dropped, per second they were due and per service.
#[derive(Debug)]
pub(super) struct DeliveryCounter {
    /// `[sent, dropped]` per service, by second; the last slot also holds
    /// anything due later (a run that overran its plan).
    seconds: Box<[[[AtomicU64; 2]; 2]]>,
}

impl DeliveryCounter {
    /// Counters for a load planned to last `seconds`.
    pub(super) fn new(seconds: u64) -> Self {
        let n = usize::try_from(seconds.saturating_add(1))
            .unwrap_or(usize::MAX)
            .max(1);
        DeliveryCounter {
            seconds: (0..n).map(|_| Default::default()).collect(),
        }
    }

    fn slot(&self, second: u64) -> &[[AtomicU64; 2]; 2] {
        let i = usize::try_from(second).unwrap_or(usize::MAX);
        &self.seconds[i.min(self.seconds.len() - 1)]
    }

    /// A ticket due in `second` handed to the target.
    pub(super) fn sent(&self, second: u64, service: Service) {
        self.slot(second)[service_index(service)][0].fetch_add(1, Ordering::Relaxed);
    }

    /// A ticket due in `second` never sent: taken too late, or not taken.
    pub(super) fn dropped(&self, second: u64, service: Service) {
        self.slot(second)[service_index(service)][1].fetch_add(1, Ordering::Relaxed);
    }

    /// `[sent, dropped]` per service for every second, in order.
    pub(super) fn counts(&self) -> Vec<[[u64; 2]; 2]> {
        self.seconds
            .iter()
            .map(|s| {
                s.each_ref()
                    .map(|svc| svc.each_ref().map(|c| c.load(Ordering::Relaxed)))
            })
            .collect()
    }
}

/// One second of the run as the harness saw itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadSecond {
    /// Seconds from the start of the load.
    pub second: u64,
    /// The most requests in flight at once during the second.
    pub in_flight_peak: u64,
    /// The harness's CPU over the second (`None` where it cannot be read).
    pub cpu: Option<CpuSecond>,
}

/// The per-second samples and what takes them.
#[derive(Debug, Default)]
pub(super) struct LoadSamples {
    seconds: Mutex<Vec<LoadSecond>>,
    meter: Mutex<Option<CpuMeter>>,
}

/// What one second of the run delivered: the plan's tickets due in it and
/// what became of them, beside the harness's own load then.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliverySecond {
    /// Seconds from the start of the load.
    pub second: u64,
    /// Tickets of the plan due in this second (open model); `None` for a
    /// closed model, which plans users, not requests.
    pub planned: Option<u64>,
    /// `[sent, dropped]` per service, in `Service::ALL` order.
    pub counts: [[u64; 2]; 2],
    /// The harness then.
    pub load: LoadSecond,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunContext {
    /// The second of the load that `at` falls in (0 before the start).
    pub(super) fn second_of(&self, at: Instant) -> u64 {
        self.started()
            .map_or(0, |s| at.saturating_duration_since(s).as_secs())
    }

    /// Note the second that just ended (call once a second, from the start
    /// of the load): the in-flight peak and the harness's CPU.
    pub fn sample_second(&self) {
        let second = self
            .started()
            .map_or(0, |s| s.elapsed().as_secs())
            .saturating_sub(1);
        let cpu = lock(&self.samples.meter)
            .get_or_insert_with(CpuMeter::new)
            .sample();
        let peak = self.stop.take_peak() as u64;
        lock(&self.samples.seconds).push(LoadSecond {
            second,
            in_flight_peak: peak,
            cpu,
        });
    }

    /// Start the CPU meter (its first reading) as the load starts.
    pub(super) fn start_sampling(&self) {
        lock(&self.samples.meter)
            .get_or_insert_with(CpuMeter::new)
            .sample();
    }

    /// The run's seconds as delivered: what was due, sent and dropped, and
    /// the harness's load, second by second (after the load).
    pub fn delivery(&self) -> Vec<DeliverySecond> {
        let counts = self.delivery.counts();
        let planned = self.planned_per_second(counts.len());
        let samples = lock(&self.samples.seconds).clone();
        let last = counts
            .iter()
            .rposition(|c| c.iter().flatten().any(|n| *n > 0))
            .map_or(0, |i| i + 1)
            .max(
                planned
                    .as_ref()
                    .map_or(0, |p| p.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1)),
            )
            .max(
                samples
                    .iter()
                    .map(|s| s.second as usize + 1)
                    .max()
                    .unwrap_or(0),
            );
        (0..last)
            .map(|i| DeliverySecond {
                second: i as u64,
                planned: planned.as_ref().map(|p| p.get(i).copied().unwrap_or(0)),
                counts: counts.get(i).copied().unwrap_or_default(),
                load: samples
                    .iter()
                    .find(|s| s.second == i as u64)
                    .copied()
                    .unwrap_or(LoadSecond {
                        second: i as u64,
                        ..LoadSecond::default()
                    }),
            })
            .collect()
    }

    /// The plan's tickets of this worker due in each second (`None` for a
    /// closed model); an interrupted run's plan ends at its signal.
    fn planned_per_second(&self, len: usize) -> Option<Vec<u64>> {
        let schedule = self.schedule.as_ref()?;
        let until = self
            .interruption()
            .zip(self.started())
            .map(|(i, s)| i.at.saturating_duration_since(s));
        let mut out = vec![0u64; len.max(1)];
        for due in schedule.dues() {
            if until.is_some_and(|u| due >= u) {
                break;
            }
            let i = usize::try_from(due.as_secs()).unwrap_or(usize::MAX);
            if i >= out.len() {
                out.resize(i + 1, 0);
            }
            out[i] += 1;
        }
        Some(out)
    }

    /// The plan so far, for the live dashboard: the tickets of this worker
    /// due in the first `elapsed` of the load (`None` for a closed model,
    /// which plans users), and `[sent, dropped]` per service counted until
    /// now (in `Service::ALL` order).
    pub fn delivered_so_far(&self, elapsed: Duration) -> (Option<u64>, [[u64; 2]; 2]) {
        let mut counts = [[0u64; 2]; 2];
        for second in self.delivery.counts() {
            for (into, from) in counts.iter_mut().zip(second) {
                into[0] += from[0];
                into[1] += from[1];
            }
        }
        (self.schedule.as_ref().map(|s| s.due_by(elapsed)), counts)
    }

    /// The most requests in flight the run allows at once: its senders.
    pub fn in_flight_cap(&self) -> u64 {
        self.senders as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_count_under_their_due_second_and_late_ones_in_the_last() {
        let c = DeliveryCounter::new(2);
        c.sent(0, Service::Afiliacion);
        c.sent(0, Service::Afiliacion);
        c.dropped(1, Service::Retracto);
        c.sent(9, Service::Retracto);
        let counts = c.counts();
        assert_eq!(counts.len(), 3);
        assert_eq!(counts[0], [[2, 0], [0, 0]]);
        assert_eq!(counts[1], [[0, 0], [0, 1]]);
        assert_eq!(
            counts[2],
            [[0, 0], [1, 0]],
            "past the plan: the last second"
        );
    }
}
