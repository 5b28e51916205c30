//! `TOK-`: the token service (`POST /token`, OAuth 2.0 password grant), one
//! variant per check with its id, title, source and what it sends.

use rand::RngExt;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::Value;

use super::{Check, Probe, Severity};
use crate::conform::runner::{Ctx, Exchange, OWN, OWN_AFI, Step, Verdict, fail, media_type};

/// A check of the token service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// A valid grant gets a token.
    Issued,
    /// The announced lifetime is at most the protocol's 5 minutes.
    Lifetime,
    /// A wrong password is refused.
    WrongPassword,
    /// An unknown client_id is refused.
    UnknownClient,
    /// A grant type other than `password` is refused.
    OtherGrant,
    /// A grant without password is refused.
    NoPassword,
    /// A JSON body is refused without a 5xx.
    JsonBody,
    /// Token answers are not cached.
    NoStore,
    /// A repeated parameter is refused.
    RepeatedParameter,
    /// The token type is bearer.
    BearerType,
}

impl Tok {
    /// Every token check, in the order they run.
    pub const ALL: [Tok; 10] = [
        Tok::Issued,
        Tok::Lifetime,
        Tok::WrongPassword,
        Tok::UnknownClient,
        Tok::OtherGrant,
        Tok::NoPassword,
        Tok::JsonBody,
        Tok::NoStore,
        Tok::RepeatedParameter,
        Tok::BearerType,
    ];

    /// Its id, title and source.
    fn about(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Tok::Issued => (
                "TOK-001",
                "a valid password grant gets 200 application/json with an access_token",
                "seed PRECONDICIONES (token); RFC 6749 §4.3.3, §5.1",
            ),
            Tok::Lifetime => (
                "TOK-002",
                "expires_in is an integer from 1 to 300 seconds",
                "seed PRECONDICIONES (a token lives 5 minutes); RFC 6749 §5.1",
            ),
            Tok::WrongPassword => (
                "TOK-003",
                "a wrong password gets 400 invalid_grant",
                "RFC 6749 §5.2",
            ),
            Tok::UnknownClient => (
                "TOK-004",
                "an unknown client_id gets 400/401 invalid_client",
                "RFC 6749 §5.2",
            ),
            Tok::OtherGrant => (
                "TOK-005",
                "grant_type=client_credentials gets 400 unsupported_grant_type",
                "RFC 6749 §5.2; docs/protocol.md §Token (password grant only)",
            ),
            Tok::NoPassword => (
                "TOK-006",
                "a request without password gets 400 invalid_request",
                "RFC 6749 §4.3.2, §5.2",
            ),
            Tok::JsonBody => (
                "TOK-007",
                "a JSON (not form-encoded) request gets 400 with an RFC 6749 error, not 5xx",
                "RFC 6749 §4.3.2 (application/x-www-form-urlencoded)",
            ),
            Tok::NoStore => (
                "TOK-008",
                "token answers, issued and refused, carry Cache-Control: no-store",
                "RFC 6749 §5.1, §5.2",
            ),
            Tok::RepeatedParameter => (
                "TOK-009",
                "a repeated parameter gets 400 invalid_request",
                "RFC 6749 §3.1",
            ),
            Tok::BearerType => (
                "TOK-010",
                "token_type is bearer (any case)",
                "RFC 6749 §5.1, §7.1; RFC 6750",
            ),
        }
    }

    /// The catalogue's entry.
    pub fn check(self) -> Check {
        let (id, title, source) = self.about();
        Check {
            id: id.to_owned(),
            title: format!("/token: {title}"),
            source: source.to_owned(),
            severity: Severity::Critical,
            probe: Probe::Tok(self),
        }
    }
}

