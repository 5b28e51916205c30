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
//! each closed second's histogram is encoded (V2) and spilled to an unlinked
//! temporary file; what stays in memory per second is a few counters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::Serialize;
use tokio::time::Instant;

use crate::domain::Service;
use crate::hlog;
use crate::outcome::Outcome;

pub use crate::results::hdr::{MAX_US, histogram, record};

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_US)
}

fn index(service: Service) -> usize {
    match service {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}

/// Histograms and counts of one service. A histogram exists once it has a
/// value: a service or outcome that never occurs costs nothing.
#[derive(Debug, Clone, Default)]
struct Local {
    latency_ok: Option<Histogram<u64>>,
    latency_err: Option<Histogram<u64>>,
    service_ok: Option<Histogram<u64>>,
    service_err: Option<Histogram<u64>>,
    send_lag: Option<Histogram<u64>>,
    outcomes: BTreeMap<Outcome, u64>,
}

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
    fn new() -> Self {
        Local::default()
    }

    fn add(&mut self, other: &Local) {
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

    fn reset(&mut self) {
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

    fn latency_all(&self) -> Histogram<u64> {
        union(&self.latency_ok, &self.latency_err)
    }

    fn service_all(&self) -> Histogram<u64> {
        union(&self.service_ok, &self.service_err)
    }
}

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

/// One second of one service.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    /// Seconds since the start of the run.
    pub second: u64,
    /// The service.
    #[serde(serialize_with = "service_name")]
    pub service: Service,
    /// Requests that ended in this second.
    pub completed: u64,
    /// Of which stored (`ok`).
    pub stored: u64,
    /// Of which errors (neither stored nor rejected as expected), dropped
    /// ones included.
    pub errors: u64,
    /// Of which dropped (never sent: the in-flight cap was reached).
    #[serde(skip)]
    pub dropped: u64,
    /// Latency percentiles of those requests, µs.
    pub p50_us: u64,
    /// Latency percentiles of those requests, µs.
    pub p99_us: u64,
    /// Latency p90 of those requests, µs (the live dashboard's).
    #[serde(skip)]
    pub p90_us: u64,
    /// Service-time p50, p90 and p99 of those requests, µs (the live
    /// dashboard's).
    #[serde(skip)]
    pub service_us: [u64; 3],
    /// Where its encoded histogram lies in the spill.
    #[serde(skip)]
    spilled: (u64, usize),
}

/// Encoded interval histograms: an unlinked temporary file, or memory when
/// no temporary file can be made.
#[derive(Debug)]
enum Spill {
    File { file: File, len: u64 },
    Memory(Vec<u8>),
}

impl Spill {
    fn new() -> Self {
        match tempfile::tempfile() {
            Ok(file) => Spill::File { file, len: 0 },
            Err(_) => Spill::Memory(Vec::new()),
        }
    }

    /// Append `bytes`; returns where they lie.
    fn push(&mut self, bytes: &[u8]) -> (u64, usize) {
        match self {
            Spill::File { file, len } => {
                let at = *len;
                let written = file
                    .seek(SeekFrom::Start(at))
                    .and_then(|_| file.write_all(bytes));
                match written {
                    Ok(()) => {
                        *len += bytes.len() as u64;
                        (at, bytes.len())
                    }
                    Err(_) => {
                        // The disk refused: keep this and later seconds in memory.
                        let mut memory = vec![0; at as usize];
                        let copied = file
                            .seek(SeekFrom::Start(0))
                            .and_then(|_| file.read_exact(&mut memory));
                        if copied.is_err() {
                            memory.clear();
                            memory.resize(at as usize, 0);
                        }
                        *self = Spill::Memory(memory);
                        self.push(bytes)
                    }
                }
            }
            Spill::Memory(memory) => {
                let at = memory.len() as u64;
                memory.extend_from_slice(bytes);
                (at, bytes.len())
            }
        }
    }

    fn read(&mut self, (at, len): (u64, usize)) -> io::Result<Vec<u8>> {
        match self {
            Spill::File { file, .. } => {
                let mut bytes = vec![0; len];
                file.seek(SeekFrom::Start(at))?;
                file.read_exact(&mut bytes)?;
                Ok(bytes)
            }
            Spill::Memory(memory) => memory
                .get(at as usize..at as usize + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| io::Error::other("interval outside the spill")),
        }
    }
}

fn service_name<S: serde::Serializer>(s: &Service, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}

#[derive(Debug)]
struct Aggregate {
    totals: [Local; 2],
    current: [Local; 2],
    intervals: Vec<Interval>,
    spill: Spill,
    harvested: u64,
}

/// The metrics of one run.
#[derive(Debug)]
pub struct Metrics {
    started: Mutex<Instant>,
    started_wall: Mutex<SystemTime>,
    shards: Box<[Mutex<[Local; 2]>]>,
    aggregate: Mutex<Aggregate>,
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
                .map(|_| Mutex::new([Local::new(), Local::new()]))
                .collect(),
            aggregate: Mutex::new(Aggregate {
                totals: [Local::new(), Local::new()],
                current: [Local::new(), Local::new()],
                intervals: Vec::new(),
                spill: Spill::new(),
                harvested: 0,
            }),
        }
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
        let local = &mut guard[index(service)];
        let ok = outcome.is_ok();
        if let Some(l) = timing.latency {
            let h = if ok {
                &mut local.latency_ok
            } else {
                &mut local.latency_err
            };
            record_into(h, micros(l));
        }
        if let Some(s) = timing.service_time {
            let h = if ok {
                &mut local.service_ok
            } else {
                &mut local.service_err
            };
            record_into(h, micros(s));
        }
        if let Some(lag) = timing.send_lag {
            record_into(&mut local.send_lag, micros(lag));
        }
        match local.outcomes.get_mut(&outcome) {
            Some(n) => *n += 1,
            None => {
                local.outcomes.insert(outcome, 1);
            }
        }
    }

    /// Fold the shards into the current interval and close every whole second
    /// elapsed since the last harvest (call once a second, and at the end with
    /// `final_harvest`).
    pub fn harvest(&self, final_harvest: bool) {
        let mut agg = lock(&self.aggregate);
        for shard in self.shards.iter() {
            let mut s = lock(shard);
            for i in 0..2 {
                agg.current[i].add(&s[i]);
                s[i].reset();
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
        Service::ALL
            .into_iter()
            .enumerate()
            .map(|(i, service)| ServiceTotals {
                service,
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
            if let Ok(bytes) = spill.read(i.spilled)
                && let Ok(part) = deserializer.deserialize::<u64, _>(&mut bytes.as_slice())
            {
                let _ = h.add(&part);
            }
        }
        (h, completed, errors)
    }

    /// Write the intervals as an HdrHistogram interval log (see
    /// [`crate::hlog`]): per second, the services' total, then one tagged
    /// histogram per service.
    pub fn write_hlog(&self, out: &mut impl io::Write) -> io::Result<()> {
        let mut deserializer = Deserializer::new();
        let entries = self.intervals().into_iter().map(|i| {
            let bytes = lock(&self.aggregate).spill.read(i.spilled)?;
            let h: Histogram<u64> = deserializer
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| io::Error::other(format!("interval {}: {e:?}", i.second)))?;
            Ok(hlog::Entry {
                tag: i.service.name().to_owned(),
                start: Duration::from_secs(i.second),
                length: Duration::from_secs(1),
                histogram: Cow::Owned(h),
            })
        });
        hlog::write(
            out,
            self.started_wall(),
            "mss-harness latency from the intended send time, microseconds; untagged: all services",
            entries,
            |_| true,
        )
    }
}

/// Write `entries` (tag, start from `started`, length, histogram), in order of
/// start, as an HdrHistogram interval log (see [`crate::hlog`]); each
/// interval's untagged total adds the entries whose tag is a service or ends
/// in `/latency`.
pub fn write_tagged_hlog(
    out: &mut impl io::Write,
    started: SystemTime,
    comment: &str,
    entries: &[(&str, Duration, Duration, &Histogram<u64>)],
) -> io::Result<()> {
    let entries = entries.iter().map(|(tag, start, length, h)| {
        Ok(hlog::Entry {
            tag: (*tag).to_owned(),
            start: *start,
            length: *length,
            histogram: Cow::Borrowed(*h),
        })
    });
    hlog::write(out, started, comment, entries, is_latency)
}

/// Whether a tag names a latency (a service, `<service>/latency`,
/// `token/latency`), not a service time.
fn is_latency(tag: &str) -> bool {
    !tag.contains('/') || tag.ends_with("/latency")
}

/// Write the totals of a run as an HdrHistogram interval log (see
/// [`crate::hlog`]): for each service with requests, its latency from the
/// intended time (tag `<service>/latency`), its service time
/// (`<service>/service_time`) and its send lag (`<service>/send_lag`, when it
/// sent anything), over the whole run — what the report's
/// percentile distribution is drawn from; untagged, every service's latency.
pub fn write_totals_hlog(
    totals: &[ServiceTotals],
    started: SystemTime,
    seconds: f64,
    out: &mut impl io::Write,
) -> io::Result<()> {
    let length = Duration::from_secs_f64(seconds.max(0.0));
    let entries = totals
        .iter()
        .filter(|t| !t.latency.is_empty())
        .flat_map(|t| {
            [
                ("latency", &t.latency),
                ("service_time", &t.service_time),
                ("send_lag", &t.send_lag),
            ]
            .into_iter()
            .filter(|(kind, h)| *kind != "send_lag" || !h.is_empty())
            .map(|(kind, h)| {
                Ok(hlog::Entry {
                    tag: format!("{}/{kind}", t.service.name()),
                    start: Duration::ZERO,
                    length,
                    histogram: Cow::Borrowed(h),
                })
            })
        });
    hlog::write(
        out,
        started,
        "mss-harness run totals, microseconds: <service>/latency, <service>/service_time and <service>/send_lag; untagged: every service's latency",
        entries,
        is_latency,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
