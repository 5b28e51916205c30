//! Redirects followed within an endpoint: a request the target redirects is
//! sent again to the new path on the same scheme, host and port, at most
//! [`MAX_REDIRECTS`] times; a redirect to another host is refused (the
//! credentials a request carries never leave the target's host).

use std::time::Duration;

use hyper::header::LOCATION;
use hyper::{Request, Uri};

use super::exchange::{Answer, Body, Failure, Slot};
use super::open::Endpoint;
use super::{Phase, Phases};
use crate::outcome::Outcome;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

impl Endpoint {
    /// The request `build` makes for a URI, sent to `uri` on `slot`'s
    /// connection (each exchange within `timeout`), redirects followed
    /// within this endpoint; `each` sees every answered exchange's phases.
    pub async fn exchange_following(
        &self,
        slot: &mut Slot,
        mut uri: Uri,
        build: impl Fn(Uri) -> Request<Body>,
        timeout: Duration,
        mut each: impl FnMut(&Phases),
    ) -> Result<Answer, Failure> {
        let failed = |detail: String| Failure {
            outcome: Outcome::Reset,
            phase: Phase::Receive,
            detail,
        };
        for _ in 0..=MAX_REDIRECTS {
            let answer = self.exchange(slot, build(uri), timeout).await?;
            each(&answer.phases);
            if !answer.status.is_redirection() {
                return Ok(answer);
            }
            let location = answer
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            uri = self.redirected(location).map_err(failed)?;
        }
        Err(failed(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// Where a redirect to `location` goes, when it stays on this
    /// endpoint's scheme, host and port.
    fn redirected(&self, location: &str) -> Result<Uri, String> {
        let origin = self.origin();
        let to = origin
            .join(location)
            .map_err(|e| format!("redirect to {location:?}: {e}"))?;
        let same = to.scheme() == origin.scheme()
            && to.port_or_known_default() == origin.port_or_known_default()
            && to
                .host_str()
                .zip(origin.host_str())
                .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        if !same {
            let host = to.host_str().unwrap_or("?");
            return Err(format!("redirect to another host ({host}) refused"));
        }
        let path = match to.query() {
            Some(q) => format!("{}?{q}", to.path()),
            None => to.path().to_owned(),
        };
        Uri::try_from(path).map_err(|e| format!("redirect to {location:?}: {e}"))
    }
}
