//! `mss-harness run [SCENARIO]`: drive a scenario's load at the embedded mock
//! (the default) or a URL, and write a results folder.
//!
//! Exit codes: 0 every threshold met (and, against the mock, reconciliation
//! exact); 1 a threshold or the reconciliation failed; 2 usage, configuration
//! or target error; 130 (SIGINT, Ctrl-C) or 143 (SIGTERM) the run was stopped
//! by that signal and wrote its results from the load until then (see
//! [`crate::interrupt`]).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::{Contract, Service};
use crate::engine::{self, RunContext, Target};
use crate::scenario::Scenario;
use crate::secret::Secret;
use crate::token::{Credentials, TokenCache, TokenPolicy};

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

/// The grace period of a stopped run when none is given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// What a run may do beyond its scenario (the command line's guards).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--confirm-production HOST`.
    pub confirm_production: Option<String>,
    /// TLS, overrides.
    pub connect: crate::connect::ConnectArgs,
    /// (index, count) of this worker; (0, 0) and (0, 1) mean a single process.
    pub worker: (u16, u16),
    /// When the load starts, for workers.
    pub start_at: Option<DateTime<Utc>>,
    /// `--grace`: how long requests in flight may finish after a stop signal;
    /// `None` for [`DEFAULT_GRACE`].
    pub grace: Option<Duration>,
    /// `--dashboard`: the live view the run shows itself on.
    pub dashboard: Option<Arc<crate::live::Dashboard>>,
}

impl RunOptions {
    /// (index, count) of this worker, (0, 1) for a single process.
    pub fn worker(&self) -> (u16, u16) {
        if self.worker.1 == 0 {
            (0, 1)
        } else {
            self.worker
        }
    }

    /// The grace period of a stopped run.
    pub fn grace(&self) -> Duration {
        self.grace.unwrap_or(DEFAULT_GRACE)
    }
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

/// The result of `run`: the exit code and where the results are.
#[derive(Debug)]
pub struct RunOutcome {
    /// 0 passed, 1 failed; 130 or 143 stopped by SIGINT or SIGTERM.
    pub exit: u8,
    /// The results folder.
    pub dir: PathBuf,
    /// `summary.json` as written.
    pub summary: Value,
}

/// A configuration or target error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow!(UsageError(message.into()))
}

/// An embedded mock with one-off credentials for every administrator.
struct Embedded {
    base_url: String,
    mock: mss_mock::Mock,
    creds: HashMap<String, Credentials>,
}

async fn start_mock(scenario: &Scenario) -> anyhow::Result<Embedded> {
    let mut clients = Vec::new();
    let mut creds = HashMap::new();
    for a in &Contract::current().administradoras {
        let password = format!("{:032x}", rand::random::<u128>());
        let client_id = format!("mss-harness-{}", a.codigo);
        clients.push(mss_mock::ClientConfig {
            username: format!("run-{}", a.codigo),
            password: password.clone(),
            client_id: client_id.clone(),
            administradora: a.codigo.clone(),
            services: None,
        });
        creds.insert(
            a.codigo.clone(),
            Credentials {
                username: format!("run-{}", a.codigo),
                password: Secret::new(password),
                client_id,
            },
        );
    }
    let mut config = mss_mock::MockConfig::with_clients(clients);
    if let Some(ttl) = scenario.target.mock.token_ttl_seconds {
        config.token_ttl_seconds = ttl;
    }
    if let Some(latency) = scenario.target.mock.latency {
        config.latency = latency;
    }
    if let Some(n) = scenario.target.mock.max_records {
        config.max_records = n;
    }
    if let Some(n) = scenario.target.mock.max_fingerprints {
        config.max_fingerprints = n;
    }
    config.capacity.clone_from(&scenario.target.mock.capacity);
    let mock = mss_mock::Mock::new(config).map_err(|e| usage(format!("embedded mock: {e}")))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the embedded mock on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    tokio::spawn(mock.clone().serve(listener));
    Ok(Embedded {
        base_url: format!("http://{addr}"),
        mock,
        creds,
    })
}

fn policy(scenario: &Scenario) -> TokenPolicy {
    TokenPolicy {
        margin: scenario.token.refresh_margin.0,
        jitter: scenario.token.refresh_jitter.0,
        timeout: scenario.http.timeout.0,
        ..TokenPolicy::default()
    }
}

