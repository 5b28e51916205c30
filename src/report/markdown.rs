//! `report.md`: the run in a page of Markdown, for CI logs and pull requests.

use std::fmt::Write;

use super::delivery_section::Section;
use super::{RunData, active_services, fmt_ms};

/// The Markdown report of `data`.
pub fn render(data: &RunData) -> String {
    let s = &data.summary;
    let mut m = String::new();
    let failed = s.thresholds.iter().filter(|t| !t.ok).count();
    let rec_ok = s.reconciliation.ok != Some(false);
    let delivered = s.delivery.as_ref().is_none_or(|d| d.ok);
    let mut verdict = if failed == 0 && rec_ok && delivered {
        "✅ passed"
    } else {
        "❌ failed"
    }
    .to_owned();
    let interrupted = super::interruption_text(s);
    if interrupted.is_some() {
        verdict.push_str(" · ⏹ interrupted");
    }
    let _ = writeln!(m, "# mss-harness: `{}` — {verdict}\n", s.scenario);
    let _ = writeln!(m, "| | |\n|---|---|");
    let meta = s.meta.as_ref();
    let meta = [
        ("target", s.target.clone()),
        ("started", s.started_at.clone()),
        ("ended", s.ended_at.clone()),
        ("duration", format!("{:.1} s", s.duration_s)),
        (
            "seed",
            meta.map_or_else(|| "unknown".to_owned(), |m| m.seed.to_string()),
        ),
        (
            "administradora",
            meta.map_or_else(String::new, |m| m.administradora.clone()),
        ),
        (
            "version",
            format!(
                "{} ({})",
                s.version,
                meta.and_then(|m| m.git_commit.as_deref())
                    .unwrap_or("commit unknown")
            ),
        ),
    ];
    for (k, v) in meta {
        let _ = writeln!(m, "| {k} | {v} |");
    }
    if let Some(line) = interrupted {
        let _ = writeln!(m, "| interrupted | {line} |");
    }
    if let Some(section) = super::delivery_section::section(s) {
        delivery(&mut m, &section);
    }
    let covered = super::covered(s).map_or_else(String::new, |c| format!(" {c}"));
    let _ = writeln!(
        m,
        "\n## Latency{covered} (ms, from the intended send time; service time in brackets)\n"
    );
    let _ = writeln!(
        m,
        "| service | requests | stored | rejected as expected | errors | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (name, v) in active_services(s) {
        let cell = |l: u64, st: u64| format!("{} ({})", fmt_ms(l), fmt_ms(st));
        let (l, st) = (&v.latency_us, &v.service_time_us);
        let _ = writeln!(
            m,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.requests,
            v.stored,
            v.rejected_as_expected,
            v.error_count(),
            cell(l.p50, st.p50),
            cell(l.p90, st.p90),
            cell(l.p95, st.p95),
            cell(l.p99, st.p99),
            cell(l.p999, st.p999),
            cell(l.max, st.max)
        );
    }
    super::phases_section::markdown(&mut m, &super::phases_section::rows(s));
    slowest(&mut m, &super::slowest::rows(s));
    let _ = writeln!(m, "\n## Thresholds\n");
    if s.thresholds.is_empty() {
        let _ = writeln!(m, "None set.");
    }
    for t in &s.thresholds {
        let _ = writeln!(
            m,
            "- {} `{}: {}` — measured {}",
            if t.ok { "✅" } else { "❌" },
            t.scope,
            t.expr,
            t.shown
        );
    }
    let rec = &s.reconciliation;
    let _ = writeln!(m, "\n## Reconciliation with the mock\n");
    if rec.checked {
        for (service, r) in &rec.services {
            let _ = writeln!(
                m,
                "- {} {service}: the harness saw {} stored, the mock holds {} (lost {}, duplicated {})",
                if r.lost == 0 && r.duplicated == 0 {
                    "✅"
                } else {
                    "❌"
                },
                r.harness,
                r.target,
                r.lost,
                r.duplicated
            );
        }
    } else {
        let _ = writeln!(m, "Not checked: the target is not the mock.");
    }
    let _ = writeln!(m, "\n## Errors\n");
    let mut any = false;
    for (name, v) in active_services(s) {
        for (class, n) in &v.errors {
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
    let token = &s.token;
    let _ = writeln!(
        m,
        "\n## Tokens\n\n{} token requests ({} refreshes after the first token), p99 {} ms; {} requests dropped (not sent on time).",
        token.requests,
        token.refreshes,
        fmt_ms(token.latency_us.p99),
        s.dropped
    );
    if let Some(rate) = s.highest_sustained_rate {
        let _ = writeln!(
            m,
            "\nHighest rate sustained within the thresholds: **{rate} req/s**."
        );
    } else if !s.stages.is_empty() {
        let _ = writeln!(m, "\nNo rate plateau held within the thresholds.");
    }
    m
}

/// The slowest requests per service with their trace ids (nothing when the
/// summary lists none).
fn slowest(m: &mut String, rows: &[super::slowest::Row]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        m,
        "\n## Slowest requests (ms, from the intended send time; service time in brackets)\n"
    );
    let _ = writeln!(
        m,
        "| service | trace id | sent (UTC) | latency | class | radicado |\n|---|---|---|---:|---|---|"
    );
    // A table cell cannot hold `|`.
    let cell = |s: &str| s.replace('|', "\\|");
    for r in rows {
        let _ = writeln!(
            m,
            "| {} | `{}` | {} | {} ({}) | `{}` | `{}` |",
            r.service,
            r.trace_id,
            r.sent_at,
            r.latency_ms,
            r.service_time_ms,
            cell(&r.class),
            cell(&r.radicado)
        );
    }
}

/// The delivery section: the verdict's first line, the figures, the bound,
/// what held the run back, the stages (or plateaus) and the services.
fn delivery(m: &mut String, d: &Section) {
    let mark = if d.ok { "✅" } else { "❌" };
    let _ = writeln!(m, "\n## Delivery\n\n{mark} **{}**\n", d.verdict);
    let row = |cells: Vec<&str>| format!("| {} |", cells.join(" | "));
    let _ = writeln!(
        m,
        "{}\n|{}\n{}\n",
        row(d.figures.iter().map(|f| f.0.as_str()).collect()),
        "---:|".repeat(d.figures.len()),
        row(d.figures.iter().map(|f| f.1.as_str()).collect())
    );
    let _ = writeln!(m, "Bound: {}. {}", d.bound, d.model);
    if let Some(b) = &d.bound_by {
        let since = if b.since.is_empty() {
            String::new()
        } else {
            format!(" ({})", b.since)
        };
        let _ = writeln!(m, "\n**bound_by: `{}`**{since}: {}", b.limit, b.explanation);
        if let Some(little) = &b.little {
            let _ = writeln!(m, "\n{little}");
        }
        let _ = writeln!(m, "\n| evidence | |\n|---|---:|");
        for (label, value) in &b.evidence {
            let _ = writeln!(m, "| {label} | {value} |");
        }
    }
    if !d.stages.is_empty() {
        let _ = writeln!(
            m,
            "\n| {} | rate req/s | seconds | planned | sent | dropped | delivered | result |\n|---:|---:|---|---:|---:|---:|---:|---|",
            d.stage_word
        );
        for st in &d.stages {
            let result = match (st.delivered, st.past_knee) {
                (true, _) => "✅ delivered",
                (false, true) => "past the knee (by design)",
                (false, false) => "❌ not delivered",
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {result} |",
                st.index, st.rate, st.span, st.planned, st.sent, st.dropped, st.share
            );
        }
    }
    if !d.services.is_empty() {
        let _ = writeln!(
            m,
            "\n| service | planned (sent + dropped) | sent | dropped | delivered |\n|---|---:|---:|---:|---:|"
        );
        for sv in &d.services {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} |",
                sv.name, sv.planned, sv.sent, sv.dropped, sv.share
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capacity search's run: three plateaus, the knee at 200 req/s, the
    /// one past it short by design.
    fn search_run() -> RunData {
        let (dir, mut summary) = crate::report::tests::committed_worker();
        summary.highest_sustained_rate = Some(200.0);
        let stage = |rate: f64, start_s: u64, planned: u64, sent: u64, delivered: bool| {
            serde_json::json!({"rate": rate, "start_s": start_s, "end_s": start_s + 5,
                "planned": planned, "sent": sent, "dropped": planned - sent,
                "delivered_share": sent as f64 / planned as f64, "delivered": delivered})
        };
        summary.delivery = Some(
            serde_json::from_value(serde_json::json!({
                "model": "search", "planned": 3500, "sent": 2900, "dropped": 600, "unsent": 0,
                "delivered_share": 0.8286, "in_flight_cap": 50, "bound": 0.001,
                "bound_source": "default (0.1%)", "ok": true,
                "verdict": "plan delivered: capacity search, 2 of 3 plateaus delivered (highest sustained: 200 req/s); plateaus past the knee fall short by design",
                "bound_by": null,
                "stages": [stage(100.0, 0, 500, 500, true), stage(200.0, 6, 1000, 1000, true),
                           stage(400.0, 12, 2000, 1400, false)],
                "services": {"ReportarAfiliaciontraslado": {"sent": 2900, "dropped": 600, "delivered_share": 0.8286}}
            }))
            .expect("delivery"),
        );
        crate::report::tests::run_data(dir, summary)
    }

    #[test]
    fn a_capacity_search_says_which_plateaus_were_delivered() {
        let data = search_run();
        let md = render(&data);
        assert!(
            md.contains("✅ **plan delivered: capacity search, 2 of 3 plateaus delivered"),
            "{md}"
        );
        for row in [
            "| 1 | 100 | 0–5 s | 500 | 500 | 0 | 100.00% | ✅ delivered |",
            "| 2 | 200 | 6–11 s | 1,000 | 1,000 | 0 | 100.00% | ✅ delivered |",
            "| 3 | 400 | 12–17 s | 2,000 | 1,400 | 600 | 70.00% | past the knee (by design) |",
        ] {
            assert!(md.contains(row), "{row}\n{md}");
        }
        assert!(md.contains("| plateau | rate req/s |"), "{md}");
        assert!(
            md.contains("## Latency over 2,900 sent of 3,500 planned requests (ms"),
            "{md}"
        );
        let html = super::super::html::render(&data).expect("html");
        assert!(html.contains("<h3>Per plateau</h3>"), "{html}");
        assert_eq!(
            html.matches(r#"<span class="badge pass">delivered</span>"#)
                .count(),
            2
        );
        assert_eq!(html.matches("past the knee (by design)").count(), 1);
        assert!(!html.contains("NOT delivered"));
    }

    #[test]
    fn a_plateau_short_below_the_knee_is_not_delivered() {
        let mut data = search_run();
        if let Some(d) = data.summary.delivery.as_mut() {
            d.stages[1].delivered = false;
            d.ok = false;
            d.verdict = d.verdict.replace("plan delivered", "plan not delivered");
        }
        let md = render(&data);
        assert!(md.contains("— ❌ failed\n"), "{md}");
        assert!(
            md.contains("| 2 | 200 | 6–11 s | 1,000 | 1,000 | 0 | 100.00% | ❌ not delivered |"),
            "{md}"
        );
        let html = super::super::html::render(&data).expect("html");
        assert_eq!(html.matches("NOT delivered").count(), 1);
    }
}
