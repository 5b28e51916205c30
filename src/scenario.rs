//! Scenario files (TOML): what a load run does, declared as data.
//!
//! This module only parses and checks a file: unknown keys and wrong types are
//! errors that name the file and the key, values out of range likewise. Every
//! key is documented in `scenarios/README.md`. The run plan is derived from a
//! [`Scenario`] elsewhere; nothing here touches the network or the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::Service;
use crate::generator::invalid;

/// Why a scenario file was refused. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Neither a file nor the name of a shipped scenario.
    #[error(
        "{name}: no such file, and not a shipped scenario (shipped: {})",
        BUILT_IN.map(|(n, _)| n).join(", ")
    )]
    Unknown {
        /// What was asked for.
        name: String,
    },
    /// Not valid TOML, an unknown key, or a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and what.
        message: String,
    },
    /// A key whose value is well-formed but not acceptable.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`load.stages[1].rate`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A duration written as text: `"250ms"`, `"20s"`, `"5m"`, `"1h 30m"`; at most
/// [`Span::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span(pub Duration);

impl Span {
    /// The longest duration a scenario may write: a year (366 days). Longer ones
    /// are typos, and would overflow the sums and instants a run computes from
    /// them (the stages' total, ramp + run time, start + duration).
    pub const MAX: Duration = Duration::from_secs(366 * 86_400);
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like \"500ms\", \"20s\" or \"5m\": {e}"
            ))
        })?;
        if duration > Span::MAX {
            return Err(serde::de::Error::custom(format!(
                "{text:?} is longer than a year (366 days)"
            )));
        }
        Ok(Span(duration))
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A share written as a percentage: `"10%"`, `"2.5%"`; between 0% and 100%.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let value = text
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && (0.0..=100.0).contains(v))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a percentage between 0% and 100% like \"10%\""
                ))
            })?;
        Ok(Percent(value / 100.0))
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0 * 100.0))
    }
}

/// The whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in the results folder's name.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// Where the load goes.
    pub target: TargetSpec,
    /// Credentials for a real endpoint, by environment-variable name.
    #[serde(default)]
    pub credentials: Option<CredentialsSpec>,
    /// The load model.
    pub load: LoadSpec,
    /// Relative weights of the services.
    #[serde(default = "default_mix")]
    pub mix: BTreeMap<String, f64>,
    /// Fraction of deliberately invalid records, per codigo.
    #[serde(default)]
    pub invalid: BTreeMap<String, f64>,
    /// The synthetic data.
    #[serde(default)]
    pub data: DataSpec,
    /// Token refresh policy.
    #[serde(default)]
    pub token: TokenSpec,
    /// HTTP settings.
    #[serde(default)]
    pub http: HttpSpec,
    /// Pass/fail criteria: `global` and per service name.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Vec<String>>,
    /// Hard caps of a run against a target that is not this machine.
    #[serde(default)]
    pub production: ProductionSpec,
    /// `[contract]`: the contract folder the run uses.
    #[serde(default, skip_serializing_if = "ContractSpec::is_default")]
    pub contract: ContractSpec,
    /// Faults the mock injects during the run (offsets from the run's start),
    /// to rehearse an incident: `[{at = "30s", duration = "10s", kind = "stall"}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<mss_mock::FaultSpec>,
}

/// `[contract]`: which contract folder a run uses (an edited copy of
/// `contract/`, e.g. from the ministry's technical annex); `--contract DIR`
/// says the same on the command line. Default: the bundled contract.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// The folder, relative to the scenario file's folder when not absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

impl ContractSpec {
    fn is_default(&self) -> bool {
        self.dir.is_none()
    }
}

/// `[production]`: the caps of a run against any host but this machine. The
/// defaults are low on purpose; a scenario raises them only by writing them.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionSpec {
    /// Requests per second at most (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<f64>,
    /// How long the run may last (default 5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Span>,
    /// Report requests in all (default max_rate × max_duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
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

impl ProductionSpec {
    /// The caps, defaults filled in.
    pub fn caps(&self) -> Caps {
        let max_rate = self.max_rate.unwrap_or(DEFAULT_MAX_RATE);
        let max_duration = self.max_duration.map_or(DEFAULT_MAX_DURATION, |s| s.0);
        Caps {
            max_rate,
            max_duration,
            max_requests: self
                .max_requests
                .unwrap_or((max_rate * max_duration.as_secs_f64()).floor() as u64),
        }
    }
}

