//! `summary.json` as types: what a run (or `merge`) writes and what every
//! reader (`report`, `compare`, `merge`, `informe`, `capacity`) reads. The
//! field order is the file's key order; `results/summary.schema.json` is
//! generated from these types ([`super::schema`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::capacity::Capacity;
use super::keys::{Nullable, nullable, present};

/// Written by every `mss-harness run` into its results folder. schema_version
/// changes when a field changes meaning or disappears. Version 2: per service
/// `stored` and `rejected_as_expected` replace version 1's `accepted` (which
/// counted both), and `token.refreshes` counts the tokens obtained after the
/// first (version 1 counted every token). mss-harness reads versions 1 and 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "mss-harness run summary (summary.json)",
    extend("$id" = "https://mss-harness.invalid/results/summary.schema.json")
)]
pub struct Summary {
    /// The version of this file's layout (2).
    #[schemars(range(min = 2, max = 2))]
    pub schema_version: u64,
    /// mss-harness version.
    pub version: String,
    /// The scenario's name.
    pub scenario: String,
    /// "mock (embedded)" or the base URL.
    pub target: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub started_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub ended_at: String,
    /// Duration of the load, the seconds rates divide by: the planned one, or,
    /// for a run a signal stopped, from its start until the load ended (see
    /// interrupted).
    #[schemars(range(min = 0))]
    pub duration_s: f64,
    /// How a signal (Ctrl-C, SIGTERM) stopped the run; null when it ran to its
    /// end. Every run writes it; summaries written before it was added lack it.
    #[serde(default)]
    pub interrupted: Option<Interrupted>,
    /// Per service (by its protocol name) what became of its requests.
    pub services: BTreeMap<String, ServiceSummary>,
    /// The OAuth token requests.
    pub token: Token,
    /// Where the time went: per service (by its protocol name) and for the
    /// token service (`token`), its exchanges timed by phase. Absent when no
    /// exchange was timed (and from folders written before phases were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<BTreeMap<String, super::phases::ExchangePhases>>,
    /// Who ran what, from where, against what (summaries of version 1 may lack
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// Run metadata for the reports (summaries of version 1 may lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Requests the harness dropped (never sent: the in-flight cap was
    /// reached), every service.
    pub dropped: u64,
    /// Whether the run sent what it planned, and what held it back (every
    /// run writes it; summaries written before it was added lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<super::delivery::Delivery>,
    /// Each threshold of the scenario, judged over the whole load.
    pub thresholds: Vec<ThresholdResult>,
    /// Open model: each plateau (a stage holding its rate for 10 s or more)
    /// judged by the global latency and error-rate thresholds, its first 2 s
    /// left out.
    pub stages: Vec<Stage>,
    /// The highest plateau rate at which every global latency and error-rate
    /// threshold held (go-live).
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<f64>")]
    pub highest_sustained_rate: Option<f64>,
    /// The harness's count against what the mock stored.
    pub reconciliation: Reconciliation,
    /// The faults the scenario scheduled in the mock (null when none) and how
    /// many the mock injected per kind; absent from a merged result.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Option<Faults>")]
    pub faults: Option<Option<Faults>>,
    /// A run with two or more plateaus: the capacity analysis (as
    /// `mss-harness capacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// A run against a target other than the embedded mock: the ledger of
    /// what it sent (absent otherwise, and from a merge of several folders:
    /// each worker's folder names its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerFile>,
}

/// The ledger a run wrote (its format: docs/results.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerFile {
    /// The file, as the run named it (`<out>/ledger.jsonl`, or `run
    /// --ledger FILE`).
    pub file: String,
    /// Lines this run appended to it, its header included.
    pub lines: u64,
}

/// How a signal stopped the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interrupted {
    /// `SIGINT` or `SIGTERM`.
    pub signal: Signal,
    /// Seconds from the start of the run to the signal; nothing was sent after
    /// it.
    #[schemars(range(min = 0))]
    pub at_s: f64,
    /// How long the requests in flight were given to finish (--grace).
    #[schemars(range(min = 0))]
    pub grace_s: f64,
    /// Requests in flight when the signal came.
    pub in_flight_at_signal: u64,
    /// Requests abandoned after the grace period: the services' interrupted
    /// error class, summed.
    pub interrupted: u64,
    /// The load's planned duration, seconds.
    #[schemars(range(min = 0))]
    pub planned_duration_s: f64,
}

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Signal {
    /// Ctrl-C.
    #[serde(rename = "SIGINT")]
    Sigint,
    /// A polite stop (a scheduler, `kill`).
    #[serde(rename = "SIGTERM")]
    Sigterm,
}

impl Signal {
    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Sigint => "SIGINT",
            Signal::Sigterm => "SIGTERM",
        }
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The largest value.
    pub max: u64,
    /// The mean, to a tenth.
    #[schemars(range(min = 0))]
    pub mean: f64,
}

