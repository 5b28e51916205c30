//! The Goose glue: [`prepare`] builds a run's shared [`RunContext`] from its
//! scenario (the only place, with [`users`] and [`execute`], that reads the
//! scenario), [`users`] counts the Goose users a worker runs, and [`execute`]
//! configures Goose in code and runs the attack whose one transaction is
//! [`RunContext::iteration`], harvesting the metrics every second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::prelude::{GooseAttack, GooseUser, Transaction, TransactionFunction};
use tokio::time::Instant;

use super::data::{CheckedFeeder, DataSource, generator_config, open_feeder};
use super::stop::StopState;
use super::timer::PreciseTimers;
use super::{Doubts, Limiter, RunContext, Unexpected, delivery};
use crate::domain::Service;
use crate::metrics::Metrics;
use crate::retry_budget::RetryBudget;
use crate::scenario::{Caps, LoadModel, RunPlan};
use crate::schedule::ArrivalSchedule;
use crate::token::TokenCache;

/// What [`prepare`] needs from the caller.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the target, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// The token caches for each service (the same `Arc` when one client_id serves both).
    pub tokens: [Arc<TokenCache>; 2],
    /// Token caches of other administrators (the mock only), for invalid cases
    /// whose set-up another administrator reports.
    pub others: HashMap<String, Arc<TokenCache>>,
    /// The production caps, for a target that is not this machine.
    pub caps: Option<Caps>,
    /// How the report requests reach the target (its TLS, `--resolve`).
    pub connect: crate::connect::ConnectArgs,
}

