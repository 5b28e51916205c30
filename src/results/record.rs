//! What a `summary.json` is built from, the same whether it comes from a run
//! that just ended ([`super::collect::record`], from the engine's
//! `RunContext`) or from workers' results folders read back and joined
//! ([`super::merge`]): a [`RunRecord`] — the totals and histograms, the
//! seconds of the load, the token requests, the counts of what the target
//! stored, who ran it — and the [`RunFacts`] of the scenario it ran.
//! The verdict's `build_summary` (src/verdict/summary.rs) judges the one
//! with the other into the summary.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{
    Audit, Faults, Interrupted, Meta, Percentiles, Retries, Stage, TokenEvent, UnknownOutcome,
    Unresolved,
};
use crate::domain::Service;
use crate::metrics::ServiceTotals;
use crate::scenario::{Caps, LoadModel, RunPlan, Threshold};

/// The merged latency, requests sent and errors of those sent of seconds
/// `from..to` of a load, every service together (dropped requests, never
/// sent, are in neither count).
pub type Window<'a> = dyn Fn(u64, u64) -> (Histogram<u64>, u64, u64) + 'a;

/// Answers with a codigo the contract does not list: (service, codigo, HTTP
/// status) and how many.
pub type UnexpectedCounts = BTreeMap<(Service, String, u16), u64>;

/// What the summary needs to know of the scenario a run ran.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The scenario's name.
    pub name: String,
    /// The planned duration of the load.
    pub planned: Duration,
    /// Its thresholds, each with its scope (a service, or every one).
    pub thresholds: Vec<(Option<Service>, Threshold)>,
    /// The open model's start rate and stages (rate, duration); `None` for
    /// another model.
    pub open: Option<(f64, Vec<(f64, Duration)>)>,
    /// Whether it is a capacity search (whose plateaus are judged as it runs).
    pub search: bool,
    /// The thresholds a plateau is judged by.
    pub plateau_checks: Vec<Threshold>,
    /// The scenario as `scenario.toml` holds it.
    pub scenario_toml: String,
    /// The data seed.
    pub seed: u64,
    /// The administradora's code.
    pub administradora: String,
    /// The target's URL (`mock` for the embedded mock).
    pub target_url: String,
    /// The production caps (used when the run had a limiter).
    pub caps: Caps,
    /// The contract the run followed (its `errores.csv` is where an
    /// unexpected codigo's hint sends the reader).
    pub contract: std::sync::Arc<crate::domain::Contract>,
}

impl RunFacts {
    /// What the summary needs of `scenario`.
    pub fn of(scenario: &RunPlan) -> anyhow::Result<RunFacts> {
        let open = match &scenario.load {
            LoadModel::Open {
                start_rate, stages, ..
            } => Some((
                *start_rate,
                stages.iter().map(|s| (s.rate, s.duration.0)).collect(),
            )),
            _ => None,
        };
        Ok(RunFacts {
            name: scenario.name.clone(),
            planned: scenario.duration(),
            thresholds: scenario.thresholds.clone(),
            open,
            search: matches!(scenario.load, LoadModel::Search(_)),
            plateau_checks: scenario.plateau_thresholds(),
            scenario_toml: toml::to_string_pretty(scenario.file())?,
            seed: scenario.data.seed,
            administradora: scenario.data.administradora.clone(),
            target_url: scenario.target.url().to_owned(),
            caps: scenario.caps,
            contract: std::sync::Arc::clone(&scenario.contract),
        })
    }
}

