//! `mss-harness run`: short scenarios end to end against the embedded mock, the
//! outputs and their schema, exit codes, and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use mss_harness::scenario::RunPlan;
use mss_harness::session::run_scenario;
use serde_json::Value;

use crate::scenario_file::ScenarioFile;

fn temp_dir(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("run-{name}"))
}

/// Validate `file` against the common JUnit XML schema (Jenkins junit-10.xsd,
/// in tests/data), with the schema validator of tests/xsd.rs: no external
/// tool, so it runs under plain `cargo test` everywhere (xmllint is checked to
/// agree with it by an ignored test that CI runs).
pub fn assert_valid_junit(file: &Path) {
    let xml = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let errors = crate::xsd::junit_schema().validate(&xml);
    assert!(
        errors.is_empty(),
        "{} does not validate against junit-10.xsd:\n{}",
        file.display(),
        errors.join("\n")
    );
}

/// Every file a run writes into its results folder (and `goose-report.html`
/// with `run --goose-report`).
pub const OUTPUTS: [&str; 10] = [
    "summary.json",
    "latency.hlog",
    "histograms.hlog",
    "token.hlog",
    "timeseries.csv",
    "errors.csv",
    "report.html",
    "report.md",
    "junit.xml",
    "scenario.toml",
];

pub fn summary_schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/summary.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("valid schema")
}

/// `results/summary.schema.json` is generated from the `Summary` type: the
/// committed file is the generated one (rewrite it with
/// `MSS_UPDATE_SNAPSHOT=1 cargo test --test tests run::the_summary_schema`,
/// then review the diff).
#[test]
fn the_summary_schema_is_the_one_generated_from_the_type() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/summary.schema.json");
    let generated = mss_harness::results::schema();
    if std::env::var("MSS_UPDATE_SNAPSHOT").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the schema");
        eprintln!("rewrote {}", path.display());
    }
    let committed = std::fs::read_to_string(&path).expect("schema");
    assert!(
        committed == generated,
        "{} differs from the schema generated from mss_harness::results::Summary; \
         if the type changed on purpose, run `MSS_UPDATE_SNAPSHOT=1 cargo test --test tests \
         run::the_summary_schema` and review the diff",
        path.display()
    );
    // The generated schema is a schema, and it is the one the tests validate with.
    let _ = summary_schema();
}

