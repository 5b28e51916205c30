//! The pacing middleware in front of `/token` and the report services: the
//! capacity gate, the injected faults (an answer replaced, delayed, cut or
//! never sent), the latency profile counted from admission, and the global
//! stall. Admin routes are never paced.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::answer::{Envelope, JSON, json_response};
use crate::codes::Role;
use crate::faults;
use crate::refusal::Refusal;
use crate::server::ConnControl;
use crate::state::Mock;

/// The route of a paced request's path (already lower-cased).
fn fault_route(path: &str) -> faults::Route {
    match path {
        "/token" => faults::Route::Token,
        "/reportarafiliaciontraslado" => faults::Route::Afiliacion,
        _ => faults::Route::Retracto,
    }
}

/// Run the handler, counting its time in the mock's handler-time histogram.
async fn timed(mock: &Mock, next: axum::middleware::Next, req: Request<Body>) -> Response {
    let start = std::time::Instant::now();
    let r = next.run(req).await;
    mock.inner.handler_time.record(start.elapsed());
    r
}

/// A body that fails after `first` (possibly empty): the connection is
/// dropped mid-answer.
fn failing_body(first: Vec<u8>, what: &'static str) -> Body {
    use futures_util::StreamExt as _;
    let sent = !first.is_empty();
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
        .filter(move |_| std::future::ready(sent));
    // A moment for the server to flush what it has before the connection goes.
    let fail = futures_util::stream::once(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            what,
        ))
    });
    Body::from_stream(first.chain(fail))
}

/// The answer of the services and `/token`, through the capacity gate, the
/// faults, the latency profile (counted from the request's arrival) and a stall.
pub(crate) async fn pace(
    State(mock): State<Mock>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let _permit = match &mock.inner.gate {
        Some(gate) => match gate.admit().await {
            Some(p) => Some(p),
            None => return mock.shed().into_response(),
        },
        None => None,
    };
    // The service time counts from admission: a slot is held for all of it.
    let start = tokio::time::Instant::now();
    let set = mock.faults();
    let plan = if set.is_empty() {
        faults::Plan::default()
    } else {
        set.plan(fault_route(req.uri().path()))
    };
    if let Some(skew) = plan.skew {
        mock.inner.clock.set_skew(skew);
    }
    if plan.revoke {
        mock.revoke_tokens();
    }
    let control = req.extensions().get::<ConnControl>().cloned();
    let delay = mock.inner.pacing.profile().sample() + plan.delay;
    // A stall holds the request in front of the service: a client that gives
    // up meanwhile closes its connection, which drops this request unprocessed.
    if let Some(until) = plan.hold_until {
        tokio::time::sleep_until(until).await;
    }
    let settle = async {
        if !delay.is_zero() {
            tokio::time::sleep_until(start + delay).await;
        }
        mock.inner.pacing.hold().await;
    };
    use faults::Action;
    // Close the connection without an answer, or (served in-process, with no
    // connection) answer with a body that fails.
    let close = |reset: bool, what: &'static str| match &control {
        Some(c) => {
            c.close(reset);
            None
        }
        None => Some(Response::new(failing_body(Vec::new(), what))),
    };
    let response = match plan.action {
        None | Some(Action::Delay(_)) => {
            let r = timed(&mock, next, req).await;
            settle.await;
            return r;
        }
        Some(Action::Status {
            status,
            retry_after,
        }) => {
            settle.await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Refusal::Unavailable {
                status,
                text: format!("{status} (falla inyectada)"),
                retry_after,
            }
            .into_response();
        }
        Some(Action::TokenOutage { retry_after }) => {
            settle.await;
            return Refusal::TokenOutage { retry_after }.into_response();
        }
        Some(Action::MalformedJson) => {
            settle.await;
            // An envelope whose `mensaje` lost its quotes: not JSON.
            let ok = mock.inner.contract.code(Role::Stored);
            return json_response(
                StatusCode::OK,
                format!(
                    r#"{{"resultado": "{}", "codigo": "{}", "mensaje": Reporte recibido"#,
                    ok.http_status, ok.codigo
                )
                .into_bytes(),
            );
        }
        Some(Action::Truncated) => {
            settle.await;
            let ok = mock.inner.contract.code(Role::Stored);
            let resultado = ok.http_status.to_string();
            let full = Envelope {
                resultado: &resultado,
                codigo: &ok.codigo,
                mensaje: Some("Reporte recibido"),
                numero_transaccion: "AF-0000-000000000000",
            }
            .to_vec();
            let half = full[..full.len() / 2].to_vec();
            let mut r = Response::new(failing_body(half, "injected fault: truncated"));
            r.headers_mut().insert(CONTENT_TYPE, JSON);
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(full.len()));
            return r;
        }
        Some(Action::Reset) => {
            settle.await;
            close(true, "injected fault: reset")
        }
        Some(Action::Empty) => {
            settle.await;
            close(false, "injected fault: empty")
        }
        Some(Action::Hang { hold }) => {
            tokio::time::sleep(hold).await;
            close(false, "injected fault: hang")
        }
        Some(Action::SlowBody { chunk, interval }) => {
            let r = timed(&mock, next, req).await;
            settle.await;
            let (parts, body) = r.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let chunks: Vec<axum::body::Bytes> = bytes
                .chunks(chunk)
                .map(axum::body::Bytes::copy_from_slice)
                .collect();
            let stream = futures_util::stream::unfold(
                (chunks.into_iter(), true),
                move |(mut it, first)| async move {
                    let next = it.next()?;
                    if !first {
                        tokio::time::sleep(interval).await;
                    }
                    Some((Ok::<_, std::io::Error>(next), (it, false)))
                },
            );
            let mut r = Response::from_parts(parts, Body::from_stream(stream));
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            return r;
        }
        Some(Action::ResetAfterCommit) => {
            let _stored = timed(&mock, next, req).await;
            settle.await;
            close(true, "injected fault: reset after commit")
        }
        Some(Action::HangAfterCommit { hold }) => {
            let _stored = timed(&mock, next, req).await;
            tokio::time::sleep(hold).await;
            close(false, "injected fault: hang after commit")
        }
        // Window faults never come as the answer's action.
        Some(Action::Stall | Action::RevokeTokens | Action::ClockSkew { .. }) => {
            let r = timed(&mock, next, req).await;
            settle.await;
            return r;
        }
    };
    match response {
        Some(r) => r,
        // The connection task drops this future with the connection.
        None => std::future::pending().await,
    }
}
