//! `mss-harness run [SCENARIO]`: drive a scenario's load at the embedded mock
//! (the default) or a URL, and write a results folder.
//!
//! Exit codes: 0 every threshold met (and, against the mock, reconciliation
//! exact); 1 a threshold or the reconciliation failed; 2 usage, configuration
//! or target error; 130 (SIGINT, Ctrl-C) or 143 (SIGTERM) the run was stopped
//! by that signal and wrote its results from the load until then (see
//! [`crate::interrupt`]).
//!
//! This module parses the arguments and calls [`crate::session`], which runs
//! the plan.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::Service;
use crate::engine::{self, RunContext};
use crate::metrics::{Percentiles, ServiceTotals};
use crate::outcome::Outcome;
use crate::scenario::{Metric, RunPlan};
use crate::session::goose_log::GooseErrorsOnly;
use crate::session::{RunOptions, RunOutcome, run_scenario_with};
use crate::usage::usage;

/// Flags of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A scenario file, or the name of a shipped one (smoke, baseline, go-live,
    /// soak, spike, token-expiry, incident, capacity).
    #[arg(default_value = "smoke")]
    pub scenario: String,
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Results folder [default: results/<utc-timestamp>-<scenario>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Against any host but this machine: the run starts only when this names
    /// the target's host.
    #[arg(long, value_name = "HOST")]
    pub confirm_production: Option<String>,
    /// Print the plan (host, stages, duration, requests, mix, caps) and send
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Connection settings.
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
    /// Run as worker INDEX of COUNT (e.g. `0/4`): this process sends 1/COUNT
    /// of every rate stage (closed model: of the users) from its own identity
    /// and numeroRadicado space; `mss-harness merge` joins the results.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "workers")]
    pub worker: Option<String>,
    /// Run as one of COUNT workers, INDEX from JOB_COMPLETION_INDEX (as a
    /// Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "COUNT", env = "MSS_WORKERS")]
    pub workers: Option<u16>,
    /// Start the load at this wall-clock time (RFC 3339, e.g.
    /// 2026-11-26T15:00:00Z), so that workers' stages line up.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// On Ctrl-C or SIGTERM, how long the requests in flight may take to
    /// finish before they are abandoned as `interrupted` (a second signal
    /// exits at once).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// The live dashboard and Prometheus `/metrics` (see [`crate::live`]).
    #[command(flatten)]
    pub dashboard: crate::live::DashboardArgs,
}

/// `--worker INDEX/COUNT`, or `--workers COUNT` with INDEX from
/// `JOB_COMPLETION_INDEX`; (0, 1) without either.
pub fn parse_worker(spec: Option<&str>, workers: Option<u16>) -> anyhow::Result<(u16, u16)> {
    let (index, count) = match (spec, workers) {
        (Some(s), _) => {
            let (i, n) = s
                .split_once('/')
                .ok_or_else(|| usage(format!("--worker {s:?}: expected INDEX/COUNT, e.g. 0/4")))?;
            let parse = |x: &str, what: &str| {
                x.trim()
                    .parse::<u16>()
                    .map_err(|_| usage(format!("--worker {s:?}: {what} {x:?} is not a number")))
            };
            (parse(i, "INDEX")?, parse(n, "COUNT")?)
        }
        (None, Some(n)) => {
            let i = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                usage("--workers needs the worker's index in JOB_COMPLETION_INDEX (or give --worker INDEX/COUNT)")
            })?;
            let i = i
                .trim()
                .parse::<u16>()
                .map_err(|_| usage(format!("JOB_COMPLETION_INDEX {i:?} is not a number")))?;
            (i, n)
        }
        (None, None) => return Ok((0, 1)),
    };
    if count == 0 || index >= count {
        return Err(usage(format!(
            "worker {index}/{count}: INDEX must be below COUNT, and COUNT at least 1"
        )));
    }
    Ok((index, count))
}

