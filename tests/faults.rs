//! Fault injection end to end: one short run per fault kind against the
//! embedded mock, each asserting the one error class of docs/protocol.md ("How the harness classes an answer") the kind
//! maps to, that the run completes, and that every output is written.

use std::path::{Path, PathBuf};

use mss_harness::scenario::RunPlan;
use mss_harness::session::run_scenario;
use serde_json::Value;

const SERVICES: [&str; 2] = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"];

struct Ran {
    dir: PathBuf,
    summary: Value,
    exit: u8,
}

impl Ran {
    /// Requests per class over both services (`ok` included).
    fn classes(&self) -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for s in SERVICES {
            let svc = &self.summary["services"][s];
            let errors = svc["errors"].as_object().cloned().unwrap_or_default();
            let mut failed = 0;
            for (class, n) in errors {
                let n = n.as_u64().unwrap_or(0);
                failed += n;
                *m.entry(class).or_insert(0) += n;
            }
            let requests = svc["requests"].as_u64().unwrap_or(0);
            *m.entry("ok".to_owned()).or_insert(0) += requests - failed;
        }
        m.retain(|_, n| *n > 0);
        m
    }

    /// The run's classes are `class` and, when `with_ok`, `ok`: nothing else.
    fn assert_only(&self, class: &str, with_ok: bool) {
        let classes = self.classes();
        assert!(
            classes.get(class).copied().unwrap_or(0) > 0,
            "no {class} in {classes:?} ({})",
            self.dir.display()
        );
        for c in classes.keys() {
            assert!(
                c == class || (with_ok && c == "ok"),
                "unexpected class {c} in {classes:?} ({})",
                self.dir.display()
            );
        }
    }

    fn assert_outputs(&self) {
        for f in crate::run::OUTPUTS {
            let p = self.dir.join(f);
            assert!(
                p.metadata().is_ok_and(|m| m.len() > 0),
                "{} missing or empty",
                p.display()
            );
        }
        let validator = crate::run::summary_schema();
        let errors: Vec<String> = validator
            .iter_errors(&self.summary)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "summary.json: {errors:#?}");
        assert!(
            self.summary["faults"]["scheduled"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "the summary lists the faults: {}",
            self.summary["faults"]
        );
    }
}

/// Run a short open scenario against the embedded mock with `faults` (a TOML
/// array) and `extra` tables.
async fn run(name: &str, faults: &str, rate: u32, seconds: u32, extra: &str) -> Ran {
    run_with_timeout(name, faults, rate, seconds, extra, "3s").await
}

