//! The ledger and `cleanup` (issue 34), end to end against an in-process
//! mock on 127.0.0.1 (a real target to the harness): a run killed with
//! SIGKILL leaves an intent for every record the mock stored; `cleanup`
//! retracts every stored affiliation inside its window exactly once, also
//! when it is killed or interrupted and run again, lists without sending on
//! `--dry-run`, and reports an affiliation outside its window without
//! sending its retraction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::scenario_file::{ScenarioFile, credentials_env, run_command};
use crate::util::{Background, Cred, harness_command, temp_dir};

const PREFIX: &str = "MSS_LEDGER";

/// The ledger's lines as JSON values.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Lines of `kind` for `service`.
fn count(path: &Path, kind: &str, service: &str) -> usize {
    lines(path)
        .iter()
        .filter(|l| l["kind"] == kind && l["service"] == service)
        .count()
}

/// Every record the mock holds: (service, numeroRadicado) → the record.
fn stored(mock: &mss_mock::Mock) -> BTreeMap<(String, String), Value> {
    mock.records_page(0, 100_000)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("record"))
        .map(|r| {
            let key = (
                r["servicio"].as_str().unwrap_or_default().to_owned(),
                r["numeroRadicado"].as_str().unwrap_or_default().to_owned(),
            );
            (key, r)
        })
        .collect()
}

