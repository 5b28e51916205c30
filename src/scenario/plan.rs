//! The run plan: what a validated scenario asks of a run, typed. Parsing and
//! validation ([`super::RunPlan::parse`]) produce it once; the engine, the
//! schedule, the live view and the reports read only this, never the file.

use std::sync::Arc;
use std::time::Duration;

use mss_contract::Contract;

use super::file::{MockSpec, ScenarioFile, Stage};
use super::threshold::{Metric, Threshold};
use crate::domain::Service;

/// A validated scenario: the load, the data, the target and the judgement of
/// a run. Built by [`RunPlan::parse`] or [`RunPlan::load`]; nothing in it
/// needs checking again.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Short name, used in the results folder's name.
    pub name: String,
    /// What the scenario is for.
    pub description: String,
    /// Where the load goes.
    pub target: TargetPlan,
    /// The load model.
    pub load: LoadModel,
    /// Relative weights of the services.
    pub mix: Mix,
    /// Fraction of deliberately invalid records per codigo, in the codigos'
    /// order; each codigo is in the catalogue, the fractions add up to 1 at most.
    pub invalid: Vec<(String, f64)>,
    /// The synthetic data.
    pub data: DataPlan,
    /// Token refresh policy.
    pub token: TokenPlan,
    /// HTTP settings.
    pub http: HttpPlan,
    /// Pass/fail criteria, parsed, with the scope each applies to (`None`:
    /// global), in the file's order (scopes sorted by name).
    pub thresholds: Vec<(Option<Service>, Threshold)>,
    /// The production caps, defaults filled in (in force only against a
    /// production target; see [`TargetPlan::is_production`]).
    pub caps: Caps,
    /// (index, count) of the worker this process is: (0, 1) for a single
    /// process; a run sets it from its options ([`RunPlan::for_worker`]).
    pub worker: (u16, u16),
    /// The contract the plan was validated with, which the run follows (its
    /// generator, its mock, its classification of answers).
    pub contract: Arc<Contract>,
    /// Faults the mock injects during the run, checked against the run's length.
    pub faults: Vec<mss_mock::FaultSpec>,
    /// The file as read, echoed to the results (`scenario.toml`).
    pub(super) file: ScenarioFile,
}

/// Where a run's load goes.
#[derive(Debug, Clone)]
pub enum TargetPlan {
    /// The embedded mock Ministry, with its settings.
    Mock(MockSpec),
    /// A base URL.
    Url(UrlTarget),
}

/// A URL target, checked: a base URL with a host, the hosts allowed, and the
/// credentials.
#[derive(Debug, Clone)]
pub struct UrlTarget {
    /// The base URL as written.
    pub url: String,
    /// Its host, lower-cased.
    pub host: String,
    /// Hosts a run may send to (not empty).
    pub allowed_hosts: Vec<String>,
    /// Where the credentials come from.
    pub credentials: CredentialSource,
}

/// Where a URL target's credentials come from; never the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A credentials file (TOML, readable by its owner only).
    File(std::path::PathBuf),
    /// Environment variables, by name.
    Env {
        /// Variable holding "Usuario de conexión".
        username: String,
        /// Variable holding the password.
        password: String,
        /// Variable holding the client_id used for both services.
        client_id: Option<String>,
        /// Variable holding the client_id of `ReportarAfiliaciontraslado`.
        client_id_afiliacion: Option<String>,
        /// Variable holding the client_id of `ReportarRetractoAfiliacion`.
        client_id_retracto: Option<String>,
    },
}

impl TargetPlan {
    /// The target as written: `mock` or the base URL.
    pub fn url(&self) -> &str {
        match self {
            TargetPlan::Mock(_) => "mock",
            TargetPlan::Url(u) => &u.url,
        }
    }

    /// The host of a URL target, lower-cased (`None`: the embedded mock).
    pub fn host(&self) -> Option<&str> {
        match self {
            TargetPlan::Mock(_) => None,
            TargetPlan::Url(u) => Some(&u.host),
        }
    }

