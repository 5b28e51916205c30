//! Fuzz target 1b: the mock through its router — reports, `/token`, any
//! route, method and header — always answering with the protocol's envelope
//! (the RFC 6749 object on `/token`) and never 5xx.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::bodies::*;
use super::{fuzz, words};
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mss_contract::{Contract, Service};
use mss_mock::{App, ClientConfig, Mock, MockConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use tower::ServiceExt;

// ---------------------------------------------------------------------------
// 1b. The mock through its router: reports, /token, any route and header.
// ---------------------------------------------------------------------------

/// A header's value: absent, one of the usual ones, or any valid header bytes.
#[derive(Debug, Clone)]
pub(super) enum HeaderInput {
    Absent,
    Text(String),
    Raw(Vec<u8>),
}

impl HeaderInput {
    fn value(&self) -> Option<HeaderValue> {
        match self {
            HeaderInput::Absent => None,
            HeaderInput::Text(s) => HeaderValue::from_str(s).ok(),
            HeaderInput::Raw(b) => HeaderValue::from_bytes(b).ok(),
        }
    }
}

/// Bytes a header value may hold: tab, visible ASCII and space, obs-text.
pub(super) fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(
        prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff,],
        0..max,
    )
}

pub(super) fn content_type(usual: &'static [&'static str]) -> impl Strategy<Value = HeaderInput> {
    prop_oneof![
        1 => Just(HeaderInput::Absent),
        6 => select(usual).prop_map(|s| HeaderInput::Text(s.to_owned())),
        1 => header_bytes(60).prop_map(HeaderInput::Raw),
    ]
}

pub(super) const JSON_TYPES: &[&str] = &[
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    " application/json ;;; charset=\"x\"",
    "application/jsonx",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    ";",
];

pub(super) const FORM_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "application/json",
    "text/plain",
    "",
];

/// How a report request is authorised.
#[derive(Debug, Clone)]
pub(super) enum Auth {
    /// A valid token of a client of the body's administrator for the service.
    Own,
    /// A valid token of any demo client.
    Client(Index),
    /// `scheme` and a valid token of any client, with odd spacing.
    Scheme(String, Index),
    /// Any header value.
    Raw(Vec<u8>),
    Absent,
}

pub(super) fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        8 => Just(Auth::Own),
        2 => any::<Index>().prop_map(Auth::Client),
        1 => (
            select(words("auth_schemes")),
            any::<Index>()
        )
            .prop_map(|(s, i)| Auth::Scheme(s.to_owned(), i)),
        2 => header_bytes(120).prop_map(Auth::Raw),
        1 => "Bearer [0-9a-f]{0,70}".prop_map(|s| Auth::Raw(s.into_bytes())),
        1 => Just(Auth::Absent),
    ]
}

/// How a report route is spelled.
#[derive(Debug, Clone)]
pub(super) enum Spelling {
    Protocol,
    Lower,
    Upper,
    Query(String),
}

pub(super) fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        6 => Just(Spelling::Protocol),
        1 => Just(Spelling::Lower),
        1 => Just(Spelling::Upper),
        1 => "[a-zA-Z0-9=&%._-]{0,20}".prop_map(Spelling::Query),
    ]
}

/// A `/token` body: arbitrary bytes, or a demo client's grant changed.
#[derive(Debug, Clone)]
pub(super) enum TokenBody {
    Raw(Vec<u8>),
    Grant {
        client: Index,
        drop: Vec<Index>,
        replace: Option<(Index, String)>,
        extra: Vec<(String, String)>,
    },
}

pub(super) fn token_body() -> impl Strategy<Value = TokenBody> {
    let names = select(words("token_field_names"));
    let value = prop_oneof![
        any::<String>(),
        "[ -~]{0,20}",
        Just("password".to_owned()),
        Just("client_credentials".to_owned()),
    ];
    prop_oneof![
        1 => vec(any::<u8>(), 0..300).prop_map(TokenBody::Raw),
        1 => "[a-z_=&%+0-9]{0,80}".prop_map(|s| TokenBody::Raw(s.into_bytes())),
        3 => (
            any::<Index>(),
            vec(any::<Index>(), 0..3),
            prop::option::weighted(0.6, (any::<Index>(), value.clone())),
            vec((names.prop_map(str::to_owned), value), 0..3),
        )
            .prop_map(|(client, drop, replace, extra)| TokenBody::Grant {
                client,
                drop,
                replace,
                extra,
            }),
    ]
}

