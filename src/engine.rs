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
//! The harness records its own metrics ([`Metrics`]); Goose's report is kept as
//! a secondary output.
//!
//! A signal stops a run gracefully ([`RunContext::interrupt`]): nothing new is
//! sent, the requests in flight get a grace period, those still unanswered
//! after it are abandoned and recorded as `interrupted`, and Goose's killswitch
//! ends the attack.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use goose::config::GooseConfiguration;
use goose::goose::{GooseMethod, GooseRequest, GooseResponse};
use goose::prelude::{GooseAttack, GooseUser, Transaction, TransactionFunction};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::domain::{Contract, Role, Service};
use crate::generator::invalid::{InvalidCase, InvalidGenerator, PENDING_TRANSACTION};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};
use crate::interrupt::Signal;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::retry_budget::RetryBudget;
use crate::scenario::{Caps, LoadModel, RunPlan};
use crate::schedule::ArrivalSchedule;
use crate::token::{TokenCache, TokenError};

/// A ticket taken later than this after its due time is `dropped`.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(100);
/// Accepted affiliations kept for retractions.
const POOL: usize = 10_000;
/// Retries of a report whose answer was lost (connection failed after it was
/// sent), to learn whether the target stored it.
const RESOLVE_RETRIES: u32 = 3;

/// Outcomes after which a report may or may not have been stored: the request
/// went out and no trustworthy answer came back.
fn in_doubt(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Reset | Outcome::ReadTimeout | Outcome::Truncated | Outcome::InvalidBody
    )
}

/// Whether `outcome` is the contract's duplicate rejection ([`Role::Duplicate`]).
fn is_duplicate(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Business(c) if c == Contract::current().codigo_of(Role::Duplicate))
}

/// Answers that tell whether a lost report was stored: stored (it was not, and
/// now is) or the duplicate rejection (it was).
fn settles(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Ok) || is_duplicate(outcome)
}

/// One request sent (or attempted) and its answer, not yet recorded.
#[derive(Debug, Clone)]
struct Sent {
    outcome: Outcome,
    numero: Option<String>,
    latency: Option<Duration>,
    service_time: Option<Duration>,
}

/// A report whose every attempt failed in transport: recorded after the load,
/// once an end-of-run retry has told whether the target stored it.
#[derive(Debug)]
struct Unresolved {
    service: Service,
    shard: usize,
    body: Bytes,
    cache: Arc<TokenCache>,
    lost: Vec<Sent>,
}

/// What became of a report whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A retry was answered NEG01: an earlier attempt had stored it.
    StoredBefore,
    /// The end-of-run retry stored it: no earlier attempt had.
    SentAgain,
    /// Not known: the retry failed too, or none was sent (a production
    /// target, an interrupted run).
    Unknown,
}

/// The reconciliation's view of the reports whose answers were lost.
#[derive(Debug, Default, Clone)]
pub struct Doubts {
    /// (service, numeroRadicado) of every `unknown_outcome`.
    pub unknown_outcome: Vec<(Service, String)>,
    /// Retries answered NEG01 (recognised as idempotent duplicates).
    pub idempotent_duplicates: u64,
    /// Reports left unresolved by the run's retries and what became of them.
    pub unresolved: Vec<(Service, String, Resolution)>,
}

/// The `numeroRadicado` of a report body (empty when it has none).
fn radicado_of(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct R {
        #[serde(rename = "numeroRadicado", default)]
        numero_radicado: String,
    }
    serde_json::from_slice::<R>(body)
        .map(|r| r.numero_radicado)
        .unwrap_or_default()
}

/// The production caps, enforced on every report request before it is sent:
/// requests are spaced at least `1 / max_rate` apart, none starts after
/// `max_duration`, and no more than `max_requests` are sent.
#[derive(Debug)]
pub struct Limiter {
    caps: Caps,
    sent: AtomicU64,
    next: Mutex<Option<Instant>>,
    reached: std::sync::OnceLock<String>,
}

impl Limiter {
    /// A limiter for `caps`.
    pub fn new(caps: Caps) -> Self {
        Limiter {
            caps,
            sent: AtomicU64::new(0),
            next: Mutex::new(None),
            reached: std::sync::OnceLock::new(),
        }
    }

    /// Requests admitted so far.
    pub fn sent(&self) -> u64 {
        self.sent
            .load(Ordering::Relaxed)
            .min(self.caps.max_requests)
    }

    /// Which cap stopped the run, if one did.
    pub fn reached(&self) -> Option<&str> {
        self.reached.get().map(String::as_str)
    }

    fn stop_at_duration(&self) {
        let _ = self.reached.set(format!(
            "max_duration {}",
            humantime::format_duration(self.caps.max_duration)
        ));
    }