/// Pass when `ex` got one of `statuses` with RFC 6749 error `error`.
fn error_is(ex: &Exchange, statuses: &[u16], error: &str) -> Verdict {
    let got = ex.field("error").and_then(Value::as_str).unwrap_or("");
    if ex.status.is_some_and(|s| statuses.contains(&s)) && got == error {
        Verdict::Pass
    } else {
        fail(format!("expected {statuses:?} {error}, got {}", ex.seen()))
    }
}

/// Set `k` of a form to `v`.
fn set(form: &mut [(String, String)], k: &str, v: String) {
    if let Some(p) = form.iter_mut().find(|(key, _)| key == k) {
        p.1 = v;
    }
}

impl Ctx<'_> {
    /// Run token check `t`.
    pub(super) async fn token_check(&mut self, t: Tok) -> Step<Verdict> {
        let mut form = self.grant_form(OWN).or_else(|_| self.grant_form(OWN_AFI))?;
        Ok(match t {
            Tok::Issued => {
                let ex = self.token_request(&form).await;
                let json_ct = ex
                    .header(CONTENT_TYPE)
                    .is_some_and(|c| media_type(c) == "application/json");
                let token = ex
                    .field("access_token")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty());
                if ex.status == Some(200) && json_ct && token {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 200 application/json with access_token, got {} ({})",
                        ex.seen(),
                        ex.header(CONTENT_TYPE).unwrap_or("no Content-Type")
                    ))
                }
            }
            Tok::Lifetime => {
                let ex = self.token_request(&form).await;
                match ex.field("expires_in").and_then(Value::as_u64) {
                    Some(s) if (1..=300).contains(&s) => Verdict::Pass,
                    other => fail(format!(
                        "expires_in {other:?}, expected 1..=300 ({})",
                        ex.seen()
                    )),
                }
            }
            Tok::WrongPassword => {
                let wrong = format!("incorrecta-{:08x}", self.rng.random::<u32>());
                set(&mut form, "password", wrong);
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_grant")
            }
            Tok::UnknownClient => {
                let unknown = format!("desconocido-{:08x}", self.rng.random::<u32>());
                set(&mut form, "client_id", unknown);
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400, 401], "invalid_client")
            }
            Tok::OtherGrant => {
                set(&mut form, "grant_type", "client_credentials".into());
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "unsupported_grant_type")
            }
            Tok::NoPassword => {
                form.retain(|(k, _)| k != "password");
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_request")
            }
            Tok::JsonBody => {
                let body: serde_json::Map<String, Value> = form
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                let ex = self.post_json("/token", &body).await;
                let error = ex.field("error").and_then(Value::as_str).unwrap_or("");
                if ex.status == Some(400) && !error.is_empty() {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 400 with an RFC 6749 error, got {}",
                        ex.seen()
                    ))
                }
            }
            Tok::NoStore => {
                let ok = self.token_request(&form).await;
                form.retain(|(k, _)| k != "grant_type");
                let refused = self.token_request(&form).await;
                let no_store = |ex: &Exchange| {
                    ex.header(CACHE_CONTROL).is_some_and(|c| {
                        c.split(',')
                            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
                    })
                };
                match (no_store(&ok), no_store(&refused)) {
                    (true, true) => Verdict::Pass,
                    (a, _) => fail(format!(
                        "the {} answer has Cache-Control {:?}",
                        if a { "refusal" } else { "token" },
                        if a {
                            refused.header(CACHE_CONTROL)
                        } else {
                            ok.header(CACHE_CONTROL)
                        }
                    )),
                }
            }
            Tok::RepeatedParameter => {
                let client = form.iter().find(|(k, _)| k == "client_id").cloned();
                if let Some(c) = client {
                    form.push(c);
                }
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_request")
            }
            Tok::BearerType => {
                let ex = self.token_request(&form).await;
                match ex.field("token_type").and_then(Value::as_str) {
                    Some(t) if t.eq_ignore_ascii_case("bearer") => Verdict::Pass,
                    other => fail(format!(
                        "token_type {other:?}, expected bearer ({})",
                        ex.seen()
                    )),
                }
            }
        })
    }
}
