//! The shapes of the mock's answers that acceptances and refusals share: the
//! protocol's envelope, a JSON body with its `Content-Type`, the `no-store`
//! headers of the token service, and the request headers every handler reads
//! the same way (media type, declared length).

use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `Content-Type` of every JSON answer.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// The protocol's answer: `resultado`, `codigo`, `mensaje`,
/// `numeroTransaccion`, in this order.
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    pub resultado: &'a str,
    pub codigo: &'a str,
    /// Absent only under the SCH-001 deviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mensaje: Option<&'a str>,
    #[serde(rename = "numeroTransaccion")]
    pub numero_transaccion: &'a str,
}

impl Envelope<'_> {
    /// The envelope as JSON bytes.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A JSON answer: `body` with `status` and the JSON `Content-Type`.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

/// The headers RFC 6749 §5.1 asks of token answers: not to be cached.
pub(crate) fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// The request's media type is `expected` (case-insensitive, parameters
/// ignored, as RFC 9110 §8.3.1 says).
pub(crate) fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
}

/// The request's `Content-Length`, when it has a readable one.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
