//! `mss-harness conform`: the conformance suite. Runs the catalogue of checks
//! ([`checks`]) with the [`runner`] against the bundled mock or a URL and tells, check by check,
//! where the target departs from the protocol: a terminal table,
//! `conformance.json` and `junit.xml`. Exit 0 all passed, 1 some failed, 2 the
//! suite could not run.

pub mod checks;
pub mod runner;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use mss_contract::Contract;
use serde_json::{Value, json};

pub use checks::{Check, Probe, Severity, catalogue};
pub use runner::{Creds, Ctx, Exchange, OWN, OWN_AFI, OWN_RET, Outcome, Setup, TokenAge, Verdict};

use crate::secret::Secret;

/// Environment variables a URL target's credentials come from.
pub const ENV_USERNAME: &str = "MSS_USERNAME";
/// The password's variable.
pub const ENV_PASSWORD: &str = "MSS_PASSWORD";
/// One client_id for both services.
pub const ENV_CLIENT_ID: &str = "MSS_CLIENT_ID";
/// The client_id of ReportarAfiliaciontraslado, when there is one per service.
pub const ENV_CLIENT_ID_AFILIACION: &str = "MSS_CLIENT_ID_AFILIACION";
/// The client_id of ReportarRetractoAfiliacion, when there is one per service.
pub const ENV_CLIENT_ID_RETRACTO: &str = "MSS_CLIENT_ID_RETRACTO";

/// Flags of `conform`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConformArgs {
    /// `mock` (the embedded mock, default) or the base URL of a target; a URL's
    /// credentials come from MSS_USERNAME, MSS_PASSWORD and MSS_CLIENT_ID (or
    /// MSS_CLIENT_ID_AFILIACION and MSS_CLIENT_ID_RETRACTO).
    #[arg(long, default_value = "mock", value_name = "mock|URL")]
    pub target: String,
    /// Run only these checks: an id, or a prefix ending in `-` or `*`
    /// (`AUTH-`, `LEN-AFI*`); repeatable.
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Seed of every generated value: the same seed sends the same requests.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Code of the administrator under test (contract/administradoras.csv)
    /// [default: the contract's default administrator, `por_defecto`].
    #[arg(long)]
    pub administradora: Option<String>,
    /// Results folder [default: results/conform-<UTC time>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Check expired tokens by waiting out a token's lifetime in real time
    /// (about 5 minutes against the ministry; once for both services) instead
    /// of moving a mock's clock. Every other check's token comes from the
    /// same cache as `run`'s: renewed before it expires, and once on a 401.
    #[arg(long)]
    pub slow: bool,
    /// Against a URL: run the checks that create records (accepted reports and
    /// the set-ups of business rules). Always on against the embedded mock.
    #[arg(long)]
    pub allow_writes: bool,
    /// Read the contract from this folder instead of the built-in one (the
    /// checks, the payloads and the embedded mock follow it).
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Print the catalogue (id, severity, title, source) and exit.
    #[arg(long)]
    pub list: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Credentials file (TOML, mode 600) instead of the MSS_* variables.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Against any host but this machine: the suite runs only when this names
    /// the target's host.
    #[arg(long, value_name = "HOST")]
    pub confirm_production: Option<String>,
    /// Connection settings.
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
}

/// The checks `only` selects (all when empty); an error names a pattern that
/// selects nothing.
pub fn select(all: Vec<Check>, only: &[String]) -> anyhow::Result<Vec<Check>> {
    for p in only {
        if !all
            .iter()
            .any(|c| checks::selected(&c.id, std::slice::from_ref(p)))
        {
            anyhow::bail!("--only {p}: no check has that id or prefix (see --list)");
        }
    }
    Ok(all
        .into_iter()
        .filter(|c| checks::selected(&c.id, only))
        .collect())
}

/// An embedded mock of `contract` on 127.0.0.1 with one-off credentials for
/// every administrator, plus one client_id per service for `administradora`.
pub async fn embedded_mock(
    contract: &Arc<Contract>,
    administradora: &str,
    deviations: &[String],
) -> anyhow::Result<(mss_mock::Mock, String, HashMap<String, Creds>)> {
    embedded_mock_with(contract, administradora, |c| {
        c.deviate = deviations.to_vec();
    })
    .await
}

