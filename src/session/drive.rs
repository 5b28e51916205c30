//! A run against a resolved target: wait for `--start-at`, create the results
//! folder, prepare the engine, start the helpers (stop signals, capacity
//! search, lost-answer resolver, faults, progress, dashboard), execute the
//! load, reconcile with what the target stored, write the results and judge.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::FaultTarget;
use super::{RunOptions, RunOutcome};
use crate::engine::{self, RunContext, Target};
use crate::results::collect::RunEnd;
use crate::scenario::{LoadModel, RunPlan, TargetPlan};
use crate::target::records;
use crate::usage::usage;

/// Called once the run's clock has started, with the run's shared context (tests
/// use it to act on the target mid-run).
pub type OnStart = Box<dyn FnOnce(Arc<RunContext>) + Send>;

/// Run `plan` against a resolved `target`; `mock`, when given, is the mock
/// behind it, whose records are reconciled with what the harness saw.
// The library entry point of every run (tests drive it directly): each
// argument is a separate concern the callers set independently.
#[allow(clippy::too_many_arguments)]
pub async fn run_prepared(
    plan: RunPlan,
    out: Option<PathBuf>,
    http: reqwest::Client,
    target: Target,
    mock: Option<mss_mock::Mock>,
    target_label: &str,
    on_start: Option<OnStart>,
    options: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let worker = options.worker();
    let plan = plan.for_worker(worker);
    if let Some(at) = options.start_at {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        if !wait.is_zero() {
            eprintln!(
                "waiting {:.1} s for --start-at {}",
                wait.as_secs_f64(),
                at.to_rfc3339()
            );
            // A stop signal ends the wait: the run then sends nothing.
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = crate::interrupt::first() => {}
            }
        }
    }
    let started_at: DateTime<Utc> = Utc::now();
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("results").join(format!(
            "{}-{}{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            plan.name,
            if worker.1 > 1 {
                format!("-w{}of{}", worker.0, worker.1)
            } else {
                String::new()
            }
        ))
    });
    crate::results::folder::claim(&dir, options.overwrite).map_err(|e| usage(e.to_string()))?;
    if let LoadModel::Closed { users, .. } = plan.load
        && engine::users(&plan, worker) == 0
    {
        return Err(usage(format!(
            "load.users: {users} users cannot be shared among {} workers (worker {} would have none)",
            worker.1, worker.0
        )));
    }
    let base_url = target.base_url.clone();
    let faults = FaultTarget::new(&plan, mock.as_ref(), &http, &base_url).await?;
    // An `mss-mock` on this machine as the target (one process, not a worker
    // of several): reconcile with what it stores during this run.
    let remote_before = if mock.is_none() && worker.1 <= 1 && records::is_loopback_url(&base_url) {
        records::remote_accepted(&http, &base_url).await
    } else {
        None
    };
    let stats_http = http.clone();
    let is_production = target.caps.is_some();
    let search = match plan.load {
        LoadModel::Search(search) if worker.1 > 1 => {
            return Err(usage(format!(
                "load.model: a capacity search decides its rates as it goes and runs as one process, not as worker {}/{} (its {} req/s at most may need a bigger machine instead)",
                worker.0, worker.1, search.max_rate
            )));
        }
        LoadModel::Search(search) => Some(search),
        _ => None,
    };
    let ctx = engine::prepare(&plan, target, http, worker, Some(&options.feeder)).map_err(usage)?;
    if let TargetPlan::Url(_) = &plan.target {
        // Before the first report: a target that keeps what it stores.
        let ledger = super::outputs::open_ledger(&dir, options, &plan, &base_url, started_at)?;
        ctx.keep_ledger(ledger);
    }
    if let Some(d) = &options.dashboard {
        let run_id = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        d.attach(ctx.clone(), &plan, &run_id, target_label);
    }
    let search_steps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let searcher = search.map(|search| {
        crate::capacity::search::start(ctx.clone(), &plan, search, search_steps.clone())
    });
    // Only a real signal (the binary's handlers) reaches this: in-process runs
    // never trigger Goose's process-wide killswitch.
    let stopper = {
        let ctx = ctx.clone();
        let grace = options.grace();
        tokio::spawn(async move {
            let signal = crate::interrupt::first().await;
            ctx.interrupt(signal, grace).await;
        })
    };
    let progress = tokio::spawn(super::progress::progress(ctx.clone(), plan.duration()));
    // Offsets count from here, a moment before the first request.
    if let Some(f) = &faults {
        f.install(&plan.faults)
            .await
            .map_err(|e| usage(format!("faults: {e}")))?;
    }
    if let Some(hook) = on_start {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while ctx.started().is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            hook(ctx);
        });
    }
    let goose_report = options
        .goose_report
        .then(|| dir.join("goose-report.html").display().to_string());
    // Reports whose answers were lost and whose retries failed too are sent
    // again every few seconds while the target still remembers them.
    let (stop_resolver, mut resolver_stopped) = tokio::sync::watch::channel(false);
    let resolver = (!is_production).then(|| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => ctx.resolve_pending().await,
                    // Never cut a pass short: its reports are out of the list.
                    _ = resolver_stopped.changed() => break,
                }
            }
        })
    });
    let result = engine::execute(ctx.clone(), &plan, goose_report).await;
    if let Some(s) = searcher {
        s.abort();
    }
    let search_steps = search.map(|_| {
        std::mem::take(
            &mut *search_steps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    });
    let _ = stop_resolver.send(true);
    if let Some(r) = resolver {
        let _ = r.await;
    }
    // A signal from now on stops the resending of lost reports below.
    ctx.attack_over();
    let faults_json = match faults {
        Some(f) => json!({"scheduled": plan.faults, "injected": f.clear().await}),
        None => Value::Null,
    };
    if let Err(e) = result {
        stopper.abort();
        return Err(usage(e));
    }
    // Reports whose answers were lost and whose retries failed too: one more
    // try now that the load (and any fault) is over — never against
    // production, nor after a stop.
    ctx.drop_untaken();
    ctx.resolve_after_load(!is_production && ctx.interruption().is_none())
        .await;
    ctx.finish();
    stopper.abort();
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let target_accepted = match (&mock, remote_before) {
        (Some(m), _) => Some(records::accepted_of(&m.stats())),
        (None, Some(before)) => {
            records::remote_accepted(&stats_http, &base_url)
                .await
                .map(|after| {
                    [
                        after[0].saturating_sub(before[0]),
                        after[1].saturating_sub(before[1]),
                    ]
                })
        }
        _ => None,
    };
    let ended_at: DateTime<Utc> = Utc::now();
    if let Some(fatal) = ctx.fatal() {
        return Err(usage(fatal));
    }
    let end = RunEnd {
        target_accepted,
        target_label: target_label.to_owned(),
        started_at,
        ended_at,
        faults: serde_json::from_value(faults_json).context("faults")?,
        search_steps,
    };
    if let Some(Err(e)) = ctx.ledger().map(crate::ledger::Ledger::sync) {
        eprintln!("mss-harness: {e}");
    }
    let summary = super::outputs::write_outputs(&dir, &plan, &ctx, end)?;
    crate::report::write_all(&dir).context("the reports")?;
    let passed = crate::verdict::passed(&summary);
    crate::results::table::print(&summary, &dir);
    for line in crate::verdict::hints(&summary)
        .into_iter()
        .chain(crate::verdict::notes(&summary))
    {
        eprintln!("{line}");
    }
    if let Some(d) = &options.dashboard {
        d.finish().await;
    }
    // A stopped run's thresholds are judged on its partial load; its exit code
    // says it was stopped.
    let exit = match ctx.interruption() {
        Some(i) => i.signal.exit_code(),
        None if passed => 0,
        None => 1,
    };
    let summary = serde_json::to_value(&summary)?;
    Ok(RunOutcome { exit, dir, summary })
}
