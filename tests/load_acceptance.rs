//! Long acceptance runs of the load engine (ignored by default; CI runs them in
//! release mode, one at a time: `cargo test --release --test tests -- --ignored
//! --test-threads=1`). Each is bounded in time and talks only to a mock on
//! 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mss_harness::session::RunOutcome;
use serde_json::Value;

use crate::scenario_file::ScenarioFile;
use crate::util::TestMock;

async fn run(
    t: &TestMock,
    base: String,
    scenario: &ScenarioFile,
    on_start: Option<mss_harness::session::OnStart>,
) -> RunOutcome {
    let scenario = scenario.plan();
    let dir = std::env::temp_dir().join(format!(
        "mss-acceptance-{}-{:x}",
        scenario.name,
        rand::random::<u32>()
    ));
    let out = t.run(&base, scenario, &dir, on_start).await;
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// What a run does `seconds` after its load starts.
fn after(seconds: u64, act: impl FnOnce() + Send + 'static) -> mss_harness::session::OnStart {
    Box::new(move |_ctx| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            act();
        });
    })
}

fn all_errors(summary: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (name, s) in summary["services"].as_object().into_iter().flatten() {
        for (class, n) in s["errors"].as_object().into_iter().flatten() {
            out.push(format!("{name} {class} {n}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s; run with --ignored"]
async fn five_hundred_users_share_one_token_per_refresh_interval() {
    let t = TestMock::with(|c| {
        c.token_ttl_seconds = 10;
        c.latency = mss_mock::LatencyProfile::Fixed { ms: 5.0 };
    });
    let base = t.serve().await;
    let revocation = Arc::new(Mutex::new(None));
    let seen = revocation.clone();
    let mock = t.mock.clone();
    let hook: mss_harness::session::OnStart = Box::new(move |_ctx| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let before = mock.stats()["token"]["issued"].as_u64().unwrap_or(0);
            mock.revoke_tokens();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let after = mock.stats()["token"]["issued"].as_u64().unwrap_or(0);
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((before, after));
        });
    });
    let scenario = ScenarioFile::with_load(
        "tokens-500",
        "model = \"closed\"\nusers = 500\nthink_time = \"1s\"\nrun_time = \"60s\"",
    )
    .table("[token]\nrefresh_margin = \"2s\"\nrefresh_jitter = \"1s\"");
    let out = run(&t, base, &scenario, Some(hook)).await;
    let stats = t.mock.stats();
    let issued = stats["token"]["issued"].as_u64().expect("issued");
    // About one per 7–8 s refresh interval over 60 s, plus one for the revocation.
    assert!((7..=11).contains(&issued), "tokens issued: {issued}");
    assert_eq!(out.summary["token"]["requests"].as_u64(), Some(issued));
    let (before, after) = revocation
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .expect("revocation happened");
    assert_eq!(after - before, 1, "token requests caused by the revocation");
    for s in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        assert!(
            stats["services"][s]["rejected"].get("AUT02").is_none(),
            "an expired token reached the mock: {stats}"
        );
    }
    assert!(
        all_errors(&out.summary).is_empty(),
        "{:?}",
        all_errors(&out.summary)
    );
    let requests = out.summary["services"]["ReportarAfiliaciontraslado"]["requests"]
        .as_u64()
        .expect("n");
    assert!(requests > 20_000, "{requests}");
}

/// 20,000 requests at 500 req/s.
fn stall_run() -> ScenarioFile {
    ScenarioFile::open("stall", 500, "40s", 3000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "80 s; run with --ignored"]
async fn a_four_second_stall_shows_in_the_tail_measured_from_intended_time() {
    // With the stall.
    let (t, base) = TestMock::served().await;
    let mock = t.mock.clone();
    let hook = after(10, move || mock.pacing().stall(4.0));
    let out = run(&t, base, &stall_run(), Some(hook)).await;
    let s = &out.summary["services"]["ReportarAfiliaciontraslado"];
    let p99 = s["latency_us"]["p99"].as_f64().expect("p99") / 1e6;
    let p95 = s["latency_us"]["p95"].as_f64().expect("p95") / 1e6;
    assert!((3.6 * 0.85..=3.6 * 1.15).contains(&p99), "p99 {p99} s");
    assert!((2.0 * 0.85..=2.0 * 1.15).contains(&p95), "p95 {p95} s");
    let requests: u64 = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"]
        .iter()
        .map(|n| out.summary["services"][n]["requests"].as_u64().expect("n"))
        .sum();
    assert!((19_800..=20_200).contains(&requests), "{requests}");
    assert!(
        all_errors(&out.summary).is_empty(),
        "{:?}",
        all_errors(&out.summary)
    );

    // The same run without the stall.
    let (t, base) = TestMock::served().await;
    let out = run(&t, base, &stall_run(), None).await;
    let p99 = out.summary["services"]["ReportarAfiliaciontraslado"]["latency_us"]["p99"]
        .as_f64()
        .expect("p99")
        / 1e3;
    assert!(p99 < 50.0, "p99 without the stall {p99} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "30 s; run with --ignored"]
async fn the_open_model_holds_its_rate_at_the_target() {
    let t = TestMock::new();
    // Count arrivals at the mock per second, in front of its router.
    let arrivals: Arc<Mutex<Vec<tokio::time::Instant>>> =
        Arc::new(Mutex::new(Vec::with_capacity(40_000)));
    let log = arrivals.clone();
    let app = tower::ServiceBuilder::new()
        .map_request(move |req: axum::http::Request<axum::body::Body>| {
            if req
                .uri()
                .path()
                .to_ascii_lowercase()
                .starts_with("/reportar")
            {
                log.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(tokio::time::Instant::now());
            }
            req
        })
        .service(t.app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::http::Request<axum::body::Body>>::into_make_service(app),
        )
        .await
    });
    let scenario = ScenarioFile::open("rate", 1000, "30s", 500);
    let out = run(&t, format!("http://{addr}"), &scenario, None).await;
    let times = arrivals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let first = *times.iter().min().expect("arrivals");
    let mut per_second = vec![0u32; 30];
    for t in &times {
        let s = (*t - first).as_secs() as usize;
        if s < 30 {
            per_second[s] += 1;
        }
    }
    let within = per_second
        .iter()
        .filter(|&&n| (980..=1020).contains(&n))
        .count();
    assert!(
        within * 100 >= 95 * per_second.len(),
        "per second: {per_second:?}"
    );
    assert_eq!(out.summary["dropped"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "22 s; run with --ignored"]
async fn go_live_reports_the_highest_rate_within_the_thresholds() {
    // Two plateaus; the mock turns slow during the second one.
    let (t, base) = TestMock::served().await;
    let mock = t.mock.clone();
    let hook = after(11, move || {
        mock.pacing()
            .set_profile(mss_mock::LatencyProfile::Fixed { ms: 300.0 });
    });
    let scenario = ScenarioFile::with_load(
        "mini-go-live",
        r#"model = "open"
stages = [{ rate = 50, duration = "10s" }, { rate = 150, duration = "2s" }, { rate = 150, duration = "10s" }]
max_in_flight = 500"#,
    )
    .table("[thresholds]\nglobal = [\"p99 < 100ms\", \"error_rate < 1%\"]");
    let out = run(&t, base, &scenario, Some(hook)).await;
    assert_eq!(out.exit, 1, "the run as a whole misses p99");
    let stages = out.summary["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages[0]["ok"], true, "{stages:?}");
    assert_eq!(stages[1]["ok"], false, "{stages:?}");
    assert_eq!(out.summary["highest_sustained_rate"], 50.0);
}
