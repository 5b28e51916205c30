//! `mss-mock`: the bundled mock of the Ministry's token and report services.
//!
//! It implements the protocol as `contract/` describes it (docs/protocol.md):
//! `POST /token` (OAuth2 password grant, RFC 6749 errors), the two report
//! services with full field validation and the business rules, stateful (people,
//! affiliations, retractions), case-insensitive routes, a body limit, 405 and 404
//! with the envelope, and an admin API under `/__admin/` (stats, metrics, records, reset,
//! clock). It shares the contract's data with the harness, never its validation
//! code, so that the conformance suite can catch a mock that is wrong.
//!
//! Embed it with [`serve`] (or [`Mock::serve`]) on a listener you bound, or drive
//! [`Mock::app`] in-process with `tower::ServiceExt::oneshot`.

pub mod cli;
pub mod clock;
pub mod codes;
pub mod config;
pub mod deviate;
pub mod faults;
pub mod latency;
pub mod metrics;
mod store;
pub mod validate;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mss_contract::{Contract, Service};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower::Layer;
use tower::util::{MapRequest, MapRequestLayer};

pub use clock::MockClock;
use codes::{INTERNAL_ERROR, Role};
pub use config::{CapacityConfig, ClientConfig, ConfigError, MockConfig};
pub use deviate::Deviations;
pub use faults::{FaultSet, FaultSpec};
pub use latency::LatencyProfile;
use store::{Kind, Store};
use validate::Rejection;

/// The mock as a tower service: the router behind the path-lowercasing layer.
pub type App = MapRequest<Router, fn(Request<Body>) -> Request<Body>>;

/// Largest token request body read.
const MAX_TOKEN_BODY: usize = 16 * 1024;
/// Largest refused body read to its end before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Tokens kept before expired ones are purged.
const TOKEN_PURGE_THRESHOLD: usize = 10_000;

/// A client_id compiled from the configuration.
struct Client {
    config: ClientConfig,
    administradora: u8,
    services: [bool; 2],
}

#[derive(Clone, Copy)]
struct TokenInfo {
    client: usize,
    expires_at: i64,
}

#[derive(Default)]
struct ServiceStats {
    accepted: AtomicU64,
    rejected: [AtomicU64; Role::ALL.len()],
}

#[derive(Default)]
struct Stats {
    token_issued: AtomicU64,
    token_rejected: AtomicU64,
    services: [ServiceStats; 2],
}

struct Inner {
    contract: &'static Contract,
    config: MockConfig,
    clients: Vec<Client>,
    clock: MockClock,
    tokens: RwLock<FxHashMap<String, TokenInfo>>,
    store: Mutex<Store>,
    stats: Stats,
    instance: String,
    rejections: AtomicU64,
    statuses: [StatusCode; Role::ALL.len()],
    pacing: latency::Pacing,
    deviations: RwLock<Arc<Deviations>>,
    faults: RwLock<Arc<FaultSet>>,
    gate: Option<Gate>,
}

/// The capacity limit: at most `max_concurrent` requests served at once, at
/// most `queue` more waiting; the rest are shed at once.
struct Gate {
    permits: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    config: config::CapacityConfig,
    shed: AtomicU64,
}

impl Gate {
    /// A permit to serve, or `None` when the request is to be shed.
    async fn admit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(p) = self.permits.try_acquire() {
            return Some(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.config.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.shed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let wait = std::time::Duration::from_millis(self.config.queue_timeout_ms);
        let permit = tokio::time::timeout(wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(p)) => Some(p),
            _ => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// A running mock's state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Mock {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mock")
            .field("instance", &self.inner.instance)
            .field("clients", &self.inner.clients.len())
            .finish()
    }
}

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The contract lacks a code the mock needs.
    #[error("contract/errores.csv has no entry for {0}")]
    Catalogue(String),
    /// The server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A TLS server configuration from PEM files: the certificate chain and its
/// private key.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("certificate: no PEM certificate in it".into());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("key: {e}"))?
        .ok_or_else(|| "key: no PEM private key in it".to_owned())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve the mock with `config` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: MockConfig) -> Result<(), MockError> {
    Mock::new(config)?.serve(listener).await?;
    Ok(())
}

