//! Answers the contract does not know are named, not retried; answers that
//! are really lost are retried within the retry budget. Two scripted targets
//! on loopback: one (wiremock) answers every report with a well-formed
//! envelope whose codigo the contract does not list, one (a raw TCP listener:
//! wiremock cannot reset a connection) resets every connection after reading
//! the request.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = r#"{"access_token":"tok-retry-budget","token_type":"Bearer","expires_in":300}"#;

/// A scenario of `rate` req/s for `seconds` against `port`, affiliations only.
fn scenario(dir: &Path, port: u16, rate: u32, seconds: u32) -> PathBuf {
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "retry-budget"
[target]
url = "http://127.0.0.1:{port}"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "MSS_RB_USER"
password_env = "MSS_RB_PASSWORD"
client_id_env = "MSS_RB_CLIENT"
[load]
model = "open"
stages = [{{ rate = {rate}, duration = "{seconds}s" }}]
max_in_flight = 200
[mix]
ReportarAfiliaciontraslado = 1.0
[http]
timeout = "5s"
"#
        ),
    )
    .expect("scenario");
    file
}

fn run(file: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .env("MSS_RB_USER", "ap-retry")
        .env("MSS_RB_PASSWORD", crate::util::throwaway_password())
        .env("MSS_RB_CLIENT", "ap-retry-client")
        .output()
        .expect("run mss-harness")
}

fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary JSON")
}

/// Every report answered 200 with codigo "200" (not in the bundled contract):
/// 100 req/s × 20 s sends 2,000 ± 1% reports, every one classed
/// `unexpected_codigo:200`, none retried; exit 1 and a hint naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_success_codigo_is_named_and_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(TOKEN, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ReportarAfiliaciontraslado"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"resultado":"200","codigo":"200","mensaje":"Procesado","numeroTransaccion":"T-1"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let dir = crate::util::temp_dir("retry-unexpected");
    let file = scenario(&dir, server.address().port(), 100, 20);
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || run(&file, &out)
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let received = server
        .received_requests()
        .await
        .expect("recording on")
        .iter()
        .filter(|r| r.url.path() == "/ReportarAfiliaciontraslado")
        .count();
    assert!(
        (1980..=2020).contains(&received),
        "{received} report requests reached the target"
    );
    let s = summary(&out);
    let svc = &s["services"]["ReportarAfiliaciontraslado"];
    let errors = svc["errors"].as_object().expect("errors");
    println!("unknown codigo target: {received} report requests received; classes {errors:?}");
    // Every report sent is classed unexpected_codigo:200; on a loaded machine
    // a few tickets may find every sender busy (dropped: never sent).
    assert!(
        errors
            .keys()
            .all(|k| k == "unexpected_codigo:200" || k == "dropped"),
        "{errors:?}"
    );
    assert!(errors.get("dropped").map_or(0, |d| d.as_u64().unwrap_or(0)) <= 20);
    assert_eq!(
        errors["unexpected_codigo:200"].as_u64(),
        Some(received as u64)
    );
    assert_eq!(svc["retries"]["sent"], 0);
    let unexpected = &svc["unexpected_codigos"][0];
    assert_eq!(unexpected["http_status"], 200);
    assert!(
        unexpected["hint"]
            .as_str()
            .is_some_and(|h| h.contains("errores.csv")),
        "{unexpected}"
    );
    let hint = stderr
        .lines()
        .find(|l| l.contains("hint:"))
        .unwrap_or_else(|| panic!("no hint line: {stderr}"));
    assert!(
        hint.contains("contract/errores.csv") && hint.contains("\"200\""),
        "{hint}"
    );
    assert!(
        crate::run::summary_schema().is_valid(&s),
        "summary.json does not match its schema"
    );
    // Merged alone, the run's folder gives the run's summary: its
    // unexpected codigos, with their hints, and its unchecked reconciliation.
    let out2 = out.clone();
    tokio::task::spawn_blocking(move || crate::merge::assert_merge_of_one_is_the_run(&out2))
        .await
        .expect("merge of one");
}

/// Read one HTTP request (head and Content-Length body); its path.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return head.split_whitespace().nth(1).map(str::to_owned);
    }
}

/// A target that hands out tokens and resets every report's connection after
/// reading the request: at most 1.1 × the planned reports reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_loses_every_answer_gets_at_most_ten_percent_more() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reports = Arc::new(AtomicU64::new(0));
    let counter = reports.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                while let Some(path) = read_request(&mut stream).await {
                    if path == "/token" {
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{TOKEN}",
                            TOKEN.len()
                        );
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    if path.starts_with("/reportar") {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    // An RST, not a FIN: the answer is lost.
                    let _ = stream.set_zero_linger();
                    return;
                }
            });
        }
    });
    let dir = crate::util::temp_dir("retry-reset");
    let planned = 50 * 10;
    let file = scenario(&dir, port, 50, 10);
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let out = out.clone();
        move || run(&file, &out)
    })
    .await
    .expect("join");
    server.abort();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let received = reports.load(Ordering::SeqCst);
    assert!(
        received >= planned * 99 / 100 && received as f64 <= planned as f64 * 1.1,
        "{received} report requests reached the target for {planned} planned"
    );
    let s = summary(&out);
    let svc = &s["services"]["ReportarAfiliaciontraslado"];
    let sent = svc["retries"]["sent"].as_u64().expect("retries.sent");
    let refused = svc["retries"]["refused_by_budget"]
        .as_u64()
        .expect("retries.refused_by_budget");
    println!(
        "resetting target: {received} report requests received for {planned} planned; retries sent {sent}, refused by the budget {refused}"
    );
    assert!(sent > 0 && sent as f64 <= planned as f64 * 0.1, "{sent}");
    assert!(refused > 0, "the budget refused nothing");
    // Nothing is lost from the record: every report is either listed as
    // unresolved or classed.
    let unresolved = s["reconciliation"]["unresolved"]
        .as_array()
        .expect("unresolved")
        .len();
    assert!(
        unresolved as u64 >= planned * 9 / 10,
        "{unresolved} unresolved"
    );
    assert!(
        crate::run::summary_schema().is_valid(&s),
        "summary.json does not match its schema"
    );
}
