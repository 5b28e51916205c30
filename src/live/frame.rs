//! One second of a live run as the dashboard and `/metrics` see it: a
//! [`Frame`] built once a second from what [`crate::metrics::Metrics`] has
//! already aggregated (the closed one-second intervals and the run's totals),
//! the plan delivered so far (what the timetable asked for, what went out on
//! time and what was dropped), the token caches' counts and the in-flight
//! gauge — never from a request's path.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::domain::Service;
use crate::engine::RunContext;
use crate::metrics::Interval;
use crate::outcome::Outcome;
use crate::scenario::{LoadModel, RunPlan};

/// Seconds of history a frame carries for the charts (a page opened late
/// still draws the last quarter of an hour).
pub const HISTORY_SECONDS: usize = 900;

/// Token events a frame lists (the latest).
const TOKEN_EVENTS: usize = 20;

/// Upper bounds of the Prometheus latency histograms, in seconds (the
/// metrics keep an exemplar per bucket of them).
pub use crate::metrics::BUCKETS_S;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The dashboard is up; the load has not started.
    Waiting,
    /// Load is being sent.
    Running,
    /// The run is over and its results are written; the page stays up for
    /// `--dashboard-linger`.
    Finished,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Running => "running",
            Phase::Finished => "finished",
        }
    }
}

/// A latency histogram in Prometheus's terms: per-bucket counts (not
/// cumulative; the last bucket is +Inf), the sum in seconds and the count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    /// (upper bound in seconds, count in the bucket).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the values, seconds.
    pub sum: f64,
    /// Values.
    pub count: u64,
}

impl Buckets {
    /// `h` (microseconds) in [`BUCKETS_S`].
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut buckets = Vec::with_capacity(BUCKETS_S.len() + 1);
        let mut below = 0;
        for le in BUCKETS_S {
            let upto = if h.is_empty() {
                0
            } else {
                h.count_between(0, (le * 1e6) as u64)
            };
            buckets.push((le, upto.saturating_sub(below)));
            below = below.max(upto);
        }
        buckets.push((f64::INFINITY, h.len().saturating_sub(below)));
        Buckets {
            buckets,
            sum: if h.is_empty() {
                0.0
            } else {
                h.mean() * h.len() as f64 / 1e6
            },
            count: h.len(),
        }
    }
}

/// One service's totals, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ServiceCounts {
    /// Requests per outcome class label (`ok`, `business:NEG01`, `dropped`…).
    pub classes: BTreeMap<String, u64>,
    /// Latency from the intended send time.
    pub latency: Buckets,
    /// Service time from the actual send.
    pub service_time: Buckets,
    /// Per bucket of `latency` the slowest request with a trace id in it
    /// (OpenMetrics exemplars).
    pub latency_exemplars: Vec<Option<crate::metrics::Exemplar>>,
    /// Requests dropped (never sent).
    pub dropped: u64,
    /// Requests of the plan sent on time (a closed model: sent).
    pub sent: u64,
}

/// What `/metrics` exposes.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Per service, by [`Service::ALL`]'s order.
    pub services: Vec<(Service, ServiceCounts)>,
    /// Token requests sent, and those that did not produce a token.
    pub token_requests: u64,
    /// Token requests that did not produce a token.
    pub token_failures: u64,
    /// Per report service and the token service (`token`) that timed an
    /// exchange: its phases and connections opened.
    pub phases: Vec<(String, super::phases::PhaseCounts)>,
    /// Requests in flight.
    pub in_flight: u64,
    /// The plan's rate now (this worker's share), req/s; `None` in the closed model.
    pub planned_rate: Option<f64>,
    /// Requests the plan has asked of this worker so far (due by now); `None`
    /// in the closed model, which plans users.
    pub planned: Option<u64>,
    /// Requests completed in the last closed second.
    pub actual_rate: f64,
    /// Seconds since the load started.
    pub elapsed_s: f64,
    /// Planned length of the load, seconds.
    pub duration_s: f64,
    /// 1 while load is sent, 0 before and after.
    pub running: bool,
}

/// One frame: the JSON the page renders and the counts `/metrics` encodes.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page's JSON (one line: one server-sent event).
    pub json: Arc<str>,
    /// For `/metrics`.
    pub counts: Arc<Counts>,
    /// `worker`, `scenario`, `run_id`: the labels of every metric.
    pub labels: Arc<Vec<(String, String)>>,
}

impl Frame {
    /// The frame of a dashboard whose run has not been attached yet.
    pub fn waiting() -> Self {
        Frame {
            json: json!({"phase": Phase::Waiting.name()}).to_string().into(),
            counts: Arc::new(Counts::default()),
            labels: Arc::new(Vec::new()),
        }
    }
}