/// Run `args` and write the results; errors are usage errors (exit 2). With
/// `--dry-run`, print the plan and send nothing (`None`).
pub fn run(args: &RunArgs) -> anyhow::Result<Option<RunOutcome>> {
    let scenario = RunPlan::load(&args.scenario).map_err(|e| usage(e.to_string()))?;
    let start_at = args
        .start_at
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| {
                    usage(format!(
                        "--start-at {t:?}: {e} (RFC 3339, e.g. 2026-11-26T15:00:00Z)"
                    ))
                })
        })
        .transpose()?;
    let mut options = RunOptions {
        confirm_production: args.confirm_production.clone(),
        connect: args.connect.clone(),
        worker: parse_worker(args.worker.as_deref(), args.workers)?,
        start_at,
        grace: Some(args.grace),
        dashboard: None,
    };
    if args.dry_run {
        print!("{}", crate::session::dry_run::text(&scenario, &options));
        return Ok(None);
    }
    // Before anything is sent: an address in use stops the run here.
    let dashboard = crate::live::bind(&args.dashboard).map_err(|e| usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime
        .block_on(async {
            // Before Goose initialises, so that its Ctrl-C handler stays out.
            crate::interrupt::install()?;
            // And its logger: Goose warns on stderr about every failed request,
            // which a run against a failing target (or a fault rehearsal) would
            // flood; the harness classifies them in its outputs instead.
            GooseErrorsOnly::install();
            if let Some(bound) = dashboard {
                options.dashboard = Some(bound.serve().context("--dashboard")?);
            }
            run_scenario_with(scenario, args.out.clone(), &options).await
        })
        .map(Some)
}

