//! The admin API under `/__admin/`: stats and Prometheus metrics, the
//! accepted records (JSON Lines, paged), reset, token revocation, the clock,
//! the latency profile and stall, deviations and faults. Bodies are read with
//! axum's extractors (`Json`, `Query`); every refusal is the envelope, through
//! [`Refusal`]. Admin routes are never paced.

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Json, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use mss_contract::Service;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::answer::json_response;
use crate::clock::MockClock;
use crate::codes::Role;
use crate::deviate::{self, Deviations};
use crate::faults::FaultSpec;
use crate::latency::{self, LatencyProfile};
use crate::metrics;
use crate::refusal::Refusal;
use crate::router::not_allowed;
use crate::state::Mock;
use crate::store::Kind;

/// Default and largest page of `/__admin/records`.
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 100_000;

/// The admin routes: path, the methods it answers (named in a 405's
/// `Allow`), and their handlers.
pub(crate) fn routes() -> Router<Mock> {
    let table: [(&str, &'static str, MethodRouter<Mock>); 10] = [
        ("/__admin/revoke-tokens", "POST", post(revoke)),
        ("/__admin/stall", "POST", post(stall)),
        (
            "/__admin/latency",
            "GET, POST",
            get(latency_get).post(latency_set),
        ),
        ("/__admin/stats", "GET", get(stats)),
        ("/__admin/metrics", "GET", get(metrics_text)),
        ("/__admin/records", "GET", get(records)),
        ("/__admin/reset", "POST", post(reset)),
        (
            "/__admin/deviations",
            "GET, POST, DELETE",
            get(deviations_get)
                .post(deviations_set)
                .delete(deviations_clear),
        ),
        (
            "/__admin/faults",
            "GET, POST, DELETE",
            get(faults_get).post(faults_set).delete(faults_clear),
        ),
        (
            "/__admin/clock",
            "GET, POST",
            get(clock_get).post(clock_set),
        ),
    ];
    table
        .into_iter()
        .fold(Router::new(), |router, (path, allow, methods)| {
            router.route(path, methods.fallback(not_allowed(allow)))
        })
}

/// A JSON body an admin route takes: how large it may be, what the refusal
/// of a bad one says is expected, and what its values must be.
trait AdminBody: DeserializeOwned {
    /// Largest body read (4 KiB unless the body is a list).
    const LIMIT: usize = 4096;
    /// The shape expected, for the refusal's message.
    const EXPECTED: &'static str;

    /// What is wrong with `bytes`, given axum's `rejection` of them.
    fn explain(_bytes: &[u8], rejection: &JsonRejection) -> String {
        rejection.body_text()
    }

    /// What is wrong with the values of a body of the right shape (a bad
    /// field); nothing unless the body says.
    fn values(&self) -> Result<(), String> {
        Ok(())
    }
}

/// An admin route's JSON body, parsed by axum's [`Json`] whatever the
/// request's `Content-Type` (`curl -d` sends a form type), at most
/// `T::LIMIT` bytes: 413 beyond, 400 VAL00 when it is not a `T`, refused as
/// a bad field when its values are not what `T::values` allows.
struct Posted<T>(T);

impl<T: AdminBody> FromRequest<Mock> for Posted<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, mock: &Mock) -> Result<Self, Refusal> {
        let Ok(bytes) = axum::body::to_bytes(req.into_body(), T::LIMIT).await else {
            return Err(mock.refuse(Role::BodyTooLarge, "Cuerpo demasiado grande"));
        };
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(value)) => match value.values() {
                Ok(()) => Ok(Posted(value)),
                Err(e) => Err(mock.refuse(Role::BadField, e)),
            },
            Err(rejection) => Err(mock.refuse(
                Role::MalformedBody,
                format!(
                    "Se esperaba {}: {}",
                    T::EXPECTED,
                    T::explain(&bytes, &rejection)
                ),
            )),
        }
    }
}

