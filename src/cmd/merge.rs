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
use serde_json::{Value, json};

use super::run::{
    errors_csv, percentiles_json, plateaus, print_table, services_json, thresholds_json,
};
use crate::domain::Service;
use crate::metrics::{Percentiles, ServiceTotals, histogram, write_tagged_hlog};
use crate::outcome::Outcome;
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
    summary: Value,
    scenario_text: String,
    index: u64,
    count: u64,
    start: SystemTime,
    intervals: Entries,
    totals: Vec<(String, Histogram<u64>)>,
    token: Option<Histogram<u64>>,
    rows: Vec<(u64, String, u64, u64, u64)>,
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
        let summary = crate::report::read_summary(dir)?;
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
        let ts = dir.join("timeseries.csv");
        let mut rows = Vec::new();
        let mut reader =
            csv::Reader::from_path(&ts).with_context(|| format!("cannot read {}", ts.display()))?;
        for (n, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{}: row {}", ts.display(), n + 2))?;
            let num = |i: usize| -> anyhow::Result<u64> {
                row.get(i)
                    .and_then(|v| v.parse().ok())
                    .with_context(|| format!("{}: row {}: column {}", ts.display(), n + 2, i + 1))
            };
            rows.push((
                num(0)?,
                row.get(1).unwrap_or_default().to_owned(),
                num(2)?,
                num(3)?,
                num(4)?,
            ));
        }
        let worker = &summary["meta"]["worker"];
        Ok(Worker {
            dir: dir.to_path_buf(),
            index: worker["index"].as_u64().unwrap_or(0),
            count: worker["count"].as_u64().unwrap_or(1),
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
                first.summary["scenario"].as_str().unwrap_or("?"),
                w.summary["scenario"].as_str().unwrap_or("?")
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
    let scenario = RunPlan::parse(&first.scenario_text, &first.dir.join("scenario.toml"))
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
    let mut counts: BTreeMap<(u64, String), (u64, u64, u64)> = BTreeMap::new();
    let mut totals_h: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut token_h = histogram();
    let mut token_complete = true;
    for w in &workers {
        let off = offset(w);
        for (tag, start, h) in &w.intervals {
            let key = (start.round() as u64 + off, tag.clone());
            add(intervals.entry(key).or_insert_with(histogram), h)?;
        }
        for (second, service, sent, stored, errors) in &w.rows {
            let c = counts.entry((second + off, service.clone())).or_default();
            c.0 += sent;
            c.1 += stored;
            c.2 += errors;
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
            let s = &w.summary["services"][service.name()];
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            *outcomes.entry(Outcome::Ok).or_default() += n("stored");
            *outcomes.entry(Outcome::RejectedAsExpected).or_default() += n("rejected_as_expected");
            for (label, n) in s["errors"].as_object().into_iter().flatten() {
                let o = Outcome::from_label(label).with_context(|| {
                    format!(
                        "{}: unknown error class {label:?}",
                        w.dir.join("summary.json").display()
                    )
                })?;
                *outcomes.entry(o).or_default() += n.as_u64().unwrap_or(0);
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
            outcomes,
        });
    }

    // Workers a signal stopped lasted less than planned: the merged load
    // lasted as long as the longest of them.
    let stopped: Vec<&Worker> = workers
        .iter()
        .filter(|w| w.summary["interrupted"].is_object())
        .collect();
    let planned = scenario.duration().as_secs_f64();
    let seconds = if stopped.is_empty() {
        planned
    } else {
        workers
            .iter()
            .filter_map(|w| w.summary["duration_s"].as_f64())
            .fold(0.0, f64::max)
            .min(planned)
    };
    let interrupted = match stopped.first() {
        None => Value::Null,
        Some(first) => {
            let at_s = stopped
                .iter()
                .map(|w| {
                    w.summary["interrupted"]["at_s"].as_f64().unwrap_or(0.0) + offset(w) as f64
                })
                .fold(f64::INFINITY, f64::min);
            let sum = |k: &str| {
                stopped
                    .iter()
                    .map(|w| w.summary["interrupted"][k].as_u64().unwrap_or(0))
                    .sum::<u64>()
            };
            json!({
                "signal": first.summary["interrupted"]["signal"],
                "at_s": (at_s * 1000.0).round() / 1000.0,
                "grace_s": first.summary["interrupted"]["grace_s"],
                "in_flight_at_signal": sum("in_flight_at_signal"),
                "interrupted": sum("interrupted"),
                "planned_duration_s": planned,
            })
        }
    };
    let (services, dropped) = services_json(&totals);
    let thresholds = thresholds_json(&scenario, &totals, seconds);
    let window = |from: u64, to: u64| {
        let mut h = histogram();
        let (mut completed, mut errors) = (0, 0);
        let seconds = (from, String::new())..(to, String::new());
        for part in intervals.range(seconds.clone()).map(|(_, h)| h) {
            let _ = h.add(part);
        }
        for (sent, _, err) in counts.range(seconds).map(|(_, c)| c) {
            completed += sent;
            errors += err;
        }
        (h, completed, errors)
    };
    let (stages, highest) = plateaus(&scenario, seconds, &window);
    let capacity = crate::capacity::of_run(&scenario, &stages, &window);
    let sum = |f: &dyn Fn(&Value) -> u64| workers.iter().map(|w| f(&w.summary)).sum::<u64>();
    let mut events = Vec::new();
    for w in &workers {
        let off = offset(w) as f64;
        for e in w.summary["token"]["events"]
            .as_array()
            .into_iter()
            .flatten()
        {
            events.push(json!({
                "at_s": ((e["at_s"].as_f64().unwrap_or(0.0) + off) * 1000.0).round() / 1000.0,
                "ok": e["ok"],
            }));
        }
    }
    let started = workers
        .iter()
        .filter_map(|w| w.summary["started_at"].as_str())
        .min()
        .unwrap_or_default()
        .to_owned();
    let ended = workers
        .iter()
        .filter_map(|w| w.summary["ended_at"].as_str())
        .max()
        .unwrap_or_default()
        .to_owned();
    let mut audit = first.summary["audit"].clone();
    if audit.is_object() {
        audit["started_at"] = started.clone().into();
        audit["ended_at"] = ended.clone().into();
        if audit["production"].is_object() {
            audit["production"]["requests_admitted"] = sum(&|s: &Value| {
                s["audit"]["production"]["requests_admitted"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .into();
        }
    }
    let mut meta = first.summary["meta"].clone();
    meta["worker"] = json!({"index": 0, "count": 1});
    meta["merged_workers"] = json!(workers.iter().map(|w| w.index).collect::<Vec<_>>());
    let summary = json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": first.summary["scenario"],
        "target": first.summary["target"],
        "started_at": started,
        "ended_at": ended,
        "duration_s": seconds,
        "interrupted": interrupted,
        "services": services,
        "token": {
            "requests": sum(&|s: &Value| s["token"]["requests"].as_u64().unwrap_or(0)),
            "refreshes": sum(&|s: &Value| s["token"]["refreshes"].as_u64().unwrap_or(0)),
            "latency_us": if token_complete { percentiles_json(&Percentiles::of(&token_h)) } else { first.summary["token"]["latency_us"].clone() },
            "events": events,
        },
        "audit": audit,
        "meta": meta,
        "dropped": dropped,
        "thresholds": thresholds,
        "stages": stages,
        "highest_sustained_rate": highest,
        "reconciliation": {"checked": false, "ok": Value::Null, "services": {}},
    });
    let mut summary = summary;
    if let Some(c) = capacity {
        summary["capacity"] = c;
    }

    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), bytes)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write(
        "summary.json",
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
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
        "mss-harness run totals, microseconds: <service>/latency and <service>/service_time (merged)",
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
    let mut ts = csv::Writer::from_writer(Vec::new());
    ts.write_record(crate::report::TIMESERIES_HEADER)?;
    for ((second, service), (sent, stored, errors)) in &counts {
        let h = intervals.get(&(*second, service.clone()));
        let q = |q: f64| {
            h.filter(|h| !h.is_empty())
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        ts.write_record([
            second.to_string(),
            service.clone(),
            sent.to_string(),
            stored.to_string(),
            errors.to_string(),
            format!("{:.3}", q(0.5)),
            format!("{:.3}", q(0.99)),
        ])?;
    }
    write(
        "timeseries.csv",
        &ts.into_inner()
            .map_err(|e| anyhow::anyhow!("timeseries.csv: {e}"))?,
    )?;
    write("errors.csv", &errors_csv(&totals)?)?;
    write("scenario.toml", first.scenario_text.as_bytes())?;
    crate::report::write_all(dir).context("the reports")?;
    print_table(&summary, dir);
    let passed = summary["thresholds"]
        .as_array()
        .is_some_and(|t| t.iter().all(|x| x["ok"] == true));
    Ok(if passed { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use crate::metrics::{histogram, record};

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
