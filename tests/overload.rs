//! Issue 6's overload acceptance: the mock as its own process with a capacity
//! of 50 concurrent requests at 20 ms each (about 2,500 req/s), offered twice
//! that by an open-loop client: it sheds the excess with fast 503s, the p99 of
//! what it serves stays under 100 ms (from the intended send time), and its
//! RSS stays flat (within 10% from 5 s to the end).
//!
//! The issue's example was 100 slots (5,000 req/s, offered 10,000). On this
//! two-core machine the client and the mock then took 1.35 cores between
//! them, and the machine's noise decided the p99: CI measured 100.4 ms with
//! the client itself 28 ms late at p99; with one core busy-looping beside the
//! test, 125 and 250 ms. At half the scale the property is the same (the
//! queue and its 40 ms bound, twice the capacity offered) and the run keeps
//! its margin: 52-58 ms with one core busy-looping, 54-56 ms with both.
//!
//! The client sends over at most `CONNECTIONS` connections, opened before the
//! load, as a load tool does; a request that finds them all busy waits for
//! one, and the wait counts in its latency (measured from its due time).
//! Without that bound the test was bistable on two cores: a pause in the first
//! second left requests without an idle connection, each opened a new one,
//! the handshakes took the CPU the mock needed, and the run collapsed
//! (thousands of connections, the mock at 290 MB, answers after 10 s). The
//! output shows the client's own lag (due time to sent) beside the mock's
//! latencies, and the p99 of each second, so that a failure says whose it is.
//!
//! Long and CPU-bound:
//! `cargo test --release --test tests -- --ignored overload --nocapture` (CI runs it).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

const CAPACITY: usize = 50;
const SERVICE_MS: u64 = 20;
const RATE: u64 = 2 * CAPACITY as u64 * 1000 / SERVICE_MS;
const SECONDS: u64 = 20;
/// Over twice what the steady state keeps in flight (the slots and the queue
/// places, `2 * CAPACITY`, plus the sheds in transit), so the bound never
/// decides a request's fate unless the run has already stalled.
const CONNECTIONS: usize = 256;

/// The mock's configuration: `CAPACITY` slots of `SERVICE_MS`, as many
/// places in the queue, each waited for at most 40 ms.
fn mock_config() -> String {
    format!(
        r#"
latency = {{ distribution = "fixed", ms = {SERVICE_MS} }}
max_records = 10000
max_fingerprints = 20000
[capacity]
max_concurrent = {CAPACITY}
queue = {CAPACITY}
queue_timeout_ms = 40
shed_status = 503
retry_after_s = 1
[[clients]]
username = "overload"
password = "overload-password-not-secret"
client_id = "overload-client"
administradora = "230301"
"#
    )
}

/// One histogram of microseconds, 1 µs to a minute at 3 digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("hist")
}

/// The one report every request posts, with the client and the token.
#[derive(Clone)]
struct Report {
    http: reqwest::Client,
    url: String,
    bearer: String,
    body: bytes::Bytes,
}