/// The host of a target URL (`mock` for the embedded mock).
fn target_host(url: &str) -> String {
    if url == "mock" {
        return "mock (embedded)".to_owned();
    }
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

pub(crate) fn percentiles_json(p: &Percentiles) -> Value {
    json!({"p50": p.p50, "p90": p.p90, "p95": p.p95, "p99": p.p99, "p999": p.p999, "max": p.max, "mean": (p.mean * 10.0).round() / 10.0})
}

pub(crate) fn metric_value(metric: Metric, totals: &[&ServiceTotals], seconds: f64) -> f64 {
    let mut latency = crate::metrics::histogram();
    let (mut requests, mut ok, mut dropped, mut stored) = (0u64, 0u64, 0u64, 0u64);
    for t in totals {
        let _ = latency.add(&t.latency);
        requests += t.requests();
        ok += t.succeeded();
        dropped += t.count(&Outcome::Dropped);
        stored += t.stored();
    }
    match metric {
        Metric::Percentile(q) => {
            if latency.is_empty() {
                0.0
            } else {
                latency.value_at_quantile(q / 100.0) as f64
            }
        }
        Metric::Max => latency.max() as f64,
        Metric::Mean => latency.mean(),
        Metric::ErrorRate => {
            let sent = requests - dropped;
            if sent == 0 {
                0.0
            } else {
                (sent - ok) as f64 / sent as f64
            }
        }
        Metric::DropRate => {
            if requests == 0 {
                0.0
            } else {
                dropped as f64 / requests as f64
            }
        }
        Metric::Throughput => stored as f64 / seconds.max(1e-9),
    }
}

// Each argument is a separate part of the summary.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_outputs(
    dir: &Path,
    scenario: &RunPlan,
    ctx: &RunContext,
    target_accepted: Option<[u64; 2]>,
    target_label: &str,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    faults: Value,
    search_steps: Option<Vec<Value>>,
) -> anyhow::Result<Value> {
    let metrics = ctx.metrics();
    let totals = metrics.totals();
    // Rates divide by how long the load lasted: less than planned when stopped.
    let seconds = ctx.load_seconds();
    let (mut services, dropped) = services_json(&totals);
    crate::cmd::unexpected::annotate(&mut services, ctx);
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
        json!({
            "signal": i.signal.name(),
            "at_s": (at_s * 1000.0).round() / 1000.0,
            "grace_s": i.grace.as_secs_f64(),
            "in_flight_at_signal": i.in_flight,
            "interrupted": Service::ALL.into_iter().map(interrupted_per).sum::<u64>(),
            "planned_duration_s": scenario.duration().as_secs_f64(),
        })
    });
    // One token cache may serve both services: count each once.
    let mut seen = Vec::new();
    let mut token_requests = 0;
    let mut token_refreshes = 0;
    let mut token_latency = crate::metrics::histogram();
    let mut token_events = Vec::new();
    let run_start = ctx.started();
    for cache in ctx.tokens().iter() {
        let p = Arc::as_ptr(cache);
        if seen.contains(&p) {
            continue;
        }
        seen.push(p);
        let s = cache.stats();
        token_requests += s.requests;
        token_refreshes += s.refreshes;
        let _ = token_latency.add(&s.latency_us);
        for (at, ok) in &s.events {
            // Seconds from the start of the run (the first token comes before it).
            let at_s = run_start.map_or(0.0, |start| {
                if *at >= start {
                    (*at - start).as_secs_f64()
                } else {
                    -(start - *at).as_secs_f64()
                }
            });
            token_events.push(json!({"at_s": (at_s * 1000.0).round() / 1000.0, "ok": ok}));
        }
    }
    let thresholds = thresholds_json(scenario, &totals, seconds);
    let (stages, highest) = match search_steps {
        // A capacity search: its plateaus as judged when it chose the next rate.
        Some(steps) => {
            let highest = steps
                .iter()
                .filter(|s| s["ok"] == true)
                .filter_map(|s| s["rate"].as_f64())
                .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
            (steps, highest.map_or(Value::Null, Value::from))
        }
        None => plateaus(scenario, seconds, &|from, to| metrics.window(from, to)),
    };
    let capacity = crate::capacity::of_run(scenario, &stages, &|from, to| metrics.window(from, to));
    let doubts = ctx.doubts();
    let reconciliation = match target_accepted {
        Some(accepted) => {
            let stored = ctx.stored();
            let mut per = serde_json::Map::new();
            let mut ok = true;
            for (i, s) in Service::ALL.into_iter().enumerate() {
                let target = accepted[i];
                let harness = stored[i];
                // A request abandoned by a stop, or left unresolved, may or may
                // not have been stored.
                let unanswered = interrupted_per(s)
                    + doubts
                        .unresolved
                        .iter()
                        .filter(|(svc, _, r)| *svc == s && *r == engine::Resolution::Unknown)
                        .count() as u64;
                let lost = harness.saturating_sub(target);
                let duplicated = target.saturating_sub(harness + unanswered);
                ok &= lost == 0 && duplicated == 0;
                per.insert(
                    s.name().to_owned(),
                    json!({
                        "harness": harness,
                        "target": target,
                        "lost": lost,
                        "duplicated": duplicated,
                        "unanswered": unanswered,
                    }),
                );
            }
            json!({"checked": true, "ok": ok, "services": per})
        }
        None => json!({"checked": false, "ok": Value::Null, "services": {}}),
    };
    let mut reconciliation = reconciliation;
    reconciliation["unknown_outcome"] = doubts
        .unknown_outcome
        .iter()
        .map(|(s, r)| json!({"service": s.name(), "numeroRadicado": r}))
        .collect::<Vec<_>>()
        .into();
    reconciliation["idempotent_duplicates"] = doubts.idempotent_duplicates.into();
    reconciliation["unresolved"] = doubts
        .unresolved
        .iter()
        .map(|(s, r, how)| json!({"service": s.name(), "numeroRadicado": r, "resolution": how}))
        .collect::<Vec<_>>()
        .into();
    let summary = json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": scenario.name,
        "target": target_label,
        "started_at": started_at.to_rfc3339(),
        "ended_at": ended_at.to_rfc3339(),
        "duration_s": seconds,
        "interrupted": interrupted,
        "services": services,
        "token": {
            "requests": token_requests,
            "refreshes": token_refreshes,
            "latency_us": percentiles_json(&Percentiles::of(&token_latency)),
            "events": token_events,
        },
        "audit": audit(scenario, ctx, target_label, started_at, ended_at)?,
        "meta": {
            "worker": {"index": ctx.worker().0, "count": ctx.worker().1},
            "seed": scenario.data.seed,
            "administradora": scenario.data.administradora,
            "target_host": target_host(scenario.target.url()),
            "git_commit": Some(env!("MSS_GIT_COMMIT")).filter(|c| !c.is_empty()),
        },
        "dropped": dropped,
        "thresholds": thresholds,
        "stages": stages,
        "highest_sustained_rate": highest,
        "reconciliation": reconciliation,
        "faults": faults,
    });
    let mut summary = summary;
    if let Some(c) = capacity {
        summary["capacity"] = c;
    }
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), bytes)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let mut hlog = Vec::new();
    metrics.write_hlog(&mut hlog).context("latency.hlog")?;
    write("latency.hlog", &hlog)?;
    let mut totals_log = Vec::new();
    crate::metrics::write_totals_hlog(&totals, metrics.started_wall(), seconds, &mut totals_log)
        .context("histograms.hlog")?;
    write("histograms.hlog", &totals_log)?;
    let mut token_log = Vec::new();
    crate::metrics::write_tagged_hlog(
        &mut token_log,
        metrics.started_wall(),
        "mss-harness token request latency over the run, microseconds",
        &[(
            "token/latency",
            Duration::ZERO,
            Duration::from_secs_f64(seconds),
            &token_latency,
        )],
    )
    .context("token.hlog")?;
    write("token.hlog", &token_log)?;
    let mut ts = csv::Writer::from_writer(Vec::new());
    ts.write_record(crate::report::TIMESERIES_HEADER)?;
    for i in metrics.intervals() {
        ts.write_record([
            i.second.to_string(),
            i.service.name().to_owned(),
            i.completed.to_string(),
            i.stored.to_string(),
            i.errors.to_string(),
            format!("{:.3}", i.p50_us as f64 / 1000.0),
            format!("{:.3}", i.p99_us as f64 / 1000.0),
        ])?;
    }
    write(
        "timeseries.csv",
        &ts.into_inner()
            .map_err(|e| anyhow!("timeseries.csv: {e}"))?,
    )?;
    write("errors.csv", &errors_csv(&totals)?)?;
    write(
        "scenario.toml",
        toml::to_string_pretty(scenario.file())?.as_bytes(),
    )?;
    Ok(summary)
}

