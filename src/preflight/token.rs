//! The token stage of preflight — the password grant, its status and
//! `expires_in` (the protocol's 300 s) — and the clock skew read from the
//! answer's `Date` header. The password never appears in a detail.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use hyper::header::HeaderValue;

use super::{Http, Stage};
use crate::credentials::CredentialSet;
use crate::transport::{Answer, Failure, Slot};

/// The password grant for `client_id` at the target's `/token`, on `slot`'s
/// connection.
pub(super) async fn request(
    http: &Http<'_>,
    slot: &mut Slot,
    creds: &CredentialSet,
    client_id: &str,
) -> Result<Answer, Failure> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", &creds.username)
        .append_pair("password", creds.password.expose())
        .append_pair("client_id", client_id)
        .finish();
    http.post(slot, "/token", FORM, None, form.into()).await
}

const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// The token and clock-skew stages with `client_id`'s grant; the access
/// token when one was issued.
pub(super) async fn probe(
    token: &mut Stage,
    skew: &mut Stage,
    http: &Http<'_>,
    slot: &mut Slot,
    creds: &CredentialSet,
    client_id: &str,
) -> Option<String> {
    let t = Instant::now();
    let sent_at = Utc::now();
    let answer = request(http, slot, creds, client_id).await;
    let redact = |s: String| s.replace(creds.password.expose(), "<redacted>");
    let mut access = None;
    match answer {
        Err(e) => token.done(false, t, redact(format!("no answer: {e}")), Value::Null),
        Ok(answer) => {
            let status = answer.status.as_u16();
            let date = answer
                .headers
                .get(hyper::header::DATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            let elapsed = t.elapsed();
            let (timed, phases) = super::phases(&answer.phases);
            let expires = body["expires_in"].as_u64();
            if status == 200 && body["access_token"].as_str().is_some_and(|s| !s.is_empty()) {
                access = body["access_token"].as_str().map(str::to_owned);
                let within = expires.is_some_and(|e| (1..=300).contains(&e));
                token.done(
                    within,
                    t,
                    format!(
                        "200, expires_in {}{}; {timed}",
                        expires.map_or("missing".into(), |e| format!("{e} s")),
                        if within {
                            ""
                        } else {
                            " (the protocol says 300 s)"
                        }
                    ),
                    json!({"status": status, "expires_in": expires, "phases": phases}),
                );
            } else {
                let error = body["error"].as_str().unwrap_or("");
                token.done(
                    false,
                    t,
                    redact(format!(
                        "{status} {error}: the credentials were refused{}; {timed}",
                        body["error_description"]
                            .as_str()
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    )),
                    json!({"status": status, "error": error, "phases": phases}),
                );
            }
            let t = Instant::now();
            match date.as_deref().map(DateTime::parse_from_rfc2822) {
                Some(Ok(server)) => {
                    let local =
                        sent_at + chrono::TimeDelta::from_std(elapsed / 2).unwrap_or_default();
                    let seconds =
                        (server.with_timezone(&Utc) - local).num_milliseconds() as f64 / 1000.0;
                    let ok = seconds.abs() <= 60.0;
                    skew.done(
                        ok,
                        t,
                        format!(
                            "{seconds:+.1} s (server minus this machine; the Date header has 1-second resolution){}",
                            if ok { "" } else { ": tokens may look expired early or late" }
                        ),
                        json!({"seconds": seconds, "date": date}),
                    );
                }
                Some(Err(e)) => skew.done(
                    false,
                    t,
                    format!("unreadable Date header {date:?}: {e}"),
                    Value::Null,
                ),
                None => skew.done(false, t, "no Date header in the answer", Value::Null),
            }
        }
    }
    access
}
