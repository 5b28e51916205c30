//! `mss-harness merge`: worker results joined as one run, and refused when they
//! are not one run. Each worker here runs against its own embedded mock (the
//! two-process acceptance against one mock is `workers::two_workers_equal_one_run`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SCENARIO: &str = r#"
name = "merge-me"
[target]
url = "mock"
[target.mock]
latency = { distribution = "fixed", ms = 2 }
[load]
model = "open"
stages = [{ rate = 40, duration = "3s" }]
max_in_flight = 20
[thresholds]
global = ["p99 < 2s", "error_rate < 1%"]
"#;

fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(args)
        .output()
        .expect("run")
}

fn worker(dir: &Path, file: &Path, spec: &str, name: &str) -> PathBuf {
    let out = dir.join(name);
    let o = harness(&[
        "run",
        file.to_str().expect("utf-8"),
        "--worker",
        spec,
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn workers_merge_into_one_run_and_bad_sets_are_refused() {
    let dir = crate::util::temp_dir("merge");
    let file = dir.join("merge-me.toml");
    std::fs::write(&file, SCENARIO).expect("scenario");
    let w0 = worker(&dir, &file, "0/2", "w0");
    let w1 = worker(&dir, &file, "1/2", "w1");
    let (s0, s1) = (summary(&w0), summary(&w1));
    assert_eq!(s0["meta"]["worker"]["index"], 0);
    assert_eq!(s1["meta"]["worker"]["count"], 2);
    let requests = |s: &Value| {
        s["services"]["ReportarAfiliaciontraslado"]["requests"]
            .as_u64()
            .unwrap_or(0)
            + s["services"]["ReportarRetractoAfiliacion"]["requests"]
                .as_u64()
                .unwrap_or(0)
    };
    // Each sent half of the 120 arrivals.
    assert_eq!(requests(&s0) + requests(&s1), 120, "{s0}\n{s1}");

    let merged = dir.join("merged");
    let o = harness(&[
        "merge",
        w0.to_str().expect("utf-8"),
        w1.to_str().expect("utf-8"),
        "--out",
        merged.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = summary(&merged);
    assert_eq!(requests(&m), 120);
    assert_eq!(m["meta"]["merged_workers"], serde_json::json!([0, 1]));
    let schema = crate::run::summary_schema();
    if let Err(e) = schema.validate(&m) {
        panic!("merged summary.json: {e} at {}", e.instance_path());
    }
    for f in [
        "latency.hlog",
        "histograms.hlog",
        "token.hlog",
        "timeseries.csv",
        "errors.csv",
        "report.html",
        "report.md",
        "junit.xml",
        "scenario.toml",
    ] {
        assert!(merged.join(f).is_file(), "{f} missing");
    }
    // The merged time series holds every request once.
    let sent: u64 = csv::Reader::from_path(merged.join("timeseries.csv"))
        .expect("csv")
        .records()
        .map(|r| r.expect("row")[2].parse::<u64>().expect("sent"))
        .sum();
    assert_eq!(sent, 120);

    // The same worker twice: refused.
    let o = harness(&[
        "merge",
        w0.to_str().expect("utf-8"),
        w0.to_str().expect("utf-8"),
        "--out",
        dir.join("x").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("overlapping worker indexes"));
    // Another scenario: refused.
    let other = dir.join("other.toml");
    std::fs::write(&other, SCENARIO.replace("rate = 40", "rate = 30")).expect("scenario");
    let w2 = worker(&dir, &other, "1/2", "w2");
    let o = harness(&[
        "merge",
        w0.to_str().expect("utf-8"),
        w2.to_str().expect("utf-8"),
        "--out",
        dir.join("y").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("different scenarios"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Bad worker flags name what is wrong.
    let o = harness(&["run", file.to_str().expect("utf-8"), "--worker", "2/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("INDEX must be below COUNT"));
    let _ = std::fs::remove_dir_all(&dir);
}