/// Build the shared context of a run of `plan` against `target`, starting
/// now; its feeder is the one `checked` holds, else opened (and checked) here.
pub fn prepare(
    plan: &RunPlan,
    target: Target,
    http: reqwest::Client,
    worker: (u16, u16),
    checked: Option<&CheckedFeeder>,
) -> Result<Arc<RunContext>, String> {
    let (schedule, think_time) = match &plan.load {
        LoadModel::Open {
            start_rate, stages, ..
        } => {
            let s = ArrivalSchedule::new(*start_rate, stages)
                .with_share(u64::from(worker.0), u64::from(worker.1));
            (Some(s), Duration::ZERO)
        }
        LoadModel::Closed { think_time, .. } => (None, *think_time),
        // A capacity search: a timetable the search above the engine writes
        // its plateaus into as it goes (src/capacity/search.rs).
        LoadModel::Search(search) => (
            Some(ArrivalSchedule::open_ended(search.duration())),
            Duration::ZERO,
        ),
    };
    let config = generator_config(plan, worker);
    let weights = |s: Service| plan.mix.weight(s);
    let total = weights(Service::Afiliacion) + weights(Service::Retracto);
    let retract_share = if total > 0.0 {
        weights(Service::Retracto) / total
    } else {
        0.0
    };
    let invalid = plan.invalid.clone();
    let mut data = DataSource::new(config, plan.data.seed, retract_share, invalid)?;
    if let Some(f) = &plan.data.feeder {
        // Checked whole before anything is sent: by the caller before it
        // contacted the target, else here.
        let feeder = match checked.and_then(CheckedFeeder::take) {
            Some(feeder) => feeder,
            None => open_feeder(plan, worker)?.ok_or("data.file: no feeder")?,
        };
        data = data.with_feeder(feeder, f.share);
    }
    let endpoint = crate::transport::Endpoint::new(
        &target.base_url,
        &target.connect,
        plan.http.connect_timeout,
    )
    .map_err(|e| format!("{e:#}"))?;
    // Parsed once: a request's URI and headers are clones of these.
    let base_path = target.base_url.split_once("://").map_or("", |(_, rest)| {
        rest.find('/')
            .map_or("", |i| rest[i..].trim_end_matches('/'))
    });
    let uri = |s: Service| {
        let text = format!("{base_path}{}", s.path());
        hyper::Uri::try_from(text.as_str()).map_err(|e| format!("target URL path {text:?}: {e}"))
    };
    let uris = [uri(Service::Afiliacion)?, uri(Service::Retracto)?];
    let planned_seconds = schedule
        .as_ref()
        .map_or(plan.duration(), ArrivalSchedule::duration)
        .as_secs()
        + 1;
    Ok(Arc::new(RunContext {
        delivery: delivery::DeliveryCounter::new(planned_seconds),
        samples: delivery::LoadSamples::default(),
        senders: users(plan, worker),
        endpoint,
        uris,
        base_url: target.base_url,
        http,
        schedule,
        think_time,
        timeout: plan.http.timeout,
        duration: plan.duration(),
        start: OnceLock::new(),
        // One shard per core keeps the recording lock nearly uncontended (a
        // user always records into the same shard; the runtime has one worker
        // thread per core).
        metrics: Metrics::new(
            Instant::now(),
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        tokens: target.tokens,
        data: Mutex::new(data),
        stored: [AtomicU64::new(0), AtomicU64::new(0)],
        others: target.others,
        own: plan.data.administradora.clone(),
        limiter: target.caps.map(Limiter::new),
        worker,
        stop: StopState::new(),
        timers: PreciseTimers::default(),
        through_goose: AtomicBool::new(false),
        doubts: Mutex::new(Doubts::default()),
        unresolved: Mutex::new(Vec::new()),
        resending: AtomicUsize::new(0),
        budget: RetryBudget::new(plan.http.retry_budget),
        retries: [AtomicU64::new(0), AtomicU64::new(0)],
        retries_refused: [AtomicU64::new(0), AtomicU64::new(0)],
        unexpected: Mutex::new(Unexpected::new()),
        contract: Arc::clone(&plan.contract),
        traceparent: plan
            .file()
            .target
            .sends_traceparent(plan.target.is_production()),
        ledger: OnceLock::new(),
    }))
}

/// Number of Goose users for the plan's model, for worker `index` of
/// `count` (the closed model's users are shared out; the open model shares its
/// arrivals instead, and each worker keeps `max_in_flight` senders).
pub fn users(plan: &RunPlan, (index, count): (u16, u16)) -> usize {
    match &plan.load {
        LoadModel::Open { max_in_flight, .. } => *max_in_flight,
        LoadModel::Search(search) => search.max_in_flight,
        LoadModel::Closed { users, .. } => {
            let users = *users;
            let count = usize::from(count.max(1));
            let index = usize::from(index);
            users / count + usize::from(index < users % count)
        }
    }
}

/// Run the Goose attack for `ctx` until the scenario's end; with
/// `goose_report`, requests also go through Goose's request metrics and its
/// HTML report goes there.
pub async fn execute(
    ctx: Arc<RunContext>,
    plan: &RunPlan,
    goose_report: Option<String>,
) -> Result<(), String> {
    let users = users(plan, ctx.worker).max(1);
    let (hatch, run_time) = match plan.load {
        LoadModel::Open { .. } | LoadModel::Search(_) => (
            users as f64 * 10.0,
            plan.duration() + Duration::from_millis(400),
        ),
        LoadModel::Closed { ramp, run_time, .. } => {
            // This worker's users over the ramp.
            let rate = if ramp.is_zero() {
                users as f64 * 10.0
            } else {
                users as f64 / ramp.as_secs_f64()
            };
            (rate, ramp + run_time)
        }
    };
    let mut config = GooseConfiguration::default();
    config.host = Some(ctx.base_url.clone());
    config.users = Some(users);
    config.increase_rate = Some(format!("{hatch:.3}"));
    config.run_time = Some(format!("{}", run_time.as_secs().max(1)));
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.quiet = 1;
    match goose_report {
        Some(path) => {
            config.report_file = vec![path];
            ctx.through_goose.store(true, Ordering::Relaxed);
        }
        // Goose only schedules the users: the harness's metrics are the run's.
        None => {
            config.no_metrics = true;
            config.no_transaction_metrics = true;
            config.no_scenario_metrics = true;
        }
    }
    let transaction_ctx = ctx.clone();
    let transaction: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let ctx = transaction_ctx.clone();
        Box::pin(async move {
            ctx.iteration(user).await;
            Ok(())
        })
    });
    // Goose's users hold the harness's client (its TLS configuration), though
    // requests go through the transport.
    let client_ctx = ctx.clone();
    let use_our_client: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        user.client = client_ctx.http.clone();
        Box::pin(async move { Ok(()) })
    });
    // One client shared by every Goose user (Goose would otherwise build one per
    // user, CA store included); the harness sends with its own client anyway.
    let attack = GooseAttack::initialize_with_config(config)
        .and_then(|a| {
            a.set_client_builder_without_cookies(
                goose::client::GooseClientBuilder::new().without_cookies(),
            )
        })
        .map_err(|e| format!("goose: {e}"))?
        .register_scenario(
            goose::goose::Scenario::new("mss-harness")
                .register_transaction(
                    Transaction::new(use_our_client)
                        .set_name("client")
                        .set_on_start(),
                )
                .register_transaction(Transaction::new(transaction).set_name("report")),
        );
    let harvester = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let start = loop {
                if let Some(s) = ctx.started() {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            ctx.start_sampling();
            let mut tick =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            loop {
                tick.tick().await;
                ctx.sample_second();
                ctx.metrics.harvest(false);
            }
        })
    };
    let result = attack.execute().await;
    harvester.abort();
    ctx.metrics.harvest(true);
    result.map(|_| ()).map_err(|e| format!("goose: {e}"))
}
