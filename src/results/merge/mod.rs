//! The results folders of N workers of one run, read back and joined as that
//! run, exactly: HdrHistogram addition of every interval and of the totals,
//! summed counts and error classes, time series joined on wall-clock seconds.
//! [`Merged::record`] is the joined [`RunRecord`] (what `summary.json` is
//! built from, as for a single run); [`Merged::write`] writes the folder's
//! other files as a single run writes them. `mss-harness merge` drives it.
//!
//! What adds up is added (counts, histograms, retries, unexpected codigos,
//! token requests). What describes the one target a worker ran against — its
//! reconciliation with what that target stored, the faults its mock injected
//! — is kept when one worker is merged and left out for several: their
//! targets, or their views of one shared target, do not add up. So the merge
//! of one worker's folder is that worker's summary, but for
//! `meta.merged_workers`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use super::record::{DeliveryRecord, RunFacts, RunRecord, StoredRecord, TokenLatency, TokenRecord};
use super::{Interrupted, Summary, TimeseriesRow, TokenEvent, Worker as WorkerShare};
use crate::domain::Service;
use crate::hdr::histogram;
use crate::metrics::{ServiceTotals, write_tagged_hlog};
use crate::outcome::Outcome;
use crate::scenario::RunPlan;

mod worker;

use worker::{Worker, retries, stored, unexpected};

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) -> anyhow::Result<()> {
    into.add(h)
        .map_err(|e| anyhow::anyhow!("histogram addition: {e:?}"))
}

/// Workers' folders joined as one run.
#[derive(Debug)]
pub struct Merged {
    workers: Vec<Worker>,
    /// The scenario they ran.
    pub plan: RunPlan,
    /// What the summary needs of it.
    pub facts: RunFacts,
    /// How many workers the run had.
    pub count: u64,
    /// The worker indexes of the run that were not given (the result covers
    /// only those given).
    pub missing: Vec<u64>,
    /// The earliest start: the joined run's second 0.
    base: SystemTime,
    /// Per (second, service): latency histogram.
    intervals: BTreeMap<(u64, String), Histogram<u64>>,
    /// Per (second, service): the time series' counts.
    counts: BTreeMap<(u64, String), TimeseriesRow>,
    /// Per `<service>/<kind>`: the histogram over the run.
    totals_h: BTreeMap<String, Histogram<u64>>,
    /// Every token request's latency (`None`: a folder without `token.hlog`).
    token_h: Option<Histogram<u64>>,
    /// Per service: histograms and outcome classes.
    totals: Vec<ServiceTotals>,
    /// Per service and the token service: the phase timings, added.
    phases: super::phases::PhaseRecord,
    /// How long the joined load lasted.
    seconds: f64,
}