/// Run `args` and write the results; errors are usage errors (exit 2). With
/// `--dry-run`, print the plan and send nothing (`None`).
pub fn run(args: &RunArgs) -> anyhow::Result<Option<RunOutcome>> {
    let scenario = Scenario::load(&args.scenario).map_err(|e| usage(e.to_string()))?;
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
        print!("{}", plan(&scenario, &options));
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

/// The process's logger during a run: Goose's errors only, on stderr.
struct GooseErrorsOnly;

impl log::Log for GooseErrorsOnly {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Error
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("goose: {}", record.args());
        }
    }

    fn flush(&self) {}
}

impl GooseErrorsOnly {
    fn install() {
        static LOGGER: GooseErrorsOnly = GooseErrorsOnly;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Error);
        }
    }
}

/// The host of a URL target, lower-cased.
fn url_host(scenario: &Scenario) -> Option<String> {
    reqwest::Url::parse(&scenario.target.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// What a run of `scenario` would do, for `--dry-run`.
pub fn plan(scenario: &Scenario, options: &RunOptions) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (peak, duration, total) = scenario.plan();
    let _ = writeln!(
        out,
        "plan of scenario {} (dry run: nothing is sent)",
        scenario.name
    );
    let host = url_host(scenario);
    let production = host
        .as_deref()
        .is_some_and(|h| !crate::connect::is_local_host(h));
    let _ = writeln!(
        out,
        "  target      {}{}",
        scenario.target.url,
        match (&host, production) {
            (None, _) => " (the embedded mock)".to_owned(),
            (Some(h), true) => format!(" — PRODUCTION host {h}"),
            (Some(h), false) => format!(" — {h}, this machine"),
        }
    );
    match scenario.load_model() {
        crate::scenario::LoadModel::Open {
            start_rate,
            stages,
            max_in_flight,
        } => {
            let _ = writeln!(
                out,
                "  model       open, from {start_rate} req/s, at most {max_in_flight} in flight"
            );
            for (i, st) in stages.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  stage {:<5} to {} req/s over {}",
                    i + 1,
                    st.rate,
                    humantime::format_duration(st.duration.0)
                );
            }
        }
        crate::scenario::LoadModel::Search(p) => {
            let _ = writeln!(
                out,
                "  model       capacity search: {} plateaus of {} from {} req/s, ×{} up to {} req/s, then bisecting; at most {} in flight",
                p.plateaus,
                humantime::format_duration(p.plateau),
                p.start_rate,
                p.step,
                p.max_rate,
                p.max_in_flight
            );
        }
        crate::scenario::LoadModel::Closed {
            users,
            ramp,
            think_time,
            run_time,
        } => {
            let _ = writeln!(
                out,
                "  model       closed, {users} users started over {}, think {}, then {}",
                humantime::format_duration(ramp),
                humantime::format_duration(think_time),
                humantime::format_duration(run_time)
            );
        }
    }
    if options.worker.1 > 1 {
        let _ = writeln!(
            out,
            "  worker      {} of {} (sends 1/{} of the load)",
            options.worker.0, options.worker.1, options.worker.1
        );
    }
    let _ = writeln!(
        out,
        "  duration    {}",
        humantime::format_duration(duration)
    );
    let _ = writeln!(
        out,
        "  requests    {}",
        match (total, peak) {
            (Some(t), Some(p)) => format!("about {t} (peak {p} req/s)"),
            _ => "as many as the users' answers allow".to_owned(),
        }
    );
    let mix: Vec<String> = scenario
        .mix
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(out, "  mix         {}", mix.join(", "));
    if !scenario.invalid.is_empty() {
        let inv: Vec<String> = scenario
            .invalid
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "  invalid     {}", inv.join(", "));
    }
    let _ = writeln!(
        out,
        "  data        administradora {}, seed {}, numeroRadicado prefix {}",
        scenario.data.administradora, scenario.data.seed, scenario.data.radicado_prefix
    );
    if production {
        let caps = scenario.production.caps();
        let _ = writeln!(
            out,
            "  caps        {} req/s, {}, {} requests (raise them only in [production])",
            caps.max_rate,
            humantime::format_duration(caps.max_duration),
            caps.max_requests
        );
        let h = host.unwrap_or_default();
        let confirmed = options
            .confirm_production
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&h));
        let _ = writeln!(
            out,
            "  confirmed   {}",
            if confirmed {
                format!("yes (--confirm-production {h})")
            } else {
                format!("NO: the run needs --confirm-production {h}")
            }
        );
    }
    out
}

