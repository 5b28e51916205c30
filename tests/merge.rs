//! `mss-harness merge`: worker results joined as one run, and refused when they
//! are not one run. Each worker here runs against its own embedded mock (the
//! two-process acceptance against one mock is `workers::two_workers_equal_one_run`).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::scenario_file::ScenarioFile;
use crate::util::{harness, summary};

/// The scenario the workers share, at `rate` req/s for 3 s.
fn scenario(rate: u32) -> String {
    ScenarioFile::open("merge-me", rate, "3s", 20)
        .mock_latency_ms(2)
        .table("[invalid]\nVAL01 = 0.1")
        .table("[thresholds]\nglobal = [\"p99 < 2s\", \"error_rate < 1%\"]")
        .to_string()
}

/// `mss-harness merge WORKERS --out OUT`.
fn merge(workers: &[&Path], out: &Path) -> Output {
    let mut args = vec!["merge"];
    args.extend(workers.iter().map(|w| w.to_str().expect("utf-8")));
    args.extend(["--out", out.to_str().expect("utf-8")]);
    harness(&args)
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

#[test]
fn workers_merge_into_one_run_and_bad_sets_are_refused() {
    let dir = crate::util::temp_dir("merge");
    let file = dir.join("merge-me.toml");
    std::fs::write(&file, scenario(40)).expect("scenario");
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
    let o = merge(&[&w0, &w1], &merged);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = summary(&merged);
    assert_eq!(requests(&m), 120);
    assert_eq!(m["meta"]["merged_workers"], serde_json::json!([0, 1]));
    let schema = crate::run::summary_schema();
    if let Err(e) = schema.validate(&m) {
        panic!("merged summary.json: {e} at {}", e.instance_path());
    }
    for f in crate::run::OUTPUTS {
        assert!(merged.join(f).is_file(), "{f} missing");
    }
    // Stored reports and invalid records rejected as expected add up.
    for k in ["stored", "rejected_as_expected"] {
        let n = |s: &Value| s["services"]["ReportarAfiliaciontraslado"][k].as_u64();
        assert_eq!(
            n(&m),
            Some(n(&s0).expect(k) + n(&s1).expect(k)),
            "{k}: {m:#}"
        );
    }
    assert!(
        m["services"]["ReportarAfiliaciontraslado"]["rejected_as_expected"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{m:#}"
    );
    // The merged time series holds every request once: sent, or dropped
    // (docs/results.md).
    let mut reader = csv::Reader::from_path(merged.join("timeseries.csv")).expect("csv");
    let header = reader.headers().expect("header").clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column: {header:?}"))
    };
    let (sent, dropped) = (column("sent"), column("dropped"));
    let requests: u64 = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            r[sent].parse::<u64>().expect("sent") + r[dropped].parse::<u64>().expect("dropped")
        })
        .sum();
    assert_eq!(requests, 120);

    // The same worker twice: refused.
    let o = merge(&[&w0, &w0], &dir.join("x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("overlapping worker indexes"));
    // Another scenario: refused.
    let other = dir.join("other.toml");
    std::fs::write(&other, scenario(30)).expect("scenario");
    let w2 = worker(&dir, &other, "1/2", "w2");
    let o = merge(&[&w0, &w2], &dir.join("y"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("different scenarios"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The same workers written by a version 1 harness (`accepted` counted
    // stored reports and invalid records rejected as expected alike; every
    // token was a refresh; the time series said `accepted`) merge to the same
    // counts.
    let v1 = |w: &Path, name: &str| -> PathBuf {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).expect("dir");
        for f in std::fs::read_dir(w).expect("worker") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, to.join(f.file_name().expect("name"))).expect("copy");
        }
        let mut s = summary(w);
        s["schema_version"] = 1.into();
        for (_, svc) in s["services"].as_object_mut().expect("services") {
            let o = svc.as_object_mut().expect("service");
            let stored = o.remove("stored").and_then(|v| v.as_u64()).expect("stored");
            let rejected = o
                .remove("rejected_as_expected")
                .and_then(|v| v.as_u64())
                .expect("rejected_as_expected");
            o.insert("accepted".into(), (stored + rejected).into());
        }
        s["token"]["refreshes"] = (s["token"]["refreshes"].as_u64().expect("refreshes") + 1).into();
        std::fs::write(to.join("summary.json"), s.to_string()).expect("write");
        let ts = std::fs::read_to_string(w.join("timeseries.csv")).expect("timeseries");
        std::fs::write(
            to.join("timeseries.csv"),
            ts.replacen(",stored,", ",accepted,", 1),
        )
        .expect("write");
        to
    };
    let (o0, o1) = (v1(&w0, "v1-w0"), v1(&w1, "v1-w1"));
    let from_v1 = dir.join("merged-v1");
    let o = merge(&[&o0, &o1], &from_v1);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mv1 = summary(&from_v1);
    assert_eq!(mv1["services"], m["services"]);
    assert_eq!(mv1["token"]["refreshes"], m["token"]["refreshes"]);
    assert_eq!(mv1["schema_version"], 2);
    if let Err(e) = schema.validate(&mv1) {
        panic!("merged summary.json of version 1 workers: {e}");
    }
    // A version this harness does not read is refused, named.
    let mut future = summary(&o0);
    future["schema_version"] = 3.into();
    std::fs::write(o0.join("summary.json"), future.to_string()).expect("write");
    let o = merge(&[&o0, &o1], &dir.join("z"));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("schema_version 3") && err.contains("versions 1 and 2"),
        "{err}"
    );
    // Bad worker flags name what is wrong.
    let o = harness(&["run", file.to_str().expect("utf-8"), "--worker", "2/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("INDEX must be below COUNT"));
    let _ = std::fs::remove_dir_all(&dir);
}