    /// The hosts a URL target may send to (none for the embedded mock).
    pub fn allowed_hosts(&self) -> &[String] {
        match self {
            TargetPlan::Mock(_) => &[],
            TargetPlan::Url(u) => &u.allowed_hosts,
        }
    }

    /// Whether the target is a host other than this machine: the production
    /// caps and `--confirm-production` apply.
    pub fn is_production(&self) -> bool {
        self.host()
            .is_some_and(|h| !crate::connect::is_local_host(h))
    }

    /// The embedded mock's settings (`None`: a URL target).
    pub fn mock(&self) -> Option<&MockSpec> {
        match self {
            TargetPlan::Mock(m) => Some(m),
            TargetPlan::Url(_) => None,
        }
    }
}

/// The services' relative weights, as written (each a known service, each
/// weight finite and not negative, at least one positive).
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(pub(super) Vec<(Service, f64)>);

impl Mix {
    /// The weight of `service` (0 when the mix does not name it).
    pub fn weight(&self, service: Service) -> f64 {
        self.0
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, w)| w)
            .sum()
    }

    /// The weights as written, in the file's order.
    pub fn iter(&self) -> impl Iterator<Item = (Service, f64)> + '_ {
        self.0.iter().copied()
    }
}

/// `[data]`, checked: the generator accepts it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    /// Seed of the synthetic data.
    pub seed: u64,
    /// Code of the reporting administrator.
    pub administradora: String,
    /// Prefix of every `numeroRadicado`.
    pub radicado_prefix: String,
    /// The feeder, if the scenario names one.
    pub feeder: Option<FeederPlan>,
}

/// `[data] file`, checked: the file's rows replace `share` of the synthetic
/// affiliations (the file itself is read and checked when a run opens it).
#[derive(Debug, Clone, PartialEq)]
pub struct FeederPlan {
    /// The file, relative to the scenario's folder made absolute.
    pub path: std::path::PathBuf,
    /// How rows are handed out.
    pub strategy: crate::feeder::Strategy,
    /// Share of the affiliations taken from the file, in (0, 1].
    pub share: f64,
}

/// `[token]`: when cached tokens are refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPlan {
    /// Refresh this long before expiry.
    pub refresh_margin: Duration,
    /// Plus a random part up to this long.
    pub refresh_jitter: Duration,
}

/// `[http]`, checked: timeouts above 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpPlan {
    /// Timeout of one request, from sending to the end of the answer.
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// What retries may add to the report requests of any 10-second window,
    /// as a fraction (see [`crate::retry_budget`]).
    pub retry_budget: f64,
}

/// The caps in force against a production target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    /// Requests per second at most.
    pub max_rate: f64,
    /// How long the run may last.
    pub max_duration: Duration,
    /// Report requests in all.
    pub max_requests: u64,
}

impl Caps {
    /// Worker `index` of `count`'s share: the rate and the request budget
    /// divided among the workers (the remainder of the budget to the first).
    pub fn share(self, (index, count): (u16, u16)) -> Caps {
        let n = u64::from(count.max(1));
        let i = u64::from(index);
        Caps {
            max_rate: self.max_rate / n as f64,
            max_duration: self.max_duration,
            max_requests: self.max_requests / n + u64::from(i < self.max_requests % n),
        }
    }
}

/// Default production rate cap, requests per second.
pub const DEFAULT_MAX_RATE: f64 = 10.0;
/// Default production duration cap.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(300);

/// The checked plan of a capacity search ([`Model::Search`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchPlan {
    /// Rate of the first plateau.
    pub start_rate: f64,
    /// Highest rate tried.
    pub max_rate: f64,
    /// Factor of each step up.
    pub step: f64,
    /// Length of a plateau.
    pub plateau: Duration,
    /// Plateaus in all.
    pub plateaus: usize,
    /// Requests in flight at most.
    pub max_in_flight: usize,
}

