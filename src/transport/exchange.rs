//! One HTTP/1.1 exchange on a connection a user keeps ([`Slot`]): reused
//! while the target keeps it alive, opened again when the target closed it,
//! timed phase by phase ([`Phases`]), and a failure classed by the phase it
//! happened in ([`Failure`]: the run's [`Outcome`] classes).

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderMap;
use hyper::{Request, StatusCode};

use super::open::Endpoint;
use super::timed::{Marks, Seen};
use super::{Opening, Phase, Phases};
use crate::outcome::Outcome;

/// A request's body: bytes already in memory (a `Bytes` clone, not a copy).
pub type Body = Full<Bytes>;

/// A kept-alive HTTP/1.1 connection (one request in flight at a time).
#[derive(Debug)]
pub struct Connection {
    pub(super) sender: SendRequest<Body>,
    pub(super) marks: Arc<Marks>,
}

/// A user's connection, kept between its exchanges; empty until the first
/// one, and again after a failure. A clone is an empty slot: each user opens
/// its own connection.
#[derive(Debug, Default)]
pub struct Slot(Option<Connection>);

impl Clone for Slot {
    fn clone(&self) -> Self {
        Slot(None)
    }
}

/// An answer read whole, and where its time went.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its HTTP status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// Where the exchange's time went.
    pub phases: Phases,
}

/// An exchange that got no (complete) answer: its class, the phase it
/// failed in, and what happened (for messages; no secret in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of the failure, as the run records it.
    pub outcome: Outcome,
    /// The phase it failed in.
    pub phase: Phase,
    /// What happened.
    pub detail: String,
}

impl Failure {
    pub(super) fn new(outcome: Outcome, phase: Phase, detail: String) -> Failure {
        Failure {
            outcome,
            phase,
            detail,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Failure {}

impl Endpoint {
    /// Send `request` (origin-form URI, its `Host` header set) on `slot`'s
    /// connection — opened first when there is none or the target closed
    /// it — and read its answer whole, within `timeout` (the whole exchange,
    /// opening included: a `read_timeout` when it runs out).
    pub async fn exchange(
        &self,
        slot: &mut Slot,
        request: Request<Body>,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        // A connection in the middle of an exchange that timed out is not
        // put back: `slot` is left empty.
        match tokio::time::timeout(timeout, self.exchange_on(slot, request)).await {
            Ok(answer) => answer,
            Err(_) => Err(Failure::new(
                Outcome::ReadTimeout,
                Phase::Wait,
                format!("no complete answer in {timeout:?}"),
            )),
        }
    }

    async fn exchange_on(
        &self,
        slot: &mut Slot,
        mut request: Request<Body>,
    ) -> Result<Answer, Failure> {
        let mut kept = slot.0.take().filter(|c| !c.sender.is_closed());
        let (conn, response, opened) = loop {
            let (mut conn, opened) = match kept.take() {
                Some(c) => (c, None),
                None => {
                    // Boxed: opening (DNS, TCP, TLS) is rare, and its state
                    // would otherwise enlarge every exchange's future.
                    let (c, o) = Box::pin(self.open()).await?;
                    (c, Some(o))
                }
            };
            if conn.sender.ready().await.is_err() {
                if opened.is_none() {
                    // The target closed the kept connection meanwhile.
                    continue;
                }
                return Err(Failure::new(
                    Outcome::Reset,
                    Phase::Send,
                    "the connection closed before the request".to_owned(),
                ));
            }
            conn.marks.reset();
            match conn.sender.try_send_request(request).await {
                Ok(response) => break (conn, response, opened),
                Err(mut e) => match e.take_message() {
                    // Not written: on a kept connection the target closed,
                    // sent again on a new one.
                    Some(again) if opened.is_none() => request = again,
                    _ => return Err(failed(e.error(), &conn.marks.seen())),
                },
            }
        };
        let (head, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                // The answer had begun: an end short of it is `truncated`
                // unless the connection was reset.
                let outcome = match io_kind(&e) {
                    Some(k) if is_reset(k) => Outcome::Reset,
                    _ => Outcome::Truncated,
                };
                let detail = format!("reading the answer: {e}");
                return Err(Failure::new(outcome, Phase::Receive, detail));
            }
        };
        let end = Instant::now();
        let phases = phases(opened, &conn.marks.seen(), end);
        // Kept for the user's next exchange (unless the target closes it).
        if !conn.sender.is_closed() {
            slot.0 = Some(conn);
        }
        Ok(Answer {
            status: head.status,
            headers: head.headers,
            body,
            phases,
        })
    }
}

/// The phases of an exchange that ended at `end`, from its socket's marks.
fn phases(opened: Option<Opening>, seen: &Seen, end: Instant) -> Phases {
    let first_write = seen.first_write.unwrap_or(end);
    let last_write = seen.last_write.unwrap_or(first_write).max(first_write);
    let first_read = seen.first_read.unwrap_or(end).max(last_write);
    Phases {
        opened,
        send: last_write - first_write,
        wait: first_read - last_write,
        receive: end.saturating_duration_since(first_read),
    }
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    std::iter::successors(Some(e), |s: &&(dyn std::error::Error + 'static)| {
        (*s).source()
    })
    .filter_map(|s| s.downcast_ref::<std::io::Error>())
    .map(std::io::Error::kind)
    .next()
}

fn is_reset(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted
    )
}

/// An exchange that failed before its answer was read whole: `reset` when
/// the connection was reset or closed before the answer's first byte,
/// `truncated` after it.
fn failed(e: &hyper::Error, seen: &Seen) -> Failure {
    let phase = match (seen.last_write, seen.first_read) {
        (_, Some(_)) => Phase::Receive,
        (Some(_), None) => Phase::Wait,
        (None, None) => Phase::Send,
    };
    let detail = match e.source() {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    };
    let outcome = match io_kind(e) {
        Some(k) if is_reset(k) => Outcome::Reset,
        Some(std::io::ErrorKind::TimedOut) => Outcome::ReadTimeout,
        _ if phase == Phase::Receive && (e.is_incomplete_message() || io_kind(e).is_some()) => {
            Outcome::Truncated
        }
        _ => Outcome::Reset,
    };
    Failure::new(outcome, phase, detail)
}
