//! A run's results, collected from its [`RunContext`] when the load is over
//! and written to its folder: `summary.json`, the three interval logs,
//! `timeseries.csv`, `errors.csv` and `scenario.toml`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{
    Audit, ErrorRow, Faults, Interrupted, Meta, Percentiles, Production, ServiceSummary, Signal,
    Stage, Summary, TimeseriesRow, Token, TokenEvent, UnknownOutcome, Unresolved, Worker,
};
use crate::domain::Service;
use crate::engine::{self, RunContext};
use crate::metrics::ServiceTotals;
use crate::outcome::Outcome;
use crate::scenario::{Caps, LoadModel, RunPlan, Threshold};

/// What the results need to know of the scenario a run ran.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The scenario's name.
    pub name: String,
    /// The planned duration of the load.
    pub planned: Duration,
    /// Its thresholds, each with its scope (a service, or every one).
    pub thresholds: Vec<(Option<Service>, Threshold)>,
    /// The open model's start rate and stages (rate, duration); `None` for
    /// another model.
    pub open: Option<(f64, Vec<(f64, Duration)>)>,
    /// The thresholds a plateau is judged by.
    pub plateau_checks: Vec<Threshold>,
    /// The scenario as `scenario.toml` holds it.
    pub scenario_toml: String,
    /// The data seed.
    pub seed: u64,
    /// The administradora's code.
    pub administradora: String,
    /// The target's URL (`mock` for the embedded mock).
    pub target_url: String,
    /// The production caps (used when the run had a limiter).
    pub caps: Caps,
}

impl RunFacts {
    /// What the results need of `scenario`.
    pub fn of(scenario: &RunPlan) -> anyhow::Result<RunFacts> {
        let open = match &scenario.load {
            LoadModel::Open {
                start_rate, stages, ..
            } => Some((
                *start_rate,
                stages.iter().map(|s| (s.rate, s.duration.0)).collect(),
            )),
            _ => None,
        };
        Ok(RunFacts {
            name: scenario.name.clone(),
            planned: scenario.duration(),
            thresholds: scenario.thresholds.clone(),
            open,
            plateau_checks: scenario.plateau_thresholds(),
            scenario_toml: toml::to_string_pretty(scenario.file())?,
            seed: scenario.data.seed,
            administradora: scenario.data.administradora.clone(),
            target_url: scenario.target.url().to_owned(),
            caps: scenario.caps,
        })
    }
}

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

/// `summary.json`'s `services` (only the services in `totals`) and the
/// number of dropped requests.
pub fn services(
    totals: &[ServiceTotals],
) -> (std::collections::BTreeMap<String, ServiceSummary>, u64) {
    let mut services = std::collections::BTreeMap::new();
    let mut dropped = 0;
    for t in totals {
        dropped += t.count(&Outcome::Dropped);
        services.insert(
            t.service.name().to_owned(),
            ServiceSummary {
                requests: t.requests(),
                stored: t.stored(),
                rejected_as_expected: t.rejected_as_expected(),
                latency_us: Percentiles::of(&t.latency),
                service_time_us: Percentiles::of(&t.service_time),
                send_lag_us: Percentiles::of(&t.send_lag),
                errors: t
                    .outcomes
                    .iter()
                    .filter(|(o, _)| !o.is_ok())
                    .map(|(o, n)| (o.label().into_owned(), *n))
                    .collect(),
                retries: None,
                unexpected_codigos: None,
            },
        );
    }
    (services, dropped)
}

