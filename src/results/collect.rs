//! A run's results, collected from its [`RunContext`] when the load is over
//! into its [`RunRecord`] (what `summary.json` is built from), and written to
//! its folder: `summary.json`, the three interval logs, `timeseries.csv`,
//! `errors.csv` and `scenario.toml`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::delivery::DeliveryRow;
use super::record::{
    DeliveryRecord, RunFacts, RunRecord, StoredCounts, StoredRecord, TokenLatency, TokenRecord,
};
use super::{
    Audit, Faults, FeederAudit, Interrupted, Meta, Production, Retries, Signal, Stage, Summary,
    TimeseriesRow, TokenEvent, UnknownOutcome, Unresolved, Worker,
};
use crate::domain::Service;
use crate::engine::{self, RunContext};
use crate::outcome::Outcome;

/// What the run's driver adds: the target's count, the faults, the steps of
/// a capacity search.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// Records the target stored during the run, per service, when known.
    pub target_accepted: Option<[u64; 2]>,
    /// `mock (embedded)` or the base URL.
    pub target_label: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// Faults scheduled and injected (`None`: none scheduled).
    pub faults: Option<Faults>,
    /// A capacity search's steps, judged as it went.
    pub search_steps: Option<Vec<Stage>>,
}

/// The host of a target URL (`mock (embedded)` for the embedded mock).
fn target_host(url: &str) -> String {
    if url == "mock" {
        return "mock (embedded)".to_owned();
    }
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn git_commit() -> Option<String> {
    Some(env!("MSS_GIT_COMMIT"))
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// The record of a run whose load is over: what its summary is built from
/// (the verdict's `build_summary`).
pub fn record<'a>(facts: &RunFacts, ctx: &'a RunContext, end: RunEnd) -> RunRecord<'a> {
    let metrics = ctx.metrics();
    let totals = metrics.totals();
    let interrupted_per = |s: Service| {
        totals
            .iter()
            .filter(|t| t.service == s)
            .map(|t| t.count(&Outcome::Interrupted))
            .sum::<u64>()
    };
    let interrupted = ctx.interruption().map(|i| {
        let at_s = ctx.started().map_or(0.0, |start| {
            i.at.saturating_duration_since(start).as_secs_f64()
        });
        Interrupted {
            signal: match i.signal {
                crate::interrupt::Signal::Int => Signal::Sigint,
                crate::interrupt::Signal::Term => Signal::Sigterm,
            },
            at_s: round3(at_s),
            grace_s: i.grace.as_secs_f64(),
            in_flight_at_signal: i.in_flight as u64,
            interrupted: Service::ALL.into_iter().map(interrupted_per).sum(),
            planned_duration_s: facts.planned.as_secs_f64(),
        }
    });
    let doubts = ctx.doubts();
    let counts = end.target_accepted.map(|target| StoredCounts {
        target,
        harness: ctx.stored(),
        // A request abandoned by a stop, or left unresolved, may or may not
        // have been stored.
        unanswered: Service::ALL.map(|s| {
            interrupted_per(s)
                + doubts
                    .unresolved
                    .iter()
                    .filter(|(svc, _, r)| *svc == s && *r == engine::Resolution::Unknown)
                    .count() as u64
        }),
    });
    let stored = StoredRecord {
        counts,
        unknown_outcome: Some(
            doubts
                .unknown_outcome
                .iter()
                .map(|(s, r)| UnknownOutcome {
                    service: s.name().to_owned(),
                    numero_radicado: r.clone(),
                })
                .collect(),
        ),
        idempotent_duplicates: Some(doubts.idempotent_duplicates),
        unresolved: Some(
            doubts
                .unresolved
                .iter()
                .map(|(s, r, how)| Unresolved {
                    service: s.name().to_owned(),
                    numero_radicado: r.clone(),
                    resolution: match how {
                        engine::Resolution::StoredBefore => super::Resolution::StoredBefore,
                        engine::Resolution::SentAgain => super::Resolution::SentAgain,
                        engine::Resolution::Unknown => super::Resolution::Unknown,
                    },
                })
                .collect(),
        ),
    };
    let (sent, refused) = ctx.retries();
    let retries = [0, 1].map(|i| Retries {
        sent: sent[i],
        refused_by_budget: refused[i],
    });
    let production = ctx.limiter().map(|l| Production {
        max_rate: facts.caps.max_rate,
        max_duration_s: facts.caps.max_duration.as_secs_f64(),
        max_requests: facts.caps.max_requests,
        requests_admitted: l.sent(),
        cap_reached: l.reached().map(str::to_owned),
    });
    let started_at = end.started_at.to_rfc3339();
    let ended_at = end.ended_at.to_rfc3339();
    RunRecord {
        target: end.target_label.clone(),
        started_at: started_at.clone(),
        ended_at: ended_at.clone(),
        // Rates divide by how long the load lasted: less than planned when stopped.
        seconds: ctx.load_seconds(),
        interrupted,
        totals,
        retries: Some(retries),
        unexpected: Some(ctx.unexpected()),
        token: token(ctx),
        audit: Some(Audit {
            os_user: super::audit::os_user(),
            machine: super::audit::machine(),
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: git_commit(),
            scenario_sha256: super::audit::sha256_hex(facts.scenario_toml.as_bytes()),
            target: end.target_label,
            production,
            feeder: ctx.feeder().map(|f| FeederAudit {
                file: f.file,
                strategy: f.strategy.name().to_owned(),
                rows: f.rows,
                rows_sent: f.taken,
                exhausted: f.exhausted,
            }),
            started_at,
            ended_at,
        }),
        meta: Some(Meta {
            worker: Some(Worker {
                index: u64::from(ctx.worker().0),
                count: u64::from(ctx.worker().1),
            }),
            seed: facts.seed,
            administradora: facts.administradora.clone(),
            target_host: target_host(&facts.target_url),
            git_commit: git_commit(),
            merged_workers: None,
        }),
        stored,
        faults: Some(end.faults),
        search_steps: end.search_steps,
        delivery: Some(delivery(ctx)),
        window: Box::new(move |from, to| metrics.window(from, to)),
        ledger: ctx.ledger().map(|l| super::summary::LedgerFile {
            file: l.path().display().to_string(),
            lines: l.lines(),
        }),
        phases: Some(phases(ctx)),
    }
}

