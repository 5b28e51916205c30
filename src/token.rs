//! `TokenCache`: one access token per client_id, shared by every simulated user.
//!
//! - **Single flight**: when there is no usable token, one caller asks the token
//!   endpoint and the others wait for that answer (N waiting users → 1 request).
//! - **Proactive refresh** at `expires_in − margin − jitter`: the first caller
//!   past that moment refreshes while the others keep using the still-valid
//!   token, so nobody waits and no request carries an expired token.
//! - **On 401** the caller [`invalidate`](TokenCache::invalidate)s the token it
//!   used (only if it is still the current one) and retries once.
//! - **Back-off**: a 429 or 5xx from the token endpoint, or no answer, blocks new
//!   token requests until `Retry-After` (or an exponential back-off) has passed;
//!   meanwhile a caller without a valid token fails fast with
//!   [`TokenError::Unavailable`] (`token_unavailable`).
//! - Token requests, refreshes, failures and their latency are counted apart
//!   from the report services; through the transport ([`TokenCache::over`]),
//!   where each exchange's time went too ([`TokenCache::phases`]). The cache
//!   keeps one connection (its requests are single flight).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use tokio::time::Instant;

use crate::outcome::Outcome;
use crate::secret::Secret;
use crate::transport::{Body, Endpoint, PhaseHistograms, Slot};

/// Longest token lifetime taken from a server's answer (the protocol's is 300 s).
const MAX_LIFETIME_SECONDS: u64 = 86_400;

/// The three values of a token request.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// "Usuario de conexión".
    pub username: String,
    /// "Password".
    pub password: Secret,
    /// "Llave pública (ClientID)".
    pub client_id: String,
}

/// When to refresh and how to back off.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    /// Refresh this long before expiry.
    pub margin: Duration,
    /// Plus a random part up to this long, so that clients do not refresh in step.
    pub jitter: Duration,
    /// First back-off after a failed token request without `Retry-After`.
    pub backoff_initial: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
    /// Timeout of one token request.
    pub timeout: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            margin: Duration::from_secs(30),
            jitter: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// An access token and when it stops being usable.
#[derive(Debug, Clone)]
pub struct Token {
    /// The bearer value.
    pub value: Secret,
    /// `Bearer <value>`, ready for the Authorization header (marked sensitive,
    /// so that its `Debug` is redacted too).
    pub bearer: HeaderValue,
    /// Increases with every token this cache obtains.
    pub generation: u64,
    /// When the endpoint said it expires (counted from when it was asked for).
    pub expires_at: Instant,
    refresh_at: Instant,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The endpoint is failing or backing off (`token_unavailable`).
    #[error("token_unavailable: {0}")]
    Unavailable(String),
    /// The endpoint refused the credentials (`auth_failed`).
    #[error("auth_failed: the token endpoint refused client_id {client_id}: {error}")]
    Refused {
        /// The client_id asked for.
        client_id: String,
        /// The RFC 6749 `error` (or the HTTP status).
        error: String,
    },
}

/// Counts and latency of token requests.
#[derive(Debug, Clone)]
pub struct TokenStats {
    /// Requests sent to the token endpoint.
    pub requests: u64,
    /// Requests that produced a token.
    pub tokens: u64,
    /// Tokens obtained after the first: renewals before expiry, after a 401,
    /// after an outage (the first token is not a refresh).
    pub refreshes: u64,
    /// Requests that did not.
    pub failures: u64,
    /// Latency of every request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// When each request was sent and whether it produced a token (the first
    /// [`MAX_EVENTS`] of them), for the report's timeline.
    pub events: Vec<(Instant, bool)>,
}

/// Token requests kept for the timeline (a failing endpoint backs off, so this
/// is far more than a run makes).
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Default)]
struct Backoff {
    blocked_until: Option<Instant>,
    failures: u32,
    last_error: Option<TokenError>,
    /// The cache's connection (token requests are single flight: whoever
    /// holds the back-off sends).
    slot: Slot,
}

/// What a token request got back: status, `Retry-After`, body.
type Got = (StatusCode, Option<Duration>, Bytes);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
}

/// One client_id's token, shared by every user of a run.
#[derive(Debug)]
pub struct TokenCache {
    http: reqwest::Client,
    /// Token requests through the transport: its endpoint and the request's
    /// URI (origin-form); through `http` when `None`.
    transport: Option<(Endpoint, hyper::Uri)>,
    /// Where the token exchanges' time went, and since when.
    phases: Mutex<(Instant, PhaseHistograms)>,
    url: String,
    credentials: Credentials,
    policy: TokenPolicy,
    current: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<Backoff>,
    generation: AtomicU64,
    stats: Mutex<TokenStats>,
}

