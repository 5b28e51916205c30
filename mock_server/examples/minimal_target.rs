//! The minimal target of `benches/compare.sh`: the least a server of the
//! protocol can do, so that a sender's throughput against it measures the
//! sender (and `mss-mock`'s against it, the mock's own work).
//!
//! `POST /token` answers a fixed bearer token, whatever the form says;
//! `POST` on any other path parses the body as JSON (no validation: a body
//! that is not JSON gets a 400) and answers the protocol's envelope of an
//! accepted report, its `resultado` and `codigo` read from the contract and a
//! new `numeroTransaccion` each time. No storage, no checks, no metrics.
//!
//! Usage: minimal_target LISTEN_ADDR (e.g. `127.0.0.1:18062`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use mss_contract::{Contract, Role};
use serde::Serialize;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The token answer: always the same token, valid for five minutes.
const TOKEN: &str =
    r#"{"access_token":"minimal-target-token","token_type":"bearer","expires_in":300}"#;

/// The envelope of an accepted report, in the protocol's field order.
#[derive(Serialize)]
struct Envelope<'a> {
    resultado: &'a str,
    codigo: &'a str,
    mensaje: &'a str,
    #[serde(rename = "numeroTransaccion")]
    numero_transaccion: String,
}

/// What every report answer shares: the accepted status and codigo, and the
/// transaction counter.
struct Accepted {
    status: StatusCode,
    resultado: String,
    codigo: String,
    next: AtomicU64,
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

async fn token() -> Response {
    let mut r = json(StatusCode::OK, TOKEN.as_bytes().to_vec());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn report(State(accepted): State<Arc<Accepted>>, body: Bytes) -> Response {
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let n = accepted.next.fetch_add(1, Ordering::Relaxed);
    let envelope = Envelope {
        resultado: &accepted.resultado,
        codigo: &accepted.codigo,
        mensaje: "Reporte recibido",
        numero_transaccion: format!("MIN{n:012}"),
    };
    json(
        accepted.status,
        serde_json::to_vec(&envelope).unwrap_or_default(),
    )
}

#[tokio::main]
async fn main() {
    // As the mock does: the two targets differ in their work, not their memory.
    mss_mock::huge_pages_off();
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: minimal_target LISTEN_ADDR");
        std::process::exit(2);
    };
    let stored = Contract::embedded().code(Role::Stored);
    let accepted = Arc::new(Accepted {
        status: StatusCode::from_u16(stored.http_status).unwrap_or(StatusCode::OK),
        resultado: stored.http_status.to_string(),
        codigo: stored.codigo.clone(),
        next: AtomicU64::new(1),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/{*service}", post(report))
        .with_state(accepted);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("minimal_target: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    // As the mock does: answers leave at once, not after Nagle's wait.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("minimal_target: {e}");
        std::process::exit(2);
    }
}
