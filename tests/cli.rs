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
