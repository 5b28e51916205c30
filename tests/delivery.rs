//! A run passes only if it delivered its plan, and says what held it back:
//! a target that answers every request in 1 s, an open plan of 200 req/s for
//! 10 s, and 20 or 500 requests allowed in flight.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn scenario(dir: &Path, max_in_flight: u32) -> std::path::PathBuf {
    let file = dir.join(format!("slow-{max_in_flight}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"name = "slow-target"
[target]
url = "mock"
[target.mock]
latency = {{ distribution = "fixed", ms = 1000 }}
[load]
model = "open"
stages = [{{ rate = 200, duration = "10s" }}]
max_in_flight = {max_in_flight}
[thresholds]
global = ["p99 < 3s", "error_rate < 1%"]
"#
        ),
    )
    .expect("scenario");
    file
}

fn run(file: &Path, out: &Path) -> (Option<i32>, String, String, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run mss-harness");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        summary,
    )
}

/// 20 senders and 1-s answers send about 20 req/s of the 200 planned: the
/// run fails on delivery though both thresholds hold, and names the target.
#[test]
fn a_plan_the_target_held_back_fails_and_names_the_target() {
    let dir = crate::util::temp_dir("delivery-target");
    let (code, stdout, stderr, s) = run(&scenario(&dir, 20), &dir.join("out"));
    let d = &s["delivery"];
    println!("{stdout}{d:#}");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    for t in s["thresholds"].as_array().expect("thresholds") {
        assert_eq!(t["ok"], true, "the thresholds hold: {t}");
    }
    assert_eq!(d["planned"], 2000, "{d:#}");
    let sent = d["sent"].as_u64().expect("sent");
    assert!((180..=260).contains(&sent), "{sent} sent: {d:#}");
    assert_eq!(d["ok"], false);
    let verdict = d["verdict"].as_str().expect("verdict");
    assert!(
        verdict.starts_with(&format!(
            "plan not delivered: {sent} of 2,000 planned requests sent ("
        )),
        "{verdict}"
    );
    let b = &d["bound_by"];
    assert_eq!(b["limit"], "target", "{b:#}");
    let e = &b["evidence"];
    assert_eq!(e["in_flight_cap"], 20);
    let needed = e["needed_in_flight"].as_f64().expect("needed");
    assert!((190.0..=240.0).contains(&needed), "Little's law: {e:#}");
    assert!(
        b["explanation"]
            .as_str()
            .is_some_and(|x| x.contains("Little's law") && x.contains("the cap was 20")),
        "{b:#}"
    );
    // The printed verdict says it first, before the thresholds.
    let first = stdout
        .lines()
        .find(|l| l.trim_start().starts_with('['))
        .expect("a verdict line");
    assert!(first.contains("[FAIL] plan not delivered"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "latency percentiles over {sent} sent of 2,000 planned"
        )),
        "{stdout}"
    );
}

/// 500 senders hold 200 req/s of 1-s answers (about 200 in flight): every
/// request of the plan goes out and the run passes. Run alone in a release
/// build (CI's `--ignored` pass): a debug build among tests running in
/// parallel on two cores can stall longer than the 100 ms a ticket may
/// wait, and the run then rightly fails, naming the harness.
#[test]
#[ignore = "release build, one at a time: .ci/run's --ignored pass"]
fn the_same_plan_with_room_in_flight_is_delivered_and_passes() {
    let dir = crate::util::temp_dir("delivery-room");
    let (code, stdout, stderr, s) = run(&scenario(&dir, 500), &dir.join("out"));
    let d = &s["delivery"];
    assert_eq!(code, Some(0), "{stdout}{stderr}{d:#}");
    assert_eq!(d["planned"], 2000, "{d:#}");
    assert_eq!(d["sent"], 2000, "{d:#}");
    assert_eq!(d["ok"], true);
    assert!(d["bound_by"].is_null());
    assert_eq!(
        d["verdict"],
        "plan delivered: 2,000 of 2,000 planned requests sent (100.0%)"
    );
}

/// A plan beyond what the harness can send from one core: the harness on
/// core 0 (`taskset`) asked for 100,000 req/s against an `mss-harness mock`
/// answering at once on core 1. The harness's one worker thread runs at a
/// full core and its requests leave late (the in-flight cap may fill too,
/// with answers the busy harness reads late): the run fails on delivery and
/// names the harness, not the target. Release build, a
/// machine with two cores or more (CI's `--ignored` pass).
#[test]
#[ignore = "release build, two cores: .ci/run's --ignored pass"]
fn a_plan_beyond_one_core_is_named_harness_bound() {
    use std::io::{BufRead, BufReader};
    let dir = crate::util::temp_dir("delivery-harness");
    let cred = crate::util::Cred::new("ap-delivery", "ap-delivery-client");
    let config = dir.join("mock.toml");
    std::fs::write(
        &config,
        format!(
            "[[clients]]\nusername = \"{}\"\npassword = \"{}\"\nclient_id = \"{}\"\nadministradora = \"{}\"\n",
            cred.username, cred.password, cred.client_id, cred.administradora
        ),
    )
    .expect("mock config");
    let mut mock = Command::new("taskset")
        .args(["-c", "1"])
        .arg(env!("CARGO_BIN_EXE_mss-harness"))
        .args(["mock", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the mock (taskset from util-linux)");
    let mut banner = String::new();
    BufReader::new(mock.stderr.take().expect("stderr"))
        .read_line(&mut banner)
        .expect("banner");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .trim_end_matches('/')
        .to_owned();
    let file = crate::scenario_file::ScenarioFile::open("beyond-one-core", 100_000, "4s", 1000)
        .at(&url, "MSS_DL")
        .write(&dir, "beyond.toml");
    let out = dir.join("out");
    let mut run = Command::new("taskset");
    run.args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_mss-harness"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out);
    let o = crate::scenario_file::credentials_env(&mut run, "MSS_DL", &cred)
        .output()
        .expect("run on core 0");
    let _ = mock.kill();
    let _ = mock.wait();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    let d = &s["delivery"];
    println!("{stdout}{d:#}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(d["ok"], false, "{d:#}");
    assert_eq!(d["bound_by"]["limit"], "harness", "{d:#}");
    let e = &d["bound_by"]["evidence"];
    // At a full core the harness's own work is named; on a machine where
    // other processes share core 0 it is the harness not getting the CPU:
    // either way the harness, never the target.
    let words = d["bound_by"]["explanation"].as_str().expect("explanation");
    assert!(words.starts_with("held back by the harness"), "{d:#}");
    assert!(e["busiest_worker_max_pct"].as_f64().is_some(), "{e:#}");
}
