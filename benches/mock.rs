//! The mock's request handling, driven in-process through the router on a
//! single-threaded runtime (one core): token check, body read, JSON parse,
//! validation, business rules and state update, envelope. Every request is a
//! new valid affiliation and must be accepted. Target: at least 100,000 valid
//! affiliations per second.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod in_process;

fn mock_handling(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mock, password) = in_process::mock(|_| {});
    let app = mock.app();
    let auth = rt.block_on(in_process::bearer(&app, &password));
    let mut generator = in_process::generator(&mock, 1);

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
                    in_process::post_affiliation(&app, &auth, body).await;
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, mock_handling);
criterion_main!(benches);
