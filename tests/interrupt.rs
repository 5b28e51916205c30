//! Graceful stop: `mss-harness run` as a child process against an in-process
//! mock whose answers take 20 s, stopped by SIGTERM (grace period, requests
//! in flight abandoned as `interrupted`, every output written, nothing sent
//! after the signal) or by two quick SIGINTs (exits at once).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::{Background, Cred};

const SERVICES: [&str; 2] = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"];
/// How long the mock holds every answer once the run is under way: far longer
/// than the grace periods below, so requests are in flight when the signal comes.
const SLOW_MS: f64 = 20_000.0;

/// A run against the mock (killed if a failed assertion leaves it sending).
struct Run {
    mock: mss_mock::Mock,
    process: Background,
    out: PathBuf,
    /// Requests the mock had received when it began holding every answer.
    held_from: u64,
}

/// Report requests the mock received (accepted or rejected).
fn received(mock: &mss_mock::Mock) -> u64 {
    let s = mock.stats();
    SERVICES
        .iter()
        .map(|n| {
            let svc = &s["services"][n];
            svc["accepted"].as_u64().unwrap_or(0)
                + svc["rejected"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, v)| v.as_u64().unwrap_or(0))
                    .sum::<u64>()
        })
        .sum()
}

/// Wait (bounded) until `what` holds.
async fn until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Start `mss-harness run --grace GRACE` against a fresh mock, and return once
/// its requests are in flight (the mock answers at once until the run has its
/// token, then holds every answer [`SLOW_MS`]).
async fn start(name: &str, grace: &str) -> Run {
    let cred = Cred::new("stop-user", "stop-client");
    let mock = cred.mock(|_| {});
    let port = crate::util::serve(&mock).await;
    let dir = crate::util::temp_dir(&format!("interrupt-{name}"));
    // 30 s planned; the test stops it after a couple of seconds.
    let file = ScenarioFile::open("stop", 20, "30s", 200)
        .at(&format!("http://127.0.0.1:{port}"), "MSS_STOP")
        .table("[http]\ntimeout = \"60s\"\n[thresholds]\nglobal = [\"p99 < 60s\"]")
        .write(&dir, "stop.toml");
    let out = dir.join("out");
    let mut command = run_command(&file, &out, "MSS_STOP", &cred);
    command.args(["--grace", grace]).env("RUST_BACKTRACE", "0");
    let mut run = Run {
        mock,
        process: Background::spawn(&mut command, &dir),
        out,
        held_from: 0,
    };
    let mock = run.mock.clone();
    until("the run's token", Duration::from_secs(20), || {
        mock.stats()["token"]["issued"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    mock.pacing()
        .set_profile(mss_mock::LatencyProfile::Fixed { ms: SLOW_MS });
    // Requests arriving from now on are held: wait for a few, then a little more.
    let before = received(&mock);
    run.held_from = before;
    until("requests in flight", Duration::from_secs(20), || {
        received(&mock) >= before + 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        run.process.running(),
        "the run ended early: {}",
        run.process.stderr()
    );
    run
}

impl Run {
    /// Send `signal` and wait (5 s at most) until the harness says it
    /// stopped sending.
    async fn stop(&self, signal: &str) {
        self.process.signal(signal);
        until(
            &format!("the harness to take SIG{signal} and stop sending"),
            Duration::from_secs(5),
            || self.process.stderr().contains("nothing more is sent"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_sending_waits_the_grace_period_and_writes_every_output() {
    let mut run = start("term", "1s").await;
    // The sender's memory: no transparent huge pages (mss_mock::huge_pages_off).
    assert!(
        !crate::util::thp_enabled(run.process.child.id()),
        "mss-harness run left transparent huge pages on"
    );
    run.stop("TERM").await;
    let (status, took) = run.process.exit(Duration::from_secs(15)).await;
    let at_exit = received(&run.mock);
    let (stdout, stderr) = (run.process.stdout(), run.process.stderr());
    assert_eq!(status.code(), Some(143), "{stderr}\n{stdout}");
    // The grace period (1 s) and the outputs; not the mock's 20 s answers.
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(stdout.contains("INTERRUPTED: SIGTERM"), "{stdout}");

    for file in crate::run::OUTPUTS {
        assert!(run.out.join(file).is_file(), "{file} missing\n{stderr}");
    }
    let s = crate::util::summary(&run.out);
    if let Err(e) = crate::run::summary_schema().validate(&s) {
        panic!("summary.json does not match results/summary.schema.json: {e}\n{s:#}");
    }
    crate::run::assert_valid_junit(&run.out.join("junit.xml"));

    let i = &s["interrupted"];
    assert_eq!(i["signal"], "SIGTERM", "{s:#}");
    assert_eq!(i["grace_s"], 1.0, "{s:#}");
    assert_eq!(i["planned_duration_s"], 30.0, "{s:#}");
    let in_flight = i["in_flight_at_signal"].as_u64().expect("in flight");
    // Every answer since `held_from` is held for 20 s, so the requests the
    // mock received since then are exactly those the harness had in flight
    // when it stopped sending: nothing was sent after the signal.
    assert_eq!(
        at_exit - run.held_from,
        in_flight,
        "requests reached the mock after the signal ({s:#})"
    );
    let interrupted = i["interrupted"].as_u64().expect("interrupted");
    assert!(interrupted > 0, "{s:#}");
    // None of them could answer within the grace period.
    assert!(interrupted <= in_flight, "{s:#}");
    let per_service: u64 = SERVICES
        .iter()
        .map(|n| {
            s["services"][n]["errors"]["interrupted"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(per_service, interrupted, "{s:#}");
    let errors = std::fs::read_to_string(run.out.join("errors.csv")).expect("errors.csv");
    assert!(errors.contains(",interrupted,"), "{errors}");

    // Every request the mock received is in the results, abandoned or answered.
    let requests: u64 = SERVICES
        .iter()
        .map(|n| s["services"][n]["requests"].as_u64().unwrap_or(0))
        .sum();
    let dropped = s["dropped"].as_u64().unwrap_or(0);
    assert_eq!(requests - dropped, at_exit, "{s:#}");

    // Rates divide by how long the load lasted, not by the 30 s planned.
    let at_s = i["at_s"].as_f64().expect("at_s");
    let duration = s["duration_s"].as_f64().expect("duration_s");
    assert!(at_s > 0.5 && at_s < 20.0, "{s:#}");
    assert!(
        duration >= at_s && duration < at_s + 1.5,
        "duration {duration}, signal at {at_s}"
    );
    let md = std::fs::read_to_string(run.out.join("report.md")).expect("report.md");
    assert!(md.contains("interrupted"), "{md}");
    let junit = std::fs::read_to_string(run.out.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains(r#"<failure type="interrupted""#), "{junit}");
    let _ = std::fs::remove_dir_all(&run.process.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_exits_at_once() {
    let mut run = start("twice", "60s").await;
    // The first one is taken: the run is waiting out its 60 s grace period.
    run.stop("INT").await;
    let at_first = received(&run.mock);
    run.process.signal("INT");
    let (status, took) = run.process.exit(Duration::from_secs(10)).await;
    let stderr = run.process.stderr();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(3), "{took:?}\n{stderr}");
    assert!(stderr.contains("again: exiting at once"), "{stderr}");
    assert_eq!(received(&run.mock), at_first, "sent after the first signal");
    let _ = std::fs::remove_dir_all(&run.process.dir);
}
