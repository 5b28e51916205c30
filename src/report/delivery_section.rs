//! The reports' delivery section, from `summary.json`'s `delivery`: the
//! verdict's first line (the words the printed table shows), the plan's
//! figures, the bound and where it comes from, what held the run back with
//! its evidence (Little's law when the target did), and the stages (or a
//! search's plateaus) and services. `report.html` and `report.md` render the
//! same [`Section`]; the numbers are formatted once, here.

use serde::Serialize;

use crate::results::Summary;
use crate::results::delivery::{Delivery, DeliveryModel, Limit, grouped};

/// The delivery section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Whether the plan was delivered within the bound.
    pub ok: bool,
    /// The verdict's first line, as `summary.json` and the table say it.
    pub verdict: String,
    /// What the delivered share means for the load model.
    pub model: String,
    /// (label, value): planned, sent, dropped, unsent, delivered share, cap.
    pub figures: Vec<(String, String)>,
    /// The bound, in words.
    pub bound: String,
    /// What held the run back (when the plan was not delivered).
    pub bound_by: Option<HeldBack>,
    /// `stage` or `plateau`.
    pub stage_word: String,
    /// Per stage or plateau.
    pub stages: Vec<StageRow>,
    /// Per service.
    pub services: Vec<ServiceRow>,
}

/// What held the run back, for a reader.
#[derive(Debug, Clone, Serialize)]
pub struct HeldBack {
    /// `target`, `harness`, `connections`, `stopped`, `unknown`.
    pub limit: String,
    /// `from second 3`, or empty.
    pub since: String,
    /// The explanation `summary.json` gives.
    pub explanation: String,
    /// Little's law in one line (the target only).
    pub little: Option<String>,
    /// (label, value) of the evidence.
    pub evidence: Vec<(String, String)>,
}

/// One stage's (or plateau's) row.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// 1-based.
    pub index: usize,
    /// req/s.
    pub rate: String,
    /// `0–10 s`.
    pub span: String,
    /// Requests due in it.
    pub planned: String,
    /// Sent on time.
    pub sent: String,
    /// Dropped.
    pub dropped: String,
    /// `sent / planned`.
    pub share: String,
    /// Within the bound.
    pub delivered: bool,
    /// A search's plateau past the knee: falls short by design.
    pub past_knee: bool,
}

/// One service's row.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    /// The protocol name.
    pub name: String,
    /// `sent + dropped`: a ticket's service is drawn when it is taken.
    pub planned: String,
    /// Sent on time.
    pub sent: String,
    /// Dropped.
    pub dropped: String,
    /// `sent / planned`.
    pub share: String,
}

