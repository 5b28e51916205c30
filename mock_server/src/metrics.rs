//! `GET /__admin/metrics`: the mock's counts (the same as `/__admin/stats`) in
//! the OpenMetrics text format, encoded by the `prometheus-client` crate, so
//! that the Prometheus that watches a run's harness watches its mock too.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mss_mock_requests_total` | counter | `service` (accepted + rejected) |
//! | `mss_mock_accepted_total` | counter | `service` |
//! | `mss_mock_rejections_total` | counter | `service`, `codigo` |
//! | `mss_mock_token_issued_total`, `mss_mock_token_rejected_total` | counter | |
//! | `mss_mock_records_kept` | gauge | |
//! | `mss_mock_faults_injected_total` | counter | `kind` (of the faults in force: a new set starts at 0) |
//! | `mss_mock_shed_total` | counter | (requests shed by the capacity gate) |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// The media type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `stats` (the `/__admin/stats` JSON) in the OpenMetrics text format.
pub fn encode(stats: Value) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StatsCollector(stats)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[derive(Debug)]
struct StatsCollector(Value);

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Reports a service's stats count as rejected, every codigo.
fn rejected(v: &Value) -> u64 {
    v["rejected"]
        .as_object()
        .map_or(0, |r| r.values().map(n).sum())
}

/// One metric without labels of its own (a `ConstCounter`, a `ConstGauge`),
/// under its `# HELP` and `# TYPE`: the mock's and the harness's `/metrics`
/// (src/live/exposition.rs) encode theirs with it.
pub fn constant(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let empty = serde_json::Map::new();
        let services = s["services"].as_object().unwrap_or(&empty);
        for (name, help, value) in [
            (
                "mss_mock_requests",
                "Report requests answered, accepted or rejected, by service",
                (|v: &Value| n(&v["accepted"]) + rejected(v)) as fn(&Value) -> u64,
            ),
            (
                "mss_mock_accepted",
                "Reports accepted (records kept) by service",
                |v| n(&v["accepted"]),
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (service, v) in services {
                ConstCounter::new(value(v))
                    .encode(family.encode_family(&[("service", service.as_str())])?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "mss_mock_rejections",
                "Reports rejected, by service and codigo",
                None,
                MetricType::Counter,
            )?;
            for (service, v) in services {
                for (codigo, count) in v["rejected"].as_object().unwrap_or(&empty) {
                    let labels = [("service", service.as_str()), ("codigo", codigo.as_str())];
                    ConstCounter::new(n(count)).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        constant(
            &mut encoder,
            "mss_mock_token_issued",
            "Tokens issued",
            ConstCounter::new(n(&s["token"]["issued"])),
        )?;
        constant(
            &mut encoder,
            "mss_mock_token_rejected",
            "Token requests refused",
            ConstCounter::new(n(&s["token"]["rejected"])),
        )?;
        constant(
            &mut encoder,
            "mss_mock_records_kept",
            "Records the mock holds",
            ConstGauge::new(n(&s["records"]["kept"]) as i64),
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "mss_mock_faults_injected",
                "Faults injected, by kind, since the faults in force were set",
                None,
                MetricType::Counter,
            )?;
            for (kind, count) in s["faults_injected"].as_object().unwrap_or(&empty) {
                ConstCounter::new(n(count))
                    .encode(family.encode_family(&[("kind", kind.as_str())])?)?;
            }
        }
        constant(
            &mut encoder,
            "mss_mock_shed",
            "Requests shed by the capacity gate (max_concurrent)",
            ConstCounter::new(n(&s["shed"])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_encode_by_service_and_codigo() {
        let stats = serde_json::json!({
            "token": {"issued": 3, "rejected": 1},
            "services": {
                "ReportarAfiliaciontraslado": {"accepted": 10, "rejected": {"NEG01": 2, "VAL01": 1}},
                "ReportarRetractoAfiliacion": {"accepted": 4, "rejected": {}},
            },
            "records": {"kept": 14, "first_index": 0},
            "faults_injected": {"stall": 5},
            "shed": 7,
        });
        let text = encode(stats).expect("encodes");
        for line in [
            r#"mss_mock_requests_total{service="ReportarAfiliaciontraslado"} 13"#,
            r#"mss_mock_accepted_total{service="ReportarRetractoAfiliacion"} 4"#,
            r#"mss_mock_rejections_total{service="ReportarAfiliaciontraslado",codigo="NEG01"} 2"#,
            "mss_mock_token_issued_total 3",
            "mss_mock_records_kept 14",
            r#"mss_mock_faults_injected_total{kind="stall"} 5"#,
            "mss_mock_shed_total 7",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
