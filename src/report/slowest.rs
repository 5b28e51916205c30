//! The reports' "Slowest requests" table: per service the run's slowest
//! requests (`summary.json`'s `services.<name>.slowest`) with what finds them
//! in the AP's and the ministry's logs — trace id, time sent, radicado — one
//! row list both `report.html` and `report.md` draw.

use serde::Serialize;

use super::{active_services, fmt_ms};
use crate::results::Summary;

/// One row of the table, its cells as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Row {
    /// The service's protocol name.
    pub service: String,
    /// 32 hex digits, or `—` for a request sent without a `traceparent`.
    pub trace_id: String,
    /// When it was sent, UTC (RFC 3339).
    pub sent_at: String,
    /// Latency from the intended send time, ms.
    pub latency_ms: String,
    /// Service time from the actual send, ms.
    pub service_time_ms: String,
    /// Its class (`ok`, `business:NEG01`, `read_timeout`...).
    pub class: String,
    /// The report's radicado (`—` when its body had none).
    pub radicado: String,
}

/// Every service's slowest requests, slowest first within a service; empty
/// for a summary that lists none.
pub(crate) fn rows(summary: &Summary) -> Vec<Row> {
    let dash = |s: &str| {
        if s.is_empty() {
            "—".to_owned()
        } else {
            s.to_owned()
        }
    };
    active_services(summary)
        .into_iter()
        .flat_map(|(name, v)| {
            v.slowest.iter().flatten().map(move |s| Row {
                service: name.to_owned(),
                trace_id: dash(s.trace_id.as_deref().unwrap_or_default()),
                sent_at: s.sent_at.clone(),
                latency_ms: fmt_ms(s.latency_us),
                service_time_ms: fmt_ms(s.service_time_us),
                class: s.class.clone(),
                radicado: dash(&s.radicado),
            })
        })
        .collect()
}
