//! `mss-harness merge DIR... --out DIR`: the results of N workers as one run,
//! exactly — HdrHistogram addition of every interval and of the totals,
//! summed counts and error classes, time series joined on wall-clock seconds —
//! written as a single run writes them (summary, hlogs, timeseries, errors,
//! reports), with the thresholds judged on the merged result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use crate::domain::Service;
use crate::hdr::histogram;
use crate::metrics::{ServiceTotals, write_tagged_hlog};
use crate::outcome::Outcome;
use crate::results::collect::RunFacts;
use crate::results::{
    Interrupted, Percentiles, Reconciliation, Summary, TimeseriesRow, Token, TokenEvent,
    Worker as WorkerShare,
};
use crate::scenario::RunPlan;

/// Flags of `merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The workers' results folders.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged results go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// An interval log's entries: tag, start in seconds, histogram.
type Entries = Vec<(String, f64, Histogram<u64>)>;

/// One worker's folder, read.
struct Worker {
    dir: PathBuf,
    summary: Summary,
    scenario_text: String,
    index: u64,
    count: u64,
    start: SystemTime,
    intervals: Entries,
    totals: Vec<(String, Histogram<u64>)>,
    token: Option<Histogram<u64>>,
    rows: Vec<TimeseriesRow>,
}

fn read_log(path: &Path) -> anyhow::Result<(Option<SystemTime>, Entries)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((
        crate::hlog::start_time(&bytes),
        crate::hlog::read(&bytes, path)?,
    ))
}

impl Worker {
    fn read(dir: &Path) -> anyhow::Result<Worker> {
        let summary = crate::results::read_summary(dir)?;
        let scenario_text = std::fs::read_to_string(dir.join("scenario.toml"))
            .with_context(|| format!("cannot read {}", dir.join("scenario.toml").display()))?;
        let (start, intervals) = read_log(&dir.join("latency.hlog"))?;
        let start = start.with_context(|| {
            format!(
                "{}: no StartTime in its header",
                dir.join("latency.hlog").display()
            )
        })?;
        let (_, totals) = read_log(&dir.join("histograms.hlog"))?;
        let token = match dir.join("token.hlog") {
            p if p.is_file() => read_log(&p)?.1.into_iter().next().map(|(_, _, h)| h),
            _ => None,
        };
        let rows = crate::results::read_timeseries(dir)?;
        let path = dir.join("summary.json");
        let worker = summary
            .meta
            .as_ref()
            .and_then(|m| m.worker)
            .with_context(|| format!("{}: key `meta.worker` missing", path.display()))?;
        Ok(Worker {
            dir: dir.to_path_buf(),
            index: worker.index,
            count: worker.count,
            summary,
            scenario_text,
            start,
            intervals,
            totals: totals.into_iter().map(|(t, _, h)| (t, h)).collect(),
            token,
            rows,
        })
    }
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) -> anyhow::Result<()> {
    into.add(h)
        .map_err(|e| anyhow::anyhow!("histogram addition: {e:?}"))
}