/// `summary.json`'s `services` object and the number of dropped requests.
pub(crate) fn services_json(totals: &[ServiceTotals]) -> (serde_json::Map<String, Value>, u64) {
    let mut services = serde_json::Map::new();
    let mut dropped = 0;
    for t in totals {
        let errors: BTreeMap<String, u64> = t
            .outcomes
            .iter()
            .filter(|(o, _)| !o.is_ok())
            .map(|(o, n)| (o.label().into_owned(), *n))
            .collect();
        dropped += t.count(&Outcome::Dropped);
        services.insert(
            t.service.name().to_owned(),
            json!({
                "requests": t.requests(),
                "stored": t.stored(),
                "rejected_as_expected": t.rejected_as_expected(),
                "latency_us": percentiles_json(&Percentiles::of(&t.latency)),
                "service_time_us": percentiles_json(&Percentiles::of(&t.service_time)),
                "errors": errors,
            }),
        );
    }
    (services, dropped)
}

/// `errors.csv`: service, class, count of every request not `ok`.
pub(crate) fn errors_csv(totals: &[ServiceTotals]) -> anyhow::Result<Vec<u8>> {
    let mut errors = csv::Writer::from_writer(Vec::new());
    errors.write_record(["service", "class", "count"])?;
    for t in totals {
        for (o, n) in t.outcomes.iter().filter(|(o, _)| !o.is_ok()) {
            errors.write_record([t.service.name(), &o.label(), &n.to_string()])?;
        }
    }
    errors.into_inner().map_err(|e| anyhow!("errors.csv: {e}"))
}

/// Each threshold of `scenario` judged on `totals` over `seconds`.
pub(crate) fn thresholds_json(
    scenario: &RunPlan,
    totals: &[ServiceTotals],
    seconds: f64,
) -> Vec<Value> {
    let mut thresholds = Vec::new();
    for (scope, t) in &scenario.thresholds {
        let selected: Vec<&ServiceTotals> = totals
            .iter()
            .filter(|x| scope.is_none_or(|s| s == x.service))
            .collect();
        let value = metric_value(t.metric, &selected, seconds);
        let shown = match t.metric {
            Metric::Percentile(_) | Metric::Max | Metric::Mean => {
                format!("{:.1} ms", value / 1000.0)
            }
            Metric::ErrorRate | Metric::DropRate => format!("{:.3}%", value * 100.0),
            Metric::Throughput => format!("{value:.1} req/s"),
        };
        thresholds.push(json!({
            "expr": t.expr,
            "scope": scope.map_or("global", Service::name),
            "ok": t.holds(value),
            "value": (value * 1000.0).round() / 1000.0,
            "shown": shown,
        }));
    }
    thresholds
}

