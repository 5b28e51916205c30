//! Requests remembered one by one beside the histograms, so that an AP can
//! find them in its own logs and the ministry in its own: per service the
//! [`SLOWEST`] slowest requests of the run (latency from the intended send
//! time, as everywhere) with their trace id, send time, class and radicado;
//! and per bucket of the `/metrics` latency histogram ([`BUCKETS_S`]) the
//! slowest traced request that fell in it (an OpenMetrics exemplar: the top
//! bucket's is the run's slowest request, the one the reports list first).
//!
//! Cheap on a request's path: a shard compares a latency with its list's
//! current threshold (the smallest latency kept once the list is full) and
//! builds an entry — its radicado read from the body, its wall-clock time —
//! only when the request beats it; an exemplar is a comparison with its
//! bucket's and, when it wins, three words copied. The shards' lists are joined when the totals are read,
//! and `merge` joins workers' lists the same way ([`keep_slowest`]).

use std::time::SystemTime;

use tokio::time::Instant;

use crate::outcome::Outcome;
use crate::trace::TraceId;

/// How many of the slowest requests a run keeps per service.
pub const SLOWEST: usize = 10;

/// Upper bounds of the Prometheus latency histograms, in seconds (the last
/// bucket, `+Inf`, follows them).
pub const BUCKETS_S: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// One of the slowest requests of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowRequest {
    /// The trace id its `traceparent` carried (`None`: sent without one).
    pub trace_id: Option<TraceId>,
    /// When it was sent (wall clock).
    pub sent_at: SystemTime,
    /// From its intended send time to the answer, µs.
    pub latency_us: u64,
    /// From its actual send to the answer, µs.
    pub service_time_us: u64,
    /// How its answer was classed.
    pub outcome: Outcome,
    /// The report's `numeroRadicado` (empty when its body has none).
    pub radicado: String,
}

/// The slowest traced request in one bucket of a latency histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// Its trace id.
    pub trace_id: TraceId,
    /// Its latency, µs.
    pub latency_us: u64,
    /// When it was sent (wall clock).
    pub at: SystemTime,
}

/// A request as the recording path hands it over: its trace id and when it
/// went out.
#[derive(Debug, Clone, Copy)]
pub struct Traced {
    /// The trace id its `traceparent` carried (`None`: none was sent).
    pub trace_id: Option<TraceId>,
    /// When it went out.
    pub sent_at: Instant,
}

/// The bucket of [`BUCKETS_S`] (then `+Inf`) a latency of `us` falls in,
/// bounds inclusive as Prometheus's `le`.
pub(super) fn bucket_of(us: u64) -> usize {
    BUCKETS_S
        .iter()
        .position(|le| us <= (le * 1e6) as u64)
        .unwrap_or(BUCKETS_S.len())
}

/// What one shard remembers of one service's requests.
#[derive(Debug, Clone, Default)]
pub(super) struct Remembered {
    /// The slowest, slowest first, at most [`SLOWEST`].
    slowest: Vec<SlowRequest>,
    /// Per bucket, the slowest traced request: (trace id, latency µs, sent).
    exemplars: [Option<(TraceId, u64, Instant)>; BUCKETS_S.len() + 1],
}

impl Remembered {
    /// Keep the request whose latency is `latency_us` when it is among the
    /// slowest so far (`make` builds it only then); its bucket's exemplar
    /// when it carried a trace id and is the bucket's slowest so far.
    pub(super) fn offer(
        &mut self,
        latency_us: u64,
        traced: Traced,
        make: impl FnOnce() -> SlowRequest,
    ) {
        if let Some(trace_id) = traced.trace_id {
            let slot = &mut self.exemplars[bucket_of(latency_us)];
            if slot.is_none_or(|(_, slowest, _)| latency_us > slowest) {
                *slot = Some((trace_id, latency_us, traced.sent_at));
            }
        }
        let beaten = self.slowest.len() < SLOWEST
            || self
                .slowest
                .last()
                .is_some_and(|least| latency_us > least.latency_us);
        if beaten {
            keep_slowest(&mut self.slowest, std::iter::once(make()));
        }
    }

    /// Join `other`'s requests into these.
    pub(super) fn add(&mut self, other: &Remembered) {
        keep_slowest(&mut self.slowest, other.slowest.iter().cloned());
        for (mine, theirs) in self.exemplars.iter_mut().zip(&other.exemplars) {
            if let Some(t) = theirs
                && mine.is_none_or(|m| t.1 > m.1)
            {
                *mine = Some(*t);
            }
        }
    }