impl Percentiles {
    /// Of `h` (all zero when empty), the mean rounded to a tenth.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

/// One service's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSummary {
    /// Every request of the service: stored + rejected_as_expected + the sum
    /// of errors.
    pub requests: u64,
    /// Valid reports the target accepted and stored: answered OK, or, after a
    /// lost answer, found stored by a retry answered NEG01 (class ok). Against
    /// the mock it equals the records the mock holds (reconciliation). An
    /// invalid record the target stored by mistake counts as
    /// check_failed:<codigo>, not here.
    pub stored: u64,
    /// Deliberately invalid records (the scenario's [invalid]) the target
    /// refused with their expected HTTP status and codigo: neither stored nor
    /// an error.
    pub rejected_as_expected: u64,
    /// From the intended send time.
    pub latency_us: Percentiles,
    /// From the actual send time.
    pub service_time_us: Percentiles,
    /// Send lag: from the intended send time to the moment the request was
    /// handed to the connection (how late the harness sent; in the open model
    /// it should stay far below the latency). All zero in results written
    /// before it was measured.
    #[serde(default)]
    pub send_lag_us: Percentiles,
    /// Requests per error class (docs/protocol.md, "How the harness classes an
    /// answer"); stored and rejected_as_expected are not errors.
    #[schemars(extend("propertyNames" = {
        "pattern": r"^(http_3xx:[0-9]{3}|http_4xx:[0-9]{3}|http_5xx:[0-9]{3}|business:[A-Z0-9]+|check_failed:[A-Z0-9]+|cap_reached:[a-z_]+|dns|connect_refused|connect_timeout|tls|reset|read_timeout|truncated|invalid_body|auth_failed|token_unavailable|dropped|interrupted|unknown_outcome|unexpected_codigo:[^\s]+)$"
    }))]
    pub errors: BTreeMap<String, u64>,
    /// Report requests sent again (a lost answer, a 401) and those the retry
    /// budget ([http] retry_budget) refused; a refused report stays
    /// unresolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// Well-formed answers whose codigo the contract does not list (class
    /// unexpected_codigo:<codigo>), with the hint naming the contract file to
    /// edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_codigos: Option<Vec<UnexpectedCodigo>>,
    /// The slowest requests of the run (at most 10), slowest first, with
    /// their trace id, time sent and radicado, to find them in the AP's and
    /// the ministry's logs (summaries written before it was kept lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest: Option<Vec<super::slowest::Slow>>,
}

impl ServiceSummary {
    /// Its requests in an error class, summed.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Its requests dropped (error class `dropped`: never sent).
    pub fn dropped(&self) -> u64 {
        self.errors.get("dropped").copied().unwrap_or(0)
    }
}

/// Report requests sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Sent again.
    pub sent: u64,
    /// Refused by the retry budget.
    pub refused_by_budget: u64,
}

/// Answers with a codigo the contract does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnexpectedCodigo {
    /// The codigo answered.
    pub codigo: String,
    /// With this HTTP status.
    #[schemars(range(min = 100, max = 599))]
    pub http_status: u16,
    /// How many times.
    #[schemars(range(min = 1))]
    pub count: u64,
    /// Which contract file to edit.
    #[schemars(length(min = 1))]
    pub hint: String,
}

/// The OAuth token requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Token requests.
    pub requests: u64,
    /// Tokens obtained after the first one of each client_id (renewals before
    /// expiry, after a 401, after an outage); a run that fetched one token and
    /// never renewed it has 0.
    pub refreshes: u64,
    /// Their latency.
    pub latency_us: Percentiles,
    /// Each token request: seconds from the start of the run (negative:
    /// before it) and whether it produced a token; at most 10,000.
    #[serde(default)]
    pub events: Vec<TokenEvent>,
}

/// One token request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenEvent {
    /// Seconds from the start of the run.
    pub at_s: f64,
    /// Whether it produced a token.
    pub ok: bool,
}

/// Who ran what, from where, against what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// The OS user that ran it.
    pub os_user: String,
    /// The machine's host name.
    pub machine: String,
    /// mss-harness version.
    pub harness_version: String,
    /// Commit the harness was built from; null when unknown.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<String>")]
    pub git_commit: Option<String>,
    /// SHA-256 of the scenario as run (its `scenario.toml`).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub scenario_sha256: String,
    /// "mock (embedded)" or the base URL.
    pub target: String,
    /// The caps in force against a host that is not this machine; null
    /// otherwise.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<Production>")]
    pub production: Option<Production>,
    /// The feeder the data came from (`[data] file`); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeder: Option<FeederAudit>,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub started_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub ended_at: String,
}

/// What a run's feeder sent (never a value of its rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeederAudit {
    /// The file.
    pub file: String,
    /// `queue`, `circular`, `random` or `shuffle`.
    pub strategy: String,
    /// Rows in the file.
    pub rows: u64,
    /// Rows handed out to be sent (summed over workers).
    pub rows_sent: u64,
    /// Whether the data ran out (a queue sent every row) before the plan
    /// was done: the rest of the plan was not sent.
    pub exhausted: bool,
}

