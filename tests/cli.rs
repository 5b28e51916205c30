//! The binary: `payload` prints deterministic JSON Lines; bad flags are clear errors.

use std::process::Command;

fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run mss-harness")
}

#[test]
fn payload_is_deterministic_json_lines() {
    let args = [
        "payload",
        "--service",
        "afiliacion",
        "--count",
        "20",
        "--seed",
        "42",
        "--as-of",
        "2026-11-25",
    ];
    let a = harness(&args);
    let b = harness(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let validator = crate::util::schema_validator("ReportarAfiliaciontrasladoRequest");
    let text = String::from_utf8(a.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 20);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert!(validator.is_valid(&v), "{line}");
    }
    let other = harness(&[
        "payload",
        "--count",
        "20",
        "--seed",
        "43",
        "--as-of",
        "2026-11-25",
    ]);
    assert_ne!(other.stdout, text.as_bytes());
}

#[test]
fn retractions_and_invalid_cases_print() {
    let out = harness(&[
        "payload",
        "--service",
        "retracto",
        "--count",
        "3",
        "--seed",
        "1",
        "--as-of",
        "2026-11-25",
    ]);
    assert!(out.status.success());
    let validator = crate::util::schema_validator("ReportarRetractoAfiliacionRequest");
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        assert!(
            validator.is_valid(&serde_json::from_str(line).expect("JSON")),
            "{line}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("PENDIENTE"));

    let out = harness(&["payload", "--invalid", "neg11", "--count", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(v["codigo"], "NEG11");
        assert_eq!(v["http_status"], 422);
    }
}

#[test]
fn bad_flags_are_named() {
    for (args, needle) in [
        (vec!["payload", "--invalid", "NEG99"], "NEG99"),
        (vec!["payload", "--administradora", "123"], "123"),
        (vec!["payload", "--count", "-1"], "-1"),
        (vec!["payload", "--as-of", "2026-13-01"], "--as-of"),
        (
            vec!["payload", "--invalid", "NEG10", "--service", "afiliacion"],
            "ReportarRetractoAfiliacion",
        ),
        (
            vec!["payload", "--radicado-prefix", "con espacio"],
            "con espacio",
        ),
    ] {
        let out = harness(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn mock_subcommand_serves_on_the_address_it_prints_and_bad_config_is_named() {
    use std::io::{Read, Write};

    let (mut child, url) =
        crate::util::spawn_mock(Command::new(env!("CARGO_BIN_EXE_mss-harness")).args([
            "mock",
            "--listen",
            "127.0.0.1:0",
        ]));
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /__admin/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"token\""), "{response}");

    let dir = std::env::temp_dir().join(format!("mss-mock-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "port = 1\n[[clients]]\nusername = \"u\"\npassword = \"p\"\nclient_id = \"c\"\nadministradora = \"230301\"\n").expect("write");
    let out = harness(&[
        "mock",
        "--listen",
        "127.0.0.1:0",
        "--config",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("port"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_mock_lists_its_deviations() {
    let out = harness(&["mock", "--list-deviations"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() > 60, "{text}");
    assert!(text.contains("RUL-NEG11\t"), "{text}");
}

/// `--dashboard ADDR` with a space reaches the flag (it used to be taken for a
/// second scenario: "unexpected argument"): the address in use is named.
#[test]
fn a_dashboard_address_after_a_space_is_the_dashboards() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = harness(&["run", "smoke", "--dashboard", &addr]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("--dashboard {addr}: cannot listen")),
        "{err}"
    );
    let out = harness(&["run", "--dashboard", "127.0.0.1:0", "smoke", "--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("smoke"));
}

/// `run --out DIR` never mixes two runs: a folder that holds an earlier run
/// is refused before anything is sent, and replaced only with `--overwrite`
/// (whose earlier files, the ones the new run does not write, are gone).
#[test]
fn an_earlier_runs_folder_is_refused_and_replaced_only_when_asked() {
    let dir = crate::util::temp_dir("out-twice");
    let scenario = crate::scenario_file::ScenarioFile::open("out-twice", 20, "1s", 10)
        .write(&dir, "short.toml");
    let out = dir.join("out");
    std::fs::create_dir(&out).expect("out");
    std::fs::write(out.join("summary.json"), "{}").expect("an earlier run");
    std::fs::write(out.join("goose-report.html"), "earlier").expect("its Goose report");
    let run = |extra: &[&str]| crate::util::writing_to("run", &scenario, &out, extra);
    crate::util::assert_refused_without_overwrite(&run(&[]), "the folder is not empty");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).expect("kept"),
        "{}"
    );
    let replaced = run(&["--overwrite"]);
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    assert!(
        !out.join("goose-report.html").exists(),
        "the earlier run's file"
    );
    assert_eq!(crate::util::summary(&out)["scenario"], "out-twice");
}
