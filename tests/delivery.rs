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
/// request of the plan goes out and the run passes.
#[test]
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
