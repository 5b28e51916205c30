//! `mss-harness compare`: two runs at the same mock latency pass, a run whose
//! mock answers three times slower fails; the binary's exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use mss_harness::session::run_scenario;

use crate::scenario_file::ScenarioFile;

fn temp_dir(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("compare-{name}"))
}

/// A short open run at 200 req/s against the embedded mock answering with a
/// lognormal latency of median `median_ms`.
async fn run_at(median_ms: u32, name: &str) -> PathBuf {
    let scenario = ScenarioFile::open("compare-test", 200, "5s", 400).mock(&format!(
        "latency = {{ distribution = \"lognormal\", median_ms = {median_ms}, sigma = 0.5, cap_ms = 1000 }}"
    ));
    let dir = temp_dir(name);
    let outcome = run_scenario(scenario.plan(), Some(dir.clone()))
        .await
        .expect("run");
    assert_eq!(outcome.exit, 0, "{:#}", outcome.summary);
    dir
}

fn compare(base: &Path, cur: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("compare")
        .arg(base)
        .arg(cur)
        // Loose enough for a noisy 2-core machine, tight enough for 3x.
        .args(["--max-p99-increase", "50%"])
        .output()
        .expect("mss-harness compare");
    (out.status.code().unwrap_or(-1), crate::util::printed(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_latency_passes_three_times_slower_fails() {
    let a = run_at(20, "a").await;
    let b = run_at(20, "b").await;
    let slow = run_at(60, "slow").await;
    let (code, text) = compare(&a, &b);
    assert_eq!(code, 0, "two runs at 20 ms should compare equal:\n{text}");
    let (code, text) = compare(&a, &slow);
    assert_eq!(code, 1, "20 ms -> 60 ms must fail:\n{text}");
    let p99 = text
        .lines()
        .find(|l| l.starts_with("ReportarAfiliaciontraslado") && l.contains(" p99 "))
        .expect("p99 row");
    assert!(p99.ends_with("FAIL"), "{p99}");
    assert!(text.contains("REGRESSION"), "{text}");
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
