//! `report.md`: the run in a page of Markdown, for CI logs and pull requests.

use std::fmt::Write;

use super::{RunData, active_services, fmt_ms};

/// The Markdown report of `data`.
pub fn render(data: &RunData) -> String {
    let s = &data.summary;
    let mut m = String::new();
    let failed = s.thresholds.iter().filter(|t| !t.ok).count();
    let rec_ok = s.reconciliation.ok != Some(false);
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
    let _ = writeln!(
        m,
        "\n## Latency (ms, from the intended send time; service time in brackets)\n"
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