/// The run's phase timings: each report service's, and the token requests'
/// (one token cache may serve both services, each counted once); a service
/// that timed no exchange is left out.
fn phases(ctx: &RunContext) -> super::phases::PhaseRecord {
    use super::phases::{PhaseRecord, ServicePhases, TOKEN};
    let mut record = PhaseRecord::new();
    for (service, h) in Service::ALL.into_iter().zip(ctx.metrics().phases()) {
        if h.exchanges() > 0 {
            record.insert(service.name().to_owned(), ServicePhases::of(&h));
        }
    }
    let mut token = crate::transport::PhaseHistograms::new();
    for cache in ctx.token_caches() {
        token.add(&cache.phases());
    }
    if token.exchanges() > 0 {
        record.insert(TOKEN.to_owned(), ServicePhases::of(&token));
    }
    record
}

/// The run's delivery, second by second: the plan's tickets by the second
/// they were due, the in-flight peak, the harness's CPU and the services'
/// highest send-lag p99 in each second.
fn delivery(ctx: &RunContext) -> DeliveryRecord {
    let mut lag = std::collections::BTreeMap::<u64, u64>::new();
    for i in ctx.metrics().intervals() {
        let l = lag.entry(i.second).or_default();
        *l = (*l).max(i.send_lag_p99_us);
    }
    let tenth = |v: f64| (v * 10.0).round() / 10.0;
    let mut services = [[0u64; 2]; 2];
    let rows = ctx
        .delivery()
        .into_iter()
        .map(|s| {
            for (into, from) in services.iter_mut().zip(s.counts) {
                into[0] += from[0];
                into[1] += from[1];
            }
            DeliveryRow {
                second: s.second,
                planned: s.planned,
                sent: s.counts.iter().map(|c| c[0]).sum(),
                dropped: s.counts.iter().map(|c| c[1]).sum(),
                in_flight_peak: s.load.in_flight_peak,
                send_lag_p99_ms: lag.get(&s.second).copied().unwrap_or(0) as f64 / 1000.0,
                harness_cpu_pct: s.load.cpu.map(|c| tenth(c.process_pct)),
                busiest_worker_pct: s.load.cpu.map(|c| tenth(c.busiest_worker_pct)),
                idlest_worker_pct: s.load.cpu.map(|c| tenth(c.idlest_worker_pct)),
            }
        })
        .collect();
    DeliveryRecord {
        rows,
        services,
        in_flight_cap: ctx.in_flight_cap(),
    }
}

