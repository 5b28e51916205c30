//! Reports whose answers were lost are sent again to learn their fate; an
//! answer the contract cannot read ends that (it is never resent, as no other
//! request with such an answer is). A scripted target (wiremock): the first
//! report's answer comes after the request timeout (lost), every other
//! request, its resends included, is answered 200 with a codigo the contract
//! does not list.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::{Background, Cred};

const TOKEN: &str = r#"{"access_token":"tok-resend","token_type":"Bearer","expires_in":300}"#;
const UNKNOWN: &str =
    r#"{"resultado":"200","codigo":"EXITOSO","mensaje":"Procesado","numeroTransaccion":"T-1"}"#;

/// Affiliations only, at 5 req/s for `duration`, against `server` with
/// request timeout `timeout` and every lost report retried (the budget
/// lifted); the credentials in the `MSS_RS_*` variables.
fn scenario(server: &MockServer, name: &str, duration: &str, timeout: &str) -> ScenarioFile {
    ScenarioFile::open(name, 5, duration, 20)
        .at(&server.uri(), "MSS_RS")
        .table("[mix]\nReportarAfiliaciontraslado = 1.0")
        .table(&format!(
            "[http]\ntimeout = \"{timeout}\"\nretry_budget = \"100%\""
        ))
}

/// Affiliations answered 200 with [`UNKNOWN`] after `delay`, to mount.
fn unknown_after(delay: Duration) -> Mock {
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(UNKNOWN, "application/json")
                .set_delay(delay),
        )
}

/// Run [`scenario`] `name` against `server` (in a new folder named after it,
/// off the test's runtime, where wiremock serves): its results folder and
/// the process's output.
async fn run(
    server: &MockServer,
    name: &str,
    duration: &str,
    timeout: &str,
) -> (std::path::PathBuf, std::process::Output) {
    let dir = crate::util::temp_dir(name);
    let file = scenario(server, name, duration, timeout).write(&dir, "scenario.toml");
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            run_command(&file, &out, "MSS_RS", &cred())
                .output()
                .expect("run mss-harness")
        }
    })
    .await
    .expect("join");
    (out, output)
}

/// The run's client (a throw-away password).
fn cred() -> Cred {
    Cred::new("ap-resend", "ap-resend-client")
}

fn radicado(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).expect("a JSON report")["numeroRadicado"]
        .as_str()
        .expect("numeroRadicado")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_report_answered_with_an_unknown_codigo_is_not_resent() {
    let server = crate::util::token_server(TOKEN).await;
    unknown_after(Duration::from_secs(3))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    unknown_after(Duration::ZERO)
        .with_priority(2)
        .mount(&server)
        .await;
    // 8 s: time for the load's own retries (100-400 ms apart) and two of the
    // every-5-seconds resend passes to have resent the lost report.
    let (out, output) = run(&server, "resend-unknown", "8s", "1s").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let reports = crate::util::received_on(&server, "/ReportarAfiliaciontraslado").await;
    let lost = radicado(&reports.first().expect("a report").body);
    let sends = reports.iter().filter(|r| radicado(&r.body) == lost).count();
    // The report that timed out, and the one retry whose unknown answer ended it.
    assert_eq!(sends, 2, "{lost} was sent {sends} times: {stderr}");
    let s = crate::util::summary(&out);
    let svc = &s["services"]["ReportarAfiliaciontraslado"];
    assert_eq!(svc["errors"]["read_timeout"], 1, "{svc}");
    assert_eq!(svc["retries"]["sent"], 1, "{svc}");
    let unresolved = s["reconciliation"]["unresolved"]
        .as_array()
        .expect("unresolved");
    assert_eq!(unresolved.len(), 1, "{unresolved:?}");
    assert_eq!(
        unresolved[0]["numeroRadicado"],
        lost.as_str(),
        "{unresolved:?}"
    );
    assert_eq!(unresolved[0]["resolution"], "unknown", "{unresolved:?}");
}

/// SIGTERM while the lost reports are resent after the load: the resending
/// stops within `--grace` (exit 143), not after every resend. Each report's
/// answer comes 30 s late against a 2-s timeout, so the 10 lost reports
/// would take about 20 s to resend one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_the_resending_after_the_load_within_the_grace_period() {
    let server = crate::util::token_server(TOKEN).await;
    unknown_after(Duration::from_secs(30)).mount(&server).await;
    let dir = crate::util::temp_dir("resend-signal");
    let file = scenario(&server, "resend-signal", "2s", "2s").write(&dir, "scenario.toml");
    let out = dir.join("out");
    let mut command = run_command(&file, &out, "MSS_RS", &cred());
    command.args(["--grace", "1s"]).env("RUST_BACKTRACE", "0");
    let mut process = Background::spawn(&mut command, &dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !process.stderr().contains("resending") {
        assert!(
            process.running(),
            "the run ended before resending: {}",
            process.stderr()
        );
        assert!(
            Instant::now() < deadline,
            "no resending: {}",
            process.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signalled = Instant::now();
    process.signal("TERM");
    let status = loop {
        if let Some(status) = process.child.try_wait().expect("try_wait") {
            break status;
        }
        // The grace period (1 s) and the writing of the results; the
        // resends left would take about 20 s more.
        assert!(
            signalled.elapsed() < Duration::from_secs(8),
            "still resending 8 s after SIGTERM: {}",
            process.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("exit {status:?} {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(status.code(), Some(143), "{}", process.stderr());
    let s = crate::util::summary(&out);
    assert_eq!(
        s["interrupted"]["signal"], "SIGTERM",
        "{}",
        s["interrupted"]
    );
    // Nothing lost from the record: each of the 10 reports is listed, its
    // fate unknown.
    let unresolved = s["reconciliation"]["unresolved"]
        .as_array()
        .expect("unresolved");
    assert_eq!(unresolved.len(), 10, "{unresolved:?}");
    assert!(unresolved.iter().all(|u| u["resolution"] == "unknown"));
}

/// A report answered with a redirect is classed `http_3xx:<status>`, and the
/// redirect is not followed: nothing reaches the place it points to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_report_is_http_3xx_and_not_followed() {
    let server = crate::util::token_server(TOKEN).await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/elsewhere"))
        .mount(&server)
        .await;
    let (out, output) = run(&server, "resend-redirect", "1s", "1s").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // No threshold is set: the verdict is the delivery's, not asserted here.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let sent = crate::util::received_on(&server, "/ReportarAfiliaciontraslado").await;
    let followed = crate::util::received_on(&server, "/elsewhere").await;
    assert!(!sent.is_empty(), "{stderr}");
    assert!(followed.is_empty(), "a redirect was followed: {stderr}");
    let s = crate::util::summary(&out);
    let errors = &s["services"]["ReportarAfiliaciontraslado"]["errors"];
    assert_eq!(
        errors["http_3xx:302"].as_u64(),
        Some(sent.len() as u64),
        "{errors}"
    );
}