/// The run a dashboard shows, and the history its frames carry.
#[derive(Debug)]
pub struct Builder {
    ctx: Arc<RunContext>,
    scenario: RunPlan,
    meta: Value,
    labels: Arc<Vec<(String, String)>>,
    /// Per second, per service: the closed intervals seen so far (the latest
    /// [`HISTORY_SECONDS`]).
    history: VecDeque<Interval>,
    next_second: u64,
}

impl Builder {
    /// A builder for the run of `ctx`, results in the folder `run_id`.
    pub fn new(ctx: Arc<RunContext>, scenario: &RunPlan, run_id: &str, target: &str) -> Self {
        let (index, count) = ctx.worker();
        let worker = if count > 1 {
            format!("{index}/{count}")
        } else {
            "single".to_owned()
        };
        let meta = json!({
            "scenario": scenario.name,
            "description": scenario.description,
            "target": target,
            "run_id": run_id,
            "worker": worker,
            "model": match scenario.load {
                LoadModel::Open { .. } => "open",
                LoadModel::Closed { .. } => "closed",
                LoadModel::Search(_) => "search",
            },
            "seed": scenario.data.seed,
            "administradora": scenario.data.administradora,
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        let labels = Arc::new(vec![
            ("worker".to_owned(), index.to_string()),
            ("scenario".to_owned(), scenario.name.clone()),
            ("run_id".to_owned(), run_id.to_owned()),
        ]);
        Builder {
            ctx,
            scenario: scenario.clone(),
            meta,
            labels,
            history: VecDeque::new(),
            next_second: 0,
        }
    }

    /// This second's frame.
    pub fn frame(&mut self, phase: Phase) -> Frame {
        let ctx = &self.ctx;
        let metrics = ctx.metrics();
        for i in metrics.intervals_from(self.next_second) {
            self.next_second = i.second + 1;
            self.history.push_back(i);
        }
        while self
            .history
            .front()
            .is_some_and(|f| f.second + (HISTORY_SECONDS as u64) < self.next_second)
        {
            self.history.pop_front();
        }
        let duration = self.scenario.duration().as_secs_f64();
        let elapsed = match phase {
            Phase::Waiting => 0.0,
            Phase::Running => ctx
                .started()
                .map_or(0.0, |s| s.elapsed().as_secs_f64().min(duration)),
            Phase::Finished => ctx.load_seconds(),
        };
        let totals = metrics.totals();
        let token = self.tokens();
        let in_flight = ctx.in_flight() as u64;
        let planned_rate = planned_rate(&self.scenario, elapsed, ctx.worker().1);
        let last = self.history.back().map(|i| i.second);
        let actual_rate: u64 = self
            .history
            .iter()
            .rev()
            .take_while(|i| Some(i.second) == last)
            .map(|i| i.completed)
            .sum();
        let delivered = self.delivered(phase, elapsed);
        let (phases_json, phases) = super::phases::of(ctx, last);
        let mut services = Vec::new();
        let mut services_json = serde_json::Map::new();
        for t in &totals {
            let sent = delivered.counts[service_index(t.service)][0];
            let classes: BTreeMap<String, u64> = t
                .outcomes
                .iter()
                .map(|(o, n)| (o.label().into_owned(), *n))
                .collect();
            let dropped = t.count(&Outcome::Dropped);
            let errors: BTreeMap<&String, &u64> = classes
                .iter()
                .filter(|(c, _)| *c != "ok" && *c != "rejected_as_expected")
                .collect();
            services_json.insert(
                t.service.name().to_owned(),
                json!({
                    "requests": t.requests(),
                    "stored": t.stored(),
                    "rejected_as_expected": t.rejected_as_expected(),
                    "dropped": dropped,
                    "sent": sent,
                    "errors": errors,
                }),
            );
            services.push((
                t.service,
                ServiceCounts {
                    latency: Buckets::of(&t.latency),
                    service_time: Buckets::of(&t.service_time),
                    latency_exemplars: t.exemplars.clone(),
                    classes,
                    dropped,
                    sent,
                },
            ));
        }
        let thresholds = crate::verdict::thresholds(&self.scenario.thresholds, &totals, elapsed);
        let series: Vec<Value> = self
            .history
            .iter()
            .map(|i| {
                json!([
                    i.second,
                    service_short(i.service),
                    i.completed,
                    i.stored,
                    i.errors,
                    i.p50_us,
                    i.p90_us,
                    i.p99_us,
                    i.service_us[0],
                    i.service_us[1],
                    i.service_us[2],
                ])
            })
            .collect();
        let json = json!({
            "phase": phase.name(),
            "meta": self.meta,
            "plan": plan_json(&self.scenario, ctx.worker().1),
            "elapsed_s": (elapsed * 10.0).round() / 10.0,
            "duration_s": duration,
            "planned_rate": planned_rate.map(|r| (r * 10.0).round() / 10.0),
            "in_flight": in_flight,
            "delivery": delivered.json(),
            "services": services_json,
            "token": token,
            "phases": phases_json,
            "thresholds": thresholds,
            "series": series,
        });
        let counts = Counts {
            services,
            token_requests: token["requests"].as_u64().unwrap_or(0),
            token_failures: token["failures"].as_u64().unwrap_or(0),
            phases,
            in_flight,
            planned_rate,
            planned: delivered.planned,
            actual_rate: actual_rate as f64,
            elapsed_s: elapsed,
            duration_s: duration,
            running: phase == Phase::Running,
        };
        Frame {
            json: json.to_string().into(),
            counts: Arc::new(counts),
            labels: self.labels.clone(),
        }
    }

    /// The plan so far: while the load runs, the tickets due by now against
    /// those sent and dropped; once it is over, the run's own count (what
    /// `summary.json`'s `delivery` says, untaken tickets dropped and an
    /// interrupted plan ending at its signal).
    fn delivered(&self, phase: Phase, elapsed: f64) -> SoFar {
        let (planned, counts) = match phase {
            Phase::Waiting => (None, [[0; 2]; 2]),
            Phase::Running => self
                .ctx
                .delivered_so_far(Duration::from_secs_f64(elapsed.max(0.0))),
            Phase::Finished => {
                let mut counts = [[0u64; 2]; 2];
                let mut planned: Option<u64> = None;
                for second in self.ctx.delivery() {
                    planned = match (planned, second.planned) {
                        (p, Some(n)) => Some(p.unwrap_or(0) + n),
                        (p, None) => p,
                    };
                    for (into, from) in counts.iter_mut().zip(second.counts) {
                        into[0] += from[0];
                        into[1] += from[1];
                    }
                }
                (planned, counts)
            }
        };
        // A closed model plans users: no number of requests.
        let planned = planned.filter(|_| !matches!(self.scenario.load, LoadModel::Closed { .. }));
        SoFar { planned, counts }
    }

    /// Token requests, failures and the latest events (one cache may serve
    /// both services: each counted once).
    fn tokens(&self) -> Value {
        let (mut requests, mut refreshes, mut failures) = (0, 0, 0);
        let mut events = Vec::new();
        let start = self.ctx.started();
        for cache in self.ctx.token_caches() {
            let s = cache.stats();
            requests += s.requests;
            refreshes += s.refreshes;
            failures += s.failures;
            for (at, ok) in s.events.iter().rev().take(TOKEN_EVENTS) {
                let at_s = start.map_or(0.0, |st| {
                    if *at >= st {
                        (*at - st).as_secs_f64()
                    } else {
                        -(st - *at).as_secs_f64()
                    }
                });
                events.push(((at_s * 10.0).round() / 10.0, *ok));
            }
        }
        events.sort_by(|a, b| b.0.total_cmp(&a.0));
        events.truncate(TOKEN_EVENTS);
        json!({
            "requests": requests,
            "refreshes": refreshes,
            "failures": failures,
            "events": events.iter().map(|(at, ok)| json!({"at_s": at, "ok": ok})).collect::<Vec<_>>(),
        })
    }
}

/// The plan delivered so far.
#[derive(Debug, Clone, Copy)]
struct SoFar {
    /// Requests due by now (`None`: a closed model).
    planned: Option<u64>,
    /// `[sent, dropped]` per service, in `Service::ALL` order.
    counts: [[u64; 2]; 2],
}

impl SoFar {
    /// The frame's `delivery`: planned, sent, dropped, the delivered share
    /// (`sent / planned`, null for a closed model) and what the latencies
    /// cover, in words.
    fn json(&self) -> Value {
        let sent: u64 = self.counts.iter().map(|c| c[0]).sum();
        let dropped: u64 = self.counts.iter().map(|c| c[1]).sum();
        let grouped = crate::results::delivery::grouped;
        let (share, covered) = match self.planned {
            Some(planned) => (
                Some(if planned == 0 {
                    1.0
                } else {
                    (sent as f64 / planned as f64).min(1.0)
                }),
                format!(
                    "over {} sent of {} planned requests so far",
                    grouped(sent),
                    grouped(planned)
                ),
            ),
            None => (
                None,
                format!("over {} requests the users sent so far", grouped(sent)),
            ),
        };
        json!({
            "planned": self.planned,
            "sent": sent,
            "dropped": dropped,
            "delivered_share": share.map(|s| (s * 10_000.0).round() / 10_000.0),
            "covered": covered,
        })
    }
}

/// The index of a service in the per-service counts (`Service::ALL`'s order).
fn service_index(s: Service) -> usize {
    Service::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// The dashboard's short name of a service in the series.
fn service_short(s: Service) -> &'static str {
    match s {
        Service::Afiliacion => "afiliacion",
        Service::Retracto => "retracto",
    }
}

/// The plan's stages (this worker's share of the rates), for the progress bar.
fn plan_json(scenario: &RunPlan, workers: u16) -> Value {
    let share = f64::from(workers.max(1));
    match &scenario.load {
        LoadModel::Open {
            start_rate, stages, ..
        } => {
            let mut at = 0.0;
            let mut from = *start_rate;
            let stages: Vec<Value> = stages
                .iter()
                .map(|s| {
                    let length = s.duration.0.as_secs_f64();
                    let v = json!({"from_s": at, "to_s": at + length, "rate_from": from / share, "rate_to": s.rate / share});
                    at += length;
                    from = s.rate;
                    v
                })
                .collect();
            json!({"model": "open", "stages": stages})
        }
        // A capacity search decides its rates as it goes: one stage, the
        // whole search, with no planned rate.
        LoadModel::Search(plan) => json!({"model": "search", "stages": [
            {"from_s": 0.0, "to_s": plan.duration().as_secs_f64(), "name": "search"},
        ]}),
        LoadModel::Closed {
            users,
            ramp,
            run_time,
            ..
        } => {
            let ramp = ramp.as_secs_f64();
            json!({"model": "closed", "users": users, "stages": [
                {"from_s": 0.0, "to_s": ramp, "users": users, "name": "ramp"},
                {"from_s": ramp, "to_s": ramp + run_time.as_secs_f64(), "users": users, "name": "steady"},
            ]})
        }
    }
}

/// The open model's planned rate `elapsed` seconds in (this worker's share of
/// it); `None` in the closed model, or past the plan.
pub fn planned_rate(scenario: &RunPlan, elapsed: f64, workers: u16) -> Option<f64> {
    let LoadModel::Open {
        start_rate, stages, ..
    } = &scenario.load
    else {
        return None;
    };
    let mut at = 0.0;
    let mut from = *start_rate;
    for s in stages {
        let length = s.duration.0.as_secs_f64();
        if elapsed <= at + length {
            let f = if length > 0.0 {
                (elapsed - at) / length
            } else {
                1.0
            };
            return Some((from + (s.rate - from) * f.clamp(0.0, 1.0)) / f64::from(workers.max(1)));
        }
        at += length;
        from = s.rate;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_a_histogram_at_the_bounds() {
        let mut h = crate::hdr::histogram();
        for us in [500, 2_000, 2_000, 40_000, 7_000_000_000] {
            crate::hdr::record(&mut h, us);
        }
        let b = Buckets::of(&h);
        let count = |le: f64| {
            b.buckets
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(u64::MAX, |(_, n)| *n)
        };
        assert_eq!(count(0.001), 1);
        assert_eq!(count(0.0025), 2);
        assert_eq!(count(0.05), 1);
        // 7,000 s is past MAX_US (one hour): recorded as one hour, above 300 s.
        assert_eq!(count(f64::INFINITY), 1);
        assert_eq!(b.buckets.iter().map(|(_, n)| n).sum::<u64>(), 5);
        assert_eq!(b.count, 5);
        // HdrHistogram keeps 3 significant digits: the sum is that close.
        assert!((b.sum - 3_600.044).abs() < 4.0, "{}", b.sum);
        assert_eq!(Buckets::of(&crate::hdr::histogram()).count, 0);
    }

    #[test]
    fn the_planned_rate_follows_the_stages_and_the_share() {
        let scenario =
            RunPlan::load("go-live", mss_contract::Contract::embedded()).expect("go-live");
        let LoadModel::Open {
            start_rate, stages, ..
        } = scenario.load.clone()
        else {
            panic!("go-live is open")
        };
        assert_eq!(planned_rate(&scenario, 0.0, 1), Some(start_rate));
        let first = stages[0].duration.0.as_secs_f64();
        let end = planned_rate(&scenario, first, 1).expect("in the plan");
        assert!((end - stages[0].rate).abs() < 1e-9, "{end}");
        let half = planned_rate(&scenario, first, 2).expect("in the plan");
        assert!((half - stages[0].rate / 2.0).abs() < 1e-9);
        let total = scenario.duration().as_secs_f64();
        assert_eq!(planned_rate(&scenario, total + 1.0, 1), None);
    }
}
