//! `compare`'s statistical verdict on synthetic runs with a known shift
//! (deterministic seeds, no timing): per-second HdrHistograms of lognormal
//! latencies (median 20 ms, σ 0.5) at 90 + 10 requests per second for 30 s,
//! judged through the library as `compare` judges two results folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use mss_harness::results::comparison::Comparison;
use mss_harness::stats::bootstrap::Seconds;
use mss_harness::stats::compare::{Options, judge};
use mss_harness::stats::sample::{RunSample, SecondRow, ServiceSample};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MAIN: &str = "ReportarAfiliaciontraslado";
const SMALL: &str = "ReportarRetractoAfiliacion";

/// Per-second histograms of `per_second` lognormal latencies (median
/// `median_ms`, σ 0.5) over `seconds` seconds.
fn seconds(
    seconds: usize,
    per_second: usize,
    median_ms: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<Histogram<u64>> {
    (0..seconds)
        .map(|_| {
            let mut h = mss_harness::hdr::histogram();
            for _ in 0..per_second {
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                mss_harness::hdr::record(&mut h, (median_ms * 1000.0 * (0.5 * z).exp()) as u64);
            }
            h
        })
        .collect()
}

fn service(hs: &[Histogram<u64>], per_second: usize) -> ServiceSample {
    let n = (hs.len() * per_second) as u64;
    ServiceSample {
        latency: Seconds::new(hs),
        per_second: Some(vec![
            SecondRow {
                sent: per_second as u64,
                stored: per_second as u64,
                errors: 0,
            };
            hs.len()
        ]),
        requests: n,
        sent: n,
        stored: n,
        errors: 0,
    }
}

/// A run of `secs` s: the main service at `main` req/s, the small one at
/// `small`, every latency from a lognormal of median `median_ms`.
fn run(seed: u64, median_ms: f64, secs: usize, main: usize, small: usize) -> RunSample {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut summary = mss_harness::results::read_summary(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline/smoke"),
    )
    .expect("summary");
    summary.duration_s = secs as f64;
    let mut services = BTreeMap::new();
    services.insert(
        MAIN.to_owned(),
        service(&seconds(secs, main, median_ms, &mut rng), main),
    );
    services.insert(
        SMALL.to_owned(),
        service(&seconds(secs, small, median_ms, &mut rng), small),
    );
    RunSample {
        dir: PathBuf::from(format!("run-{seed}")),
        summary,
        services,
    }
}

fn line<'a>(
    c: &'a Comparison,
    service: &str,
    metric: &str,
) -> &'a mss_harness::results::comparison::Line {
    c.lines
        .iter()
        .find(|l| l.service == service && l.metric == metric)
        .unwrap_or_else(|| panic!("{service} {metric}"))
}

/// `cur` judged against the one baseline `base`, with the default options.
fn judge_one(base: &RunSample, cur: &RunSample) -> Comparison {
    judge(std::slice::from_ref(base), cur, &Options::default()).expect("compare")
}

fn regressed_anywhere(c: &Comparison) -> bool {
    c.lines.iter().any(|l| l.verdict == "regressed")
}

#[test]
fn identical_runs_do_not_regress_and_a_shift_does() {
    let (mut false_alarms, mut p50_caught, mut p99_caught) = (0, 0, 0);
    for pair in 0..20u64 {
        let a = run(1000 + pair, 20.0, 30, 90, 10);
        let b = run(2000 + pair, 20.0, 30, 90, 10);
        let c = judge_one(&a, &b);
        // Ten lines judged but the small service's p99 (300 requests).
        assert_eq!(c.lines_judged, 9, "{c:#?}");
        assert_eq!(line(&c, SMALL, "p99").verdict, "inconclusive");
        false_alarms += usize::from(regressed_anywhere(&c));
        let up10 = run(3000 + pair, 22.0, 30, 90, 10);
        let c = judge_one(&a, &up10);
        p50_caught += usize::from(line(&c, MAIN, "p50").verdict == "regressed");
        let up30 = run(4000 + pair, 26.0, 30, 90, 10);
        let c = judge_one(&b, &up30);
        p99_caught += usize::from(line(&c, MAIN, "p99").verdict == "regressed");
        assert_eq!(line(&c, MAIN, "throughput").verdict, "unchanged");
    }
    assert!(
        false_alarms <= 1,
        "{false_alarms} of 20 identical pairs regressed"
    );
    assert!(
        p50_caught >= 18,
        "+10%: p50 regressed in {p50_caught} of 20"
    );
    assert!(
        p99_caught >= 16,
        "+30%: p99 regressed in {p99_caught} of 20"
    );
}

