//! Capacity planning (issue 19): `mss-harness capacity` on results folders
//! (points, the Universal Scalability Law fit, the SLO crossing, refusals),
//! the capacity search's guards, and the acceptance runs against the mock
//! with a capacity limit (release, `#[ignore]`: run by `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2Serializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mss-harness");

/// A results folder as a run writes it (summary.json's `stages`,
/// timeseries.csv, latency.hlog through HdrHistogram's interval-log writer)
/// for plateaus of 8 s at `rates` against a target of `capacity` req/s at
/// 20 ms that queues beyond it (200 ms) and sheds the excess.
fn results(dir: &Path, rates: &[f64], capacity: f64) {
    std::fs::create_dir_all(dir).expect("dir");
    let mut stages = Vec::new();
    let mut csv = String::from("second,service,sent,stored,errors,p50_ms,p99_ms\n");
    let mut histograms: Vec<(u64, Histogram<u64>)> = Vec::new();
    for (k, &rate) in rates.iter().enumerate() {
        let (start, end) = (k as u64 * 8, k as u64 * 8 + 8);
        stages.push(
            json!({"rate": rate, "start_s": start, "end_s": end, "completed": 0,
            "achieved_rate": rate, "ok": rate <= capacity, "thresholds": []}),
        );
        for s in start..end {
            let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("h");
            let served = rate.min(capacity) as u64;
            let shed = (rate - capacity).max(0.0) as u64;
            let wait = if rate > capacity { 200_000 } else { 20_000 };
            h.record_n(wait + s % 3 * 100, served).expect("record");
            if shed > 0 {
                h.record_n(400, shed).expect("record");
            }
            csv.push_str(&format!(
                "{s},ReportarAfiliaciontraslado,{},{served},{shed},0,0\n",
                served + shed
            ));
            histograms.push((s, h));
        }
    }
    let zero = json!({"p50": 0, "p90": 0, "p95": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0.0});
    let summary = json!({
        "schema_version": 2,
        "version": "0.1.0",
        "scenario": "capacity",
        "target": "mock (embedded)",
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": "2026-01-01T00:01:00+00:00",
        "duration_s": rates.len() as f64 * 8.0,
        "services": {},
        "token": {"requests": 0, "refreshes": 0, "latency_us": zero},
        "dropped": 0,
        "thresholds": [],
        "stages": stages,
        "highest_sustained_rate": null,
        "reconciliation": {"checked": false, "ok": null, "services": {}},
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).expect("summary");
    std::fs::write(dir.join("timeseries.csv"), csv).expect("csv");
    let mut out = Vec::new();
    let mut serializer = V2Serializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .with_start_time(SystemTime::UNIX_EPOCH)
        .with_base_time(SystemTime::UNIX_EPOCH);
    let mut log = builder
        .begin_log_with(&mut out, &mut serializer)
        .expect("log");
    for (s, h) in &histograms {
        log.write_histogram(
            h,
            Duration::from_secs(*s),
            Duration::from_secs(1),
            Tag::new("ReportarAfiliaciontraslado"),
        )
        .expect("write");
    }
    drop(log);
    std::fs::write(dir.join("latency.hlog"), out).expect("hlog");
}

fn capacity(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("capacity")
        .args(args)
        .output()
        .expect("run capacity");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn capacity_fits_plateaus_from_several_folders_and_says_where_the_slo_is_crossed() {
    let tmp = crate::util::temp_dir("capacity-fit");
    let (a, b, out) = (tmp.join("a"), tmp.join("b"), tmp.join("out"));
    // One ramp below the knee, another through it: one analysis.
    results(&a, &[250.0, 1000.0, 2000.0], 5000.0);
    results(&b, &[4000.0, 4500.0, 6000.0, 8000.0], 5000.0);
    let (code, stdout, stderr) = capacity(&[
        path(&a),
        path(&b),
        "--slo",
        "p99<100ms",
        "--out",
        path(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Universal Scalability Law"), "{stdout}");
    assert!(stdout.contains("solicitudes por segundo"), "{stdout}");
    let c: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("capacity.json")).expect("capacity.json"),
    )
    .expect("json");
    assert_eq!(c["points"].as_array().map(Vec::len), Some(7));
    // Little's law: 1000 req/s at 20 ms is 20 in flight.
    assert!((c["points"][1]["concurrency"].as_f64().expect("n") - 20.0).abs() < 0.5);
    let peak = c["fit"]["peak_throughput"]["value"].as_f64().expect("peak");
    assert!((peak - 5000.0).abs() / 5000.0 < 0.1, "{peak}");
    assert_eq!(c["slo_crossing"]["method"], "interpolated");
    assert_eq!(c["slo_crossing"]["between"], json!([4500.0, 6000.0]));
    for svg in ["capacity.svg", "capacity-latency.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).expect("svg");
        assert!(text.starts_with("<svg") && text.contains("</svg>"), "{svg}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn capacity_refuses_what_cannot_be_fitted_saying_what_to_run() {
    let tmp = crate::util::temp_dir("capacity-refuse");
    let (few, linear) = (tmp.join("few"), tmp.join("linear"));
    results(&few, &[250.0, 1000.0, 8000.0], 5000.0);
    let (code, _, stderr) = capacity(&[path(&few)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("3 plateau(s) measured") && stderr.contains("mss-harness run capacity"),
        "{stderr}"
    );
    results(&linear, &[250.0, 500.0, 1000.0, 2000.0, 3000.0], 5000.0);
    let (code, stdout, stderr) = capacity(&[path(&linear)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no saturation seen"), "{stderr}");
    assert!(stderr.contains("max_rate"), "{stderr}");
    // The points are still shown.
    assert!(stdout.contains("3000"), "{stdout}");
    // Bad input: exit 2, naming what is wrong.
    let (code, _, stderr) = capacity(&[path(&linear), "--slo", "error_rate < 1%"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--slo") && stderr.contains("percentile"),
        "{stderr}"
    );
    let (code, _, stderr) = capacity(&[path(&tmp)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a results folder"), "{stderr}");
    std::fs::remove_dir_all(&tmp).ok();
}

const SEARCH: &str = r#"
name = "capacity-guard"
[target]
url = "https://ministry.example.gov.co"
allowed_hosts = ["ministry.example.gov.co"]
[credentials]
username_env = "U"
password_env = "P"
client_id_env = "C"
[load]
model = "search"
start_rate = 2
max_rate = 8
plateau = "5s"
plateaus = 6
max_in_flight = 10
"#;

#[test]
fn the_capacity_search_plans_within_the_production_caps() {
    use mss_harness::scenario::RunPlan;
    // The file `search.toml` with `text`, planned with the bundled contract.
    let parse = |text: &str| {
        RunPlan::parse(
            text,
            Path::new("search.toml"),
            mss_contract::Contract::embedded(),
        )
    };
    // Within the default caps (10 req/s, 5 min, 3000 requests): accepted.
    let ok = parse(SEARCH).expect("within the caps");
    assert_eq!(
        ok.outline(),
        (Some(8.0), Duration::from_secs(36), Some(240))
    );
    // Above them: refused before anything is sent, naming the cap.
    let over = SEARCH.replace("max_rate = 8", "max_rate = 50");
    let e = parse(&over).expect_err("over the rate cap").to_string();
    assert!(e.contains("production cap of 10 req/s"), "{e}");
    let long = SEARCH.replace("plateaus = 6", "plateaus = 60");
    let e = parse(&long).expect_err("over the duration cap").to_string();
    assert!(e.contains("production cap of 5m"), "{e}");
    // Keys of other models, and bad search keys, name the key.
    for (from, to, key) in [
        ("plateaus = 6", "plateaus = 2", "load.plateaus"),
        ("max_rate = 8", "max_rate = 1", "load.max_rate"),
        (
            "plateau = \"5s\"",
            "plateau = \"5s\"\nusers = 3",
            "load.users",
        ),
        (
            "plateau = \"5s\"",
            "plateau = \"5s\"\nstep = 1",
            "load.step",
        ),
    ] {
        let e = parse(&SEARCH.replace(from, to)).expect_err(key).to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
    let e = parse(&SEARCH.replace("model = \"search\"", "model = \"open\""))
        .expect_err("search keys in the open model")
        .to_string();
    assert!(e.contains("load.max_rate"), "{e}");
}

#[test]
fn the_capacity_search_dry_run_shows_its_bounds() {
    let out = Command::new(BIN)
        .args(["run", "capacity", "--dry-run"])
        .output()
        .expect("dry run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("capacity search: 10 plateaus of 5s from 250 req/s, ×2 up to 8000 req/s"),
        "{text}"
    );
    assert!(text.contains("duration    1m"), "{text}");
}

/// The shipped search against the embedded mock with a capacity of
/// `max_concurrent` requests at 20 ms (9 plateaus: 54 s); its results folder.
fn search_run(max_concurrent: u32) -> (PathBuf, Value) {
    let tmp = crate::util::temp_dir(&format!("capacity-{max_concurrent}"));
    let scenario = include_str!("../scenarios/capacity.toml")
        .replace(
            "max_concurrent = 100",
            &format!("max_concurrent = {max_concurrent}"),
        )
        .replace("plateaus = 10", "plateaus = 9")
        // The steps fail on 250 ms: past the knee the mock's queue holds p99
        // above it, while the harness's own latency near 4,000 req/s on two
        // busy cores stays below; the SLO of 100 ms is the analysis's.
        .replace("\"p99 < 100ms\"", "\"p99 < 250ms\"");
    assert!(scenario.contains(&format!("max_concurrent = {max_concurrent}")));
    assert!(scenario.contains("p99 < 250ms"));
    let file = tmp.join("capacity.toml");
    std::fs::write(&file, scenario).expect("scenario");
    let dir = tmp.join("run");
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args(["run", path(&file), "--out", path(&dir)])
        .output()
        .expect("run");
    eprintln!(
        "capacity search, max_concurrent {max_concurrent}: {:.1} s, exit {:?}",
        started.elapsed().as_secs_f64(),
        out.status.code()
    );
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
    )
    .expect("json");
    for s in summary["stages"].as_array().into_iter().flatten() {
        eprintln!("  {:>7} req/s  ok {}  {}", s["rate"], s["ok"], s["reason"]);
    }
    (dir, summary)
}

/// The peak and the SLO crossing of `capacity DIR --slo p99<100ms`, checked
/// against the section the run wrote into its own summary.json.
fn analysed(dir: &Path, summary: &Value) -> (f64, f64) {
    let out = dir.with_file_name("analysis");
    let (code, stdout, stderr) = capacity(&[path(dir), "--slo", "p99<100ms", "--out", path(&out)]);
    eprintln!("{stdout}");
    assert_eq!(code, 0, "{stderr}");
    let c: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("capacity.json")).expect("capacity.json"),
    )
    .expect("json");
    let peak = c["fit"]["peak_throughput"]["value"].as_f64().expect("peak");
    let crossing = c["slo_crossing"]["rate"].as_f64().expect("crossing");
    // The run's own section has the same peak (its SLO is the scenario's).
    let own = &summary["capacity"];
    assert_eq!(own["slo"], "p99 < 250ms");
    let own_peak = own["fit"]["peak_throughput"]["value"]
        .as_f64()
        .expect("peak");
    assert!(
        (own_peak - peak).abs() / peak < 0.01,
        "{own_peak} vs {peak}"
    );
    assert!(
        std::fs::read_to_string(dir.join("report.html"))
            .expect("report.html")
            .contains("id=\"capacity\""),
        "report.html has the capacity section"
    );
    (peak, crossing)
}

/// The mock's real capacity in a run: `max_concurrent` slots, each held for
/// the service time the harness measured where nothing queued (Little's law
/// per plateau: the mean number in flight over the throughput, on plateaus
/// that kept fewer than 80% of the slots busy), the shortest of them. The
/// mock's fixed 20 ms is a sleep counted from admission, which Tokio's timer
/// ends on its next millisecond tick and a busy machine a little later still:
/// a slot is held 21–22 ms (up to 24 on a slow first plateau), so 100 slots
/// serve about 4,700 req/s, not 5,000.
fn effective_capacity(summary: &Value, max_concurrent: u32) -> f64 {
    let slots = f64::from(max_concurrent);
    let service_s = summary["capacity"]["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| {
            let throughput = p["throughput"].as_f64()?;
            let in_flight = p["concurrency"].as_f64()?;
            (in_flight < 0.8 * slots && throughput > 0.0).then_some(in_flight / throughput)
        })
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "max_concurrent {max_concurrent}: service time {:.2} ms below the knee",
        service_s * 1000.0
    );
    assert!(
        (0.020..=0.025).contains(&service_s),
        "the mock's fixed 20 ms took {:.2} ms",
        service_s * 1000.0
    );
    slots / service_s
}

#[test]
#[ignore = "long: two 54 s capacity searches up to 8,000 req/s, release build (run by .ci/run)"]
fn the_capacity_search_finds_the_mock_s_capacity_and_halves_it_with_half_the_slots() {
    // The peak within 10% of the mock's real capacity (slots / the service
    // time measured), the SLO crossing (interpolated between plateaus) within
    // 15%, both within 20% of the nominal slots / 20 ms. Six searches
    // (found peak / real capacity): 100 slots 4,729/4,749, 4,822/4,605,
    // 4,703/4,706; 50 slots 2,164/2,285, 2,492/2,315, 2,237/2,315, at most
    // 7.6% apart; crossings at most 7.6% from the real capacity and 14.9%
    // from the nominal. Against the nominal alone (±10%) two of them failed.
    // One run's nominal (slots / 20 ms) and real capacity.
    let capacities = |slots: u32, summary: &Value| {
        (f64::from(slots) / 0.020, effective_capacity(summary, slots))
    };
    let near = |what: &str, found: f64, within: f64, (nominal, real): (f64, f64)| {
        eprintln!("{what} {found:.0} req/s: nominal capacity {nominal:.0}, real {real:.0}");
        assert!(
            (found - nominal).abs() / nominal <= 0.20,
            "{what} {found:.0} vs nominal {nominal:.0}"
        );
        assert!(
            (found - real).abs() / real <= within,
            "{what} {found:.0} vs real capacity {real:.0}"
        );
    };
    let (dir, summary) = search_run(100);
    let (peak, crossing) = analysed(&dir, &summary);
    // Merged alone, the search's folder gives its summary: the steps as the
    // search judged them, the capacity section from the folder's seconds.
    crate::merge::assert_merge_of_one_is_the_run(&dir);
    eprintln!(
        "max_concurrent 100: peak {peak:.0} req/s, p99 crosses 100 ms at {crossing:.0} req/s"
    );
    let full = capacities(100, &summary);
    near("peak", peak, 0.10, full);
    near("SLO crossing", crossing, 0.15, full);

    let (dir, summary) = search_run(50);
    let (half, crossing) = analysed(&dir, &summary);
    eprintln!("max_concurrent 50: peak {half:.0} req/s, p99 crosses 100 ms at {crossing:.0} req/s");
    let halved = capacities(50, &summary);
    near("peak", half, 0.10, halved);
    near("SLO crossing", crossing, 0.15, halved);
    // Half the slots, half the capacity.
    let ratio = half / peak;
    assert!(
        (0.40..=0.60).contains(&ratio),
        "{half:.0} is not about half of {peak:.0} ({ratio:.2})"
    );
}
