//! Trace ids: every report request carries a well-formed W3C `traceparent`
//! (a report's resends keep its trace id, each request has its own parent
//! id), against this machine by default and against any other host only
//! when the scenario says so; the slowest requests `summary.json` lists are
//! the run's slowest, with the trace ids and radicados the target received.
//! A scripted target (wiremock) whose first answers are slow or lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::Cred;

const TOKEN: &str = r#"{"access_token":"tok-trace","token_type":"Bearer","expires_in":300}"#;
const STORED: &str =
    r#"{"resultado":"200","codigo":"OK","mensaje":"Procesado","numeroTransaccion":"T-1"}"#;
const REPORTS: &str = "/ReportarAfiliaciontraslado";

/// Affiliations stored, the `n`th to arrive after a delay: the first lost
/// (3 s, past the run's 1-s timeout), the 41st to 43rd after 600 ms (late
/// in the run: a list that stopped taking requests once full would miss
/// them), the others at once.
struct SlowTail(std::sync::atomic::AtomicUsize);

/// The arrivals [`SlowTail`] answers slowly.
const SLOW: [usize; 4] = [0, 40, 41, 42];

impl Respond for SlowTail {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let delay = match n {
            0 => Duration::from_secs(3),
            n if SLOW.contains(&n) => Duration::from_millis(600),
            _ => Duration::ZERO,
        };
        ResponseTemplate::new(200)
            .set_body_raw(STORED, "application/json")
            .set_delay(delay)
    }
}

/// The trace id of a well-formed `traceparent` of version 00 (W3C Trace
/// Context, "traceparent Header Field Values"): `00-<32 hex>-<16 hex>-<2
/// hex>`, lowercase, neither id all zeros; `None` for anything else.
fn trace_id_of(value: &str) -> Option<&str> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && s.bytes().any(|b| b != b'0')
    };
    match value.split('-').collect::<Vec<_>>().as_slice() {
        ["00", trace, parent, flags]
            if hex(trace, 32)
                && hex(parent, 16)
                && flags.len() == 2
                && flags.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(*trace)
        }
        _ => None,
    }
}

/// A report request as the target received it: its `traceparent` (if any)
/// and its radicado.
struct Received {
    traceparent: Option<String>,
    radicado: String,
}

async fn received(server: &MockServer) -> Vec<Received> {
    crate::util::received_on(server, REPORTS)
        .await
        .iter()
        .map(|r| Received {
            traceparent: r
                .headers
                .get("traceparent")
                .map(|v| v.to_str().expect("ascii").to_owned()),
            radicado:
                serde_json::from_slice::<Value>(&r.body).expect("a JSON report")["numeroRadicado"]
                    .as_str()
                    .expect("numeroRadicado")
                    .to_owned(),
        })
        .collect()
}

/// `run FILE --out OUT` (with `more` arguments), off the runtime.
async fn run(file: std::path::PathBuf, out: std::path::PathBuf, more: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let output = run_command(
            &file,
            &out,
            "MSS_TRACE",
            &Cred::new("ap-trace", "ap-trace-c"),
        )
        .args(&more)
        .output()
        .expect("run mss-harness");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // No threshold: 0, or 1 for the lost answer.
        assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
        stderr
    })
    .await
    .expect("join")
}

