//! The load engine: a scenario's requests, sent by Goose users.
//!
//! Goose is configured in code (`GooseConfiguration` +
//! `GooseAttack::initialize_with_config`; it never sees our argv; telnet and
//! websocket controllers off) and runs one scenario whose only transaction is
//! [`RunContext::iteration`]. In the open model every user takes the next ticket
//! of the shared [`ArrivalSchedule`], sleeps until it is due and sends; latency
//! is measured from the due time. A ticket taken more than [`LATE_TOLERANCE`]
//! late — every sender was busy, `max_in_flight` were in flight — is counted as
//! `dropped` and not sent. In the closed model each user sends, waits and thinks.
//! The harness records its own metrics ([`Metrics`]). Goose's own request
//! metrics and report are a second metrics system on every request: only with
//! `run --goose-report` is each request also given to Goose's request metrics;
//! otherwise Goose runs without metrics. Either way a user sends through the
//! transport ([`crate::transport`]) on the connection it keeps (its Goose
//! session data), and each answered request's phases are recorded.
//!
//! A signal stops a run gracefully ([`RunContext::interrupt`]): nothing new is
//! sent, the requests in flight get a grace period, those still unanswered
//! after it are abandoned and recorded as `interrupted`, and Goose's killswitch
//! ends the attack.
//!
//! The parts, one idea each:
//! - `attack`: the Goose glue — [`prepare`] a run's shared context,
//!   [`execute`] the attack, the [`users`] it takes;
//! - `iteration`: one user's turn — a ticket, its work, its send;
//! - `data`: the synthetic data each ticket sends (mix, invalid cases,
//!   retraction pool);
//! - `limiter`: the production caps ([`Limiter`]);
//! - `stop`: the one stop state (caps, data errors, signals and their grace);
//! - `timer`: waits that end on time to the microsecond (a ticket's due time);
//! - `send`: a request built, sent through the transport (and given to Goose's
//!   metrics for its report) and its answer classified into an [`Outcome`];
//! - `resolve`: reports whose answers were lost — retries, the retry budget,
//!   the end-of-run resolution ([`Doubts`], [`Resolution`]);
//! - `ledger_hook`: the run's ledger, written before each valid report goes
//!   out and when its answer comes;
//! - `context`: what the rest of the harness reads of a running run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{Contract, Service};
use crate::metrics::Metrics;
use crate::retry_budget::RetryBudget;
use crate::schedule::ArrivalSchedule;
use crate::token::TokenCache;

mod attack;
mod context;
mod data;
mod delivery;
mod iteration;
mod ledger_hook;
mod limiter;
mod resolve;
mod send;
mod stop;
mod timer;

pub use attack::{Target, execute, prepare, users};
pub use data::{CheckedFeeder, FeederState};
pub use delivery::{DeliverySecond, LoadSecond};
pub use limiter::Limiter;
pub use resolve::{Doubts, Resolution};
pub use send::Unexpected;
pub use stop::Interruption;

#[cfg(doc)]
use crate::outcome::Outcome;

/// A ticket taken later than this after its due time is `dropped`.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(100);

/// Everything the users of a run share.
#[derive(Debug)]
pub struct RunContext {
    base_url: String,
    /// Where the report requests go, through the transport.
    endpoint: crate::transport::Endpoint,
    /// The services' request URIs (origin-form), per service.
    uris: [hyper::Uri; 2],
    http: reqwest::Client,
    schedule: Option<ArrivalSchedule>,
    think_time: Duration,
    timeout: Duration,
    duration: Duration,
    /// Set by the first iteration: Goose takes a moment to start its users, and
    /// due times count from when the first one runs.
    start: OnceLock<Instant>,
    metrics: Metrics,
    tokens: [Arc<TokenCache>; 2],
    data: Mutex<data::DataSource>,
    stored: [AtomicU64; 2],
    others: HashMap<String, Arc<TokenCache>>,
    own: String,
    limiter: Option<Limiter>,
    worker: (u16, u16),
    /// How far the run has stopped, and the requests in flight a stop waits for.
    stop: stop::StopState,
    /// The open model's waits for a ticket's due time, to the microsecond.
    timers: timer::PreciseTimers,
    /// Requests are also given to Goose's own metrics and report
    /// (`run --goose-report`).
    through_goose: std::sync::atomic::AtomicBool,
    /// Reports whose answers were lost: confirmed, and still unresolved.
    doubts: Mutex<Doubts>,
    unresolved: Mutex<Vec<resolve::Unresolved>>,
    /// Reports of a resend pass under way, not yet answered.
    resending: AtomicUsize,
    /// What retries may add to the first sends (`[http] retry_budget`).
    budget: RetryBudget,
    /// Retries sent, per service.
    retries: [AtomicU64; 2],
    /// Retries the budget refused, per service.
    retries_refused: [AtomicU64; 2],
    /// Answers with a codigo the contract does not list.
    unexpected: Mutex<Unexpected>,
    /// The plan's tickets sent and dropped, by the second they were due.
    delivery: delivery::DeliveryCounter,
    /// Once a second: the in-flight peak and the harness's CPU.
    samples: delivery::LoadSamples,
    /// The Goose users sending: the most requests in flight at once.
    senders: usize,
    /// The contract the run follows (its plan's).
    contract: Arc<Contract>,
    /// Report requests carry a W3C `traceparent` (`[target] traceparent`;
    /// by default against this machine only).
    traceparent: bool,
    /// What a run against a target that keeps its records sent
    /// ([`crate::ledger`]); set once, before the load.
    ledger: OnceLock<crate::ledger::Ledger>,
}

/// The index of `s` in the per-service arrays.
fn service_index(s: Service) -> usize {
    match s {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}
