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

/// The first line where `a` and `b` differ, with its neighbours, for a
/// failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    let around =
        |l: &[&str]| l[at.saturating_sub(3).min(l.len())..(at + 3).min(l.len())].join("\n");
    format!(
        "line {}:\n--- run\n{}\n--- merge\n{}",
        at + 1,
        around(&a),
        around(&b)
    )
}

/// Merge the one results folder `run` (written by `mss-harness run`) and
/// assert that the merge's `summary.json` is the run's own, byte for byte,
/// but for `meta.merged_workers` (`[0]`): the one key a merge adds, which
/// says the summary is a merge's. Its `errors.csv` and `timeseries.csv` are
/// the run's too. The hint of an unexpected codigo names the contract file of
/// the merging process: the same here, which merges with the contract the run
/// used.
pub fn assert_merge_of_one_is_the_run(run: &Path) {
    let merged = run.with_extension("merged");
    let o = merge(&[run], &merged);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |dir: &Path, name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let single = read(run, "summary.json");
    let text = read(&merged, "summary.json");
    let path = merged.join("summary.json");
    let mut m = mss_harness::results::parse_summary(&text, &path).expect("merged summary");
    // The merge's file is its summary as every summary is written, so
    // dropping one key from the value drops it from the bytes.
    assert_eq!(mss_harness::results::summary_text(&m).expect("text"), text);
    let meta = m.meta.as_mut().expect("meta");
    assert_eq!(meta.merged_workers, Some(vec![0]), "{text}");
    meta.merged_workers = None;
    let unmarked = mss_harness::results::summary_text(&m).expect("text");
    assert!(
        unmarked == single,
        "the merge of {} is not its summary: {}",
        run.display(),
        first_difference(&single, &unmarked)
    );
    for f in ["errors.csv", "timeseries.csv"] {
        assert_eq!(read(run, f), read(&merged, f), "{f}");
    }
}

