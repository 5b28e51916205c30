//! `run --dashboard`: the live page, its event stream and `/metrics` during a
//! real run (the harness binary against an in-process mock), bad addresses,
//! browsers that leave; then, with the real parts (ignored tests), a
//! Prometheus server scraping a run and the mock, and a headless Chromium
//! watching the page.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::scenario_file::{ScenarioFile, run_command};
use crate::util::{Background, Cred};

/// A harness run with `--dashboard` against a mock served by the test.
struct LiveRun {
    mock: mss_mock::Mock,
    mock_url: String,
    process: Background,
    out: PathBuf,
    /// `http://127.0.0.1:PORT` of the dashboard.
    url: String,
}

impl LiveRun {
    /// Start `scenario` (named `live`) at `rate` req/s for `seconds`, with
    /// `--dashboard --dashboard-linger LINGER`; returns once the dashboard's
    /// address is printed.
    async fn start(name: &str, rate: u32, seconds: u32, linger: &str) -> LiveRun {
        Self::start_with(name, rate, seconds, linger, 100, "").await
    }

    /// [`LiveRun::start`] with `max_in_flight` and more faults (`, {..}`).
    async fn start_with(
        name: &str,
        rate: u32,
        seconds: u32,
        linger: &str,
        max_in_flight: u32,
        faults: &str,
    ) -> LiveRun {
        let cred = Cred::new("live-user", "live-client");
        let mock = cred.mock(|_| {});
        let port = crate::util::serve(&mock).await;
        let dir = crate::util::temp_dir(&format!("live-{name}"));
        // A few invalid records, and a gateway that fails 5% of the reports:
        // errors by class on the page.
        let file = ScenarioFile::open("live", rate, &format!("{seconds}s"), max_in_flight)
            .top("description = \"a live dashboard test\"")
            .top(&format!(r#"faults = [{{ kind = "status", status = 503, route = "reports", probability = 0.05, seed = 2 }}{faults}]"#))
            .at(&format!("http://127.0.0.1:{port}"), "MSS_LIVE")
            .table("[mix]\nReportarAfiliaciontraslado = 3\nReportarRetractoAfiliacion = 1")
            .table("[invalid]\nNEG01 = 0.05\n[thresholds]\nglobal = [\"p99 < 10s\"]")
            .write(&dir, "live.toml");
        let out = dir.join("out");
        let mut command = run_command(&file, &out, "MSS_LIVE", &cred);
        command
            .args(["--dashboard", "--dashboard-linger", linger])
            .env("RUST_BACKTRACE", "0");
        let mut run = LiveRun {
            mock,
            mock_url: format!("http://127.0.0.1:{port}"),
            process: Background::spawn(&mut command, &dir),
            out,
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let err = run.stderr();
            if let Some(at) = err.find("dashboard: http://") {
                let url = err[at + "dashboard: ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default();
                run.url = url.trim_end_matches('/').to_owned();
                break;
            }
            assert!(
                run.process.running(),
                "the run ended before its dashboard came up: {err}"
            );
            assert!(Instant::now() < deadline, "no dashboard address: {err}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        run
    }

    fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// Wait for the process to end (at most `limit`); its exit code.
    async fn exit(&mut self, limit: Duration) -> i32 {
        self.process.exit(limit).await.0.code().unwrap_or(-1)
    }

    /// Wait until the run has written summary.json (the dashboard lingers).
    async fn summary(&self, limit: Duration) -> Value {
        let file = self.out.join("summary.json");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no summary.json in {limit:?}: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Wait until the dashboard shows the run's final frame (published once the
/// results are written); that frame.
async fn finished_frame(url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, s) = get(&format!("{url}/snapshot.json")).await;
        let v: Value = serde_json::from_str(&s).expect("JSON");
        if v["phase"] == "finished" {
            return v;
        }
        assert!(Instant::now() < deadline, "no final frame: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(url: &str) -> (String, String) {
    let r = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (ct, r.text().await.expect("body"))
}

/// The sum of a metric's samples (`name{…} value` lines) in an exposition.
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Report requests of every class in summary.json, of them `ok`, and the
/// records the target holds by its reconciliation.
fn summary_requests(summary: &Value) -> (u64, u64, u64) {
    let services = summary["services"].as_object().expect("services");
    let sum = |v: &Value, key: &str| -> u64 {
        v.as_object().map_or(0, |m| {
            m.values().map(|s| s[key].as_u64().unwrap_or(0)).sum()
        })
    };
    assert!(!services.is_empty());
    (
        sum(&summary["services"], "requests"),
        sum(&summary["services"], "stored"),
        sum(&summary["reconciliation"]["services"], "target"),
    )
}

/// Read server-sent events from `url` until `n` frames have arrived.
async fn frames(url: &str, n: usize, limit: Duration) -> (reqwest::Response, Vec<Value>) {
    let mut r = reqwest::get(url).await.expect("GET /events");
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut buffer = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline.into(), r.chunk())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} frames in {limit:?}", out.len()))
            .expect("read the stream")
            .expect("the stream ended early");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    out.push(serde_json::from_str(data).expect("a JSON frame"));
                }
            }
        }
    }
    (r, out)
}

/// The metric names a Grafana dashboard's queries use.
fn grafana_metrics() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/mss-harness.json");
    let text = std::fs::read_to_string(&path).expect("the Grafana dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("JSON");
    // Every identifier that starts with `mss_`.
    let mut names: Vec<String> = grafana_exprs(&dashboard)
        .iter()
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("mss_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn grafana_exprs(dashboard: &Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("expr").to_owned())
        .collect()
}

/// A sample name in an exposition as Prometheus stores it (a histogram's
/// `_bucket`, `_sum`, `_count` series).
fn exposed(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        !l.starts_with('#') && l.starts_with(name) && l[name.len()..].starts_with(['{', ' '])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_events_and_metrics_follow_a_run_and_browsers_may_leave() {
    let mut run = LiveRun::start("follow", 40, 6, "3s").await;
    let (ct, page) = get(&format!("{}/", run.url)).await;
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(
        page.contains("new EventSource(\"events\")"),
        "the page listens"
    );
    // Two browsers: one never reads its stream (a stalled tab), the other
    // reads frames a second apart; then both leave mid-run.
    let stalled = reqwest::get(format!("{}/events", run.url))
        .await
        .expect("GET /events");
    let (reader, f) = frames(&format!("{}/events", run.url), 5, Duration::from_secs(15)).await;
    let running: Vec<&Value> = f
        .iter()
        .filter(|f| {
            f["phase"] == "running" && f["series"].as_array().is_some_and(|s| !s.is_empty())
        })
        .collect();
    assert!(running.len() >= 2, "{f:?}");
    let (a, b) = (running[0], running[running.len() - 1]);
    assert_eq!(a["meta"]["scenario"], "live");
    assert_eq!(a["meta"]["run_id"], "out");
    let requests = |f: &Value| -> u64 {
        f["services"].as_object().map_or(0, |s| {
            s.values()
                .map(|v| v["requests"].as_u64().unwrap_or(0))
                .sum()
        })
    };
    assert!(
        b["elapsed_s"].as_f64() > a["elapsed_s"].as_f64() && requests(b) > requests(a),
        "the numbers did not move: {a} then {b}"
    );
    // The plan delivered so far moves with it: what was due by then, and of
    // it what went out on time.
    let so_far = |f: &Value, k: &str| f["delivery"][k].as_u64().unwrap_or(0);
    assert!(
        so_far(b, "planned") > so_far(a, "planned") && so_far(b, "sent") > so_far(a, "sent"),
        "the plan so far did not move: {a} then {b}"
    );
    // 40 req/s for the seconds elapsed (the timetable's first ticket is due
    // at 0), and no more sent than was due.
    let elapsed = b["elapsed_s"].as_f64().unwrap_or(0.0);
    let due = so_far(b, "planned") as f64;
    assert!(
        (due - 40.0 * elapsed).abs() <= 40.0 * 0.2 + 1.0,
        "{due} planned in {elapsed} s: {b}"
    );
    assert!(so_far(b, "sent") <= so_far(b, "planned"), "{b}");
    assert!(
        b["delivery"]["covered"]
            .as_str()
            .is_some_and(|c| c.starts_with("over ") && c.contains(" planned requests so far")),
        "{b}"
    );
    let left = (stalled, reader);
    // Mid-run: the exposition, with the run's labels.
    let (ct, metrics) = get(&format!("{}/metrics", run.url)).await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(
        metrics.contains(r#"mss_requests_total{worker="0",scenario="live",run_id="out",service="ReportarAfiliaciontraslado",class="ok"}"#),
        "{metrics}"
    );
    assert!(sum_of(&metrics, "mss_requests_total") > 0.0, "{metrics}");
    // The browsers go away mid-run (one mid-stream, without reading on).
    drop(left);
    // After the run, while the page lingers: the final totals, as summary.json.
    let summary = run.summary(Duration::from_secs(30)).await;
    let snapshot = finished_frame(&run.url).await;
    let (requests, accepted, stored) = summary_requests(&summary);
    let (_, metrics) = get(&format!("{}/metrics", run.url)).await;
    assert_eq!(
        sum_of(&metrics, "mss_requests_total") as u64,
        requests,
        "{metrics}"
    );
    let ok: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("mss_requests_total{") && l.contains(r#"class="ok""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(ok as u64, accepted, "ok requests");
    assert_eq!(sum_of(&metrics, "mss_run_running"), 0.0);
    // The plan delivered, as summary.json's delivery says it: the final
    // frame and the counters.
    let d = &summary["delivery"];
    for k in ["planned", "sent", "dropped"] {
        assert_eq!(snapshot["delivery"][k], d[k], "{k}: {snapshot} vs {d}");
    }
    assert_eq!(
        snapshot["delivery"]["delivered_share"], d["delivered_share"],
        "{snapshot} vs {d}"
    );
    assert_eq!(
        sum_of(&metrics, "mss_planned_total") as u64,
        d["planned"].as_u64().expect("planned"),
        "{metrics}"
    );
    assert_eq!(
        sum_of(&metrics, "mss_sent_total") as u64,
        d["sent"].as_u64().expect("sent"),
        "{metrics}"
    );
    for (service, s) in d["services"].as_object().expect("services") {
        let line = format!(
            r#"mss_sent_total{{worker="0",scenario="live",run_id="out",service="{service}"}} {}"#,
            s["sent"]
        );
        assert!(metrics.contains(&line), "{line}: {metrics}");
    }
    assert!(
        snapshot["services"]["ReportarAfiliaciontraslado"]["errors"]["http_5xx:503"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "errors by class: {snapshot}"
    );
    // Every metric the Grafana dashboard asks for is exposed (the run's, or
    // the mock's /__admin/metrics).
    let (ct, mock_metrics) = get(&format!("{}/__admin/metrics", run.mock_url)).await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert_eq!(
        sum_of(&mock_metrics, "mss_mock_accepted_total") as u64,
        stored,
        "the mock's accepted records: {mock_metrics}"
    );
    assert_eq!(
        sum_of(&mock_metrics, "mss_mock_records_kept") as u64,
        run.mock.stats()["records"]["kept"].as_u64().expect("kept")
    );
    for name in grafana_metrics() {
        assert!(
            exposed(&metrics, &name) || exposed(&mock_metrics, &name),
            "the Grafana dashboard queries {name}, which nothing exposes"
        );
    }
    // The browsers that left did not disturb the run.
    assert_eq!(
        run.exit(Duration::from_secs(30)).await,
        0,
        "{}",
        run.stderr()
    );
    assert_eq!(summary["reconciliation"]["ok"], true, "{summary}");
}

/// Run the binary with `args`; (exit code, stderr).
fn harness(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run mss-harness");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_dashboard_address_in_use_remote_or_wrong_exits_2_naming_it_before_any_load() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = crate::util::temp_dir("live-bad");
    let out = dir.join("out");
    let out_arg = out.to_str().expect("utf-8");
    for (flag, named) in [
        (format!("--dashboard={addr}"), addr.clone()),
        (
            "--dashboard=0.0.0.0:9464".to_owned(),
            "0.0.0.0:9464".to_owned(),
        ),
        ("--dashboard=[::]:9464".to_owned(), "[::]:9464".to_owned()),
        (
            "--dashboard=metrics.example:9464".to_owned(),
            "metrics.example:9464".to_owned(),
        ),
    ] {
        let (code, err) = harness(&["run", "smoke", "--out", out_arg, &flag]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(
            err.contains(&named),
            "{flag}: the address is not named: {err}"
        );
        assert!(!out.exists(), "{flag}: the run started");
    }
    let (code, err) = harness(&["run", "smoke", "--out", out_arg, "--dashboard=0.0.0.0:9464"]);
    assert!(err.contains("--dashboard-remote"), "{code}: {err}");
    let (code, err) = harness(&["run", "smoke", "--dashboard-linger", "5s"]);
    assert_eq!(code, 2, "a linger without a dashboard: {err}");
    drop(taken);
}

/// A tool from the distribution's package, or a clear failure.
fn tool(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "{path} is missing: install Debian's {package} (scripts/ci-tools.sh does)"
    );
    p
}

/// A TCP port free on 127.0.0.1 now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET of Prometheus's HTTP API `endpoint` (`query`, `query_exemplars`)
/// with `params`; its `data`, once its status says success.
async fn api_get(prometheus: &str, endpoint: &str, params: &[(&str, String)]) -> Value {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        encoded.append_pair(k, v);
    }
    let url = format!("{prometheus}/api/v1/{endpoint}?{}", encoded.finish());
    let r: Value = reqwest::get(&url)
        .await
        .expect("query Prometheus")
        .json()
        .await
        .expect("JSON");
    assert_eq!(r["status"], "success", "{url}: {r}");
    r["data"].clone()
}

/// An instant query to Prometheus's HTTP API at `time` (Unix seconds); the
/// result vector.
async fn query(prometheus: &str, q: &str, time: f64) -> Vec<Value> {
    let params = [("query", q.to_owned()), ("time", format!("{time:.3}"))];
    let data = api_get(prometheus, "query", &params).await;
    data["result"].as_array().cloned().unwrap_or_default()
}

/// Each series of a `sum by (service)` result: its service and its value, a
/// whole number.
fn per_service(result: &[Value]) -> Vec<(&str, Option<u64>)> {
    result
        .iter()
        .map(|r| {
            let service = r["metric"]["service"].as_str().expect("service");
            (service, r["value"][1].as_str().and_then(|v| v.parse().ok()))
        })
        .collect()
}

fn scalar(result: &[Value]) -> f64 {
    result
        .first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus: run by .ci/run (cargo test -- --ignored)"]
async fn a_real_prometheus_scrapes_a_run_and_the_mock_and_agrees_with_summary_json() {
    let prometheus = tool("/usr/bin/prometheus", "prometheus");
    let mut run = LiveRun::start("prometheus", 40, 6, "5s").await;
    let port = free_port();
    let work = crate::util::temp_dir("live-prometheus");
    let strip = |u: &str| u.trim_start_matches("http://").to_owned();
    std::fs::write(
        work.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: mss-harness\n    static_configs:\n      - targets: ['{}']\n\
             \x20 - job_name: mss-mock\n    metrics_path: /__admin/metrics\n    static_configs:\n      - targets: ['{}']\n",
            strip(&run.url),
            strip(&run.mock_url)
        ),
    )
    .expect("config");
    let log = std::fs::File::create(work.join("prometheus.log")).expect("log");
    let _server = Killed(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                work.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let api = format!("http://127.0.0.1:{port}");
    // Prometheus up and scraping the run while it runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = reqwest::get(format!("{api}/api/v1/query?query=up")).await;
        if let Ok(r) = up
            && let Ok(v) = r.json::<Value>().await
            && v["data"]["result"].as_array().is_some_and(|r| r.len() == 2)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not come up: {}",
            std::fs::read_to_string(work.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let summary = run.summary(Duration::from_secs(30)).await;
    // The run's final frame is up (its results are written); it lingers 5 s.
    finished_frame(&run.url).await;
    let finished = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    // Two scrapes later, while the dashboard still lingers, is when every
    // query is evaluated (once the process is gone its series go stale): the
    // last scrapes came after the run's end, and Prometheus's totals are
    // summary.json's.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let at = finished + 2.2;
    let (requests, accepted, stored) = summary_requests(&summary);
    let total = scalar(
        &query(
            &api,
            r#"sum(mss_requests_total{job="mss-harness",run_id="out"})"#,
            at,
        )
        .await,
    );
    assert_eq!(
        total, requests as f64,
        "Prometheus's report requests vs summary.json"
    );
    let by_service = query(&api, "sum by (service) (mss_requests_total)", at).await;
    for (service, requests) in per_service(&by_service) {
        assert_eq!(
            requests,
            summary["services"][service]["requests"].as_u64(),
            "{service}"
        );
    }
    assert_eq!(by_service.len(), 2);
    let ok = scalar(&query(&api, r#"sum(mss_requests_total{class="ok"})"#, at).await);
    assert_eq!(ok, accepted as f64);
    // The plan delivered, as summary.json's delivery says it: planned, and
    // sent per service.
    let d = &summary["delivery"];
    let planned = scalar(&query(&api, r#"sum(mss_planned_total{run_id="out"})"#, at).await);
    assert_eq!(planned, d["planned"].as_f64().expect("planned"), "{d}");
    let sent = query(
        &api,
        r#"sum by (service) (mss_sent_total{run_id="out"})"#,
        at,
    )
    .await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (service, sent) in per_service(&sent) {
        assert_eq!(sent, d["services"][service]["sent"].as_u64(), "{service}");
    }
    let share = scalar(
        &query(
            &api,
            r#"sum(mss_sent_total{run_id="out"}) / sum(mss_planned_total{run_id="out"})"#,
            at,
        )
        .await,
    );
    assert!(
        (share - d["delivered_share"].as_f64().expect("share")).abs() < 1e-4,
        "the delivered share: {share} vs {d}"
    );
    exemplars_are_the_runs_requests(&api, &summary, at).await;
    phases_are_the_summarys(&api, &summary, at).await;
    let mock_accepted = scalar(&query(&api, "sum(mss_mock_accepted_total)", at).await);
    assert_eq!(mock_accepted, stored as f64, "the mock's records");
    let workers = query(
        &api,
        "count by (worker, scenario, run_id) (mss_in_flight)",
        at,
    )
    .await;
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0]["metric"]["scenario"], "live");
    // Every query of the Grafana dashboard answers, on this run.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/mss-harness.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    for expr in grafana_exprs(&dashboard) {
        let q = expr
            .replace("$__rate_interval", "10s")
            .replace("$run_id", "out");
        assert!(!query(&api, &q, at).await.is_empty(), "no data for {expr}");
    }
    assert_eq!(
        run.exit(Duration::from_secs(30)).await,
        0,
        "{}",
        run.stderr()
    );
}

/// Prometheus stored the latency histogram's exemplars (its OpenMetrics
/// parser took the text): each a well-formed trace id, and per service the
/// run's slowest request (summary.json's first `slowest`) among them — the
/// top bucket's exemplar.
async fn exemplars_are_the_runs_requests(api: &str, summary: &Value, at: f64) {
    let params = [
        ("query", "mss_request_latency_seconds_bucket".to_owned()),
        ("start", format!("{:.3}", at - 120.0)),
        ("end", format!("{at:.3}")),
    ];
    let data = api_get(api, "query_exemplars", &params).await;
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for series in data.as_array().expect("series") {
        let service = series["seriesLabels"]["service"].as_str().expect("service");
        for e in series["exemplars"].as_array().expect("exemplars") {
            let id = e["labels"]["trace_id"].as_str().expect("trace_id");
            assert!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{e}"
            );
            seen.entry(service.to_owned())
                .or_default()
                .push(id.to_owned());
        }
    }
    for (service, v) in summary["services"].as_object().expect("services") {
        let slowest = v["slowest"][0]["trace_id"]
            .as_str()
            .expect("a slowest request");
        assert!(
            seen.get(service)
                .is_some_and(|ids| ids.iter().any(|i| i == slowest)),
            "{service}: the slowest request {slowest} is not an exemplar: {seen:?}"
        );
    }
}

/// Prometheus's phase histograms and connections opened, per service (both
/// report services and the token service) and phase, are `summary.json`'s
/// `phases`: each phase's count, and the connections each service opened.
async fn phases_are_the_summarys(api: &str, summary: &Value, at: f64) {
    let phases = summary["phases"].as_object().unwrap_or_else(|| {
        panic!("summary.json has no phases: every exchange is timed by phase\n{summary:#}")
    });
    let mut timed: Vec<&str> = phases.keys().map(String::as_str).collect();
    timed.sort_unstable();
    assert_eq!(
        timed,
        [
            "ReportarAfiliaciontraslado",
            "ReportarRetractoAfiliacion",
            "token"
        ],
        "{summary:#}"
    );
    let counts = query(
        api,
        r#"sum by (service, phase) (mss_phase_seconds_count{run_id="out"})"#,
        at,
    )
    .await;
    let mut compared = 0;
    for (service, p) in phases {
        for phase in ["dns", "connect", "tls", "send", "wait", "receive"] {
            let from_summary = p[phase]["count"].as_u64();
            let from_prometheus = counts
                .iter()
                .find(|r| r["metric"]["service"] == *service && r["metric"]["phase"] == phase)
                .and_then(|r| r["value"][1].as_str()?.parse::<u64>().ok());
            assert_eq!(
                from_prometheus, from_summary,
                "{service} {phase}: {counts:?}"
            );
            compared += usize::from(from_summary.is_some());
        }
    }
    assert!(compared >= 9, "send, wait and receive of every service");
    let opened = query(
        api,
        r#"sum by (service) (mss_connections_opened_total{run_id="out"})"#,
        at,
    )
    .await;
    for (service, p) in phases {
        let from_prometheus = opened
            .iter()
            .find(|r| r["metric"]["service"] == *service)
            .and_then(|r| r["value"][1].as_str()?.parse::<u64>().ok());
        assert_eq!(
            from_prometheus,
            p["opened"].as_u64(),
            "{service}: {opened:?}"
        );
    }
}

/// A WebDriver session on Debian's chromedriver and headless Chromium (also
/// used by `compare`'s report test).
pub(crate) struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Killed,
}

impl Browser {
    pub(crate) async fn start(work: &Path) -> Browser {
        let driver = tool("/usr/bin/chromedriver", "chromium-driver");
        let chromium = tool("/usr/bin/chromium", "chromium");
        let port = free_port();
        let driver = Killed(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let profile = work.join("profile");
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1100,1700",
                         format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            if let Ok(r) = http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                let v: Value = r.json().await.expect("JSON");
                let id = v["value"]["sessionId"].as_str().map(str::to_owned);
                break id.unwrap_or_else(|| panic!("no WebDriver session: {v}"));
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Browser {
            http,
            session: format!("{base}/session/{session}"),
            _driver: driver,
        }
    }

    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let r = request.send().await.expect("WebDriver");
        let v: Value = r.json().await.expect("JSON");
        assert!(v["value"]["error"].is_null(), "{path}: {v}");
        v["value"].clone()
    }

    /// Go to `url` (a page of a run, `file://` for a written report).
    pub(crate) async fn open(&self, url: &str) {
        self.call(
            reqwest::Method::POST,
            "/url",
            serde_json::json!({ "url": url }),
        )
        .await;
    }

    /// Go to the file `path` (a report, a history page).
    pub(crate) async fn open_file(&self, path: &Path) {
        self.open(&format!("file://{}", path.display())).await;
    }

    /// What `script` returns, run in the page.
    pub(crate) async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            serde_json::json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// The text of the element with each id.
    async fn texts(&self, ids: &[&str]) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                serde_json::json!({
                    "script": "return arguments[0].map((id) => document.getElementById(id).textContent)",
                    "args": [ids],
                }),
            )
            .await;
        v.as_array()
            .expect("texts")
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: run by .ci/run (cargo test -- --ignored)"]
async fn a_headless_chromium_sees_the_run_by_name_and_its_numbers_move() {
    let work = crate::util::temp_dir("live-chromium");
    let browser = Browser::start(&work).await;
    // Two senders and reports answered in 100 ms: about 20 of the 40 req/s
    // planned go out, so sent and planned differ on the page.
    let run = LiveRun::start_with(
        "chromium",
        40,
        12,
        "2s",
        2,
        r#", { kind = "delay", route = "reports", ms = 100 }"#,
    )
    .await;
    browser.open(&format!("{}/", run.url)).await;
    let ids = [
        "scenario",
        "phase",
        "total-requests",
        "elapsed",
        "updated",
        "d-planned",
        "d-sent",
        "k-delivered",
        "covered",
    ];
    // The first look, once the first second is on the page.
    let deadline = Instant::now() + Duration::from_secs(15);
    let first = loop {
        let t = browser.texts(&ids).await;
        if t[1] == "running" && t[2].parse::<u64>().unwrap_or(0) > 0 {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed the run: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(first[0], "live", "the scenario's name: {first:?}");
    // Every second a new frame: the page's second counter, sampled 4 times a
    // second for 3.5 s, takes at least 3 values.
    let mut seconds = Vec::new();
    for _ in 0..14 {
        let t = browser.texts(&["updated"]).await;
        let s = t[0]
            .rsplit("second ")
            .next()
            .unwrap_or("")
            .trim_end_matches(')')
            .to_owned();
        if seconds.last() != Some(&s) {
            seconds.push(s);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(seconds.len() >= 3, "updates every second: {seconds:?}");
    // The second look: the numbers moved.
    let second = browser.texts(&ids).await;
    let n = |t: &[String], i: usize| t[i].parse::<f64>().unwrap_or(f64::NAN);
    assert!(
        n(&second, 2) > n(&first, 2),
        "requests: {first:?} then {second:?}"
    );
    assert!(
        n(&second, 3) > n(&first, 3),
        "elapsed: {first:?} then {second:?}"
    );
    // The plan so far: planned and sent move, the delivered share is a
    // percentage, and the thresholds say what they cover, in those numbers.
    assert!(
        n(&second, 5) > n(&first, 5) && n(&second, 6) > n(&first, 6),
        "planned and sent: {first:?} then {second:?}"
    );
    assert!(
        n(&second, 6) < n(&second, 5) * 0.8,
        "two senders send far fewer than planned: {second:?}"
    );
    let share = second[7]
        .trim_end_matches('%')
        .parse::<f64>()
        .unwrap_or(f64::NAN);
    assert!(
        second[7].ends_with('%') && (share - 100.0 * n(&second, 6) / n(&second, 5)).abs() < 0.01,
        "the delivered share: {second:?}"
    );
    // One script reads every text: one frame's numbers.
    let grouped = |t: &str| {
        t.parse::<u64>()
            .map(mss_harness::results::delivery::grouped)
            .unwrap_or_else(|_| panic!("a count: {t:?} in {second:?}"))
    };
    assert_eq!(
        second[8],
        format!(
            "over {} sent of {} planned requests so far",
            grouped(&second[6]),
            grouped(&second[5])
        )
    );
    // The page as the browser drew it (MSS_SCREENSHOT=docs/dashboard.png
    // keeps it).
    let png = browser
        .call(reqwest::Method::GET, "/screenshot", Value::Null)
        .await;
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().expect("base64"))
        .expect("PNG bytes");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let keep = std::env::var_os("MSS_SCREENSHOT")
        .map_or_else(|| work.join("dashboard.png"), PathBuf::from);
    std::fs::write(&keep, &png).expect("screenshot");
    let _ = browser.call(reqwest::Method::DELETE, "", Value::Null).await;
}
