//! Answers the contract does not know are named, not retried; answers that
//! are really lost are retried within the retry budget. Two scripted targets
//! on loopback: one (wiremock) answers every report with a well-formed
//! envelope whose codigo the contract does not list, one (a raw TCP listener:
//! wiremock cannot reset a connection) stores the reports of its first ten
//! seconds and then resets every connection after reading the request.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mss_harness::retry_budget::WINDOW;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::Cred;

const TOKEN: &str = r#"{"access_token":"tok-retry-budget","token_type":"Bearer","expires_in":300}"#;

/// A scenario of `rate` req/s for `seconds` against `port`, affiliations only.
fn scenario(dir: &Path, port: u16, rate: u32, seconds: u32) -> PathBuf {
    ScenarioFile::open("retry-budget", rate, &format!("{seconds}s"), 200)
        .at(&format!("http://127.0.0.1:{port}"), "MSS_RB")
        .table("[mix]\nReportarAfiliaciontraslado = 1.0\n[http]\ntimeout = \"5s\"")
        .write(dir, "scenario.toml")
}

/// `mss-harness run FILE --out OUT` to its end, off the test's runtime (the
/// target serves on it meanwhile); the run's output and `summary.json`.
async fn run(file: PathBuf, out: PathBuf) -> (Output, Option<Value>) {
    tokio::task::spawn_blocking(move || {
        let cred = Cred::new("ap-retry", "ap-retry-client");
        let output = run_command(&file, &out, "MSS_RB", &cred)
            .output()
            .expect("run mss-harness");
        let summary = out
            .join("summary.json")
            .is_file()
            .then(|| crate::util::summary(&out));
        (output, summary)
    })
    .await
    .expect("join")
}

/// Every report answered 200 with codigo "200" (not in the bundled contract):
/// 100 req/s × 20 s sends 2,000 ± 1% reports, every one classed
/// `unexpected_codigo:200`, none retried; exit 1 and a hint naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_success_codigo_is_named_and_never_retried() {
    let server = crate::util::token_server(TOKEN).await;
    let unknown =
        r#"{"resultado":"200","codigo":"200","mensaje":"Procesado","numeroTransaccion":"T-1"}"#;
    crate::util::answer_json(&server, "/ReportarAfiliaciontraslado", 200, unknown).await;
    let dir = crate::util::temp_dir("retry-unexpected");
    let file = scenario(&dir, server.address().port(), 100, 20);
    let out = dir.join("out");
    let (output, s) = run(file, out.clone()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let received = crate::util::received_on(&server, "/ReportarAfiliaciontraslado")
        .await
        .len();
    assert!(
        (1980..=2020).contains(&received),
        "{received} report requests reached the target"
    );
    let s = s.expect("summary.json");
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

/// Read one HTTP request (head and Content-Length body); its path and body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
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
        let path = head.split_whitespace().nth(1)?.to_owned();
        return Some((path, buf[end + 4..end + 4 + length].to_vec()));
    }
}

/// One report request as the target saw it.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// Since the first report.
    at: Duration,
    /// Its radicado came before: a retry.
    retry: bool,
    /// Its connection was reset: the answer lost.
    lost: bool,
}

/// A target on loopback that hands out tokens, stores the reports that
/// arrive in the first `healthy` after the first one (the contract's success
/// envelope) and resets the connection of every later one after reading it
/// (an RST, not a FIN: the answer is lost); it logs every report's arrival
/// and answers nothing else.
struct LosingTarget {
    port: u16,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    server: tokio::task::JoinHandle<()>,
}

