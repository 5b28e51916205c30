//! Whether a run delivered its plan: `summary.json`'s `delivery` section
//! ([`Delivery`]) and `delivery.csv`, its evidence second by second
//! ([`DeliveryRow`]). docs/results.md says what each number means for each
//! load model; the verdict fills them (src/verdict/delivery.rs).

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The load model a run's delivery is judged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryModel {
    /// An arrival rate: the plan is a number of requests, each due at its
    /// time.
    Open,
    /// Users for a duration: the plan is the users' time, not a number of
    /// requests.
    Closed,
    /// A capacity search: plateaus past the knee fall short by design.
    Search,
}

/// What held a run back from its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The target answered too slowly for the in-flight cap: every sender
    /// waited on an answer (Little's law: the rate times the answer time
    /// needs more requests in flight than the cap allows).
    Target,
    /// The harness itself: its CPU at a full core, or its requests leaving
    /// late; the latencies it measured are then partly its own.
    Harness,
    /// Connections: refused, timed out, not resolved, no TLS.
    Connections,
    /// The sending stopped: a production cap, or a data error.
    Stopped,
    /// The evidence names nothing.
    Unknown,
}

impl Limit {
    /// Its name as `summary.json` and the reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Target => "target",
            Limit::Harness => "harness",
            Limit::Connections => "connections",
            Limit::Stopped => "stopped",
            Limit::Unknown => "unknown",
        }
    }
}

/// The figures behind a [`Limit`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Seconds in which the plan fell short (tickets dropped).
    pub seconds_short: u64,
    /// Of those, the seconds in which the in-flight cap was full.
    pub seconds_cap_full: u64,
    /// Of those, the seconds in which the harness was busy (its busiest
    /// worker thread at 90% of a core or more, or requests leaving 10 ms or
    /// more late at p99).
    pub seconds_harness_busy: u64,
    /// The most requests the run lets be in flight at once (its senders).
    pub in_flight_cap: u64,
    /// The most requests in flight at once in any second.
    pub in_flight_peak: u64,
    /// The planned rate in the seconds that fell short, req/s.
    pub planned_rate: f64,
    /// The mean service time of the requests sent, ms.
    pub mean_service_ms: f64,
    /// Little's law: `planned_rate × mean_service_ms` — the requests that
    /// rate needs in flight at that answer time.
    pub needed_in_flight: f64,
    /// The harness's highest CPU in a second, % of one core (its threads,
    /// the embedded mock's left out); null where it could not be read.
    #[serde(deserialize_with = "super::keys::nullable")]
    #[schemars(with = "super::keys::Nullable<f64>")]
    pub harness_cpu_max_pct: Option<f64>,
    /// The busiest worker thread's highest share of a core in a second, %.
    #[serde(deserialize_with = "super::keys::nullable")]
    #[schemars(with = "super::keys::Nullable<f64>")]
    pub busiest_worker_max_pct: Option<f64>,
    /// The highest per-second send lag p99, ms.
    pub send_lag_p99_max_ms: f64,
    /// Requests that failed to connect (`connect_refused`, `connect_timeout`,
    /// `dns`, `tls`).
    pub connection_errors: u64,
}

/// What held the run back, in words and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundBy {
    /// What it was.
    pub limit: Limit,
    /// The first second it showed.
    #[serde(deserialize_with = "super::keys::nullable")]
    #[schemars(with = "super::keys::Nullable<u64>")]
    pub since_s: Option<u64>,
    /// The explanation a person reads.
    pub explanation: String,
    /// The figures.
    pub evidence: Evidence,
}

/// One stage's (or plateau's) delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageDelivery {
    /// The stage's rate at its end, req/s.
    pub rate: f64,
    /// Its first second.
    pub start_s: u64,
    /// Its end, seconds.
    pub end_s: u64,
    /// Requests due in it.
    pub planned: u64,
    /// Of those, sent on time.
    pub sent: u64,
    /// Of those, dropped.
    pub dropped: u64,
    /// `sent / planned` (1 when nothing was planned).
    pub delivered_share: f64,
    /// Whether it was delivered within the run's bound.
    pub delivered: bool,
}

/// One service's delivery: a ticket's service is drawn when it is taken, so
/// a service's plan is what was sent and dropped under it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDelivery {
    /// Requests sent on time.
    pub sent: u64,
    /// Requests dropped.
    pub dropped: u64,
    /// `sent / (sent + dropped)` (1 when neither).
    pub delivered_share: f64,
}

/// Whether the run sent what it planned, and what held it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The load model the plan is read in.
    pub model: DeliveryModel,
    /// Requests the plan asked for (open model, search: the tickets due,
    /// until the signal for an interrupted run); null for a closed model,
    /// whose plan is its users' time.
    #[serde(deserialize_with = "super::keys::nullable")]
    #[schemars(with = "super::keys::Nullable<u64>")]
    pub planned: Option<u64>,
    /// Requests handed to the target on time (their answers, errors or not,
    /// are in the services' classes).
    pub sent: u64,
    /// Requests planned and dropped: taken too late (every sender was busy)
    /// or never taken.
    pub dropped: u64,
    /// Requests planned and not sent because the sending stopped (a
    /// production cap, a data error).
    pub unsent: u64,
    /// Open model: `sent / planned`; closed model: the share of the planned
    /// time the users were sending.
    pub delivered_share: f64,
    /// The most requests the run lets be in flight at once: its senders
    /// (`max_in_flight`, or the closed model's users; a merge adds its
    /// workers').
    pub in_flight_cap: u64,
    /// The largest undelivered share the verdict allows.
    pub bound: f64,
    /// Where the bound comes from: `default (0.1%)`, or the scenario's
    /// global `drop_rate` threshold.
    pub bound_source: String,
    /// Whether the plan was delivered within the bound (a search: every
    /// plateau up to its knee).
    pub ok: bool,
    /// The verdict's first line, in words.
    pub verdict: String,
    /// What held the run back (null when it was delivered).
    #[serde(deserialize_with = "super::keys::nullable")]
    #[schemars(with = "super::keys::Nullable<BoundBy>")]
    pub bound_by: Option<BoundBy>,
    /// Per stage (open model) or plateau (search).
    pub stages: Vec<StageDelivery>,
    /// Per service, by its protocol name.
    pub services: BTreeMap<String, ServiceDelivery>,
}