    /// Wait for the slot of `n` more requests of a run that started at
    /// `start`; false when a cap forbids them (the run stops sending).
    async fn admit(&self, start: Instant, n: u64) -> bool {
        let end = start + self.caps.max_duration;
        if Instant::now() >= end {
            self.stop_at_duration();
            return false;
        }
        let before = self.sent.fetch_add(n, Ordering::SeqCst);
        if before + n > self.caps.max_requests {
            let _ = self
                .reached
                .set(format!("max_requests {}", self.caps.max_requests));
            return false;
        }
        let gap = Duration::from_secs_f64(n as f64 / self.caps.max_rate);
        let slot = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |t| t.max(now));
            *next = Some(slot + gap);
            slot
        };
        if slot >= end {
            self.stop_at_duration();
            return false;
        }
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// What the target expects of a request.
#[derive(Debug, Clone)]
enum Expect {
    Accepted,
    Rejected { codigo: &'static str, status: u16 },
}

/// One unit of work: a request, or an invalid case with its set-up.
#[derive(Debug)]
enum Work {
    Single {
        service: Service,
        body: Bytes,
        pool: Option<AcceptedAffiliation>,
    },
    Case(Box<InvalidCase>),
}

/// The synthetic data of a run, shared by every user.
#[derive(Debug)]
struct DataSource {
    affiliations: AffiliationGenerator,
    retractions: RetractionGenerator,
    pool: VecDeque<AcceptedAffiliation>,
    rng: ChaCha8Rng,
    retract_share: f64,
    invalid: Vec<(String, f64)>,
}

impl DataSource {
    fn next(&mut self) -> Result<Work, String> {
        let roll: f64 = self.rng.random();
        let mut acc = 0.0;
        for (codigo, fraction) in &self.invalid {
            acc += fraction;
            if roll < acc {
                let codigo = codigo.clone();
                let mut g = InvalidGenerator::new(&mut self.affiliations, &mut self.retractions);
                return g
                    .case(&codigo)
                    .map(|c| Work::Case(Box::new(c)))
                    .map_err(|e| e.to_string());
            }
        }
        if self.rng.random::<f64>() < self.retract_share {
            // The most recent first: well inside its window, and still held by
            // a target that keeps only its latest records.
            while let Some(a) = self.pool.pop_back() {
                if let Some(r) = self.retractions.retraction(&a) {
                    let body = serde_json::to_vec(&r).map_err(|e| e.to_string())?;
                    return Ok(Work::Single {
                        service: Service::Retracto,
                        body: body.into(),
                        pool: None,
                    });
                }
            }
        }
        let mut body = Vec::with_capacity(1024);
        let drawn = self
            .affiliations
            .next_affiliation_json(&mut body)
            .map_err(|e| e.to_string())?;
        // Kept for a later retraction only when the mix has retractions.
        let pool = (self.retract_share > 0.0).then(|| drawn.accepted(""));
        Ok(Work::Single {
            service: Service::Afiliacion,
            body: body.into(),
            pool,
        })
    }

    fn accepted(&mut self, mut a: AcceptedAffiliation, numero: &str) {
        if self.retract_share <= 0.0 {
            return;
        }
        a.numero_transaccion = numero.to_owned();
        if self.pool.len() >= POOL {
            self.pool.pop_front();
        }
        self.pool.push_back(a);
    }
}

/// The answer's envelope, borrowed from the body where it can be: an object
/// with a string `resultado` and `codigo` (`numeroTransaccion` is read when
/// there).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    resultado: Cow<'a, str>,
    #[serde(borrow)]
    codigo: Cow<'a, str>,
    #[serde(rename = "numeroTransaccion", borrow, default)]
    numero_transaccion: Option<Cow<'a, str>>,
}

/// Answers whose `codigo` the contract does not list, per service:
/// (service, codigo, HTTP status) → count.
pub type Unexpected = std::collections::BTreeMap<(Service, String, u16), u64>;

/// How far a graceful stop has gone; only ever rises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Halt {
    /// Sending as planned.
    Running,
    /// Told to stop: nothing new is sent; requests in flight may finish.
    Stopping,
    /// The grace period is over: requests still in flight are abandoned.
    Abandon,
}

/// A run stopped by a signal.
#[derive(Debug, Clone)]
pub struct Interruption {
    /// The signal.
    pub signal: Signal,
    /// When it arrived.
    pub at: Instant,
    /// Requests in flight then.
    pub in_flight: usize,
    /// How long they were given.
    pub grace: Duration,
    /// When the load ended: every request answered, or the grace period over
    /// (`None` while the stop is under way).
    pub ended: Option<Instant>,
}

/// Everything the users of a run share.
#[derive(Debug)]
pub struct RunContext {
    base_url: String,
    urls: [reqwest::Url; 2],
    http: reqwest::Client,
    schedule: Option<ArrivalSchedule>,
    think_time: Duration,
    timeout: Duration,
    duration: Duration,
    /// Set by the first iteration: Goose takes a moment to start its users, and
    /// due times count from when the first one runs.
    start: std::sync::OnceLock<Instant>,
    metrics: Metrics,
    tokens: [Arc<TokenCache>; 2],
    data: Mutex<DataSource>,
    in_flight: AtomicUsize,
    stored: [AtomicU64; 2],
    stopping: AtomicBool,
    others: std::collections::HashMap<String, Arc<TokenCache>>,
    own: String,
    fatal: Mutex<Option<String>>,
    limiter: Option<Limiter>,
    worker: (u16, u16),
    /// Set (SeqCst, before `halt`) when the run is told to stop; checked after
    /// `in_flight` is raised and before a request goes out, so that a request
    /// either sees it or is counted in flight by [`RunContext::interrupt`].
    halting: AtomicBool,
    /// The stop's progress, for what waits on it.
    halt: watch::Sender<Halt>,
    /// Woken when the last request in flight of a stopping run ends.
    settled: Notify,
    interruption: Mutex<Option<Interruption>>,
    /// The attack has ended: a signal now interrupts nothing.
    finished: AtomicBool,
    /// Reports whose answers were lost: confirmed, and still unresolved.
    doubts: Mutex<Doubts>,
    unresolved: Mutex<Vec<Unresolved>>,
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
}