/// Read the folders `dirs` of workers of one run and join them, its scenario
/// planned with `contract` (or the folder its `[contract] dir` names);
/// folders of different scenarios, of runs of different worker counts, or
/// with one worker index twice are refused.
pub fn read(
    dirs: &[PathBuf],
    contract: &std::sync::Arc<crate::domain::Contract>,
) -> anyhow::Result<Merged> {
    let workers: Vec<Worker> = dirs
        .iter()
        .map(|d| Worker::read(d))
        .collect::<anyhow::Result<_>>()?;
    let Some(first) = workers.first() else {
        bail!("no results folder to merge");
    };
    for w in &workers[1..] {
        if w.scenario_text != first.scenario_text {
            bail!(
                "{} and {} ran different scenarios ({} and {}); only runs of one scenario merge",
                first.dir.display(),
                w.dir.display(),
                first.summary.scenario,
                w.summary.scenario
            );
        }
        if w.count != first.count {
            bail!(
                "{} is a worker of {} and {} of {}: not one run",
                first.dir.display(),
                first.count,
                w.dir.display(),
                w.count
            );
        }
    }
    let mut seen: BTreeMap<u64, &Path> = BTreeMap::new();
    for w in &workers {
        if let Some(other) = seen.insert(w.index, &w.dir) {
            bail!(
                "{} and {} are both worker {}/{}: overlapping worker indexes",
                other.display(),
                w.dir.display(),
                w.index,
                w.count
            );
        }
    }
    let missing = (0..first.count).filter(|i| !seen.contains_key(i)).collect();
    let plan = RunPlan::parse(
        &first.scenario_text,
        &first.dir.join("scenario.toml"),
        contract,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let facts = RunFacts::of(&plan)?;
    if facts.search && workers.len() > 1 {
        bail!(
            "{} and {} are folders of a capacity search, which runs as one process: not one run",
            first.dir.display(),
            workers[1].dir.display()
        );
    }
    let base = workers.iter().map(|w| w.start).min().unwrap_or(first.start);
    let mut merged = Merged {
        plan,
        facts,
        count: first.count,
        missing,
        base,
        intervals: BTreeMap::new(),
        counts: BTreeMap::new(),
        totals_h: BTreeMap::new(),
        token_h: Some(histogram()),
        totals: Vec::new(),
        phases: Default::default(),
        seconds: 0.0,
        workers: Vec::new(),
    };
    merged.join(&workers)?;
    merged.totals = totals(&workers, &merged.totals_h)?;
    merged.seconds = seconds(&workers, merged.facts.planned.as_secs_f64());
    merged.workers = workers;
    Ok(merged)
}

/// Per service (those a worker lists, or that had requests): histograms
/// added, outcome classes summed.
fn totals(
    workers: &[Worker],
    totals_h: &BTreeMap<String, Histogram<u64>>,
) -> anyhow::Result<Vec<ServiceTotals>> {
    let mut totals = Vec::new();
    for service in Service::ALL {
        let mut outcomes: BTreeMap<Outcome, u64> = BTreeMap::new();
        let mut slowest = Vec::new();
        let mut listed = false;
        for w in workers {
            let Some(s) = w.summary.services.get(service.name()) else {
                continue;
            };
            listed = true;
            *outcomes.entry(Outcome::Ok).or_default() += s.stored;
            *outcomes.entry(Outcome::RejectedAsExpected).or_default() += s.rejected_as_expected;
            for (label, n) in &s.errors {
                let o = Outcome::from_label(label).with_context(|| {
                    format!(
                        "{}: unknown error class {label:?}",
                        w.summary_path().display()
                    )
                })?;
                *outcomes.entry(o).or_default() += n;
            }
            for slow in s.slowest.iter().flatten() {
                let request = slow.request().map_err(|e| {
                    anyhow::anyhow!(
                        "{}: services.{}.slowest: {e}",
                        w.summary_path().display(),
                        service.name()
                    )
                })?;
                crate::metrics::keep_slowest(&mut slowest, [request]);
            }
        }
        outcomes.retain(|_, n| *n > 0);
        let get = |kind: &str| {
            totals_h
                .get(&format!("{}/{kind}", service.name()))
                .cloned()
                .unwrap_or_else(histogram)
        };
        if !listed && outcomes.is_empty() && get("latency").is_empty() {
            continue;
        }
        totals.push(ServiceTotals {
            service,
            latency: get("latency"),
            service_time: get("service_time"),
            send_lag: get("send_lag"),
            outcomes,
            slowest,
            exemplars: Vec::new(),
        });
    }
    Ok(totals)
}

/// How long the joined load lasted: as planned, or, when a signal stopped a
/// worker, as long as the longest of them.
fn seconds(workers: &[Worker], planned: f64) -> f64 {
    if workers.iter().all(|w| w.summary.interrupted.is_none()) {
        planned
    } else {
        workers
            .iter()
            .map(|w| w.summary.duration_s)
            .fold(0.0, f64::max)
            .min(planned)
    }
}

impl Merged {
    /// A worker's start, in whole seconds after the earliest one.
    fn offset(&self, w: &Worker) -> u64 {
        w.start
            .duration_since(self.base)
            .unwrap_or_default()
            .as_secs_f64()
            .round() as u64
    }

    /// The workers' delivery joined on wall-clock seconds; `None` when a
    /// worker's folder was written before delivery was recorded.
    fn delivery(&self) -> Option<DeliveryRecord> {
        let mut services = [[0u64; 2]; 2];
        let mut in_flight_cap = 0;
        for w in &self.workers {
            let d = w.summary.delivery.as_ref()?;
            in_flight_cap += d.in_flight_cap;
            for (i, s) in Service::ALL.into_iter().enumerate() {
                if let Some(sd) = d.services.get(s.name()) {
                    services[i][0] += sd.sent;
                    services[i][1] += sd.dropped;
                }
            }
        }
        let parts: Vec<(u64, &[super::delivery::DeliveryRow])> = self
            .workers
            .iter()
            .map(|w| (self.offset(w), &w.delivery[..]))
            .collect();
        Some(DeliveryRecord {
            rows: super::delivery::join(&parts),
            services,
            in_flight_cap,
        })
    }

    /// Intervals, time series, totals and token latency, on wall-clock
    /// seconds from the earliest start.
    fn join(&mut self, workers: &[Worker]) -> anyhow::Result<()> {
        for w in workers {
            let off = self.offset(w);
            for (tag, start, h) in &w.intervals {
                let key = (start.round() as u64 + off, tag.clone());
                add(self.intervals.entry(key).or_insert_with(histogram), h)?;
            }
            for r in &w.rows {
                let second = r.second + off;
                let c = self
                    .counts
                    .entry((second, r.service.clone()))
                    .or_insert_with(|| TimeseriesRow {
                        second,
                        service: r.service.clone(),
                        sent: 0,
                        stored: 0,
                        errors: 0,
                        p50_ms: 0.0,
                        p99_ms: 0.0,
                        dropped: 0,
                    });
                c.sent += r.sent;
                c.stored += r.stored;
                c.errors += r.errors;
                c.dropped += r.dropped;
            }
            for (tag, h) in &w.totals {
                add(
                    self.totals_h.entry(tag.clone()).or_insert_with(histogram),
                    h,
                )?;
            }
            match (&mut self.token_h, &w.token) {
                (Some(into), Some(h)) => add(into, h)?,
                (into, _) => *into = None,
            }
            // A folder that kept no phases timed none: it adds nothing.
            for (service, p) in w.phases.iter().flatten() {
                self.phases
                    .entry(service.clone())
                    .or_default()
                    .add(p, off)
                    .with_context(|| format!("{}: {service}", w.dir.display()))?;
            }
        }
        Ok(())
    }

    /// The latency, requests sent and errors of those sent of seconds
    /// `from..to` of the joined load.
    fn window(&self, from: u64, to: u64) -> (Histogram<u64>, u64, u64) {
        let mut h = histogram();
        let (mut completed, mut errors) = (0, 0);
        let seconds = (from, String::new())..(to, String::new());
        for part in self.intervals.range(seconds.clone()).map(|(_, h)| h) {
            let _ = h.add(part);
        }
        for c in self.counts.range(seconds).map(|(_, c)| c) {
            // Sent requests and their errors (docs/results.md).
            completed += c.sent;
            errors += c.errors.saturating_sub(c.dropped);
        }
        (h, completed, errors)
    }

    /// The joined run's record: what its `summary.json` is built from.
    pub fn record(&self) -> anyhow::Result<RunRecord<'_>> {
        let workers = &self.workers;
        let first = &workers[0];
        let planned = self.facts.planned.as_secs_f64();
        let stopped: Vec<(&Worker, &Interrupted)> = workers
            .iter()
            .filter_map(|w| w.summary.interrupted.as_ref().map(|i| (w, i)))
            .collect();
        let interrupted = stopped.first().map(|(_, first)| {
            let at_s = stopped
                .iter()
                .map(|(w, i)| i.at_s + self.offset(w) as f64)
                .fold(f64::INFINITY, f64::min);
            Interrupted {
                signal: first.signal,
                at_s: (at_s * 1000.0).round() / 1000.0,
                grace_s: first.grace_s,
                in_flight_at_signal: stopped.iter().map(|(_, i)| i.in_flight_at_signal).sum(),
                interrupted: stopped.iter().map(|(_, i)| i.interrupted).sum(),
                planned_duration_s: planned,
            }
        });
        let mut events = Vec::new();
        for w in workers {
            let off = self.offset(w) as f64;
            for e in &w.summary.token.events {
                events.push(TokenEvent {
                    at_s: ((e.at_s + off) * 1000.0).round() / 1000.0,
                    ok: e.ok,
                });
            }
        }
        let token = TokenRecord {
            requests: workers.iter().map(|w| w.summary.token.requests).sum(),
            refreshes: workers.iter().map(|w| w.summary.token.refreshes).sum(),
            latency: match &self.token_h {
                Some(h) => TokenLatency::Histogram(h.clone()),
                None => TokenLatency::Percentiles(first.summary.token.latency_us),
            },
            events,
        };
        // The first start and the last end.
        let times = |pick: fn(&Summary) -> &str| workers.iter().map(move |w| pick(&w.summary));
        let started = times(|s| &s.started_at)
            .min()
            .unwrap_or_default()
            .to_owned();
        let ended = times(|s| &s.ended_at).max().unwrap_or_default().to_owned();
        let mut audit = first.summary.audit.clone();
        if let Some(audit) = &mut audit {
            audit.started_at = started.clone();
            audit.ended_at = ended.clone();
            if let Some(p) = &mut audit.production {
                p.requests_admitted = workers
                    .iter()
                    .filter_map(|w| w.summary.audit.as_ref()?.production.as_ref())
                    .map(|p| p.requests_admitted)
                    .sum();
            }
            if let Some(f) = &mut audit.feeder {
                let all = || {
                    workers
                        .iter()
                        .filter_map(|w| w.summary.audit.as_ref()?.feeder.as_ref())
                };
                f.rows_sent = all().map(|f| f.rows_sent).sum();
                f.exhausted = all().any(|f| f.exhausted);
            }
        }
        let mut meta = first.summary.meta.clone();
        if let Some(meta) = &mut meta {
            meta.worker = Some(WorkerShare { index: 0, count: 1 });
            meta.merged_workers = Some(workers.iter().map(|w| w.index).collect());
        }
        let alone = (workers.len() == 1).then_some(first);
        let delivery = self.delivery();
        Ok(RunRecord {
            target: first.summary.target.clone(),
            started_at: started,
            ended_at: ended,
            seconds: self.seconds,
            interrupted,
            totals: self.totals.clone(),
            retries: retries(workers),
            unexpected: unexpected(workers),
            token,
            audit,
            meta,
            stored: match alone {
                Some(w) => stored(w)?,
                None => StoredRecord::default(),
            },
            faults: alone.and_then(|w| w.summary.faults.clone()),
            delivery,
            search_steps: self.facts.search.then(|| first.summary.stages.clone()),
            window: Box::new(|from, to| self.window(from, to)),
            // One folder's ledger is the run's; several workers' are each
            // their own (named in their folders).
            ledger: alone.and_then(|w| w.summary.ledger.clone()),
            phases: Some(self.phases.clone()),
        })
    }

    /// Write the joined run's folder `dir`: `summary`, the interval logs, the
    /// time series, the errors and the scenario, as a single run writes them.
    pub fn write(&self, dir: &Path, summary: &Summary) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let write = |name: &str, bytes: &[u8]| super::write_file(dir, name, bytes);
        super::write_summary(dir, summary)?;
        let interval_entries: Vec<(String, Duration, &Histogram<u64>)> = self
            .intervals
            .iter()
            .map(|((second, tag), h)| (tag.clone(), Duration::from_secs(*second), h))
            .collect();
        let entries: Vec<(&str, Duration, Duration, &Histogram<u64>)> = interval_entries
            .iter()
            .map(|(tag, at, h)| (tag.as_str(), *at, Duration::from_secs(1), *h))
            .collect();
        let mut log = Vec::new();
        write_tagged_hlog(
            &mut log,
            self.base,
            "mss-harness latency from the intended send time, microseconds (merged)",
            &entries,
        )?;
        write("latency.hlog", &log)?;
        let length = Duration::from_secs_f64(self.seconds);
        let total_entries: Vec<(&str, Duration, Duration, &Histogram<u64>)> = self
            .totals_h
            .iter()
            .map(|(tag, h)| (tag.as_str(), Duration::ZERO, length, h))
            .collect();
        let mut log = Vec::new();
        write_tagged_hlog(
            &mut log,
            self.base,
            "mss-harness run totals, microseconds: <service>/latency, <service>/service_time and <service>/send_lag (merged)",
            &total_entries,
        )?;
        write("histograms.hlog", &log)?;
        if let Some(token_h) = &self.token_h {
            let mut log = Vec::new();
            write_tagged_hlog(
                &mut log,
                self.base,
                "mss-harness token request latency over the run, microseconds (merged)",
                &[("token/latency", Duration::ZERO, length, token_h)],
            )?;
            write("token.hlog", &log)?;
        }
        super::phases::write(dir, &self.phases, self.base, self.seconds)?;
        let rows: Vec<TimeseriesRow> = self
            .counts
            .iter()
            .map(|((second, service), c)| {
                let h = self.intervals.get(&(*second, service.clone()));
                let q = |q: f64| {
                    h.filter(|h| !h.is_empty())
                        .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
                };
                TimeseriesRow {
                    p50_ms: q(0.5),
                    p99_ms: q(0.99),
                    ..c.clone()
                }
            })
            .collect();
        write("timeseries.csv", &super::rows::timeseries_csv(&rows)?)?;
        let delivery = self.delivery().map(|d| d.rows).unwrap_or_default();
        write("delivery.csv", &super::delivery::csv(&delivery)?)?;
        write(
            "errors.csv",
            &super::rows::errors_csv(&super::rows::error_rows(&self.totals))?,
        )?;
        write("scenario.toml", self.workers[0].scenario_text.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use crate::hdr::{histogram, record};

    /// Adding two workers' histograms is exactly recording every sample in one.
    #[test]
    fn merging_histograms_equals_recording_all_samples() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut a, mut b, mut all) = (histogram(), histogram(), histogram());
        for n in 0..200_000u32 {
            // Microseconds from 50 µs to ~100 s, heavy-tailed.
            let v = (50.0 * (rng.random::<f64>() * 14.5).exp()) as u64;
            record(if n % 3 == 0 { &mut a } else { &mut b }, v);
            record(&mut all, v);
        }
        let mut merged = histogram();
        super::add(&mut merged, &a).expect("add");
        super::add(&mut merged, &b).expect("add");
        assert_eq!(merged.len(), all.len());
        assert_eq!((merged.min(), merged.max()), (all.min(), all.max()));
        for q in 0..=10_000u32 {
            let q = f64::from(q) / 10_000.0;
            assert_eq!(
                merged.value_at_quantile(q),
                all.value_at_quantile(q),
                "q {q}"
            );
        }
        let counts = |h: &hdrhistogram::Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&merged), counts(&all));
    }
}
