//! [`Refusal`]: every "no" the mock answers, as one value that becomes an HTTP
//! answer through [`IntoResponse`]. The protocol's envelope with a catalogued
//! codigo (and the deviations that bend it), the OAuth error object of
//! `/token`, and the plain-text answers of an overloaded or faulty service.
//! Handlers and extractors return it (`Result<_, Refusal>`); the [`Mock`]
//! builds it, so that transaction numbers and counters stay in one place.

use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mss_contract::Service;
use serde::Serialize;
use std::sync::atomic::Ordering;

use crate::answer::{Envelope, json_response, no_store};
use crate::codes::{INTERNAL_ERROR, Role};
use crate::deviate::{Deviations, PerService};
use crate::state::{Mock, service_index};
use crate::validate::Rejection;

/// A refusal, ready to be answered.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The protocol's envelope with a refusing codigo.
    Envelope {
        status: StatusCode,
        codigo: String,
        mensaje: String,
        numero: String,
        /// ENV-001: `Content-Type: text/plain`.
        text_plain: bool,
        /// ENV-002: `resultado` "200" whatever the status.
        resultado_200: bool,
        /// A 401 carries `WWW-Authenticate` (AUTH-…-005 drops it).
        challenge: bool,
        /// The methods a 405 names in `Allow`.
        allow: Option<&'static str>,
    },
    /// The OAuth error object of `/token` (RFC 6749 §5.2), 400.
    Token {
        error: &'static str,
        description: String,
        /// SCH-002: `error_description` is a number.
        numeric_description: bool,
        /// TOK-008: no `Cache-Control: no-store`.
        cacheable: bool,
    },
    /// A plain-text answer of a service that will not serve now (the capacity
    /// gate shedding, an injected status fault).
    Unavailable {
        status: StatusCode,
        text: String,
        retry_after: Option<u64>,
    },
    /// An injected outage of the token service: the OAuth
    /// `temporarily_unavailable` error, 503.
    TokenOutage { retry_after: u64 },
}

#[derive(Serialize)]
struct TokenErr<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Envelope {
                status,
                codigo,
                mensaje,
                numero,
                text_plain,
                resultado_200,
                challenge,
                allow,
            } => {
                let body = Envelope {
                    resultado: if resultado_200 {
                        "200"
                    } else {
                        status.as_str()
                    },
                    codigo: &codigo,
                    mensaje: Some(&mensaje),
                    numero_transaccion: &numero,
                }
                .to_vec();
                let mut r = json_response(status, body);
                let headers = r.headers_mut();
                if text_plain {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                }
                if challenge && status == StatusCode::UNAUTHORIZED {
                    headers.insert(
                        WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer error=\"invalid_token\""),
                    );
                }
                if let Some(allow) = allow {
                    headers.insert(ALLOW, HeaderValue::from_static(allow));
                }
                r
            }
            Refusal::Token {
                error,
                description,
                numeric_description,
                cacheable,
            } => {
                let body = if numeric_description {
                    serde_json::to_vec(
                        &serde_json::json!({"error": error, "error_description": 400}),
                    )
                } else {
                    serde_json::to_vec(&TokenErr {
                        error,
                        error_description: &description,
                    })
                }
                .unwrap_or_default();
                let r = json_response(StatusCode::BAD_REQUEST, body);
                if cacheable { r } else { no_store(r) }
            }
            Refusal::Unavailable {
                status,
                text,
                retry_after,
            } => {
                let mut r =
                    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
                if let Some(s) = retry_after {
                    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
                }
                r
            }
            Refusal::TokenOutage { retry_after } => {
                let mut r = json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    br#"{"error":"temporarily_unavailable","error_description":"token service unavailable (injected fault)"}"#.to_vec(),
                );
                r.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(retry_after));
                no_store(r)
            }
        }
    }
}

impl Mock {
    /// A refusal outside the report services' validation: `role`'s envelope
    /// with a new transaction number, not bent by deviations.
    pub(crate) fn refuse(&self, role: Role, mensaje: impl Into<String>) -> Refusal {
        let n = self.inner.rejections.fetch_add(1, Ordering::Relaxed);
        Refusal::Envelope {
            status: self.status(role),
            codigo: self.inner.contract.codigo_of(role).to_owned(),
            mensaje: mensaje.into(),
            numero: self.transaction("TX", n),
            text_plain: false,
            resultado_200: false,
            challenge: true,
            allow: None,
        }
    }

    /// 405, naming the methods the route takes.
    pub(crate) fn method_not_allowed(&self, allow: &'static str) -> Refusal {
        let mut r = self.refuse(
            Role::MethodNotAllowed,
            format!("Método no permitido; use {allow}"),
        );
        if let Refusal::Envelope { allow: a, .. } = &mut r {
            *a = Some(allow);
        }
        r
    }

    /// A request refused by a report service (counted under it) or by
    /// `/token` (`service` `None`), as the deviations `dev` bend it.
    pub(crate) fn reject(
        &self,
        service: Option<Service>,
        rejection: Rejection,
        dev: &Deviations,
    ) -> Refusal {
        let n = self.inner.rejections.fetch_add(1, Ordering::Relaxed);
        let numero = self.transaction("TX", n);
        if rejection.internal {
            return Refusal::Envelope {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                codigo: INTERNAL_ERROR.to_owned(),
                mensaje: rejection.mensaje,
                numero,
                text_plain: false,
                resultado_200: false,
                challenge: false,
                allow: None,
            };
        }
        if let Some(service) = service {
            self.inner.stats.services[service_index(service)].rejected[rejection.codigo.index()]
                .fetch_add(1, Ordering::Relaxed);
        }
        Refusal::Envelope {
            status: self.status(rejection.codigo),
            codigo: self.inner.contract.codigo_of(rejection.codigo).to_owned(),
            mensaje: rejection.mensaje,
            numero,
            text_plain: dev.has("ENV-001"),
            resultado_200: dev.has("ENV-002"),
            challenge: !service.is_some_and(|s| dev.on(s, PerService::AuthNoChallenge)),
            allow: None,
        }
    }

    /// A refused token request (counted), with the OAuth `error` code.
    pub(crate) fn token_refusal(
        &self,
        error: &'static str,
        description: impl Into<String>,
    ) -> Refusal {
        self.inner
            .stats
            .token_rejected
            .fetch_add(1, Ordering::Relaxed);
        let dev = self.deviations();
        Refusal::Token {
            error,
            description: description.into(),
            numeric_description: dev.has("SCH-002"),
            cacheable: dev.has("TOK-008"),
        }
    }

    /// The answer to a request shed by the capacity gate: fast, with
    /// `Retry-After`, nothing done.
    pub(crate) fn shed(&self) -> Refusal {
        let (status, retry_after) = self
            .inner
            .gate
            .as_ref()
            .map_or((503, 1), |g| (g.config.shed_status, g.config.retry_after_s));
        Refusal::Unavailable {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            text: "capacidad excedida; reintente".to_owned(),
            retry_after: Some(retry_after),
        }
    }
}