/// A path for any route: the services' and /token in other spellings, and
/// arbitrary ones (the admin API is left out: it changes the mock's behaviour).
pub(super) fn path() -> impl Strategy<Value = String> {
    let known = select(words("paths"));
    prop_oneof![
        2 => known.prop_map(str::to_owned),
        2 => "/[A-Za-z0-9._~%/?=&-]{0,40}",
        1 => any::<String>(),
    ]
}

pub(super) fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(words("methods"))
            .prop_map(str::to_owned),
        1 => "[A-Za-z!#$%&'*+.^_`|~-]{1,12}",
    ]
}

/// A request to a report service.
#[derive(Debug, Clone)]
pub(super) struct ReportCase {
    service: Service,
    spelling: Spelling,
    content_type: HeaderInput,
    auth: Auth,
    content_length: Option<String>,
    body: BodyInput,
    /// Make the body this long (past the mock's 64 KiB limit).
    big: Option<usize>,
}

#[derive(Debug, Clone)]
pub(super) enum RouterCase {
    Report(ReportCase),
    Token {
        content_type: HeaderInput,
        body: TokenBody,
    },
    Route {
        method: String,
        path: String,
        content_type: HeaderInput,
        body: Vec<u8>,
    },
}

pub(super) fn router_case() -> impl Strategy<Value = RouterCase> {
    let content_length = prop::option::weighted(
        0.05,
        prop_oneof![
            (0u64..200_000).prop_map(|n| n.to_string()),
            Just("99999999999999999999999".to_owned()),
            Just("-1".to_owned()),
            "[ -~]{0,10}",
        ],
    );
    let big = prop::option::weighted(0.01, 60_000usize..80_000);
    prop_oneof![
        6 => (
            service(),
            spelling(),
            content_type(JSON_TYPES),
            auth(),
            content_length,
            body_input(),
            big,
        )
            .prop_map(|(service, spelling, content_type, auth, content_length, body, big)| {
                RouterCase::Report(ReportCase {
                    service,
                    spelling,
                    content_type,
                    auth,
                    content_length,
                    body,
                    big,
                })
            }),
        2 => (content_type(FORM_TYPES), token_body())
            .prop_map(|(content_type, body)| RouterCase::Token { content_type, body }),
        2 => (method(), path(), content_type(JSON_TYPES), vec(any::<u8>(), 0..100)).prop_map(
            |(method, path, content_type, body)| RouterCase::Route {
                method,
                path,
                content_type,
                body,
            }
        ),
    ]
}

/// The in-process mock with a valid token for every demo client.
pub(super) struct Harness {
    runtime: tokio::runtime::Runtime,
    mock: Mock,
    app: App,
    clients: Vec<ClientConfig>,
    tokens: Mutex<Vec<String>>,
    seeds: Seeds,
    issued: AtomicU64,
}

