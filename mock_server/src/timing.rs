//! The mock's own handler time: an HDR histogram of how long each request to
//! `/token` and the report services spent in its handler (reading the body,
//! validation, the store, the answer), without the latency profile, injected
//! delays, stalls or the capacity queue. `/__admin/stats` shows it under
//! `handler_us` (microseconds), so that a load test can tell the mock's own
//! pauses from the network's and the sender's.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Largest handler time recorded, in microseconds (a minute); longer ones
/// are counted at this value.
const MAX_US: u64 = 60_000_000;

/// The handler-time histogram, 3 significant digits from 1 µs to a minute.
pub(crate) struct HandlerTime(Mutex<Histogram<u64>>);

impl HandlerTime {
    pub(crate) fn new() -> Self {
        let h = Histogram::new_with_bounds(1, MAX_US, 3)
            .unwrap_or_else(|_| unreachable!("1 µs to a minute at 3 digits is a valid histogram"));
        HandlerTime(Mutex::new(h))
    }

    fn histogram(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one handler that took `d`.
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.histogram().saturating_record(us);
    }

    /// Forget every measurement.
    pub(crate) fn reset(&self) {
        self.histogram().reset();
    }

    /// `{"count", "mean", "p50", "p90", "p99", "p999", "max"}`, in µs.
    pub(crate) fn json(&self) -> serde_json::Value {
        let h = self.histogram();
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        serde_json::json!({
            "count": h.len(),
            "mean": if h.is_empty() { 0.0 } else { (h.mean() * 10.0).round() / 10.0 },
            "p50": q(0.5),
            "p90": q(0.9),
            "p99": q(0.99),
            "p999": q(0.999),
            "max": if h.is_empty() { 0 } else { h.max() },
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use crate::{ClientConfig, Mock, MockConfig};

    #[test]
    fn quantiles_of_an_empty_and_a_filled_histogram() {
        let t = super::HandlerTime::new();
        assert_eq!(t.json()["count"], 0);
        assert_eq!(t.json()["p99"], 0);
        for us in 1..=1000u64 {
            t.record(std::time::Duration::from_micros(us));
        }
        let j = t.json();
        assert_eq!(j["count"], 1000);
        let p50 = j["p50"].as_u64().expect("p50");
        assert!((495..=505).contains(&p50), "{j}");
        assert_eq!(j["max"], 1000);
        t.reset();
        assert_eq!(t.json()["count"], 0);
    }

    #[tokio::test]
    async fn stats_carry_the_handler_time_of_paced_requests_only() {
        let mock = Mock::new(
            MockConfig::with_clients(vec![ClientConfig {
                username: "u".into(),
                password: "p".into(),
                client_id: "c".into(),
                administradora: "230301".into(),
                services: None,
            }]),
            std::sync::Arc::clone(mss_contract::Contract::embedded()),
        )
        .expect("mock");
        let app = mock.app();
        for _ in 0..3 {
            let req = Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(
                    "grant_type=password&client_id=c&username=u&password=p",
                ))
                .expect("request");
            let r = app.clone().oneshot(req).await.expect("infallible");
            assert_eq!(r.status(), 200);
        }
        let req = Request::get("/__admin/stats")
            .body(Body::empty())
            .expect("request");
        let r = app.clone().oneshot(req).await.expect("infallible");
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        let stats: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        let h = &stats["handler_us"];
        assert_eq!(h["count"], 3, "admin calls are not counted: {stats}");
        for key in ["mean", "p50", "p90", "p99", "p999", "max"] {
            assert!(h[key].is_number(), "{key}: {stats}");
        }
        assert!(h["max"].as_u64().expect("max") >= h["p50"].as_u64().expect("p50"));
        // The existing keys are still there.
        assert_eq!(stats["token"]["issued"], 3);
        mock.reset();
        assert_eq!(mock.stats()["handler_us"]["count"], 0);
    }
}
