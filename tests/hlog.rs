//! The `.hlog` files in HdrHistogram's interval log format: a smoke run's logs
//! read by HdrHistogram's own Java `HistogramLogProcessor`, and a results
//! folder written by release 0.1.0 (uncompressed histograms,
//! `tests/data/results-v0.1-hlog`) merged, compared, reported and read by
//! `informe`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::scenario_file::ScenarioFile;
use crate::util::{harness, succeeded as ok, summary};

const SERVICES: [&str; 2] = ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"];

/// HdrHistogram's Java library (Debian's `libhdrhistogram-java`).
fn jar() -> PathBuf {
    std::env::var_os("MSS_HDRHISTOGRAM_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java/hdrhistogram.jar"))
}

/// `HistogramLogProcessor -i LOG -csv -outputValueUnitRatio 1 [-tag TAG]`:
/// the percentile distribution of every interval with that tag (untagged when
/// `None`) added up — (total count, value at the first row at or past p99), in
/// the log's unit (µs).
fn processor(log: &Path, tag: Option<&str>) -> (u64, f64) {
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(jar())
        .arg("org.HdrHistogram.HistogramLogProcessor")
        .arg("-i")
        .arg(log)
        .args(["-csv", "-outputValueUnitRatio", "1"]);
    if let Some(tag) = tag {
        cmd.args(["-tag", tag]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "java is required (apt-get install default-jre-headless, or scripts/ci-tools.sh): {e}"
        )
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "HistogramLogProcessor on {} ({tag:?}):\n{text}\n{}",
        log.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // "Value","Percentile","TotalCount","1/(1-Percentile)"
    let rows: Vec<(f64, f64, u64)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('"'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| -> f64 {
                f.get(i)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{}: row {l:?}", log.display()))
            };
            (num(0), num(1), num(2) as u64)
        })
        .collect();
    let total = rows.last().map(|r| r.2).unwrap_or(0);
    let p99 = rows
        .iter()
        .find(|r| r.1 >= 0.99)
        .map(|r| r.0)
        .unwrap_or(0.0);
    (total, p99)
}

/// Equal within the histogram's precision: three significant digits, so one
/// bucket is at most 1/1024 of the value (HdrHistogram rounds to the bucket's
/// highest equivalent value).
fn within_precision(java: f64, ours: f64) -> bool {
    (java - ours).abs() <= ours.max(java) / 512.0 + 1.0
}

