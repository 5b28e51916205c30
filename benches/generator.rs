//! Generator throughput: valid affiliations generated and serialized to JSON, on
//! one core. Target: at least 200,000 payloads per second. `affiliation_json` is
//! the load engine's path (written straight to bytes); `affiliation_serialized`
//! builds the struct and runs serde_json.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mss_harness::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};

fn config() -> GeneratorConfig {
    let mut c = GeneratorConfig::new(mss_contract::Contract::embedded(), 7, "230301");
    c.as_of = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
    c
}

fn generator(c: &mut Criterion) {
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(1));

    let mut affiliations = AffiliationGenerator::new(config()).expect("generator");
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("affiliation_serialized", |b| {
        b.iter(|| {
            buf.clear();
            let a = affiliations.next_affiliation().expect("identity space");
            serde_json::to_writer(&mut buf, &a).expect("serialize");
            black_box(buf.len())
        })
    });

    let mut fast = AffiliationGenerator::new(config()).expect("generator");
    group.bench_function("affiliation_json", |b| {
        b.iter(|| {
            let drawn = fast
                .next_affiliation_json(&mut buf)
                .expect("identity space");
            black_box((buf.len(), drawn.fecha_solicitud))
        })
    });

    let mut source = AffiliationGenerator::new(config()).expect("generator");
    let accepted: Vec<AcceptedAffiliation> = (0..10_000)
        .map(|i| {
            AcceptedAffiliation::of(
                &source.next_affiliation().expect("record"),
                &format!("T{i:012}"),
            )
        })
        .collect();
    let mut retractions = RetractionGenerator::new(config()).expect("generator");
    let mut i = 0usize;
    group.bench_function("retraction_serialized", |b| {
        b.iter(|| {
            buf.clear();
            let r = retractions.retraction(&accepted[i % accepted.len()]);
            i += 1;
            serde_json::to_writer(&mut buf, &r).expect("serialize");
            black_box(buf.len())
        })
    });
    group.finish();
}

criterion_group!(benches, generator);
criterion_main!(benches);
