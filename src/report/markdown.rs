//! `report.md`: the run in a page of Markdown, for CI logs and pull requests.

use std::fmt::Write;

use super::{RunData, active_services, fmt_ms};

/// The Markdown report of `data`.
pub fn render(data: &RunData) -> String {
    let s = &data.summary;
    let mut m = String::new();
    let thresholds = s["thresholds"].as_array().cloned().unwrap_or_default();
    let failed = thresholds.iter().filter(|t| t["ok"] != true).count();
    let rec_ok = s["reconciliation"]["ok"] != false;
    let mut verdict = if failed == 0 && rec_ok {
        "✅ passed"
    } else {
        "❌ failed"
    }
    .to_owned();
    let interrupted = super::interruption_text(s);
    if interrupted.is_some() {
        verdict.push_str(" · ⏹ interrupted");
    }
    let _ = writeln!(
        m,
        "# mss-harness: `{}` — {verdict}\n",
        s["scenario"].as_str().unwrap_or("?")
    );
    let _ = writeln!(m, "| | |\n|---|---|");
    let meta = [
        ("target", s["target"].as_str().unwrap_or("").to_owned()),
        ("started", s["started_at"].as_str().unwrap_or("").to_owned()),
        ("ended", s["ended_at"].as_str().unwrap_or("").to_owned()),
        (
            "duration",
            format!("{:.1} s", s["duration_s"].as_f64().unwrap_or(0.0)),
        ),
        ("seed", s["meta"]["seed"].to_string()),
        (
            "administradora",
            s["meta"]["administradora"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        ),
        (
            "version",
            format!(
                "{} ({})",
                s["version"].as_str().unwrap_or(""),
                s["meta"]["git_commit"].as_str().unwrap_or("commit unknown")
            ),
        ),
    ];
    for (k, v) in meta {
        let _ = writeln!(m, "| {k} | {v} |");
    }
    if let Some(line) = interrupted {
        let _ = writeln!(m, "| interrupted | {line} |");
    }
    let _ = writeln!(
        m,
        "\n## Latency (ms, from the intended send time; service time in brackets)\n"
    );
    let _ = writeln!(
        m,
        "| service | requests | stored | rejected as expected | errors | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (name, v) in active_services(s) {
        let cell = |k: &str| {
            format!(
                "{} ({})",
                fmt_ms(&v["latency_us"][k]),
                fmt_ms(&v["service_time_us"][k])
            )
        };
        let _ = writeln!(
            m,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v["requests"],
            v["stored"],
            v["rejected_as_expected"],
            super::error_count(v),
            cell("p50"),
            cell("p90"),
            cell("p95"),
            cell("p99"),
            cell("p999"),
            cell("max")
        );
    }
    let _ = writeln!(m, "\n## Thresholds\n");
    if thresholds.is_empty() {
        let _ = writeln!(m, "None set.");
    }
    for t in &thresholds {
        let _ = writeln!(
            m,
            "- {} `{}: {}` — measured {}",
            if t["ok"] == true { "✅" } else { "❌" },
            t["scope"].as_str().unwrap_or("global"),
            t["expr"].as_str().unwrap_or("?"),
            t["shown"].as_str().unwrap_or("")
        );
    }
    let rec = &s["reconciliation"];
    let _ = writeln!(m, "\n## Reconciliation with the mock\n");
    if rec["checked"] == true {
        for (service, r) in rec["services"].as_object().into_iter().flatten() {
            let _ = writeln!(
                m,
                "- {} {service}: the harness saw {} stored, the mock holds {} (lost {}, duplicated {})",
                if r["lost"] == 0 && r["duplicated"] == 0 {
                    "✅"
                } else {
                    "❌"
                },
                r["harness"],
                r["target"],
                r["lost"],
                r["duplicated"]
            );
        }
    } else {
        let _ = writeln!(m, "Not checked: the target is not the mock.");
    }
    let _ = writeln!(m, "\n## Errors\n");
    let mut any = false;
    for (name, v) in active_services(s) {
        for (class, n) in v["errors"].as_object().into_iter().flatten() {
            if !any {
                let _ = writeln!(m, "| service | class | count |\n|---|---|---:|");
                any = true;
            }
            let _ = writeln!(m, "| {name} | `{class}` | {n} |");
        }
    }
    if !any {
        let _ = writeln!(m, "None.");
    }
    let token = &s["token"];
    let _ = writeln!(
        m,
        "\n## Tokens\n\n{} token requests ({} refreshes after the first token), p99 {} ms; {} requests dropped (not sent on time).",
        token["requests"],
        token["refreshes"],
        fmt_ms(&token["latency_us"]["p99"]),
        s["dropped"]
    );
    if let Some(rate) = s["highest_sustained_rate"].as_f64() {
        let _ = writeln!(
            m,
            "\nHighest rate sustained within the thresholds: **{rate} req/s**."
        );
    } else if s["stages"].as_array().is_some_and(|a| !a.is_empty()) {
        let _ = writeln!(m, "\nNo rate plateau held within the thresholds.");
    }
    m
}