fn service_index(s: Service) -> usize {
    match s {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}

impl RunContext {
    /// Metrics of the run.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Retries sent and retries the budget refused, per service.
    pub fn retries(&self) -> ([u64; 2], [u64; 2]) {
        let load =
            |a: &[AtomicU64; 2]| [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)];
        (load(&self.retries), load(&self.retries_refused))
    }

    /// The retry budget's ratio (0–1).
    pub fn retry_budget(&self) -> f64 {
        self.budget.ratio()
    }

    /// Answers whose codigo the contract does not list, per service, codigo
    /// and HTTP status.
    pub fn unexpected(&self) -> Unexpected {
        self.unexpected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// May `service` send a retry now (`after_load`: the run's remaining
    /// budget)? Counted either way.
    fn retry_allowed(&self, service: Service, after_load: bool) -> bool {
        let ok = if after_load {
            self.budget.try_retry_after_load()
        } else {
            self.budget.try_retry()
        };
        let counter = if ok {
            &self.retries
        } else {
            &self.retries_refused
        };
        counter[service_index(service)].fetch_add(1, Ordering::Relaxed);
        ok
    }

    /// Records the target answered `OK` to, per service (for reconciliation).
    pub fn stored(&self) -> [u64; 2] {
        [
            self.stored[0].load(Ordering::Relaxed),
            self.stored[1].load(Ordering::Relaxed),
        ]
    }

    /// The token caches, per service (the same cache when one client_id serves both).
    pub fn tokens(&self) -> &[Arc<TokenCache>; 2] {
        &self.tokens
    }

    /// The open model's timetable (a capacity search extends it as it goes).
    pub fn schedule(&self) -> Option<&ArrivalSchedule> {
        self.schedule.as_ref()
    }

    /// Requests now in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Reports whose answers were lost and that wait to be sent again, or are
    /// being sent again now (what a run does after its load, for the progress line).
    pub fn lost_reports(&self) -> usize {
        self.unresolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
            + self.resending.load(Ordering::Relaxed)
    }

    /// A data error that stopped the run, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn stop_with(&self, message: String) {
        self.stopping.store(true, Ordering::Relaxed);
        let mut f = self
            .fatal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.get_or_insert(message);
    }

    /// (index, count) of this worker.
    pub fn worker(&self) -> (u16, u16) {
        self.worker
    }

    /// The production caps' limiter, against a production target.
    pub fn limiter(&self) -> Option<&Limiter> {
        self.limiter.as_ref()
    }

    /// When the run's clock started (the first iteration), if it has.
    pub fn started(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    /// The signal that stopped the run, if one did.
    pub fn interruption(&self) -> Option<Interruption> {
        self.interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Seconds the load lasted: the planned duration, or, when a signal
    /// stopped the run, from its start until the load ended (what rates divide by).
    pub fn load_seconds(&self) -> f64 {
        let planned = self.duration.as_secs_f64();
        match (self.interruption(), self.started()) {
            (None, _) => planned,
            (Some(_), None) => 0.0,
            (Some(i), Some(start)) => {
                let end = i.ended.unwrap_or_else(Instant::now);
                end.saturating_duration_since(start)
                    .as_secs_f64()
                    .min(planned)
            }
        }
    }

    /// The attack is over: a signal from now on interrupts nothing.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Stop the run after `signal`: nothing new is sent (iterations waiting
    /// for a due time wake up and return), the requests in flight get `grace`
    /// to finish, those still in flight then are abandoned and recorded as
    /// `interrupted`, and Goose's killswitch ends the attack. Returns once the
    /// killswitch is triggered.
    ///
    /// The killswitch is process-global (it cancels every Goose attack in the
    /// process): call this only in reaction to a real signal, never from code
    /// that in-process tests share.
    pub async fn interrupt(&self, signal: Signal, grace: Duration) {
        if self.finished.load(Ordering::SeqCst) || self.halting.swap(true, Ordering::SeqCst) {
            return;
        }
        let at = Instant::now();
        let in_flight = self.in_flight.load(Ordering::SeqCst);
        *self
            .interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Interruption {
            signal,
            at,
            in_flight,
            grace,
            ended: None,
        });
        self.halt.send_replace(Halt::Stopping);
        eprintln!(
            "mss-harness: {}: nothing more is sent; waiting up to {} for {in_flight} request(s) in flight",
            signal.name(),
            humantime::format_duration(grace)
        );
        let deadline = at + grace;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = settled => {}
            }
        }
        let ended = Instant::now();
        if let Some(i) = self
            .interruption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            i.ended = Some(ended);
        }
        self.halt.send_replace(Halt::Abandon);
        // Goose clears its killswitch when its attack starts; the run's clock
        // starts with the first iteration, after that.
        while self.started().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        goose::trigger_killswitch(&format!("{} received", signal.name()));
    }

    /// Whether the run has been told to stop.
    fn halted(&self) -> bool {
        self.halting.load(Ordering::SeqCst)
    }

    /// Return once the stop has reached `level` (never while the run goes on).
    async fn halt_reached(&self, level: Halt) {
        let mut rx = self.halt.subscribe();
        if rx.wait_for(|h| *h >= level).await.is_err() {
            // The sender lives as long as `self`.
            std::future::pending::<()>().await;
        }
    }

    /// Sleep until `t`; false when the run was told to stop first. Always
    /// through Tokio's timer, even for a moment already past: its cooperative
    /// budget is what makes users that loop on a past deadline (after the
    /// schedule's end) yield to Goose.
    async fn sleep_until(&self, t: Instant) -> bool {
        if self.halted() {
            return false;
        }
        // Biased: the stop's future is only polled (and subscribed) once the
        // first branch is pending, which keeps ready futures cheap.
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(t) => !self.halted(),
            () = self.halt_reached(Halt::Stopping) => false,
        }
    }

    /// `future`'s output, or `None` when the stop reaches `level` first.
    async fn unless_halt<F: std::future::Future>(
        &self,
        level: Halt,
        future: F,
    ) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = future => Some(out),
            () = self.halt_reached(level) => None,
        }
    }

    /// `future`'s output, or `None` when the run is told to stop first.
    async fn unless_stopped<F: std::future::Future>(&self, future: F) -> Option<F::Output> {
        if self.halted() {
            return None;
        }
        self.unless_halt(Halt::Stopping, future).await
    }

    /// `future`'s output, or `None` when the grace period of a stop ends first.
    async fn unless_abandoned<F: std::future::Future>(&self, future: F) -> Option<F::Output> {
        self.unless_halt(Halt::Abandon, future).await
    }

    /// An iteration of a stopping run: wait until its grace period is over,
    /// then pace the calls Goose makes until it tells its users to exit.
    async fn idle_until_exit(&self) {
        self.halt_reached(Halt::Abandon).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fn begin(&self) -> Instant {
        *self.start.get_or_init(|| {
            let now = Instant::now();
            self.metrics.start_at(now);
            now
        })
    }

    /// One Goose transaction: one ticket (open) or one round (closed), sent
    /// through `user` so that Goose's own metrics and report see every request.
    pub async fn iteration(&self, user: &mut GooseUser) {
        let shard = user.weighted_users_index;
        let start = self.begin();
        let end = start + self.duration;
        if self.halted() {
            self.idle_until_exit().await;
            return;
        }
        if self.stopping.load(Ordering::Relaxed) {
            self.sleep_until(end).await;
            return;
        }
        let due = match &self.schedule {
            // A capacity search writes its timetable as it goes: a ticket
            // beyond what is written waits for it.
            Some(schedule) => match self.unless_stopped(schedule.next_ticket_waiting()).await {
                Some(Some(ticket)) => {
                    let due = start + ticket.due;
                    if !self.sleep_until(due).await {
                        return;
                    }
                    due
                }
                Some(None) => {
                    self.sleep_until(end).await;
                    return;
                }
                None => return,
            },
            None => {
                if Instant::now() >= end {
                    self.sleep_until(Instant::now() + Duration::from_millis(50))
                        .await;
                    return;
                }
                Instant::now()
            }
        };
        let work = {
            let mut data = self
                .data
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            data.next()
        };
        let work = match work {
            Ok(w) => w,
            Err(e) => {
                self.stop_with(format!("data: {e}"));
                return;
            }
        };
        if let Some(limiter) = &self.limiter {
            let n = match &work {
                Work::Single { .. } => 1,
                Work::Case(c) => c.setup.len() as u64 + 1,
            };
            match self.unless_stopped(limiter.admit(start, n)).await {
                Some(true) => {}
                Some(false) => {
                    self.stopping.store(true, Ordering::Relaxed);
                    return;
                }
                None => return,
            }
        }
        if self.schedule.is_some() && Instant::now() > due + LATE_TOLERANCE {
            let service = match &work {
                Work::Single { service, .. } => *service,
                Work::Case(c) => c.probe.service,
            };
            self.metrics
                .record(shard, service, Outcome::Dropped, None, None);
            return;
        }
        match work {
            Work::Single {
                service,
                body,
                pool,
            } => {
                let (outcome, numero) = self
                    .send_as(user, &self.own, service, body, due, &Expect::Accepted)
                    .await;
                if let (Outcome::Ok, Some(a), Some(n)) = (&outcome, pool, numero) {
                    self.data
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .accepted(a, &n);
                }
            }
            Work::Case(case) => self.run_case(user, *case, due).await,
        }
        if self.schedule.is_none() && !self.think_time.is_zero() {
            self.sleep_until(Instant::now() + self.think_time).await;
        }
    }

    async fn run_case(&self, user: &mut GooseUser, case: InvalidCase, due: Instant) {
        let mut answers: Vec<Option<String>> = Vec::new();
        for step in &case.setup {
            let mut body = step.body.clone();
            if let Some(i) = step.transaction_from {
                body["numeroTransaccionAfiliacion"] = answers
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| PENDING_TRANSACTION.to_owned())
                    .into();
            }
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let (outcome, numero) = self
                .send_as(
                    user,
                    &step.sender,
                    step.service,
                    bytes.into(),
                    Instant::now(),
                    &Expect::Accepted,
                )
                .await;
            if !outcome.is_ok() {
                // The set-up failed: the probe would prove nothing.
                return;
            }
            answers.push(numero);
        }
        let mut body = case.probe.body.clone();
        if let Some(i) = case.probe.transaction_from {
            body["numeroTransaccionAfiliacion"] =
                answers.get(i).cloned().flatten().unwrap_or_default().into();
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let expect = Expect::Rejected {
            codigo: case.codigo,
            status: case.http_status,
        };
        let due = if case.setup.is_empty() {
            due
        } else {
            Instant::now()
        };
        self.send_as(
            user,
            &case.probe.sender,
            case.probe.service,
            bytes.into(),
            due,
            &expect,
        )
        .await;
    }

    /// Send as administrator `sender` (its own client when it is not the
    /// scenario's administrator).
    async fn send_as(
        &self,
        user: &mut GooseUser,
        sender: &str,
        service: Service,
        body: Bytes,
        due: Instant,
        expect: &Expect,
    ) -> (Outcome, Option<String>) {
        let cache = if sender == self.own {
            &self.tokens[service_index(service)]
        } else {
            match self.others.get(sender) {
                Some(c) => c,
                None => {
                    self.metrics.record(
                        user.weighted_users_index,
                        service,
                        Outcome::AuthFailed,
                        None,
                        None,
                    );
                    return (Outcome::AuthFailed, None);
                }
            }
        };
        self.send_with(user, cache, service, body, due, expect)
            .await
    }

    /// Send one request (retrying once after a 401 with a fresh token) and
    /// return its answer, not recorded; `None` when a stopping run sent nothing.
    // `first`: whether this is the report's first send (it earns retry budget).
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        user: &mut GooseUser,
        cache: &TokenCache,
        service: Service,
        body: Bytes,
        due: Instant,
        expect: &Expect,
        first: bool,
    ) -> Option<Sent> {
        let url = &self.urls[service_index(service)];
        let mut sent_at = None;
        let mut result = None;
        for attempt in 0..2 {
            // A stopping run sends nothing new: a request not sent yet is not
            // recorded; a retry not sent leaves its request `interrupted`.
            let Some(token) = self.unless_abandoned(cache.get()).await else {
                result = Some((Outcome::Interrupted, None));
                break;
            };
            let token = match token {
                Ok(t) => t,
                Err(TokenError::Unavailable(_)) => {
                    result = Some((Outcome::TokenUnavailable, None));
                    break;
                }
                Err(TokenError::Refused { .. }) => {
                    result = Some((Outcome::AuthFailed, None));
                    break;
                }
            };
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            if self.halted() {
                self.end_flight();
                result = Some((Outcome::Interrupted, None));
                break;
            }
            let start = Instant::now();
            sent_at.get_or_insert(start);
            if first && attempt == 0 {
                self.budget.original();
            }
            let builder = self
                .http
                .post(url.clone())
                .header(AUTHORIZATION, token.bearer.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone())
                .timeout(self.timeout);
            let request = GooseRequest::builder()
                .method(GooseMethod::Post)
                .name(service.name())
                .expect_status_code(match expect {
                    Expect::Accepted => 200,
                    Expect::Rejected { status, .. } => *status,
                })
                .set_request_builder(builder)
                .build();
            let exchange = async {
                match user.request(request).await {
                    Ok(GooseResponse {
                        response: Ok(r), ..
                    }) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(b) => Ok((status, b)),
                            Err(e) => Err(Outcome::of_transport(&e)),
                        }
                    }
                    Ok(GooseResponse {
                        response: Err(e), ..
                    }) => Err(Outcome::of_transport(&e)),
                    // Goose could not take the request (its metrics channel
                    // closed: the attack is ending).
                    Err(_) => Err(Outcome::Interrupted),
                }
            };
            // Abandoned when a stop's grace period ends before the answer.
            let answer = self
                .unless_abandoned(exchange)
                .await
                .unwrap_or(Err(Outcome::Interrupted));
            self.end_flight();
            match answer {
                Err(outcome) => {
                    result = Some((outcome, None));
                    break;
                }
                Ok((status, _))
                    if status == StatusCode::UNAUTHORIZED
                        && attempt == 0
                        && self.retry_allowed(service, false) =>
                {
                    // The retry is a request like any other: production caps apply.
                    if let (Some(limiter), Some(start)) = (&self.limiter, self.started())
                        && self.unless_stopped(limiter.admit(start, 1)).await != Some(true)
                    {
                        result = Some((Outcome::AuthFailed, None));
                        break;
                    }
                    cache.invalidate(token.generation);
                    continue;
                }
                Ok((status, bytes)) => {
                    result = Some(self.classify(service, status, &bytes, expect));
                    break;
                }
            }
        }
        if sent_at.is_none() && result == Some((Outcome::Interrupted, None)) {
            // Stopped before anything went out: nothing to record.
            return None;
        }
        let (outcome, numero) = result.unwrap_or((Outcome::AuthFailed, None));
        let end = Instant::now();
        Some(Sent {
            outcome,
            numero,
            latency: sent_at.map(|_| end - due),
            service_time: sent_at.map(|s| end - s),
        })
    }

    fn record(&self, shard: usize, service: Service, sent: &Sent) {
        self.metrics.record(
            shard,
            service,
            sent.outcome.clone(),
            sent.latency,
            sent.service_time,
        );
    }

    /// The target stored `body` though the harness saw no answer: count it,
    /// list its radicado.
    fn confirm_stored(&self, service: Service, body: &[u8]) {
        self.stored[service_index(service)].fetch_add(1, Ordering::Relaxed);
        let mut d = self
            .doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.unknown_outcome.push((service, radicado_of(body)));
        d.idempotent_duplicates += 1;
    }

    /// Send one request, record it and return its outcome and
    /// `numeroTransaccion`. A valid report whose answer was lost after it went
    /// out (reset, timeout, truncated or unreadable answer) is sent again, up
    /// to [`RESOLVE_RETRIES`] times, to learn whether the target stored it: an
    /// `OK` means it had not (the lost attempts keep their classes); a `NEG01`
    /// duplicate means it had — every lost attempt becomes `unknown_outcome`
    /// (its answer was lost and the record it carried exists), the retry is an
    /// idempotent duplicate (`ok`) and the radicado is listed once.
    async fn send_with(
        &self,
        user: &mut GooseUser,
        cache: &TokenCache,
        service: Service,
        body: Bytes,
        due: Instant,
        expect: &Expect,
    ) -> (Outcome, Option<String>) {
        let shard = user.weighted_users_index;
        let Some(first) = self
            .attempt(user, cache, service, body.clone(), due, expect, true)
            .await
        else {
            return (Outcome::Interrupted, None);
        };
        if !(matches!(expect, Expect::Accepted) && in_doubt(&first.outcome)) {
            self.record(shard, service, &first);
            return (first.outcome, first.numero);
        }
        let mut lost = vec![first];
        let end = self.started().map(|s| s + self.duration);
        for k in 0..RESOLVE_RETRIES {
            // Back off 100, 200, 400 ms; never past the run's end.
            let at = Instant::now() + Duration::from_millis(100 << k);
            if end.is_some_and(|e| at >= e) || !self.sleep_until(at).await {
                break;
            }
            if !self.retry_allowed(service, false) {
                break;
            }
            if let (Some(limiter), Some(start)) = (&self.limiter, self.started())
                && self.unless_stopped(limiter.admit(start, 1)).await != Some(true)
            {
                break;
            }
            let Some(retry) = self
                .attempt(
                    user,
                    cache,
                    service,
                    body.clone(),
                    Instant::now(),
                    expect,
                    false,
                )
                .await
            else {
                break;
            };
            if in_doubt(&retry.outcome) {
                lost.push(retry);
                continue;
            }
            if !settles(&retry.outcome) {
                // Refused for a reason of its own (a 503, a 429, a rule the
                // target's clock broke): nothing learnt about the lost ones.
                self.record(shard, service, &retry);
                continue;
            }
            let outcome = retry.outcome.clone();
            let numero = retry.numero.clone();
            self.settle(shard, service, &body, lost, retry);
            return if is_duplicate(&outcome) {
                (Outcome::Ok, None)
            } else {
                (outcome, numero)
            };
        }
        let cache = self
            .tokens
            .iter()
            .chain(self.others.values())
            .find(|c| std::ptr::eq(c.as_ref(), cache))
            .cloned();
        let outcome = lost[0].outcome.clone();
        match cache {
            Some(cache) => self
                .unresolved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Unresolved {
                    service,
                    shard,
                    body,
                    cache,
                    lost,
                }),
            None => {
                for l in &lost {
                    self.record(shard, service, l);
                }
            }
        }
        (outcome, None)
    }

    /// Record the `lost` attempts of a report and the `answer` that settled
    /// its fate: NEG01 — stored by one of them: each is `unknown_outcome`, the
    /// answer an idempotent duplicate (`ok`), the radicado listed; otherwise
    /// each keeps its class. Whether it was NEG01.
    fn settle(
        &self,
        shard: usize,
        service: Service,
        body: &[u8],
        lost: Vec<Sent>,
        answer: Sent,
    ) -> bool {
        let duplicate = is_duplicate(&answer.outcome);
        for mut l in lost {
            if duplicate {
                l.outcome = Outcome::UnknownOutcome;
            }
            self.record(shard, service, &l);
        }
        if duplicate {
            self.confirm_stored(service, body);
            let confirmed = Sent {
                outcome: Outcome::Ok,
                ..answer
            };
            self.record(shard, service, &confirmed);
        } else {
            self.record(shard, service, &answer);
        }
        duplicate
    }

    /// After the load: the schedule's tickets no sender took (every one was
    /// still busy — a hanging target — when the run ended) are `dropped`, each
    /// under the service its work would have gone to; not after a stop or a
    /// production cap, which end the sending on purpose.
    pub fn drop_untaken(&self) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        if self.halted() || self.limiter.as_ref().is_some_and(|l| l.reached().is_some()) {
            return;
        }
        let untaken = schedule.untaken();
        let mut data = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..untaken {
            let service = match data.next() {
                Ok(Work::Single { service, .. }) => service,
                Ok(Work::Case(c)) => c.probe.service,
                Err(_) => Service::Afiliacion,
            };
            self.metrics
                .record(0, service, Outcome::Dropped, None, None);
        }
    }

    /// During the load (every few seconds, never against production): send
    /// every unresolved report once more, so that its fate is learnt while the
    /// target still remembers it (a mock forgets old duplicate fingerprints);
    /// settled ones are recorded and listed, the others wait for the next pass.
    pub async fn resolve_pending(&self) {
        let pending = std::mem::take(
            &mut *self
                .unresolved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut waiting = Vec::new();
        let n = pending.len();
        for (k, mut u) in pending.into_iter().enumerate() {
            // Those still ahead, this one included.
            self.resending.store(n - k, Ordering::Relaxed);
            if self.halted() || !self.retry_allowed(u.service, false) {
                waiting.push(u);
                continue;
            }
            match self.resend(&u.cache, u.service, u.body.clone()).await {
                Some(r) if settles(&r.outcome) => {
                    let radicado = radicado_of(&u.body);
                    let resolution = if self.settle(u.shard, u.service, &u.body, u.lost, r) {
                        Resolution::StoredBefore
                    } else {
                        Resolution::SentAgain
                    };
                    self.doubts
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .unresolved
                        .push((u.service, radicado, resolution));
                }
                Some(r) if in_doubt(&r.outcome) => {
                    u.lost.push(r);
                    waiting.push(u);
                }
                Some(r) => {
                    self.record(u.shard, u.service, &r);
                    waiting.push(u);
                }
                None => waiting.push(u),
            }
        }
        let mut unresolved = self
            .unresolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        unresolved.extend(waiting);
        self.resending.store(0, Ordering::Relaxed);
    }

    /// After the load: send every report still unresolved once more (when
    /// `resend`) and record its lost attempt with what that taught — NEG01:
    /// `unknown_outcome`, listed; OK: its own class (the report is stored
    /// now); no answer or no resend: its own class, listed as unknown.
    pub async fn resolve_after_load(&self, resend: bool) {
        let pending = std::mem::take(
            &mut *self
                .unresolved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let n = pending.len();
        for (k, u) in pending.into_iter().enumerate() {
            self.resending.store(n - k, Ordering::Relaxed);
            let radicado = radicado_of(&u.body);
            let retry = if resend && self.retry_allowed(u.service, true) {
                self.resend(&u.cache, u.service, u.body.clone()).await
            } else {
                None
            };
            let resolution = match retry {
                Some(r) if settles(&r.outcome) => {
                    if self.settle(u.shard, u.service, &u.body, u.lost, r) {
                        Resolution::StoredBefore
                    } else {
                        Resolution::SentAgain
                    }
                }
                other => {
                    for l in u.lost.iter().chain(other.iter()) {
                        self.record(u.shard, u.service, l);
                    }
                    Resolution::Unknown
                }
            };
            self.doubts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unresolved
                .push((u.service, radicado, resolution));
        }
        self.resending.store(0, Ordering::Relaxed);
        self.metrics.harvest(true);
    }

    /// One report sent outside Goose (after the load), classified.
    async fn resend(&self, cache: &TokenCache, service: Service, body: Bytes) -> Option<Sent> {
        let token = cache.get().await.ok()?;
        let start = Instant::now();
        let answer = self
            .http
            .post(self.urls[service_index(service)].clone())
            .header(AUTHORIZATION, token.bearer.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .timeout(self.timeout)
            .send()
            .await;
        let (outcome, numero) = match answer {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(b) => self.classify(service, status, &b, &Expect::Accepted),
                    Err(e) => (Outcome::of_transport(&e), None),
                }
            }
            Err(e) => (Outcome::of_transport(&e), None),
        };
        let took = start.elapsed();
        Some(Sent {
            outcome,
            numero,
            latency: Some(took),
            service_time: Some(took),
        })
    }

    /// Reports whose answers were lost, as the reconciliation lists them.
    pub fn doubts(&self) -> Doubts {
        self.doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A request in flight has ended; the last one of a stopping run says so.
    fn end_flight(&self) {
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && self.halted() {
            self.settled.notify_waiters();
        }
    }

    /// The class of an answer. A stored report is the contract's success
    /// envelope ([`Role::Stored`]); a well-formed envelope whose codigo the
    /// contract does not list is `unexpected_codigo:<codigo>` (an answer: it
    /// is not retried); only a body that is not an envelope is `invalid_body`.
    fn classify(
        &self,
        service: Service,
        status: StatusCode,
        bytes: &[u8],
        expect: &Expect,
    ) -> (Outcome, Option<String>) {
        let contract = Contract::current();
        let envelope = serde_json::from_slice::<Envelope<'_>>(bytes).ok();
        if let Some(env) = &envelope
            && contract.is_stored(status.as_u16(), &env.resultado, &env.codigo)
        {
            self.stored[service_index(service)].fetch_add(1, Ordering::Relaxed);
            return match expect {
                Expect::Accepted => (
                    Outcome::Ok,
                    Some(
                        env.numero_transaccion
                            .clone()
                            .unwrap_or_default()
                            .into_owned(),
                    ),
                ),
                Expect::Rejected { codigo, .. } => {
                    (Outcome::CheckFailed((*codigo).to_owned()), None)
                }
            };
        }
        if status == StatusCode::UNAUTHORIZED {
            return (Outcome::AuthFailed, None);
        }
        let Some(env) = envelope else {
            return match expect {
                _ if status == StatusCode::OK => (Outcome::InvalidBody, None),
                Expect::Rejected { codigo, .. } => {
                    (Outcome::CheckFailed((*codigo).to_owned()), None)
                }
                Expect::Accepted if status.is_server_error() => {
                    (Outcome::Http5xx(status.as_u16()), None)
                }
                Expect::Accepted => (Outcome::Http4xx(status.as_u16()), None),
            };
        };
        let codigo = env.codigo.into_owned();
        if contract.codigo(&codigo).is_none()
            && !status.is_server_error()
            && status != StatusCode::TOO_MANY_REQUESTS
        {
            *self
                .unexpected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((service, codigo.clone(), status.as_u16()))
                .or_insert(0) += 1;
            return (Outcome::UnexpectedCodigo(codigo), None);
        }
        match expect {
            Expect::Rejected {
                codigo: want,
                status: want_status,
            } => {
                if codigo == *want && status.as_u16() == *want_status {
                    (Outcome::RejectedAsExpected, None)
                } else {
                    (Outcome::CheckFailed((*want).to_owned()), None)
                }
            }
            Expect::Accepted => {
                if status.is_server_error() {
                    (Outcome::Http5xx(status.as_u16()), None)
                } else if contract.codigo(&codigo).is_some()
                    && (status.is_client_error() || status.is_success())
                {
                    (Outcome::Business(codigo), None)
                } else {
                    (Outcome::Http4xx(status.as_u16()), None)
                }
            }
        }
    }
}

/// What [`prepare`] needs from the caller.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the target, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// The token caches for each service (the same `Arc` when one client_id serves both).
    pub tokens: [Arc<TokenCache>; 2],
    /// Token caches of other administrators (the mock only), for invalid cases
    /// whose set-up another administrator reports.
    pub others: std::collections::HashMap<String, Arc<TokenCache>>,
    /// The production caps, for a target that is not this machine.
    pub caps: Option<Caps>,
}