pub(super) fn form(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub(super) fn grant(c: &ClientConfig) -> Vec<(String, String)> {
    vec![
        ("grant_type".to_owned(), "password".to_owned()),
        ("username".to_owned(), c.username.clone()),
        ("password".to_owned(), c.password.clone()),
        ("client_id".to_owned(), c.client_id.clone()),
    ]
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let contract = mss_contract::Contract::embedded();
        let config = MockConfig::demo(contract).expect("demo configuration");
        let mock = Mock::new(config, contract.clone()).expect("mock");
        let app = mock.app();
        let clients = mock.config().clients.clone();
        let mut h = Harness {
            runtime,
            mock,
            app,
            clients,
            tokens: Mutex::new(Vec::new()),
            seeds: Seeds {
                afiliacion: Vec::new(),
                retracto: Vec::new(),
            },
            issued: AtomicU64::new(0),
        };
        h.renew_tokens();
        // Affiliations the mock accepts, and retractions of them.
        let today = h.mock.clock().today();
        let seeds = seeds(today, |entries| {
            let body = format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let admin = admin_index(body.as_bytes())?;
            let token = h.own_token(admin, Service::Afiliacion)?;
            let (status, _, answer) = h.send(
                Request::post(Service::Afiliacion.path())
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("request"),
            );
            assert_eq!(
                status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&answer)
            );
            let v: Value = serde_json::from_slice(&answer).ok()?;
            v["numeroTransaccion"].as_str().map(str::to_owned)
        });
        h.seeds = seeds;
        h
    }

    /// Revoke every token (the fuzzed grants' too) and get one per demo client.
    fn renew_tokens(&self) {
        self.mock.revoke_tokens();
        let mut tokens = Vec::new();
        for c in &self.clients {
            let (status, _, body) = self.send(
                Request::post("/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form(&grant(c))))
                    .expect("request"),
            );
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let v: Value = serde_json::from_slice(&body).expect("token JSON");
            tokens.push(v["access_token"].as_str().expect("access_token").to_owned());
        }
        *self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tokens;
    }

    fn token(&self, i: usize) -> String {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[i]
            .clone()
    }

    /// A token of a client of administrator `admin` entitled to `service`.
    fn own_token(&self, admin: u8, service: Service) -> Option<String> {
        let code = &Contract::embedded()
            .administradoras
            .get(usize::from(admin))?
            .codigo;
        let i = self.clients.iter().position(|c| {
            &c.administradora == code
                && c.services
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|n| n == service.name()))
        })?;
        Some(self.token(i))
    }

    fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.runtime.block_on(async {
            let resp = self.app.clone().oneshot(req).await.expect("infallible");
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .expect("the mock's answers are in memory")
                .to_bytes()
                .to_vec();
            (status, headers, body)
        })
    }

    /// The request of `case`, or `None` when no HTTP server would pass it on
    /// (a path that is no URI).
    fn request(&self, case: &RouterCase) -> Option<Request<Body>> {
        let mut builder;
        let body: Vec<u8>;
        let ctype;
        match case {
            RouterCase::Report(report) => {
                let service = report.service;
                let path = match &report.spelling {
                    Spelling::Protocol => service.path().to_owned(),
                    Spelling::Lower => service.path().to_lowercase(),
                    Spelling::Upper => service.path().to_uppercase(),
                    Spelling::Query(q) => format!("{}?{q}", service.path()),
                };
                builder = Request::builder().method(Method::POST).uri(path);
                let mut bytes = self.seeds.render(service, &report.body);
                if let Some(n) = report.big {
                    bytes.resize(n, b' ');
                }
                body = bytes;
                let admin = admin_index(&body).unwrap_or(0);
                let n = self.clients.len();
                let value: Option<Vec<u8>> = match &report.auth {
                    Auth::Own => Some(
                        format!(
                            "Bearer {}",
                            self.own_token(admin, service)
                                .unwrap_or_else(|| self.token(0))
                        )
                        .into_bytes(),
                    ),
                    Auth::Client(i) => {
                        Some(format!("Bearer {}", self.token(i.index(n))).into_bytes())
                    }
                    Auth::Scheme(s, i) => {
                        Some(format!("{s}{}", self.token(i.index(n))).into_bytes())
                    }
                    Auth::Raw(b) => Some(b.clone()),
                    Auth::Absent => None,
                };
                if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                    builder = builder.header("authorization", v);
                }
                if let Some(v) = report
                    .content_length
                    .as_deref()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                {
                    builder = builder.header("content-length", v);
                }
                ctype = &report.content_type;
            }
            RouterCase::Token {
                content_type,
                body: input,
            } => {
                builder = Request::builder().method(Method::POST).uri("/token");
                body = match input {
                    TokenBody::Raw(b) => b.clone(),
                    TokenBody::Grant {
                        client,
                        drop,
                        replace,
                        extra,
                    } => {
                        let mut pairs = grant(client.get(&self.clients));
                        if let Some((i, v)) = replace {
                            let i = i.index(pairs.len());
                            pairs[i].1 = v.clone();
                        }
                        for d in drop {
                            if !pairs.is_empty() {
                                pairs.remove(d.index(pairs.len()));
                            }
                        }
                        pairs.extend(extra.iter().cloned());
                        form(&pairs).into_bytes()
                    }
                };
                ctype = content_type;
            }
            RouterCase::Route {
                method,
                path,
                content_type,
                body: bytes,
            } => {
                // The admin API is a test control (it stalls, slows, resets the
                // mock); arbitrary routes stay clear of it.
                let path = if path.to_ascii_lowercase().contains("admin") {
                    "/no-admin"
                } else {
                    path.as_str()
                };
                let method = Method::from_bytes(method.as_bytes()).ok()?;
                builder = Request::builder().method(method).uri(path);
                body = bytes.clone();
                ctype = content_type;
            }
        }
        if let Some(v) = ctype.value() {
            builder = builder.header("content-type", v);
        }
        builder.body(Body::from(body)).ok()
    }
}

