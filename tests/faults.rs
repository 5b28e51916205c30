//! Fault injection end to end: one short run per fault kind against the
//! embedded mock, each asserting the one error class of docs/protocol.md ("How
//! the harness classes an answer") the kind maps to, that the run completes,
//! and that every output is written. The kinds are one table
//! ([`fault_tests!`]): a row is a test, and a new kind is a new row.

use std::path::{Path, PathBuf};

use mss_harness::scenario::RunPlan;
use mss_harness::session::run_scenario;
use serde_json::Value;

use crate::scenario_file::{ScenarioFile, run_command};

const SERVICES: [&str; 2] = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"];

/// The share of a fault run's tickets, in percent, that may be dropped (the
/// scenario's `drop_rate` bound): the harness's own lateness on a busy test
/// machine, which the fault tests do not judge.
const DROPPED_AT_MOST: u64 = 10;

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

    /// The run's classes are `class` and, when `with_ok`, `ok`: nothing else
    /// — but for a few `dropped`: tickets this debug build, among tests
    /// running in parallel on two cores, took more than 100 ms late. They are
    /// the harness's lateness, not the fault's answer, and within
    /// [`DROPPED_AT_MOST`] the run's delivery bound lets them pass too.
    fn assert_only(&self, class: &str, with_ok: bool) {
        let mut classes = self.classes();
        let requests: u64 = classes.values().sum();
        if class != "dropped"
            && let Some(dropped) = classes.remove("dropped")
        {
            assert!(
                dropped * 100 <= requests * DROPPED_AT_MOST,
                "{dropped} of {requests} requests dropped ({})",
                self.dir.display()
            );
        }
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

/// One fault kind's run: a short open scenario against the embedded mock
/// with `faults` (a TOML array), and what its results must show.
#[derive(Clone, Copy)]
struct Case {
    faults: &'static str,
    /// Requests per second and seconds of load.
    rate: u32,
    seconds: u32,
    /// `[http] timeout`.
    timeout: &'static str,
    /// Further tables of the scenario.
    extra: &'static str,
    /// The one error class the kind maps to (`ok` for a harmless kind).
    class: &'static str,
    /// Whether requests the fault spared (`ok`) may appear beside `class`.
    with_ok: bool,
    /// What the kind shows besides its class (a latency, a listing).
    also: fn(&Ran),
}

impl Case {
    /// What most rows share: 20 req/s for 2 s, a 3 s timeout, `ok` allowed.
    const BASE: Case = Case {
        faults: "[]",
        rate: 20,
        seconds: 2,
        timeout: "3s",
        extra: "",
        class: "ok",
        with_ok: true,
        also: |_| {},
    };

    /// Run the case as `name`: every output written and valid, the only
    /// classes `class` (and `ok` when allowed), what `also` checks, and the
    /// reconciliation holding.
    async fn check(self, name: &str) {
        let ran = self.run(name).await;
        ran.assert_only(self.class, self.with_ok);
        (self.also)(&ran);
        assert_reconciled(&ran);
    }

    async fn run(self, name: &str) -> Ran {
        let mut scenario = ScenarioFile::open(
            &format!("fault-{name}"),
            self.rate,
            &format!("{}s", self.seconds),
            100,
        )
        .top(&format!("faults = {}", self.faults));
        if !self.extra.is_empty() {
            scenario = scenario.table(self.extra);
        }
        // A lost answer is retried within the retry budget (10% by default): the
        // tests of its resolution lose far more than that, so they lift it.
        let budget = if self.faults.contains("after_commit") {
            "\nretry_budget = \"100%\""
        } else {
            ""
        };
        let scenario = scenario
            .table(&format!("[http]\ntimeout = \"{}\"{budget}", self.timeout))
            .table(&format!(
                "[thresholds]\nglobal = [\"drop_rate <= {DROPPED_AT_MOST}%\"]"
            ));
        let dir = crate::util::temp_dir(&format!("fault-{name}"));
        let outcome = run_scenario(scenario.plan(), Some(dir.clone()))
            .await
            .unwrap_or_else(|e| panic!("fault {name}: the run failed: {e:#}"));
        let ran = Ran {
            summary: crate::util::summary(&dir),
            dir,
            exit: outcome.exit,
        };
        ran.assert_outputs();
        ran
    }
}

/// `#[test]`s from one table: each row is a test named for its fault kind,
/// running [`Case::check`] on the row's fields over [`Case::BASE`].
macro_rules! fault_tests {
    ($($(#[doc = $doc:literal])* $test:ident { $($field:ident: $value:expr),* $(,)? })*) => {
        $(
            $(#[doc = $doc])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                Case { $($field: $value,)* ..Case::BASE }.check(stringify!($test)).await;
            }
        )*
    };
}

/// The run's median latency of affiliations is at least `ms`.
fn p50_at_least(ran: &Ran, ms: f64) {
    let p50 = ran.summary["services"]["ReportarAfiliaciontraslado"]["latency_us"]["p50"]
        .as_f64()
        .unwrap_or(0.0)
        / 1000.0;
    assert!(p50 >= ms, "p50 {p50} ms");
}

/// Reconciliation holds: what the harness knows stored equals the mock.
fn assert_reconciled(ran: &Ran) {
    let r = &ran.summary["reconciliation"];
    assert_eq!(r["ok"], true, "reconciliation: {r:#}");
    assert_eq!(ran.exit, 0, "{}", ran.dir.display());
}

/// The revocation was injected once, and the run asked for a new token: the
/// first one, and one after the revocation.
fn assert_token_renewed(ran: &Ran) {
    assert_eq!(ran.summary["faults"]["injected"]["revoke_tokens"], 1);
    assert!(
        ran.summary["token"]["requests"].as_u64() >= Some(2),
        "{}",
        ran.summary["token"]
    );
}

/// Tokens that live 3 s, refreshed 1 s before they expire.
const SHORT_LIVED_TOKENS: &str = "[target.mock]\ntoken_ttl_seconds = 3\n[token]\nrefresh_margin = \"1s\"\nrefresh_jitter = \"0s\"";

// One row a fault kind: the test's name { the fields that differ from
// Case::BASE }.
fault_tests! {
    delay_is_ok_and_slower { faults: r#"[{kind = "delay", route = "reports", ms = 250}]"#, also: |ran| p50_at_least(ran, 250.0) }
    /// An envelope of ~120 bytes in 16-byte chunks 30 ms apart.
    slow_body_is_ok_and_slower { faults: r#"[{kind = "slow_body", route = "reports", chunk_bytes = 16, interval_ms = 30}]"#, also: |ran| p50_at_least(ran, 150.0) }
    status_429_is_http_4xx_429 { faults: r#"[{kind = "status", status = 429, retry_after_s = 2, route = "reports", probability = 0.5, seed = 3}]"#, rate: 30, class: "http_4xx:429" }
    status_500_is_http_5xx_500 { faults: r#"[{kind = "status", status = 500, route = "reports"}]"#, seconds: 1, class: "http_5xx:500", with_ok: false }
    status_502_is_http_5xx_502 { faults: r#"[{kind = "status", status = 502, route = "reports"}]"#, seconds: 1, class: "http_5xx:502", with_ok: false }
    status_503_is_http_5xx_503 { faults: r#"[{kind = "status", status = 503, route = "reports"}]"#, seconds: 1, class: "http_5xx:503", with_ok: false }
    status_504_is_http_5xx_504 { faults: r#"[{kind = "status", status = 504, route = "reports"}]"#, seconds: 1, class: "http_5xx:504", with_ok: false }
    reset_is_reset { faults: r#"[{kind = "reset", route = "reports", probability = 0.5, seed = 1}]"#, rate: 30, class: "reset" }
    empty_response_is_reset { faults: r#"[{kind = "empty", route = "reports", probability = 0.5, seed = 2}]"#, rate: 30, class: "reset" }
    hang_is_read_timeout { faults: r#"[{kind = "hang", route = "reports", hold_s = 5, probability = 0.5, seed = 4}]"#, timeout: "1s", class: "read_timeout" }
    truncated_body_is_truncated { faults: r#"[{kind = "truncated", route = "reports", probability = 0.5, seed = 5}]"#, rate: 30, class: "truncated" }
    malformed_json_is_invalid_body { faults: r#"[{kind = "malformed_json", route = "reports", probability = 0.5, seed = 6}]"#, rate: 30, class: "invalid_body" }
    /// Answers held past the 1 s timeout (the stall outlasts the run): every
    /// client gives up, and the mock, holding them in front of the service,
    /// never processes them.
    stall_is_read_timeout { faults: r#"[{kind = "stall", at = "500ms", duration = "30s"}]"#, timeout: "1s", class: "read_timeout" }
    /// Tokens live 3 s and are refreshed 1 s before: the refresh at ~2 s meets
    /// the outage, and once the token expires the reports cannot be sent.
    token_outage_is_token_unavailable { faults: r#"[{kind = "token_outage", route = "token", at = "500ms", retry_after_s = 1}]"#, seconds: 5, class: "token_unavailable", extra: SHORT_LIVED_TOKENS }
    revoked_tokens_are_refreshed_and_ok { faults: r#"[{kind = "revoke_tokens", at = "1s"}]"#, also: assert_token_renewed }
    /// Every fechaSolicitud is "in the future" of the mock.
    a_clock_ten_days_back_is_business_val02 { faults: r#"[{kind = "clock_skew", route = "reports", seconds = -864000}]"#, class: "business:VAL02", with_ok: false }
    reset_after_commit_is_unknown_outcome_and_reconciled { faults: r#"[{kind = "reset_after_commit", route = "reports", probability = 0.3, seed = 9}]"#, rate: 30, class: "unknown_outcome", also: assert_unknown_listed }
    hang_after_commit_is_unknown_outcome_and_reconciled { faults: r#"[{kind = "hang_after_commit", route = "reports", hold_s = 5, probability = 0.3, seed = 10}]"#, timeout: "1s", class: "unknown_outcome", also: assert_unknown_listed }
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
    let scenario = ScenarioFile::open("fault-hang-all", 200, "2s", 10)
        .top(r#"faults = [{kind = "hang", route = "reports", hold_s = 30}]"#)
        .table("[http]\ntimeout = \"1s\"");
    let dir = crate::util::temp_dir("fault-hang-all");
    run_scenario(scenario.plan(), Some(dir.clone()))
        .await
        .expect("run");
    let summary = crate::util::summary(&dir);
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
    let file = ScenarioFile::open("lost-after-commit", 40, "2s", 20)
        .at(&base, "LOST")
        .top(r#"faults = [{kind = "reset_after_commit", route = "reports", probability = 0.25, seed = 21}]"#)
        // A quarter of the answers are lost: lift the retry budget (10% by
        // default) so that every one is resolved.
        .table("[http]\nretry_budget = \"100%\"")
        .write(&dir, "lost.toml");
    let out = dir.join("run");
    let mut command = run_command(&file, &out, "LOST", &cred);
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // The mock serves on this runtime while the binary runs.
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .expect("join")
        .expect("run");
    let summary = crate::util::summary(&out);
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