/// A share as a percentage: `10.80%`.
pub fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// A bound as a percentage without trailing zeros: `0.1%`, `5%`.
pub(crate) fn bound_percent(bound: f64) -> String {
    let text = format!("{:.4}", bound * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The section of `summary` (`None` for a summary written before delivery
/// was recorded).
pub fn section(summary: &Summary) -> Option<Section> {
    let d = summary.delivery.as_ref()?;
    let search = d.model == DeliveryModel::Search;
    let knee = summary.highest_sustained_rate;
    let mut figures = Vec::new();
    match d.planned {
        Some(p) => figures.push(("planned".to_owned(), grouped(p))),
        None => {
            let seconds = summary
                .interrupted
                .as_ref()
                .map_or(summary.duration_s, |i| i.planned_duration_s);
            figures.push((
                "planned".to_owned(),
                format!("{} users × {seconds:.0} s", grouped(d.in_flight_cap)),
            ));
        }
    }
    figures.push(("sent".to_owned(), grouped(d.sent)));
    figures.push(("dropped".to_owned(), grouped(d.dropped)));
    figures.push(("unsent (sending stopped)".to_owned(), grouped(d.unsent)));
    figures.push(("delivered share".to_owned(), percent(d.delivered_share)));
    figures.push(("in-flight cap".to_owned(), grouped(d.in_flight_cap)));
    Some(Section {
        ok: d.ok,
        verdict: d.verdict.clone(),
        model: model_words(d),
        figures,
        bound: format!(
            "at most {} of the plan undelivered; source: {}",
            bound_percent(d.bound),
            d.bound_source
        ),
        bound_by: held_back(d),
        stage_word: if search { "plateau" } else { "stage" }.to_owned(),
        stages: d
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| StageRow {
                index: i + 1,
                rate: format!("{:.0}", s.rate),
                span: format!("{}–{} s", s.start_s, s.end_s),
                planned: grouped(s.planned),
                sent: grouped(s.sent),
                dropped: grouped(s.dropped),
                share: percent(s.delivered_share),
                delivered: s.delivered,
                past_knee: search && knee.is_none_or(|k| s.rate > k + 1e-9),
            })
            .collect(),
        services: d
            .services
            .iter()
            .map(|(name, s)| ServiceRow {
                name: name.clone(),
                planned: grouped(s.sent + s.dropped),
                sent: grouped(s.sent),
                dropped: grouped(s.dropped),
                share: percent(s.delivered_share),
            })
            .collect(),
    })
}

/// What the delivered share means for the run's load model.
fn model_words(d: &Delivery) -> String {
    match d.model {
        DeliveryModel::Open => "Open model: the plan is the requests due at their times; the delivered share is those sent on time over those planned.".to_owned(),
        DeliveryModel::Closed => "Closed model: the plan is its users for the load's duration, not a number of requests; the delivered share is the part of the planned time the users were sending.".to_owned(),
        DeliveryModel::Search => "Capacity search: the plan is each plateau's requests; plateaus past the knee fall short by design and are evidence for it, not a failure. The verdict judges the plateaus up to the highest one sustained.".to_owned(),
    }
}

fn held_back(d: &Delivery) -> Option<HeldBack> {
    let b = d.bound_by.as_ref()?;
    let e = &b.evidence;
    let optional_pct = |v: Option<f64>| {
        v.map_or_else(
            || "not measured".to_owned(),
            |p| format!("{p:.0}% of a core"),
        )
    };
    let evidence = vec![
        (
            "seconds that fell short".to_owned(),
            e.seconds_short.to_string(),
        ),
        (
            "of them, with the in-flight cap full".to_owned(),
            e.seconds_cap_full.to_string(),
        ),
        (
            "of them, with the harness busy".to_owned(),
            e.seconds_harness_busy.to_string(),
        ),
        ("in-flight cap".to_owned(), grouped(e.in_flight_cap)),
        (
            "most in flight in a second".to_owned(),
            grouped(e.in_flight_peak),
        ),
        (
            "planned rate in those seconds".to_owned(),
            format!("{:.1} req/s", e.planned_rate),
        ),
        (
            "mean service time".to_owned(),
            format!("{:.1} ms", e.mean_service_ms),
        ),
        (
            "needed in flight (Little's law)".to_owned(),
            format!("{:.0}", e.needed_in_flight),
        ),
        (
            "harness CPU, highest second".to_owned(),
            optional_pct(e.harness_cpu_max_pct),
        ),
        (
            "busiest worker thread, highest second".to_owned(),
            optional_pct(e.busiest_worker_max_pct),
        ),
        (
            "send lag p99, highest second".to_owned(),
            format!("{:.1} ms", e.send_lag_p99_max_ms),
        ),
        (
            "requests that failed to connect".to_owned(),
            grouped(e.connection_errors),
        ),
    ];
    let little = (b.limit == Limit::Target).then(|| {
        format!(
            "Little's law: {:.0} req/s × {:.2} s per answer ≈ {:.0} requests in flight needed; the cap was {}.",
            e.planned_rate,
            e.mean_service_ms / 1000.0,
            e.needed_in_flight,
            grouped(e.in_flight_cap)
        )
    });
    Some(HeldBack {
        limit: b.limit.name().to_owned(),
        since: b
            .since_s
            .map_or_else(String::new, |s| format!("from second {s}")),
        explanation: b.explanation.clone(),
        little,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_shares_read_as_percentages() {
        assert_eq!(bound_percent(0.001), "0.1%");
        assert_eq!(bound_percent(0.05), "5%");
        assert_eq!(bound_percent(0.0025), "0.25%");
        assert_eq!(percent(0.108), "10.80%");
        assert_eq!(percent(1.0), "100.00%");
    }
}
