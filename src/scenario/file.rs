//! The scenario file (TOML) as serde reads it: every table and key, unknown
//! keys and wrong types refused with the file and the key named. Nothing here
//! checks values; [`super::validate`] does, producing the run's plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::ScenarioError;
use crate::domain::Service;

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

/// The whole scenario file, as written (defaults filled in by serde, nothing
/// checked beyond types): [`super::validate`] turns it into a
/// [`super::RunPlan`], and a run echoes it to its results as `scenario.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
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
/// on the command line overrides it. Default: the bundled contract.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// The folder, relative to the scenario file's folder when not absolute.
    pub dir: Option<PathBuf>,
}

impl ContractSpec {
    pub(super) fn is_default(&self) -> bool {
        self.dir.is_none()
    }
}

/// `[production]`: the caps of a run against any host but this machine. The
/// defaults are low on purpose; a scenario raises them only by writing them.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionSpec {
    /// Requests per second at most (default 10).
    pub max_rate: Option<f64>,
    /// How long the run may last (default 5 minutes).
    pub max_duration: Option<Span>,
    /// Report requests in all (default max_rate × max_duration).
    pub max_requests: Option<u64>,
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
    /// Whether report requests carry a W3C `traceparent` header; default:
    /// on against the embedded mock and this machine, off against any
    /// other host (a real target sees it only when the scenario says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<bool>,
}

impl TargetSpec {
    /// Whether report requests carry a `traceparent`: as written, or by
    /// default when the target is not a `production` host (another machine).
    pub fn sends_traceparent(&self, production: bool) -> bool {
        self.traceparent.unwrap_or(!production)
    }
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

/// `[load]` as written; [`super::LoadModel`] is the checked model.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// `open` or `closed`.
    pub model: Model,
    /// Open: rate at the start of the first stage [default: the first stage's rate].
    pub start_rate: Option<f64>,
    /// Open: the stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Open: requests in flight at most; a request that cannot start on time
    /// because of it is counted as `dropped`.
    pub max_in_flight: Option<usize>,
    /// Closed: users.
    pub users: Option<usize>,
    /// Closed: time to start them all.
    pub ramp: Option<Span>,
    /// Closed: pause after each answer.
    pub think_time: Option<Span>,
    /// Closed: how long the run lasts after the ramp.
    pub run_time: Option<Span>,
    /// Search: the highest rate to try.
    pub max_rate: Option<f64>,
    /// Search: each step up multiplies the rate by this (default 2).
    pub step: Option<f64>,
    /// Search: how long each plateau lasts (default 5 s).
    pub plateau: Option<Span>,
    /// Search: plateaus in all, stepping up then bisecting (default 10).
    pub plateaus: Option<usize>,
}

/// `[data]`; a key left out takes its value from [`Default`].
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSpec {
    /// Seed of the synthetic data.
    pub seed: u64,
    /// Code of the reporting administrator; `None` in a file that names
    /// none, until the plan fills in the contract's default one.
    pub administradora: Option<String>,
    /// Prefix of every `numeroRadicado`.
    pub radicado_prefix: String,
    /// A feeder: a CSV or JSON Lines file of affiliations in the contract's
    /// field names, relative to the scenario file's folder when not absolute
    /// (see [`crate::feeder`]).
    pub file: Option<PathBuf>,
    /// How the feeder hands out its rows (default `queue`).
    pub strategy: Option<crate::feeder::Strategy>,
    /// Share of the affiliations taken from the feeder, the rest generated
    /// (default 1: all of them).
    pub share: Option<f64>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            seed: 1,
            administradora: None,
            radicado_prefix: crate::generator::DEFAULT_PREFIX.into(),
            file: None,
            strategy: None,
            share: None,
        }
    }
}

/// `[token]`; a key left out takes its value from [`Default`].
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSpec {
    /// Refresh this long before expiry.
    pub refresh_margin: Span,
    /// Plus a random part up to this long.
    pub refresh_jitter: Span,
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            refresh_margin: Span(Duration::from_secs(30)),
            refresh_jitter: Span(Duration::from_secs(10)),
        }
    }
}

/// `[http]`; a key left out takes its value from [`Default`].
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSpec {
    /// Timeout of one request, from sending to the end of the answer.
    pub timeout: Span,
    /// Timeout of establishing a connection.
    pub connect_timeout: Span,
    /// What retries (of lost answers, after a 401) may add to the report
    /// requests of any 10-second window (see [`crate::retry_budget`]).
    pub retry_budget: Percent,
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            timeout: Span(Duration::from_secs(30)),
            connect_timeout: Span(Duration::from_secs(5)),
            retry_budget: Percent(0.1),
        }
    }
}

/// Read scenario text into its file type; `path` names it in errors (syntax,
/// unknown keys, wrong types).
pub fn read(text: &str, path: &Path) -> Result<ScenarioFile, ScenarioError> {
    let syntax = |message: String| ScenarioError::Syntax {
        path: path.to_owned(),
        message,
    };
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| syntax(toml_message(&e, text)))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let at = toml_message(&inner, text);
        syntax(if key == "." {
            at
        } else {
            format!("{key}: {at}")
        })
    })
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
