//! Reports whose answers were lost: a valid report that went out and got no
//! trustworthy answer (reset, timeout, truncated or unreadable answer) is in
//! doubt — the target may or may not have stored it. It is sent again (within
//! the retry budget and the production caps) until an answer settles it: `OK`
//! (it had not been stored) or the contract's duplicate rejection (it had).
//! What the load's retries leave unresolved is sent again during the load
//! ([`RunContext::resolve_pending`]) and once more after it
//! ([`RunContext::resolve_after_load`]); the reconciliation reads the
//! outcome as [`Doubts`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use goose::prelude::GooseUser;
use serde::Deserialize;
use tokio::time::Instant;

use super::send::{Expect, Report, Sent};
use super::{RunContext, service_index};
use crate::domain::{Role, Service};
use crate::outcome::Outcome;
use crate::token::TokenCache;
use crate::trace::TraceId;

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

/// A well-formed answer whose codigo the contract does not list: the target
/// answered, in words the contract cannot read, so sending the report again
/// would only repeat it. The report's fate stays unknown; it is never resent
/// (as no other request with such an answer is).
fn unreadable(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::UnexpectedCodigo(_))
}

/// A report whose every attempt failed in transport: recorded after the load,
/// once an end-of-run retry has told whether the target stored it.
#[derive(Debug)]
pub(super) struct Unresolved {
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
pub(super) fn radicado_of(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct R {
        #[serde(rename = "numeroRadicado", default)]
        numero_radicado: String,
    }
    serde_json::from_slice::<R>(body)
        .map(|r| r.numero_radicado)
        .unwrap_or_default()
}

impl Unresolved {
    /// The report's trace id: every resend of it keeps it.
    fn trace_id(&self) -> Option<TraceId> {
        self.lost.first().and_then(|l| l.trace_id)
    }
}

impl RunContext {
    /// Whether `outcome` is the contract's duplicate rejection ([`Role::Duplicate`]).
    fn is_duplicate(&self, outcome: &Outcome) -> bool {
        matches!(outcome, Outcome::Business(c) if c == self.contract.codigo_of(Role::Duplicate))
    }

    /// Answers that tell whether a lost report was stored: stored (it was not, and
    /// now is) or the duplicate rejection (it was).
    fn settles(&self, outcome: &Outcome) -> bool {
        matches!(outcome, Outcome::Ok) || self.is_duplicate(outcome)
    }