/// `errors.csv`'s rows: service, class, count of every request not `ok`.
pub fn error_rows(totals: &[ServiceTotals]) -> Vec<ErrorRow> {
    totals
        .iter()
        .flat_map(|t| {
            t.outcomes
                .iter()
                .filter(|(o, _)| !o.is_ok())
                .map(|(o, n)| ErrorRow {
                    service: t.service.name().to_owned(),
                    class: o.label().into_owned(),
                    count: *n,
                })
        })
        .collect()
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

/// The summary of a run whose load is over (without `capacity` and the
/// services' `retries` and `unexpected_codigos`, which the driver adds).
pub fn summary(facts: &RunFacts, ctx: &RunContext, end: RunEnd) -> Summary {
    let metrics = ctx.metrics();
    let totals = metrics.totals();
    // Rates divide by how long the load lasted: less than planned when stopped.
    let seconds = ctx.load_seconds();
    let (services, dropped) = services(&totals);
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
    let token = token(ctx);
    let thresholds = crate::verdict::thresholds(&facts.thresholds, &totals, seconds);
    let (stages, highest) = match (end.search_steps, &facts.open) {
        // A capacity search: its plateaus as judged when it chose the next rate.
        (Some(steps), _) => {
            let highest = crate::verdict::highest_sustained(&steps);
            (steps, highest)
        }
        (None, Some((start_rate, stages))) => crate::verdict::plateaus(
            *start_rate,
            stages,
            &facts.plateau_checks,
            seconds,
            &|from, to| metrics.window(from, to),
        ),
        (None, None) => (Vec::new(), None),
    };
    let doubts = ctx.doubts();
    let mut reconciliation = match end.target_accepted {
        Some(accepted) => {
            // A request abandoned by a stop, or left unresolved, may or may
            // not have been stored.
            let unanswered = Service::ALL.map(|s| {
                interrupted_per(s)
                    + doubts
                        .unresolved
                        .iter()
                        .filter(|(svc, _, r)| *svc == s && *r == engine::Resolution::Unknown)
                        .count() as u64
            });
            crate::verdict::reconcile(accepted, ctx.stored(), unanswered)
        }
        None => super::Reconciliation::unchecked(),
    };
    reconciliation.unknown_outcome = Some(
        doubts
            .unknown_outcome
            .iter()
            .map(|(s, r)| UnknownOutcome {
                service: s.name().to_owned(),
                numero_radicado: r.clone(),
            })
            .collect(),
    );
    reconciliation.idempotent_duplicates = Some(doubts.idempotent_duplicates);
    reconciliation.unresolved = Some(
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
    );
    let production = ctx.limiter().map(|l| Production {
        max_rate: facts.caps.max_rate,
        max_duration_s: facts.caps.max_duration.as_secs_f64(),
        max_requests: facts.caps.max_requests,
        requests_admitted: l.sent(),
        cap_reached: l.reached().map(str::to_owned),
    });
    let started_at = end.started_at.to_rfc3339();
    let ended_at = end.ended_at.to_rfc3339();
    Summary {
        schema_version: super::SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        scenario: facts.name.clone(),
        target: end.target_label.clone(),
        started_at: started_at.clone(),
        ended_at: ended_at.clone(),
        duration_s: seconds,
        interrupted,
        services,
        token,
        audit: Some(Audit {
            os_user: super::audit::os_user(),
            machine: super::audit::machine(),
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: git_commit(),
            scenario_sha256: super::audit::sha256_hex(facts.scenario_toml.as_bytes()),
            target: end.target_label,
            production,
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
        dropped,
        thresholds,
        stages,
        highest_sustained_rate: highest,
        reconciliation,
        faults: Some(end.faults),
        capacity: None,
    }
}

/// The token requests of a run: one token cache may serve both services,
/// each counted once.
fn token(ctx: &RunContext) -> Token {
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
    Token {
        requests,
        refreshes,
        latency_us: Percentiles::of(&latency),
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
/// time series, the errors and `scenario_toml`.
pub fn write(
    dir: &Path,
    summary: &Summary,
    ctx: &RunContext,
    scenario_toml: &str,
) -> anyhow::Result<()> {
    let metrics = ctx.metrics();
    let totals = metrics.totals();
    let seconds = summary.duration_s;
    super::write_file(
        dir,
        "summary.json",
        super::summary_text(summary)?.as_bytes(),
    )?;
    let mut hlog = Vec::new();
    metrics.write_hlog(&mut hlog).context("latency.hlog")?;
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
    super::write_file(
        dir,
        "errors.csv",
        &super::rows::errors_csv(&error_rows(&totals))?,
    )?;
    super::write_file(dir, "scenario.toml", scenario_toml.as_bytes())?;
    Ok(())
}
