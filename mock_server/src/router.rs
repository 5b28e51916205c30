//! The mock's routes: which handler answers which path and method, the 405
//! and 404 answers (and the RUT deviations that bend them), the pacing
//! middleware in front of the protocol's routes only, and the layer that
//! makes paths case-insensitive.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Uri};
use axum::routing::post;
use mss_contract::Service;
use tower::Layer;
use tower::util::{MapRequest, MapRequestLayer};

use crate::codes::Role;
use crate::refusal::Refusal;
use crate::state::Mock;
use crate::{admin, oauth, pace, report};

/// The mock as a tower service: the router behind the path-lowercasing layer.
pub type App = MapRequest<Router, fn(Request<Body>) -> Request<Body>>;

/// Marks a request to a report service whose path is not spelled as the
/// protocol spells it (only the RUT-005/006 deviations look at it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Respelled;

/// A 405 handler naming the methods `allow`.
pub(crate) fn not_allowed(
    allow: &'static str,
) -> impl Fn(State<Mock>) -> std::future::Ready<Refusal> + Clone + Send + Sync + 'static {
    move |State(mock): State<Mock>| std::future::ready(mock.method_not_allowed(allow))
}

/// The 405 of a protocol route (`/token` and the services), as the RUT
/// deviation `deviation` bends it: RUT-002 names GET in `Allow`, RUT-003 and
/// RUT-004 answer 404.
fn not_allowed_on(
    deviation: &'static str,
) -> impl Fn(State<Mock>, Uri) -> std::future::Ready<Refusal> + Clone + Send + Sync + 'static {
    move |State(mock): State<Mock>, uri: Uri| {
        std::future::ready(if !mock.deviations().has(deviation) {
            mock.method_not_allowed("POST")
        } else if deviation == "RUT-002" {
            mock.method_not_allowed("GET")
        } else {
            mock.refuse(
                Role::UnknownRoute,
                format!("Ruta desconocida: {}", uri.path()),
            )
        })
    }
}

async fn not_found(State(mock): State<Mock>, uri: Uri) -> Refusal {
    let path: String = uri.path().chars().take(80).collect();
    if mock.deviations().has("RUT-001") {
        return mock.refuse(Role::MalformedBody, format!("Petición inválida: {path}"));
    }
    mock.refuse(Role::UnknownRoute, format!("Ruta desconocida: {path}"))
}

/// Lower-case the path (routes match case-insensitively) and mark a report
/// path not spelled as the protocol spells it.
fn lowercase_path(mut req: Request<Body>) -> Request<Body> {
    let uri = req.uri();
    let respelled = !Service::ALL.iter().any(|s| s.path() == uri.path());
    if uri.path().bytes().any(|b| b.is_ascii_uppercase()) {
        let path = uri.path().to_ascii_lowercase();
        let pq = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(new) = Uri::from_parts(parts) {
                *req.uri_mut() = new;
            }
        }
    }
    if respelled {
        req.extensions_mut().insert(Respelled);
    }
    req
}

impl Mock {
    /// The router, wrapped so that routes match case-insensitively.
    pub fn app(&self) -> App {
        let paced = Router::new()
            .route(
                "/token",
                post(oauth::token)
                    .layer(DefaultBodyLimit::max(oauth::MAX_TOKEN_BODY))
                    .fallback(not_allowed_on("RUT-004")),
            )
            .route(
                "/reportarafiliaciontraslado",
                report::route(Service::Afiliacion).fallback(not_allowed_on("RUT-002")),
            )
            .route(
                "/reportarretractoafiliacion",
                report::route(Service::Retracto).fallback(not_allowed_on("RUT-003")),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                pace::pace,
            ));
        let router = Router::new()
            .merge(paced)
            .merge(admin::routes())
            .fallback(not_found)
            .with_state(self.clone());
        MapRequestLayer::new(lowercase_path as fn(Request<Body>) -> Request<Body>).layer(router)
    }
}