impl TokenCache {
    /// A cache for `credentials` at `token_url` (e.g. `http://127.0.0.1:8062/token`).
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        credentials: Credentials,
        policy: TokenPolicy,
    ) -> Self {
        TokenCache {
            http,
            transport: None,
            phases: Mutex::new((Instant::now(), PhaseHistograms::new())),
            url: token_url,
            credentials,
            policy,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(Backoff::default()),
            generation: AtomicU64::new(0),
            stats: Mutex::new(TokenStats {
                requests: 0,
                tokens: 0,
                refreshes: 0,
                failures: 0,
                latency_us: crate::hdr::histogram(),
                events: Vec::new(),
            }),
        }
    }

    /// Token requests through the transport on `endpoint` (the token URL's
    /// host), timed by phase, on one kept connection, instead of the client.
    pub fn over(mut self, endpoint: Endpoint) -> anyhow::Result<Self> {
        self.transport = Some((endpoint, origin_form(&self.url)?));
        Ok(self)
    }

    /// Where the token exchanges' time went (those that got an answer).
    pub fn phases(&self) -> PhaseHistograms {
        self.phases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .clone()
    }

    /// The client_id it holds a token for.
    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    fn current(&self) -> Option<Token> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The current token when it needs no refresh yet: what [`Self::get`]
    /// answers at once, without a future.
    pub fn fresh(&self) -> Option<Token> {
        self.current()
            .filter(|token| Instant::now() < token.refresh_at)
    }

    /// A token usable now.
    pub async fn get(&self) -> Result<Token, TokenError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        if let Some(token) = self.current()
            && Instant::now() < token.expires_at
        {
            // Time to refresh, but it is still valid: one caller refreshes,
            // the others go on with it.
            let Ok(mut backoff) = self.refresh.try_lock() else {
                return Ok(token);
            };
            if let Some(newer) = self.current()
                && newer.generation != token.generation
            {
                return Ok(newer);
            }
            if backoff
                .blocked_until
                .is_some_and(|until| Instant::now() < until)
            {
                return Ok(token);
            }
            return Ok(self.fetch(&mut backoff).await.unwrap_or(token));
        }
        let mut backoff = self.refresh.lock().await;
        if let Some(token) = self.current()
            && Instant::now() < token.expires_at
        {
            return Ok(token);
        }
        if backoff
            .blocked_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(backoff
                .last_error
                .clone()
                .unwrap_or_else(|| TokenError::Unavailable("token endpoint backing off".into())));
        }
        self.fetch(&mut backoff).await
    }

    /// Forget the token of `generation` after a 401, unless a newer one has
    /// already replaced it.
    pub fn invalidate(&self, generation: u64) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.as_ref().is_some_and(|t| t.generation == generation) {
            *current = None;
        }
    }

    /// Counts and latency so far.
    pub fn stats(&self) -> TokenStats {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record(&self, started: Instant, ok: bool) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stats.requests += 1;
        if ok {
            if stats.tokens > 0 {
                stats.refreshes += 1;
            }
            stats.tokens += 1;
        } else {
            stats.failures += 1;
        }
        let us = started.elapsed().as_micros().clamp(1, 3_600_000_000) as u64;
        crate::hdr::record(&mut stats.latency_us, us);
        if stats.events.len() < MAX_EVENTS {
            stats.events.push((started, ok));
        }
    }

    fn back_off(
        &self,
        backoff: &mut Backoff,
        retry_after: Option<Duration>,
        error: TokenError,
    ) -> TokenError {
        backoff.failures = backoff.failures.saturating_add(1);
        let exponential = self
            .policy
            .backoff_initial
            .saturating_mul(1u32 << backoff.failures.saturating_sub(1).min(16))
            .min(self.policy.backoff_max);
        let wait = retry_after
            .unwrap_or(exponential)
            .min(self.policy.backoff_max.max(Duration::from_secs(1)) * 10);
        backoff.blocked_until = Some(Instant::now() + wait);
        backoff.last_error = Some(error.clone());
        error
    }

    async fn fetch(&self, backoff: &mut Backoff) -> Result<Token, TokenError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "password")
            .append_pair("username", &self.credentials.username)
            .append_pair("password", self.credentials.password.expose())
            .append_pair("client_id", &self.credentials.client_id)
            .finish();
        let started = Instant::now();
        let sent = match &self.transport {
            Some((endpoint, uri)) => {
                self.over_transport(endpoint, uri.clone(), body.into(), &mut backoff.slot)
                    .await
            }
            None => self.over_client(body).await,
        };
        let (status, retry_after, bytes) = match sent {
            Ok(got) => got,
            Err((what, cause)) => {
                self.record(started, false);
                return Err(self.back_off(
                    backoff,
                    None,
                    TokenError::Unavailable(format!("token endpoint {} {what}: {cause}", self.url)),
                ));
            }
        };
        if status == StatusCode::OK {
            let answer = serde_json::from_slice::<TokenAnswer>(&bytes)
                .ok()
                .filter(|a| !a.access_token.is_empty() && a.expires_in > 0)
                .and_then(|a| {
                    let mut bearer =
                        HeaderValue::try_from(format!("Bearer {}", a.access_token)).ok()?;
                    bearer.set_sensitive(true);
                    Some((a, bearer))
                });
            match answer {
                Some((answer, bearer)) => {
                    self.record(started, true);
                    // A server's `expires_in` is input: a day at most, so that
                    // no answer can overflow the instants below.
                    let lifetime = Duration::from_secs(answer.expires_in.min(MAX_LIFETIME_SECONDS));
                    let jitter = if self.policy.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        self.policy.jitter.mul_f64(rand::random::<f64>())
                    };
                    // Never refresh earlier than half the lifetime, whatever the margin.
                    let early = (self.policy.margin + jitter).min(lifetime / 2);
                    let token = Token {
                        value: Secret::new(answer.access_token),
                        bearer,
                        generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
                        expires_at: started + lifetime,
                        refresh_at: started + lifetime - early,
                    };
                    *self
                        .current
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token.clone());
                    *backoff = Backoff {
                        slot: std::mem::take(&mut backoff.slot),
                        ..Backoff::default()
                    };
                    Ok(token)
                }
                None => {
                    self.record(started, false);
                    Err(self.back_off(
                        backoff,
                        None,
                        TokenError::Unavailable(
                            "the token endpoint answered 200 without a usable token".into(),
                        ),
                    ))
                }
            }
        } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            self.record(started, false);
            Err(self.back_off(
                backoff,
                retry_after,
                TokenError::Unavailable(format!("token endpoint answered {status}")),
            ))
        } else {
            self.record(started, false);
            let error = serde_json::from_slice::<TokenRefusal>(&bytes)
                .map(|r| r.error.chars().take(60).collect())
                .unwrap_or_else(|_| status.to_string());
            Err(self.back_off(
                backoff,
                None,
                TokenError::Refused {
                    client_id: self.credentials.client_id.clone(),
                    error,
                },
            ))
        }
    }
}

