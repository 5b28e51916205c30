//! Did the run send what it planned? `summary.json`'s `delivery`, judged
//! from the run's record: the plan's requests against those sent on time,
//! for the run, each stage and each service; a bound on the undelivered
//! share (0.1% of the plan unless the scenario sets a global `drop_rate`
//! threshold, which then is the bound); and, when the plan fell short, what
//! held the run back, named from the evidence the run recorded second by
//! second:
//!
//! - **connections**: requests that failed to connect;
//! - **the harness**: in the seconds that fell short, its busiest worker
//!   thread at [`BUSY_WORKER_PCT`] of a core or more (even with the
//!   in-flight cap full: a harness at a full core reads answers late and so
//!   fills its own cap), or its requests leaving [`LATE_SEND_MS`] or more
//!   late (send lag p99) while the cap was not full — the latencies it
//!   measured are then partly its own;
//! - **the target**: in those seconds the in-flight cap was full and the
//!   harness had room — every sender waited on an answer. Little's law says how many requests in
//!   flight the planned rate needs at the answer time measured;
//! - **stopped**: a production cap ended the sending.
//!
//! A closed model plans users for a duration, not requests: its delivery is
//! the share of the planned time its users were sending. A capacity search
//! falls short past its knee by design: only the plateaus up to the highest
//! one sustained must be delivered.

use std::collections::BTreeMap;

use crate::domain::Service;
use crate::metrics::ServiceTotals;
use crate::outcome::Outcome;
use crate::results::Stage;
use crate::results::delivery::{
    BoundBy, Delivery, DeliveryModel, DeliveryRow, Evidence, Limit, ServiceDelivery, StageDelivery,
    grouped,
};
use crate::results::record::{DeliveryRecord, RunFacts, RunRecord};
use crate::scenario::Metric;

/// The undelivered share a run may leave when its scenario sets no global
/// `drop_rate` threshold: 0.1% of the plan.
pub const DEFAULT_BOUND: f64 = 0.001;
/// A worker thread this busy (% of a core) in a second is a busy harness.
pub const BUSY_WORKER_PCT: f64 = 90.0;
/// Requests leaving this late (send lag p99, ms) in a second: a late harness.
pub const LATE_SEND_MS: f64 = 10.0;

/// The delivery of `record` (`None` for a record without one: folders
/// written before it was recorded). `stages` are the judged plateaus (a
/// search's steps), `highest` the highest sustained rate.
pub fn delivery(
    record: &RunRecord<'_>,
    facts: &RunFacts,
    stages: &[Stage],
    highest: Option<f64>,
) -> Option<Delivery> {
    let d = record.delivery.as_ref()?;
    let model = if facts.search {
        DeliveryModel::Search
    } else if facts.open.is_some() {
        DeliveryModel::Open
    } else {
        DeliveryModel::Closed
    };
    let (bound, bound_source, holds) = bound(facts);
    let sent: u64 = d.rows.iter().map(|r| r.sent).sum();
    let dropped: u64 = d.rows.iter().map(|r| r.dropped).sum();
    // What ended the sending on purpose: a production cap, or a feeder's
    // rows running out.
    let cap_reached = record.audit.as_ref().and_then(|a| {
        a.production
            .as_ref()
            .and_then(|p| p.cap_reached.as_ref())
            .map(|c| format!("the production cap {c} was reached"))
            .or_else(|| {
                a.feeder.as_ref().filter(|f| f.exhausted).map(|f| {
                    format!(
                        "the feeder's data ran out ({} of {} rows, strategy {})",
                        f.rows_sent, f.rows, f.strategy
                    )
                })
            })
    });
    let (planned, unsent, share) = match model {
        DeliveryModel::Closed => {
            let planned_s = facts.planned.as_secs_f64().max(1e-9);
            // The users sent until a production cap stopped them (to the last
            // second anything went out), else for the whole load.
            let held_s = match &cap_reached {
                Some(_) => d
                    .rows
                    .iter()
                    .filter(|r| r.sent > 0)
                    .map(|r| r.second + 1)
                    .max()
                    .unwrap_or(0) as f64,
                None => record.seconds,
            };
            (None, 0, (held_s / planned_s).min(1.0))
        }
        DeliveryModel::Open | DeliveryModel::Search => {
            let planned: u64 = d.rows.iter().filter_map(|r| r.planned).sum();
            let unsent = planned.saturating_sub(sent + dropped);
            (Some(planned), unsent, share_of(sent, planned))
        }
    };
    let stage_rows = stage_deliveries(d, facts, stages, &*holds);
    let ok = match model {
        DeliveryModel::Search => stage_rows
            .iter()
            .filter(|s| highest.is_some_and(|h| s.rate <= h + 1e-9))
            .all(|s| s.delivered),
        _ => holds(1.0 - share),
    };
    let bound_by =
        (!ok).then(|| bound_by(d, &record.totals, cap_reached.as_deref(), unsent, dropped));
    let verdict = words(model, ok, planned, sent, share, facts, &stage_rows, highest);
    Some(Delivery {
        model,
        planned,
        sent,
        dropped,
        unsent,
        delivered_share: round4(share),
        in_flight_cap: d.in_flight_cap,
        bound,
        bound_source,
        ok,
        verdict,
        bound_by,
        stages: stage_rows,
        services: services(d),
    })
}