/// Run a parsed scenario (the library entry point tests use).
pub async fn run_scenario(scenario: Scenario, out: Option<PathBuf>) -> anyhow::Result<RunOutcome> {
    run_scenario_with(scenario, out, &RunOptions::default()).await
}

/// Run a parsed scenario with the command line's guards and connection settings.
pub async fn run_scenario_with(
    scenario: Scenario,
    out: Option<PathBuf>,
    options: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let http = reqwest::Client::builder()
        .connect_timeout(scenario.http.connect_timeout.0)
        .pool_max_idle_per_host(usize::MAX)
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    let policy = policy(&scenario);
    let own = scenario.data.administradora.clone();
    let (target, embedded, target_label) = if scenario.target.url == "mock" {
        let e = start_mock(&scenario).await?;
        let token_url = format!("{}/token", e.base_url);
        let mut caches: HashMap<String, Arc<TokenCache>> = e
            .creds
            .iter()
            .map(|(admin, c)| {
                (
                    admin.clone(),
                    Arc::new(TokenCache::new(
                        http.clone(),
                        token_url.clone(),
                        c.clone(),
                        policy,
                    )),
                )
            })
            .collect();
        let mine = caches
            .remove(&own)
            .ok_or_else(|| usage(format!("data.administradora {own} is not in the contract")))?;
        let target = Target {
            base_url: e.base_url.clone(),
            tokens: [mine.clone(), mine],
            others: caches,
            caps: None,
        };
        (target, Some(e), "mock (embedded)".to_owned())
    } else {
        let base = scenario.target.url.trim_end_matches('/').to_owned();
        let url =
            reqwest::Url::parse(&base).map_err(|e| usage(format!("target.url {base:?}: {e}")))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !scenario
            .target
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
        {
            return Err(usage(format!(
                "target.url: host {host} is not in target.allowed_hosts; nothing was sent"
            )));
        }
        let production = !crate::connect::is_local_host(&host);
        if production {
            match &options.confirm_production {
                Some(c) if c.eq_ignore_ascii_case(&host) => {}
                Some(c) => {
                    return Err(usage(format!(
                        "--confirm-production {c} does not name the target host {host}; nothing was sent"
                    )));
                }
                None => {
                    return Err(usage(format!(
                        "{host} is not this machine: a run against it needs --confirm-production {host} \
                         (agree the run with the ministry first; --dry-run shows the plan); nothing was sent"
                    )));
                }
            }
        }
        options
            .connect
            .check_insecure(&host)
            .map_err(|e| usage(e.to_string()))?;
        let c = scenario
            .credentials
            .as_ref()
            .ok_or_else(|| usage("credentials: a URL target needs [credentials]"))?;
        let creds = match &c.file {
            Some(f) => crate::credentials::from_file(Path::new(f)),
            None => crate::credentials::from_env(
                c.username_env.as_deref().unwrap_or_default(),
                c.password_env.as_deref().unwrap_or_default(),
                c.client_id_env.as_deref(),
                c.client_id_afiliacion_env.as_deref(),
                c.client_id_retracto_env.as_deref(),
            ),
        }
        .map_err(|e| usage(format!("{e:#}")))?;
        crate::secret::redact_panics(vec![creds.password.expose().to_owned()]);
        let (afi_id, ret_id) = creds.client_ids().map_err(|e| usage(e.to_string()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = match options
            .connect
            .override_for(&host, port)
            .map_err(|e| usage(e.to_string()))?
        {
            Some(a) => vec![a],
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| usage(format!("target {host}:{port}: cannot resolve: {e}")))?
                .collect(),
        };
        if !futures_connect(&addrs, scenario.http.connect_timeout.0).await {
            return Err(usage(format!("target {host}:{port} is unreachable")));
        }
        let http = options
            .connect
            .client(&url, scenario.http.connect_timeout.0, None)
            .map_err(|e| usage(format!("{e:#}")))?;
        let token_url = format!("{base}/token");
        let make = |client_id: String| {
            Arc::new(TokenCache::new(
                http.clone(),
                token_url.clone(),
                Credentials {
                    username: creds.username.clone(),
                    password: creds.password.clone(),
                    client_id,
                },
                policy,
            ))
        };
        let tokens = if afi_id == ret_id {
            let c = make(afi_id);
            [c.clone(), c]
        } else {
            [make(afi_id), make(ret_id)]
        };
        // The first token before any load: wrong credentials or a certificate
        // that does not verify stop the run here, having sent one request.
        for cache in &tokens {
            if let Err(e) = cache.get().await {
                return Err(usage(format!(
                    "{base}/token: {e}; no report was sent (`mss-harness preflight --target {base}` checks each stage)"
                )));
            }
        }
        let worker = options.worker();
        let caps = production.then(|| scenario.production.caps().share(worker));
        let mock = None;
        return run_prepared(
            scenario,
            out,
            http,
            Target {
                base_url: base.clone(),
                tokens,
                others: HashMap::new(),
                caps,
            },
            mock,
            &base,
            None,
            options,
        )
        .await;
    };

    let mock = embedded.map(|e| e.mock);
    run_prepared(
        scenario,
        out,
        http,
        target,
        mock,
        &target_label,
        None,
        options,
    )
    .await
}

/// Called once the run's clock has started, with the run's shared context (tests
/// use it to act on the target mid-run).
pub type OnStart = Box<dyn FnOnce(Arc<RunContext>) + Send>;

/// Run `scenario` against a resolved `target`; `mock`, when given, is the mock
/// behind it, whose records are reconciled with what the harness saw.
// The library entry point of every run (tests drive it directly): each
// argument is a separate concern the callers set independently.
#[allow(clippy::too_many_arguments)]
pub async fn run_prepared(
    scenario: Scenario,
    out: Option<PathBuf>,
    http: reqwest::Client,
    target: Target,
    mock: Option<mss_mock::Mock>,
    target_label: &str,
    on_start: Option<OnStart>,
    options: &RunOptions,
) -> anyhow::Result<RunOutcome> {
    let worker = options.worker();
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
            scenario.name,
            if worker.1 > 1 {
                format!("-w{}of{}", worker.0, worker.1)
            } else {
                String::new()
            }
        ))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let crate::scenario::LoadModel::Closed { users, .. } = scenario.load_model()
        && engine::users(&scenario, worker) == 0
    {
        return Err(usage(format!(
            "load.users: {users} users cannot be shared among {} workers (worker {} would have none)",
            worker.1, worker.0
        )));
    }
    let base_url = target.base_url.clone();
    let faults = FaultTarget::new(&scenario, mock.as_ref(), &http, &base_url).await?;
    // An `mss-mock` on this machine as the target (one process, not a worker
    // of several): reconcile with what it stores during this run.
    let remote_before = if mock.is_none() && worker.1 <= 1 && is_loopback_url(&base_url) {
        remote_accepted(&http, &base_url).await
    } else {
        None
    };
    let stats_http = http.clone();
    let is_production = target.caps.is_some();
    let search = match scenario.load_model() {
        crate::scenario::LoadModel::Search(plan) if worker.1 > 1 => {
            return Err(usage(format!(
                "load.model: a capacity search decides its rates as it goes and runs as one process, not as worker {}/{} (its {} req/s at most may need a bigger machine instead)",
                worker.0, worker.1, plan.max_rate
            )));
        }
        crate::scenario::LoadModel::Search(plan) => Some(plan),
        _ => None,
    };
    let ctx = engine::prepare(&scenario, target, http, worker).map_err(usage)?;
    if let Some(d) = &options.dashboard {
        let run_id = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        d.attach(ctx.clone(), &scenario, &run_id, target_label);
    }
    let search_steps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let searcher = search.map(|plan| {
        tokio::spawn(crate::capacity::search::drive(
            ctx.clone(),
            scenario.clone(),
            plan,
            search_steps.clone(),
        ))
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
    let progress = tokio::spawn(progress(ctx.clone(), scenario.duration()));
    // Offsets count from here, a moment before the first request.
    if let Some(f) = &faults {
        f.install(&scenario.faults)
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
    let goose_report = dir.join("goose-report.html").display().to_string();
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
    let result = engine::execute(ctx.clone(), &scenario, Some(goose_report)).await;
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
    ctx.finish();
    stopper.abort();
    let faults_json = match faults {
        Some(f) => json!({"scheduled": scenario.faults, "injected": f.clear().await}),
        None => Value::Null,
    };
    result.map_err(usage)?;
    // Reports whose answers were lost and whose retries failed too: one more
    // try now that the load (and any fault) is over — never against
    // production, nor after a stop.
    ctx.drop_untaken();
    ctx.resolve_after_load(!is_production && ctx.interruption().is_none())
        .await;
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let target_accepted = match (&mock, remote_before) {
        (Some(m), _) => Some(accepted_of(&m.stats())),
        (None, Some(before)) => remote_accepted(&stats_http, &base_url).await.map(|after| {
            [
                after[0].saturating_sub(before[0]),
                after[1].saturating_sub(before[1]),
            ]
        }),
        _ => None,
    };
    let ended_at: DateTime<Utc> = Utc::now();
    if let Some(fatal) = ctx.fatal() {
        return Err(usage(fatal));
    }
    let summary = write_outputs(
        &dir,
        &scenario,
        &ctx,
        target_accepted,
        target_label,
        started_at,
        ended_at,
        faults_json,
        search_steps,
    )?;
    crate::report::write_all(&dir).context("the reports")?;
    let passed = crate::verdict::passed(&summary);
    crate::results::table::print(&summary, &dir);
    for line in crate::verdict::hints(&summary) {
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

/// Whether `url`'s host is this machine by name.
fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| crate::connect::is_local_host(&h))
}

/// Records accepted per service by a mock's stats.
fn accepted_of(stats: &Value) -> [u64; 2] {
    Service::ALL.map(|s| {
        stats["services"][s.name()]["accepted"]
            .as_u64()
            .unwrap_or(0)
    })
}

/// The accepted records of an `mss-mock` at `base_url` (`None` when the
/// target is not one: no `/__admin/stats`).
async fn remote_accepted(http: &reqwest::Client, base_url: &str) -> Option<[u64; 2]> {
    let url = format!("{}/__admin/stats", base_url.trim_end_matches('/'));
    let r = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    let stats: Value = r.json().await.ok()?;
    stats["services"].is_object().then(|| accepted_of(&stats))
}

/// Where a scenario's faults go: the embedded mock, or an `mss-mock` on this
/// machine through `/__admin/faults`.
#[derive(Clone)]
enum FaultTarget {
    Embedded(mss_mock::Mock),
    Remote { http: reqwest::Client, url: String },
}

impl FaultTarget {
    /// `None` when the scenario has no faults; an error when the target cannot
    /// take them (checked before any load).
    async fn new(
        scenario: &Scenario,
        mock: Option<&mss_mock::Mock>,
        http: &reqwest::Client,
        base_url: &str,
    ) -> anyhow::Result<Option<FaultTarget>> {
        if scenario.faults.is_empty() {
            return Ok(None);
        }
        if let Some(m) = mock {
            return Ok(Some(FaultTarget::Embedded(m.clone())));
        }
        let url = format!("{}/__admin/faults", base_url.trim_end_matches('/'));
        let answer = http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status());
        match answer {
            Ok(s) if s.is_success() => Ok(Some(FaultTarget::Remote {
                http: http.clone(),
                url,
            })),
            Ok(s) => Err(usage(format!(
                "faults: the target does not take faults (GET {url} answered {s}); faults need an mss-mock"
            ))),
            Err(e) => Err(usage(format!(
                "faults: the target does not take faults (GET {url}: {})",
                crate::outcome::Outcome::of_transport(&e)
            ))),
        }
    }

    async fn install(&self, specs: &[mss_mock::FaultSpec]) -> Result<(), String> {
        match self {
            FaultTarget::Embedded(m) => m.set_faults(specs),
            FaultTarget::Remote { http, url } => {
                let r = http
                    .post(url.as_str())
                    .json(&specs)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| format!("POST {url}: {e}"))?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Err(format!("POST {url} answered {status}: {body}"))
                }
            }
        }
    }

    /// Clear the faults; the injections per kind.
    async fn clear(&self) -> Value {
        match self {
            FaultTarget::Embedded(m) => {
                let injected = m.faults().injected();
                let _ = m.set_faults(&[]);
                Value::Object(injected)
            }
            FaultTarget::Remote { http, url } => {
                let stats = url.replace("/__admin/faults", "/__admin/stats");
                let injected = match http
                    .get(&stats)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .ok()
                        .map(|v| v["faults_injected"].clone()),
                    Err(_) => None,
                };
                let _ = http
                    .delete(url.as_str())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                injected.unwrap_or(Value::Null)
            }
        }
    }
}