/// Wait (at most 60 s) until `ready` says so.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn scenario(port: u16, rate: u32, duration: &str) -> ScenarioFile {
    ScenarioFile::open("ledger", rate, duration, 20).at(&format!("http://127.0.0.1:{port}"), PREFIX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_an_intent_for_every_record_the_target_stored() {
    let cred = Cred::new("ledger-user", "ledger-client");
    // The mock stores a report, then holds its answer 50 ms: when the
    // harness dies, a few records are stored and their answers unsent.
    let mock = cred.mock(|c| c.latency = mss_mock::LatencyProfile::Fixed { ms: 50.0 });
    let port = crate::util::serve(&mock).await;
    let dir = temp_dir("ledger-kill");
    let file = scenario(port, 100, "30s").write(&dir, "s.toml");
    let out = dir.join("out");
    let ledger = out.join("ledger.jsonl");
    let mut run = Background::spawn(&mut run_command(&file, &out, PREFIX, &cred), &dir);
    let afiliacion = "ReportarAfiliaciontraslado";
    until("60 intents", || count(&ledger, "intent", afiliacion) >= 60).await;
    run.child.kill().expect("SIGKILL");
    run.child.wait().expect("reaped");
    // Answers in flight when the harness died may still be stored.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let intents: BTreeSet<(String, String)> = lines(&ledger)
        .iter()
        .filter(|l| l["kind"] == "intent")
        .map(|l| {
            (
                l["service"].as_str().unwrap_or_default().to_owned(),
                l["radicado"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let held = stored(&mock);
    assert!(held.len() >= 50, "the mock stored {} records", held.len());
    let missing: Vec<_> = held.keys().filter(|k| !intents.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "stored but not in the ledger: {missing:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ledger)
            .expect("ledger")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the ledger is its owner's only");
    }
    let header = &lines(&ledger)[0];
    assert_eq!(header["kind"], "header");
    assert_eq!(header["target"], format!("http://127.0.0.1:{port}"));
}

/// `mss-harness cleanup LEDGER --scenario FILE EXTRA...`, as `cred`.
fn cleanup(ledger: &Path, file: &Path, cred: &Cred, extra: &[&str]) -> std::process::Command {
    let mut c = harness_command();
    credentials_env(&mut c, PREFIX, cred)
        .arg("cleanup")
        .arg(ledger)
        .arg("--scenario")
        .arg(file)
        .args(extra);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_retracts_every_stored_affiliation_once_across_interruptions() {
    // Arrange: a run of 60 reports (a fifth of them the run's own retractions).
    let cred = Cred::new("cleanup-user", "cleanup-client");
    let mock = cred.mock(|_| {});
    let port = crate::util::serve(&mock).await;
    let dir = temp_dir("ledger-cleanup");
    let file = scenario(port, 30, "2s").write(&dir, "s.toml");
    let out = dir.join("out");
    let status = run_command(&file, &out, PREFIX, &cred)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run");
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    let summary = crate::util::summary(&out);
    let ledger = out.join("ledger.jsonl");
    assert_eq!(
        summary["ledger"]["lines"].as_u64(),
        Some(lines(&ledger).len() as u64)
    );
    // The merge of the one folder names its ledger as the run did.
    let merged = dir.join("merged");
    let o = crate::util::writing_to("merge", &out, &merged, &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert_eq!(crate::util::summary(&merged)["ledger"], summary["ledger"]);
    let affiliations = |mock: &mss_mock::Mock| -> Vec<Value> {
        stored(mock)
            .into_values()
            .filter(|r| r["servicio"] == "ReportarAfiliaciontraslado")
            .collect()
    };
    let before = affiliations(&mock);
    let retracted_by_run = before.iter().filter(|r| r["retractada"] == true).count();
    assert!(before.len() >= 30, "{} affiliations stored", before.len());
    // One stored affiliation made old: its window closed long ago.
    let old = before
        .iter()
        .find(|r| r["retractada"] == false)
        .expect("one not retracted")["numeroRadicado"]
        .as_str()
        .expect("radicado")
        .to_owned();
    let text = std::fs::read_to_string(&ledger).expect("ledger");
    let aged: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("line");
            if v["kind"] == "intent" && v["radicado"] == old.as_str() {
                v["fecha_solicitud"] = "2020-01-06".into();
            }
            format!("{v}\n")
        })
        .collect();
    std::fs::write(&ledger, aged).expect("age one");
    let documents: Vec<String> = before
        .iter()
        .map(|r| r["numeroDocumento"].as_str().unwrap_or_default().to_owned())
        .collect();

    // A dry run sends nothing.
    let dry = cleanup(&ledger, &file, &cred, &["--dry-run"])
        .output()
        .expect("dry run");
    let listed = String::from_utf8_lossy(&dry.stdout).into_owned();
    let to_retract = before.len() - retracted_by_run - 1;
    assert!(
        listed.contains(&format!("to retract: {to_retract}")),
        "{listed}\n{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(affiliations(&mock), before, "--dry-run sent nothing");

    // Killed, then interrupted, mid-way: each answer takes 100 ms.
    mock.pacing()
        .set_profile(mss_mock::LatencyProfile::Fixed { ms: 100.0 });
    let retracto = "ReportarRetractoAfiliacion";
    let run_retractions = count(&ledger, "intent", retracto);
    for (signal, after) in [("KILL", 3), ("INT", 6)] {
        let mut c = cleanup(&ledger, &file, &cred, &[]);
        let mut p = Background::spawn(&mut c, &dir);
        until("cleanup's retractions", || {
            count(&ledger, "intent", retracto) >= run_retractions + after
        })
        .await;
        p.signal(signal);
        let (status, _) = p.exit(Duration::from_secs(30)).await;
        if signal == "INT" {
            assert_eq!(status.code(), Some(130), "{}", p.stderr());
            assert!(p.stdout().contains("stopped by SIGINT"), "{}", p.stdout());
        }
    }
    mock.pacing().set_profile(mss_mock::LatencyProfile::None);
    let last = cleanup(&ledger, &file, &cred, &[])
        .output()
        .expect("cleanup");
    let report = String::from_utf8_lossy(&last.stdout).into_owned();

    // Every stored affiliation retracted, but the old one and the one whose
    // retraction was in flight when SIGKILL came, if one was (in doubt:
    // never sent again); no retraction sent twice, none refused.
    assert_eq!(last.status.code(), Some(1), "{report}");
    assert!(
        report.contains("outside the window (take up with the ministry): 1"),
        "{report}"
    );
    let in_doubt: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(": in doubt:"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(in_doubt.len() <= 1, "{report}");
    for a in affiliations(&mock) {
        let radicado = a["numeroRadicado"].as_str().unwrap_or_default();
        if radicado != old && !in_doubt.contains(&radicado) {
            assert_eq!(a["retractada"], true, "{a}\n{report}");
        }
    }
    let all = lines(&ledger);
    let first_cleanup = all
        .iter()
        .position(|l| l["kind"] == "header" && l["command"] == "cleanup")
        .expect("a cleanup header");
    let ours = &all[first_cleanup..];
    let sent: Vec<&str> = ours
        .iter()
        .filter(|l| l["kind"] == "intent" && l["service"] == retracto)
        .filter_map(|l| l["radicado"].as_str())
        .collect();
    let distinct: BTreeSet<&&str> = sent.iter().collect();
    assert_eq!(sent.len(), to_retract, "one retraction per affiliation");
    assert_eq!(distinct.len(), sent.len(), "none sent twice");
    let refused: Vec<&Value> = ours
        .iter()
        .filter(|l| l["kind"] == "outcome" && l["service"] == retracto && l["class"] != "stored")
        .collect();
    assert!(refused.is_empty(), "retractions refused: {refused:?}");
    // No full document number in what cleanup printed.
    for d in &documents {
        assert!(
            !report.contains(d.as_str()) && !listed.contains(d.as_str()),
            "{d} printed"
        );
    }
}

#[test]
fn a_ledger_is_refused_where_it_cannot_be_kept_or_does_not_match() {
    let dir = temp_dir("ledger-refused");
    let ledger = dir.join("ledger.jsonl");
    let o = crate::util::harness(&["run", "smoke", "--ledger", ledger.to_str().expect("utf-8")]);
    crate::util::assert_exit(
        &o,
        2,
        "--ledger: a run against the embedded mock keeps no ledger",
    );
    assert!(!ledger.exists(), "nothing written");
    // A ledger of another target than the scenario's.
    let header = r#"{"kind":"header","format":1,"command":"run","target":"http://127.0.0.1:9","scenario":"s","run_id":"r","at":"2026-12-07T15:00:00Z"}"#;
    std::fs::write(&ledger, format!("{header}\n")).expect("ledger");
    let file = scenario(10, 1, "1s").write(&dir, "s.toml");
    let o = cleanup(&ledger, &file, &Cred::new("u", "c"), &["--dry-run"])
        .output()
        .expect("cleanup");
    crate::util::assert_exit(
        &o,
        2,
        "the ledger was written against http://127.0.0.1:9, the scenario's target is http://127.0.0.1:10",
    );
}