fn service_index(service: Service) -> usize {
    match service {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    resultado: &'a str,
    codigo: &'a str,
    mensaje: &'a str,
    #[serde(rename = "numeroTransaccion")]
    numero_transaccion: &'a str,
}

#[derive(Serialize)]
struct TokenOk<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct TokenErr<'a> {
    error: &'a str,
    error_description: &'a str,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Marks a request to a report service whose path is not spelled as the
/// protocol spells it (only the RUT-005/006 deviations look at it).
#[derive(Debug, Clone, Copy)]
struct Respelled;

/// A connection's handle, in every request's extensions when the mock serves
/// a socket: a fault closes the connection through it without an answer.
#[derive(Debug, Clone, Default)]
struct ConnControl(Arc<ConnShared>);

#[derive(Debug, Default)]
struct ConnShared {
    notify: tokio::sync::Notify,
    reset: std::sync::atomic::AtomicBool,
}

impl ConnControl {
    /// Close the connection: with a reset (RST) or a plain close (FIN).
    fn close(&self, reset: bool) {
        self.0.reset.store(reset, Ordering::Relaxed);
        self.0.notify.notify_one();
    }

    /// Resolves when a fault closes the connection: whether with a reset.
    async fn closed(&self) -> bool {
        self.0.notify.notified().await;
        self.0.reset.load(Ordering::Relaxed)
    }
}

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
    /// A mock with `config` and an empty state.
    pub fn new(config: MockConfig) -> Result<Mock, MockError> {
        config.check("configuration")?;
        Self::with_contract(config, Contract::current())
    }

    /// A mock serving `contract` (e.g. one edited from the ministry's annex),
    /// with `config` and an empty state.
    pub fn with_contract(
        config: MockConfig,
        contract: &'static Contract,
    ) -> Result<Mock, MockError> {
        config.check("configuration")?;
        let mut statuses = [StatusCode::OK; Role::ALL.len()];
        for role in Role::ALL {
            let entry = contract.code(role);
            statuses[role.index()] = StatusCode::from_u16(entry.http_status)
                .map_err(|_| MockError::Catalogue(entry.codigo.clone()))?;
        }
        let clients = config
            .clients
            .iter()
            .map(|c| {
                let administradora = contract
                    .administradoras
                    .iter()
                    .position(|a| a.codigo == c.administradora)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(u8::MAX);
                let mut services = [true, true];
                if let Some(list) = &c.services {
                    for s in Service::ALL {
                        services[service_index(s)] =
                            list.iter().any(|n| n.eq_ignore_ascii_case(s.name()));
                    }
                }
                Client {
                    config: c.clone(),
                    administradora,
                    services,
                }
            })
            .collect();
        let instance = format!("{:04X}", rand::random::<u16>());
        let latency_profile = config.latency;
        let faults = FaultSet::compile(&config.faults).map_err(|message| ConfigError::Invalid {
            origin: "configuration".to_owned(),
            message,
        })?;
        let gate = config.capacity.clone().map(|c| Gate {
            permits: tokio::sync::Semaphore::new(c.max_concurrent),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            config: c,
            shed: AtomicU64::new(0),
        });
        let deviations = Deviations::parse(contract, &config.deviate).map_err(|message| {
            ConfigError::Invalid {
                origin: "configuration".to_owned(),
                message: format!("deviate: {message}"),
            }
        })?;
        Ok(Mock {
            inner: Arc::new(Inner {
                contract,
                clock: MockClock::new(config.clock_offset_seconds),
                store: Mutex::new(Store::new(config.max_records, config.max_fingerprints)),
                config,
                clients,
                tokens: RwLock::new(FxHashMap::default()),
                stats: Stats::default(),
                instance,
                rejections: AtomicU64::new(0),
                statuses,
                pacing: latency::Pacing::new(latency_profile),
                deviations: RwLock::new(Arc::new(deviations)),
                faults: RwLock::new(Arc::new(faults)),
                gate,
            }),
        })
    }

    /// The mock's clock.
    pub fn clock(&self) -> &MockClock {
        &self.inner.clock
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// The router, wrapped so that routes match case-insensitively.
    pub fn app(&self) -> App {
        let not_allowed = |allow: &'static str| {
            move |State(mock): State<Mock>| async move { mock.method_not_allowed(allow) }
        };
        // 405 on the services and /token, bent by a RUT deviation.
        let not_allowed_on = |deviation: &'static str| {
            move |State(mock): State<Mock>, uri: Uri| async move {
                if mock.deviations().has(deviation) {
                    if deviation == "RUT-002" {
                        return mock.method_not_allowed("GET");
                    }
                    return mock.plain(
                        Role::UnknownRoute,
                        &format!("Ruta desconocida: {}", uri.path()),
                    );
                }
                mock.method_not_allowed("POST")
            }
        };
        let paced = Router::new()
            .route("/token", post(token).fallback(not_allowed_on("RUT-004")))
            .route(
                "/reportarafiliaciontraslado",
                post(afiliacion).fallback(not_allowed_on("RUT-002")),
            )
            .route(
                "/reportarretractoafiliacion",
                post(retracto).fallback(not_allowed_on("RUT-003")),
            )
            .route_layer(axum::middleware::from_fn_with_state(self.clone(), pace));
        let router = Router::new()
            .merge(paced)
            .route(
                "/__admin/revoke-tokens",
                post(admin_revoke).fallback(not_allowed("POST")),
            )
            .route(
                "/__admin/stall",
                post(admin_stall).fallback(not_allowed("POST")),
            )
            .route(
                "/__admin/latency",
                get(admin_latency_get)
                    .post(admin_latency)
                    .fallback(not_allowed("GET, POST")),
            )
            .route(
                "/__admin/stats",
                get(admin_stats).fallback(not_allowed("GET")),
            )
            .route(
                "/__admin/metrics",
                get(admin_metrics).fallback(not_allowed("GET")),
            )
            .route(
                "/__admin/records",
                get(admin_records).fallback(not_allowed("GET")),
            )
            .route(
                "/__admin/reset",
                post(admin_reset).fallback(not_allowed("POST")),
            )
            .route(
                "/__admin/deviations",
                get(admin_deviations_get)
                    .post(admin_deviations)
                    .delete(admin_deviations_clear)
                    .fallback(not_allowed("GET, POST, DELETE")),
            )
            .route(
                "/__admin/faults",
                get(admin_faults_get)
                    .post(admin_faults)
                    .delete(admin_faults_clear)
                    .fallback(not_allowed("GET, POST, DELETE")),
            )
            .route(
                "/__admin/clock",
                get(admin_clock_get)
                    .post(admin_clock)
                    .fallback(not_allowed("GET, POST")),
            )
            .fallback(not_found)
            .with_state(self.clone());
        MapRequestLayer::new(lowercase_path as fn(Request<Body>) -> Request<Body>).layer(router)
    }

    /// Serve on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serve on `listener` until `shutdown` completes, then finish the requests
    /// in flight.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_connections(listener, None, shutdown).await
    }

    /// Serve HTTPS on `listener` with `tls` until `shutdown` completes: the
    /// same routes behind a TLS handshake (for tests of certificate handling
    /// and for rehearsing against a mock that looks like the ministry's).
    pub async fn serve_tls(
        self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_connections(
            listener,
            Some(tokio_rustls::TlsAcceptor::from(tls)),
            shutdown,
        )
        .await
    }

    /// The accept loop: every connection gets a [`ConnControl`] in its
    /// requests' extensions, through which a fault can close it (with a FIN or
    /// a reset) without an answer; on `shutdown`, stop accepting and let the
    /// requests in flight finish.
    async fn serve_connections(
        self,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use tower::ServiceExt as _;
        let app = self.app();
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    // Out of descriptors or a connection aborted before accept:
                    // keep serving the others.
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            // A second descriptor of the socket: once the connection is dropped,
            // closing this one (with SO_LINGER 0 for a reset) is what the peer sees.
            let Ok(dup) = socket2::SockRef::from(&tcp).try_clone() else {
                continue;
            };
            let control = ConnControl::default();
            let app = app.clone();
            let watcher = graceful.watcher();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = {
                    let control = control.clone();
                    hyper_util::service::TowerToHyperService::new(app.map_request(
                        move |req: Request<hyper::body::Incoming>| {
                            let mut req = req.map(Body::new);
                            req.extensions_mut().insert(control.clone());
                            req
                        },
                    ))
                };
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let reset = match tls {
                    None => {
                        let conn =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                        tokio::select! {
                            _ = watcher.watch(conn) => None,
                            reset = control.closed() => Some(reset),
                        }
                    }
                    Some(acceptor) => {
                        // A client that fails the handshake (it does not trust
                        // us) is simply dropped, as any TLS server does.
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let conn =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                        tokio::select! {
                            _ = watcher.watch(conn) => None,
                            reset = control.closed() => Some(reset),
                        }
                    }
                };
                if reset == Some(true) {
                    let _ = dup.set_linger(Some(std::time::Duration::ZERO));
                }
                drop(dup);
            });
        }
        drop(listener);
        // A request held by a `hang` fault would hold the shutdown: bounded.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
        Ok(())
    }

    /// Statistics as the `/__admin/stats` JSON.
    pub fn stats(&self) -> serde_json::Value {
        let s = &self.inner.stats;
        let mut services = serde_json::Map::new();
        for service in Service::ALL {
            let st = &s.services[service_index(service)];
            let mut rejected = serde_json::Map::new();
            for role in Role::ALL {
                let n = st.rejected[role.index()].load(Ordering::Relaxed);
                if n > 0 {
                    rejected.insert(self.inner.contract.codigo_of(role).to_owned(), n.into());
                }
            }
            services.insert(
                service.name().to_owned(),
                serde_json::json!({
                    "accepted": st.accepted.load(Ordering::Relaxed),
                    "rejected": rejected,
                }),
            );
        }
        let store = self.store();
        serde_json::json!({
            "token": {
                "issued": s.token_issued.load(Ordering::Relaxed),
                "rejected": s.token_rejected.load(Ordering::Relaxed),
            },
            "services": services,
            "records": {
                "kept": store.len(),
                "first_index": store.first_index(),
            },
            "clock": self.clock_json(),
            "faults_injected": self.faults().injected(),
            "shed": self.inner.gate.as_ref().map_or(0, |g| g.shed.load(Ordering::Relaxed)),
        })
    }

    /// The faults in force.
    pub fn faults(&self) -> Arc<FaultSet> {
        self.inner
            .faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace the faults in force (their offsets count from now); the error
    /// names the fault and the key that is wrong.
    pub fn set_faults(&self, specs: &[FaultSpec]) -> Result<(), String> {
        let set = FaultSet::compile(specs)?;
        // The clock comes back when the faults go (a new set's skew, if it
        // has one, applies from its first request).
        self.inner.clock.set_skew(0);
        *self
            .inner
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        Ok(())
    }

    /// Invalidate every token issued so far; returns how many there were.
    pub fn revoke_tokens(&self) -> usize {
        let mut tokens = self
            .inner
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = tokens.len();
        tokens.clear();
        n
    }

    /// The deviations in force.
    pub fn deviations(&self) -> Arc<Deviations> {
        self.inner
            .deviations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace the deviations in force.
    pub fn set_deviations(&self, deviations: Deviations) {
        *self
            .inner
            .deviations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(deviations);
    }

    /// The contract the mock serves.
    pub fn contract(&self) -> &'static Contract {
        self.inner.contract
    }

    /// The latency profile and stall control.
    pub fn pacing(&self) -> &latency::Pacing {
        &self.inner.pacing
    }

    /// Forget every record, person and statistic (tokens and clock stay).
    pub fn reset(&self) {
        self.store().reset();
        let s = &self.inner.stats;
        s.token_issued.store(0, Ordering::Relaxed);
        s.token_rejected.store(0, Ordering::Relaxed);
        for st in &s.services {
            st.accepted.store(0, Ordering::Relaxed);
            for r in &st.rejected {
                r.store(0, Ordering::Relaxed);
            }
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a record half-written
        // (records are pushed whole), so a poisoned lock is still usable.
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn clock_json(&self) -> serde_json::Value {
        let clock = &self.inner.clock;
        serde_json::json!({
            "now": clock.now_bogota().to_rfc3339(),
            "hoy": clock.today().to_string(),
            "offset_seconds": clock.offset_seconds(),
        })
    }

    fn status(&self, role: Role) -> StatusCode {
        self.inner.statuses[role.index()]
    }

    fn transaction(&self, kind: &str, n: u64) -> String {
        format!("{}{kind}{n:012}", self.inner.instance)
    }

    /// The record index of one of our affiliation transaction numbers.
    fn affiliation_index(&self, numero: &str) -> Option<u64> {
        let rest = numero.strip_prefix(self.inner.instance.as_str())?;
        let digits = rest.strip_prefix("AF")?;
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    fn envelope(&self, role: Role, mensaje: &str, numero: &str) -> Response {
        self.envelope_as(role, mensaje, numero, &Deviations::default())
    }

    /// An envelope, bent by the ENV and SCH deviations.
    fn envelope_as(&self, role: Role, mensaje: &str, numero: &str, dev: &Deviations) -> Response {
        let status = self.status(role);
        let codigo = self.inner.contract.codigo_of(role);
        let rejected = role != Role::Stored;
        let body = if dev.is_empty() {
            serde_json::to_vec(&Envelope {
                resultado: status.as_str(),
                codigo,
                mensaje,
                numero_transaccion: numero,
            })
        } else {
            let mut v = serde_json::json!({
                "resultado": if rejected && dev.has("ENV-002") { "200" } else { status.as_str() },
                "codigo": codigo,
                "mensaje": mensaje,
                "numeroTransaccion": numero,
            });
            if !rejected
                && dev.has("SCH-001")
                && let Some(map) = v.as_object_mut()
            {
                map.remove("mensaje");
            }
            serde_json::to_vec(&v)
        }
        .unwrap_or_default();
        let mut response = json_response(status, body);
        if rejected && dev.has("ENV-001") {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }

    /// An envelope for a refusal outside the report services.
    /// The answer to a request shed by the capacity gate: fast, with
    /// `Retry-After`, nothing done.
    fn shed(&self) -> Response {
        let (status, retry_after) = self
            .inner
            .gate
            .as_ref()
            .map_or((503, 1), |g| (g.config.shed_status, g.config.retry_after_s));
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut r = (
            status,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "capacidad excedida; reintente",
        )
            .into_response();
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(retry_after),
        );
        r
    }

    fn plain(&self, codigo: Role, mensaje: &str) -> Response {
        let n = self.inner.rejections.fetch_add(1, Ordering::Relaxed);
        self.envelope(codigo, mensaje, &self.transaction("TX", n))
    }

    fn method_not_allowed(&self, allow: &'static str) -> Response {
        let mut r = self.plain(
            Role::MethodNotAllowed,
            &format!("Método no permitido; use {allow}"),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        r
    }

    fn reject(
        &self,
        service: Option<Service>,
        rejection: &Rejection,
        dev: &Deviations,
    ) -> Response {
        let n = self.inner.rejections.fetch_add(1, Ordering::Relaxed);
        if rejection.internal {
            let body = serde_json::json!({
                "resultado": "500",
                "codigo": INTERNAL_ERROR,
                "mensaje": rejection.mensaje,
                "numeroTransaccion": self.transaction("TX", n),
            });
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                body.to_string().into_bytes(),
            );
        }
        if let Some(service) = service {
            self.inner.stats.services[service_index(service)].rejected[rejection.codigo.index()]
                .fetch_add(1, Ordering::Relaxed);
        }
        let mut response = self.envelope_as(
            rejection.codigo,
            &rejection.mensaje,
            &self.transaction("TX", n),
            dev,
        );
        if let Some(service) = service
            && dev.of("AUTH", service, "005")
        {
            response.headers_mut().remove(WWW_AUTHENTICATE);
        }
        response
    }

    fn authenticate(
        &self,
        headers: &HeaderMap,
        service: Service,
        dev: &Deviations,
    ) -> Result<&Client, Rejection> {
        let value = headers.get(AUTHORIZATION).ok_or_else(|| {
            if dev.of("AUTH", service, "001") {
                Rejection::new(Role::TokenExpired, "Token vencido")
            } else {
                Rejection::new(Role::TokenMissing, "Falta el encabezado Authorization")
            }
        })?;
        let malformed = || {
            if dev.of("AUTH", service, "002") {
                Rejection::new(Role::MalformedBody, "Encabezado inválido")
            } else {
                Rejection::new(Role::TokenMissing, "Encabezado Authorization malformado")
            }
        };
        let text = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(malformed)?;
        let token = token.trim();
        let scheme_ok = if dev.of("AUTH", service, "008") {
            scheme == "Bearer"
        } else {
            scheme.eq_ignore_ascii_case("bearer")
        };
        if !scheme_ok || token.is_empty() {
            return Err(malformed());
        }
        let info = self
            .inner
            .tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .copied()
            .ok_or_else(|| {
                if dev.of("AUTH", service, "003") {
                    Rejection::new(Role::TokenExpired, "Token vencido")
                } else {
                    Rejection::new(Role::TokenMissing, "Token desconocido")
                }
            })?;
        if info.expires_at <= self.inner.clock.now_unix() && !dev.of("AUTH", service, "004") {
            return Err(Rejection::new(
                Role::TokenExpired,
                "Token vencido; solicite uno nuevo en /token",
            ));
        }
        self.inner
            .clients
            .get(info.client)
            .ok_or_else(|| Rejection::new(Role::TokenMissing, "Token desconocido"))
    }

    async fn report(
        &self,
        service: Service,
        respelled: bool,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        let dev = self.deviations();
        let id = match service {
            Service::Afiliacion => "RUT-005",
            Service::Retracto => "RUT-006",
        };
        if respelled && dev.has(id) {
            return self.plain(
                Role::UnknownRoute,
                &format!("Ruta desconocida: {}", uri.path()),
            );
        }
        match self.try_report(service, &headers, body, &dev).await {
            Ok(numero) => {
                self.inner.stats.services[service_index(service)]
                    .accepted
                    .fetch_add(1, Ordering::Relaxed);
                self.envelope_as(Role::Stored, "Reporte recibido", &numero, &dev)
            }
            Err(rejection) => self.reject(Some(service), &rejection, &dev),
        }
    }

    async fn try_report(
        &self,
        service: Service,
        headers: &HeaderMap,
        body: Body,
        dev: &Deviations,
    ) -> Result<String, Rejection> {
        let client = self.authenticate(headers, service, dev)?;
        if !client.services[service_index(service)] && !dev.of("AUTH", service, "006") {
            return Err(Rejection::new(
                Role::NotEntitled,
                format!(
                    "El cliente del token no está habilitado para {}",
                    service.name()
                ),
            ));
        }
        let limit = self.inner.config.max_body_bytes;
        let too_large = || {
            Rejection::new(
                Role::BodyTooLarge,
                format!("El cuerpo supera el máximo de {limit} bytes"),
            )
        };
        if declared_length(headers).is_some_and(|n| n > limit as u64) {
            // Read (and drop) what the client is still sending, up to a bound, so
            // that it gets the 413 rather than a connection reset mid-upload.
            let _ = axum::body::to_bytes(body, DRAIN_LIMIT).await;
            return Err(too_large());
        }
        if !media_type_is(headers, "application/json") && !dev.of("FMT", service, "002") {
            return Err(Rejection::new(
                Role::MalformedBody,
                "Content-Type debe ser application/json",
            ));
        }
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        let contract = self.inner.contract;
        if dev.of("FUZ", service, "001") && std::str::from_utf8(&bytes).is_err() {
            return Err(Rejection::internal("Error interno"));
        }
        let mut body = match validate::Body::parse(contract.service(service), &bytes) {
            Ok(body) => body,
            Err(mut r) => {
                if r.mensaje.starts_with("JSON malformado") && dev.of("FMT", service, "001") {
                    r.codigo = Role::BadField;
                } else if r.mensaje.starts_with("El cuerpo debe ser")
                    && dev.of("FMT", service, "003")
                {
                    r.codigo = Role::MissingField;
                }
                return Err(r);
            }
        };
        body.apply_enum_deviations(dev);
        let clock = &self.inner.clock;
        let today = clock.today();
        let received = u32::try_from(clock.now_unix()).unwrap_or(u32::MAX);
        match service {
            Service::Afiliacion => {
                let a = validate::affiliation(contract, &body, client.administradora, today, dev)?;
                let index = self.store().affiliation(&a, received, dev)?;
                Ok(self.transaction("AF", index))
            }
            Service::Retracto => {
                let r = validate::retraction(contract, &body, client.administradora, today, dev)?;
                let affiliation = self.affiliation_index(r.transaccion);
                let index = self.store().retraction(&r, affiliation, received, dev)?;
                Ok(self.transaction("RT", index))
            }
        }
    }

    fn token_error(&self, error: &str, description: &str) -> Response {
        self.inner
            .stats
            .token_rejected
            .fetch_add(1, Ordering::Relaxed);
        let dev = self.deviations();
        let body = if dev.has("SCH-002") {
            serde_json::to_vec(&serde_json::json!({"error": error, "error_description": 400}))
        } else {
            serde_json::to_vec(&TokenErr {
                error,
                error_description: description,
            })
        }
        .unwrap_or_default();
        let response = json_response(StatusCode::BAD_REQUEST, body);
        if dev.has("TOK-008") {
            response
        } else {
            no_store(response)
        }
    }

    async fn issue_token(&self, headers: HeaderMap, body: Body) -> Response {
        let dev = self.deviations();
        if !media_type_is(&headers, "application/x-www-form-urlencoded") {
            if dev.has("TOK-007") {
                return self.reject(None, &Rejection::internal("Error interno"), &dev);
            }
            return self.token_error(
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
        }
        let Ok(bytes) = axum::body::to_bytes(body, MAX_TOKEN_BODY).await else {
            return self.token_error("invalid_request", "request body too large or unreadable");
        };
        let mut params: FxHashMap<String, String> = FxHashMap::default();
        for (k, v) in form_urlencoded::parse(&bytes) {
            if params.insert(k.to_string(), v.into_owned()).is_some() && !dev.has("TOK-009") {
                return self.token_error("invalid_request", &format!("parameter {k} is repeated"));
            }
        }
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let Some(grant_type) = param("grant_type") else {
            return self.token_error("invalid_request", "grant_type is missing");
        };
        if grant_type != "password" {
            return self.token_error(
                if dev.has("TOK-005") {
                    "invalid_request"
                } else {
                    "unsupported_grant_type"
                },
                "only grant_type=password is supported",
            );
        }
        let Some(client_id) = param("client_id") else {
            return self.token_error("invalid_client", "client_id is missing");
        };
        let Some((index, client)) = self
            .inner
            .clients
            .iter()
            .enumerate()
            .find(|(_, c)| c.config.client_id == client_id)
        else {
            return self.token_error(
                if dev.has("TOK-004") {
                    "invalid_grant"
                } else {
                    "invalid_client"
                },
                "unknown client_id",
            );
        };
        let (Some(username), Some(password)) = (param("username"), param("password")) else {
            return self.token_error(
                if dev.has("TOK-006") && param("password").is_none() {
                    "invalid_grant"
                } else {
                    "invalid_request"
                },
                "username and password are required",
            );
        };
        if (username != client.config.username || password != client.config.password)
            && !dev.has("TOK-003")
        {
            return self.token_error("invalid_grant", "wrong username or password");
        }
        let token = new_token();
        let ttl = self.inner.config.token_ttl_seconds;
        let now = self.inner.clock.now_unix();
        {
            let mut tokens = self
                .inner
                .tokens
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if tokens.len() >= TOKEN_PURGE_THRESHOLD {
                tokens.retain(|_, t| t.expires_at > now);
            }
            tokens.insert(
                token.clone(),
                TokenInfo {
                    client: index,
                    expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
                },
            );
        }
        self.inner
            .stats
            .token_issued
            .fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&TokenOk {
            access_token: &token,
            token_type: if dev.has("TOK-010") { "mac" } else { "bearer" },
            expires_in: if dev.has("TOK-002") { 3600 } else { ttl },
        })
        .unwrap_or_default();
        let mut response = json_response(StatusCode::OK, body);
        if dev.has("TOK-001") {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        if dev.has("TOK-008") {
            response
        } else {
            no_store(response)
        }
    }

    /// Accepted records `offset..offset + limit` as JSON Lines, as
    /// `GET /__admin/records` gives them.
    pub fn records_page(&self, offset: usize, limit: usize) -> String {
        self.records_jsonl(offset, limit).0
    }

    fn records_jsonl(&self, offset: usize, limit: usize) -> (String, usize) {
        let contract = self.inner.contract;
        let store = self.store();
        let total = store.len();
        let first = store.first_index();
        let mut out = String::new();
        let end = offset.saturating_add(limit).min(total);
        for pos in offset..end {
            let index = first + pos as u64;
            let Some(r) = store.get(index) else { continue };
            let admin = contract
                .administradoras
                .get(usize::from(r.administradora))
                .map_or("", |a| a.codigo.as_str());
            let tipo = contract
                .tipos_documento
                .get(usize::from(r.tipo_documento))
                .map_or("", |t| t.codigo.as_str());
            let recibido = chrono::DateTime::from_timestamp(i64::from(r.received), 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            let line = match r.kind {
                Kind::Afiliacion => serde_json::json!({
                    "indice": index,
                    "servicio": Service::Afiliacion.name(),
                    "numeroTransaccion": self.transaction("AF", index),
                    "numeroRadicado": r.radicado.as_str(),
                    "codigoAdministradora": admin,
                    "tipoDocumento": tipo,
                    "numeroDocumento": r.documento.as_str(),
                    "tipoNovedad": r.novedad().as_str(),
                    "fechaSolicitud": r.fecha().to_string(),
                    "retractada": r.retracted,
                    "recibido": recibido,
                }),
                Kind::Retracto => serde_json::json!({
                    "indice": index,
                    "servicio": Service::Retracto.name(),
                    "numeroTransaccion": self.transaction("RT", index),
                    "numeroRadicado": r.radicado.as_str(),
                    "codigoAdministradora": admin,
                    "tipoDocumento": tipo,
                    "numeroDocumento": r.documento.as_str(),
                    "numeroTransaccionAfiliacion": r.retracted_affiliation().map(|i| self.transaction("AF", i)),
                    "fechaRetracto": r.fecha().to_string(),
                    "recibido": recibido,
                }),
            };
            out.push_str(&line.to_string());
            out.push('\n');
        }
        (out, total)
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

async fn not_found(State(mock): State<Mock>, uri: Uri) -> Response {
    let path: String = uri.path().chars().take(80).collect();
    if mock.deviations().has("RUT-001") {
        return mock.plain(Role::MalformedBody, &format!("Petición inválida: {path}"));
    }
    mock.plain(Role::UnknownRoute, &format!("Ruta desconocida: {path}"))
}

async fn token(State(mock): State<Mock>, headers: HeaderMap, body: Body) -> Response {
    mock.issue_token(headers, body).await
}

type Respelling = Option<axum::Extension<Respelled>>;

async fn afiliacion(
    State(mock): State<Mock>,
    respelled: Respelling,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let respelled = respelled.is_some();
    mock.report(Service::Afiliacion, respelled, uri, headers, body)
        .await
}

async fn retracto(
    State(mock): State<Mock>,
    respelled: Respelling,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let respelled = respelled.is_some();
    mock.report(Service::Retracto, respelled, uri, headers, body)
        .await
}

async fn admin_deviations_get(State(mock): State<Mock>) -> Response {
    let dev = mock.deviations();
    let known: Vec<serde_json::Value> = deviate::catalogue(mock.inner.contract)
        .into_iter()
        .map(|(id, what)| serde_json::json!({"id": id, "descripcion": what}))
        .collect();
    let body = serde_json::json!({"active": dev.ids().collect::<Vec<_>>(), "known": known});
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviationChange {
    deviate: Vec<String>,
}

async fn admin_deviations(State(mock): State<Mock>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return mock.plain(Role::BodyTooLarge, "Cuerpo demasiado grande");
    };
    let change = match serde_json::from_slice::<DeviationChange>(&bytes) {
        Ok(c) => c,
        Err(e) => {
            return mock.plain(
                Role::MalformedBody,
                &format!("Se esperaba {{\"deviate\": [\"ID\", ...]}}: {e}"),
            );
        }
    };
    match Deviations::parse(mock.inner.contract, &change.deviate) {
        Ok(dev) => {
            mock.set_deviations(dev);
            admin_deviations_get(State(mock)).await
        }
        Err(e) => mock.plain(Role::BadField, &e),
    }
}

async fn admin_deviations_clear(State(mock): State<Mock>) -> Response {
    mock.set_deviations(Deviations::default());
    admin_deviations_get(State(mock)).await
}

async fn admin_faults_get(State(mock): State<Mock>) -> Response {
    json_response(
        StatusCode::OK,
        mock.faults().to_json().to_string().into_bytes(),
    )
}

/// `POST /__admin/faults`: a JSON array of faults (or `{"faults": [..]}`)
/// replaces the set; offsets count from now.
async fn admin_faults(State(mock): State<Mock>, body: Body) -> Response {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Posted {
        List(Vec<FaultSpec>),
        Object { faults: Vec<FaultSpec> },
    }
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024).await else {
        return mock.plain(Role::BodyTooLarge, "Cuerpo demasiado grande");
    };
    let specs = match serde_json::from_slice::<Posted>(&bytes) {
        Ok(Posted::List(l) | Posted::Object { faults: l }) => l,
        Err(_) => {
            // The untagged error says nothing: name the problem of the list.
            let why = serde_json::from_slice::<Vec<FaultSpec>>(&bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            return mock.plain(
                Role::MalformedBody,
                &format!("Se esperaba una lista de fallas [{{\"kind\": ..}}]: {why}"),
            );
        }
    };
    match mock.set_faults(&specs) {
        Ok(()) => admin_faults_get(State(mock)).await,
        Err(e) => mock.plain(Role::BadField, &e),
    }
}

async fn admin_faults_clear(State(mock): State<Mock>) -> Response {
    let _ = mock.set_faults(&[]);
    admin_faults_get(State(mock)).await
}

async fn admin_stats(State(mock): State<Mock>) -> Response {
    json_response(StatusCode::OK, mock.stats().to_string().into_bytes())
}

async fn admin_metrics(State(mock): State<Mock>) -> Response {
    match metrics::encode(mock.stats()) {
        Ok(text) => (
            [(axum::http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Default and largest page of `/__admin/records`.
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 100_000;

async fn admin_records(State(mock): State<Mock>, RawQuery(query): RawQuery) -> Response {
    let param = |name: &str| {
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let number = |name: &str, v: &Option<String>, default: usize| -> Result<usize, String> {
        match v {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| format!("{name} debe ser un entero no negativo")),
        }
    };
    let (offset, limit) = match (
        number("offset", &param("offset"), 0),
        number("limit", &param("limit"), DEFAULT_PAGE),
    ) {
        (Ok(offset), Ok(limit)) => (offset, limit.min(MAX_PAGE)),
        (Err(e), _) | (_, Err(e)) => return mock.plain(Role::BadField, &e),
    };
    let (body, total) = mock.records_jsonl(offset, limit);
    let mut r = (StatusCode::OK, body).into_response();
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert("x-total-count", HeaderValue::from(total));
    if offset.saturating_add(limit) < total {
        headers.insert("x-next-offset", HeaderValue::from(offset + limit));
    }
    r
}

async fn admin_reset(State(mock): State<Mock>) -> Response {
    mock.reset();
    json_response(StatusCode::OK, br#"{"reset":true}"#.to_vec())
}

async fn admin_clock_get(State(mock): State<Mock>) -> Response {
    json_response(StatusCode::OK, mock.clock_json().to_string().into_bytes())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_seconds: i64,
}

async fn admin_clock(State(mock): State<Mock>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 4096).await else {
        return mock.plain(Role::BodyTooLarge, "Cuerpo demasiado grande");
    };
    match serde_json::from_slice::<ClockChange>(&bytes) {
        Ok(change) => match mock.inner.clock.advance(change.advance_seconds) {
            Some(_) => json_response(StatusCode::OK, mock.clock_json().to_string().into_bytes()),
            None => mock.plain(
                Role::BadField,
                &format!(
                    "advance_seconds llevaría el reloj a más de {} segundos del reloj del sistema",
                    MockClock::MAX_OFFSET_SECONDS
                ),
            ),
        },
        Err(e) => mock.plain(
            Role::MalformedBody,
            &format!("Se esperaba {{\"advance_seconds\": N}}: {e}"),
        ),
    }
}

/// The route of a paced request's path (already lower-cased).
fn fault_route(path: &str) -> faults::Route {
    match path {
        "/token" => faults::Route::Token,
        "/reportarafiliaciontraslado" => faults::Route::Afiliacion,
        _ => faults::Route::Retracto,
    }
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
async fn pace(
    State(mock): State<Mock>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let _permit = match &mock.inner.gate {
        Some(gate) => match gate.admit().await {
            Some(p) => Some(p),
            None => return mock.shed(),
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
            let r = next.run(req).await;
            settle.await;
            return r;
        }
        Some(Action::Status {
            status,
            retry_after,
        }) => {
            settle.await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = (
                status,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{status} (falla inyectada)"),
            )
                .into_response();
            if let Some(s) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, s);
            }
            return r;
        }
        Some(Action::TokenOutage { retry_after }) => {
            settle.await;
            let mut r = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"error":"temporarily_unavailable","error_description":"token service unavailable (injected fault)"}"#.to_vec(),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            return no_store(r);
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
            let full = serde_json::to_vec(&Envelope {
                resultado: &resultado,
                codigo: &ok.codigo,
                mensaje: "Reporte recibido",
                numero_transaccion: "AF-0000-000000000000",
            })
            .unwrap_or_default();
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
            let r = next.run(req).await;
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
            let _stored = next.run(req).await;
            settle.await;
            close(true, "injected fault: reset after commit")
        }
        Some(Action::HangAfterCommit { hold }) => {
            let _stored = next.run(req).await;
            tokio::time::sleep(hold).await;
            close(false, "injected fault: hang after commit")
        }
        // Window faults never come as the answer's action.
        Some(Action::Stall | Action::RevokeTokens | Action::ClockSkew { .. }) => {
            let r = next.run(req).await;
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

async fn admin_revoke(State(mock): State<Mock>) -> Response {
    let n = mock.revoke_tokens();
    json_response(
        StatusCode::OK,
        serde_json::json!({ "revoked": n }).to_string().into_bytes(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StallRequest {
    seconds: f64,
}

async fn admin_stall(State(mock): State<Mock>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 4096).await else {
        return mock.plain(Role::BodyTooLarge, "Cuerpo demasiado grande");
    };
    match serde_json::from_slice::<StallRequest>(&bytes) {
        Ok(s)
            if s.seconds.is_finite() && (0.0..=latency::MAX_STALL_SECONDS).contains(&s.seconds) =>
        {
            mock.inner.pacing.stall(s.seconds);
            json_response(
                StatusCode::OK,
                serde_json::json!({ "stalled_for_seconds": mock.inner.pacing.stall_left() })
                    .to_string()
                    .into_bytes(),
            )
        }
        Ok(s) => mock.plain(
            Role::BadField,
            &format!(
                "seconds debe estar entre 0 y {}, no {}",
                latency::MAX_STALL_SECONDS,
                s.seconds
            ),
        ),
        Err(e) => mock.plain(
            Role::MalformedBody,
            &format!("Se esperaba {{\"seconds\": S}}: {e}"),
        ),
    }
}

async fn admin_latency_get(State(mock): State<Mock>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&mock.inner.pacing.profile()).unwrap_or_default(),
    )
}

async fn admin_latency(State(mock): State<Mock>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 4096).await else {
        return mock.plain(Role::BodyTooLarge, "Cuerpo demasiado grande");
    };
    match serde_json::from_slice::<LatencyProfile>(&bytes) {
        Ok(profile) => match profile.check() {
            Ok(()) => {
                mock.inner.pacing.set_profile(profile);
                json_response(StatusCode::OK, serde_json::to_vec(&profile).unwrap_or_default())
            }
            Err(e) => mock.plain(Role::BadField, &e),
        },
        Err(e) => mock.plain(
            Role::MalformedBody,
            &format!("Se esperaba un perfil de latencia (distribution: none, fixed, uniform, lognormal): {e}"),
        ),
    }
}