/// 240 tickets at 60 req/s against a mock answering in 2 ms, some invalid
/// cases, three thresholds.
fn open() -> ScenarioFile {
    ScenarioFile::open("short-open", 60, "4s", 50)
        .mock_latency_ms(2)
        .table("[invalid]\nVAL01 = 0.05\nNEG03 = 0.03\nNEG12 = 0.03")
        .table(
            "[thresholds]\nglobal = [\"p99 < 2s\", \"error_rate < 1%\"]\nReportarAfiliaciontraslado = [\"max < 5s\"]",
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_run_writes_every_output_reconciles_and_passes() {
    let dir = temp_dir("open");
    let options = mss_harness::session::RunOptions {
        goose_report: true,
        ..Default::default()
    };
    let outcome =
        mss_harness::session::run_scenario_with(open().plan(), Some(dir.clone()), &options)
            .await
            .expect("run");
    assert_eq!(outcome.exit, 0, "{:#}", outcome.summary);
    for file in OUTPUTS {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert_valid_junit(&dir.join("junit.xml"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    // The plan delivered, three thresholds and two services'
    // reconciliation, all passing.
    assert!(junit.contains(r#"tests="6" failures="0""#), "{junit}");
    assert!(
        junit.contains(r#"name="plan delivered" time="0"/>"#),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert_eq!(
        html.matches("<svg").count(),
        6,
        "delivery, two latency charts, throughput, distribution, where the time went"
    );
    crate::util::assert_contains_all(
        "report.html",
        &html,
        [
            "p99 &lt; 2s",
            "ReportarRetractoAfiliacion",
            "reconciliation with the mock",
        ],
    );
    // Self-contained: nothing is fetched (the SVG namespace is a name, not a request).
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "external resources"
    );
    assert_eq!(
        html.replace("http://www.w3.org/2000/svg", "")
            .matches("http")
            .count(),
        0
    );
    // `mss-harness report DIR` writes the same reports from the files alone.
    let md = std::fs::read_to_string(dir.join("report.md")).expect("md");
    for f in ["report.html", "report.md", "junit.xml"] {
        std::fs::remove_file(dir.join(f)).expect("remove");
    }
    crate::util::succeeded(&crate::util::harness(&[
        "report",
        dir.to_str().expect("utf-8"),
    ]));
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).expect("md"),
        md
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("junit.xml")).expect("junit"),
        junit
    );
    assert!(dir.join("report.html").is_file());
    let summary = crate::util::summary(&dir);
    if let Err(e) = summary_schema().validate(&summary) {
        panic!("summary.json does not match results/summary.schema.json: {e}\n{summary:#}");
    }
    assert_eq!(summary["reconciliation"]["ok"], true, "{summary:#}");
    let services = &summary["services"];
    let requests: u64 = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"]
        .iter()
        .map(|s| services[s]["requests"].as_u64().expect("requests"))
        .sum();
    // 240 tickets; invalid cases with a set-up add their set-up requests.
    assert!((240..=300).contains(&requests), "{requests}");
    for s in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        let errors = services[s]["errors"].as_object().expect("errors");
        assert!(errors.is_empty(), "{s}: {errors:?}");
        // Every sent request has a send lag, and its latency (which runs
        // from the same intended time to the answer) is that lag and then its
        // service time, request by request: the means add up. Each value is
        // whole microseconds (at least 1) and each histogram keeps three
        // significant digits, hence the tolerance.
        let lag = &services[s]["send_lag_us"];
        let p50 = lag["p50"].as_u64().expect("send lag p50");
        assert!(p50 >= 1, "{s}: no send lag recorded: {lag}");
        let mean = |k: &str| services[s][k]["mean"].as_f64().expect("mean");
        let (latency, service, lag) = (
            mean("latency_us"),
            mean("service_time_us"),
            mean("send_lag_us"),
        );
        assert!(
            (latency - service - lag).abs() <= 2.0 + (latency + service + lag) / 1024.0,
            "{s}: mean latency {latency} µs is not mean send lag {lag} µs + mean service time {service} µs"
        );
    }
    // The run's one token was fetched for its first request, which waited
    // for it: the longest send lag is at least that token request's latency.
    let token_us = summary["token"]["latency_us"]["max"]
        .as_f64()
        .expect("token latency");
    let longest_lag = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"]
        .iter()
        .map(|s| services[s]["send_lag_us"]["max"].as_f64().expect("max"))
        .fold(0.0, f64::max);
    assert!(
        longest_lag * (1.0 + 1.0 / 1024.0) + 1.0 >= token_us,
        "the longest send lag ({longest_lag} µs) is shorter than the wait for the first token ({token_us} µs)"
    );
    assert_eq!(summary["dropped"], 0);
    assert_eq!(summary["token"]["requests"], 1);
    // The resolved scenario reads back.
    RunPlan::load(
        dir.join("scenario.toml").to_str().expect("utf-8"),
        mss_contract::Contract::embedded(),
    )
    .expect("resolved scenario parses");
    let hlog = std::fs::read_to_string(dir.join("latency.hlog")).expect("hlog");
    assert!(
        hlog.lines().filter(|l| l.starts_with("Tag=")).count() >= 4,
        "{hlog}"
    );
    // With --goose-report requests go through Goose, so its report has them
    // per service.
    let goose = std::fs::read_to_string(dir.join("goose-report.html")).expect("goose report");
    for s in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        assert!(goose.contains(s), "Goose's report lacks {s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_run_and_a_failing_threshold_exit_1() {
    let dir = temp_dir("closed");
    let closed = ScenarioFile::with_load(
        "short-closed",
        "model = \"closed\"\nusers = 4\nthink_time = \"20ms\"\nrun_time = \"2s\"",
    )
    .table("[thresholds]\nglobal = [\"p99 < 1us\"]");
    let outcome = run_scenario(closed.plan(), Some(dir.clone()))
        .await
        .expect("run");
    assert_eq!(outcome.exit, 1, "{:#}", outcome.summary);
    let t = &outcome.summary["thresholds"][0];
    assert_eq!(t["ok"], false);
    // The failed threshold is a JUnit failure, still valid against the schema.
    assert_valid_junit(&dir.join("junit.xml"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(junit.contains(r#"failures="1""#), "{junit}");
    assert!(junit.contains("<failure type=\"threshold\""), "{junit}");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("md");
    assert!(md.contains("❌ `global: p99 < 1us`"), "{md}");
    assert!(
        outcome.summary["services"]["ReportarAfiliaciontraslado"]["requests"]
            .as_u64()
            .expect("n")
            > 20
    );
    assert_eq!(outcome.summary["reconciliation"]["ok"], true);
    // Goose's report only when asked for (`--goose-report`).
    assert!(!dir.join("goose-report.html").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

fn harness(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mss-harness"));
    c.args(args).env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run mss-harness")
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_problem() {
    let dir = temp_dir("bad");
    let base =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml"))
            .expect("smoke");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let url_target = |url: &str| {
        base.replace("url = \"mock\"", &format!("url = \"{url}\"\nallowed_hosts = [\"127.0.0.1\"]"))
            .replace("[target.mock]\nlatency = { distribution = \"lognormal\", median_ms = 20, sigma = 0.5, cap_ms = 500 }\n", "")
            + "\n[credentials]\nusername_env = \"MSS_TEST_USER\"\npassword_env = \"MSS_TEST_PASSWORD\"\nclient_id_env = \"MSS_TEST_CLIENT\"\n"
    };
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "unknown-key",
            base.replace("[load]", "colour = \"red\"\n[load]"),
            vec![],
            "colour",
        ),
        (
            "wrong-type",
            base.replace("max_in_flight = 200", "max_in_flight = \"many\""),
            vec![],
            "load.max_in_flight",
        ),
        (
            "negative-rate",
            base.replace("rate = 50", "rate = -50"),
            vec![],
            "load.stages[0].rate",
        ),
        (
            "missing-variable",
            url_target(&format!("http://127.0.0.1:{closed_port}")),
            vec![],
            "MSS_TEST_USER",
        ),
        (
            "unreachable",
            url_target(&format!("http://127.0.0.1:{closed_port}")),
            vec![
                ("MSS_TEST_USER", "u"),
                ("MSS_TEST_PASSWORD", "canary-pw"),
                ("MSS_TEST_CLIENT", "c"),
            ],
            "unreachable",
        ),
    ];
    for (name, text, env, needle) in cases {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write");
        let out = harness(
            &[
                "run",
                path.to_str().expect("utf-8"),
                "--out",
                dir.join(name).to_str().expect("utf-8"),
            ],
            &env,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(lines[0].contains(needle), "{name}: {err}");
        assert!(!err.contains("canary-pw"), "{name}: {err}");
        if name != "missing-variable" && name != "unreachable" {
            assert!(lines[0].contains(&format!("{name}.toml")), "{name}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The run of the shipped `smoke` scenario against a mock the test can ask:
/// its table and `summary.json` count per service what the mock stored and
/// the invalid cases it refused as planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_counts_what_the_mock_stored_and_the_invalid_cases_it_refused() {
    use mss_harness::results::table::table;

    let scenario = RunPlan::load("smoke", mss_contract::Contract::embedded()).expect("smoke");
    let latency = scenario.target.mock().and_then(|m| m.latency);
    let t = crate::util::TestMock::with(|c| {
        if let Some(l) = latency {
            c.latency = l;
        }
    });
    let base = t.serve().await;
    let dir = temp_dir("smoke");
    let out = t.run(&base, scenario, &dir, None).await;
    let summary = crate::util::summary(&dir);
    if let Err(e) = summary_schema().validate(&summary) {
        panic!("summary.json does not match results/summary.schema.json: {e}");
    }
    assert_eq!(summary["schema_version"], 2);
    let stats = t.mock.stats();
    let printed = table(
        &mss_harness::results::read_summary(&dir).expect("typed summary"),
        &dir,
    );
    let mut invalid_sent = 0;
    for s in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        let svc = &summary["services"][s];
        let n = |k: &str| svc[k].as_u64().unwrap_or_else(|| panic!("{s}.{k}: {svc}"));
        let errors = svc["errors"].as_object().expect("errors");
        assert!(errors.is_empty(), "{s}: {errors:?}");
        // What the mock holds, and what it refused (smoke's invalid cases:
        // nothing else is refused in a clean run).
        let held = stats["services"][s]["accepted"].as_u64().expect("accepted");
        let refused: u64 = stats["services"][s]["rejected"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum();
        assert_eq!(n("stored"), held, "{s}: stored vs the mock's records");
        assert_eq!(n("rejected_as_expected"), refused, "{s}: {stats}");
        assert_eq!(n("requests"), n("stored") + n("rejected_as_expected"));
        invalid_sent += n("rejected_as_expected");
        // The table says the same, column by column.
        let row: Vec<u64> = printed
            .lines()
            .find(|l| l.starts_with(s))
            .unwrap_or_else(|| panic!("no row for {s}:\n{printed}"))
            .split_whitespace()
            .skip(1)
            .take(4)
            .map(|x| x.parse().expect("count"))
            .collect();
        assert_eq!(
            row,
            [n("requests"), n("stored"), n("rejected_as_expected"), 0],
            "{printed}"
        );
    }
    // smoke plans VAL01 and NEG01 cases (1% each of about 1,000 arrivals),
    // all on the affiliation service.
    let afi = &stats["services"]["ReportarAfiliaciontraslado"]["rejected"];
    assert!(
        afi["VAL01"].as_u64().unwrap_or(0) > 0 && afi["NEG01"].as_u64().unwrap_or(0) > 0,
        "{afi}"
    );
    assert!((5..=60).contains(&invalid_sent), "{invalid_sent}");
    assert!(
        printed.contains("rejected_as_expected") && !printed.contains("accepted"),
        "{printed}"
    );
    // One token, never renewed: no refresh.
    assert_eq!(summary["token"]["requests"], 1);
    assert_eq!(summary["token"]["refreshes"], 0);
    assert!(
        printed.contains("tokens: 1 requests, 0 refreshes"),
        "{printed}"
    );
    assert_eq!(out.exit, 0, "{printed}");
    // The reports use the same words.
    let md = std::fs::read_to_string(dir.join("report.md")).expect("md");
    assert!(
        md.contains("| service | requests | stored | rejected as expected | errors |"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert!(html.contains("rejected as expected"), "report.html");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_scenario_name_lists_the_shipped_ones() {
    let out = harness(&["run", "nosuch", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuch"), "{err}");
    for (name, _) in mss_harness::scenario::BUILT_IN {
        assert!(err.contains(name), "{name} not named: {err}");
    }
}

/// After the load, the progress line says what the run still does: every
/// report of the load's last second loses its answer (the mock resets the
/// connection), so the run resends those its retries during the load did not
/// settle once the load is over, one by one against a mock answering in 100 ms
/// (a retry budget of 100%, so that the budget leaves some for after the load).
#[test]
fn after_the_load_the_progress_line_names_the_resending() {
    let dir = temp_dir("lost");
    let file = ScenarioFile::open("lost", 20, "3s", 100)
        .top(r#"faults = [{ kind = "reset", route = "reports", at = "2s" }]"#)
        .mock_latency_ms(100)
        .table("[http]\nretry_budget = \"100%\"")
        .write(&dir, "lost.toml");
    let out = harness(
        &[
            "run",
            file.to_str().expect("utf-8"),
            "--out",
            dir.join("out").to_str().expect("utf-8"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[load of 3 s done, +") && l.contains("lost report")),
        "{err}"
    );
    // The load's own count never runs past the planned duration.
    for l in &lines {
        if let Some((at, _)) = l.strip_prefix('[').and_then(|l| l.split_once("/   3 s]")) {
            let at: u64 = at.trim().parse().expect("seconds");
            assert!(at <= 3, "{l}\n{err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