/// Who ran what, from where, against what: the results' audit trail.
fn audit(
    scenario: &RunPlan,
    ctx: &RunContext,
    target_label: &str,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
) -> anyhow::Result<Value> {
    use sha2::Digest as _;
    let text = toml::to_string_pretty(scenario.file())?;
    let hash: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(os_user)
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map_or_else(|| "unknown".to_owned(), |h| h.trim().to_owned());
    let production = ctx.limiter().map(|l| {
        let caps = scenario.caps;
        json!({
            "max_rate": caps.max_rate,
            "max_duration_s": caps.max_duration.as_secs_f64(),
            "max_requests": caps.max_requests,
            "requests_admitted": l.sent(),
            "cap_reached": l.reached(),
        })
    });
    Ok(json!({
        "os_user": user,
        "machine": host,
        "harness_version": env!("CARGO_PKG_VERSION"),
        "git_commit": Some(env!("MSS_GIT_COMMIT")).filter(|c| !c.is_empty()),
        "scenario_sha256": hash,
        "target": target_label,
        "production": production,
        "started_at": started_at.to_rfc3339(),
        "ended_at": ended_at.to_rfc3339(),
    }))
}

/// The user this process runs as, from /proc and /etc/passwd (Linux), when
/// the environment does not say.
fn os_user() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// For the open model: each plateau (a stage that holds its rate, 10 s or
/// longer) judged by the global latency and error-rate thresholds over its
/// seconds (the first two left out as settling time), and the highest plateau
/// rate at which they all hold — what `go-live` reports. The load lasted
/// `seconds` (less than planned when a signal stopped it): a plateau it cut
/// short counts over the seconds it held, when still 10 or more.
/// `window(from, to)` gives the merged latency, completed and error counts of
/// seconds `from..to`.
pub(crate) fn plateaus(
    scenario: &RunPlan,
    seconds: f64,
    window: &dyn Fn(u64, u64) -> (hdrhistogram::Histogram<u64>, u64, u64),
) -> (Vec<Value>, Value) {
    let crate::scenario::LoadModel::Open {
        start_rate, stages, ..
    } = &scenario.load
    else {
        return (Vec::new(), Value::Null);
    };
    let checks = scenario.plateau_thresholds();
    let mut out = Vec::new();
    let mut highest: Option<f64> = None;
    let (mut at, mut from) = (0u64, *start_rate);
    // Whole seconds of load (a planned duration's fraction is not cut off).
    let until = (seconds + 1e-6).floor() as u64;
    for stage in stages {
        let length = stage.duration.0.as_secs().min(until.saturating_sub(at));
        let plateau = (stage.rate - from).abs() < 1e-9 && length >= 10;
        if plateau {
            let (latency, completed, errors) = window(at + 2, at + length);
            let mut results = Vec::new();
            let mut all = completed > 0;
            for t in &checks {
                let value = t.plateau_value(&latency, completed, errors);
                let ok = t.holds(value);
                all &= ok;
                results.push(
                    json!({"expr": t.expr, "ok": ok, "value": (value * 1000.0).round() / 1000.0}),
                );
            }
            if all && highest.is_none_or(|h| stage.rate > h) {
                highest = Some(stage.rate);
            }
            out.push(json!({
                "rate": stage.rate,
                "start_s": at,
                "end_s": at + length,
                "completed": completed,
                "achieved_rate": (completed as f64 / (length.saturating_sub(2).max(1)) as f64 * 10.0).round() / 10.0,
                "ok": all,
                "thresholds": results,
            }));
        }
        at += length;
        from = stage.rate;
    }
    (out, highest.map_or(Value::Null, Value::from))
}