/// As [`embedded_mock`], with the mock's configuration changed by `configure`
/// (its deviations, its token lifetime...).
pub async fn embedded_mock_with(
    contract: &Arc<Contract>,
    administradora: &str,
    configure: impl FnOnce(&mut mss_mock::MockConfig),
) -> anyhow::Result<(mss_mock::Mock, String, HashMap<String, Creds>)> {
    if contract.administradora(administradora).is_none() {
        anyhow::bail!("--administradora {administradora}: not in contract/administradoras.csv");
    }
    let mut clients = Vec::new();
    let mut creds = HashMap::new();
    for a in &contract.administradoras {
        let password = format!("{:032x}", rand::random::<u128>());
        let username = format!("conform-{}", a.codigo);
        let mut add = |key: String, client_id: String, services: Option<Vec<String>>| {
            clients.push(mss_mock::ClientConfig {
                username: username.clone(),
                password: password.clone(),
                client_id: client_id.clone(),
                administradora: a.codigo.clone(),
                services,
            });
            creds.insert(
                key,
                Creds {
                    username: username.clone(),
                    password: Secret::new(password.clone()),
                    client_id,
                },
            );
        };
        if a.codigo == administradora {
            add(OWN.to_owned(), format!("conform-{}", a.codigo), None);
            add(
                OWN_AFI.to_owned(),
                format!("conform-{}-afiliacion", a.codigo),
                Some(vec![mss_contract::Service::Afiliacion.name().to_owned()]),
            );
            add(
                OWN_RET.to_owned(),
                format!("conform-{}-retracto", a.codigo),
                Some(vec![mss_contract::Service::Retracto.name().to_owned()]),
            );
        } else {
            add(a.codigo.clone(), format!("conform-{}", a.codigo), None);
        }
    }
    let mut config = mss_mock::MockConfig::with_clients(clients);
    configure(&mut config);
    let mock = mss_mock::Mock::new(config, Arc::clone(contract)).context("embedded mock")?;
    // On its own thread and runtime, serving while the caller's runtime runs.
    let (mock, base_url) = crate::target::MockThread::start(mock)?.serve_while_this_runtime_runs();
    Ok((mock, base_url, creds))
}

/// Credentials of a URL target: `--credentials FILE`, else the MSS_*
/// variables, keyed as the suite uses them.
pub fn target_creds(file: Option<&Path>) -> anyhow::Result<HashMap<String, Creds>> {
    let set = crate::credentials::from_file_or_env(file)?;
    let mut creds = HashMap::new();
    let mut add = |key: &str, client_id: &Option<String>| {
        if let Some(id) = client_id {
            creds.insert(
                key.to_owned(),
                Creds {
                    username: set.username.clone(),
                    password: set.password.clone(),
                    client_id: id.clone(),
                },
            );
        }
    };
    add(OWN, &set.client_id);
    add(OWN_AFI, &set.client_id_afiliacion);
    add(OWN_RET, &set.client_id_retracto);
    Ok(creds)
}

/// A finished suite.
#[derive(Debug)]
pub struct Report {
    /// Outcomes in catalogue order.
    pub outcomes: Vec<Outcome>,
    /// What ran against what.
    pub meta: Value,
    /// Seconds it took.
    pub seconds: f64,
}

impl Report {
    /// (passed, failed, skipped).
    pub fn totals(&self) -> (usize, usize, usize) {
        let mut t = (0, 0, 0);
        for o in &self.outcomes {
            match o.verdict {
                Verdict::Pass => t.0 += 1,
                Verdict::Fail(_) => t.1 += 1,
                Verdict::Skip(_) => t.2 += 1,
            }
        }
        t
    }

    /// The outcome of check `id`.
    pub fn get(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.check.id == id)
    }
}

