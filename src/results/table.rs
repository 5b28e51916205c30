//! The summary table a run, `merge` and `report` print, from a [`Summary`].

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::Summary;

/// Print [`table`] to stdout.
pub fn print(summary: &Summary, dir: &Path) {
    let _ = std::io::stdout()
        .lock()
        .write_all(table(summary, dir).as_bytes());
}

/// How a signal stopped the run, in a line (`None` for a run that was not
/// stopped): e.g. `SIGTERM 3.2 s into the run; 12 requests in flight, 4
/// abandoned as interrupted after a 5 s grace period`.
pub fn interruption_text(summary: &Summary) -> Option<String> {
    let i = summary.interrupted.as_ref()?;
    Some(format!(
        "{} {:.1} s into the run (planned {:.0} s); {} requests in flight, {} abandoned as interrupted after a {} s grace period",
        i.signal.name(),
        i.at_s,
        i.planned_duration_s,
        i.in_flight_at_signal,
        i.interrupted,
        i.grace_s,
    ))
}

/// What the latency percentiles cover: `latency percentiles over 215 sent
/// of 2,000 planned requests` (`None` for a summary without delivery).
pub fn coverage(summary: &Summary) -> Option<String> {
    let d = summary.delivery.as_ref()?;
    let grouped = super::delivery::grouped;
    Some(match d.planned {
        Some(planned) => format!(
            "latency percentiles over {} sent of {} planned requests",
            grouped(d.sent),
            grouped(planned)
        ),
        None => format!(
            "latency percentiles over {} requests sent (a closed model plans users, not requests)",
            grouped(d.sent)
        ),
    })
}

/// The summary table: per service the requests, how many the target stored,
/// how many invalid records it refused with their expected codigo, the errors
/// (each class below), the latency; then tokens, thresholds, the
/// reconciliation and the results folder.
pub fn table(summary: &Summary, dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<28} {:>8} {:>8} {:>20} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "service",
        "requests",
        "stored",
        "rejected_as_expected",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms"
    );
    for (name, s) in &summary.services {
        let ms = |us: u64| us as f64 / 1000.0;
        let _ = writeln!(
            out,
            "{name:<28} {:>8} {:>8} {:>20} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            s.requests,
            s.stored,
            s.rejected_as_expected,
            s.error_count(),
            ms(s.latency_us.p50),
            ms(s.latency_us.p95),
            ms(s.latency_us.p99),
            ms(s.latency_us.max)
        );
        for (class, n) in &s.errors {
            let _ = writeln!(out, "    {class:<24} {n:>8}");
        }
    }
    if let Some(line) = coverage(summary) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "tokens: {} requests, {} refreshes; dropped: {}",
        summary.token.requests, summary.token.refreshes, summary.dropped
    );
    if let Some(line) = interruption_text(summary) {
        let _ = writeln!(
            out,
            "INTERRUPTED: {line}; the thresholds below judge the load until then"
        );
    }
    if let Some(d) = &summary.delivery {
        let mark = if d.ok { "pass" } else { "FAIL" };
        let _ = writeln!(out, "  [{mark}] {}", d.verdict);
        if let Some(b) = &d.bound_by {
            let _ = writeln!(out, "         {}", b.explanation);
        }
    }
    for t in &summary.thresholds {
        let mark = if t.ok { "pass" } else { "FAIL" };
        let _ = writeln!(
            out,
            "  [{mark}] {}: {} (measured {})",
            t.scope, t.expr, t.shown
        );
    }
    let r = &summary.reconciliation;
    if r.checked {
        let mark = if r.ok == Some(true) { "pass" } else { "FAIL" };
        let per: Vec<String> = r
            .services
            .iter()
            .map(|(name, r)| {
                format!(
                    "{name} harness stored {}, mock holds {}",
                    r.harness, r.target
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  [{mark}] reconciliation with the mock: {}",
            per.join("; ")
        );
    }
    let _ = writeln!(out, "results: {}", dir.display());
    out
}