/// Merge `args.dirs` into `args.out`; the exit code (0 thresholds hold, 1 not).
pub fn run(args: &MergeArgs) -> anyhow::Result<u8> {
    let workers: Vec<Worker> = args
        .dirs
        .iter()
        .map(|d| Worker::read(d))
        .collect::<anyhow::Result<_>>()?;
    let first = &workers[0];
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
    if workers.len() as u64 != first.count {
        eprintln!(
            "merge: {} of {} workers given (missing: {:?}); the result covers only these",
            workers.len(),
            first.count,
            (0..first.count)
                .filter(|i| !seen.contains_key(i))
                .collect::<Vec<_>>()
        );
    }
    let scenario = RunPlan::parse(
        &first.scenario_text,
        &first.dir.join("scenario.toml"),
        mss_contract::Contract::embedded(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = workers.iter().map(|w| w.start).min().unwrap_or(first.start);
    let offset = |w: &Worker| -> u64 {
        w.start
            .duration_since(base)
            .unwrap_or_default()
            .as_secs_f64()
            .round() as u64
    };

    // Intervals and time series, on wall-clock seconds from the earliest start.
    let mut intervals: BTreeMap<(u64, String), Histogram<u64>> = BTreeMap::new();
    let mut counts: BTreeMap<(u64, String), TimeseriesRow> = BTreeMap::new();
    let mut totals_h: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut token_h = histogram();
    let mut token_complete = true;
    for w in &workers {
        let off = offset(w);
        for (tag, start, h) in &w.intervals {
            let key = (start.round() as u64 + off, tag.clone());
            add(intervals.entry(key).or_insert_with(histogram), h)?;
        }
        for r in &w.rows {
            let second = r.second + off;
            let c = counts
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
            add(totals_h.entry(tag.clone()).or_insert_with(histogram), h)?;
        }
        match &w.token {
            Some(h) => add(&mut token_h, h)?,
            None => token_complete = false,
        }
    }

    // Per-service totals: histograms added, outcome classes summed.
    let mut totals = Vec::new();
    for service in Service::ALL {
        let mut outcomes: BTreeMap<Outcome, u64> = BTreeMap::new();
        for w in &workers {
            let Some(s) = w.summary.services.get(service.name()) else {
                continue;
            };
            *outcomes.entry(Outcome::Ok).or_default() += s.stored;
            *outcomes.entry(Outcome::RejectedAsExpected).or_default() += s.rejected_as_expected;
            for (label, n) in &s.errors {
                let o = Outcome::from_label(label).with_context(|| {
                    format!(
                        "{}: unknown error class {label:?}",
                        w.dir.join("summary.json").display()
                    )
                })?;
                *outcomes.entry(o).or_default() += n;
            }
        }
        outcomes.retain(|_, n| *n > 0);
        let get = |kind: &str| {
            totals_h
                .get(&format!("{}/{kind}", service.name()))
                .cloned()
                .unwrap_or_else(histogram)
        };
        if outcomes.is_empty() && get("latency").is_empty() {
            continue;
        }
        totals.push(ServiceTotals {
            service,
            latency: get("latency"),
            service_time: get("service_time"),
            send_lag: get("send_lag"),
            outcomes,
        });
    }

    // Workers a signal stopped lasted less than planned: the merged load
    // lasted as long as the longest of them.
    let stopped: Vec<(&Worker, &Interrupted)> = workers
        .iter()
        .filter_map(|w| w.summary.interrupted.as_ref().map(|i| (w, i)))
        .collect();
    let planned = scenario.duration().as_secs_f64();
    let seconds = if stopped.is_empty() {
        planned
    } else {
        workers
            .iter()
            .map(|w| w.summary.duration_s)
            .fold(0.0, f64::max)
            .min(planned)
    };
    let interrupted = stopped.first().map(|(_, first)| {
        let at_s = stopped
            .iter()
            .map(|(w, i)| i.at_s + offset(w) as f64)
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
    let facts = RunFacts::of(&scenario)?;
    let (services, dropped) = crate::results::collect::services(&totals);
    let thresholds = crate::verdict::thresholds(&facts.thresholds, &totals, seconds);
    let window = |from: u64, to: u64| {
        let mut h = histogram();
        let (mut completed, mut errors) = (0, 0);
        let seconds = (from, String::new())..(to, String::new());
        for part in intervals.range(seconds.clone()).map(|(_, h)| h) {
            let _ = h.add(part);
        }
        for c in counts.range(seconds).map(|(_, c)| c) {
            // Sent requests and their errors (crate::verdict).
            completed += c.sent;
            errors += c.errors.saturating_sub(c.dropped);
        }
        (h, completed, errors)
    };
    let (stages, highest) = match &facts.open {
        Some((start_rate, stages)) => {
            crate::verdict::plateaus(*start_rate, stages, &facts.plateau_checks, seconds, &window)
        }
        None => (Vec::new(), None),
    };
    let capacity = crate::capacity::of_run(&scenario, &stages, &window);
    let mut events = Vec::new();
    for w in &workers {
        let off = offset(w) as f64;
        for e in &w.summary.token.events {
            events.push(TokenEvent {
                at_s: ((e.at_s + off) * 1000.0).round() / 1000.0,
                ok: e.ok,
            });
        }
    }
    let started = workers
        .iter()
        .map(|w| w.summary.started_at.as_str())
        .min()
        .unwrap_or_default()
        .to_owned();
    let ended = workers
        .iter()
        .map(|w| w.summary.ended_at.as_str())
        .max()
        .unwrap_or_default()
        .to_owned();
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
    }
    let mut meta = first.summary.meta.clone();
    if let Some(meta) = &mut meta {
        meta.worker = Some(WorkerShare { index: 0, count: 1 });
        meta.merged_workers = Some(workers.iter().map(|w| w.index).collect());
    }
    let summary = Summary {
        schema_version: crate::results::SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: first.summary.scenario.clone(),
        target: first.summary.target.clone(),
        started_at: started,
        ended_at: ended,
        duration_s: seconds,
        interrupted,
        services,
        token: Token {
            requests: workers.iter().map(|w| w.summary.token.requests).sum(),
            refreshes: workers.iter().map(|w| w.summary.token.refreshes).sum(),
            latency_us: if token_complete {
                Percentiles::of(&token_h)
            } else {
                first.summary.token.latency_us
            },
            events,
        },
        audit,
        meta,
        dropped,
        thresholds,
        stages,
        highest_sustained_rate: highest,
        reconciliation: Reconciliation::unchecked(),
        faults: None,
        capacity,
    };

    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| crate::results::write_file(dir, name, bytes);
    write(
        "summary.json",
        (crate::results::summary_text(&summary)? + "\n").as_bytes(),
    )?;
    let interval_entries: Vec<(String, Duration, &Histogram<u64>)> = intervals
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
        base,
        "mss-harness latency from the intended send time, microseconds (merged)",
        &entries,
    )?;
    write("latency.hlog", &log)?;
    let length = Duration::from_secs_f64(seconds);
    let total_entries: Vec<(&str, Duration, Duration, &Histogram<u64>)> = totals_h
        .iter()
        .map(|(tag, h)| (tag.as_str(), Duration::ZERO, length, h))
        .collect();
    let mut log = Vec::new();
    write_tagged_hlog(
        &mut log,
        base,
        "mss-harness run totals, microseconds: <service>/latency, <service>/service_time and <service>/send_lag (merged)",
        &total_entries,
    )?;
    write("histograms.hlog", &log)?;
    if token_complete {
        let mut log = Vec::new();
        write_tagged_hlog(
            &mut log,
            base,
            "mss-harness token request latency over the run, microseconds (merged)",
            &[("token/latency", Duration::ZERO, length, &token_h)],
        )?;
        write("token.hlog", &log)?;
    }
    let rows: Vec<TimeseriesRow> = counts
        .iter()
        .map(|((second, service), c)| {
            let h = intervals.get(&(*second, service.clone()));
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
    write(
        "timeseries.csv",
        &crate::results::rows::timeseries_csv(&rows)?,
    )?;
    write(
        "errors.csv",
        &crate::results::rows::errors_csv(&crate::results::collect::error_rows(&totals))?,
    )?;
    write("scenario.toml", first.scenario_text.as_bytes())?;
    crate::report::write_all(dir).context("the reports")?;
    crate::results::table::print(&summary, dir);
    let passed = summary.thresholds.iter().all(|t| t.ok);
    Ok(if passed { 0 } else { 1 })
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