#[test]
fn a_service_with_too_few_requests_is_inconclusive_never_regressed() {
    // One request a second of the small service, the current run 2x slower:
    // 30 requests say nothing of a p90 or p99.
    let a = run(7, 20.0, 30, 90, 1);
    let b = run(8, 40.0, 30, 90, 1);
    let c = judge_one(&a, &b);
    for m in ["p90", "p99"] {
        let l = line(&c, SMALL, m);
        assert_eq!(l.verdict, "inconclusive", "{l:?}");
        assert!(
            l.note.as_deref().is_some_and(|n| n.contains("30 requests")),
            "{l:?}"
        );
    }
    // A run of 4 s: nothing is judged.
    let a = run(9, 20.0, 4, 90, 10);
    let b = run(10, 20.0, 4, 90, 10);
    let c = judge_one(&a, &b);
    assert!(
        c.lines.iter().all(|l| l.verdict == "inconclusive"),
        "{c:#?}"
    );
    assert_eq!(c.lines_judged, 0);
}

#[test]
fn an_inconclusive_line_says_what_would_resolve_it() {
    // +3% on a 10 s run: the p50 interval (about ±5%) straddles the 1%
    // minimum effect.
    let a = run(11, 20.0, 10, 90, 10);
    let b = run(12, 20.6, 10, 90, 10);
    let c = judge_one(&a, &b);
    let l = line(&c, MAIN, "p50");
    assert_eq!(l.verdict, "inconclusive", "{l:?}");
    let note = l.note.as_deref().unwrap_or("");
    assert!(
        note.contains("requests of this service per run") && note.contains(" s at this rate"),
        "{note}"
    );
}

#[test]
fn three_baselines_see_the_noise_between_runs() {
    // The baselines' medians spread by ±15% (another machine load each run),
    // each run itself precise: one baseline says the +10% run regressed,
    // three say they cannot tell.
    let opts = Options::default();
    let bases = [
        run(21, 20.0, 30, 90, 10),
        run(22, 23.0, 30, 90, 10),
        run(23, 17.0, 30, 90, 10),
    ];
    let cur = run(24, 22.0, 30, 90, 10);
    let one = judge(&bases[..1], &cur, &opts).expect("one");
    assert!(!one.between_runs);
    assert_eq!(line(&one, MAIN, "p50").verdict, "regressed");
    let three = judge(&bases, &cur, &opts).expect("three");
    assert!(three.between_runs);
    let l = line(&three, MAIN, "p50");
    assert_eq!(l.verdict, "inconclusive", "{l:?}");
    assert!(
        l.note
            .as_deref()
            .is_some_and(|n| n.contains("more baseline runs")),
        "{l:?}"
    );
    // Three baselines that agree keep the verdict.
    let agree = [
        run(31, 20.0, 30, 90, 10),
        run(32, 20.0, 30, 90, 10),
        run(33, 20.0, 30, 90, 10),
    ];
    let c = judge(&agree, &run(34, 24.0, 30, 90, 10), &opts).expect("agree");
    assert_eq!(line(&c, MAIN, "p50").verdict, "regressed");
}

#[test]
fn bonferroni_over_the_lines_judged() {
    let c = judge_one(&run(41, 20.0, 30, 90, 10), &run(42, 20.0, 30, 90, 10));
    // 9 lines at 5% overall: each interval 1 − 2·0.05/9.
    assert!(
        (c.line_confidence_pct - 100.0 * (1.0 - 0.1 / 9.0)).abs() < 1e-9,
        "{}",
        c.line_confidence_pct
    );
}
