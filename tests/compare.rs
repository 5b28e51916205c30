//! `mss-harness compare`: two runs at the same mock latency pass, a run whose
//! mock answers three times slower is `regressed`; the binary's exit codes,
//! `--out` (compare.json, the report's section), several baselines.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use mss_harness::session::run_scenario;

use crate::scenario_file::ScenarioFile;

fn temp_dir(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("compare-{name}"))
}

/// An open run of 10 s (the shortest the verdict judges) at 100 req/s against
/// the embedded mock answering with a lognormal latency of median
/// `median_ms`.
async fn run_at(median_ms: u32, name: &str) -> PathBuf {
    // What is compared is the latency: the few tickets a debug build among
    // parallel tests may take more than 100 ms late are not judged here.
    let scenario = ScenarioFile::open("compare-test", 100, "10s", 400)
        .mock(&format!(
            "latency = {{ distribution = \"lognormal\", median_ms = {median_ms}, sigma = 0.5, cap_ms = 1000 }}"
        ))
        .table("[thresholds]\nglobal = [\"drop_rate <= 2%\"]");
    let dir = temp_dir(name);
    let outcome = run_scenario(scenario.plan(), Some(dir.clone()))
        .await
        .expect("run");
    assert_eq!(outcome.exit, 0, "{:#}", outcome.summary);
    dir
}

fn compare(base: &Path, cur: &Path) -> (i32, String) {
    compare_with(&[base], cur, &[])
}

/// `mss-harness compare BASES... CUR ARGS...`: (exit code, stdout + stderr).
fn compare_with(bases: &[&Path], cur: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("compare")
        .args(bases)
        .arg(cur)
        .args(args)
        .output()
        .expect("mss-harness compare");
    (out.status.code().unwrap_or(-1), crate::util::printed(&out))
}

