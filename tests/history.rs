//! The run history: `run --history` appends real runs that `history list`,
//! `check` and `report` read; `history check`'s verdict on synthetic
//! histories (a step is `regressed`, a flat one `unchanged`, too few runs
//! `inconclusive`); a history of another schema version or program refused;
//! the trend page's change point at the run where a +20% step starts, seen in
//! headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use mss_harness::history::History;
use mss_harness::history::record::{Record, Run, ServiceRow};
use mss_harness::stats::compare::{RunMeasures, ServiceMeasures};
use mss_harness::stats::estimate::{Estimate, Measured, Metric};
use serde_json::Value;

const SERVICE: &str = "ReportarAfiliaciontraslado";

fn temp_dir(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("history-{name}"))
}

/// `mss-harness ARGS...` in `dir`: (exit code, stdout + stderr).
fn harness(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_SHA")
        .env_remove("CI_COMMIT_SHA")
        .output()
        .expect("mss-harness");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A short open scenario against the embedded mock.
const SHORT: &str = r#"
name = "history-test"
[target]
url = "mock"
[target.mock]
latency = { distribution = "fixed", ms = 5 }
[load]
model = "open"
stages = [{ rate = 40, duration = "3s" }]
max_in_flight = 50
"#;

/// Two real runs appended by `run --history`; `history list` shows both with
/// their commits, `history check` judges the newest (one earlier run: every
/// line inconclusive, exit 0), `history report` writes the page, and the
/// same folder added again is not added twice.
#[test]
fn run_appends_and_list_check_report_read_the_history() {
    let dir = temp_dir("e2e");
    std::fs::write(dir.join("short.toml"), SHORT).expect("scenario");
    for (out, commit) in [("r1", "c0ffee01"), ("r2", "c0ffee02")] {
        let (code, text) = harness(
            &dir,
            &[
                "run",
                "short.toml",
                "--out",
                out,
                "--history",
                "results/history.db",
                "--commit",
                commit,
            ],
        );
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains("added to results/history.db as run #"),
            "{text}"
        );
    }
    let (code, list) = harness(
        &dir,
        &["history", "list", "--history", "results/history.db"],
    );
    assert_eq!(code, 0, "{list}");
    assert!(
        list.contains("c0ffee01") && list.contains("c0ffee02"),
        "{list}"
    );
    assert!(
        list.contains("history-test") && list.contains("mock (embedded)"),
        "{list}"
    );
    assert!(list.contains("2 runs in results/history.db"), "{list}");
    // `history` alone lists, its file by default results/history.db.
    assert_eq!(harness(&dir, &["history"]).1, list);

    let (code, check) = harness(&dir, &["history", "check"]);
    assert_eq!(code, 0, "{check}");
    assert!(check.contains("history check: run #2"), "{check}");
    assert!(check.contains("the window holds 1 run (#1)"), "{check}");
    assert!(
        check.contains("0 regressed, 0 improved, 0 unchanged, 10 inconclusive"),
        "{check}"
    );

    // From another folder, with a baseline until the window is full: the
    // newest run's folder is found where it was made.
    std::fs::create_dir(dir.join("elsewhere")).expect("folder");
    let (code, out) = harness(
        &dir.join("elsewhere"),
        &[
            "history",
            "check",
            "--history",
            "../results/history.db",
            "--baseline",
            "../r1",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("so the run's folder is compared with the baseline folders"),
        "{out}"
    );

    let (code, report) = harness(&dir, &["history", "report", "--out", "trend"]);
    assert_eq!(code, 0, "{report}");
    let html = std::fs::read_to_string(dir.join("trend/history.html")).expect("history.html");
    assert!(html.contains("history-test · mock (embedded)"), "{report}");
    assert_eq!(
        html.matches("<figure class=\"trend\"").count(),
        8,
        "2 services × 4 metrics"
    );

    let (code, again) = harness(&dir, &["history", "add", "r1", "r2"]);
    assert_eq!(code, 0, "{again}");
    assert!(
        again.contains("r1: already in results/history.db as run #1"),
        "{again}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A synthetic run: one service at `p50` ms (its other latencies in
/// proportion), 90 reports/s, no errors; each estimate known to ±`sd`
/// (relative) within the run.
fn record(i: i64, p50: f64, scenario: &str) -> Record {
    let sd: f64 = 0.005;
    let est = |shown: f64, relative: bool| {
        Measured::Estimate(Estimate {
            value: if relative { shown.ln() } else { shown },
            var: sd * sd,
            shown,
            requests: 2700,
        })
    };
    let metrics = vec![
        (Metric::P50, est(p50, true)),
        (Metric::P90, est(2.0 * p50, true)),
        (Metric::P99, est(3.0 * p50, true)),
        (Metric::Throughput, est(90.0, true)),
        (Metric::ErrorRate, est(0.0, false)),
    ];
    let started_ms = 1_790_000_000_000 + i * 3_600_000;
    let started_at = chrono::DateTime::from_timestamp_millis(started_ms)
        .expect("time")
        .to_rfc3339();
    Record {
        run: Run {
            started_at,
            started_ms,
            commit: Some(format!("{i:040x}")),
            scenario: scenario.to_owned(),
            scenario_sha256: Some("ab".repeat(32)),
            target: "mock (embedded)".to_owned(),
            passed: true,
            source: format!("synthetic/{i}"),
            services: vec![ServiceRow {
                service: SERVICE.to_owned(),
                requests: 2700,
                sent: 2700,
                stored: 2700,
                rejected_as_expected: 0,
                errors: 0,
                dropped: 0,
                p50_ms: p50,
                p90_ms: 2.0 * p50,
                p95_ms: 2.5 * p50,
                p99_ms: 3.0 * p50,
                p999_ms: 4.0 * p50,
                max_ms: 5.0 * p50,
                throughput: 90.0,
                error_rate: Some(0.0),
            }],
        },
        duration_s: 30.0,
        harness_version: "0.1.0".to_owned(),
        added_at: "2026-01-01T00:00:00Z".to_owned(),
        summary_sha256: format!("{scenario}-{i}"),
        summary_json: "{}".to_owned(),
        measures: RunMeasures {
            name: format!("synthetic/{i}"),
            source: format!("synthetic/{i}/summary.json"),
            scenario: scenario.to_owned(),
            seconds: 30.0,
            services: [(
                SERVICE.to_owned(),
                ServiceMeasures {
                    requests: 2700,
                    metrics,
                },
            )]
            .into(),
        },
    }
}

/// A history file of the p50s `levels` (one run each, oldest first).
fn history_of(dir: &Path, name: &str, levels: &[f64], scenario: &str) -> PathBuf {
    let file = dir.join(name);
    let mut h = History::open_or_create(&file).expect("history");
    for (i, p50) in levels.iter().enumerate() {
        h.add(&record(i as i64, *p50, scenario)).expect("add");
    }
    file
}

/// `n` p50s around 20 ms, ±1% from run to run (a fixed pattern).
fn flat(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            20.0 * (1.0 + 0.01 * [0.3, -0.8, 1.1, -0.2, 0.6, -1.2, 0.1, 0.9, -0.5, -0.3][i % 10])
        })
        .collect()
}

fn line<'a>(check: &'a str, metric: &str) -> &'a str {
    check
        .lines()
        .find(|l| l.starts_with(SERVICE) && l.split_whitespace().nth(1) == Some(metric))
        .unwrap_or_else(|| panic!("no {metric} line:\n{check}"))
}