/// 40 affiliations a second for 2 s against a loopback target answering as
/// [`SlowTail`]: the first report's answer is lost and resent, three later
/// ones take 600 ms, the rest are immediate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_carries_a_traceparent_and_the_slowest_are_listed_with_theirs() {
    let server = crate::util::token_server(TOKEN).await;
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(SlowTail(Default::default()))
        .mount(&server)
        .await;
    let dir = crate::util::temp_dir("trace-loopback");
    let file = ScenarioFile::open("trace-loopback", 40, "2s", 20)
        .at(&server.uri(), "MSS_TRACE")
        .table("[mix]\nReportarAfiliaciontraslado = 1.0")
        .table("[http]\ntimeout = \"1s\"\nretry_budget = \"100%\"")
        .write(&dir, "scenario.toml");
    let out = dir.join("out");
    let stderr = run(file, out.clone(), Vec::new()).await;
    let reports = received(&server).await;
    assert!(reports.len() >= 60, "{} reports: {stderr}", reports.len());

    // Every request: a well-formed header, its own parent id; one trace per
    // report, kept by its resend.
    let mut parents = BTreeSet::new();
    let mut traces: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &reports {
        let header = r
            .traceparent
            .as_deref()
            .expect("a traceparent on every report");
        let trace_id =
            trace_id_of(header).unwrap_or_else(|| panic!("malformed traceparent {header:?}"));
        assert!(
            parents.insert(&header[36..52]),
            "parent id reused: {header}"
        );
        traces.entry(&r.radicado).or_default().insert(trace_id);
    }
    assert!(
        traces.values().all(|t| t.len() == 1),
        "a report changed its trace id: {traces:?}"
    );
    let lost = &reports[0].radicado;
    let sends = reports.iter().filter(|r| &r.radicado == lost).count();
    assert!(
        sends >= 2,
        "the lost report was sent {sends} times: {stderr}"
    );
    let distinct: BTreeSet<_> = traces.values().flatten().collect();
    assert_eq!(distinct.len(), traces.len(), "two reports share a trace id");

    // The slowest: the requests the slow answers went to, with the trace ids
    // and radicados the target saw.
    let s = crate::util::summary(&out);
    let service = &s["services"]["ReportarAfiliaciontraslado"];
    let slowest = service["slowest"].as_array().expect("slowest listed");
    assert_eq!(slowest.len(), 10, "{slowest:?}");
    let latencies: Vec<u64> = slowest
        .iter()
        .map(|e| e["latency_us"].as_u64().expect("latency_us"))
        .collect();
    assert!(latencies.is_sorted_by(|a, b| a >= b), "{latencies:?}");
    let max = service["latency_us"]["max"].as_u64().expect("max");
    assert!(
        latencies[0].abs_diff(max) <= max / 500,
        "the slowest listed {} is not the run's max {max}",
        latencies[0]
    );
    let slow_traces: BTreeSet<&str> = slowest
        .iter()
        .filter(|e| e["latency_us"].as_u64() >= Some(500_000))
        .map(|e| e["trace_id"].as_str().expect("trace_id"))
        .collect();
    let answered_slowly: BTreeSet<&str> = SLOW
        .iter()
        .filter_map(|&n| reports[n].traceparent.as_deref())
        .filter_map(trace_id_of)
        .collect();
    assert_eq!(slow_traces, answered_slowly, "{slowest:#?}");
    for e in slowest {
        let trace_id = e["trace_id"].as_str().expect("trace_id");
        let radicado = e["radicado"].as_str().expect("radicado");
        assert!(
            traces.get(radicado).is_some_and(|t| t.contains(trace_id)),
            "{trace_id} / {radicado} was not sent: {e}"
        );
        assert!(
            e["sent_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{e}"
        );
    }
}

/// Against a host that is not this machine (a name resolved to loopback)
/// no report carries a `traceparent` unless `[target] traceparent = true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_elsewhere_gets_a_traceparent_only_when_the_scenario_asks() {
    for (switch, wanted) in [(None, false), (Some("traceparent = true"), true)] {
        let server = crate::util::token_server(TOKEN).await;
        crate::util::answer_json(&server, REPORTS, 200, STORED).await;
        let port = server.address().port();
        let dir = crate::util::temp_dir("trace-elsewhere");
        let mut scenario = ScenarioFile::open("trace-elsewhere", 5, "1s", 5)
            .at(&format!("http://ministerio.test:{port}"), "MSS_TRACE")
            .table("[mix]\nReportarAfiliaciontraslado = 1.0");
        if let Some(key) = switch {
            scenario = scenario.target_key(key);
        }
        let file = scenario.write(&dir, "scenario.toml");
        let more = vec![
            "--confirm-production".to_owned(),
            "ministerio.test".to_owned(),
            "--resolve".to_owned(),
            format!("ministerio.test:{port}:127.0.0.1"),
        ];
        let stderr = run(file, dir.join("out"), more).await;
        let reports = received(&server).await;
        assert!(!reports.is_empty(), "{stderr}");
        for r in &reports {
            assert_eq!(r.traceparent.is_some(), wanted, "{switch:?}: {stderr}");
            if let Some(t) = &r.traceparent {
                assert!(trace_id_of(t).is_some(), "{t}");
            }
        }
    }
}