fn default_mix() -> BTreeMap<String, f64> {
    BTreeMap::from([
        (Service::Afiliacion.name().to_owned(), 9.0),
        (Service::Retracto.name().to_owned(), 1.0),
    ])
}

/// `[target]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `"mock"` (the embedded mock Ministry) or a base URL such as
    /// `https://miseguridadsocial.gov.co:8062`.
    pub url: String,
    /// Hosts a run may send to; required for any URL target.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Settings of the embedded mock (only with `url = "mock"`).
    #[serde(default)]
    pub mock: MockSpec,
}

/// `[target.mock]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MockSpec {
    /// Token lifetime on the mock, in seconds (default 300, as the protocol).
    #[serde(default)]
    pub token_ttl_seconds: Option<u64>,
    /// Latency profile of the mock (see `mock_server/mock.toml`).
    #[serde(default)]
    pub latency: Option<mss_mock::LatencyProfile>,
    /// Accepted records the mock keeps in full (oldest dropped first); long
    /// runs set it so that the mock's memory stays flat.
    #[serde(default)]
    pub max_records: Option<usize>,
    /// Duplicate fingerprints the mock keeps.
    #[serde(default)]
    pub max_fingerprints: Option<usize>,
    /// A capacity limit: requests served at once, a bounded queue, the rest
    /// shed (see `mock_server/mock.toml`'s `[capacity]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<mss_mock::CapacityConfig>,
}

/// `[credentials]`: a credentials file, or names of environment variables;
/// never the values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSpec {
    /// A credentials file (TOML, readable by its owner only).
    #[serde(default)]
    pub file: Option<String>,
    /// Variable holding "Usuario de conexión".
    #[serde(default)]
    pub username_env: Option<String>,
    /// Variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Variable holding the client_id used for both services.
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Variable holding the client_id of `ReportarAfiliaciontraslado`, when the
    /// ministry issued one per service.
    #[serde(default)]
    pub client_id_afiliacion_env: Option<String>,
    /// Variable holding the client_id of `ReportarRetractoAfiliacion`.
    #[serde(default)]
    pub client_id_retracto_env: Option<String>,
}

/// One stage of the open model: ramp linearly to `rate` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Requests per second at the end of the stage.
    pub rate: f64,
    /// How long the stage lasts.
    pub duration: Span,
}

/// The two load models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Arrival-rate model: requests are due at times the stages set.
    Open,
    /// A number of users, each sending, waiting for the answer and thinking.
    Closed,
    /// Open-model plateaus whose rates a capacity search chooses as it goes:
    /// up until the target fails, then bisecting the knee.
    Search,
}

/// `[load]` as written; [`Scenario::load_model`] gives the checked model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// `open` or `closed`.
    pub model: Model,
    /// Open: rate at the start of the first stage [default: the first stage's rate].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rate: Option<f64>,
    /// Open: the stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Open: requests in flight at most; a request that cannot start on time
    /// because of it is counted as `dropped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Closed: users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<usize>,
    /// Closed: time to start them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Span>,
    /// Closed: pause after each answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time: Option<Span>,
    /// Closed: how long the run lasts after the ramp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time: Option<Span>,
    /// Search: the highest rate to try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<f64>,
    /// Search: each step up multiplies the rate by this (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Search: how long each plateau lasts (default 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<Span>,
    /// Search: plateaus in all, stepping up then bisecting (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateaus: Option<usize>,
}

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

/// `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Seed of the synthetic data.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Code of the reporting administrator.
    #[serde(default = "default_admin")]
    pub administradora: String,
    /// Prefix of every `numeroRadicado`.
    #[serde(default = "default_prefix")]
    pub radicado_prefix: String,
}

fn default_seed() -> u64 {
    1
}
fn default_admin() -> String {
    mss_contract::Contract::default_administradora_code()
}
fn default_prefix() -> String {
    crate::generator::DEFAULT_PREFIX.into()
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            seed: default_seed(),
            administradora: default_admin(),
            radicado_prefix: default_prefix(),
        }
    }
}

/// `[token]`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Refresh this long before expiry.
    #[serde(default = "default_margin")]
    pub refresh_margin: Span,
    /// Plus a random part up to this long.
    #[serde(default = "default_jitter")]
    pub refresh_jitter: Span,
}