impl LosingTarget {
    async fn start(healthy: Duration) -> LosingTarget {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stored = mss_contract::Contract::embedded().code(mss_contract::Role::Stored);
        let envelope = format!(
            r#"{{"resultado":"{0}","codigo":"{1}","mensaje":"Procesado","numeroTransaccion":"T-1"}}"#,
            stored.http_status, stored.codigo
        );
        let answer = |status: u16, body: &str| {
            format!(
                "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let (token, stored) = (answer(200, TOKEN), answer(stored.http_status, &envelope));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let log = arrivals.clone();
        let seen = Arc::new(Mutex::new((
            None::<tokio::time::Instant>,
            std::collections::HashSet::<String>::new(),
        )));
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (log, seen) = (log.clone(), seen.clone());
                let (token, stored) = (token.clone(), stored.clone());
                tokio::spawn(async move {
                    while let Some((path, body)) = read_request(&mut stream).await {
                        if path == "/token" {
                            if stream.write_all(token.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        if !path.starts_with("/reportar") {
                            // Not a report (the harness asks whether this
                            // is an mss-mock): no answer.
                            let _ = stream.set_zero_linger();
                            return;
                        }
                        let radicado = serde_json::from_slice::<Value>(&body)
                            .ok()
                            .and_then(|v| v["numeroRadicado"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let arrival = {
                            let mut seen = seen
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            let first = *seen.0.get_or_insert_with(tokio::time::Instant::now);
                            let at = first.elapsed();
                            Arrival {
                                at,
                                retry: !seen.1.insert(radicado),
                                lost: at >= healthy,
                            }
                        };
                        log.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(arrival);
                        if !arrival.lost {
                            if stream.write_all(stored.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        let _ = stream.set_zero_linger();
                        return;
                    }
                });
            }
        });
        LosingTarget {
            port,
            arrivals,
            server,
        }
    }

    /// The reports that arrived, in order.
    fn arrivals(&self) -> Vec<Arrival> {
        let mut all = self
            .arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        all.sort_by_key(|a| a.at);
        all
    }
}

/// A target that stores the reports of the first 10 s and then loses every
/// answer. While the load runs, the retries of the lost answers stay within
/// 10% of the first sends of any window of [`WINDOW`] (10 s) — the window is
/// what holds them there: the run's total alone would let them spend 10% of
/// every first send so far, about twice as many by the load's end — and in
/// all, within 10% of the run's first sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_lost_answers_stay_within_ten_percent_of_any_window() {
    let target = LosingTarget::start(Duration::from_secs(10)).await;
    let dir = crate::util::temp_dir("retry-reset");
    let (rate, seconds) = (50, 20);
    let planned = u64::from(rate * seconds);
    let file = scenario(&dir, target.port, rate, seconds);
    let (output, s) = run(file, dir.join("out")).await;
    target.server.abort();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let arrivals = target.arrivals();
    let received = arrivals.len() as u64;
    let s = s.expect("summary.json");
    let svc = &s["services"]["ReportarAfiliaciontraslado"];
    let firsts = arrivals.iter().filter(|a| !a.retry).count();
    println!(
        "losing target: {received} report requests received for {planned} planned ({firsts} first sends); retries {}",
        svc["retries"]
    );
    assert!(
        received >= planned * 99 / 100 && received as f64 <= planned as f64 * 1.1,
        "{received} report requests reached the target for {planned} planned"
    );
    // Every retry that arrived while the load ran (its last half second
    // aside: what comes after the load spends the run's total), against the
    // window of 10 s it closes. The harness counts at sending in steps of
    // 100 ms, the target at arrival: a few requests of slack.
    let load = Duration::from_secs(u64::from(seconds)) - Duration::from_millis(500);
    let mut most = (0, 0, Duration::ZERO);
    for r in arrivals.iter().filter(|a| a.retry && a.at < load) {
        let window = arrivals
            .iter()
            .filter(|a| a.at <= r.at && a.at + WINDOW > r.at);
        let retries = window.clone().filter(|a| a.retry).count();
        let firsts = window.filter(|a| !a.retry).count();
        assert!(
            retries as f64 <= 0.1 * firsts as f64 + 3.0,
            "{retries} retries in the 10 s up to {:?}, for {firsts} first sends",
            r.at
        );
        if retries > most.0 {
            most = (retries, firsts, r.at);
        }
    }
    let sent = svc["retries"]["sent"].as_u64().expect("retries.sent");
    let refused = svc["retries"]["refused_by_budget"]
        .as_u64()
        .expect("retries.refused_by_budget");
    println!(
        "at most {} retries in a window of the load (up to {:?}, {} first sends)",
        most.0, most.2, most.1
    );
    assert!(most.0 > 0, "no retry reached the target during the load");
    assert!(sent > 0 && sent as f64 <= planned as f64 * 0.1, "{sent}");
    assert!(refused > 0, "the budget refused nothing");
    // Nothing is lost from the record: every report whose answer was lost
    // is listed as unresolved.
    let lost = arrivals.iter().filter(|a| a.lost && !a.retry).count();
    let unresolved = s["reconciliation"]["unresolved"]
        .as_array()
        .expect("unresolved")
        .len();
    assert!(
        unresolved >= lost * 9 / 10,
        "{unresolved} unresolved of {lost} lost"
    );
    assert!(
        crate::run::summary_schema().is_valid(&s),
        "summary.json does not match its schema"
    );
}