    /// The slowest requests, slowest first.
    pub(super) fn slowest(&self) -> Vec<SlowRequest> {
        self.slowest.clone()
    }

    /// Per bucket of [`BUCKETS_S`] (then `+Inf`) its slowest traced request.
    pub(super) fn exemplars(&self) -> Vec<Option<Exemplar>> {
        let (now, wall) = (Instant::now(), SystemTime::now());
        self.exemplars
            .iter()
            .map(|e| {
                e.map(|(trace_id, latency_us, sent)| Exemplar {
                    trace_id,
                    latency_us,
                    at: wall
                        .checked_sub(now.saturating_duration_since(sent))
                        .unwrap_or(wall),
                })
            })
            .collect()
    }
}

/// Add `more` to `list` (slowest first) and keep the [`SLOWEST`] slowest:
/// a shard's new request, shards joined, workers' lists joined by `merge`.
/// Ties keep the one listed first.
pub fn keep_slowest(list: &mut Vec<SlowRequest>, more: impl IntoIterator<Item = SlowRequest>) {
    list.extend(more);
    // Stable: among equal latencies the earlier entry stays ahead.
    list.sort_by_key(|s| std::cmp::Reverse(s.latency_us));
    list.truncate(SLOWEST);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(latency_us: u64) -> SlowRequest {
        SlowRequest {
            trace_id: Some(TraceId::random()),
            sent_at: SystemTime::UNIX_EPOCH,
            latency_us,
            service_time_us: latency_us,
            outcome: Outcome::Ok,
            radicado: format!("R{latency_us}"),
        }
    }

    #[test]
    fn a_shard_keeps_the_slowest_and_builds_only_those_that_beat_its_threshold() {
        let mut r = Remembered::default();
        let mut built = 0;
        // Latencies in a scrambled order (a permutation of 1..=1000).
        for n in 0..1000u64 {
            let latency = (n * 7919) % 1000 + 1;
            let traced = Traced {
                trace_id: None,
                sent_at: Instant::now(),
            };
            r.offer(latency, traced, || {
                built += 1;
                slow(latency)
            });
        }
        let kept: Vec<u64> = r.slowest().iter().map(|s| s.latency_us).collect();
        assert_eq!(kept, (991..=1000).rev().collect::<Vec<_>>());
        assert!(built < 100, "built {built} entries for 1000 requests");
        assert!(
            r.exemplars().iter().all(Option::is_none),
            "no trace id, no exemplar"
        );
    }

    #[test]
    fn shards_join_into_the_slowest_of_both_and_the_slowest_exemplar_per_bucket() {
        let (mut a, mut b) = (Remembered::default(), Remembered::default());
        let at = Instant::now();
        let traced = |trace_id| Traced {
            trace_id,
            sent_at: at,
        };
        for n in 0..10 {
            a.offer(100 + n, traced(None), || slow(100 + n));
            b.offer(50 + 10 * n, traced(None), || slow(50 + 10 * n));
        }
        let (t1, t2, t3) = (TraceId::random(), TraceId::random(), TraceId::random());
        a.offer(3_000, traced(Some(t1)), || slow(3_000));
        a.offer(4_500, traced(Some(t2)), || slow(4_500));
        b.offer(4_000, traced(Some(t3)), || slow(4_000));
        let mut b_then_a = b.clone();
        b_then_a.add(&a);
        a.add(&b);
        let kept: Vec<u64> = a.slowest().iter().map(|s| s.latency_us).collect();
        assert_eq!(
            kept,
            [4_500, 4_000, 3_000, 140, 130, 120, 110, 109, 108, 107]
        );
        // 3, 4 and 4.5 ms share the 5-ms bucket: the slowest stays, whichever
        // shard and order it came in.
        let e = a.exemplars();
        assert_eq!(bucket_of(3_000), 2);
        assert_eq!(e[2].map(|e| (e.trace_id, e.latency_us)), Some((t2, 4_500)));
        assert_eq!(b_then_a.exemplars()[2].map(|e| e.trace_id), Some(t2));
        assert_eq!(e.iter().flatten().count(), 1);
        assert_eq!(bucket_of(1_000), 0, "le is inclusive");
        assert_eq!(bucket_of(400_000_000), BUCKETS_S.len(), "+Inf");
    }
}