#[test]
#[ignore = "needs HdrHistogram's Java library and java: run by .ci/run (cargo test -- --ignored)"]
fn every_hlog_of_a_smoke_run_reads_in_hdrhistograms_own_log_processor() {
    assert!(
        jar().is_file(),
        "{} is missing: install libhdrhistogram-java (scripts/ci-tools.sh) or set MSS_HDRHISTOGRAM_JAR",
        jar().display()
    );
    let dir = crate::util::temp_dir("hlog-java");
    // The smoke scenario's shape (the embedded mock, both services), 4 s long.
    let scenario = ScenarioFile::open("smoke-short", 50, "4s", 50)
        .table("[mix]\nReportarAfiliaciontraslado = 3\nReportarRetractoAfiliacion = 1")
        .write(&dir, "smoke-short.toml");
    let out = dir.join("out");
    ok(&harness(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]));
    let s = summary(&out);
    // Requests that never got an answer have no latency: a request dropped
    // (the sender fell behind its schedule) or never sent for want of a token.
    let requests = |svc: &str| {
        let service = &s["services"][svc];
        let unsent: u64 = ["dropped", "auth_failed", "token_unavailable"]
            .iter()
            .filter_map(|class| service["errors"][class].as_u64())
            .sum();
        service["requests"].as_u64().unwrap_or(0) - unsent
    };
    let p99 = |v: &Value| v["p99"].as_f64().expect("p99");
    let mut checked = 0;
    for svc in SERVICES {
        assert!(requests(svc) > 0, "{svc} sent nothing: {s:#}");
        // Every second's histogram of the service, added up by Java.
        let (total, java_p99) = processor(&out.join("latency.hlog"), Some(svc));
        assert_eq!(total, requests(svc), "latency.hlog {svc}");
        let ours = p99(&s["services"][svc]["latency_us"]);
        assert!(
            within_precision(java_p99, ours),
            "latency.hlog {svc}: p99 {java_p99} µs (Java) against {ours} µs (summary.json)"
        );
        for (kind, field) in [
            ("latency", "latency_us"),
            ("service_time", "service_time_us"),
            ("send_lag", "send_lag_us"),
        ] {
            let tag = format!("{svc}/{kind}");
            let (total, java_p99) = processor(&out.join("histograms.hlog"), Some(&tag));
            assert_eq!(total, requests(svc), "histograms.hlog {tag}");
            let ours = p99(&s["services"][svc][field]);
            assert!(
                within_precision(java_p99, ours),
                "histograms.hlog {tag}: p99 {java_p99} against {ours}"
            );
        }
        checked += 4;
    }
    // Untagged lines, what the tools show by default: all services together.
    let all = requests(SERVICES[0]) + requests(SERVICES[1]);
    for log in ["latency.hlog", "histograms.hlog"] {
        let (total, _) = processor(&out.join(log), None);
        assert_eq!(total, all, "{log}, untagged");
        checked += 1;
    }
    let token = s["token"]["requests"].as_u64().expect("token requests");
    for tag in [None, Some("token/latency")] {
        let (total, java_p99) = processor(&out.join("token.hlog"), tag);
        assert_eq!(total, token, "token.hlog {tag:?}");
        let ours = p99(&s["token"]["latency_us"]);
        assert!(
            within_precision(java_p99, ours),
            "token.hlog: p99 {java_p99} against {ours}"
        );
        checked += 1;
    }
    assert_eq!(checked, 12);
    // Where the time went: each service's and the token's phases, one
    // histogram each (two significant digits), as summary.json's `phases`.
    let phases = s["phases"].as_object().unwrap_or_else(|| {
        panic!("summary.json has no phases: every exchange is timed by phase\n{s:#}")
    });
    for (svc, p) in phases {
        for phase in ["dns", "connect", "tls", "send", "wait", "receive"] {
            let Some(count) = p[phase]["count"].as_u64() else {
                assert!(p[phase].is_null(), "{svc} {phase}: {p:#}");
                continue;
            };
            let tag = format!("{svc}/{phase}");
            let (total, java_p99) = processor(&out.join("phases.hlog"), Some(&tag));
            assert_eq!(total, count, "phases.hlog {tag}");
            let ours = p[phase]["p99_ms"].as_f64().expect("p99_ms") * 1000.0;
            assert!(
                (java_p99 - ours).abs() <= ours.max(java_p99) / 64.0 + 1.0,
                "phases.hlog {tag}: p99 {java_p99} µs against {ours} µs"
            );
            checked += 1;
        }
    }
    assert!(checked >= 12 + 9, "send, wait and receive of every service");
    let hlogs = std::fs::read_dir(&out)
        .expect("results")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "hlog"))
        })
        .count();
    assert_eq!(hlogs, 4, "every .hlog of the run is read above");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The two workers' folders that release 0.1.0 wrote.
fn fixture(worker: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/results-v0.1-hlog")
        .join(worker)
}

