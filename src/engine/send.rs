//! One request: built (token, prebuilt URI and headers, body, timeout),
//! sent through the transport on the user's kept connection (and given to
//! Goose's request metrics when Goose's own report was asked for), and its
//! answer classified into an [`Outcome`] against what the request expected
//! and what the contract lists.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use goose::prelude::GooseUser;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use super::{RunContext, service_index};
use crate::domain::Service;
use crate::ledger::Intent;
use crate::metrics::{Timing, Traced};
use crate::outcome::Outcome;
use crate::token::{TokenCache, TokenError};
use crate::trace::{TRACEPARENT, TraceId, TraceParent};
use crate::transport::{Answer, Body, Failure, Phases, Slot};

/// An exchange's answer (status, body, phases), or its failure's class.
type Exchanged = Result<Answer, Outcome>;

/// What the target expects of a request.
#[derive(Debug, Clone)]
pub(super) enum Expect {
    Accepted,
    Rejected { codigo: String, status: u16 },
}

/// A report as the engine sends it: to which service, its body, the
/// answer the target should give, and its ledger intent when whoever drew it
/// made one (else, when the run keeps a ledger, the intent is read from the
/// body).
#[derive(Debug, Clone)]
pub(super) struct Report<'e> {
    pub(super) service: Service,
    pub(super) body: Bytes,
    pub(super) expect: &'e Expect,
    pub(super) intent: Option<&'e Intent>,
}

impl<'e> Report<'e> {
    /// A report whose intent, if the ledger wants one, is read from its body.
    pub(super) fn read(service: Service, body: Bytes, expect: &'e Expect) -> Report<'e> {
        Report {
            service,
            body,
            expect,
            intent: None,
        }
    }
}

/// One request sent (or attempted) and its answer, not yet recorded.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) outcome: Outcome,
    pub(super) numero: Option<String>,
    pub(super) latency: Option<Duration>,
    pub(super) service_time: Option<Duration>,
    /// From the intended send time to the first attempt's send.
    pub(super) send_lag: Option<Duration>,
    /// The report's trace id (`traceparent`), when the run sends one.
    pub(super) trace_id: Option<TraceId>,
    /// When it went out (first attempt), if it did.
    pub(super) sent_at: Option<Instant>,
    /// The report sent (its radicado is read only if it is among the slowest).
    pub(super) body: Bytes,
    /// Where the last exchange's time went, when it was answered.
    pub(super) phases: Option<Phases>,
}