impl TokenCache {
    /// A token request through the client (reqwest: its redirect policy);
    /// a failure as (what happened, its innermost cause).
    async fn over_client(&self, body: String) -> Result<Got, (&'static str, String)> {
        let sent = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .timeout(self.policy.timeout)
            .send()
            .await;
        let response = sent.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "unreachable"
            } else {
                "failed"
            };
            (what, root_cause(&e))
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        Ok((
            status,
            retry_after,
            response.bytes().await.unwrap_or_default(),
        ))
    }

    /// A token request through the transport on the cache's connection,
    /// timed by phase; redirects followed within the endpoint (at most
    /// [`MAX_REDIRECTS`](crate::transport::MAX_REDIRECTS)), never to another host.
    async fn over_transport(
        &self,
        endpoint: &Endpoint,
        uri: hyper::Uri,
        body: Bytes,
        slot: &mut Slot,
    ) -> Result<Got, (&'static str, String)> {
        let build = |uri: hyper::Uri| {
            let mut request = hyper::Request::new(Body::new(body.clone()));
            *request.method_mut() = hyper::Method::POST;
            *request.uri_mut() = uri;
            let headers = request.headers_mut();
            headers.insert(HOST, endpoint.authority().clone());
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            request
        };
        let record = |phases: &crate::transport::Phases| {
            let (started, histograms) = &mut *self
                .phases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            histograms.record(phases, started.elapsed().as_secs());
        };
        let answer = endpoint
            .exchange_following(slot, uri, build, self.policy.timeout, record)
            .await
            .map_err(|f| {
                let what = match f.outcome {
                    Outcome::ReadTimeout | Outcome::ConnectTimeout => "timed out",
                    Outcome::Dns | Outcome::ConnectRefused | Outcome::Tls => "unreachable",
                    _ => "failed",
                };
                (what, f.detail)
            })?;
        Ok((answer.status, retry_after(&answer.headers), answer.body))
    }
}

/// A `Retry-After` in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The origin-form URI (path and query) of `url`.
fn origin_form(url: &str) -> anyhow::Result<hyper::Uri> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("token URL {url:?}: {e}"))?;
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    hyper::Uri::try_from(path).map_err(|e| anyhow::anyhow!("token URL {url:?}: {e}"))
}

/// The innermost cause of a transport error (e.g. "invalid peer certificate:
/// UnknownIssuer", "Connection refused"), which reqwest's own message hides.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