/// The printed comparison's p50 line of ReportarAfiliaciontraslado.
fn p50_row(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("ReportarAfiliaciontraslado") && l.contains(" p50 "))
        .expect("p50 row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_latency_passes_three_times_slower_fails() {
    let a = run_at(20, "a").await;
    let b = run_at(20, "b").await;
    let slow = run_at(60, "slow").await;
    // A minimum effect of 25%: a margin a busy test machine cannot cross
    // between two runs at 20 ms, that 20 -> 60 ms (+200%) clears.
    let loose = ["--min-effect", "25%"];
    let (code, text) = compare_with(&[&a], &b, &loose);
    assert_eq!(code, 0, "two runs at 20 ms should compare equal:\n{text}");
    assert!(!text.contains("regressed\n"), "{text}");
    let (code, text) = compare_with(&[&a], &slow, &loose);
    assert_eq!(code, 1, "20 ms -> 60 ms must fail:\n{text}");
    let p50 = p50_row(&text);
    assert!(p50.ends_with("regressed"), "{p50}");
    assert!(
        text.contains("REGRESSION") && text.contains("Bonferroni"),
        "{text}"
    );
    assert!(
        text.contains("1 baseline: "),
        "a single pair says it cannot see between-run noise: {text}"
    );

    // --fail-on-inconclusive: a run against itself, with no margin for the
    // p50 (its interval straddles ±0%, so the line is inconclusive).
    let zero = ["--min-effect", "25%", "--min-effect", "p50=0%"];
    let (code, text) = compare_with(&[&a], &a, &zero);
    assert_eq!(code, 0, "{text}");
    let p50 = p50_row(&text);
    assert!(
        p50.contains("+0.0%") && p50.ends_with("inconclusive"),
        "{p50}"
    );
    let (code, text) = compare_with(
        &[&a],
        &a,
        &[&zero[..], &["--fail-on-inconclusive"]].concat(),
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("INCONCLUSIVE, failing as asked"), "{text}");

    // Three baselines: the spread between runs is used.
    let (code, text) = compare_with(&[&a, &b, &a], &slow, &loose);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("3 baselines: the intervals include the spread between runs"),
        "{text}"
    );

    // --out into the run's folder: compare.json, and report.html again with
    // the comparison in it.
    let (code, text) = compare_with(&[&a], &slow, &["--out", slow.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(slow.join("compare.json")).expect("compare.json"),
    )
    .expect("json");
    assert_eq!(json["regressed"], true);
    let html = std::fs::read_to_string(slow.join("report.html")).expect("report.html");
    assert!(
        html.contains("Change against the baseline") && html.contains("regressed"),
        "no comparison section"
    );
    for d in [a, b, slow] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn folders_that_cannot_be_compared_exit_2_naming_the_file() {
    let empty = temp_dir("empty");
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("compare")
        .arg(&empty)
        .arg(&empty)
        .output()
        .expect("mss-harness compare");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("summary.json"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(["compare", "a", "b", "--max-p99-increase", "lots"])
        .output()
        .expect("mss-harness compare");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--max-p99-increase") && err.contains("lots"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(empty);
}

/// The committed smoke baseline is a version 1 summary: read as version 2,
/// its stored reports are those the mock held (895 of 923 affiliations; the
/// other 28 were invalid records rejected as expected), not every `accepted`.
#[test]
fn a_version_1_baseline_is_read_and_a_newer_version_is_refused() {
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline/smoke");
    let text = std::fs::read_to_string(baseline.join("summary.json")).expect("baseline");
    let v1: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        v1["schema_version"], 1,
        "the baseline is no longer version 1"
    );
    let (code, out) = compare(&baseline, &baseline);
    assert_eq!(code, 0, "{out}");
    let stored = v1["reconciliation"]["services"]["ReportarAfiliaciontraslado"]["harness"]
        .as_f64()
        .expect("harness");
    let seconds = v1["duration_s"].as_f64().expect("duration_s");
    let row = out
        .lines()
        .find(|l| l.starts_with("ReportarAfiliaciontraslado") && l.contains(" throughput "))
        .unwrap_or_else(|| panic!("no throughput row:\n{out}"));
    assert!(
        row.contains(&format!("{:.2}/s", stored / seconds)),
        "throughput of the stored reports ({stored} in {seconds} s): {row}"
    );
    let er = out
        .lines()
        .find(|l| l.starts_with("ReportarAfiliaciontraslado") && l.contains(" error_rate "))
        .unwrap_or_else(|| panic!("no error_rate row:\n{out}"));
    assert!(
        er.contains(" 0.00% "),
        "rejected as expected is no error: {er}"
    );

    let future = temp_dir("future");
    std::fs::write(
        future.join("summary.json"),
        text.replace("\"schema_version\": 1", "\"schema_version\": 3"),
    )
    .expect("write");
    let (code, out) = compare(&baseline, &future);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("schema_version 3") && out.contains("versions 1 and 2"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(future);
}

/// The comparison section of a compared run's `report.html`, as headless
/// Chromium draws it: a row per service and metric, each judged line's
/// interval an SVG of real width, the 20 -> 60 ms p50 `regressed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: run by .ci/run (cargo test -- --ignored)"]
async fn a_headless_chromium_draws_the_comparison_in_the_report() {
    let work = temp_dir("chromium");
    let a = run_at(20, "chromium-a").await;
    let slow = run_at(60, "chromium-slow").await;
    let (code, text) = compare_with(&[&a], &slow, &["--out", slow.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{text}");
    let browser = crate::live::Browser::start(&work).await;
    browser.open_file(&slow.join("report.html")).await;
    let seen = browser
        .run(
            "const s = document.getElementById('comparison'); \
            const rows = [...s.querySelectorAll('tr')].filter((r) => r.querySelector('.badge')); \
            return { \
              heading: s.querySelector('h2').textContent, \
              rows: rows.map((r) => [...r.cells].map((c) => c.textContent.trim())), \
              bars: [...s.querySelectorAll('svg.ci')].map((g) => g.getBoundingClientRect().width), \
            };",
        )
        .await;
    let heading = seen["heading"].as_str().unwrap_or_default();
    assert!(heading.contains("REGRESSION"), "{seen}");
    let rows = seen["rows"].as_array().expect("rows");
    // Two services × five metrics.
    assert_eq!(rows.len(), 10, "{seen}");
    let p50 = rows
        .iter()
        .find(|r| r[0] == "ReportarAfiliaciontraslado" && r[1] == "p50")
        .expect("p50 row");
    assert_eq!(p50[8], "regressed", "{p50}");
    let bars = crate::util::numbers(&seen, "bars");
    assert!(!bars.is_empty() && bars.iter().all(|w| *w > 40.0), "{seen}");
    let png = browser
        .call(reqwest::Method::GET, "/screenshot", Value::Null)
        .await;
    assert!(png.as_str().is_some_and(|p| p.len() > 1000), "a screenshot");
    let _ = browser.call(reqwest::Method::DELETE, "", Value::Null).await;
    for d in [a, slow, work] {
        let _ = std::fs::remove_dir_all(d);
    }
}