/// The pause after each plateau of a search: the target drains what it
/// queued, and the search decides the next rate.
pub const SEARCH_PAUSE: Duration = Duration::from_secs(1);

impl SearchPlan {
    /// The whole run: every plateau and its pause.
    pub fn duration(&self) -> Duration {
        (self.plateau + SEARCH_PAUSE) * self.plateaus as u32
    }

    /// Report requests at most (every plateau at `max_rate`).
    pub fn max_requests(&self) -> u64 {
        (self.max_rate * self.plateau.as_secs_f64() * self.plateaus as f64).ceil() as u64
    }
}

/// The checked load model.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadModel {
    /// Arrival-rate model.
    Open {
        /// Rate at the start of the first stage.
        start_rate: f64,
        /// The stages.
        stages: Vec<Stage>,
        /// Requests in flight at most.
        max_in_flight: usize,
    },
    /// Closed model.
    Closed {
        /// Users.
        users: usize,
        /// Time to start them all.
        ramp: Duration,
        /// Pause after each answer.
        think_time: Duration,
        /// Run time after the ramp.
        run_time: Duration,
    },
    /// A capacity search.
    Search(SearchPlan),
}

impl RunPlan {
    /// The same plan for worker `index` of `count` ((0, 0) and (0, 1) mean a
    /// single process).
    pub fn for_worker(mut self, (index, count): (u16, u16)) -> RunPlan {
        self.worker = if count == 0 { (0, 1) } else { (index, count) };
        self
    }

    /// This worker's share of the production caps.
    pub fn worker_caps(&self) -> Caps {
        self.caps.share(self.worker)
    }

    /// The file as read (defaults filled in, the contract folder made
    /// absolute): what a run echoes as `scenario.toml`.
    pub fn file(&self) -> &ScenarioFile {
        &self.file
    }

    /// Total planned duration (open: the stages; closed: ramp + run time;
    /// search: every plateau and its pause).
    pub fn duration(&self) -> Duration {
        self.load.duration()
    }

    /// The load planned, for `--dry-run` and the caps: (peak rate if known,
    /// duration, total report requests if known).
    pub fn outline(&self) -> (Option<f64>, Duration, Option<u64>) {
        self.load.outline()
    }

    /// The global thresholds a plateau is judged by (a go-live stage, a
    /// capacity search's step): latency percentiles, max, mean, error rate.
    pub fn plateau_thresholds(&self) -> Vec<Threshold> {
        self.thresholds
            .iter()
            .filter(|(scope, t)| {
                scope.is_none()
                    && matches!(
                        t.metric,
                        Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::ErrorRate
                    )
            })
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl LoadModel {
    /// Total planned duration (open: the stages; closed: ramp + run time;
    /// search: every plateau and its pause).
    pub fn duration(&self) -> Duration {
        match self {
            LoadModel::Open { stages, .. } => stages.iter().map(|s| s.duration.0).sum(),
            LoadModel::Closed { ramp, run_time, .. } => *ramp + *run_time,
            LoadModel::Search(plan) => plan.duration(),
        }
    }

    /// The load planned: (peak rate if known, duration, total report
    /// requests if known).
    pub fn outline(&self) -> (Option<f64>, Duration, Option<u64>) {
        match self {
            LoadModel::Open {
                start_rate, stages, ..
            } => {
                let mut from = *start_rate;
                let mut peak = *start_rate;
                let mut total = 0.0;
                for s in stages {
                    peak = peak.max(s.rate);
                    total += (from + s.rate) / 2.0 * s.duration.0.as_secs_f64();
                    from = s.rate;
                }
                (Some(peak), self.duration(), Some(total.round() as u64))
            }
            LoadModel::Closed { .. } => (None, self.duration(), None),
            // At most: the search never goes above max_rate.
            LoadModel::Search(plan) => (
                Some(plan.max_rate),
                plan.duration(),
                Some(plan.max_requests()),
            ),
        }
    }
}
