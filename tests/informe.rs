//! `mss-harness informe`: a synthetic week of logs (JSON Lines and CSV) with
//! known counts, hours, latencies and incidents; every number is checked in
//! informe.md, and the HTML carries them too.

use std::path::PathBuf;
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    crate::util::temp_dir(&format!("informe-{name}"))
}

fn row<'a>(md: &'a str, starts: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no row starting {starts:?} in:\n{md}"))
}

fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

fn close(cell: &str, want: f64) {
    let got: f64 = cell
        .parse()
        .unwrap_or_else(|_| panic!("{cell:?} is not a number"));
    assert!((got - want).abs() <= want * 0.002 + 0.05, "{got} vs {want}");
}

#[test]
fn a_synthetic_week_gives_every_number() {
    let dir = temp_dir("week");
    let mut jsonl = String::new();
    let mut line = |ts: &str, service: &str, status: &str, codigo: &str, ms: &str| {
        jsonl.push_str(&format!(
            r#"{{"timestamp":"{ts}","service":"{service}","http_status":{status},"codigo":{codigo},"latency_ms":{ms},"radicado":"R1"}}"#
        ));
        jsonl.push('\n');
    };
    const A: &str = "ReportarAfiliaciontraslado";
    const R: &str = "ReportarRetractoAfiliacion";
    // Monday 16: ten accepted affiliations at 08:0x, 10..100 ms; a token at 07:59.
    for i in 1..=10 {
        line(
            &format!("2026-11-16T08:0{}:00-05:00", i % 10),
            A,
            "200",
            "\"OK\"",
            &format!("{}", i * 10),
        );
    }
    line("2026-11-16T07:59:00-05:00", "token", "200", "null", "5");
    // Tuesday 17, 14:30 UTC = 09:30 in Colombia: five NEG01 rejections, 50 ms.
    for _ in 0..5 {
        line("2026-11-17T14:30:00Z", A, "409", "\"NEG01\"", "50");
    }
    // Wednesday 18, local time without offset: three 500s of 1 s; two without answer.
    for _ in 0..3 {
        line("2026-11-18 10:00:00", R, "500", "null", "1000");
    }
    for _ in 0..2 {
        line("2026-11-18 23:59:59", R, "0", "null", "null");
    }
    // Sunday 22, 23:30 local (04:30 UTC on the 23rd): inside the period.
    line("2026-11-23T04:30:00Z", A, "200", "\"OK\"", "30");
    // Monday 23 local: outside.
    line("2026-11-23T00:00:01-05:00", A, "200", "\"OK\"", "30");
    jsonl.push_str("this is not json\n");
    std::fs::write(dir.join("week.jsonl"), jsonl).expect("jsonl");
    let mut csv = String::from("timestamp,service,http_status,codigo,latency_ms,radicado\n");
    for _ in 0..4 {
        csv.push_str("2026-11-20 12:00:00,ReportarAfiliaciontraslado,200,OK,40,R2\n");
    }
    csv.push_str("2026-11-20 12:00:00,ReportarAfiliaciontraslado,abc,OK,40,R3\n");
    std::fs::write(dir.join("week.csv"), csv).expect("csv");

    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(["informe", "--desde", "2026-11-16", "--hasta", "2026-11-22"])
        .args(["--administradora", "230301", "--out"])
        .arg(&dir)
        .arg(dir.join("week.jsonl"))
        .arg(dir.join("week.csv"))
        .output()
        .expect("mss-harness informe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The two unreadable lines are named with file and line.
    assert!(stderr.contains("week.jsonl:24:"), "{stderr}");
    assert!(
        stderr.contains("week.csv:6:") && stderr.contains("abc"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(dir.join("informe.md")).expect("informe.md");
    assert!(md.contains("**Administradora:** 230301 — Porvenir"), "{md}");
    assert!(md.contains("**Periodo:** 2026-11-16 a 2026-11-22"), "{md}");
    // 1. services invoked, with the busiest hour.
    assert_eq!(
        cells(row(&md, "| ReportarAfiliaciontraslado | 20 |")),
        [A, "20", "2026-11-16 08:00 (10)"]
    );
    assert_eq!(
        cells(row(&md, "| ReportarRetractoAfiliacion | 5 |")),
        [R, "5", "2026-11-18 10:00 (3)"]
    );
    assert_eq!(
        cells(row(&md, "| token (autenticación) | 1 |"))[2],
        "2026-11-16 07:00 (1)"
    );
    assert!(md.contains("| **total** | **26** |"), "{md}");
    // 2. per day and per hour of the day (columns: afiliación, retracto,
    // token): a day's row starts "| 2026-11-16 |", an hour's "| 07:00–".
    for (starts, counts) in [
        ("| 2026-11-16 |", ["10", "0", "1"]),
        ("| 2026-11-17 |", ["5", "0", "0"]),
        ("| 2026-11-18 |", ["0", "5", "0"]),
        ("| 2026-11-19 |", ["0", "0", "0"]),
        ("| 2026-11-20 |", ["4", "0", "0"]),
        ("| 2026-11-21 |", ["0", "0", "0"]),
        ("| 2026-11-22 |", ["1", "0", "0"]),
        ("| 07:00–", ["0", "0", "1"]),
        ("| 08:00–", ["10", "0", "0"]),
        ("| 09:00–", ["5", "0", "0"]),
        ("| 10:00–", ["0", "3", "0"]),
        ("| 12:00–", ["4", "0", "0"]),
        ("| 23:00–", ["1", "2", "0"]),
        ("| 00:00–", ["0", "0", "0"]),
    ] {
        assert_eq!(cells(row(&md, starts))[1..], counts, "{starts}");
    }
    // 3. response times: mín, promedio, p50, p90, p95, p99, máx (ms).
    // (Histograms keep three significant digits: 1,000 ms may read 999.9.)
    let times = &md[md.find("## 3.").expect("section 3")..md.find("## 4.").expect("section 4")];
    let a = cells(row(times, &format!("| {A} |")));
    for (cell, want) in a[1..]
        .iter()
        .zip([10.0, 49.5, 50.0, 80.0, 90.0, 100.0, 100.0])
    {
        close(cell, want);
    }
    let r = cells(row(times, &format!("| {R} |")));
    for cell in &r[1..] {
        close(cell, 1000.0);
    }
    // 4. incidents: Sí with count, first and last; No elsewhere.
    let neg01 = cells(row(&md, "| Rechazo NEG01"));
    assert_eq!(
        neg01[1..],
        [A, "Sí", "5", "2026-11-17 09:30:00", "2026-11-17 09:30:00"]
    );
    let e5xx = cells(row(&md, &format!("| Error del servidor (HTTP 5xx) | {R}")));
    assert_eq!(
        e5xx[2..],
        ["Sí", "3", "2026-11-18 10:00:00", "2026-11-18 10:00:00"]
    );
    let none = cells(row(
        &md,
        &format!("| Sin respuesta (conexión, tiempo de espera) | {R}"),
    ));
    assert_eq!(
        none[2..],
        ["Sí", "2", "2026-11-18 23:59:59", "2026-11-18 23:59:59"]
    );
    let no = cells(row(&md, &format!("| Error del servidor (HTTP 5xx) | {A}")));
    assert_eq!(no[2..], ["No", "0", "—", "—"]);
    assert!(
        md.contains("Registros fuera del periodo, no contados: 1."),
        "{md}"
    );
    assert!(md.contains("Líneas ilegibles, no contadas: 2."), "{md}");
    // The HTML says the same, self-contained.
    let html = std::fs::read_to_string(dir.join("informe.html")).expect("informe.html");
    crate::util::assert_contains_all(
        "informe.html",
        &html,
        [
            "230301 — Porvenir",
            "2026-11-17 09:30:00",
            "Rechazo NEG01",
            "<svg",
            "Sí",
        ],
    );
    assert!(!html.contains("<script") && !html.contains("<link"));
    // --strict refuses the unreadable line.
    let strict = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args([
            "informe",
            "--desde",
            "2026-11-16",
            "--hasta",
            "2026-11-22",
            "--strict",
            "--out",
        ])
        .arg(&dir)
        .arg(dir.join("week.jsonl"))
        .output()
        .expect("informe --strict");
    assert_eq!(strict.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("week.jsonl:24:"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_flags_exit_2_naming_them() {
    for (args, needle) in [
        (
            vec!["--desde", "2026-11-22", "--hasta", "2026-11-16", "x.jsonl"],
            "--hasta",
        ),
        (
            vec![
                "--desde",
                "2026-11-16",
                "--hasta",
                "2026-11-22",
                "--administradora",
                "999",
                "x.jsonl",
            ],
            "--administradora 999",
        ),
        (
            vec![
                "--desde",
                "2026-11-16",
                "--hasta",
                "2026-11-22",
                "notes.txt",
            ],
            "notes.txt",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
            .arg("informe")
            .args(&args)
            .output()
            .expect("informe");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_folder_counts_like_its_summary() {
    let dir = temp_dir("run");
    let scenario = crate::scenario_file::ScenarioFile::open("informe-run", 50, "3s", 50)
        .mock_latency_ms(3)
        .table("[invalid]\nNEG01 = 0.1");
    let outcome = mss_harness::session::run_scenario(scenario.plan(), Some(dir.clone()))
        .await
        .expect("run");
    let s = &outcome.summary;
    let started = chrono::DateTime::parse_from_rfc3339(s["started_at"].as_str().expect("start"))
        .expect("rfc3339")
        .with_timezone(&mss_harness::informe::colombia())
        .date_naive();
    let mut informe = mss_harness::informe::Informe::new(
        mss_contract::Contract::embedded().clone(),
        started,
        started + chrono::Duration::days(1),
    )
    .expect("period");
    informe.read(&dir).expect("read the results folder");
    for service in ["ReportarAfiliaciontraslado", "ReportarRetractoAfiliacion"] {
        assert_eq!(
            informe.services[service].requests,
            s["services"][service]["requests"]
                .as_u64()
                .expect("requests"),
            "{service}"
        );
        assert_eq!(
            informe.services[service].latency.len(),
            informe.services[service].requests,
            "{service}: every request has its time"
        );
    }
    assert_eq!(
        informe.services["token"].requests,
        s["token"]["requests"].as_u64().expect("token")
    );
    let _ = std::fs::remove_dir_all(dir);
}
