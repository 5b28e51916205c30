//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! network), rendered with minijinja from `report.html.j2`.

use std::collections::BTreeSet;

use minijinja::{Environment, context};
use serde_json::Value;

use super::{RunData, active_services, charts, delivery_chart, delivery_section, fmt_ms};

const TEMPLATE: &str = include_str!("report.html.j2");

/// The HTML report of `data`.
pub fn render(data: &RunData) -> anyhow::Result<String> {
    let s = &data.summary;
    let tokens: Vec<(f64, bool)> = s.token.events.iter().map(|e| (e.at_s, e.ok)).collect();
    let mut latency_charts = Vec::new();
    for (service, series) in &data.latency {
        latency_charts.push(charts::latency_over_time(service, series, &tokens)?);
    }
    let counts: Vec<_> = data.counts.iter().map(|(k, v)| (*k, *v)).collect();
    let throughput_chart = charts::throughput(&counts, &tokens)?;
    let distribution_chart = charts::distribution(&data.curves)?;
    // A run with several plateaus: its capacity analysis (summary.json's `capacity`).
    let capacity = match &s.capacity {
        Some(c) => Some(serde_json::json!({
            "en": c.summary_en, "es": c.summary_es, "refused": c.refused,
            "slo": c.slo, "points": c.points, "fit": c.fit,
            "chart": charts::capacity(c)?, "latency_chart": charts::capacity_latency(c)?,
        })),
        None => None,
    };

    let services: Vec<Value> = active_services(s)
        .into_iter()
        .map(|(name, v)| {
            let (l, st) = (&v.latency_us, &v.service_time_us);
            let cells: Vec<(String, String)> = [
                (l.p50, st.p50),
                (l.p90, st.p90),
                (l.p95, st.p95),
                (l.p99, st.p99),
                (l.p999, st.p999),
                (l.max, st.max),
            ]
            .iter()
            .map(|(a, b)| (fmt_ms(*a), fmt_ms(*b)))
            .collect();
            serde_json::json!({
                "name": name, "requests": v.requests, "stored": v.stored,
                "rejected_as_expected": v.rejected_as_expected, "errors": v.error_count(),
                "cells": cells,
            })
        })
        .collect();
    let classes: BTreeSet<String> = active_services(s)
        .iter()
        .flat_map(|(_, v)| v.errors.keys().cloned())
        .collect();
    let error_rows: Vec<Value> = active_services(s)
        .iter()
        .map(|(name, v)| {
            let counts: Vec<u64> = classes
                .iter()
                .map(|c| v.errors.get(c).copied().unwrap_or(0))
                .collect();
            serde_json::json!({"service": name, "counts": counts})
        })
        .collect();
    let (mut requests, mut stored, mut rejected) = (0u64, 0u64, 0u64);
    for (_, v) in active_services(s) {
        requests += v.requests;
        stored += v.stored;
        rejected += v.rejected_as_expected;
    }
    let dropped = s.dropped;
    // One definition (crate::verdict): the errors of the sent requests.
    let sent = requests.saturating_sub(dropped);
    let error_rate = if sent > 0 {
        format!(
            "{:.2}%",
            crate::results::error_rate(sent, stored + rejected) * 100.0
        )
    } else {
        "—".to_owned()
    };
    // The worst service's p99 (the services' histograms are not summed here).
    let worst = active_services(s)
        .iter()
        .map(|(_, v)| v.latency_us.p99 as f64)
        .fold(0.0, f64::max);
    let p99_all = format!("{:.1}", worst / 1000.0);
    let thresholds = &s.thresholds;
    let reconciliation: Vec<Value> = if s.reconciliation.checked {
        s.reconciliation
            .services
            .iter()
            .map(|(k, r)| {
                serde_json::json!({
                    "service": k, "harness": r.harness, "target": r.target,
                    "ok": r.lost == 0 && r.duplicated == 0,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let passed = s.delivery.as_ref().is_none_or(|d| d.ok)
        && thresholds.iter().all(|t| t.ok)
        && s.reconciliation.ok != Some(false);
    // The delivery section, first in the verdict area, with its chart from
    // delivery.csv (a folder written before it has neither).
    let delivery = delivery_section::section(s);
    let delivery_chart = match (&s.delivery, data.delivery.is_empty()) {
        (Some(d), false) => Some(delivery_chart::delivery(
            &data.delivery,
            delivery_chart::Marks {
                in_flight_cap: d.in_flight_cap,
                since_s: d.bound_by.as_ref().and_then(|b| b.since_s),
            },
        )?),
        _ => None,
    };
    // Where the time went (a run whose exchanges were timed).
    let phases = super::phases_section::section(s)?;
    // What every latency shown covers.
    let covered = super::covered(s);
    let meta_of = s.meta.as_ref();
    let meta: Vec<(String, String)> = vec![
        ("scenario".into(), s.scenario.clone()),
        ("target".into(), s.target.clone()),
        (
            "target host".into(),
            meta_of.map_or_else(|| "unknown".to_owned(), |m| m.target_host.clone()),
        ),
        ("started".into(), s.started_at.clone()),
        ("ended".into(), s.ended_at.clone()),
        ("duration".into(), format!("{:.1} s", s.duration_s)),
        (
            "data seed".into(),
            meta_of.map_or_else(|| "unknown".to_owned(), |m| m.seed.to_string()),
        ),
        (
            "administradora".into(),
            meta_of.map_or_else(|| "unknown".to_owned(), |m| m.administradora.clone()),
        ),
        ("harness version".into(), s.version.clone()),
        (
            "git commit".into(),
            meta_of
                .and_then(|m| m.git_commit.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
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
        s.target,
        s.started_at,
        format_args!("{:.0} s", s.duration_s),
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
                scenario => s.scenario.clone(),
                description,
                passed,
                delivery,
                delivery_chart,
                covered,
                total_requests => requests,
                total_stored => stored,
                total_rejected_as_expected => rejected,
                error_rate,
                p99_all,
                token_requests => s.token.requests,
                dropped,
                thresholds,
                reconciliation,
                services,
                latency_charts,
                throughput_chart,
                distribution_chart,
                phases,
                capacity,
                comparison => data.comparison.as_ref().map(super::comparison::section),
                error_classes => classes.into_iter().collect::<Vec<_>>(),
                error_rows,
                slowest => super::slowest::rows(s),
                meta,
            })
        })
        .map_err(|e| anyhow::anyhow!("report.html: {e}"))?;
    Ok(html)
}