/// The envelope of the report services and of refusals: JSON with `resultado`
/// (the status), a known `codigo` of that status, `mensaje`, `numeroTransaccion`.
pub(super) fn check_envelope(status: StatusCode, body: &[u8]) -> Result<String, TestCaseError> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
    prop_assert_eq!(v["resultado"].as_str(), Some(status.as_str()), "{}", text);
    let codigo = v["codigo"].as_str().unwrap_or("");
    prop_assert!(
        Contract::embedded().role_of(codigo).is_some(),
        "codigo: {}",
        text
    );
    let expected = Contract::embedded().codigo(codigo).map(|c| c.http_status);
    prop_assert_eq!(expected, Some(status.as_u16()), "{}", text);
    prop_assert!(
        v["mensaje"].as_str().is_some_and(|m| !m.trim().is_empty()),
        "mensaje: {}",
        text
    );
    prop_assert!(
        v["numeroTransaccion"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "numeroTransaccion: {}",
        text
    );
    Ok(codigo.to_owned())
}

/// A `/token` answer: an access token, or an RFC 6749 error object.
pub(super) fn check_token_answer(status: StatusCode, body: &[u8]) -> Result<String, TestCaseError> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
    match status {
        StatusCode::OK => {
            prop_assert!(
                v["access_token"].as_str().is_some_and(|t| !t.is_empty()),
                "{}",
                text
            );
            prop_assert_eq!(v["token_type"].as_str(), Some("bearer"), "{}", text);
            prop_assert!(v["expires_in"].as_u64().is_some(), "{}", text);
            Ok("token issued".to_owned())
        }
        StatusCode::BAD_REQUEST => {
            let error = v["error"].as_str().unwrap_or("");
            prop_assert!(
                [
                    "invalid_request",
                    "invalid_client",
                    "invalid_grant",
                    "unsupported_grant_type"
                ]
                .contains(&error),
                "{}",
                text
            );
            prop_assert!(
                v["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{}",
                text
            );
            Ok(format!("token {error}"))
        }
        _ => Err(TestCaseError::fail(format!(
            "/token answered {status}: {text}"
        ))),
    }
}

#[test]
pub(super) fn fuzz_mock_router() {
    let h = Harness::new();
    let report_paths: Vec<String> = Service::ALL
        .iter()
        .map(|s| s.path().to_lowercase())
        .collect();
    fuzz(
        "mock router (POST /token, report services, any route)",
        500,
        router_case(),
        |case, tally| {
            // Fuzzed grants get tokens too: start afresh now and then so that
            // the mock's token table stays small.
            if h.issued.fetch_add(1, Ordering::Relaxed) % 20_000 == 19_999 {
                h.renew_tokens();
            }
            let Some(req) = h.request(&case) else {
                tally.count("no URI");
                return Ok(());
            };
            let method = req.method().clone();
            let path = req.uri().path().to_ascii_lowercase();
            let (status, headers, body) = h.send(req);
            prop_assert!(
                !status.is_server_error(),
                "{} {} answered {}: {}",
                method,
                path,
                status,
                String::from_utf8_lossy(&body)
            );
            if method == Method::HEAD {
                tally.count("HEAD");
                return Ok(());
            }
            let json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            prop_assert!(
                json,
                "{} {}: Content-Type {:?}",
                method,
                path,
                headers.get("content-type")
            );
            let outcome = if method == Method::POST && path == "/token" {
                check_token_answer(status, &body)?
            } else {
                let codigo = check_envelope(status, &body)?;
                if method == Method::POST && report_paths.contains(&path) {
                    codigo
                } else {
                    format!("route {codigo}")
                }
            };
            tally.count(&outcome);
            Ok(())
        },
    );
}