/// The production caps of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Production {
    /// Requests per second at most.
    pub max_rate: f64,
    /// Seconds at most.
    pub max_duration_s: f64,
    /// Report requests at most.
    pub max_requests: u64,
    /// Report requests the caps admitted.
    pub requests_admitted: u64,
    /// The cap that stopped the run, if one did.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<String>")]
    pub cap_reached: Option<String>,
}

/// Run metadata for the reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// This process's share of the load: worker index of count (0 of 1 for a
    /// single process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Worker>,
    /// The data seed.
    pub seed: u64,
    /// The administradora's code.
    pub administradora: String,
    /// The target's host.
    pub target_host: String,
    /// Commit the harness was built from, -dirty with local changes; null when
    /// unknown.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<String>")]
    pub git_commit: Option<String>,
    /// The worker indexes a merged result joins (mss-harness merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_workers: Option<Vec<u64>>,
}

/// A worker's share of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// From 0.
    pub index: u64,
    /// How many workers.
    #[schemars(range(min = 1))]
    pub count: u64,
}

/// A threshold judged over the whole load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdResult {
    /// As the scenario spells it.
    pub expr: String,
    /// `global` or a service's name.
    pub scope: String,
    /// Whether it held.
    pub ok: bool,
    /// µs for latencies, a fraction for rates, req/s for throughput.
    pub value: f64,
    /// The value for people (`12.3 ms`, `0.100%`, `50.0 req/s`).
    pub shown: String,
}

/// A plateau (or a capacity search step) judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The planned rate, req/s.
    pub rate: f64,
    /// Its first second.
    pub start_s: u64,
    /// Its end, seconds.
    pub end_s: u64,
    /// Requests completed over its judged seconds.
    pub completed: u64,
    /// Completed per judged second.
    pub achieved_rate: f64,
    /// Whether every check held.
    pub ok: bool,
    /// The checks.
    pub thresholds: Vec<PlateauCheck>,
    /// Seconds at the plateau's start left out (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<u64>,
    /// A `capacity` search step: why it failed (thresholds, shed, dropped).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Option<String>")]
    pub reason: Option<Option<String>>,
}

/// A threshold judged over a plateau.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateauCheck {
    /// As the scenario spells it.
    pub expr: String,
    /// Whether it held.
    pub ok: bool,
    /// Its value.
    pub value: f64,
}

/// What the harness counted against what the mock stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconciliation {
    /// Whether the target's records were counted.
    pub checked: bool,
    /// Whether they agree; null when not checked.
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<bool>")]
    pub ok: Option<bool>,
    /// Per service.
    pub services: BTreeMap<String, Reconciled>,
    /// Radicados the target stored though the harness saw no answer (the
    /// connection failed after commit; a retry was answered NEG01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_outcome: Option<Vec<UnknownOutcome>>,
    /// Retries answered NEG01 for a record an earlier attempt stored:
    /// recognised, not counted as errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_duplicates: Option<u64>,
    /// Reports whose every attempt during the load failed in transport, and
    /// what an end-of-run retry taught: stored_before (answered NEG01: listed
    /// in unknown_outcome too), sent_again (stored by that retry), unknown (no
    /// answer, or no retry: production target or a stopped run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<Vec<Unresolved>>,
}

impl Reconciliation {
    /// A result not reconciled (a URL target, a merged run).
    pub fn unchecked() -> Self {
        Reconciliation {
            checked: false,
            ok: None,
            services: BTreeMap::new(),
            unknown_outcome: None,
            idempotent_duplicates: None,
            unresolved: None,
        }
    }
}

/// One service's reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconciled {
    /// Stored, as the harness counted.
    pub harness: u64,
    /// Stored, as the target holds.
    pub target: u64,
    /// Stored by the harness's count, not held by the target.
    pub lost: u64,
    /// Held by the target beyond the harness's count and the unanswered.
    pub duplicated: u64,
    /// Requests abandoned by a stop (interrupted): the mock may or may not
    /// hold them, so target may exceed harness by up to this many.
    #[serde(default)]
    pub unanswered: u64,
}

/// A radicado stored though its answer was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownOutcome {
    /// The service's name.
    pub service: String,
    /// The report's radicado.
    #[serde(rename = "numeroRadicado")]
    pub numero_radicado: String,
}

/// A report whose every attempt failed in transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unresolved {
    /// The service's name.
    pub service: String,
    /// The report's radicado.
    #[serde(rename = "numeroRadicado")]
    pub numero_radicado: String,
    /// What the end-of-run retry taught.
    pub resolution: Resolution,
}

/// What became of a report whose answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A retry was answered NEG01: an earlier attempt had stored it.
    StoredBefore,
    /// A retry stored it.
    SentAgain,
    /// No answer, or no retry.
    Unknown,
}

/// Faults scheduled and injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// As the scenario's `[[faults]]` spell them.
    pub scheduled: Vec<Map<String, Value>>,
    /// Per kind, how many the mock injected (null when it could not say).
    #[serde(deserialize_with = "nullable")]
    #[schemars(with = "Nullable<BTreeMap<String, u64>>")]
    pub injected: Option<BTreeMap<String, u64>>,
}
