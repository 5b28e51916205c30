//! A bare reqwest loop for `benches/compare.sh`: the least a Rust sender on
//! tokio can do, the floor the harness's per-request cost is judged against.
//! N tasks on one tokio runtime share one client (its connection pool) and
//! each posts one static body in a loop for S seconds, counting the answers;
//! one token is fetched at start. No payload generation, no token cache, no
//! bookkeeping but a latency histogram per task, merged at the end.
//!
//! Usage: bare_reqwest BASE_URL CONNECTIONS SECONDS (credentials from
//! MSS_USERNAME, MSS_PASSWORD, MSS_CLIENT_ID). Prints
//! `requests N seconds S req_per_s R errors E p99_ms P`.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The static body every bare sender posts (the same file as bare Goose's).
const BODY: &str = include_str!("body.json");

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("bare_reqwest: {name} is not set");
        std::process::exit(2)
    })
}

fn fail(what: &str) -> ! {
    eprintln!("bare_reqwest: {what}");
    std::process::exit(2)
}

/// What one task saw: answers, transport errors and answer latencies (µs).
struct Tally {
    answers: u64,
    errors: u64,
    latency: Histogram<u64>,
}

async fn token(client: &reqwest::Client, base: &str) -> String {
    let form = format!(
        "grant_type=password&username={}&password={}&client_id={}",
        env("MSS_USERNAME"),
        env("MSS_PASSWORD"),
        env("MSS_CLIENT_ID")
    );
    let answer = client
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap_or_else(|e| fail(&format!("token: {e}")));
    let json: serde_json::Value = answer
        .json()
        .await
        .unwrap_or_else(|e| fail(&format!("token answer: {e}")));
    json.get("access_token")
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| fail("the token answer has no access_token"))
        .to_owned()
}

async fn send_loop(client: reqwest::Client, url: String, bearer: String, until: Instant) -> Tally {
    let mut tally = Tally {
        answers: 0,
        errors: 0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)
            .unwrap_or_else(|e| fail(&format!("histogram: {e}"))),
    };
    while Instant::now() < until {
        let sent = Instant::now();
        let answer = client
            .post(&url)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(BODY)
            .send()
            .await;
        let read = match answer {
            Ok(r) => r.bytes().await.is_ok(),
            Err(_) => false,
        };
        if read {
            tally.answers += 1;
            let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            tally.latency.saturating_record(us.max(1));
        } else {
            tally.errors += 1;
        }
    }
    tally
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        fail("usage: bare_reqwest BASE_URL CONNECTIONS SECONDS");
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let connections: usize = args[2]
        .parse()
        .unwrap_or_else(|_| fail("CONNECTIONS is not a number"));
    let seconds: u64 = args[3]
        .parse()
        .unwrap_or_else(|_| fail("SECONDS is not a number"));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|e| fail(&format!("client: {e}")));
    let bearer = format!("Bearer {}", token(&client, &base).await);
    let url = format!("{base}{}", mss_contract::Service::Afiliacion.path());
    let until = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(send_loop(
                client.clone(),
                url.clone(),
                bearer.clone(),
                until,
            ))
        })
        .collect();
    let mut total = Tally {
        answers: 0,
        errors: 0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)
            .unwrap_or_else(|e| fail(&format!("histogram: {e}"))),
    };
    for task in tasks {
        let t = task
            .await
            .unwrap_or_else(|e| fail(&format!("a task failed: {e}")));
        total.answers += t.answers;
        total.errors += t.errors;
        let _ = total.latency.add(&t.latency);
    }
    println!(
        "requests {} seconds {seconds} req_per_s {:.0} errors {} p99_ms {:.3}",
        total.answers,
        total.answers as f64 / seconds as f64,
        total.errors,
        total.latency.value_at_quantile(0.99) as f64 / 1000.0
    );
}