#[test]
fn a_results_folder_of_0_1_0_still_merges_compares_reports_and_informs() {
    let (w0, w1) = (fixture("w0"), fixture("w1"));
    let old = std::fs::read_to_string(w0.join("latency.hlog")).expect("fixture");
    assert!(
        old.lines().any(|l| l.contains(",HISTEw")) && !old.contains("HISTFAAA"),
        "the fixture holds the uncompressed encoding"
    );
    let dir = crate::util::temp_dir("hlog-old");
    let merged = dir.join("merged");
    ok(&harness(&[
        "merge",
        w0.to_str().expect("utf-8"),
        w1.to_str().expect("utf-8"),
        "--out",
        merged.to_str().expect("utf-8"),
    ]));
    let (s0, s1, m) = (summary(&w0), summary(&w1), summary(&merged));
    for svc in SERVICES {
        let r = |s: &Value| s["services"][svc]["requests"].as_u64().unwrap_or(0);
        assert_eq!(r(&m), r(&s0) + r(&s1), "{svc}");
    }
    let svc = SERVICES[0];
    // The merged latency is the two workers' histograms added: its maximum is
    // the larger of theirs (read back from the old encoding, not recomputed).
    let max = |s: &Value| {
        s["services"][svc]["latency_us"]["max"]
            .as_u64()
            .expect("max")
    };
    assert_eq!(max(&m), max(&s0).max(max(&s1)));
    // The merged logs are the new encoding, read back by our reader.
    let new = std::fs::read_to_string(merged.join("latency.hlog")).expect("merged");
    assert!(
        new.contains(",HISTFAAA") && !new.contains("HISTEw"),
        "{new}"
    );
    let read = mss_harness::hlog::read_file(&merged.join("latency.hlog")).expect("read");
    let count: u64 = read.iter().map(|(_, _, h)| h.len()).sum();
    assert_eq!(
        count,
        m["services"][svc]["requests"].as_u64().expect("requests")
    );
    // Compared: each old worker as the baseline of the merged run.
    for (a, b) in [(&w0, &merged), (&w1, &merged)] {
        let text = ok(&harness(&[
            "compare",
            a.to_str().expect("utf-8"),
            b.to_str().expect("utf-8"),
            "--max-p99-increase",
            "1000%",
        ]));
        assert!(text.contains("compare: no regression"), "{text}");
    }
    // And reported from its files (the report reads latency.hlog and
    // histograms.hlog): a copy, so the fixture stays as committed.
    let copy = dir.join("w0");
    std::fs::create_dir_all(&copy).expect("copy");
    for f in std::fs::read_dir(&w0).expect("fixture") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, copy.join(f.file_name().expect("name"))).expect("copy");
    }
    ok(&harness(&["report", copy.to_str().expect("utf-8")]));
    let md = std::fs::read_to_string(copy.join("report.md")).expect("report.md");
    assert!(md.contains(svc), "{md}");
    // And the informe reads its latencies from the old latency.hlog (the
    // run was on 2026-12-01, Colombian time).
    let informe = dir.join("informe");
    ok(&harness(&[
        "informe",
        "--desde",
        "2026-12-01",
        "--hasta",
        "2026-12-02",
        w0.to_str().expect("utf-8"),
        w1.to_str().expect("utf-8"),
        "--out",
        informe.to_str().expect("utf-8"),
    ]));
    let text = std::fs::read_to_string(informe.join("informe.md")).expect("informe.md");
    // The service's row of the response-time table (mín … máx).
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("## 3."))
        .find(|l| l.starts_with(&format!("| {svc} |")))
        .unwrap_or_else(|| panic!("{text}"));
    let max_ms = format!("| {:.1} |", max(&m) as f64 / 1000.0);
    assert!(row.ends_with(&max_ms), "{row} should end with {max_ms}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `summary.json` with a renamed key is refused, not read as zeros:
/// `report`, `compare` and `merge` exit 2 naming the file and the key.
#[test]
fn a_renamed_key_makes_report_compare_and_merge_exit_2_naming_it() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/results-v0.1-hlog");
    let tmp = tempfile::tempdir().expect("tmp");
    for w in ["w0", "w1"] {
        let to = tmp.path().join(w);
        std::fs::create_dir_all(&to).expect("dir");
        for f in std::fs::read_dir(data.join(w)).expect("read") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, to.join(f.file_name().expect("name"))).expect("copy");
        }
    }
    let (w0, w1) = (tmp.path().join("w0"), tmp.path().join("w1"));
    let text = std::fs::read_to_string(w0.join("summary.json")).expect("summary");
    assert!(text.contains("\"duration_s\":"), "{text}");
    std::fs::write(
        w0.join("summary.json"),
        text.replace("\"duration_s\":", "\"duration_seconds\":"),
    )
    .expect("write");
    let out = tmp.path().join("merged");
    let runs: [Vec<&str>; 3] = [
        vec!["report", w0.to_str().expect("utf-8")],
        vec![
            "compare",
            w0.to_str().expect("utf-8"),
            w1.to_str().expect("utf-8"),
        ],
        vec![
            "merge",
            w0.to_str().expect("utf-8"),
            w1.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ],
    ];
    for args in runs {
        let o = harness(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("summary.json") && stderr.contains("duration_seconds"),
            "{args:?} does not name the file and the key: {stderr}"
        );
    }
    assert!(!out.join("summary.json").exists());
}