/// `history check` on synthetic histories: the newest run 20% slower than the
/// ten before it is `regressed` (exit 1); as fast, `unchanged` within a 5%
/// minimum effect (exit 0); with two earlier runs, `inconclusive` (exit 0).
/// Only runs of the same scenario make the window.
#[test]
fn check_judges_the_newest_run_against_its_window() {
    let dir = temp_dir("check");
    let me = ["--min-effect", "5%"];
    let check = |file: &Path| {
        let f = file.to_str().expect("utf-8");
        harness(
            &dir,
            &[&["history", "check", "--history", f][..], &me[..]].concat(),
        )
    };

    let mut step = flat(10);
    step.push(24.0);
    let (code, out) = check(&history_of(&dir, "step.db", &step, "s"));
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "p50").ends_with("regressed"), "{out}");
    assert!(
        out.contains("judged against the 10 runs before it (#1 … #10; window 10)"),
        "{out}"
    );
    assert!(
        out.contains("10 baselines: the intervals include the spread between runs"),
        "{out}"
    );
    assert!(out.contains("history check: REGRESSION"), "{out}");

    let mut same = flat(10);
    same.push(20.1);
    let (code, out) = check(&history_of(&dir, "flat.db", &same, "s"));
    assert_eq!(code, 0, "{out}");
    for m in ["p50", "p90", "p99", "throughput"] {
        assert!(line(&out, m).ends_with("unchanged"), "{m}: {out}");
    }

    let (code, out) = check(&history_of(&dir, "few.db", &[20.0, 20.2, 24.0], "s"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the window holds 2 runs (#1 … #2); at least 3 are needed"),
        "{out}"
    );
    assert!(line(&out, "p50").ends_with("inconclusive"), "{out}");
    assert!(
        out.contains("0 regressed, 0 improved, 0 unchanged, 5 inconclusive"),
        "{out}"
    );

    // Ten fast runs of another scenario and two of this one: still too few.
    let file = dir.join("mixed.db");
    let mut h = History::open_or_create(&file).expect("history");
    for i in 0..10 {
        h.add(&record(i, 20.0, "other")).expect("add");
    }
    for (i, p50) in [(10, 30.0), (11, 30.2), (12, 36.0)] {
        h.add(&record(i, p50, "s")).expect("add");
    }
    drop(h);
    let (code, out) = check(&file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the window holds 2 runs (#11 … #12)"), "{out}");

    // A window that could never show the spread between runs is refused.
    let f = file.to_str().expect("utf-8");
    refused(
        &dir,
        &["history", "check", "--history", f, "--window", "2"],
        &["invalid value '2' for '--window <RUNS>': 2 is not in 3.."],
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A history written by another version (its `user_version`) or by another
/// program is refused with what it is, by every command, before a run
/// starts; the file is left as it was.
#[test]
fn a_history_of_another_version_or_program_is_refused() {
    let dir = temp_dir("version");
    let file = history_of(&dir, "h.db", &flat(3), "s");
    let conn = rusqlite::Connection::open(&file).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 2")
        .expect("pragma");
    drop(conn);
    let before = std::fs::read(&file).expect("read");
    for args in [
        &["history", "list", "--history", "h.db"][..],
        &["history", "check", "--history", "h.db"],
        &["history", "add", "--history", "h.db", "x"],
        &["run", "smoke", "--out", "never", "--history", "h.db"],
    ] {
        refused(
            &dir,
            args,
            &[
                "h.db: a run history of schema version 2; this mss-harness",
                "reads version 1",
            ],
        );
    }
    assert!(!dir.join("never").exists(), "the run started");
    assert_eq!(std::fs::read(&file).expect("read"), before);

    let other = dir.join("other.db");
    let conn = rusqlite::Connection::open(&other).expect("sqlite");
    conn.execute_batch("CREATE TABLE t (x)").expect("table");
    drop(conn);
    refused(
        &dir,
        &["history", "--history", "other.db"],
        &["other.db: not an mss-harness run history"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// What is not a history is named, by the commands that read and by those
/// that add, and nothing panics: an empty file (left empty by the readers,
/// made a history by `add`), a folder, a file cut short.
#[test]
fn an_empty_a_folder_or_a_damaged_history_is_named() {
    let dir = temp_dir("damaged");
    std::fs::write(dir.join("empty.db"), b"").expect("empty");
    for args in [
        &["history", "list", "--history", "empty.db"][..],
        &["history", "check", "--history", "empty.db"],
        &report("empty.db"),
    ] {
        refused(
            &dir,
            args,
            &["empty.db: not an mss-harness run history (an empty file;"],
        );
    }
    assert_eq!(std::fs::read(dir.join("empty.db")).expect("read").len(), 0);

    std::fs::create_dir(dir.join("folder.db")).expect("folder");
    for args in [
        &["history", "list", "--history", "folder.db"][..],
        &["history", "add", "--history", "folder.db", "x"],
        &["run", "smoke", "--out", "never", "--history", "folder.db"],
    ] {
        refused(&dir, args, &["folder.db: a folder, not a run history file"]);
    }
    assert!(!dir.join("never").exists(), "the run started");

    // A history cut to its first half: SQLite finds its pages missing.
    let file = stepped(&dir);
    let len = std::fs::metadata(&file).expect("size").len();
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..(len / 2) as usize]).expect("cut");
    for args in [
        &["history", "list", "--history", "stepped.db"][..],
        &report("stepped.db"),
    ] {
        refused(
            &dir,
            args,
            &["stepped.db: the run history is damaged (SQLite: "],
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `history report` of the history `file`, its page written to `page/`.
fn report(file: &str) -> [&str; 6] {
    ["history", "report", "--history", file, "--out", "page"]
}

/// `args` run in `dir` exit 2 with each of `words` in their output, and
/// nothing panics.
fn refused(dir: &Path, args: &[&str], words: &[&str]) {
    let (code, out) = harness(dir, args);
    assert_eq!(code, 2, "{args:?}: {out}");
    for w in words {
        assert!(out.contains(w), "{w:?} for {args:?}: {out}");
    }
    assert!(!out.contains("panicked"), "{args:?}: {out}");
}

/// 30 runs, a +20% step of the latency after the 15th (5% run-to-run noise,
/// a fixed pattern); the p99 moves with the p50, the throughput and the error
/// rate stay.
fn stepped(dir: &Path) -> PathBuf {
    let noise = [
        0.9, -1.4, 0.2, 1.6, -0.7, 0.4, -1.1, 1.0, -0.3, 0.8, -1.5, 0.1, 1.2, -0.6, 0.5,
    ];
    let levels: Vec<f64> = (0..30)
        .map(|i| (if i < 15 { 20.0 } else { 24.0 }) * (1.0 + 0.05 * noise[i % 15]))
        .collect();
    history_of(dir, "stepped.db", &levels, "s")
}

/// `history report` finds the step's change point at run #16 in the p50 and
/// the p99, none in the throughput or the error rate.
#[test]
fn the_report_marks_the_change_point_where_the_step_starts() {
    let dir = temp_dir("report");
    stepped(&dir);
    let (code, out) = harness(&dir, &report("stepped.db"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(30 runs, 2 change points)"), "{out}");
    let html = std::fs::read_to_string(dir.join("page/history.html")).expect("page");
    for (metric, shifts) in [
        ("p50", "16"),
        ("p99", "16"),
        ("throughput", ""),
        ("error_rate", ""),
    ] {
        let mark = format!("data-metric=\"{metric}\" data-shifts=\"{shifts}\"");
        assert!(html.contains(&mark), "no {mark}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The trend page as headless Chromium draws it: the change point rows (p50
/// and p99, from run #16, +20% or so), and in the p50 chart one red mark
/// standing between the 15th and the 16th run's points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: run by .ci/run (cargo test -- --ignored)"]
async fn a_headless_chromium_sees_the_change_point_marked() {
    let dir = temp_dir("chromium");
    stepped(&dir);
    let (code, out) = harness(&dir, &report("stepped.db"));
    assert_eq!(code, 0, "{out}");
    let browser = crate::live::Browser::start(&dir).await;
    browser.open_file(&dir.join("page/history.html")).await;
    let seen = browser
        .run(
            "const rows = [...document.querySelectorAll('table.changepoints tr')].slice(1) \
              .map((r) => [...r.cells].map((c) => c.textContent.trim())); \
            const fig = document.querySelector('figure[data-metric=\"p50\"]'); \
            const dots = [...fig.querySelectorAll('circle')] \
              .map((c) => c.getBoundingClientRect()).map((b) => b.x + b.width / 2) \
              .sort((a, b) => a - b); \
            const marks = [...fig.querySelectorAll('polyline')] \
              .filter((p) => (p.getAttribute('stroke') || '').toUpperCase() === '#D62728') \
              .map((p) => { const b = p.getBoundingClientRect(); return b.x + b.width / 2; }); \
            return { rows, dots, marks, figures: document.querySelectorAll('figure.trend').length };",
        )
        .await;
    let rows = seen["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{seen}");
    for (row, metric) in rows.iter().zip(["p50", "p99"]) {
        let row: Vec<&str> = row
            .as_array()
            .expect("cells")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(&row[..3], [SERVICE, metric, "#16"], "{seen}");
        let change: f64 = row[7]
            .trim_end_matches('%')
            .parse()
            .unwrap_or_else(|_| panic!("{seen}"));
        assert!((15.0..25.0).contains(&change), "{seen}");
    }
    let dots = crate::util::numbers(&seen, "dots");
    let marks = crate::util::numbers(&seen, "marks");
    assert_eq!(dots.len(), 30, "{seen}");
    assert_eq!(marks.len(), 1, "{seen}");
    assert!(dots[14] < marks[0] && marks[0] < dots[15], "{seen}");
    assert_eq!(seen["figures"], 4, "{seen}");
    let _ = browser.call(reqwest::Method::DELETE, "", Value::Null).await;
    let _ = std::fs::remove_dir_all(dir);
}