impl Report {
    async fn send(self) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url)
            .header("Authorization", self.bearer)
            .header("Content-Type", "application/json")
            .body(self.body)
            .send()
            .await
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Tally {
    served: Vec<Histogram<u64>>,
    shed: Vec<Histogram<u64>>,
    /// From the due time to the moment the request's task ran: the client's
    /// own lag (its scheduling, the machine's pauses).
    started: Option<Histogram<u64>>,
    /// From the due time to the moment the request had a connection and went
    /// out: the client's own lag, plus any wait for a free connection.
    sent: Option<Histogram<u64>>,
    other: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 20 s at 5,000 req/s, release build"]
async fn the_mock_sheds_twice_its_capacity_fast_and_stays_flat() {
    let dir = crate::util::temp_dir("overload");
    let config = dir.join("mock.toml");
    std::fs::write(&config, mock_config()).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(["mock", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the mock");
    let stderr = child.stderr.take().expect("stderr");
    let pid = child.id();
    let _guard = Killed(child);
    let mut line = String::new();
    let mut reader = BufReader::new(stderr);
    let addr = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "the mock ended"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().expect("addr").to_owned();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    // Without transparent huge pages (mss_mock::huge_pages_off) the mock's
    // RSS moves by pages, not 2 MB steps, and its flatness can be read to 10%.
    assert!(
        !crate::util::thp_enabled(pid),
        "mss-harness mock left transparent huge pages on"
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let token: serde_json::Value = http
        .post(format!("{base}/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=overload&password=overload-password-not-secret&client_id=overload-client")
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("token"));
    // One valid report: the first is stored, every other one is a duplicate
    // (NEG01) after the same validation, so the store does not grow.
    let mut body = Vec::new();
    mss_harness::generator::AffiliationGenerator::new(
        mss_harness::generator::GeneratorConfig::new(
            mss_contract::Contract::embedded(),
            7,
            "230301",
        ),
    )
    .expect("generator")
    .next_affiliation_json(&mut body)
    .expect("affiliation");
    let report = Report {
        http,
        url: format!("{base}/ReportarAfiliaciontraslado"),
        bearer,
        body: bytes::Bytes::from(body),
    };

    // Open the client's connections before the load, all at once (a barrier
    // so that none finds another's idle): the mock's RSS at 5 s then already
    // holds every connection's buffers, and what it does after is its own.
    let barrier = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
    let warm: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (report, barrier) = (report.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let r = report.send().await.expect("warm-up request");
                let _ = r.bytes().await;
            })
        })
        .collect();
    for w in warm {
        w.await.expect("warm-up task");
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let rss = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let rss = rss.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                rss.lock().expect("rss").push(rss_kib(pid));
            }
        })
    };
    let start = Instant::now() + Duration::from_millis(100);
    let total = RATE * SECONDS;
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let connections = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / RATE);
        tokio::time::sleep_until(due).await;
        let (report, tally, done, connections) = (
            report.clone(),
            tally.clone(),
            done.clone(),
            connections.clone(),
        );
        // Open loop: every request is due at its time, whatever the ones
        // before it are doing; it goes out then, or as soon as one of the
        // connections is free, and its latency counts from the due time.
        tokio::spawn(async move {
            let started_us = due.elapsed().as_micros() as u64;
            let _connection = connections.acquire().await.expect("semaphore");
            let sent_us = due.elapsed().as_micros() as u64;
            let status = match report.send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    s
                }
                Err(_) => 0,
            };
            let us = due.elapsed().as_micros() as u64;
            let second = (due - start).as_secs() as usize;
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut t = tally.lock().expect("tally");
            if second >= 2 {
                let _ = t
                    .started
                    .get_or_insert_with(histogram)
                    .record(started_us.max(1));
                let _ = t.sent.get_or_insert_with(histogram).record(sent_us.max(1));
            }
            let hist = match status {
                200 | 409 => &mut t.served,
                503 => &mut t.shed,
                _ => {
                    t.other += 1;
                    return;
                }
            };
            while hist.len() <= second {
                hist.push(histogram());
            }
            let _ = hist[second].record(us.max(1));
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(std::sync::atomic::Ordering::Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sampler.abort();
    let t = tally.lock().expect("tally");
    let merge = |hs: &[Histogram<u64>], from: usize| {
        let mut all = histogram();
        for h in hs.iter().skip(from) {
            all.add(h).expect("add");
        }
        all
    };
    // The first two seconds warm up (connections, the queue filling).
    let served = merge(&t.served, 2);
    let shed = merge(&t.shed, 2);
    let rss = rss.lock().expect("rss").clone();
    // RSS after the warm-up (connections opened, queue full) and at the end.
    let (first, last) = (rss[5.min(rss.len() - 1)], *rss.last().expect("rss"));
    println!("mock RSS per second (KiB): {rss:?}");
    let p99s = |hs: &[Histogram<u64>]| {
        hs.iter()
            .map(|h| format!("{:.0}", h.value_at_quantile(0.99) as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("served p99 per second (ms): [{}]", p99s(&t.served));
    println!("shed p99 per second (ms): [{}]", p99s(&t.shed));
    for (what, h) in [("started", &t.started), ("sent", &t.sent)] {
        if let Some(h) = h {
            println!(
                "client: from due time to {what} p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
                h.max() as f64 / 1000.0
            );
        }
    }
    println!(
        "offered {RATE} req/s for {SECONDS} s: served {} ({:.0}/s), shed {} ({:.1}%), other {}",
        served.len(),
        served.len() as f64 / (SECONDS - 2) as f64,
        shed.len(),
        100.0 * shed.len() as f64 / (served.len() + shed.len()).max(1) as f64,
        t.other
    );
    println!(
        "served p50 {:.1} ms p99 {:.1} ms; shed p50 {:.1} ms p99 {:.1} ms; mock RSS {} KiB at 5 s, {} KiB at {} s (max {} KiB)",
        served.value_at_quantile(0.5) as f64 / 1000.0,
        served.value_at_quantile(0.99) as f64 / 1000.0,
        shed.value_at_quantile(0.5) as f64 / 1000.0,
        shed.value_at_quantile(0.99) as f64 / 1000.0,
        first,
        last,
        rss.len(),
        rss.iter().max().copied().unwrap_or(0)
    );
    assert_eq!(t.other, 0, "every answer is served or shed");
    assert!(
        shed.len() as f64 > 0.3 * (served.len() + shed.len()) as f64,
        "the excess is shed"
    );
    assert!(
        served.len() as f64 > 0.8 * (CAPACITY as u64 * 1000 / SERVICE_MS * (SECONDS - 2)) as f64,
        "the mock serves close to its capacity"
    );
    assert!(
        served.value_at_quantile(0.99) < 100_000,
        "served p99 {} µs",
        served.value_at_quantile(0.99)
    );
    assert!(
        shed.value_at_quantile(0.99) < 100_000,
        "shedding is fast: p99 {} µs",
        shed.value_at_quantile(0.99)
    );
    let growth = last as f64 / first.max(1) as f64;
    assert!(
        (0.9..=1.1).contains(&growth),
        "mock RSS from {first} KiB to {last} KiB"
    );
}
