//! `summary.json`'s per-service `slowest`: the run's slowest requests with
//! what finds them in the AP's and the ministry's logs — trace id, time sent
//! and radicado ([`crate::metrics::SlowRequest`] as a file keeps it), and
//! back, for `merge`, which joins workers' lists.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::SlowRequest;
use crate::outcome::Outcome;
use crate::trace::TraceId;

/// One of a service's slowest requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slow {
    /// The W3C trace id its `traceparent` header carried (32 hex digits);
    /// null when the run sent none ([target] traceparent).
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub trace_id: Option<String>,
    /// When it was sent, UTC (RFC 3339, microseconds).
    #[schemars(extend("format" = "date-time"))]
    pub sent_at: String,
    /// From its intended send time to the answer, µs (as latency_us).
    pub latency_us: u64,
    /// From its actual send to the answer, µs.
    pub service_time_us: u64,
    /// Its class: ok, rejected_as_expected or an error class (as errors).
    pub class: String,
    /// The report's numeroRadicado (empty when the body had none).
    pub radicado: String,
}

impl Slow {
    /// `s` as the file keeps it.
    pub fn of(s: &SlowRequest) -> Self {
        Slow {
            trace_id: s.trace_id.map(|t| t.to_string()),
            sent_at: DateTime::<Utc>::from(s.sent_at).to_rfc3339_opts(SecondsFormat::Micros, true),
            latency_us: s.latency_us,
            service_time_us: s.service_time_us,
            class: s.outcome.label().into_owned(),
            radicado: s.radicado.clone(),
        }
    }

    /// Read back (`merge`), or why not: the key that does not read.
    pub fn request(&self) -> Result<SlowRequest, String> {
        let trace_id = match &self.trace_id {
            Some(t) => Some(parse_trace_id(t).ok_or_else(|| format!("trace_id {t:?}"))?),
            None => None,
        };
        let sent_at = DateTime::parse_from_rfc3339(&self.sent_at)
            .map_err(|e| format!("sent_at {:?}: {e}", self.sent_at))?;
        let outcome =
            Outcome::from_label(&self.class).ok_or_else(|| format!("class {:?}", self.class))?;
        Ok(SlowRequest {
            trace_id,
            sent_at: sent_at.with_timezone(&Utc).into(),
            latency_us: self.latency_us,
            service_time_us: self.service_time_us,
            outcome,
            radicado: self.radicado.clone(),
        })
    }
}

/// 32 lowercase hex digits as a trace id.
fn parse_trace_id(text: &str) -> Option<TraceId> {
    if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(text, 16)
        .ok()
        .map(|n| TraceId(n.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_request_reads_back_as_written() {
        let s = SlowRequest {
            trace_id: Some(TraceId::random()),
            sent_at: std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_micros(1_765_000_000_123_456),
            latency_us: 2_000_000,
            service_time_us: 1_500_000,
            outcome: Outcome::Business("NEG01".into()),
            radicado: "MSS123".into(),
        };
        let slow = Slow::of(&s);
        assert_eq!(slow.sent_at, "2025-12-06T05:46:40.123456Z");
        assert_eq!(slow.request(), Ok(s));
        let bad = Slow {
            trace_id: Some("XYZ".into()),
            ..slow
        };
        assert!(bad.request().expect_err("refused").contains("trace_id"));
    }
}
