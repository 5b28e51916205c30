//! `POST /token`: the OAuth2 password grant (RFC 6749 §4.3) with its error
//! answers (§5.2), the tokens it issues and how a report request's bearer
//! token is checked against them, with the TOK and AUTH deviations.

use axum::extract::{Form, FromRequest, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use mss_contract::Service;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::answer::{json_response, media_type_is, no_store};
use crate::codes::Role;
use crate::deviate::{Deviations, PerService};
use crate::refusal::Refusal;
use crate::state::{Client, Mock, TokenInfo};
use crate::validate::Rejection;

/// Largest token request body read.
pub(crate) const MAX_TOKEN_BODY: usize = 16 * 1024;
/// Tokens kept before expired ones are purged.
const TOKEN_PURGE_THRESHOLD: usize = 10_000;
/// The token request's media type.
const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Serialize)]
struct TokenOk<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u64,
}

/// A token request's parameters, each named once (TOK-009: the last wins).
/// Empty values count as absent.
pub(crate) struct Grant(FxHashMap<String, String>);

impl Grant {
    fn param(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl FromRequest<Mock> for Grant {
    type Rejection = Refusal;

    async fn from_request(mut req: Request, mock: &Mock) -> Result<Self, Refusal> {
        let dev = mock.deviations();
        if !media_type_is(req.headers(), FORM) {
            if dev.has("TOK-007") {
                return Err(mock.reject(None, Rejection::internal("Error interno"), &dev));
            }
            return Err(mock.token_refusal(
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        // The media type was checked as RFC 9110 says (case-insensitive);
        // axum's `Form` checks it as a case-sensitive prefix, so it gets the
        // canonical spelling.
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(FORM));
        // The body limit is the route's (`DefaultBodyLimit`); the pairs are
        // decoded lossily, so only reading can fail.
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, mock)
            .await
            .map_err(|_| {
                mock.token_refusal("invalid_request", "request body too large or unreadable")
            })?;
        let mut params = FxHashMap::default();
        for (k, v) in pairs {
            if params.contains_key(&k) && !dev.has("TOK-009") {
                return Err(
                    mock.token_refusal("invalid_request", format!("parameter {k} is repeated"))
                );
            }
            params.insert(k, v);
        }
        Ok(Grant(params))
    }
}

/// `POST /token`.
pub(crate) async fn token(State(mock): State<Mock>, grant: Grant) -> Result<Response, Refusal> {
    mock.issue_token(&grant)
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

impl Mock {
    fn issue_token(&self, grant: &Grant) -> Result<Response, Refusal> {
        let dev = self.deviations();
        let param = |name: &str| grant.param(name);
        let Some(grant_type) = param("grant_type") else {
            return Err(self.token_refusal("invalid_request", "grant_type is missing"));
        };
        if grant_type != "password" {
            return Err(self.token_refusal(
                if dev.has("TOK-005") {
                    "invalid_request"
                } else {
                    "unsupported_grant_type"
                },
                "only grant_type=password is supported",
            ));
        }
        let Some(client_id) = param("client_id") else {
            return Err(self.token_refusal("invalid_client", "client_id is missing"));
        };
        let Some((index, client)) = self
            .inner
            .clients
            .iter()
            .enumerate()
            .find(|(_, c)| c.config.client_id == client_id)
        else {
            return Err(self.token_refusal(
                if dev.has("TOK-004") {
                    "invalid_grant"
                } else {
                    "invalid_client"
                },
                "unknown client_id",
            ));
        };
        let (Some(username), Some(password)) = (param("username"), param("password")) else {
            return Err(self.token_refusal(
                if dev.has("TOK-006") && param("password").is_none() {
                    "invalid_grant"
                } else {
                    "invalid_request"
                },
                "username and password are required",
            ));
        };
        if (username != client.config.username || password != client.config.password)
            && !dev.has("TOK-003")
        {
            return Err(self.token_refusal("invalid_grant", "wrong username or password"));
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
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        Ok(if dev.has("TOK-008") {
            response
        } else {
            no_store(response)
        })
    }

    /// The client whose bearer token `headers` carry, for `service`.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        service: Service,
        dev: &Deviations,
    ) -> Result<&Client, Rejection> {
        let value = headers.get(AUTHORIZATION).ok_or_else(|| {
            if dev.on(service, PerService::AuthMissingAsExpired) {
                Rejection::new(Role::TokenExpired, "Token vencido")
            } else {
                Rejection::new(Role::TokenMissing, "Falta el encabezado Authorization")
            }
        })?;
        let malformed = || {
            if dev.on(service, PerService::AuthMalformedAsBadBody) {
                Rejection::new(Role::MalformedBody, "Encabezado inválido")
            } else {
                Rejection::new(Role::TokenMissing, "Encabezado Authorization malformado")
            }
        };
        let text = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(malformed)?;
        let token = token.trim();
        let scheme_ok = if dev.on(service, PerService::AuthSchemeCaseSensitive) {
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
                if dev.on(service, PerService::AuthUnknownAsExpired) {
                    Rejection::new(Role::TokenExpired, "Token vencido")
                } else {
                    Rejection::new(Role::TokenMissing, "Token desconocido")
                }
            })?;
        if info.expires_at <= self.inner.clock.now_unix()
            && !dev.on(service, PerService::AuthExpiredAccepted)
        {
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
}
