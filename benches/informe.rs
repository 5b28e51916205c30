//! The informe over a week of production logs: 1,000,000 JSON Lines (and the
//! same as CSV) turned into informe.md and informe.html. Target: under 10 s;
//! memory must not grow with the number of lines (the resident set after
//! 100,000 lines and after 1,000,000 are printed side by side).
//!
//! Run: `cargo bench --bench informe`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use mss_harness::informe::{Informe, render};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn write_week(path: &Path, lines: u64, csv: bool) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    if csv {
        writeln!(
            out,
            "timestamp,service,http_status,codigo,latency_ms,radicado"
        )
        .expect("write");
    }
    let week = 7 * 24 * 3600u64;
    for i in 0..lines {
        let t = 1_794_805_200 + (i * 7919) % week; // 2026-11-16 00:00 -05:00 onwards
        let stamp = chrono::DateTime::from_timestamp(t as i64, 0)
            .expect("time")
            .format("%Y-%m-%dT%H:%M:%SZ");
        let service = match i % 10 {
            0 => "ReportarRetractoAfiliacion",
            1 if i % 1000 == 1 => "token",
            _ => "ReportarAfiliaciontraslado",
        };
        let (status, codigo) = match i % 97 {
            0 => (409, "NEG01"),
            1 => (500, ""),
            _ => (200, "OK"),
        };
        let ms = 20.0 + (i % 400) as f64 * 0.7;
        if csv {
            writeln!(
                out,
                "{stamp},{service},{status},{codigo},{ms:.1},MSSH{i:010}"
            )
            .expect("write");
        } else {
            writeln!(
                out,
                r#"{{"timestamp":"{stamp}","service":"{service}","http_status":{status},"codigo":"{codigo}","latency_ms":{ms:.1},"radicado":"MSSH{i:010}"}}"#
            )
            .expect("write");
        }
    }
}

fn informe_of(path: &Path) -> (f64, u64, u64) {
    let desde = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).expect("date");
    let hasta = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    let contract = mss_harness::domain::Contract::embedded();
    let admin = &contract.administradoras[2];
    let started = Instant::now();
    let mut informe = Informe::new(contract.clone(), desde, hasta).expect("period");
    informe.read(path).expect("read");
    let md = render::markdown(&informe, admin);
    let html = render::html(&informe, admin).expect("html");
    std::hint::black_box((md.len(), html.len()));
    let counted: u64 = informe.services.values().map(|s| s.requests).sum();
    (started.elapsed().as_secs_f64(), counted, rss_kb())
}

fn main() {
    let dir = std::env::temp_dir().join(format!("mss-informe-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for csv in [false, true] {
        let ext = if csv { "csv" } else { "jsonl" };
        let small = dir.join(format!("small.{ext}"));
        let big = dir.join(format!("week.{ext}"));
        write_week(&small, 100_000, csv);
        write_week(&big, 1_000_000, csv);
        let (_, _, rss_small) = informe_of(&small);
        let (secs, counted, rss_big) = informe_of(&big);
        println!(
            "informe/{ext}: 1,000,000 lines in {secs:.2} s ({:.0} lines/s; target < 10 s: {}), {counted} counted; RSS after 100,000 lines {rss_small} KB, after 1,000,000 {rss_big} KB",
            1e6 / secs,
            if secs < 10.0 { "met" } else { "NOT MET" }
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