/// The token requests of a run: one token cache may serve both services,
/// each counted once.
fn token(ctx: &RunContext) -> TokenRecord {
    let (mut requests, mut refreshes) = (0, 0);
    let mut latency = crate::hdr::histogram();
    let mut events = Vec::new();
    let run_start = ctx.started();
    for cache in ctx.token_caches() {
        let s = cache.stats();
        requests += s.requests;
        refreshes += s.refreshes;
        let _ = latency.add(&s.latency_us);
        for (at, ok) in &s.events {
            // Seconds from the start of the run (the first token comes before it).
            let at_s = run_start.map_or(0.0, |start| {
                if *at >= start {
                    (*at - start).as_secs_f64()
                } else {
                    -(start - *at).as_secs_f64()
                }
            });
            events.push(TokenEvent {
                at_s: round3(at_s),
                ok: *ok,
            });
        }
    }
    TokenRecord {
        requests,
        refreshes,
        latency: TokenLatency::Histogram(latency),
        events,
    }
}

/// The token latency histogram of a run (each cache once).
fn token_latency(ctx: &RunContext) -> hdrhistogram::Histogram<u64> {
    let mut latency = crate::hdr::histogram();
    for cache in ctx.token_caches() {
        let _ = latency.add(&cache.stats().latency_us);
    }
    latency
}

/// Write a run's results folder `dir`: `summary`, the interval logs, the
/// time series, the delivery of `record`, the errors and `scenario_toml`.
pub fn write(
    dir: &Path,
    summary: &Summary,
    record: &RunRecord<'_>,
    ctx: &RunContext,
    scenario_toml: &str,
) -> anyhow::Result<()> {
    let metrics = ctx.metrics();
    let totals = metrics.totals();
    let seconds = summary.duration_s;
    // Every second's histogram must read back before anything is written:
    // a summary or a time series standing on seconds read as zeros is wrong.
    let mut hlog = Vec::new();
    metrics
        .write_hlog(&mut hlog)
        .context("the run's time series could not be read back; no results written")?;
    if let Some(failure) = metrics.series_failure() {
        anyhow::bail!(
            "the run's time series could not be read back; no results written: {failure}"
        );
    }
    super::write_summary(dir, summary)?;
    super::write_file(dir, "latency.hlog", &hlog)?;
    let mut totals_log = Vec::new();
    crate::metrics::write_totals_hlog(&totals, metrics.started_wall(), seconds, &mut totals_log)
        .context("histograms.hlog")?;
    super::write_file(dir, "histograms.hlog", &totals_log)?;
    let mut token_log = Vec::new();
    crate::metrics::write_tagged_hlog(
        &mut token_log,
        metrics.started_wall(),
        "mss-harness token request latency over the run, microseconds",
        &[(
            "token/latency",
            Duration::ZERO,
            Duration::from_secs_f64(seconds),
            &token_latency(ctx),
        )],
    )
    .context("token.hlog")?;
    super::write_file(dir, "token.hlog", &token_log)?;
    if let Some(phases) = &record.phases {
        super::phases::write(dir, phases, metrics.started_wall(), seconds)?;
    }
    let rows: Vec<TimeseriesRow> = metrics
        .intervals()
        .iter()
        .map(|i| TimeseriesRow {
            second: i.second,
            service: i.service.name().to_owned(),
            sent: i.completed - i.dropped,
            stored: i.stored,
            errors: i.errors,
            p50_ms: i.p50_us as f64 / 1000.0,
            p99_ms: i.p99_us as f64 / 1000.0,
            dropped: i.dropped,
        })
        .collect();
    super::write_file(dir, "timeseries.csv", &super::rows::timeseries_csv(&rows)?)?;
    let delivery = record.delivery.as_ref().map_or(&[][..], |d| &d.rows);
    super::write_file(dir, "delivery.csv", &super::delivery::csv(delivery)?)?;
    super::write_file(
        dir,
        "errors.csv",
        &super::rows::errors_csv(&super::rows::error_rows(&totals))?,
    )?;
    super::write_file(dir, "scenario.toml", scenario_toml.as_bytes())?;
    Ok(())
}