/// A run with invalid records, a status fault and answers lost after commit
/// (reconciled against the embedded mock, retried, the faults counted), and
/// the merge of its one folder: the same summary.
#[test]
fn the_merge_of_one_run_is_that_run() {
    let dir = crate::util::temp_dir("merge-one");
    let file = dir.join("merge-me.toml");
    let faults = r#"faults = [
  { kind = "status", status = 503, route = "ReportarRetractoAfiliacion", probability = 0.2, seed = 3 },
  { kind = "reset_after_commit", route = "ReportarAfiliaciontraslado", probability = 0.1, seed = 4 },
]
"#;
    std::fs::write(&file, format!("{faults}{}", scenario(40))).expect("scenario");
    let out = dir.join("single");
    let o = harness(&[
        "run",
        file.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = summary(&out);
    // What a merge must carry over is there to carry.
    assert_eq!(s["reconciliation"]["checked"], true, "{s:#}");
    assert!(s["faults"]["injected"].is_object(), "{s:#}");
    assert!(
        s["services"]["ReportarRetractoAfiliacion"]["errors"]["http_5xx:503"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{s:#}"
    );
    assert!(
        s["services"]["ReportarAfiliaciontraslado"]["retries"]["sent"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{s:#}"
    );
    assert_merge_of_one_is_the_run(&out);
    // Its exchanges timed by phase: the merge keeps the phase histograms
    // and shows them as the run did.
    let timed = timed_copy(&dir, &out, "timed", 100);
    assert_merge_of_one_is_the_run(&timed);
    assert_eq!(summary(&timed)["phases"]["token"]["opened"], 10);
    // The merged folder now holds a merge: a second merge into it is refused
    // (two merges' files would mix), and so is an --out naming a worker's
    // folder; --overwrite replaces the earlier merge.
    let merged = out.with_extension("merged");
    let again = |extra: &[&str]| crate::util::writing_to("merge", &out, &merged, extra);
    crate::util::assert_refused_without_overwrite(&again(&[]), "not empty");
    assert!(matches!(again(&["--overwrite"]).status.code(), Some(0 | 1)));
    let into_worker = harness(&[
        "merge",
        out.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--overwrite",
    ]);
    let err = String::from_utf8_lossy(&into_worker.stderr);
    assert_eq!(into_worker.status.code(), Some(2), "{err}");
    assert!(err.contains("names one of the workers' folders"), "{err}");
    assert!(
        out.join("summary.json").is_file(),
        "the worker's folder is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
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
    // Each service's slowest requests: the slowest of both workers' lists.
    for service in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        let list = |s: &Value| s["services"][service]["slowest"].as_array().cloned();
        let mut both: Vec<Value> = [&s0, &s1].into_iter().filter_map(list).flatten().collect();
        both.sort_by_key(|e| std::cmp::Reverse(e["latency_us"].as_u64()));
        both.truncate(10);
        let joined = list(&m).expect("merged slowest");
        let latency = |l: &[Value]| {
            l.iter()
                .map(|e| e["latency_us"].as_u64())
                .collect::<Vec<_>>()
        };
        assert_eq!(latency(&joined), latency(&both), "{service}");
        assert!(
            joined.iter().all(|e| both.contains(e)),
            "{service}: {joined:#?}"
        );
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
    phases_merge_as_histograms(&dir, &w0, &w1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of the folder `run` as `name` in `dir`, as if its exchanges had
/// been timed: `n` token exchanges, one in ten opening a connection (TLS
/// 200 ms), kept as a run keeps them (`phases.hlog`, `connections.csv`) and
/// shown in its summary's `phases` section as the summary builder shows them.
fn timed_copy(dir: &Path, run: &Path, name: &str, n: u32) -> PathBuf {
    use mss_harness::results::phases::{self, PhaseRecord, ServicePhases};
    use mss_harness::transport::{Opening, PhaseHistograms, Phases};
    let to = dir.join(name);
    std::fs::create_dir_all(&to).expect("dir");
    for f in std::fs::read_dir(run).expect("run") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, to.join(f.file_name().expect("name"))).expect("copy");
    }
    let ms = std::time::Duration::from_millis;
    // One in ten opens a connection; the waits spread over 30–36 ms.
    let exchange = |i: u32| Phases {
        opened: i.is_multiple_of(10).then_some(Opening {
            dns: Some(ms(2)),
            connect: ms(3),
            tls: Some(ms(200)),
        }),
        send: ms(1),
        wait: ms(30 + u64::from(i % 7)),
        receive: ms(1),
    };
    let mut h = PhaseHistograms::new();
    for i in 0..n {
        h.record(&exchange(i), u64::from(i % 3));
    }
    let record: PhaseRecord = [(phases::TOKEN.to_owned(), ServicePhases::of(&h))].into();
    let path = to.join("summary.json");
    let mut s = mss_harness::results::read_summary(&to).expect("summary");
    let log = std::fs::read(to.join("latency.hlog")).expect("latency.hlog");
    let start = mss_harness::hlog::start_time(&log).expect("start");
    phases::write(&to, &record, start, s.duration_s).expect("phases");
    s.phases = Some(
        record
            .iter()
            .map(|(k, v)| (k.clone(), phases::ExchangePhases::of(v, s.duration_s)))
            .collect(),
    );
    mss_harness::results::write_summary(&to, &s).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    to
}

/// Workers' phase timings merge as histograms: two add their exchanges,
/// openings and histograms (a run alone merges to its own summary, phases
/// and all: `the_merge_of_one_run_is_that_run`).
fn phases_merge_as_histograms(dir: &Path, w0: &Path, w1: &Path) {
    let t0 = timed_copy(dir, w0, "timed-w0", 100);
    let t1 = timed_copy(dir, w1, "timed-w1", 50);
    let merged = dir.join("merged-timed");
    let o = merge(&[&t0, &t1], &merged);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = summary(&merged);
    if let Err(e) = crate::run::summary_schema().validate(&m) {
        panic!(
            "merged summary.json with phases: {e} at {}",
            e.instance_path()
        );
    }
    let token = &m["phases"]["token"];
    assert_eq!(
        (&token["exchanges"], &token["opened"], &token["reused"]),
        (&150.into(), &15.into(), &135.into()),
        "{token:#}"
    );
    assert_eq!(token["tls"]["count"], 15, "{token:#}");
    assert_eq!(token["wait"]["count"], 150, "{token:#}");
    let tls = token["tls"]["p50_ms"].as_f64().expect("tls p50");
    assert!((199.0..=201.0).contains(&tls), "{token:#}");
    // The workers started apart: their openings' seconds do not all fall
    // together (the first worker opened at most 4 in a second, the second 2).
    let most = token["opened_per_second"]["max"].as_u64().expect("max");
    assert!((4..=6).contains(&most), "{token:#}");
    let kept = mss_harness::results::phases::read(&merged)
        .expect("read")
        .expect("the merge keeps phases");
    assert_eq!(kept["token"].exchanges, 150);
}
