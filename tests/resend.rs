//! Reports whose answers were lost are sent again to learn their fate; an
//! answer the contract cannot read ends that (it is never resent, as no other
//! request with such an answer is). A scripted target (wiremock): the first
//! report's answer comes after the request timeout (lost), every other
//! request, its resends included, is answered 200 with a codigo the contract
//! does not list.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = r#"{"access_token":"tok-resend","token_type":"Bearer","expires_in":300}"#;
const UNKNOWN: &str =
    r#"{"resultado":"200","codigo":"EXITOSO","mensaje":"Procesado","numeroTransaccion":"T-1"}"#;

fn radicado(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).expect("a JSON report")["numeroRadicado"]
        .as_str()
        .expect("numeroRadicado")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_report_answered_with_an_unknown_codigo_is_not_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(TOKEN, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(UNKNOWN, "application/json")
                .set_delay(Duration::from_secs(3)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(UNKNOWN, "application/json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = crate::util::temp_dir("resend-unknown");
    let file = dir.join("scenario.toml");
    // 8 s: time for the load's own retries (100-400 ms apart) and two of the
    // every-5-seconds resend passes to have resent the lost report.
    std::fs::write(
        &file,
        format!(
            r#"name = "resend-unknown"
[target]
url = "http://127.0.0.1:{}"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "MSS_RS_USER"
password_env = "MSS_RS_PASSWORD"
client_id_env = "MSS_RS_CLIENT"
[load]
model = "open"
stages = [{{ rate = 5, duration = "8s" }}]
max_in_flight = 20
[mix]
ReportarAfiliaciontraslado = 1.0
[http]
timeout = "1s"
retry_budget = "100%"
"#,
            server.address().port()
        ),
    )
    .expect("scenario");
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_mss-harness"))
                .arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&out)
                .env("MSS_RS_USER", "ap-resend")
                .env("MSS_RS_PASSWORD", crate::util::throwaway_password())
                .env("MSS_RS_CLIENT", "ap-resend-client")
                .output()
                .expect("run mss-harness")
        }
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let received = server.received_requests().await.expect("recording on");
    let reports: Vec<_> = received
        .iter()
        .filter(|r| r.url.path() == "/ReportarAfiliaciontraslado")
        .collect();
    let lost = radicado(&reports.first().expect("a report").body);
    let sends = reports.iter().filter(|r| radicado(&r.body) == lost).count();
    // The report that timed out, and the one retry whose unknown answer ended it.
    assert_eq!(sends, 2, "{lost} was sent {sends} times: {stderr}");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
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
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(TOKEN, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(UNKNOWN, "application/json")
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let dir = crate::util::temp_dir("resend-signal");
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "resend-signal"
[target]
url = "http://127.0.0.1:{}"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "MSS_RS_USER"
password_env = "MSS_RS_PASSWORD"
client_id_env = "MSS_RS_CLIENT"
[load]
model = "open"
stages = [{{ rate = 5, duration = "2s" }}]
max_in_flight = 20
[mix]
ReportarAfiliaciontraslado = 1.0
[http]
timeout = "2s"
retry_budget = "100%"
"#,
            server.address().port()
        ),
    )
    .expect("scenario");
    let out = dir.join("out");
    let stderr_path = dir.join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--grace", "1s"])
        .env("MSS_RS_USER", "ap-resend")
        .env("MSS_RS_PASSWORD", crate::util::throwaway_password())
        .env("MSS_RS_CLIENT", "ap-resend-client")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn mss-harness");
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stderr().contains("resending") {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the run ended before resending: {}",
            stderr()
        );
        assert!(Instant::now() < deadline, "no resending: {}", stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        // The grace period (1 s) and the writing of the results; the
        // resends left would take about 20 s more.
        assert!(
            signalled.elapsed() < Duration::from_secs(8),
            "still resending 8 s after SIGTERM: {}",
            stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("exit {status:?} {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(status.code(), Some(143), "{}", stderr());
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
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