/// A run's measurements and counts, before they are judged.
pub struct RunRecord<'a> {
    /// "mock (embedded)" or the base URL.
    pub target: String,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// When it ended, RFC 3339.
    pub ended_at: String,
    /// How long the load lasted, the seconds rates divide by: the planned
    /// duration, or less for a run a signal stopped.
    pub seconds: f64,
    /// How a signal stopped it, if one did.
    pub interrupted: Option<Interrupted>,
    /// Per service (each one the summary lists): its histograms and the
    /// requests of each outcome class.
    pub totals: Vec<ServiceTotals>,
    /// Per service, in [`Service::ALL`] order: reports sent again and refused
    /// by the retry budget; `None` when not counted.
    pub retries: Option<[Retries; 2]>,
    /// Answers with a codigo the contract does not list; `None` when not
    /// counted.
    pub unexpected: Option<UnexpectedCounts>,
    /// The token requests.
    pub token: TokenRecord,
    /// Who ran what, from where, against what.
    pub audit: Option<Audit>,
    /// Run metadata for the reports.
    pub meta: Option<Meta>,
    /// What the target stored, against what the harness counted.
    pub stored: StoredRecord,
    /// The faults scheduled and injected: `None` not known (absent),
    /// `Some(None)` none scheduled.
    pub faults: Option<Option<Faults>>,
    /// A capacity search's plateaus, judged as it ran (`None` for another
    /// model: its plateaus are judged from [`Self::window`]).
    pub search_steps: Option<Vec<Stage>>,
    /// What the plan asked and what went out (`None`: folders written
    /// before it was recorded).
    pub delivery: Option<DeliveryRecord>,
    /// The load's seconds: `window(from, to)`.
    pub window: Box<Window<'a>>,
    /// The ledger the run wrote, if it kept one.
    pub ledger: Option<super::summary::LedgerFile>,
    /// Where the exchanges' time went, per service and the token service
    /// (`None`: not timed; a service that timed nothing is absent).
    pub phases: Option<super::phases::PhaseRecord>,
}

/// A run's delivery as recorded: second by second, and per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryRecord {
    /// `delivery.csv`'s rows.
    pub rows: Vec<super::delivery::DeliveryRow>,
    /// `[sent, dropped]` per service, in `Service::ALL` order.
    pub services: [[u64; 2]; 2],
    /// The most requests the run lets be in flight at once (its senders; a
    /// merge adds its workers').
    pub in_flight_cap: u64,
}

impl std::fmt::Debug for RunRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRecord")
            .field("target", &self.target)
            .field("delivery", &self.delivery)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("seconds", &self.seconds)
            .field("interrupted", &self.interrupted)
            .field("totals", &self.totals)
            .field("retries", &self.retries)
            .field("unexpected", &self.unexpected)
            .field("token", &self.token)
            .field("audit", &self.audit)
            .field("meta", &self.meta)
            .field("stored", &self.stored)
            .field("faults", &self.faults)
            .field("search_steps", &self.search_steps)
            .field("phases", &self.phases)
            .finish_non_exhaustive()
    }
}

/// The token requests of a run.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Token requests.
    pub requests: u64,
    /// Tokens obtained after the first one of each client_id.
    pub refreshes: u64,
    /// Their latency: the histogram, or, for folders written without
    /// `token.hlog`, percentiles already computed.
    pub latency: TokenLatency,
    /// Each token request.
    pub events: Vec<TokenEvent>,
}

/// The latency of the token requests.
#[derive(Debug, Clone)]
pub enum TokenLatency {
    /// Every token request's latency, µs.
    Histogram(Histogram<u64>),
    /// Percentiles read from a summary (no histogram to add).
    Percentiles(Percentiles),
}

/// What the target stored, against what the harness counted.
#[derive(Debug, Clone, Default)]
pub struct StoredRecord {
    /// The counts, when the target's records were counted.
    pub counts: Option<StoredCounts>,
    /// Radicados the target stored though the harness saw no answer.
    pub unknown_outcome: Option<Vec<UnknownOutcome>>,
    /// Retries answered NEG01 for a record an earlier attempt stored.
    pub idempotent_duplicates: Option<u64>,
    /// Reports whose every attempt during the load failed in transport.
    pub unresolved: Option<Vec<Unresolved>>,
}

/// Per service, in [`Service::ALL`] order: records the target holds, records
/// the harness counted stored, and requests that may or may not have been
/// stored (abandoned by a stop, or left unresolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCounts {
    /// Held by the target.
    pub target: [u64; 2],
    /// Stored, as the harness counted.
    pub harness: [u64; 2],
    /// Neither known stored nor known refused.
    pub unanswered: [u64; 2],
}
