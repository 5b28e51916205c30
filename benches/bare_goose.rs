//! A bare Goose load test for `benches/compare.sh`: N users post one static
//! affiliation body to the mock as fast as answers come back, with one token
//! fetched per user at start. It does no payload generation, no token cache and
//! no latency bookkeeping of its own: the reference the harness is compared to.
//!
//! Usage: bare_goose BASE_URL USERS SECONDS (credentials from MSS_USERNAME,
//! MSS_PASSWORD, MSS_CLIENT_ID). Prints `requests N seconds S req_per_s R`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use goose::config::GooseConfiguration;
use goose::prelude::{GooseAttack, GooseUser, Transaction, TransactionFunction};

/// The static body every bare sender posts (`benches/compare.sh`'s wrk too).
const BODY: &str = include_str!("body.json");

#[derive(Clone)]
struct Session(String);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("bare_goose: {name} is not set");
        std::process::exit(2)
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: bare_goose BASE_URL USERS SECONDS");
        std::process::exit(2);
    }
    let base = args[1].clone();
    let users: usize = args[2].parse().unwrap_or(10);
    let seconds: u64 = args[3].parse().unwrap_or(15);
    let form = format!(
        "grant_type=password&username={}&password={}&client_id={}",
        env("MSS_USERNAME"),
        env("MSS_PASSWORD"),
        env("MSS_CLIENT_ID")
    );
    let count = Arc::new(AtomicU64::new(0));
    let token_url = format!("{base}/token");
    let login: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let (url, form) = (token_url.clone(), form.clone());
        Box::pin(async move {
            let answer = user
                .client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .ok();
            let text = match answer {
                Some(r) => r.text().await.unwrap_or_default(),
                None => String::new(),
            };
            let token = text
                .split("\"access_token\":\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .unwrap_or_default()
                .to_owned();
            user.set_session_data(Session(token));
            Ok(())
        })
    });
    let counter = count.clone();
    let post: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let counter = counter.clone();
        Box::pin(async move {
            let token = user
                .get_session_data::<Session>()
                .map(|s| s.0.clone())
                .unwrap_or_default();
            let url = format!("{}ReportarAfiliaciontraslado", user.base_url);
            let rb = user
                .client
                .post(url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(BODY);
            let request = goose::goose::GooseRequest::builder()
                .method(goose::goose::GooseMethod::Post)
                .path("ReportarAfiliaciontraslado")
                .set_request_builder(rb)
                .expect_status_code(409)
                .build();
            if let Ok(r) = user.request(request).await
                && let Ok(resp) = r.response
            {
                let _ = resp.bytes().await;
            }
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    });
    let mut config = GooseConfiguration::default();
    config.host = Some(format!("{base}/"));
    config.users = Some(users);
    config.increase_rate = Some(format!("{}", users * 10));
    config.run_time = Some(format!("{seconds}"));
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.quiet = 1;
    let started = Instant::now();
    let attack = GooseAttack::initialize_with_config(config)
        .and_then(|a| {
            a.set_client_builder_without_cookies(
                goose::client::GooseClientBuilder::new().without_cookies(),
            )
        })
        .map(|a| {
            a.register_scenario(
                goose::goose::Scenario::new("bare")
                    .register_transaction(Transaction::new(login).set_on_start())
                    .register_transaction(Transaction::new(post)),
            )
        });
    match attack {
        Ok(a) => {
            if let Err(e) = a.execute().await {
                eprintln!("bare_goose: {e}");
                std::process::exit(2);
            }
        }
        Err(e) => {
            eprintln!("bare_goose: {e}");
            std::process::exit(2);
        }
    }
    let secs = started.elapsed().as_secs_f64().min(seconds as f64 + 1.0);
    let n = count.load(Ordering::Relaxed);
    println!(
        "requests {n} seconds {seconds} req_per_s {:.0}",
        n as f64 / seconds as f64
    );
    let _ = secs;
}