    /// Reports whose answers were lost, as the reconciliation lists them.
    pub fn doubts(&self) -> Doubts {
        self.doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// May `service` send a retry now (`after_load`: the run's remaining
    /// budget)? Counted either way.
    pub(super) fn retry_allowed(&self, service: Service, after_load: bool) -> bool {
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

    /// The target stored `body` though the harness saw no answer: count it,
    /// list its radicado.
    fn confirm_stored(&self, service: Service, body: &[u8]) {
        self.stored[service_index(service)].fetch_add(1, Ordering::Relaxed);
        self.ledger_found(service, &radicado_of(body));
        let mut d = self
            .doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.unknown_outcome.push((service, radicado_of(body)));
        d.idempotent_duplicates += 1;
    }

    /// Send one request as administrator `sender` (its own client when it
    /// is not the scenario's administrator), record it and return its outcome
    /// and `numeroTransaccion`. A valid report whose answer was lost after it went
    /// out (reset, timeout, truncated or unreadable answer) is sent again, up
    /// to [`RESOLVE_RETRIES`] times, to learn whether the target stored it: an
    /// `OK` means it had not (the lost attempts keep their classes); a `NEG01`
    /// duplicate means it had — every lost attempt becomes `unknown_outcome`
    /// (its answer was lost and the record it carried exists), the retry is an
    /// idempotent duplicate (`ok`) and the radicado is listed once.
    pub(super) async fn send_as(
        &self,
        user: &mut GooseUser,
        sender: &str,
        report: Report<'_>,
        due: Instant,
    ) -> (Outcome, Option<String>) {
        let shard = user.weighted_users_index;
        let (service, expect) = (report.service, report.expect);
        let Some(cache) = self.client_of(sender, service) else {
            let timing = crate::metrics::Timing::default();
            self.metrics
                .record(shard, service, Outcome::AuthFailed, timing);
            return (Outcome::AuthFailed, None);
        };
        let Some(first) = self.attempt(user, cache, &report, due, true, None).await else {
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
            if end.is_some_and(|e| at >= e) || !self.stop.sleep_until(at).await {
                break;
            }
            if !self.retry_allowed(service, false) {
                break;
            }
            if self.admit(1).await != Some(true) {
                break;
            }
            let Some(retry) = self
                .attempt(
                    user,
                    cache,
                    &report,
                    Instant::now(),
                    false,
                    lost[0].trace_id,
                )
                .await
            else {
                break;
            };
            if in_doubt(&retry.outcome) {
                lost.push(retry);
                continue;
            }
            if unreadable(&retry.outcome) {
                let outcome = retry.outcome.clone();
                self.give_up(shard, service, &report.body, lost, retry);
                return (outcome, None);
            }
            if !self.settles(&retry.outcome) {
                // Refused for a reason of its own (a 503, a 429, a rule the
                // target's clock broke): nothing learnt about the lost ones.
                self.record(shard, service, &retry);
                continue;
            }
            let outcome = retry.outcome.clone();
            let numero = retry.numero.clone();
            self.settle(shard, service, &report.body, lost, retry);
            return if self.is_duplicate(&outcome) {
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
                    body: report.body,
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
        let duplicate = self.is_duplicate(&answer.outcome);
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

    /// A lost report answered with a codigo the contract does not list: its
    /// attempts recorded with their classes, the answer with its own, and the
    /// report listed as unknown — never sent again.
    fn give_up(&self, shard: usize, service: Service, body: &[u8], lost: Vec<Sent>, answer: Sent) {
        for l in lost.iter().chain(std::iter::once(&answer)) {
            self.record(shard, service, l);
        }
        self.doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unresolved
            .push((service, radicado_of(body), Resolution::Unknown));
    }

    /// Send a lost report once more, as a stop allows: nothing when the run
    /// was interrupted (`None`), and, when a stop's grace period ends before
    /// its answer, the resend abandoned and returned as `interrupted` (it
    /// went out: it is recorded).
    async fn resend_unless_stopped(
        &self,
        cache: &TokenCache,
        service: Service,
        body: Bytes,
        trace: Option<TraceId>,
    ) -> Option<Sent> {
        if !self.stop.begin_flight() {
            return None;
        }
        let start = Instant::now();
        let answer = self
            .stop
            .unless_abandoned(self.resend(cache, service, body.clone(), trace))
            .await;
        self.stop.end_flight();
        match answer {
            Some(sent) => sent,
            None => Some(Sent::resent(
                Outcome::Interrupted,
                None,
                start,
                trace,
                body,
                None,
            )),
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
            if self.stop.interrupted() || !self.retry_allowed(u.service, false) {
                waiting.push(u);
                continue;
            }
            match self
                .resend_unless_stopped(&u.cache, u.service, u.body.clone(), u.trace_id())
                .await
            {
                Some(r) if self.settles(&r.outcome) => {
                    let (service, radicado) = (u.service, radicado_of(&u.body));
                    let resolution = self.resolution(u, r);
                    self.list(service, radicado, resolution);
                }
                Some(r) if in_doubt(&r.outcome) => {
                    u.lost.push(r);
                    waiting.push(u);
                }
                Some(r) if unreadable(&r.outcome) => {
                    self.give_up(u.shard, u.service, &u.body, u.lost, r);
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

    /// Record `u`'s lost attempts with the `answer` that settled its fate
    /// ([`Self::settle`]): stored by one of them, or only by this answer.
    fn resolution(&self, u: Unresolved, answer: Sent) -> Resolution {
        if self.settle(u.shard, u.service, &u.body, u.lost, answer) {
            Resolution::StoredBefore
        } else {
            Resolution::SentAgain
        }
    }

    /// List the report `radicado` of `service` whose answer was lost, with
    /// what became of it.
    fn list(&self, service: Service, radicado: String, resolution: Resolution) {
        self.doubts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unresolved
            .push((service, radicado, resolution));
    }

    /// After the load: send every report still unresolved once more (when
    /// `resend`) and record its lost attempt with what that taught — NEG01:
    /// `unknown_outcome`, listed; OK: its own class (the report is stored
    /// now); no answer or no resend: its own class, listed as unknown. A
    /// signal stops the resending as it stops a load: nothing more is resent,
    /// the resend in flight gets the grace period, and every report left is
    /// recorded and listed as unknown.
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
            let retry = if resend && !self.stop.interrupted() && self.retry_allowed(u.service, true)
            {
                self.resend_unless_stopped(&u.cache, u.service, u.body.clone(), u.trace_id())
                    .await
            } else {
                None
            };
            let service = u.service;
            let resolution = match retry {
                Some(r) if self.settles(&r.outcome) => self.resolution(u, r),
                other => {
                    for l in u.lost.iter().chain(other.iter()) {
                        self.record(u.shard, service, l);
                    }
                    Resolution::Unknown
                }
            };
            self.list(service, radicado, resolution);
        }
        self.resending.store(0, Ordering::Relaxed);
        self.metrics.harvest(true);
    }
}
