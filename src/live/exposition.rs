//! `GET /metrics` of `run --dashboard`: a [`Frame`]'s counts in the
//! OpenMetrics text format, encoded by the `prometheus-client` crate.
//!
//! Every metric carries `worker`, `scenario` and `run_id`, so that the workers
//! of one run on a cluster are scraped apart and summed by `run_id`:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mss_requests_total` | counter | `service`, `class` (`ok`, `business:NEG01`, `dropped`…) |
//! | `mss_request_latency_seconds` | histogram | `service` (from the intended send time); each bucket's exemplar: the slowest request in it, `# {trace_id="…"} seconds timestamp` |
//! | `mss_request_service_time_seconds` | histogram | `service` (from the actual send) |
//! | `mss_dropped_total` | counter | `service` (due but never sent) |
//! | `mss_planned_total` | counter | (requests the plan asked for so far: due by now; open model and search only) |
//! | `mss_sent_total` | counter | `service` (requests of the plan sent on time; a closed model: sent) |
//! | `mss_token_requests_total`, `mss_token_failures_total` | counter | |
//! | `mss_phase_seconds` | histogram | `service` (a report service, or `token`), `phase` (`dns`, `connect`, `tls`, `send`, `wait`, `receive`): each over the exchanges that went through it |
//! | `mss_connections_opened_total` | counter | `service` (a report service, or `token`) |
//! | `mss_in_flight` | gauge | |
//! | `mss_planned_rate`, `mss_actual_rate` | gauge (req/s) | |
//! | `mss_run_elapsed_seconds`, `mss_run_duration_seconds`, `mss_run_running` | gauge | |

use std::borrow::Cow;

use mss_mock::metrics::constant;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::frame::{BUCKETS_S, Buckets, Counts, Frame, ServiceCounts};
use super::phases::PhaseCounts;
use crate::domain::Service;
use crate::metrics::Exemplar;

/// The media type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `frame` in the OpenMetrics text format (ending in `# EOF`).
pub fn encode(frame: &Frame) -> Result<String, std::fmt::Error> {
    let labels = frame
        .labels
        .iter()
        .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())));
    let mut registry = Registry::with_labels(labels);
    registry.register_collector(Box::new(RunCollector(frame.counts.clone())));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(with_exemplars(&out, &frame.counts))
}

/// The latency histogram's name as encoded (with its unit).
const LATENCY_BUCKET: &str = "mss_request_latency_seconds_bucket{";