fn default_margin() -> Span {
    Span(Duration::from_secs(30))
}
fn default_jitter() -> Span {
    Span(Duration::from_secs(10))
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            refresh_margin: default_margin(),
            refresh_jitter: default_jitter(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Timeout of one request, from sending to the end of the answer.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// Timeout of establishing a connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
    /// What retries (of lost answers, after a 401) may add to the report
    /// requests of any 10-second window (see [`crate::retry_budget`]).
    #[serde(default = "default_retry_budget")]
    pub retry_budget: Percent,
}

fn default_retry_budget() -> Percent {
    Percent(0.1)
}

fn default_timeout() -> Span {
    Span(Duration::from_secs(30))
}
fn default_connect_timeout() -> Span {
    Span(Duration::from_secs(5))
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            retry_budget: default_retry_budget(),
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency percentile (from the intended send time), 0–100.
    Percentile(f64),
    /// The largest latency.
    Max,
    /// The mean latency.
    Mean,
    /// Share of requests that did not end `ok`, 0–1.
    ErrorRate,
    /// Share of requests `dropped`, 0–1.
    DropRate,
    /// Accepted requests per second over the run.
    Throughput,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// `p99 < 800ms`, `error_rate < 1%`, `throughput >= 100`: a parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub expr: String,
    /// What it measures.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// The bound: microseconds for latencies, a fraction for rates, req/s for
    /// throughput.
    pub bound: f64,
}

impl Threshold {
    /// Parse one expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let text = expr.trim();
        let (at, op_len, op) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|o| {
                text.find(o).map(|i| {
                    (
                        i,
                        o.len(),
                        match *o {
                            "<=" => Op::Le,
                            ">=" => Op::Ge,
                            "<" => Op::Lt,
                            _ => Op::Gt,
                        },
                    )
                })
            })
            .ok_or_else(|| format!("{expr:?}: expected METRIC OP VALUE, e.g. \"p99 < 800ms\""))?;
        let name = text[..at].trim();
        let value = text[at + op_len..].trim();
        let metric = match name {
            "max" => Metric::Max,
            "mean" | "avg" => Metric::Mean,
            "error_rate" => Metric::ErrorRate,
            "drop_rate" => Metric::DropRate,
            "throughput" | "rps" => Metric::Throughput,
            p if p.starts_with('p') => {
                let digits = &p[1..];
                let q = match digits {
                    "999" => 99.9,
                    d => d
                        .parse::<f64>()
                        .map_err(|_| format!("{expr:?}: unknown metric {p:?}"))?,
                };
                if !(0.0..=100.0).contains(&q) || q == 0.0 {
                    return Err(format!("{expr:?}: percentile {p:?} out of range"));
                }
                Metric::Percentile(q)
            }
            other => {
                return Err(format!(
                    "{expr:?}: unknown metric {other:?}; use p50, p90, p95, p99, p999, max, mean, error_rate, drop_rate or throughput"
                ));
            }
        };
        let bound = match metric {
            Metric::Percentile(_) | Metric::Max | Metric::Mean => {
                let d = humantime::parse_duration(value).map_err(|_| {
                    format!("{expr:?}: {value:?} is not a duration like 800ms or 2s")
                })?;
                d.as_secs_f64() * 1e6
            }
            Metric::ErrorRate | Metric::DropRate => {
                let n = value.strip_suffix('%').unwrap_or(value).trim();
                let n: f64 = n
                    .parse()
                    .map_err(|_| format!("{expr:?}: {value:?} is not a percentage like 1%"))?;
                if !value.ends_with('%') || !(0.0..=100.0).contains(&n) {
                    return Err(format!(
                        "{expr:?}: {value:?} must be a percentage between 0% and 100%"
                    ));
                }
                n / 100.0
            }
            Metric::Throughput => {
                let n: f64 = value.trim_end_matches("/s").trim().parse().map_err(|_| {
                    format!("{expr:?}: {value:?} is not a number of requests per second")
                })?;
                if !(n.is_finite() && n >= 0.0) {
                    return Err(format!("{expr:?}: {value:?} must be a non-negative rate"));
                }
                n
            }
        };
        Ok(Threshold {
            expr: text.to_owned(),
            metric,
            op,
            bound,
        })
    }

    /// What a plateau threshold's metric measured over a window: `latency`
    /// of its `completed` requests, `errors` of them errors (0 where the
    /// metric has nothing to measure).
    pub fn plateau_value(
        &self,
        latency: &hdrhistogram::Histogram<u64>,
        completed: u64,
        errors: u64,
    ) -> f64 {
        match self.metric {
            Metric::Percentile(q) if !latency.is_empty() => {
                latency.value_at_quantile(q / 100.0) as f64
            }
            Metric::Max => latency.max() as f64,
            Metric::Mean => latency.mean(),
            Metric::ErrorRate if completed > 0 => errors as f64 / completed as f64,
            _ => 0.0,
        }
    }

    /// Whether `value` (same unit as the bound) meets it.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Lt => value < self.bound,
            Op::Le => value <= self.bound,
            Op::Gt => value > self.bound,
            Op::Ge => value >= self.bound,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// The scenarios shipped in `scenarios/`, by name.