/// Print [`table`] to stdout.
pub(crate) fn print_table(summary: &Value, dir: &Path) {
    let _ = std::io::stdout()
        .lock()
        .write_all(table(summary, dir).as_bytes());
}

/// The summary table a run, `merge` and `report` print: per service the
/// requests, how many the target stored, how many invalid records it refused
/// with their expected codigo, the errors (each class below), the latency;
/// then tokens, thresholds, the reconciliation and the results folder.
pub fn table(summary: &Value, dir: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<28} {:>8} {:>8} {:>20} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "service",
        "requests",
        "stored",
        "rejected_as_expected",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms"
    );
    if let Some(services) = summary["services"].as_object() {
        for (name, s) in services {
            let ms = |k: &str| s["latency_us"][k].as_f64().unwrap_or(0.0) / 1000.0;
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            let errors = s["errors"].as_object();
            let error_total: u64 = errors
                .into_iter()
                .flatten()
                .filter_map(|(_, n)| n.as_u64())
                .sum();
            let _ = writeln!(
                out,
                "{name:<28} {:>8} {:>8} {:>20} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                n("requests"),
                n("stored"),
                n("rejected_as_expected"),
                error_total,
                ms("p50"),
                ms("p95"),
                ms("p99"),
                ms("max")
            );
            for (class, n) in errors.into_iter().flatten() {
                let _ = writeln!(out, "    {class:<24} {n:>8}");
            }
        }
    }
    let _ = writeln!(
        out,
        "tokens: {} requests, {} refreshes; dropped: {}",
        summary["token"]["requests"], summary["token"]["refreshes"], summary["dropped"]
    );
    if let Some(line) = crate::report::interruption_text(summary) {
        let _ = writeln!(
            out,
            "INTERRUPTED: {line}; the thresholds below judge the load until then"
        );
    }
    for t in summary["thresholds"].as_array().into_iter().flatten() {
        let mark = if t["ok"] == true { "pass" } else { "FAIL" };
        let _ = writeln!(
            out,
            "  [{mark}] {}: {} (measured {})",
            t["scope"].as_str().unwrap_or(""),
            t["expr"].as_str().unwrap_or(""),
            t["shown"].as_str().unwrap_or("")
        );
    }
    if summary["reconciliation"]["checked"] == true {
        let mark = if summary["reconciliation"]["ok"] == true {
            "pass"
        } else {
            "FAIL"
        };
        let per: Vec<String> = summary["reconciliation"]["services"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, r)| {
                format!(
                    "{name} harness stored {}, mock holds {}",
                    r["harness"], r["target"]
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  [{mark}] reconciliation with the mock: {}",
            per.join("; ")
        );
    }
    let _ = writeln!(out, "results: {}", dir.display());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plateau_cut_short_by_a_stop_counts_over_the_seconds_it_held() {
        let scenario = RunPlan::parse(
            r#"
name = "plateau"
[target]
url = "mock"
[load]
model = "open"
start_rate = 10
stages = [{ rate = 10, duration = "30s" }]
max_in_flight = 10
[thresholds]
global = ["p99 < 1s"]
"#,
            Path::new("plateau.toml"),
        )
        .expect("scenario");
        let asked = std::sync::Mutex::new(Vec::new());
        let window = |from: u64, to: u64| {
            asked.lock().expect("lock").push((from, to));
            let mut h = crate::metrics::histogram();
            crate::metrics::record(&mut h, 1000);
            (h, (to - from) * 10, 0)
        };
        let (full, highest) = plateaus(&scenario, 30.0, &window);
        assert_eq!(full[0]["end_s"], 30);
        assert_eq!(highest, 10.0);
        let (cut, _) = plateaus(&scenario, 12.5, &window);
        assert_eq!(cut[0]["end_s"], 12);
        assert_eq!(cut[0]["achieved_rate"], 10.0);
        assert_eq!(*asked.lock().expect("lock"), vec![(2, 30), (2, 12)]);
        // Stopped before it had held 10 s: no plateau to judge.
        let (none, highest) = plateaus(&scenario, 8.0, &window);
        assert!(none.is_empty());
        assert_eq!(highest, Value::Null);
    }
}