/// A JSON value with status 200.
fn ok_json(value: &impl serde::Serialize) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// `POST /__admin/revoke-tokens`.
async fn revoke(State(mock): State<Mock>) -> Response {
    let n = mock.revoke_tokens();
    ok_json(&serde_json::json!({ "revoked": n }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StallRequest {
    seconds: f64,
}

impl AdminBody for StallRequest {
    const EXPECTED: &'static str = "{\"seconds\": S}";

    fn values(&self) -> Result<(), String> {
        if self.seconds.is_finite() && (0.0..=latency::MAX_STALL_SECONDS).contains(&self.seconds) {
            Ok(())
        } else {
            Err(format!(
                "seconds debe estar entre 0 y {}, no {}",
                latency::MAX_STALL_SECONDS,
                self.seconds
            ))
        }
    }
}

/// `POST /__admin/stall`: hold every paced answer for `seconds`.
async fn stall(State(mock): State<Mock>, Posted(s): Posted<StallRequest>) -> Response {
    let pacing = mock.pacing();
    pacing.stall(s.seconds);
    ok_json(&serde_json::json!({ "stalled_for_seconds": pacing.stall_left() }))
}

async fn latency_get(State(mock): State<Mock>) -> Response {
    ok_json(&mock.pacing().profile())
}

impl AdminBody for LatencyProfile {
    const EXPECTED: &'static str =
        "un perfil de latencia (distribution: none, fixed, uniform, lognormal)";

    fn values(&self) -> Result<(), String> {
        self.check()
    }
}

/// `POST /__admin/latency`: replace the latency profile.
async fn latency_set(
    State(mock): State<Mock>,
    Posted(profile): Posted<LatencyProfile>,
) -> Response {
    mock.pacing().set_profile(profile);
    ok_json(&profile)
}

async fn stats(State(mock): State<Mock>) -> Response {
    ok_json(&mock.stats())
}

async fn metrics_text(State(mock): State<Mock>) -> Response {
    match metrics::encode(mock.stats()) {
        Ok(text) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The page `/__admin/records` is asked for.
#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// `GET /__admin/records?offset=&limit=`: accepted records as JSON Lines,
/// with `X-Total-Count` and, when more follow, `X-Next-Offset`.
async fn records(
    State(mock): State<Mock>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Response, Refusal> {
    let Query(page) = page.map_err(|e| {
        mock.refuse(
            Role::BadField,
            format!(
                "offset y limit deben ser enteros no negativos: {}",
                e.body_text()
            ),
        )
    })?;
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
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
    Ok(r)
}

async fn reset(State(mock): State<Mock>) -> Response {
    mock.reset();
    json_response(StatusCode::OK, br#"{"reset":true}"#.to_vec())
}

async fn deviations_get(State(mock): State<Mock>) -> Response {
    let dev = mock.deviations();
    let known: Vec<serde_json::Value> = deviate::catalogue(mock.contract())
        .into_iter()
        .map(|(id, what)| serde_json::json!({"id": id, "descripcion": what}))
        .collect();
    ok_json(&serde_json::json!({"active": dev.ids().collect::<Vec<_>>(), "known": known}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviationChange {
    deviate: Vec<String>,
}

impl AdminBody for DeviationChange {
    const LIMIT: usize = 64 * 1024;
    const EXPECTED: &'static str = "{\"deviate\": [\"ID\", ...]}";
}

/// `POST /__admin/deviations`: replace the deviations in force.
async fn deviations_set(
    State(mock): State<Mock>,
    Posted(change): Posted<DeviationChange>,
) -> Result<Response, Refusal> {
    let dev = Deviations::parse(mock.contract(), &change.deviate)
        .map_err(|e| mock.refuse(Role::BadField, e))?;
    mock.set_deviations(dev);
    Ok(deviations_get(State(mock)).await)
}

async fn deviations_clear(State(mock): State<Mock>) -> Response {
    mock.set_deviations(Deviations::default());
    deviations_get(State(mock)).await
}

async fn faults_get(State(mock): State<Mock>) -> Response {
    ok_json(&mock.faults().to_json())
}

/// A JSON array of faults, or `{"faults": [..]}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum FaultList {
    List(Vec<FaultSpec>),
    Object { faults: Vec<FaultSpec> },
}

impl AdminBody for FaultList {
    const LIMIT: usize = 256 * 1024;
    const EXPECTED: &'static str = "una lista de fallas [{\"kind\": ..}]";

    /// The untagged error says nothing: name the problem of the list.
    fn explain(bytes: &[u8], _: &JsonRejection) -> String {
        Json::<Vec<FaultSpec>>::from_bytes(bytes)
            .err()
            .map(|e| e.body_text())
            .unwrap_or_default()
    }
}

/// `POST /__admin/faults`: replace the faults in force; offsets count from
/// now.
async fn faults_set(
    State(mock): State<Mock>,
    Posted(list): Posted<FaultList>,
) -> Result<Response, Refusal> {
    let (FaultList::List(specs) | FaultList::Object { faults: specs }) = list;
    mock.set_faults(&specs)
        .map_err(|e| mock.refuse(Role::BadField, e))?;
    Ok(faults_get(State(mock)).await)
}

async fn faults_clear(State(mock): State<Mock>) -> Response {
    let _ = mock.set_faults(&[]);
    faults_get(State(mock)).await
}

async fn clock_get(State(mock): State<Mock>) -> Response {
    ok_json(&mock.clock_json())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_seconds: i64,
}

impl AdminBody for ClockChange {
    const EXPECTED: &'static str = "{\"advance_seconds\": N}";
}

/// `POST /__admin/clock`: move the mock's clock forward (or back).
async fn clock_set(
    State(mock): State<Mock>,
    Posted(change): Posted<ClockChange>,
) -> Result<Response, Refusal> {
    if mock.clock().advance(change.advance_seconds).is_none() {
        return Err(mock.refuse(
            Role::BadField,
            format!(
                "advance_seconds llevaría el reloj a más de {} segundos del reloj del sistema",
                MockClock::MAX_OFFSET_SECONDS
            ),
        ));
    }
    Ok(ok_json(&mock.clock_json()))
}

impl Mock {
    /// Accepted records `offset..offset + limit` as JSON Lines, as
    /// `GET /__admin/records` gives them.
    pub fn records_page(&self, offset: usize, limit: usize) -> String {
        self.records_jsonl(offset, limit).0
    }

    /// Records `offset..offset + limit` as JSON Lines, and how many are kept.
    fn records_jsonl(&self, offset: usize, limit: usize) -> (String, usize) {
        let contract = self.contract();
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
                    "tipoNovedad": contract.enumerations().spelling(r.novedad()),
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