pub const BUILT_IN: [(&str, &str); 8] = [
    ("smoke", include_str!("../scenarios/smoke.toml")),
    ("baseline", include_str!("../scenarios/baseline.toml")),
    ("go-live", include_str!("../scenarios/go-live.toml")),
    ("soak", include_str!("../scenarios/soak.toml")),
    ("spike", include_str!("../scenarios/spike.toml")),
    (
        "token-expiry",
        include_str!("../scenarios/token-expiry.toml"),
    ),
    ("incident", include_str!("../scenarios/incident.toml")),
    ("capacity", include_str!("../scenarios/capacity.toml")),
];

impl Scenario {
    /// Read a scenario: a path to a TOML file, or the name of a built-in one.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, Path::new(&format!("scenarios/{name}.toml")));
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ScenarioError::Unknown {
                    name: name_or_path.to_owned(),
                }
            } else {
                ScenarioError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parse and check scenario text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let syntax = |message: String| ScenarioError::Syntax {
            path: path.to_owned(),
            message,
        };
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| syntax(toml_message(&e, text)))?;
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let at = toml_message(&inner, text);
            syntax(if key == "." {
                at
            } else {
                format!("{key}: {at}")
            })
        })?;
        let mut scenario = scenario;
        if let Some(dir) = scenario.contract.dir.take() {
            // Relative to the scenario's folder; the contract is this
            // process's from here on (the generator and the checks read it).
            let dir = match path.parent() {
                Some(parent) if dir.is_relative() => parent.join(dir),
                _ => dir,
            };
            mss_contract::Contract::install(&dir).map_err(|e| ScenarioError::Invalid {
                path: path.to_owned(),
                key: "contract.dir".to_owned(),
                message: format!("{}: {e}", dir.display()),
            })?;
            scenario.contract.dir = Some(dir);
        }
        scenario.check(path)?;
        Ok(scenario)
    }

    /// The parsed thresholds, with the scope each applies to (`None`: global).
    pub fn thresholds(&self) -> Vec<(Option<Service>, Threshold)> {
        let mut out = Vec::new();
        for (scope, exprs) in &self.thresholds {
            let service = Service::from_name(scope);
            for e in exprs {
                if let Ok(t) = Threshold::parse(e) {
                    out.push((service, t));
                }
            }
        }
        out
    }

    /// The global thresholds a plateau is judged by (a go-live stage, a
    /// capacity search's step): latency percentiles, max, mean, error rate.
    pub fn plateau_thresholds(&self) -> Vec<Threshold> {
        self.thresholds()
            .into_iter()
            .filter(|(scope, t)| {
                scope.is_none()
                    && matches!(
                        t.metric,
                        Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::ErrorRate
                    )
            })
            .map(|(_, t)| t)
            .collect()
    }

    /// The load model, checked when the file was parsed.
    pub fn load_model(&self) -> LoadModel {
        let l = &self.load;
        match l.model {
            Model::Open => LoadModel::Open {
                start_rate: l
                    .start_rate
                    .or_else(|| l.stages.first().map(|s| s.rate))
                    .unwrap_or(0.0),
                stages: l.stages.clone(),
                max_in_flight: l.max_in_flight.unwrap_or(1),
            },
            Model::Closed => LoadModel::Closed {
                users: l.users.unwrap_or(1),
                ramp: l.ramp.unwrap_or_default().0,
                think_time: l.think_time.unwrap_or_default().0,
                run_time: l.run_time.unwrap_or_default().0,
            },
            Model::Search => LoadModel::Search(SearchPlan {
                start_rate: l.start_rate.unwrap_or(1.0),
                max_rate: l.max_rate.unwrap_or(1.0),
                step: l.step.unwrap_or(2.0),
                plateau: l.plateau.map_or(Duration::from_secs(5), |p| p.0),
                plateaus: l.plateaus.unwrap_or(10),
                max_in_flight: l.max_in_flight.unwrap_or(1),
            }),
        }
    }

    /// Total planned duration (open: the stages; closed: ramp + run time).
    pub fn duration(&self) -> Duration {
        match self.load_model() {
            LoadModel::Open { stages, .. } => stages.iter().map(|s| s.duration.0).sum(),
            LoadModel::Closed { ramp, run_time, .. } => ramp + run_time,
            LoadModel::Search(plan) => plan.duration(),
        }
    }

    /// The load planned, for `--dry-run` and the caps: (peak rate if known,
    /// duration, total report requests if known).
    pub fn plan(&self) -> (Option<f64>, Duration, Option<u64>) {
        match self.load_model() {
            LoadModel::Open {
                start_rate, stages, ..
            } => {
                let mut from = start_rate;
                let mut peak = start_rate;
                let mut total = 0.0;
                for s in &stages {
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

    fn check_caps(&self, bad: &dyn Fn(&str, String) -> ScenarioError) -> Result<(), ScenarioError> {
        let p = self.production;
        if p.max_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(bad(
                "production.max_rate",
                "must be a positive number".into(),
            ));
        }
        if p.max_requests == Some(0) {
            return Err(bad("production.max_requests", "must be at least 1".into()));
        }
        let caps = p.caps();
        let (peak, duration, total) = self.plan();
        if let Some(peak) = peak
            && peak > caps.max_rate
        {
            return Err(bad(
                "load.stages",
                format!(
                    "peaks at {peak} req/s, over the production cap of {} req/s; raise [production] max_rate explicitly if the ministry agreed to it",
                    caps.max_rate
                ),
            ));
        }
        if duration > caps.max_duration {
            return Err(bad(
                "load",
                format!(
                    "lasts {}, over the production cap of {}; raise [production] max_duration explicitly",
                    humantime::format_duration(duration),
                    humantime::format_duration(caps.max_duration)
                ),
            ));
        }
        if let Some(total) = total
            && total > caps.max_requests
        {
            return Err(bad(
                "load",
                format!(
                    "plans {total} requests, over the production cap of {}; raise [production] max_requests explicitly",
                    caps.max_requests
                ),
            ));
        }
        Ok(())
    }

    fn check(&self, path: &Path) -> Result<(), ScenarioError> {
        let bad = |key: &str, message: String| ScenarioError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "name",
                format!("{:?} must be letters, digits, '-' or '_'", self.name),
            ));
        }
        if self.target.url != "mock" {
            if !(self.target.url.starts_with("https://") || self.target.url.starts_with("http://"))
            {
                return Err(bad(
                    "target.url",
                    format!(
                        "{:?} must be \"mock\" or an http(s):// base URL",
                        self.target.url
                    ),
                ));
            }
            if self.target.allowed_hosts.is_empty() {
                return Err(bad(
                    "target.allowed_hosts",
                    "a URL target needs the hosts it may send to".into(),
                ));
            }
            if self.credentials.is_none() {
                return Err(bad(
                    "credentials",
                    "a URL target needs [credentials]: a file, or the names of the environment variables"
                        .into(),
                ));
            }
            let host = reqwest::Url::parse(&self.target.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .ok_or_else(|| bad("target.url", format!("{:?} has no host", self.target.url)))?;
            if !crate::connect::is_local_host(&host) {
                self.check_caps(&bad)?;
            }
            let m = &self.target.mock;
            if m.token_ttl_seconds.is_some()
                || m.latency.is_some()
                || m.max_records.is_some()
                || m.max_fingerprints.is_some()
                || m.capacity.is_some()
            {
                return Err(bad(
                    "target.mock",
                    "settings of the embedded mock apply only with url = \"mock\"".into(),
                ));
            }
        } else if self.credentials.is_some() {
            return Err(bad(
                "credentials",
                "the embedded mock makes its own one-off credentials; remove [credentials]".into(),
            ));
        }
        if let Some(profile) = &self.target.mock.latency {
            profile.check().map_err(|e| bad("target.mock.latency", e))?;
        }
        if !self.faults.is_empty() {
            mss_mock::FaultSet::compile(&self.faults).map_err(|e| bad("faults", e))?;
            let local = self.target.url == "mock"
                || reqwest::Url::parse(&self.target.url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                    .is_some_and(|h| crate::connect::is_local_host(&h));
            if !local {
                return Err(bad(
                    "faults",
                    "faults are injected by the mock: the target must be url = \"mock\" or an mss-mock on this machine".into(),
                ));
            }
            let end = self.duration();
            for (i, f) in self.faults.iter().enumerate() {
                let at = f.at.as_deref().map(mss_mock::faults::parse_span);
                if let Some(Ok(at)) = at
                    && at >= end
                {
                    return Err(bad(
                        "faults",
                        format!(
                            "faults[{i}] ({}): at {} is not before the run's end ({})",
                            f.kind,
                            humantime::format_duration(at),
                            humantime::format_duration(end)
                        ),
                    ));
                }
            }
        }
        if self.target.mock.max_records == Some(0) {
            return Err(bad("target.mock.max_records", "must be at least 1".into()));
        }
        if self.target.mock.max_fingerprints.is_some_and(|n| n < 2) {
            return Err(bad(
                "target.mock.max_fingerprints",
                "must be at least 2".into(),
            ));
        }
        if self.target.mock.token_ttl_seconds == Some(0) {
            return Err(bad(
                "target.mock.token_ttl_seconds",
                "must be at least 1".into(),
            ));
        }
        if let Some(c) = &self.credentials {
            match (&c.file, &c.username_env, &c.password_env) {
                (Some(_), None, None) => {}
                (Some(_), _, _) => {
                    return Err(bad(
                        "credentials",
                        "give either file or the *_env names, not both".into(),
                    ));
                }
                (None, Some(_), Some(_)) => {}
                (None, _, _) => {
                    return Err(bad(
                        "credentials",
                        "give file, or username_env and password_env".into(),
                    ));
                }
            }
        }
        if let Some(c) = &self.credentials
            && c.file.is_none()
            && c.client_id_env.is_none()
            && (c.client_id_afiliacion_env.is_none() || c.client_id_retracto_env.is_none())
        {
            return Err(bad(
                "credentials",
                "give client_id_env, or both client_id_afiliacion_env and client_id_retracto_env"
                    .into(),
            ));
        }
        let l = &self.load;
        let other_model = |keys: &[(&str, bool)], model: &str| {
            keys.iter().find(|(_, present)| *present).map(|(k, _)| {
                bad(
                    &format!("load.{k}"),
                    format!("is not a key of the {model} model"),
                )
            })
        };
        let search_keys = [
            ("max_rate", l.max_rate.is_some()),
            ("step", l.step.is_some()),
            ("plateau", l.plateau.is_some()),
            ("plateaus", l.plateaus.is_some()),
        ];
        if l.model != Model::Search
            && let Some(e) = other_model(&search_keys, "open or closed")
        {
            return Err(e);
        }
        match l.model {
            Model::Search => {
                if let Some(e) = other_model(
                    &[
                        ("users", l.users.is_some()),
                        ("ramp", l.ramp.is_some()),
                        ("think_time", l.think_time.is_some()),
                        ("run_time", l.run_time.is_some()),
                        ("stages", !l.stages.is_empty()),
                    ],
                    "search",
                ) {
                    return Err(e);
                }
                let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1_000_000.0;
                let start = l.start_rate.ok_or_else(|| {
                    bad(
                        "load.start_rate",
                        "the search model needs the first plateau's rate".into(),
                    )
                })?;
                if !rate_ok(start) {
                    return Err(bad(
                        "load.start_rate",
                        format!("{start} must be above 0 and at most 1000000"),
                    ));
                }
                let max = l.max_rate.ok_or_else(|| {
                    bad(
                        "load.max_rate",
                        "the search model needs the highest rate it may try".into(),
                    )
                })?;
                if !rate_ok(max) || max < start {
                    return Err(bad(
                        "load.max_rate",
                        format!("{max} must be at least start_rate ({start}) and at most 1000000"),
                    ));
                }
                if let Some(f) = l.step
                    && !(f.is_finite() && (1.05..=10.0).contains(&f))
                {
                    return Err(bad(
                        "load.step",
                        format!("{f} must be a factor between 1.05 and 10"),
                    ));
                }
                if let Some(p) = l.plateau
                    && !(Duration::from_secs(3)..=Duration::from_secs(600)).contains(&p.0)
                {
                    return Err(bad("load.plateau", "must be between 3s and 10m".into()));
                }
                if let Some(n) = l.plateaus
                    && !(4..=100).contains(&n)
                {
                    return Err(bad("load.plateaus", format!("{n} must be 4–100")));
                }
                match l.max_in_flight {
                    Some(n) if (1..=100_000).contains(&n) => {}
                    Some(n) => {
                        return Err(bad("load.max_in_flight", format!("{n} must be 1–100000")));
                    }
                    None => {
                        return Err(bad(
                            "load.max_in_flight",
                            "the search model needs it".into(),
                        ));
                    }
                }
            }
            Model::Open => {
                if let Some(e) = other_model(
                    &[
                        ("users", l.users.is_some()),
                        ("ramp", l.ramp.is_some()),
                        ("think_time", l.think_time.is_some()),
                        ("run_time", l.run_time.is_some()),
                    ],
                    "open",
                ) {
                    return Err(e);
                }
                if l.stages.is_empty() {
                    return Err(bad("load.stages", "at least one stage is needed".into()));
                }
                let rate_ok = |r: f64| r.is_finite() && (0.0..=1_000_000.0).contains(&r);
                if let Some(r) = l.start_rate
                    && !rate_ok(r)
                {
                    return Err(bad(
                        "load.start_rate",
                        format!("{r} must be between 0 and 1000000"),
                    ));
                }
                for (i, s) in l.stages.iter().enumerate() {
                    if !rate_ok(s.rate) {
                        return Err(bad(
                            &format!("load.stages[{i}].rate"),
                            format!(
                                "{} must be between 0 and 1000000 requests per second",
                                s.rate
                            ),
                        ));
                    }
                    if s.duration.0.is_zero() {
                        return Err(bad(
                            &format!("load.stages[{i}].duration"),
                            "must be above 0".into(),
                        ));
                    }
                }
                match l.max_in_flight {
                    Some(n) if (1..=100_000).contains(&n) => {}
                    Some(n) => {
                        return Err(bad("load.max_in_flight", format!("{n} must be 1–100000")));
                    }
                    None => {
                        return Err(bad("load.max_in_flight", "the open model needs it".into()));
                    }
                }
            }
            Model::Closed => {
                if let Some(e) = other_model(
                    &[
                        ("start_rate", l.start_rate.is_some()),
                        ("stages", !l.stages.is_empty()),
                        ("max_in_flight", l.max_in_flight.is_some()),
                    ],
                    "closed",
                ) {
                    return Err(e);
                }
                match l.users {
                    Some(n) if (1..=100_000).contains(&n) => {}
                    Some(n) => return Err(bad("load.users", format!("{n} must be 1–100000"))),
                    None => return Err(bad("load.users", "the closed model needs it".into())),
                }
                if l.run_time.is_none_or(|r| r.0.is_zero()) {
                    return Err(bad(
                        "load.run_time",
                        "the closed model needs a run time above 0".into(),
                    ));
                }
            }
        }
        let mut total = 0.0;
        for (name, weight) in &self.mix {
            if Service::from_name(name).is_none() {
                return Err(bad(
                    &format!("mix.{name}"),
                    "unknown service; use ReportarAfiliaciontraslado or ReportarRetractoAfiliacion"
                        .into(),
                ));
            }
            if !(weight.is_finite() && *weight >= 0.0) {
                return Err(bad(
                    &format!("mix.{name}"),
                    format!("{weight} must be a non-negative weight"),
                ));
            }
            total += weight;
        }
        if total <= 0.0 {
            return Err(bad(
                "mix",
                "at least one service needs a positive weight".into(),
            ));
        }
        let mut invalid_total = 0.0;
        for (codigo, fraction) in &self.invalid {
            invalid::kind(codigo).map_err(|e| bad(&format!("invalid.{codigo}"), e.to_string()))?;
            if !(fraction.is_finite() && (0.0..=1.0).contains(fraction)) {
                return Err(bad(
                    &format!("invalid.{codigo}"),
                    format!("{fraction} must be a fraction 0–1"),
                ));
            }
            invalid_total += fraction;
        }
        if invalid_total > 1.0 {
            return Err(bad(
                "invalid",
                format!("the fractions add up to {invalid_total}, above 1"),
            ));
        }
        crate::generator::GeneratorConfig {
            radicado_prefix: self.data.radicado_prefix.clone(),
            ..crate::generator::GeneratorConfig::new(self.data.seed, &self.data.administradora)
        }
        .validate()
        .map_err(|e| bad("data", e.to_string()))?;
        if self.http.timeout.0.is_zero() || self.http.connect_timeout.0.is_zero() {
            return Err(bad("http", "timeouts must be above 0".into()));
        }
        for (scope, exprs) in &self.thresholds {
            if scope != "global" && Service::from_name(scope).is_none() {
                return Err(bad(
                    &format!("thresholds.{scope}"),
                    "scope must be global, ReportarAfiliaciontraslado or ReportarRetractoAfiliacion".into(),
                ));
            }
            for (i, e) in exprs.iter().enumerate() {
                Threshold::parse(e).map_err(|m| bad(&format!("thresholds.{scope}[{i}]"), m))?;
            }
        }
        Ok(())
    }
}

/// The TOML parser's message with its line and column, without the source
/// snippet.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {}", e.message())
        }
        None => e.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        for (name, _) in BUILT_IN {
            let s = Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            assert!(!s.thresholds().is_empty(), "{name} has no thresholds");
        }
        let smoke = Scenario::load("smoke").expect("smoke");
        assert_eq!(smoke.target.url, "mock");
        assert!(smoke.duration() <= Duration::from_secs(30));
    }

    #[test]
    fn thresholds_parse_with_units() {
        let t = Threshold::parse("p99 < 800ms").expect("p99");
        assert_eq!(t.metric, Metric::Percentile(99.0));
        assert_eq!(t.bound, 800_000.0);
        assert!(t.holds(799_999.0) && !t.holds(800_000.0));
        let t = Threshold::parse("error_rate <= 1%").expect("error rate");
        assert_eq!((t.metric, t.op, t.bound), (Metric::ErrorRate, Op::Le, 0.01));
        let t = Threshold::parse("p999<2s").expect("p999");
        assert_eq!(t.metric, Metric::Percentile(99.9));
        assert_eq!(t.bound, 2e6);
        assert_eq!(
            Threshold::parse("throughput >= 95").expect("rps").bound,
            95.0
        );
        for bad in [
            "p99 800ms",
            "p99 < fast",
            "error_rate < 2",
            "latency < 1s",
            "p0 < 1s",
            "error_rate < 120%",
        ] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
    }

    fn with(replace: &str, by: &str) -> Result<Scenario, ScenarioError> {
        let (_, smoke) = BUILT_IN[0];
        assert!(smoke.contains(replace), "{replace}");
        Scenario::parse(&smoke.replacen(replace, by, 1), Path::new("s.toml"))
    }

    #[test]
    fn durations_longer_than_a_year_are_refused() {
        // Found by tests/fuzz.rs: each of these once overflowed a sum of
        // durations (the stages' total, ramp + run time) and panicked, in
        // `parse` itself for a production target.
        let huge = "\"18446744073709551615s\"";
        let cases = [
            (
                "duration = \"20s\"",
                format!("duration = {huge}"),
                "load.stages",
            ),
            (
                "[thresholds]",
                format!("[production]\nmax_duration = {huge}\n[thresholds]"),
                "production.max_duration",
            ),
            (
                "[thresholds]",
                format!("[token]\nrefresh_margin = {huge}\n[thresholds]"),
                "token.refresh_margin",
            ),
        ];
        for (replace, by, key) in cases {
            let err = with(replace, &by).expect_err(key).to_string();
            assert!(
                err.contains(key) && err.contains("longer than a year"),
                "{err}"
            );
        }
        let production = "name = \"p\"\n[target]\nurl = \"https://ministerio.test\"\n\
            allowed_hosts = [\"ministerio.test\"]\n[credentials]\nfile = \"c.toml\"\n\
            [load]\nmodel = \"open\"\nmax_in_flight = 1\nstages = [\
            { rate = 1, duration = \"1s\" }, { rate = 1, duration = \"18446744073709551615s\" }]\n";
        let err = Scenario::parse(production, Path::new("p.toml")).expect_err("too long");
        assert!(err.to_string().contains("longer than a year"), "{err}");
        let closed = "name = \"c\"\n[target]\nurl = \"mock\"\n[load]\nmodel = \"closed\"\n\
            users = 1\nramp = \"1s\"\nrun_time = \"18446744073709551615s\"\n";
        let err = Scenario::parse(closed, Path::new("c.toml")).expect_err("too long");
        assert!(err.to_string().contains("load.run_time"), "{err}");
        // A year is still a duration.
        let year = with("duration = \"20s\"", "duration = \"366days\"").expect("a year");
        assert_eq!(year.duration(), Span::MAX);
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let cases = [
            ("[load]", "bogus = 1\n[load]", "bogus"),
            (
                "max_in_flight = ",
                "max_in_flight = \"many\" #",
                "max_in_flight",
            ),
            ("{ rate = 50", "{ rate = -5", "load.stages[0].rate"),
            ("\"p99 < ", "\"p99 is ", "thresholds.global[0]"),
            ("seed = ", "seed = \"x\" #", "seed"),
            (
                "administradora = \"230301\"",
                "administradora = \"999\"",
                "data",
            ),
        ];
        for (replace, by, needle) in cases {
            let err = with(replace, by).expect_err(needle).to_string();
            assert!(err.starts_with("s.toml"), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
