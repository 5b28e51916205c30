//! Exact latency metrics: HdrHistograms in microseconds with 3 significant
//! digits, per service and outcome (ok / not ok), for the latency measured from
//! the intended send time and for the service time measured from the actual
//! send, side by side; one-second interval histograms for the time series and
//! the HdrHistogram interval log; counts per error class.
//!
//! Recording takes one uncontended lock on one of several shards (a sender
//! always uses the same shard) and allocates nothing on the success path; a
//! harvester folds the shards into the interval and the totals once a second.
//!
//! Memory stays flat over long runs: histograms grow only to the largest value
//! they have seen (auto-resizing, so a run whose answers take 20 ms holds ~50 KB
//! per histogram rather than the ~190 KB that 1 µs..1 h needs up front), and
//! each closed second's histogram is encoded (V2) and spilled to a
//! temporary file; what stays in memory per second is a few counters.

use std::sync::Mutex;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use tokio::time::Instant;

use crate::domain::Service;
use crate::hdr::histogram;
use crate::outcome::Outcome;

mod local;
mod log;
mod series;
mod totals;
mod traced;

use local::Local;
pub use local::Timing;
pub use log::{write_tagged_hlog, write_totals_hlog};
pub use series::Interval;
use series::Spill;
pub use totals::ServiceTotals;
use traced::Remembered;
pub use traced::{BUCKETS_S, Exemplar, SLOWEST, SlowRequest, Traced, keep_slowest};

