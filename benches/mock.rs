//! The mock's request handling, driven in-process through the router on a
//! single-threaded runtime (one core): token check, body read, JSON parse,
//! validation, business rules and state update, envelope. Every request is a
//! new valid affiliation and must be accepted. Target: at least 100,000 valid
//! affiliations per second.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mss_harness::generator::{AffiliationGenerator, GeneratorConfig};
use mss_mock::{ClientConfig, Mock, MockConfig};
use tower::ServiceExt;

fn mock_handling(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let password = format!("bench-{:x}", rand::random::<u64>());
    let mock = Mock::new(
        MockConfig::with_clients(vec![ClientConfig {
            username: "bench".into(),
            password: password.clone(),
            client_id: "bench".into(),
            administradora: "230301".into(),
            services: None,
        }]),
        mss_contract::Contract::embedded().clone(),
    )
    .expect("mock");
    let app = mock.app();
    let token = rt.block_on(async {
        let form =
            format!("grant_type=password&username=bench&password={password}&client_id=bench");
        let req = Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        let bytes = axum::body::to_bytes(resp.into_body(), 4096)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    });
    let auth = format!("Bearer {token}");
    let mut config = GeneratorConfig::new(mss_contract::Contract::embedded(), 1, "230301");
    config.as_of = mock.clock().today();
    let mut generator = AffiliationGenerator::new(config).expect("generator");

    let mut group = c.benchmark_group("mock");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("valid_affiliation_in_process", |b| {
        b.iter_custom(|iters| {
            // Fresh people and radicados for every request, built untimed.
            let bodies: Vec<Vec<u8>> = (0..iters)
                .map(|_| {
                    serde_json::to_vec(&generator.next_affiliation().expect("record"))
                        .expect("json")
                })
                .collect();
            let start = Instant::now();
            rt.block_on(async {
                for body in bodies {
                    let req = Request::post("/ReportarAfiliaciontraslado")
                        .header("authorization", auth.as_str())
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .expect("request");
                    let resp = app.clone().oneshot(req).await.expect("infallible");
                    assert_eq!(resp.status(), StatusCode::OK);
                    let _ = axum::body::to_bytes(resp.into_body(), 4096).await;
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, mock_handling);
criterion_main!(benches);