async fn futures_connect(addrs: &[std::net::SocketAddr], timeout: Duration) -> bool {
    for a in addrs {
        if let Ok(Ok(_)) = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            return true;
        }
    }
    false
}

async fn progress(ctx: Arc<RunContext>, total: Duration) {
    let tty = std::io::stderr().is_terminal();
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let elapsed = started.elapsed().as_secs();
        if !tty && !elapsed.is_multiple_of(5) {
            continue;
        }
        let intervals = ctx.metrics().intervals();
        let last = intervals.iter().map(|i| i.second).max();
        let (mut done, mut errors, mut p99) = (0, 0, 0);
        for i in intervals.iter().filter(|i| Some(i.second) == last) {
            done += i.completed;
            errors += i.errors;
            p99 = p99.max(i.p99_us);
        }
        let line = progress_line(
            elapsed,
            total.as_secs(),
            (done, p99, errors),
            ctx.in_flight(),
            ctx.lost_reports(),
        );
        if tty {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// The progress line at `elapsed` seconds of a load of `total` seconds: during
/// the load, the last second's requests, p99 (µs) and errors and the requests
/// in flight; after it, what the run is still doing — resending the reports
/// whose answers were lost, or waiting for the requests in flight.
fn progress_line(
    elapsed: u64,
    total: u64,
    (done, p99, errors): (u64, u64, u64),
    in_flight: usize,
    lost: usize,
) -> String {
    if elapsed <= total {
        return format!(
            "[{elapsed:>4}/{total:>4} s] {done:>6} req/s  p99 {:>8.1} ms  errors {errors:>4}  in flight {in_flight:>5}",
            p99 as f64 / 1000.0,
        );
    }
    let after = elapsed - total;
    let phase = match (lost, in_flight) {
        (0, 0) => "writing the results".to_owned(),
        (0, n) => format!("waiting for {n} requests in flight"),
        (1, _) => "resending 1 lost report".to_owned(),
        (n, _) => format!("resending {n} lost reports"),
    };
    // Padded to cover the longer load line when it is redrawn in place.
    format!("[load of {total} s done, +{after:>3} s] {phase:<50}")
}

/// Collect the run's results (`results::collect`), judge them (`verdict`),
/// add the capacity analysis and write the folder.
// Each argument is a separate part of the summary.
#[allow(clippy::too_many_arguments)]
fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    ctx: &RunContext,
    target_accepted: Option<[u64; 2]>,
    target_label: &str,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    faults: Value,
    search_steps: Option<Vec<crate::results::Stage>>,
) -> anyhow::Result<crate::results::Summary> {
    let facts = crate::results::collect::RunFacts::of(scenario)?;
    let end = crate::results::collect::RunEnd {
        target_accepted,
        target_label: target_label.to_owned(),
        started_at,
        ended_at,
        faults: serde_json::from_value(faults).context("faults")?,
        search_steps,
    };
    let mut summary = crate::results::collect::summary(&facts, ctx, end);
    crate::cmd::unexpected::annotate(&mut summary.services, ctx);
    summary.capacity = crate::capacity::of_run(scenario, &summary.stages, &|from, to| {
        ctx.metrics().window(from, to)
    });
    crate::results::collect::write(dir, &summary, ctx, &facts.scenario_toml)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_names_what_follows_the_load() {
        let during = progress_line(12, 30, (50, 21_500, 0), 3, 0);
        assert!(during.starts_with("[  12/  30 s]"), "{during}");
        assert!(during.contains("p99     21.5 ms"), "{during}");
        let resending = progress_line(50, 30, (0, 0, 0), 2, 12);
        assert!(
            resending.starts_with("[load of 30 s done, + 20 s] resending 12 lost reports"),
            "{resending}"
        );
        assert!(!resending.contains("/  30 s]"), "{resending}");
        let one = progress_line(31, 30, (0, 0, 0), 0, 1);
        assert!(one.contains("resending 1 lost report "), "{one}");
        let waiting = progress_line(33, 30, (0, 0, 0), 4, 0);
        assert!(
            waiting.contains("waiting for 4 requests in flight"),
            "{waiting}"
        );
    }
}