/// Build the shared context of a run of `plan` against `target`, starting now.
pub fn prepare(
    plan: &RunPlan,
    target: Target,
    http: reqwest::Client,
    worker: (u16, u16),
) -> Result<Arc<RunContext>, String> {
    let (schedule, think_time) = match &plan.load {
        LoadModel::Open {
            start_rate, stages, ..
        } => {
            let s = ArrivalSchedule::new(*start_rate, stages)
                .with_share(u64::from(worker.0), u64::from(worker.1));
            (Some(s), Duration::ZERO)
        }
        LoadModel::Closed { think_time, .. } => (None, *think_time),
        LoadModel::Search(search) => {
            let s = ArrivalSchedule::open_ended(search.duration());
            crate::capacity::search::first_step(&s, search);
            (Some(s), Duration::ZERO)
        }
    };
    let mut config = GeneratorConfig::new(plan.data.seed, &plan.data.administradora);
    config.radicado_prefix = plan.data.radicado_prefix.clone();
    config.worker = worker.0;
    let weights = |s: Service| plan.mix.weight(s);
    let total = weights(Service::Afiliacion) + weights(Service::Retracto);
    let data = DataSource {
        affiliations: AffiliationGenerator::new(config.clone()).map_err(|e| e.to_string())?,
        retractions: RetractionGenerator::new(config).map_err(|e| e.to_string())?,
        pool: VecDeque::new(),
        rng: ChaCha8Rng::seed_from_u64(plan.data.seed ^ 0x006d_6978),
        retract_share: if total > 0.0 {
            weights(Service::Retracto) / total
        } else {
            0.0
        },
        invalid: plan.invalid.clone(),
    };
    let url = |s: Service| {
        let text = format!("{}{}", target.base_url, s.path());
        reqwest::Url::parse(&text).map_err(|e| format!("target URL {text:?}: {e}"))
    };
    let urls = [url(Service::Afiliacion)?, url(Service::Retracto)?];
    Ok(Arc::new(RunContext {
        urls,
        base_url: target.base_url,
        http,
        schedule,
        think_time,
        timeout: plan.http.timeout,
        duration: plan.duration(),
        start: std::sync::OnceLock::new(),
        // One shard per core keeps the recording lock nearly uncontended (a
        // user always records into the same shard; the runtime has one worker
        // thread per core).
        metrics: Metrics::new(
            Instant::now(),
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        tokens: target.tokens,
        data: Mutex::new(data),
        in_flight: AtomicUsize::new(0),
        stored: [AtomicU64::new(0), AtomicU64::new(0)],
        stopping: AtomicBool::new(false),
        others: target.others,
        own: plan.data.administradora.clone(),
        fatal: Mutex::new(None),
        limiter: target.caps.map(Limiter::new),
        worker,
        halting: AtomicBool::new(false),
        halt: watch::Sender::new(Halt::Running),
        settled: Notify::new(),
        interruption: Mutex::new(None),
        finished: AtomicBool::new(false),
        doubts: Mutex::new(Doubts::default()),
        unresolved: Mutex::new(Vec::new()),
        resending: AtomicUsize::new(0),
        budget: RetryBudget::new(plan.http.retry_budget),
        retries: [AtomicU64::new(0), AtomicU64::new(0)],
        retries_refused: [AtomicU64::new(0), AtomicU64::new(0)],
        unexpected: Mutex::new(Unexpected::new()),
    }))
}

/// Number of Goose users for the plan's model, for worker `index` of
/// `count` (the closed model's users are shared out; the open model shares its
/// arrivals instead, and each worker keeps `max_in_flight` senders).
pub fn users(plan: &RunPlan, (index, count): (u16, u16)) -> usize {
    match &plan.load {
        LoadModel::Open { max_in_flight, .. } => *max_in_flight,
        LoadModel::Search(search) => search.max_in_flight,
        LoadModel::Closed { users, .. } => {
            let users = *users;
            let count = usize::from(count.max(1));
            let index = usize::from(index);
            users / count + usize::from(index < users % count)
        }
    }
}

/// Run the Goose attack for `ctx` until the scenario's end; Goose's HTML report
/// goes to `goose_report` when given.
pub async fn execute(
    ctx: Arc<RunContext>,
    plan: &RunPlan,
    goose_report: Option<String>,
) -> Result<(), String> {
    let users = users(plan, ctx.worker).max(1);
    let (hatch, run_time) = match plan.load {
        LoadModel::Open { .. } | LoadModel::Search(_) => (
            users as f64 * 10.0,
            plan.duration() + Duration::from_millis(400),
        ),
        LoadModel::Closed { ramp, run_time, .. } => {
            // This worker's users over the ramp.
            let rate = if ramp.is_zero() {
                users as f64 * 10.0
            } else {
                users as f64 / ramp.as_secs_f64()
            };
            (rate, ramp + run_time)
        }
    };
    let mut config = GooseConfiguration::default();
    config.host = Some(ctx.base_url.clone());
    config.users = Some(users);
    config.increase_rate = Some(format!("{hatch:.3}"));
    config.run_time = Some(format!("{}", run_time.as_secs().max(1)));
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.quiet = 1;
    if let Some(path) = goose_report {
        config.report_file = vec![path];
    }
    let transaction_ctx = ctx.clone();
    let transaction: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let ctx = transaction_ctx.clone();
        Box::pin(async move {
            ctx.iteration(user).await;
            Ok(())
        })
    });
    // Every user sends with the harness's client (its TLS, timeouts and pool),
    // through `GooseUser::request`.
    let client_ctx = ctx.clone();
    let use_our_client: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        user.client = client_ctx.http.clone();
        Box::pin(async move { Ok(()) })
    });
    // One client shared by every Goose user (Goose would otherwise build one per
    // user, CA store included); the harness sends with its own client anyway.
    let attack = GooseAttack::initialize_with_config(config)
        .and_then(|a| {
            a.set_client_builder_without_cookies(
                goose::client::GooseClientBuilder::new().without_cookies(),
            )
        })
        .map_err(|e| format!("goose: {e}"))?
        .register_scenario(
            goose::goose::Scenario::new("mss-harness")
                .register_transaction(
                    Transaction::new(use_our_client)
                        .set_name("client")
                        .set_on_start(),
                )
                .register_transaction(Transaction::new(transaction).set_name("report")),
        );
    let harvester = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let start = loop {
                if let Some(s) = ctx.started() {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let mut tick =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            loop {
                tick.tick().await;
                ctx.metrics.harvest(false);
            }
        })
    };
    let result = attack.execute().await;
    harvester.abort();
    ctx.metrics.harvest(true);
    result.map(|_| ()).map_err(|e| format!("goose: {e}"))
}