/// Run `checks` against `setup` with `contract`.
pub async fn run_suite(
    setup: Setup,
    contract: &Arc<Contract>,
    checks: &[Check],
    target_label: &str,
) -> anyhow::Result<Report> {
    let meta = json!({
        "target": target_label,
        "administradora": setup.administradora,
        "seed": setup.seed,
        "as_of": setup.as_of.to_string(),
        "started_at": Utc::now().to_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": Some(env!("MSS_GIT_COMMIT")).filter(|c| !c.is_empty()),
    });
    let started = Instant::now();
    let mut ctx = Ctx::new(setup, contract)?;
    let outcomes = ctx.run(checks).await;
    Ok(Report {
        outcomes,
        meta,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The command, following `contract` (the checks, the payloads and the
/// embedded mock): exit code 0, 1 or 2.
pub fn run(args: &ConformArgs, contract: &Arc<Contract>) -> u8 {
    match run_inner(args, contract) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mss-harness: conform: {e:#}");
            2
        }
    }
}

fn run_inner(args: &ConformArgs, contract: &Arc<Contract>) -> anyhow::Result<u8> {
    let checks = select(catalogue(contract), &args.only)?;
    let administradora = args
        .administradora
        .clone()
        .unwrap_or_else(|| contract.default_administradora().codigo.clone());
    if args.list {
        let mut out = std::io::stdout().lock();
        for c in &checks {
            writeln!(out, "{}\t{:?}\t{}\t{}", c.id, c.severity, c.title, c.source)?;
        }
        writeln!(out, "{} checks", checks.len())?;
        return Ok(0);
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let (setup, label) = if args.target == "mock" {
            let (mock, base, creds) = embedded_mock(contract, &administradora, &[]).await?;
            let as_of = mock.clock().today();
            (
                Setup {
                    base_url: base,
                    administradora: administradora.clone(),
                    seed: args.seed,
                    creds,
                    mock: Some(mock),
                    slow: args.slow,
                    admin_clock: false,
                    writes: true,
                    as_of,
                    timeout: args.timeout,
                    client: None,
                },
                "mock (embedded)".to_owned(),
            )
        } else {
            let base = args.target.trim_end_matches('/').to_owned();
            let url = reqwest::Url::parse(&base).with_context(|| format!("--target {base:?}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                anyhow::bail!("--target {base}: must be \"mock\" or an http(s):// base URL");
            }
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            let local = crate::connect::is_local_host(&host);
            if !local {
                match &args.confirm_production {
                    Some(c) if c.eq_ignore_ascii_case(&host) => {}
                    _ => anyhow::bail!(
                        "{host} is not this machine: the suite needs --confirm-production {host} \
                         (agree it with the ministry first); nothing was sent"
                    ),
                }
            }
            args.connect.check_insecure(&host)?;
            if contract.administradora(&administradora).is_none() {
                anyhow::bail!(
                    "--administradora {administradora}: not in contract/administradoras.csv"
                );
            }
            (
                Setup {
                    base_url: base.clone(),
                    administradora: administradora.clone(),
                    seed: args.seed,
                    creds: {
                        let c = target_creds(args.credentials.as_deref())?;
                        for cred in c.values() {
                            crate::secret::redact_panics(vec![cred.password.expose().to_owned()]);
                        }
                        c
                    },
                    mock: None,
                    slow: args.slow,
                    admin_clock: local && mock_clock_at(&base, args.timeout).await,
                    writes: args.allow_writes,
                    as_of: crate::domain::today_bogota(),
                    timeout: args.timeout,
                    client: Some(
                        args.connect
                            .client(&url, args.timeout, Some(args.timeout))?,
                    ),
                },
                base,
            )
        };
        preflight(&setup).await?;
        let dir = args.out.clone().unwrap_or_else(|| {
            PathBuf::from("results")
                .join(format!("conform-{}", Utc::now().format("%Y%m%dT%H%M%SZ")))
        });
        let report = run_suite(setup, contract, &checks, &label).await?;
        write_outputs(&report, &dir)?;
        let mut out = std::io::stdout().lock();
        print_table(&report, &mut out)?;
        let (_, failed, _) = report.totals();
        writeln!(
            out,
            "wrote {} and junit.xml",
            dir.join("conformance.json").display()
        )?;
        Ok(if failed > 0 { 1 } else { 0 })
    })
}

/// Whether a loopback target is an mss-mock whose clock the expired-token
/// checks may move (`GET /__admin/clock` answers with its offset). Only ever
/// asked of loopback targets.
async fn mock_clock_at(base: &str, timeout: Duration) -> bool {
    let Ok(http) = reqwest::Client::builder().timeout(timeout).build() else {
        return false;
    };
    match http.get(format!("{base}/__admin/clock")).send().await {
        Ok(r) if r.status().is_success() => r
            .json::<Value>()
            .await
            .is_ok_and(|v| v.get("offset_seconds").is_some()),
        _ => false,
    }
}

/// Can we get a token at all? If not, the suite cannot run (exit 2).
async fn preflight(setup: &Setup) -> anyhow::Result<()> {
    let http = match &setup.client {
        Some(c) => c.clone(),
        None => reqwest::Client::builder().timeout(setup.timeout).build()?,
    };
    let key = if setup.creds.contains_key(OWN) {
        OWN
    } else {
        OWN_AFI
    };
    let c = setup.creds.get(key).context("no credentials")?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", &c.username)
        .append_pair("password", c.password.expose())
        .append_pair("client_id", &c.client_id)
        .finish();
    let resp = http
        .post(format!("{}/token", setup.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}/token: no answer: {e}", setup.base_url))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp
            .text()
            .await
            .unwrap_or_default()
            .replace(c.password.expose(), "<redacted>");
        anyhow::bail!(
            "{}/token refused the credentials ({status}): {}",
            setup.base_url,
            body.chars().take(200).collect::<String>()
        );
    }
    Ok(())
}

fn verdict_parts(v: &Verdict) -> (&'static str, &str) {
    match v {
        Verdict::Pass => ("pass", ""),
        Verdict::Fail(d) => ("FAIL", d),
        Verdict::Skip(d) => ("skip", d),
    }
}

fn reproducer(e: &Exchange, seed: u64) -> String {
    let mut s = format!("{} {}\n", e.method, e.path);
    for (k, v) in &e.headers {
        let _ = writeln!(s, "{k}: {v}");
    }
    if !e.body.is_empty() {
        let _ = writeln!(s, "\n{}", e.body);
    }
    let _ = writeln!(
        s,
        "→ {}  {}",
        e.status
            .map_or_else(|| "no answer".to_owned(), |x| x.to_string()),
        e.response
    );
    let _ = write!(s, "(seed {seed}: the same seed sends the same requests)");
    s
}

/// The terminal table, then a reproducer for each failure.
pub fn print_table(report: &Report, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let width = report
        .outcomes
        .iter()
        .map(|o| o.check.id.len())
        .max()
        .unwrap_or(10)
        .max(2);
    writeln!(
        out,
        "{:<width$}  {:<70}  {:<6} detail",
        "id", "title", "result"
    )?;
    for o in &report.outcomes {
        let (r, d) = verdict_parts(&o.verdict);
        let title: String = o.check.title.chars().take(70).collect();
        let detail: String = d.chars().take(100).collect();
        writeln!(out, "{:<width$}  {title:<70}  {r:<6} {detail}", o.check.id)?;
    }
    let seed = report.meta["seed"].as_u64().unwrap_or(0);
    for o in report
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
    {
        let (_, d) = verdict_parts(&o.verdict);
        writeln!(out, "\n✗ {} — {}\n  {d}", o.check.id, o.check.title)?;
        if let Some(e) = &o.probe {
            for line in reproducer(e, seed).lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }
    let (p, f, s) = report.totals();
    writeln!(
        out,
        "\nconformance: {p} passed, {f} failed, {s} skipped of {} checks in {:.1} s against {}",
        report.outcomes.len(),
        report.seconds,
        report.meta["target"].as_str().unwrap_or("?")
    )
}

/// `conformance.json`.
pub fn to_json(report: &Report) -> Value {
    let (p, f, s) = report.totals();
    let checks: Vec<Value> = report
        .outcomes
        .iter()
        .map(|o| {
            let (r, d) = verdict_parts(&o.verdict);
            let mut c = json!({
                "id": o.check.id,
                "title": o.check.title,
                "source": o.check.source,
                "severity": o.check.severity,
                "result": r.to_lowercase(),
                "detail": d,
                "requests": o.requests,
                "probe": o.probe,
            });
            if let Some(t) = &o.token_age {
                c["token_age_s"] = json!((t.age_s * 10.0).round() / 10.0);
                c["token_lifetime_s"] = json!(t.lifetime_s);
                c["token_expired_by"] = json!(t.how);
            }
            c
        })
        .collect();
    json!({
        "meta": report.meta,
        "duration_s": report.seconds,
        "totals": {"checks": report.outcomes.len(), "passed": p, "failed": f, "skipped": s},
        "checks": checks,
    })
}

/// `junit.xml`: a testcase per check, grouped by the id's first part
/// (written by the harness's one JUnit writer, [`crate::junit::to_xml`]).
pub fn to_junit(report: &Report) -> String {
    use crate::junit::{Case, CaseResult, Suite, to_xml};
    let seed = report.meta["seed"].as_u64().unwrap_or(0);
    let cases = report
        .outcomes
        .iter()
        .map(|o| {
            let group = o.check.id.split('-').next().unwrap_or("check");
            Case {
                class: format!("mss-harness.conform.{group}"),
                name: format!("{} {}", o.check.id, o.check.title),
                result: match &o.verdict {
                    Verdict::Pass => CaseResult::Passed,
                    Verdict::Skip(why) => CaseResult::Skipped(why.clone()),
                    Verdict::Fail(why) => {
                        let text = o
                            .probe
                            .as_ref()
                            .map(|e| reproducer(e, seed))
                            .unwrap_or_default();
                        CaseResult::Failed {
                            kind: format!("{:?}", o.check.severity),
                            message: why.clone(),
                            text: format!("{}\nsource: {}\n\n{text}", why, o.check.source),
                        }
                    }
                },
            }
        })
        .collect();
    to_xml(&Suite {
        suites_name: "mss-harness conform".into(),
        name: "conformance".into(),
        seconds: report.seconds,
        timestamp: report.meta["started_at"]
            .as_str()
            .unwrap_or("")
            .trim_end_matches("+00:00")
            .to_owned(),
        hostname: None,
        properties: Vec::new(),
        cases,
    })
}

/// Write `conformance.json` and `junit.xml` into `dir`.
pub fn write_outputs(report: &Report, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(&to_json(report))?;
    std::fs::write(dir.join("conformance.json"), json + "\n")
        .with_context(|| format!("cannot write {}", dir.join("conformance.json").display()))?;
    std::fs::write(dir.join("junit.xml"), to_junit(report))
        .with_context(|| format!("cannot write {}", dir.join("junit.xml").display()))?;
    Ok(())
}