/// One second of `delivery.csv`: the plan's tickets due in it and what
/// became of them, beside the harness's own load then. Columns of a value
/// that was not measured are empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// Seconds from the start of the load.
    pub second: u64,
    /// Tickets due in it (open model; empty for a closed model).
    pub planned: Option<u64>,
    /// Of those, sent on time (closed model: requests sent in it).
    pub sent: u64,
    /// Of those, dropped.
    pub dropped: u64,
    /// The most requests in flight at once.
    pub in_flight_peak: u64,
    /// The highest p99 of the services' send lag, ms.
    pub send_lag_p99_ms: f64,
    /// The harness's CPU, % of one core.
    pub harness_cpu_pct: Option<f64>,
    /// Its busiest Tokio worker thread, % of a core.
    pub busiest_worker_pct: Option<f64>,
    /// Its idlest Tokio worker thread, % of a core.
    pub idlest_worker_pct: Option<f64>,
}

/// The rows of workers' `delivery.csv` files joined on wall-clock seconds:
/// each worker's rows shifted by its offset (its start, in whole seconds
/// after the earliest worker's), counts and in-flight peaks added, the send
/// lag and the CPU the highest of any worker (each worker is a harness of
/// its own: the busiest says whether one held the run back).
pub fn join(parts: &[(u64, &[DeliveryRow])]) -> Vec<DeliveryRow> {
    let mut joined: BTreeMap<u64, DeliveryRow> = BTreeMap::new();
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for (offset, rows) in parts {
        for r in *rows {
            let second = r.second + offset;
            let into = joined.entry(second).or_insert_with(|| DeliveryRow {
                second,
                planned: Some(0),
                ..DeliveryRow::default()
            });
            into.planned = into.planned.zip(r.planned).map(|(a, b)| a + b);
            into.sent += r.sent;
            into.dropped += r.dropped;
            into.in_flight_peak += r.in_flight_peak;
            into.send_lag_p99_ms = into.send_lag_p99_ms.max(r.send_lag_p99_ms);
            into.harness_cpu_pct = max(into.harness_cpu_pct, r.harness_cpu_pct);
            into.busiest_worker_pct = max(into.busiest_worker_pct, r.busiest_worker_pct);
            into.idlest_worker_pct = max(into.idlest_worker_pct, r.idlest_worker_pct);
        }
    }
    joined.into_values().collect()
}

/// `12345` as `12,345`: counts as the verdict and the reports write them.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The header of `delivery.csv`, written even when it has no row.
const HEADER: &str = "second,planned,sent,dropped,in_flight_peak,send_lag_p99_ms,harness_cpu_pct,busiest_worker_pct,idlest_worker_pct\n";

/// `delivery.csv`.
pub fn csv(rows: &[DeliveryRow]) -> anyhow::Result<Vec<u8>> {
    if rows.is_empty() {
        return Ok(HEADER.as_bytes().to_vec());
    }
    super::rows::to_csv(rows, "delivery.csv")
}

/// A folder's `delivery.csv` rows; an empty list for a folder written before
/// the file existed.
pub fn read(dir: &Path) -> anyhow::Result<Vec<DeliveryRow>> {
    let path = dir.join("delivery.csv");
    if !path.exists() {
        return Ok(Vec::new());
    }
    super::rows::read(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(215), "215");
        assert_eq!(grouped(2_000), "2,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn rows_round_trip_with_empty_cells_for_what_was_not_measured() {
        let rows = vec![
            DeliveryRow {
                second: 0,
                planned: Some(200),
                sent: 20,
                dropped: 180,
                in_flight_peak: 20,
                send_lag_p99_ms: 0.25,
                harness_cpu_pct: Some(3.5),
                busiest_worker_pct: Some(2.0),
                idlest_worker_pct: Some(1.0),
            },
            DeliveryRow {
                second: 1,
                sent: 7,
                ..DeliveryRow::default()
            },
        ];
        let text = String::from_utf8(csv(&rows).expect("csv")).expect("utf-8");
        assert!(text.starts_with(HEADER), "{text}");
        assert!(text.contains("\n1,,7,0,0,0.0,,,\n"), "{text}");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("delivery.csv"), &text).expect("write");
        assert_eq!(read(dir.path()).expect("read"), rows);
        assert_eq!(
            String::from_utf8(csv(&[]).expect("csv")).expect("utf-8"),
            HEADER
        );
        let empty = tempfile::tempdir().expect("dir");
        assert!(read(empty.path()).expect("no file").is_empty());
    }
}
