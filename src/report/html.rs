//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! network), rendered with minijinja from `report.html.j2`.

use std::collections::BTreeSet;

use minijinja::{Environment, context};
use serde_json::Value;

use super::{RunData, active_services, charts, fmt_ms};

const TEMPLATE: &str = include_str!("report.html.j2");

/// The HTML report of `data`.
pub fn render(data: &RunData) -> anyhow::Result<String> {
    let s = &data.summary;
    let tokens: Vec<(f64, bool)> = s["token"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["at_s"].as_f64().unwrap_or(0.0), e["ok"] == true))
        .collect();
    let mut latency_charts = Vec::new();
    for (service, series) in &data.latency {
        latency_charts.push(charts::latency_over_time(service, series, &tokens)?);
    }
    let counts: Vec<_> = data.counts.iter().map(|(k, v)| (*k, *v)).collect();
    let throughput_chart = charts::throughput(&counts, &tokens)?;
    let distribution_chart = charts::distribution(&data.curves)?;
    // A run with several plateaus: its capacity analysis (summary.json's `capacity`).
    let capacity = match s.get("capacity").filter(|c| c.is_object()) {
        Some(c) => Some(serde_json::json!({
            "en": c["summary_en"], "es": c["summary_es"], "refused": c["refused"],
            "slo": c["slo"], "points": c["points"], "fit": c["fit"],
            "chart": charts::capacity(c)?, "latency_chart": charts::capacity_latency(c)?,
        })),
        None => None,
    };

    let services: Vec<Value> = active_services(s)
        .into_iter()
        .map(|(name, v)| {
            let cells: Vec<(String, String)> = ["p50", "p90", "p95", "p99", "p999", "max"]
                .iter()
                .map(|k| {
                    (
                        fmt_ms(&v["latency_us"][k]),
                        fmt_ms(&v["service_time_us"][k]),
                    )
                })
                .collect();
            serde_json::json!({
                "name": name, "requests": v["requests"], "stored": v["stored"],
                "rejected_as_expected": v["rejected_as_expected"], "errors": super::error_count(v),
                "cells": cells,
            })
        })
        .collect();
    let classes: BTreeSet<String> = active_services(s)
        .iter()
        .flat_map(|(_, v)| {
            v["errors"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
        })
        .collect();
    let error_rows: Vec<Value> = active_services(s)
        .iter()
        .map(|(name, v)| {
            let counts: Vec<u64> = classes
                .iter()
                .map(|c| v["errors"][c].as_u64().unwrap_or(0))
                .collect();
            serde_json::json!({"service": name, "counts": counts})
        })
        .collect();
    let (mut requests, mut stored, mut rejected, mut errors) = (0u64, 0u64, 0u64, 0u64);
    for (_, v) in active_services(s) {
        requests += v["requests"].as_u64().unwrap_or(0);
        stored += v["stored"].as_u64().unwrap_or(0);
        rejected += v["rejected_as_expected"].as_u64().unwrap_or(0);
        errors += super::error_count(v);
    }
    let dropped = s["dropped"].as_u64().unwrap_or(0);
    let sent = requests.saturating_sub(dropped);
    let error_rate = if sent > 0 {
        format!(
            "{:.2}%",
            errors.saturating_sub(dropped) as f64 / sent as f64 * 100.0
        )
    } else {
        "—".to_owned()
    };
    // The worst service's p99 (the services' histograms are not summed here).
    let worst = active_services(s)
        .iter()
        .map(|(_, v)| v["latency_us"]["p99"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    let p99_all = format!("{:.1}", worst / 1000.0);
    let thresholds: Vec<Value> = s["thresholds"].as_array().cloned().unwrap_or_default();
    let reconciliation: Vec<Value> = if s["reconciliation"]["checked"] == true {
        s["reconciliation"]["services"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, r)| {
                serde_json::json!({
                    "service": k, "harness": r["harness"], "target": r["target"],
                    "ok": r["lost"] == 0 && r["duplicated"] == 0,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let passed = thresholds.iter().all(|t| t["ok"] == true) && s["reconciliation"]["ok"] != false;
    let str_of = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let meta: Vec<(String, String)> = vec![
        ("scenario".into(), str_of(&s["scenario"])),
        ("target".into(), str_of(&s["target"])),
        ("target host".into(), str_of(&s["meta"]["target_host"])),
        ("started".into(), str_of(&s["started_at"])),
        ("ended".into(), str_of(&s["ended_at"])),
        (
            "duration".into(),
            format!("{:.1} s", s["duration_s"].as_f64().unwrap_or(0.0)),
        ),
        ("data seed".into(), str_of(&s["meta"]["seed"])),
        (
            "administradora".into(),
            str_of(&s["meta"]["administradora"]),
        ),
        ("harness version".into(), str_of(&s["version"])),
        (
            "git commit".into(),
            s["meta"]["git_commit"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
        ),
        ("results folder".into(), data.dir.display().to_string()),
    ];
    let interrupted = super::interruption_text(s);
    let mut meta = meta;
    if let Some(line) = &interrupted {
        meta.insert(0, ("interrupted".into(), line.clone()));
    }
    let description = format!(
        "{} · {} · {}{}",
        str_of(&s["target"]),
        str_of(&s["started_at"]),
        format_args!("{:.0} s", s["duration_s"].as_f64().unwrap_or(0.0)),
        if interrupted.is_some() {
            " · INTERRUPTED"
        } else {
            ""
        }
    );
    let mut env = Environment::new();
    // The `.html` name turns on HTML auto-escaping (scenario names, threshold
    // expressions and error classes come from users); charts are marked safe.
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| anyhow::anyhow!("report template: {e}"))?;
    let html = env
        .get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                scenario => str_of(&s["scenario"]),
                description,
                passed,
                total_requests => requests,
                total_stored => stored,
                total_rejected_as_expected => rejected,
                error_rate,
                p99_all,
                token_requests => s["token"]["requests"].as_u64().unwrap_or(0),
                dropped,
                thresholds,
                reconciliation,
                services,
                latency_charts,
                throughput_chart,
                distribution_chart,
                capacity,
                error_classes => classes.into_iter().collect::<Vec<_>>(),
                error_rows,
                meta,
            })
        })
        .map_err(|e| anyhow::anyhow!("report.html: {e}"))?;
    Ok(html)
}