async fn run_with_timeout(
    name: &str,
    faults: &str,
    rate: u32,
    seconds: u32,
    extra: &str,
    timeout: &str,
) -> Ran {
    // A lost answer is retried within the retry budget (10% by default): the
    // tests of its resolution lose far more than that, so they lift it.
    let budget = if faults.contains("after_commit") {
        "retry_budget = \"100%\""
    } else {
        ""
    };
    let text = format!(
        r#"
name = "fault-{name}"
faults = {faults}
[target]
url = "mock"
{extra}
[load]
model = "open"
stages = [{{ rate = {rate}, duration = "{seconds}s" }}]
max_in_flight = 100
[http]
timeout = "{timeout}"
{budget}
"#
    );
    let scenario = RunPlan::parse(
        &text,
        Path::new("fault.toml"),
        mss_contract::Contract::embedded(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::util::temp_dir(&format!("fault-{name}"));
    let outcome = run_scenario(scenario, Some(dir.clone()))
        .await
        .unwrap_or_else(|e| panic!("fault {name}: the run failed: {e:#}"));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
    )
    .expect("json");
    let ran = Ran {
        dir,
        summary,
        exit: outcome.exit,
    };
    ran.assert_outputs();
    ran
}

fn p50_ms(ran: &Ran) -> f64 {
    ran.summary["services"]["ReportarAfiliaciontraslado"]["latency_us"]["p50"]
        .as_f64()
        .unwrap_or(0.0)
        / 1000.0
}

/// Reconciliation holds: what the harness knows stored equals the mock.
fn assert_reconciled(ran: &Ran) {
    let r = &ran.summary["reconciliation"];
    assert_eq!(r["ok"], true, "reconciliation: {r:#}");
    assert_eq!(ran.exit, 0, "{}", ran.dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_is_ok_and_slower() {
    let ran = run(
        "delay",
        r#"[{kind = "delay", route = "reports", ms = 250}]"#,
        20,
        2,
        "",
    )
    .await;
    ran.assert_only("ok", true);
    assert!(p50_ms(&ran) >= 250.0, "p50 {} ms", p50_ms(&ran));
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_is_ok_and_slower() {
    let ran = run(
        "slow-body",
        r#"[{kind = "slow_body", route = "reports", chunk_bytes = 16, interval_ms = 30}]"#,
        20,
        2,
        "",
    )
    .await;
    ran.assert_only("ok", true);
    // An envelope of ~120 bytes in 16-byte chunks 30 ms apart.
    assert!(p50_ms(&ran) >= 150.0, "p50 {} ms", p50_ms(&ran));
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_429_is_http_4xx_429() {
    let ran = run(
        "429",
        r#"[{kind = "status", status = 429, retry_after_s = 2, route = "reports", probability = 0.5, seed = 3}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("http_4xx:429", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_5xx_is_http_5xx_of_that_status() {
    for status in [500, 502, 503, 504] {
        let ran = run(
            &format!("{status}"),
            &format!(r#"[{{kind = "status", status = {status}, route = "reports"}}]"#),
            20,
            1,
            "",
        )
        .await;
        ran.assert_only(&format!("http_5xx:{status}"), false);
        assert_reconciled(&ran);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_is_reset() {
    let ran = run(
        "reset",
        r#"[{kind = "reset", route = "reports", probability = 0.5, seed = 1}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("reset", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_response_is_reset() {
    let ran = run(
        "empty",
        r#"[{kind = "empty", route = "reports", probability = 0.5, seed = 2}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("reset", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_is_read_timeout() {
    let ran = run_with_timeout(
        "hang",
        r#"[{kind = "hang", route = "reports", hold_s = 5, probability = 0.5, seed = 4}]"#,
        20,
        2,
        "",
        "1s",
    )
    .await;
    ran.assert_only("read_timeout", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_truncated() {
    let ran = run(
        "truncated",
        r#"[{kind = "truncated", route = "reports", probability = 0.5, seed = 5}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("truncated", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_invalid_body() {
    let ran = run(
        "malformed",
        r#"[{kind = "malformed_json", route = "reports", probability = 0.5, seed = 6}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("invalid_body", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_is_read_timeout() {
    // Answers held past the 1 s timeout (the stall outlasts the run): every
    // client gives up, and the mock, holding them in front of the service,
    // never processes them.
    let ran = run_with_timeout(
        "stall",
        r#"[{kind = "stall", at = "500ms", duration = "30s"}]"#,
        20,
        2,
        "",
        "1s",
    )
    .await;
    ran.assert_only("read_timeout", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_outage_is_token_unavailable() {
    // Tokens live 3 s and are refreshed 1 s before: the refresh at ~2 s meets
    // the outage, and once the token expires the reports cannot be sent.
    let ran = run(
        "token-outage",
        r#"[{kind = "token_outage", route = "token", at = "500ms", retry_after_s = 1}]"#,
        20,
        5,
        "[target.mock]\ntoken_ttl_seconds = 3\n[token]\nrefresh_margin = \"1s\"\nrefresh_jitter = \"0s\"",
    )
    .await;
    ran.assert_only("token_unavailable", true);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_are_refreshed_and_ok() {
    let ran = run(
        "revoke",
        r#"[{kind = "revoke_tokens", at = "1s"}]"#,
        20,
        2,
        "",
    )
    .await;
    ran.assert_only("ok", true);
    assert_eq!(ran.summary["faults"]["injected"]["revoke_tokens"], 1);
    // The first token, and one after the revocation.
    assert!(
        ran.summary["token"]["requests"].as_u64() >= Some(2),
        "{}",
        ran.summary["token"]
    );
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_ten_days_back_is_business_val02() {
    let ran = run(
        "clock-skew",
        r#"[{kind = "clock_skew", route = "reports", seconds = -864000}]"#,
        20,
        2,
        "",
    )
    .await;
    // Every fechaSolicitud is "in the future" of the mock.
    ran.assert_only("business:VAL02", false);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_commit_is_unknown_outcome_and_reconciled() {
    let ran = run(
        "reset-after-commit",
        r#"[{kind = "reset_after_commit", route = "reports", probability = 0.3, seed = 9}]"#,
        30,
        2,
        "",
    )
    .await;
    ran.assert_only("unknown_outcome", true);
    assert_unknown_listed(&ran);
    assert_reconciled(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_after_commit_is_unknown_outcome_and_reconciled() {
    let ran = run_with_timeout(
        "hang-after-commit",
        r#"[{kind = "hang_after_commit", route = "reports", hold_s = 5, probability = 0.3, seed = 10}]"#,
        20,
        2,
        "",
        "1s",
    )
    .await;
    ran.assert_only("unknown_outcome", true);
    assert_unknown_listed(&ran);
    assert_reconciled(&ran);
}

/// The reconciliation lists the radicado of every `unknown_outcome` once
/// (a report retried and lost twice is two such requests, one radicado), each
/// confirmed by a retry answered NEG01; with these faults alone, every record
/// of the mock the harness got no OK for is listed.
fn assert_unknown_listed(ran: &Ran) {
    let r = &ran.summary["reconciliation"];
    let listed = r["unknown_outcome"].as_array().cloned().unwrap_or_default();
    let classes = ran.classes();
    assert!(
        !listed.is_empty() && listed.len() as u64 <= classes["unknown_outcome"],
        "radicados of the unknown_outcome requests: {r:#}"
    );
    let acknowledged: u64 = SERVICES
        .iter()
        .map(|s| ran.summary["services"][s]["stored"].as_u64().unwrap_or(0))
        .sum::<u64>()
        - listed.len() as u64;
    let target: u64 = SERVICES
        .iter()
        .map(|s| r["services"][s]["target"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        target - acknowledged,
        listed.len() as u64,
        "the records stored without an OK are the listed ones: {r:#}"
    );
    assert_eq!(
        r["idempotent_duplicates"].as_u64(),
        Some(listed.len() as u64)
    );
    let mut seen = std::collections::HashSet::new();
    for x in &listed {
        assert!(
            x["numeroRadicado"]
                .as_str()
                .is_some_and(|s| s.starts_with("MSS") && s.len() > 10),
            "{x}"
        );
        assert!(
            seen.insert(x["numeroRadicado"].clone()),
            "listed twice: {x}"
        );
    }
}

#[test]
fn scenario_faults_are_checked_at_load() {
    let base = |faults: &str, url: &str| {
        format!(
            "name = \"f\"\nfaults = {faults}\n[target]\nurl = \"{url}\"\n[load]\nmodel = \"open\"\nstages = [{{ rate = 5, duration = \"10s\" }}]\n"
        )
    };
    for (faults, url, want) in [
        (
            r#"[{kind = "explode"}]"#,
            "mock",
            "faults[0] (explode): kind \"explode\" is unknown",
        ),
        (r#"[{kind = "stall"}]"#, "mock", "needs a duration"),
        (
            r#"[{kind = "reset", at = "20s"}]"#,
            "mock",
            "not before the run's end",
        ),
        (
            r#"[{kind = "reset", probability = 2}]"#,
            "mock",
            "probability",
        ),
        (r#"[{kind = "reset", colour = "red"}]"#, "mock", "colour"),
    ] {
        let e = RunPlan::parse(
            &base(faults, url),
            Path::new("f.toml"),
            mss_contract::Contract::embedded(),
        )
        .expect_err(want)
        .to_string();
        assert!(e.contains(want), "{e} (want {want})");
    }
}

/// Not a fault kind: the stats and the admin API show the faults in force.
#[tokio::test]
async fn the_admin_api_sets_lists_and_clears_faults() {
    use axum::http::Method;
    let mock = crate::util::TestMock::new();
    let listed = mock
        .admin(
            Method::POST,
            "/__admin/faults",
            r#"[{"kind": "status", "status": 503, "route": "ReportarAfiliaciontraslado", "seed": 4}]"#,
        )
        .await;
    assert_eq!(listed["faults"][0]["kind"], "status");
    assert_eq!(listed["faults"][0]["active"], true);
    let (status, _, body) = mock
        .call(
            Method::POST,
            "/__admin/faults",
            &[],
            r#"[{"kind": "status"}]"#,
        )
        .await;
    let refused: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, 400);
    assert!(
        refused["mensaje"]
            .as_str()
            .is_some_and(|m| m.contains("faults[0] (status): kind \"status\" needs status")),
        "{refused}"
    );
    // The set in force is unchanged by a refused one.
    let listed = mock.admin(Method::GET, "/__admin/faults", "").await;
    assert_eq!(listed["faults"][0]["status"], 503);
    let cleared = mock.admin(Method::DELETE, "/__admin/faults", "").await;
    assert_eq!(cleared["faults"], Value::Array(vec![]));
}

/// A target that never answers holds the harness to `max_in_flight`: the
/// requests beyond it are `dropped` at their due time, not queued, so the
/// harness's memory is bounded however long the target hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_holds_the_harness_to_max_in_flight() {
    let text = r#"
name = "fault-hang-all"
faults = [{kind = "hang", route = "reports", hold_s = 30}]
[target]
url = "mock"
[load]
model = "open"
stages = [{ rate = 200, duration = "2s" }]
max_in_flight = 10
[http]
timeout = "1s"
"#;
    let scenario = RunPlan::parse(
        text,
        Path::new("hang.toml"),
        mss_contract::Contract::embedded(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::util::temp_dir("fault-hang-all");
    run_scenario(scenario, Some(dir.clone()))
        .await
        .expect("run");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
    )
    .expect("json");
    // 10 senders, each holding a request for the 1 s timeout (and its
    // retries): at most 10 × 2 s / 1 s sent, the other ~380 dropped.
    let sent = summary["faults"]["injected"]["hang"].as_u64().unwrap_or(0);
    assert!((1..=30).contains(&sent), "{sent} requests reached the mock");
    assert!(
        summary["dropped"].as_u64() >= Some(300),
        "dropped {}",
        summary["dropped"]
    );
}

/// "Reconciliation lists exactly those radicados", against the records
/// themselves: the binary runs against an `mss-mock` on a socket with answers
/// lost after commit; every listed radicado is a record of the mock, and the
/// records are exactly the acknowledged ones plus the listed ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listed_radicados_are_exactly_the_records_stored_without_an_ok() {
    let mock = crate::util::TestMock::new();
    let base = mock.serve().await;
    let cred = mock.cred("230301").clone();
    let dir = crate::util::temp_dir("fault-listed");
    let file = dir.join("lost.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "lost-after-commit"
faults = [{{kind = "reset_after_commit", route = "reports", probability = 0.25, seed = 21}}]
[target]
url = "{base}"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "LOST_USER"
password_env = "LOST_PASSWORD"
client_id_env = "LOST_CLIENT"
[load]
model = "open"
stages = [{{ rate = 40, duration = "2s" }}]
max_in_flight = 20
[http]
# A quarter of the answers are lost: lift the retry budget (10% by default)
# so that every one is resolved.
retry_budget = "100%"
"#
        ),
    )
    .expect("scenario");
    let out = dir.join("run");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mss-harness"));
    command
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .env("LOST_USER", &cred.username)
        .env("LOST_PASSWORD", &cred.password)
        .env("LOST_CLIENT", &cred.client_id)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // The mock serves on this runtime while the binary runs.
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .expect("join")
        .expect("run");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(status.code(), Some(0), "{:#}", summary["reconciliation"]);
    let r = &summary["reconciliation"];
    assert_eq!(
        r["checked"], true,
        "an mss-mock on this machine is reconciled: {r:#}"
    );
    assert_eq!(r["ok"], true, "{r:#}");
    let records: std::collections::HashSet<String> = mock
        .mock
        .records_page(0, 100_000)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["numeroRadicado"].as_str().map(str::to_owned))
        .collect();
    let listed: Vec<String> = r["unknown_outcome"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["numeroRadicado"].as_str().map(str::to_owned))
        .collect();
    assert!(!listed.is_empty(), "{r:#}");
    for l in &listed {
        assert!(records.contains(l), "{l} is listed but not stored");
    }
    let stored: u64 = SERVICES
        .iter()
        .map(|s| summary["services"][s]["stored"].as_u64().unwrap_or(0))
        .sum();
    // `stored` counts the acknowledged reports and one idempotent duplicate
    // per listed radicado.
    let acknowledged = stored - listed.len() as u64;
    assert_eq!(
        records.len() as u64,
        acknowledged + listed.len() as u64,
        "the mock's records are the acknowledged ones and the listed ones"
    );
}