impl Sent {
    /// A resend that went out at `start`, on no timetable (its latency is
    /// its service time), answered until now.
    pub(super) fn resent(
        outcome: Outcome,
        numero: Option<String>,
        start: Instant,
        trace_id: Option<TraceId>,
        body: Bytes,
        phases: Option<Phases>,
    ) -> Sent {
        let took = start.elapsed();
        Sent {
            outcome,
            numero,
            latency: Some(took),
            service_time: Some(took),
            send_lag: None,
            trace_id,
            sent_at: Some(start),
            body,
            phases,
        }
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

impl RunContext {
    /// Send one request (retrying once after a 401 with a fresh token) and
    /// return its answer, not recorded; `None` when a stopping run sent nothing.
    /// Each HTTP request carries a `traceparent` of the report's trace (`trace`;
    /// a new one when `None`) when the run sends them.
    // `first`: whether this is the report's first send (it earns retry budget).
    // The user's kept connection is its Goose session data.
    pub(super) async fn attempt(
        &self,
        user: &mut GooseUser,
        cache: &TokenCache,
        report: &Report<'_>,
        due: Instant,
        first: bool,
        trace: Option<TraceId>,
    ) -> Option<Sent> {
        let mut slot = user
            .get_session_data_mut::<Slot>()
            .map(std::mem::take)
            .unwrap_or_default();
        let sent = self
            .attempt_on(&mut slot, user, cache, report, due, first, trace)
            .await;
        match user.get_session_data_mut::<Slot>() {
            Some(kept) => *kept = slot,
            None => user.set_session_data(slot),
        }
        sent
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt_on(
        &self,
        slot: &mut Slot,
        user: &mut GooseUser,
        cache: &TokenCache,
        report: &Report<'_>,
        due: Instant,
        first: bool,
        mut trace: Option<TraceId>,
    ) -> Option<Sent> {
        let Report {
            service,
            ref body,
            expect,
            intent,
        } = *report;
        let mut sent_at = None;
        let mut result = None;
        let mut phases = None;
        for attempt in 0..2 {
            // A stopping run sends nothing new: a request not sent yet is not
            // recorded; a retry not sent leaves its request `interrupted`.
            // A fresh token is read without a future; a refresh (once in
            // minutes) is boxed, so its request is not part of every user's state.
            let token = match cache.fresh() {
                Some(t) => Some(Ok(t)),
                None => self.stop.unless_abandoned(Box::pin(cache.get())).await,
            };
            let Some(token) = token else {
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
            if !self.stop.begin_flight() {
                result = Some((Outcome::Interrupted, None));
                break;
            }
            let Ok(noted) = self.ledger_intent(service, body, expect, intent) else {
                self.stop.end_flight();
                result = Some((Outcome::Interrupted, None));
                break;
            };
            let start = Instant::now();
            sent_at.get_or_insert(start);
            if first && attempt == 0 {
                self.budget.original();
            }
            let request = self.request(service, token.bearer.clone(), body.clone(), &mut trace);
            let exchange = if self.through_goose.load(Ordering::Relaxed) {
                Either::Right(Box::pin(
                    self.through_goose(&mut *user, slot, request, service, expect),
                ))
            } else {
                Either::Left(self.exchange(slot, request))
            };
            // Abandoned when a stop's grace period ends before the answer.
            let answer = self
                .stop
                .unless_abandoned(exchange)
                .await
                .unwrap_or(Err(Outcome::Interrupted));
            self.stop.end_flight();
            self.ledger_answer(noted, &answer);
            phases = answer.as_ref().ok().map(|a| a.phases);
            match answer {
                Err(outcome) => {
                    result = Some((outcome, None));
                    break;
                }
                Ok(Answer {
                    status,
                    body: bytes,
                    ..
                }) if status == StatusCode::UNAUTHORIZED && attempt == 0 => {
                    // The retry is a request like any other: the production
                    // caps admit it first, then the retry budget.
                    match self.admit(1).await {
                        Some(true) if self.retry_allowed(service, false) => {
                            cache.invalidate(token.generation);
                            continue;
                        }
                        Some(false) => {
                            let cap = self
                                .limiter
                                .as_ref()
                                .and_then(|l| l.reached_cap())
                                .unwrap_or("production cap")
                                .to_owned();
                            result = Some((Outcome::CapReached(cap), None));
                        }
                        _ => result = Some(self.classify(service, status, &bytes, expect)),
                    }
                    break;
                }
                Ok(Answer {
                    status,
                    body: bytes,
                    ..
                }) => {
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
            send_lag: sent_at.map(|s| s - due),
            trace_id: trace,
            sent_at,
            body: body.clone(),
            phases,
        })
    }

    /// A report's request to `service`: its prebuilt URI and `Host`, the
    /// bearer token, the body (a `Bytes` clone), and a `traceparent` of
    /// trace `trace` (a new trace, written back, when `None`) with a new
    /// parent id, when the run sends them.
    fn request(
        &self,
        service: Service,
        bearer: HeaderValue,
        body: Bytes,
        trace: &mut Option<TraceId>,
    ) -> Request<Body> {
        let mut request = Request::new(Body::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uris[service_index(service)].clone();
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(HOST, self.endpoint.authority().clone());
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.traceparent {
            let parent = TraceParent::new(*trace);
            *trace = Some(parent.trace_id);
            headers.insert(TRACEPARENT, parent.header());
        }
        *request.headers_mut() = headers;
        request
    }

    /// `request` exchanged on `slot`'s connection within the run's timeout;
    /// a failure as its class.
    async fn exchange(&self, slot: &mut Slot, request: Request<Body>) -> Exchanged {
        self.endpoint
            .exchange(slot, request, self.timeout)
            .await
            .map_err(|f: Failure| f.outcome)
    }

    /// One request sent through the transport and recorded as a request of
    /// Goose's own metrics and report (`run --goose-report`): its time, its
    /// status and whether it was the one expected.
    async fn through_goose(
        &self,
        user: &mut GooseUser,
        slot: &mut Slot,
        request: Request<Body>,
        service: Service,
        expect: &Expect,
    ) -> Exchanged {
        let start = Instant::now();
        let exchanged = self.endpoint.exchange(slot, request, self.timeout).await;
        let took = start.elapsed();
        let expected = match expect {
            Expect::Accepted => 200,
            Expect::Rejected { status, .. } => *status,
        };
        let (status, error) = match &exchanged {
            Ok(a) => (Some(a.status.as_u16()), None),
            Err(f) => (None, Some(f.detail.as_str())),
        };
        let success = status == Some(expected);
        let recorded = user
            .record_custom_request_duration("POST", service.name(), took, success, status, error)
            .await;
        match (exchanged, recorded) {
            // Goose could not take the request (its metrics channel closed:
            // the attack is ending).
            (_, Err(_)) => Err(Outcome::Interrupted),
            (exchanged, Ok(())) => exchanged.map_err(|f| f.outcome),
        }
    }

    /// One report sent outside Goose (after the load), classified.
    pub(super) async fn resend(
        &self,
        cache: &TokenCache,
        service: Service,
        body: Bytes,
        mut trace: Option<TraceId>,
    ) -> Option<Sent> {
        let token = cache.get().await.ok()?;
        let noted = self
            .ledger_intent(service, &body, &Expect::Accepted, None)
            .ok()?;
        let start = Instant::now();
        let request = self.request(service, token.bearer.clone(), body.clone(), &mut trace);
        // A resend (after the load) opens its own connection.
        let answer = self.exchange(&mut Slot::default(), request).await;
        self.ledger_answer(noted, &answer);
        let phases = answer.as_ref().ok().map(|a| a.phases);
        let (outcome, numero) = match answer {
            Ok(a) => self.classify(service, a.status, &a.body, &Expect::Accepted),
            Err(o) => (o, None),
        };
        Some(Sent::resent(outcome, numero, start, trace, body, phases))
    }

    /// Record `sent` in the run's metrics (with its trace id, time and
    /// radicado when it is among the slowest).
    pub(super) fn record(&self, shard: usize, service: Service, sent: &Sent) {
        let timing = Timing {
            latency: sent.latency,
            service_time: sent.service_time,
            send_lag: sent.send_lag,
        };
        match sent.sent_at {
            Some(at) => self.metrics.record_traced(
                shard,
                service,
                sent.outcome.clone(),
                timing,
                Traced {
                    trace_id: sent.trace_id,
                    sent_at: at,
                },
                || super::resolve::radicado_of(&sent.body),
            ),
            None => self
                .metrics
                .record(shard, service, sent.outcome.clone(), timing),
        }
        if let Some(phases) = &sent.phases {
            self.metrics.record_phases(shard, service, phases);
        }
    }

    /// The class of an answer. A stored report is the contract's success
    /// envelope ([`Role::Stored`](crate::domain::Role::Stored)); a
    /// well-formed envelope whose codigo the contract does not list is
    /// `unexpected_codigo:<codigo>` (an answer: it is not retried); only a
    /// body that is not an envelope is `invalid_body`.
    fn classify(
        &self,
        service: Service,
        status: StatusCode,
        bytes: &[u8],
        expect: &Expect,
    ) -> (Outcome, Option<String>) {
        let contract = &self.contract;
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
                Expect::Accepted if status.is_redirection() => {
                    (Outcome::Http3xx(status.as_u16()), None)
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
                } else if status.is_redirection() {
                    (Outcome::Http3xx(status.as_u16()), None)
                } else {
                    (Outcome::Http4xx(status.as_u16()), None)
                }
            }
        }
    }
}
