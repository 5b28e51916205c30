//! Where the time goes, live: each report service's and the token service's
//! exchanges timed by phase so far ([`crate::metrics::Metrics::phases`], the
//! token caches' [`crate::token::TokenCache::phases`]), as the dashboard's
//! frame shows them (the mean of each phase, the connections opened in the
//! last whole second) and as `/metrics` exposes them (a histogram per service
//! and phase, the connections opened).

use serde_json::{Value, json};

use super::frame::Buckets;
use crate::domain::Service;
use crate::engine::RunContext;
use crate::transport::{Phase, PhaseHistograms};

/// One service's phases, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct PhaseCounts {
    /// Per phase some exchange went through, its times.
    pub phases: Vec<(Phase, Buckets)>,
    /// Connections opened.
    pub opened: u64,
    /// Exchanges timed.
    pub exchanges: u64,
}

/// What the run timed so far, per report service (its protocol name) and for
/// the token service (`token`): every service the run sends to, timed or not.
fn timed(ctx: &RunContext) -> Vec<(String, PhaseHistograms)> {
    let mut all: Vec<(String, PhaseHistograms)> = Service::ALL
        .into_iter()
        .zip(ctx.metrics().phases())
        .map(|(s, h)| (s.name().to_owned(), h))
        .collect();
    let mut token = PhaseHistograms::new();
    for cache in ctx.token_caches() {
        token.add(&cache.phases());
    }
    all.push((crate::results::phases::TOKEN.to_owned(), token));
    all
}

/// The frame's `phases` (per service that timed an exchange: exchanges,
/// opened, reused, opened in second `last_second`, and per phase its count
/// and mean, p50 and p99 in ms) and `/metrics`' counts, of the run of `ctx`.
pub fn of(ctx: &RunContext, last_second: Option<u64>) -> (Value, Vec<(String, PhaseCounts)>) {
    let mut json = serde_json::Map::new();
    let mut counts = Vec::new();
    for (name, h) in timed(ctx) {
        if h.exchanges() > 0 {
            let (j, c) = entry(&h, last_second);
            json.insert(name.clone(), j);
            counts.push((name, c));
        }
    }
    (Value::Object(json), counts)
}

/// One service's entry of the frame's `phases`, and its counts for `/metrics`.
fn entry(h: &PhaseHistograms, last_second: Option<u64>) -> (Value, PhaseCounts) {
    let ms = |us: f64| (us / 10.0).round() / 100.0;
    let timed = || {
        Phase::ALL
            .into_iter()
            .filter(|p| !h.histogram(*p).is_empty())
    };
    let phases: serde_json::Map<String, Value> = timed()
        .map(|p| {
            let hp = h.histogram(p);
            (
                p.name().to_owned(),
                json!({
                    "count": hp.len(),
                    "mean_ms": ms(hp.mean()),
                    "p50_ms": ms(hp.value_at_quantile(0.5) as f64),
                    "p99_ms": ms(hp.value_at_quantile(0.99) as f64),
                }),
            )
        })
        .collect();
    let opened_last = last_second
        .and_then(|s| h.opened_per_second().get(usize::try_from(s).ok()?).copied())
        .unwrap_or(0);
    (
        json!({
            "exchanges": h.exchanges(),
            "opened": h.opened(),
            "reused": h.reused(),
            "opened_last_s": opened_last,
            "phases": phases,
        }),
        PhaseCounts {
            phases: timed().map(|p| (p, Buckets::of(h.histogram(p)))).collect(),
            opened: h.opened(),
            exchanges: h.exchanges(),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::live::exposition::encode;
    use crate::live::frame::{Counts, Frame};

    #[test]
    fn the_dashboard_and_metrics_show_each_phase_over_its_own_exchanges() {
        // 10 exchanges a second for 3 s, the first of each opening a connection.
        let h = crate::results::phases::fixture::timed(30, 10, (200, 30), |n| n / 10);
        let (json, counts) = entry(&h, Some(2));
        assert_eq!(
            (&json["exchanges"], &json["opened"], &json["opened_last_s"]),
            (&30.into(), &3.into(), &1.into()),
            "{json}"
        );
        assert_eq!(json["phases"]["tls"]["count"], 3, "{json}");
        let tls = json["phases"]["tls"]["mean_ms"].as_f64().expect("mean");
        assert!((199.0..=201.0).contains(&tls), "{json}");
        assert!(json["phases"].get("dns").is_none(), "{json}");

        let frame = Frame {
            json: "{}".into(),
            counts: Arc::new(Counts {
                phases: vec![("token".to_owned(), counts)],
                ..Counts::default()
            }),
            labels: Arc::new(vec![("run_id".into(), "r1".into())]),
        };
        let text = encode(&frame).expect("encodes");
        assert!(
            text.contains("# TYPE mss_phase_seconds histogram"),
            "{text}"
        );
        // Whole lines: a count of 3 is not a prefix of 30.
        let line = |l: &str| text.lines().any(|x| x == l);
        for expected in [
            r#"mss_phase_seconds_count{run_id="r1",service="token",phase="tls"} 3"#,
            r#"mss_phase_seconds_count{run_id="r1",service="token",phase="wait"} 30"#,
            r#"mss_phase_seconds_bucket{run_id="r1",le="0.25",service="token",phase="tls"} 3"#,
            r#"mss_connections_opened_total{run_id="r1",service="token"} 3"#,
        ] {
            assert!(line(expected), "{expected} in\n{text}");
        }
        assert!(!text.contains(r#"phase="dns""#), "{text}");
        // Nothing timed: neither family.
        let text = encode(&Frame::waiting()).expect("encodes");
        assert!(!text.contains("mss_phase") && !text.contains("mss_connections"));
    }
}