/// The bound, where it comes from, and how a share of the plan left
/// undelivered is judged against it.
fn bound(facts: &RunFacts) -> (f64, String, Box<dyn Fn(f64) -> bool>) {
    match facts
        .thresholds
        .iter()
        .find(|(scope, t)| scope.is_none() && t.metric == Metric::DropRate)
    {
        Some((_, t)) => {
            let t = t.clone();
            (
                t.bound,
                format!("scenario: {}", t.expr),
                Box::new(move |v| t.holds(v)),
            )
        }
        None => (
            DEFAULT_BOUND,
            "default (0.1%)".to_owned(),
            // Rounding noise of a share must not fail an exact delivery.
            Box::new(|v| v <= DEFAULT_BOUND + 1e-12),
        ),
    }
}

fn share_of(sent: u64, planned: u64) -> f64 {
    if planned == 0 {
        1.0
    } else {
        (sent as f64 / planned as f64).min(1.0)
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Each stage of the open model, or each plateau of a search, with what was
/// due in its seconds and what became of it.
fn stage_deliveries(
    d: &DeliveryRecord,
    facts: &RunFacts,
    stages: &[Stage],
    holds: &dyn Fn(f64) -> bool,
) -> Vec<StageDelivery> {
    let spans: Vec<(f64, u64, u64)> = if facts.search {
        stages
            .iter()
            .map(|s| (s.rate, s.start_s, s.end_s))
            .collect()
    } else if let Some((_, open)) = &facts.open {
        let mut at = 0.0;
        open.iter()
            .map(|(rate, length)| {
                let start = at;
                at += length.as_secs_f64();
                (*rate, start.round() as u64, at.round() as u64)
            })
            .collect()
    } else {
        Vec::new()
    };
    spans
        .into_iter()
        .map(|(rate, start_s, end_s)| {
            let rows = d
                .rows
                .iter()
                .filter(|r| (start_s..end_s).contains(&r.second));
            let (mut planned, mut sent, mut dropped) = (0, 0, 0);
            for r in rows {
                planned += r.planned.unwrap_or(0);
                sent += r.sent;
                dropped += r.dropped;
            }
            let share = share_of(sent, planned);
            StageDelivery {
                rate,
                start_s,
                end_s,
                planned,
                sent,
                dropped,
                delivered_share: round4(share),
                delivered: holds(1.0 - share),
            }
        })
        .collect()
}

/// Per service: what was sent and dropped under it.
fn services(d: &DeliveryRecord) -> BTreeMap<String, ServiceDelivery> {
    Service::ALL
        .into_iter()
        .zip(d.services)
        .filter(|(_, [sent, dropped])| sent + dropped > 0)
        .map(|(s, [sent, dropped])| {
            (
                s.name().to_owned(),
                ServiceDelivery {
                    sent,
                    dropped,
                    delivered_share: round4(share_of(sent, sent + dropped)),
                },
            )
        })
        .collect()
}

/// Whether a second that fell short shows the harness as the limit: a
/// worker thread near a full core (then the service times that fill the
/// in-flight cap are partly the harness's own, reading answers late), or,
/// while the cap (when known) still had room, requests leaving late or
/// tickets taken too late at all — a sender was free and did not run in
/// time: the harness was busy, or did not get the CPU (another process on
/// the machine, a paused VM). With the cap full a late send is the cap's
/// wait.
fn harness_busy(r: &DeliveryRow, cap_full: bool, cap_known: bool) -> bool {
    r.busiest_worker_pct.is_some_and(|p| p >= BUSY_WORKER_PCT)
        || (!cap_full && (r.send_lag_p99_ms >= LATE_SEND_MS || (cap_known && r.dropped > 0)))
}

/// What held the run back, from the seconds that fell short.
fn bound_by(
    d: &DeliveryRecord,
    totals: &[ServiceTotals],
    cap_reached: Option<&str>,
    unsent: u64,
    dropped: u64,
) -> BoundBy {
    let short: Vec<&DeliveryRow> = d.rows.iter().filter(|r| r.dropped > 0).collect();
    let cap = d.in_flight_cap;
    let full = |r: &DeliveryRow| cap > 0 && r.in_flight_peak >= cap;
    let busy = |r: &DeliveryRow| harness_busy(r, full(r), cap > 0);
    let seconds_cap_full = short.iter().filter(|r| full(r)).count() as u64;
    let seconds_harness_busy = short.iter().filter(|r| busy(r)).count() as u64;
    let (mut service_us, mut answered) = (0.0, 0u64);
    let mut connection_errors = 0;
    let mut sent_total = 0;
    for t in totals {
        service_us += t.service_time.mean() * t.service_time.len() as f64;
        answered += t.service_time.len();
        connection_errors += [
            Outcome::ConnectRefused,
            Outcome::ConnectTimeout,
            Outcome::Dns,
            Outcome::Tls,
        ]
        .iter()
        .map(|o| t.count(o))
        .sum::<u64>();
        sent_total += t.requests() - t.count(&Outcome::Dropped);
    }
    let mean_service_ms = if answered > 0 {
        service_us / answered as f64 / 1000.0
    } else {
        0.0
    };
    let planned_short: u64 = short
        .iter()
        .map(|r| r.planned.unwrap_or(r.sent + r.dropped))
        .sum();
    let planned_rate = if short.is_empty() {
        0.0
    } else {
        planned_short as f64 / short.len() as f64
    };
    let evidence = Evidence {
        seconds_short: short.len() as u64,
        seconds_cap_full,
        seconds_harness_busy,
        in_flight_cap: cap,
        in_flight_peak: d.rows.iter().map(|r| r.in_flight_peak).max().unwrap_or(0),
        planned_rate: round4(planned_rate),
        mean_service_ms: round4(mean_service_ms),
        needed_in_flight: round4(planned_rate * mean_service_ms / 1000.0),
        harness_cpu_max_pct: d
            .rows
            .iter()
            .filter_map(|r| r.harness_cpu_pct)
            .reduce(f64::max),
        busiest_worker_max_pct: d
            .rows
            .iter()
            .filter_map(|r| r.busiest_worker_pct)
            .reduce(f64::max),
        send_lag_p99_max_ms: d.rows.iter().map(|r| r.send_lag_p99_ms).fold(0.0, f64::max),
        connection_errors,
    };
    let since =
        |pred: &dyn Fn(&DeliveryRow) -> bool| short.iter().find(|r| pred(r)).map(|r| r.second);
    let half = |n: u64| n * 2 >= evidence.seconds_short.max(1);
    let (limit, since_s) = if unsent > dropped && cap_reached.is_some() {
        (
            Limit::Stopped,
            d.rows
                .iter()
                .filter(|r| r.sent > 0)
                .map(|r| r.second + 1)
                .max(),
        )
    } else if connection_errors > 0 && connection_errors * 100 >= sent_total.max(1) {
        (Limit::Connections, short.first().map(|r| r.second))
    } else if seconds_harness_busy > 0 && half(seconds_harness_busy) {
        (Limit::Harness, since(&busy))
    } else if seconds_cap_full > 0 && half(seconds_cap_full) {
        (Limit::Target, since(&full))
    } else if seconds_harness_busy > 0 {
        (Limit::Harness, since(&busy))
    } else {
        (Limit::Unknown, short.first().map(|r| r.second))
    };
    let explanation = explain(limit, &evidence, since_s, cap_reached);
    BoundBy {
        limit,
        since_s,
        explanation,
        evidence,
    }
}

/// What a person reads of a [`Limit`].
fn explain(limit: Limit, e: &Evidence, since: Option<u64>, cap_reached: Option<&str>) -> String {
    let from = since.map_or(String::new(), |s| format!(", from second {s}"));
    match limit {
        Limit::Target => format!(
            "held back by the target: the in-flight cap ({cap}) was full in {full} of the {n} seconds that fell short{from}, while answers took {ms:.0} ms on average; at {rate:.0} req/s that needs about {need:.0} requests in flight (Little's law), and the cap was {cap}. The target is slower than the plan assumes, not the harness: raise max_in_flight to measure it at this rate, or plan a lower rate",
            cap = e.in_flight_cap,
            full = e.seconds_cap_full,
            n = e.seconds_short,
            ms = e.mean_service_ms,
            rate = e.planned_rate,
            need = e.needed_in_flight.round(),
        ),
        Limit::Harness => {
            let (busy, n, lag) = (
                e.seconds_harness_busy,
                e.seconds_short,
                e.send_lag_p99_max_ms,
            );
            let cpu = e
                .busiest_worker_max_pct
                .map_or_else(|| "an unknown share".to_owned(), |p| format!("{p:.0}%"));
            if e.busiest_worker_max_pct
                .is_some_and(|p| p < BUSY_WORKER_PCT)
            {
                return format!(
                    "held back by the harness, which did not run in time: in {busy} of the {n} seconds that fell short{from} requests were taken too late or left up to {lag:.1} ms late (send lag p99) while the in-flight cap had room, and its busiest worker thread reached only {cpu} of a core: something else on this machine took the CPU (another process, a paused virtual machine). The latencies measured in those seconds are partly the machine's: run the harness on a quieter machine"
                );
            }
            let full = if e.seconds_cap_full > 0 {
                format!(
                    "; the in-flight cap ({}) was full in {} of them, filled by answers a harness at a full core read late",
                    e.in_flight_cap, e.seconds_cap_full
                )
            } else {
                String::new()
            };
            format!(
                "held back by the harness: in {busy} of the {n} seconds that fell short{from} its busiest worker thread reached {cpu} of a core or requests left up to {lag:.1} ms late (send lag p99) with room in flight{full}. The latencies measured are partly the harness's own: use a release build, fewer senders per process, or scale out (--worker)"
            )
        }
        Limit::Connections => format!(
            "held back by connections: {} requests failed to connect (refused, timed out, not resolved or no TLS){from}: check the address, DNS, TLS and the connection limits (local ports, the target's pool)",
            e.connection_errors
        ),
        Limit::Stopped => format!(
            "the sending stopped before the plan was done: {}{from}",
            cap_reached.unwrap_or("(unknown)")
        ),
        Limit::Unknown => format!(
            "held back by something the run's evidence does not name: the in-flight cap was full in {} and the harness busy in {} of the {} seconds that fell short{from}",
            e.seconds_cap_full, e.seconds_harness_busy, e.seconds_short
        ),
    }
}

/// The verdict's first line.
// Each argument is a separate part of the sentence.
#[allow(clippy::too_many_arguments)]
fn words(
    model: DeliveryModel,
    ok: bool,
    planned: Option<u64>,
    sent: u64,
    share: f64,
    facts: &RunFacts,
    stages: &[StageDelivery],
    highest: Option<f64>,
) -> String {
    let head = if ok {
        "plan delivered"
    } else {
        "plan not delivered"
    };
    match (model, planned) {
        (DeliveryModel::Search, _) => {
            let delivered = stages.iter().filter(|s| s.delivered).count();
            let knee =
                highest.map_or_else(|| "none sustained".to_owned(), |h| format!("{h:.0} req/s"));
            format!(
                "{head}: capacity search, {delivered} of {} plateaus delivered (highest sustained: {knee}); plateaus past the knee fall short by design",
                stages.len()
            )
        }
        (DeliveryModel::Closed, _) | (_, None) => format!(
            "{head}: the users sent for {:.1}% of the planned {} s ({} requests)",
            share * 100.0,
            facts.planned.as_secs(),
            grouped(sent)
        ),
        (DeliveryModel::Open, Some(planned)) => format!(
            "{head}: {} of {} planned requests sent ({:.1}%)",
            grouped(sent),
            grouped(planned),
            share * 100.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(second: u64, dropped: u64, peak: u64, busiest: f64, lag_ms: f64) -> DeliveryRow {
        DeliveryRow {
            second,
            planned: Some(200),
            sent: 200 - dropped,
            dropped,
            in_flight_peak: peak,
            send_lag_p99_ms: lag_ms,
            harness_cpu_pct: Some(busiest),
            busiest_worker_pct: Some(busiest),
            idlest_worker_pct: Some(busiest / 2.0),
        }
    }

    /// One service whose `n` answers each took `service_ms`, and `extra`
    /// requests of another class.
    fn totals(n: u64, service_ms: u64, extra: (Outcome, u64)) -> Vec<ServiceTotals> {
        let mut service_time = crate::hdr::histogram();
        for _ in 0..n {
            crate::hdr::record(&mut service_time, service_ms * 1000);
        }
        let mut outcomes = BTreeMap::new();
        outcomes.insert(Outcome::Ok, n);
        outcomes.insert(extra.0, extra.1);
        vec![ServiceTotals {
            service: Service::Afiliacion,
            latency: service_time.clone(),
            service_time,
            send_lag: crate::hdr::histogram(),
            outcomes,
            slowest: Vec::new(),
            exemplars: Vec::new(),
        }]
    }

    fn record(rows: Vec<DeliveryRow>, cap: u64) -> DeliveryRecord {
        DeliveryRecord {
            rows,
            services: [[0; 2]; 2],
            in_flight_cap: cap,
        }
    }

    /// `bound_by` of `rows` under an in-flight cap of `cap`; `totals`,
    /// `stopped` (a production cap), `unsent` and `dropped` as it takes them.
    fn judge(
        rows: Vec<DeliveryRow>,
        cap: u64,
        totals: &[ServiceTotals],
        stopped: Option<&str>,
        (unsent, dropped): (u64, u64),
    ) -> BoundBy {
        bound_by(&record(rows, cap), totals, stopped, unsent, dropped)
    }

    /// The limit named, and words its explanation holds.
    fn names(b: &BoundBy, limit: Limit, words: &[&str]) {
        assert_eq!(b.limit, limit, "{b:#?}");
        for w in words {
            assert!(b.explanation.contains(w), "{w:?} in {}", b.explanation);
        }
    }

    #[test]
    fn a_full_in_flight_cap_names_the_target_with_littles_law() {
        let rows = (0..10).map(|s| row(s, 180, 20, 3.0, 0.2)).collect();
        let t = totals(200, 1090, (Outcome::Dropped, 1800));
        let b = judge(rows, 20, &t, None, (0, 1800));
        names(&b, Limit::Target, &["about 218 requests in flight"]);
        assert_eq!(b.since_s, Some(0));
        assert_eq!(b.evidence.seconds_cap_full, 10);
        // 200 req/s × 1.09 s.
        assert!((b.evidence.needed_in_flight - 218.0).abs() < 1.0, "{b:#?}");
    }

    #[test]
    fn a_busy_harness_below_its_cap_names_the_harness_from_when_it_began() {
        let t = totals(1000, 1, (Outcome::Dropped, 630));
        let mut rows: Vec<DeliveryRow> = (0..3).map(|s| row(s, 0, 50, 40.0, 0.2)).collect();
        rows.extend((3..10).map(|s| row(s, 90, 300, 99.0, 45.0)));
        let b = judge(rows, 1000, &t, None, (0, 630));
        names(&b, Limit::Harness, &["partly the harness's own"]);
        assert_eq!(b.since_s, Some(3));
        // The same seconds with the cap full and the harness's worker at a
        // full core: still the harness (its own slowness filled the cap);
        // the cap full, requests waiting for it, the harness idle: the target.
        for (busiest, limit) in [(99.0, Limit::Harness), (20.0, Limit::Target)] {
            let rows = (3..10).map(|s| row(s, 90, 1000, busiest, 45.0)).collect();
            names(&judge(rows, 1000, &t, None, (0, 630)), limit, &[]);
        }
    }

    #[test]
    fn tickets_late_with_room_in_flight_and_an_idle_harness_name_a_starved_harness() {
        // One second of a stall: 11 tickets taken late, the cap far from
        // full, the harness's worker at 20% (it was not scheduled).
        let mut rows: Vec<DeliveryRow> = (0..10).map(|s| row(s, 0, 200, 20.0, 0.3)).collect();
        rows[1] = row(1, 11, 397, 20.0, 0.3);
        let t = totals(1989, 1000, (Outcome::Dropped, 11));
        let b = judge(rows, 500, &t, None, (0, 11));
        let words = [
            "did not run in time",
            "something else on this machine took the CPU",
        ];
        names(&b, Limit::Harness, &words);
        assert_eq!(b.since_s, Some(1));
    }

    #[test]
    fn failed_connections_and_a_production_cap_are_named() {
        let rows = (0..5).map(|s| row(s, 50, 10, 3.0, 0.2)).collect();
        let t = totals(100, 5, (Outcome::ConnectTimeout, 40));
        let b = judge(rows, 20, &t, None, (0, 250));
        names(&b, Limit::Connections, &[]);
        assert_eq!(b.evidence.connection_errors, 40);
        let rows = (0..5).map(|s| row(s, 0, 3, 3.0, 0.2)).collect();
        let t = totals(100, 5, (Outcome::Dropped, 0));
        let b = judge(rows, 20, &t, Some("max_requests 40"), (900, 0));
        names(&b, Limit::Stopped, &["max_requests 40"]);
    }
}