fn index(service: Service) -> usize {
    match service {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}

#[derive(Debug)]
struct Aggregate {
    totals: [Local; 2],
    current: [Local; 2],
    intervals: Vec<Interval>,
    spill: Spill,
    harvested: u64,
}

/// One recording shard: per service its histograms and counts of the current
/// second (folded into the aggregate by each harvest) and the requests it
/// remembers one by one over the whole run (joined when the totals are read).
#[derive(Debug, Default)]
struct Shard {
    services: [Local; 2],
    remembered: [Remembered; 2],
}

/// The metrics of one run.
#[derive(Debug)]
pub struct Metrics {
    started: Mutex<Instant>,
    started_wall: Mutex<SystemTime>,
    shards: Box<[Mutex<Shard>]>,
    aggregate: Mutex<Aggregate>,
    /// Where the exchanges' time went, per service (minimal until the
    /// phase metrics land: one lock per service).
    phases: [Mutex<crate::transport::PhaseHistograms>; 2],
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Metrics of a run that starts at `started`, with `shards` recording shards.
    pub fn new(started: Instant, shards: usize) -> Self {
        Metrics {
            started: Mutex::new(started),
            started_wall: Mutex::new(SystemTime::now()),
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            aggregate: Mutex::new(Aggregate {
                totals: [Local::new(), Local::new()],
                current: [Local::new(), Local::new()],
                intervals: Vec::new(),
                spill: Spill::new(),
                harvested: 0,
            }),
            phases: Default::default(),
        }
    }

    /// Record where one answered exchange of `service` spent its time.
    pub fn record_phases(&self, shard: usize, service: Service, phases: &crate::transport::Phases) {
        let _ = shard;
        let second = lock(&self.started).elapsed().as_secs();
        lock(&self.phases[index(service)]).record(phases, second);
    }

    /// The phase timings of `service`'s exchanges so far.
    pub fn phases(&self, service: Service) -> crate::transport::PhaseHistograms {
        lock(&self.phases[index(service)]).clone()
    }

    /// Move the start of the run (before anything is recorded).
    pub fn start_at(&self, started: Instant) {
        *lock(&self.started) = started;
        // The wall-clock time of that instant: interval logs start there, and
        // `merge` aligns workers on it.
        *lock(&self.started_wall) = SystemTime::now() - started.elapsed();
    }

    /// When the run started (wall clock).
    pub fn started_wall(&self) -> SystemTime {
        *lock(&self.started_wall)
    }

    /// Record one request: its outcome and its [`Timing`] (empty for a
    /// request that never went out: dropped, no token).
    pub fn record(&self, shard: usize, service: Service, outcome: Outcome, timing: Timing) {
        let mut guard = lock(&self.shards[shard % self.shards.len()]);
        guard.services[index(service)].record(outcome, timing);
    }

    /// Record one request that went out ([`Metrics::record`]), and remember
    /// it when it is among the service's slowest so far or carried a trace
    /// id ([`Traced`]); `radicado` reads its report's radicado, called only
    /// for a request kept among the slowest.
    pub fn record_traced(
        &self,
        shard: usize,
        service: Service,
        outcome: Outcome,
        timing: Timing,
        traced: Traced,
        radicado: impl FnOnce() -> String,
    ) {
        let mut guard = lock(&self.shards[shard % self.shards.len()]);
        if let Some(latency) = timing.latency {
            let latency_us = local::micros(latency);
            guard.remembered[index(service)].offer(latency_us, traced, || SlowRequest {
                trace_id: traced.trace_id,
                sent_at: SystemTime::now()
                    .checked_sub(traced.sent_at.elapsed())
                    .unwrap_or_else(SystemTime::now),
                latency_us,
                service_time_us: timing.service_time.map_or(0, local::micros),
                outcome: outcome.clone(),
                radicado: radicado(),
            });
        }
        guard.services[index(service)].record(outcome, timing);
    }

    /// Fold the shards into the current interval and close every whole second
    /// elapsed since the last harvest (call once a second, and at the end with
    /// `final_harvest`).
    pub fn harvest(&self, final_harvest: bool) {
        let mut agg = lock(&self.aggregate);
        for shard in self.shards.iter() {
            let mut s = lock(shard);
            for i in 0..2 {
                agg.current[i].add(&s.services[i]);
                s.services[i].reset();
            }
        }
        let elapsed = lock(&self.started).elapsed().as_secs();
        let second = agg.harvested;
        if elapsed > second || final_harvest {
            let Aggregate {
                totals,
                current,
                intervals,
                spill,
                ..
            } = &mut *agg;
            for (i, service) in Service::ALL.into_iter().enumerate() {
                let c = &current[i];
                let completed: u64 = c.outcomes.values().sum();
                if completed > 0 {
                    let latency = c.latency_all();
                    let mut encoded = Vec::new();
                    // Plain V2: already run-length encoded, and without the
                    // deflate compressor's few hundred KB of state.
                    let _ = V2Serializer::new().serialize(&latency, &mut encoded);
                    let spilled = spill.push(&encoded);
                    let stored = c.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
                    let errors = c
                        .outcomes
                        .iter()
                        .filter(|(o, _)| !o.is_ok())
                        .map(|(_, n)| n)
                        .sum();
                    let dropped = c.outcomes.get(&Outcome::Dropped).copied().unwrap_or(0);
                    intervals.push(Interval {
                        second,
                        service,
                        completed,
                        stored,
                        errors,
                        dropped,
                        p50_us: if latency.is_empty() {
                            0
                        } else {
                            latency.value_at_quantile(0.5)
                        },
                        p99_us: if latency.is_empty() {
                            0
                        } else {
                            latency.value_at_quantile(0.99)
                        },
                        p90_us: if latency.is_empty() {
                            0
                        } else {
                            latency.value_at_quantile(0.90)
                        },
                        send_lag_p99_us: c
                            .send_lag
                            .as_ref()
                            .filter(|h| !h.is_empty())
                            .map_or(0, |h| h.value_at_quantile(0.99)),
                        service_us: {
                            let s = c.service_all();
                            if s.is_empty() {
                                [0; 3]
                            } else {
                                [0.5, 0.9, 0.99].map(|q| s.value_at_quantile(q))
                            }
                        },
                        spilled,
                    });
                }
                totals[i].add(c);
            }
            for c in current.iter_mut() {
                c.reset();
            }
            agg.harvested = elapsed.max(second + 1);
        }
    }

    /// Totals per service (call after the final harvest).
    pub fn totals(&self) -> Vec<ServiceTotals> {
        let agg = lock(&self.aggregate);
        let mut remembered = [Remembered::default(), Remembered::default()];
        for shard in self.shards.iter() {
            let s = lock(shard);
            for (r, theirs) in remembered.iter_mut().zip(&s.remembered) {
                r.add(theirs);
            }
        }
        Service::ALL
            .into_iter()
            .enumerate()
            .map(|(i, service)| ServiceTotals {
                service,
                slowest: remembered[i].slowest(),
                exemplars: remembered[i].exemplars(),
                latency: agg.totals[i].latency_all(),
                service_time: agg.totals[i].service_all(),
                send_lag: agg.totals[i].send_lag.clone().unwrap_or_else(histogram),
                outcomes: agg.totals[i].outcomes.clone(),
            })
            .collect()
    }

    /// The closed one-second intervals, in order.
    pub fn intervals(&self) -> Vec<Interval> {
        lock(&self.aggregate).intervals.clone()
    }

    /// The intervals of the last closed second, one per service that had
    /// requests (what the progress line shows each second, without copying the run).
    pub fn last_second(&self) -> Vec<Interval> {
        let agg = lock(&self.aggregate);
        let Some(last) = agg.intervals.last().map(|i| i.second) else {
            return Vec::new();
        };
        let at = agg.intervals.partition_point(|i| i.second < last);
        agg.intervals[at..].to_vec()
    }

    /// The closed one-second intervals from second `from` on, in order (what
    /// a live view reads each second without copying the whole run).
    pub fn intervals_from(&self, from: u64) -> Vec<Interval> {
        let agg = lock(&self.aggregate);
        let at = agg.intervals.partition_point(|i| i.second < from);
        agg.intervals[at..].to_vec()
    }

    /// Latency and counts of every service over the seconds `from..to` of the
    /// run: (latency histogram, requests sent, errors of those sent) — dropped
    /// requests, never sent, are in neither count (`crate::verdict`).
    pub fn window(&self, from: u64, to: u64) -> (Histogram<u64>, u64, u64) {
        let mut agg = lock(&self.aggregate);
        let Aggregate {
            intervals, spill, ..
        } = &mut *agg;
        let mut h = histogram();
        let (mut completed, mut errors) = (0, 0);
        let mut deserializer = Deserializer::new();
        for i in intervals.iter().filter(|i| (from..to).contains(&i.second)) {
            completed += i.completed - i.dropped;
            errors += i.errors - i.dropped;
            // A failure is kept by the spill: `series_failure` fails the
            // results before anything is written from these seconds.
            let Ok(bytes) = spill.read(i.spilled) else {
                continue;
            };
            match deserializer.deserialize::<u64, _>(&mut bytes.as_slice()) {
                Ok(part) => {
                    let _ = h.add(&part);
                }
                Err(e) => spill.corrupt(i.second, e),
            }
        }
        (h, completed, errors)
    }

    /// Why the run's per-second histograms could not be read back, naming
    /// the file they were spilled to: none when every read so far worked.
    /// The results are not written from a time series that failed.
    pub fn series_failure(&self) -> Option<String> {
        lock(&self.aggregate).spill.failure().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_time_series_that_cannot_be_read_back_fails_naming_its_file() {
        let metrics = Metrics::new(Instant::now(), 1);
        for n in 0..100u64 {
            metrics.record(
                0,
                Service::Afiliacion,
                Outcome::Ok,
                Timing {
                    latency: Some(Duration::from_micros(1_000 + n)),
                    service_time: Some(Duration::from_micros(900)),
                    send_lag: Some(Duration::from_micros(10)),
                },
            );
        }
        metrics.harvest(true);
        let (h, sent, _) = metrics.window(0, 10);
        assert_eq!((h.len(), sent), (100, 100));
        assert_eq!(metrics.series_failure(), None);
        let path = lock(&metrics.aggregate)
            .spill
            .path()
            .expect("a spill file")
            .to_owned();
        // The file loses its bytes (a full disk, a cleaner of /tmp).
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(0))
            .expect("truncate the spill");
        let (h, sent, _) = metrics.window(0, 10);
        assert_eq!(
            (h.len(), sent),
            (0, 100),
            "the counts stay, the histogram is lost"
        );
        let failure = metrics.series_failure().expect("the failure is kept");
        let name = path.display().to_string();
        assert!(failure.contains(&name), "{failure}");
        let err = metrics
            .write_hlog(&mut Vec::new())
            .expect_err("the log cannot be written");
        assert!(err.to_string().contains(&name), "{err}");
    }

    #[test]
    fn coordinated_omission_oracle() {
        // One sender, a request due every 10 ms. 10,000 answers take 1 ms each;
        // then one takes 100 s (a stall). Measured from the intended send time,
        // the 10,000 requests due during the stall waited 100 s, 99.99 s, … —
        // the classic HdrHistogram example: p99 ≈ 98 s. From the actual send
        // only the stalled request is slow, which is what hides the stall.
        let metrics = Metrics::new(Instant::now(), 1);
        let interval = 10_000u64; // µs
        let mut free_at = 0u64;
        for n in 0..20_001u64 {
            let due = n * interval;
            let sent = due.max(free_at);
            let service = if n == 10_000 { 100_000_000 } else { 1_000 };
            let done = sent + service;
            free_at = done;
            metrics.record(
                0,
                Service::Afiliacion,
                Outcome::Ok,
                Timing {
                    latency: Some(Duration::from_micros(done - due)),
                    service_time: Some(Duration::from_micros(service)),
                    send_lag: Some(Duration::from_micros(sent - due)),
                },
            );
        }
        metrics.harvest(true);
        let totals = &metrics.totals()[0];
        let latency = crate::results::Percentiles::of(&totals.latency);
        let service = crate::results::Percentiles::of(&totals.service_time);
        let p99_s = latency.p99 as f64 / 1e6;
        assert!(
            (p99_s - 98.0).abs() < 1.0,
            "p99 from intended time {p99_s} s"
        );
        assert!(latency.max >= 99_000_000);
        assert!(service.p99 <= 1_001, "service time p99 {}", service.p99);
        // Sent late only after the stall: the 10,000 requests due during it.
        let lag = crate::results::Percentiles::of(&totals.send_lag);
        assert_eq!(lag.p50, 1, "the first half left on time (1 µs floor)");
        assert!(lag.p99 > 90_000_000, "send lag p99 {}", lag.p99);
        assert_eq!(totals.requests(), 20_001);
    }

    #[test]
    fn shards_intervals_and_classes_add_up() {
        let metrics = Metrics::new(Instant::now(), 4);
        for i in 0..1000u64 {
            let outcome = match i % 10 {
                0 => Outcome::Business("NEG01".into()),
                5 => Outcome::RejectedAsExpected,
                _ => Outcome::Ok,
            };
            metrics.record(
                i as usize,
                Service::Retracto,
                outcome,
                Timing {
                    latency: Some(Duration::from_millis(i % 50 + 1)),
                    service_time: Some(Duration::from_millis(1)),
                    send_lag: None,
                },
            );
        }
        metrics.record(0, Service::Retracto, Outcome::Dropped, Timing::default());
        metrics.harvest(true);
        let t = &metrics.totals()[1];
        assert_eq!(t.requests(), 1001);
        assert_eq!((t.stored(), t.rejected_as_expected()), (800, 100));
        assert_eq!(t.count(&Outcome::Business("NEG01".into())), 100);
        assert_eq!(t.count(&Outcome::Dropped), 1);
        assert_eq!(t.latency.len(), 1000);
        let intervals = metrics.intervals();
        assert_eq!(intervals.len(), 1);
        assert_eq!(metrics.last_second().len(), 1);
        assert_eq!(
            (
                intervals[0].completed,
                intervals[0].stored,
                intervals[0].errors
            ),
            (1001, 800, 101)
        );
        let mut log = Vec::new();
        metrics.write_hlog(&mut log).expect("hlog");
        let text = String::from_utf8(log).expect("utf-8");
        assert!(
            text.contains("Tag=ReportarRetractoAfiliacion,0.000,1.000,"),
            "{text}"
        );
        // Read back with the crate's own log reader.
        let read: Vec<_> =
            hdrhistogram::serialization::interval_log::IntervalLogIterator::new(text.as_bytes())
                .filter_map(|e| match e {
                    Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(h)) => {
                        Some(h.tag().map(|t| t.as_str().to_owned()))
                    }
                    _ => None,
                })
                .collect();
        // The second's total (untagged), then the service.
        assert_eq!(
            read,
            vec![None, Some("ReportarRetractoAfiliacion".to_owned())]
        );
    }
}