/// `text` with each latency bucket's exemplar appended to its line:
/// ` # {trace_id="…"} <seconds> <unix seconds>`. `prometheus-client` encodes
/// exemplars only of the metrics it records itself (its `Exemplar` cannot be
/// built from outside), and the histograms here are HdrHistogram's totals; so
/// the crate writes the text and this adds the exemplars where OpenMetrics
/// puts them. A bucket line is found by its `le` and `service`, the last
/// two labels the crate writes (a label value cannot hold an unescaped `"`).
fn with_exemplars(text: &str, counts: &Counts) -> String {
    let mut out = String::with_capacity(text.len() + 2048);
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        out.push_str(body);
        if body.starts_with(LATENCY_BUCKET)
            && let Some(e) = exemplar_of(body, counts)
        {
            let at =
                e.at.duration_since(std::time::SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
            let _ = std::fmt::Write::write_fmt(
                &mut out,
                format_args!(
                    " # {{trace_id=\"{}\"}} {} {}.{:03}",
                    e.trace_id,
                    e.latency_us as f64 / 1e6,
                    at.as_secs(),
                    at.subsec_millis()
                ),
            );
        }
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The exemplar of the latency bucket a line of the histogram encodes.
fn exemplar_of(line: &str, counts: &Counts) -> Option<Exemplar> {
    let value = |label: &str| {
        let at = line
            .rfind(&format!(",{label}=\""))
            .map(|i| i + label.len() + 3)?;
        line[at..].split('"').next()
    };
    let le = value("le")?;
    let service = Service::from_name(value("service")?)?;
    let bucket = match le {
        "+Inf" => BUCKETS_S.len(),
        le => {
            let le: f64 = le.parse().ok()?;
            BUCKETS_S.iter().position(|b| *b == le)?
        }
    };
    let (_, s) = counts.services.iter().find(|(s, _)| *s == service)?;
    s.latency_exemplars.get(bucket).copied().flatten()
}

#[derive(Debug)]
struct RunCollector(std::sync::Arc<Counts>);

/// A histogram already counted (HdrHistogram's totals in Prometheus buckets).
#[derive(Debug)]
struct ConstHistogram<'a>(&'a Buckets);

impl EncodeMetric for ConstHistogram<'_> {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.sum,
            self.0.count,
            &self.0.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A counter's unit and type.
const COUNTER: (Option<&Unit>, MetricType) = (None, MetricType::Counter);

/// A family of one metric per service (labelled `service`), made of its
/// counts by `metric`; `(unit, type)` as its descriptor says.
fn per_service<'s, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    services: &'s [(Service, ServiceCounts)],
    name: &str,
    help: &str,
    (unit, kind): (Option<&Unit>, MetricType),
    metric: impl Fn(&'s ServiceCounts) -> M,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, kind)?;
    for (service, s) in services {
        let labels = [("service", service.name())];
        metric(s).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Where the time went, per service (a report service, or `token`) that
/// timed an exchange: `mss_phase_seconds{service,phase}`, a histogram of
/// each phase over the exchanges that went through it, and
/// `mss_connections_opened_total{service}`.
fn phases(
    encoder: &mut DescriptorEncoder<'_>,
    phases: &[(String, PhaseCounts)],
) -> Result<(), std::fmt::Error> {
    if phases.is_empty() {
        return Ok(());
    }
    {
        let mut family = encoder.encode_descriptor(
            "mss_phase",
            "Exchanges' time by phase (dns, connect, tls: only the exchanges that opened a connection; send: request written; wait: time to first byte; receive: body read), per service and the token service",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (service, p) in phases {
            for (phase, buckets) in &p.phases {
                let labels = [("service", service.as_str()), ("phase", phase.name())];
                ConstHistogram(buckets).encode(family.encode_family(&labels)?)?;
            }
        }
    }
    let mut family = encoder.encode_descriptor(
        "mss_connections_opened",
        "Connections opened, per service and the token service (a target that closes its connections shows a rate that follows the request rate)",
        None,
        MetricType::Counter,
    )?;
    for (service, p) in phases {
        let labels = [("service", service.as_str())];
        ConstCounter::new(p.opened).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for RunCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let c = &self.0;
        {
            let mut family = encoder.encode_descriptor(
                "mss_requests",
                "Report requests by service and outcome class (ok, business:<codigo>, http_5xx:<status>, dropped, ...)",
                None,
                MetricType::Counter,
            )?;
            for (service, s) in &c.services {
                for (class, n) in &s.classes {
                    let labels = [("service", service.name()), ("class", class.as_str())];
                    ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        for (name, help, pick) in [
            (
                "mss_request_latency",
                "Report request latency from the intended send time (coordinated omission included)",
                (|s: &ServiceCounts| &s.latency) as fn(&_) -> &Buckets,
            ),
            (
                "mss_request_service_time",
                "Report request service time from the actual send",
                |s| &s.service_time,
            ),
        ] {
            let seconds = (Some(&Unit::Seconds), MetricType::Histogram);
            per_service(&mut encoder, &c.services, name, help, seconds, |s| {
                ConstHistogram(pick(s))
            })?;
        }
        per_service(
            &mut encoder,
            &c.services,
            "mss_dropped",
            "Report requests due but never sent (every sender busy)",
            COUNTER,
            |s| ConstCounter::new(s.dropped),
        )?;
        // The plan delivered: sent over planned, summed by run_id, is the
        // delivered share (a ticket's service is drawn when it is taken, so
        // the plan has no service until then).
        if let Some(planned) = c.planned {
            constant(
                &mut encoder,
                "mss_planned",
                "Report requests the plan asked for so far (due by now; this worker's share)",
                ConstCounter::new(planned),
            )?;
        }
        per_service(
            &mut encoder,
            &c.services,
            "mss_sent",
            "Report requests of the plan sent on time (a closed model: sent)",
            COUNTER,
            |s| ConstCounter::new(s.sent),
        )?;
        constant(
            &mut encoder,
            "mss_token_requests",
            "Requests to the token endpoint",
            ConstCounter::new(c.token_requests),
        )?;
        constant(
            &mut encoder,
            "mss_token_failures",
            "Requests to the token endpoint that produced no token",
            ConstCounter::new(c.token_failures),
        )?;
        phases(&mut encoder, &c.phases)?;
        // The gauges, in this order; a `None` (the closed model's planned
        // rate) is left out.
        for (name, help, value) in [
            (
                "mss_in_flight",
                "Report requests in flight",
                Some(c.in_flight as f64),
            ),
            (
                "mss_planned_rate",
                "The plan's rate now for this worker, requests per second",
                c.planned_rate,
            ),
            (
                "mss_actual_rate",
                "Report requests completed in the last whole second",
                Some(c.actual_rate),
            ),
            (
                "mss_run_elapsed_seconds",
                "Seconds since the load started",
                Some(c.elapsed_s),
            ),
            (
                "mss_run_duration_seconds",
                "Planned length of the load",
                Some(c.duration_s),
            ),
            (
                "mss_run_running",
                "1 while load is sent, 0 before and after",
                Some(if c.running { 1.0 } else { 0.0 }),
            ),
        ] {
            if let Some(value) = value {
                constant(&mut encoder, name, help, ConstGauge::new(value))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::Service;
    use crate::live::frame::ServiceCounts;

    #[test]
    fn a_frame_encodes_with_its_labels_counters_and_histograms() {
        let mut h = crate::hdr::histogram();
        crate::hdr::record(&mut h, 3_000);
        let service = ServiceCounts {
            classes: [("ok".to_owned(), 7), ("business:NEG01".to_owned(), 2)]
                .into_iter()
                .collect(),
            latency: Buckets::of(&h),
            service_time: Buckets::of(&h),
            latency_exemplars: {
                // One request of 3 ms, in the 5-ms bucket (index 2).
                let mut e = vec![None; BUCKETS_S.len() + 1];
                e[2] = Some(Exemplar {
                    trace_id: crate::trace::TraceId([0xab; 16]),
                    latency_us: 3_000,
                    at: std::time::SystemTime::UNIX_EPOCH
                        + std::time::Duration::from_millis(1_765_000_000_250),
                });
                e
            },
            dropped: 2,
            sent: 9,
        };
        let frame = Frame {
            json: "{}".into(),
            counts: Arc::new(Counts {
                services: vec![(Service::Afiliacion, service)],
                token_requests: 3,
                planned_rate: Some(12.5),
                planned: Some(11),
                ..Counts::default()
            }),
            labels: Arc::new(vec![
                ("worker".into(), "1".into()),
                ("scenario".into(), "say \"hi\"".into()),
                ("run_id".into(), "r1".into()),
            ]),
        };
        let text = encode(&frame).expect("encodes");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE mss_requests counter"), "{text}");
        assert!(
            text.contains(r#"mss_requests_total{worker="1",scenario="say \"hi\"",run_id="r1",service="ReportarAfiliaciontraslado",class="business:NEG01"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mss_request_latency_seconds_bucket{worker="1",scenario="say \"hi\"",run_id="r1",le="0.005",service="ReportarAfiliaciontraslado"} 1 # {trace_id="abababababababababababababababab"} 0.003 1765000000.250"#),
            "{text}"
        );
        // Only the latency histogram's bucket that has one carries an exemplar.
        assert_eq!(text.matches(" # {trace_id=").count(), 1, "{text}");
        assert!(text.contains("mss_planned_rate{"), "{text}");
        // The plan delivered: planned (no service: drawn when a ticket is
        // taken), sent and dropped per service.
        assert!(text.contains("# TYPE mss_planned counter"), "{text}");
        assert!(
            text.contains(r#"mss_planned_total{worker="1",scenario="say \"hi\"",run_id="r1"} 11"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mss_sent_total{worker="1",scenario="say \"hi\"",run_id="r1",service="ReportarAfiliaciontraslado"} 9"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mss_dropped_total{worker="1",scenario="say \"hi\"",run_id="r1",service="ReportarAfiliaciontraslado"} 2"#),
            "{text}"
        );
        // A closed model plans users: no planned counter.
        let closed = Frame {
            counts: Arc::new(Counts {
                planned: None,
                ..(*frame.counts).clone()
            }),
            ..frame.clone()
        };
        assert!(
            !encode(&closed)
                .expect("encodes")
                .contains("mss_planned_total")
        );
        assert!(text.contains("mss_token_requests_total{"), "{text}");
    }
}
