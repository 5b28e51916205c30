//! Running the checks against a target, one after the other, recording every
//! exchange (secrets redacted) so that a failure prints a reproducer.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mss_contract::rules::nit_check_digit;
use mss_contract::{Contract, Regimen, Service};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::catalogue::{Check, Class, LenAt, Probe, TypKind};
use crate::domain::Novedad;
use crate::generator::invalid::{InvalidGenerator, PENDING_TRANSACTION};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};
use crate::secret::Secret;
use crate::token::{Credentials, TokenCache, TokenPolicy};

/// The three values of a token request.
#[derive(Debug, Clone)]
pub struct Creds {
    /// "Usuario de conexión".
    pub username: String,
    /// "Password" (never printed).
    pub password: Secret,
    /// "Llave pública (ClientID)".
    pub client_id: String,
}

/// Key of the credentials for both services of the administrator under test.
pub const OWN: &str = "own";
/// Key of a client_id entitled to ReportarAfiliaciontraslado only.
pub const OWN_AFI: &str = "own-afi";
/// Key of a client_id entitled to ReportarRetractoAfiliacion only.
pub const OWN_RET: &str = "own-ret";

/// What the suite runs against and may do there.
#[derive(Debug)]
pub struct Setup {
    /// `http://127.0.0.1:PORT` or the ministry's base URL.
    pub base_url: String,
    /// Code of the administrator under test.
    pub administradora: String,
    /// Seed of every generated value.
    pub seed: u64,
    /// Credentials by key: [`OWN`], [`OWN_AFI`], [`OWN_RET`], or another
    /// administrator's code (set-ups of NEG03/NEG04, enumeration values this
    /// administrator cannot report).
    pub creds: HashMap<String, Creds>,
    /// The embedded mock, whose clock the expired-token check moves.
    pub mock: Option<mss_mock::Mock>,
    /// Wait out a token's lifetime in real time for the expired-token checks
    /// (`--slow`), instead of moving a mock's clock.
    pub slow: bool,
    /// The target is an mss-mock on loopback whose `/__admin/clock` moves.
    pub admin_clock: bool,
    /// Checks that create records may run.
    pub writes: bool,
    /// "Today" at the target (Bogotá).
    pub as_of: NaiveDate,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The HTTP client (TLS settings of the command line); a plain one when
    /// none is given.
    pub client: Option<reqwest::Client>,
}

/// One request and its answer, secrets redacted.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path (and query).
    pub path: String,
    /// Request headers sent.
    pub headers: Vec<(String, String)>,
    /// Request body (shortened when long).
    pub body: String,
    /// Answer status; none when no answer came.
    pub status: Option<u16>,
    /// Answer body, or the transport error (shortened when long).
    pub response: String,
    #[serde(skip)]
    content_type: Option<String>,
    #[serde(skip)]
    www_authenticate: Option<String>,
    #[serde(skip)]
    allow: Option<String>,
    #[serde(skip)]
    cache_control: Option<String>,
    #[serde(skip)]
    json: Option<Value>,
    #[serde(skip)]
    service: Option<Service>,
    #[serde(skip)]
    token: bool,
}

impl Exchange {
    fn codigo(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j.get("codigo"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.json.as_ref().and_then(|j| j.get(name))
    }

    fn seen(&self) -> String {
        match self.status {
            None => format!("no answer ({})", self.response),
            Some(s) => {
                let codigo = self.codigo();
                let mensaje = self
                    .field("mensaje")
                    .or_else(|| self.field("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut out = format!("{s}");
                if !codigo.is_empty() {
                    out.push(' ');
                    out.push_str(codigo);
                }
                if !mensaje.is_empty() {
                    out.push_str(&format!(" ({})", shorten(mensaje, 90)));
                }
                out
            }
        }
    }
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target behaves as the protocol says.
    Pass,
    /// It does not; why.
    Fail(String),
    /// Not run here; why.
    Skip(String),
}

/// A check with its result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The check.
    pub check: Check,
    /// Its result.
    pub verdict: Verdict,
    /// Requests it sent.
    pub requests: usize,
    /// The request that decided it (the reproducer of a failure).
    pub probe: Option<Exchange>,
    /// For an expired-token check: how old the token was when it was sent.
    pub token_age: Option<TokenAge>,
}

/// How old the token of an expired-token check was when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TokenAge {
    /// Seconds since it was issued, on the target's clock (real time waited,
    /// plus how far the mock's clock was moved).
    pub age_s: f64,
    /// The lifetime its token answer announced (`expires_in`).
    pub lifetime_s: u64,
    /// `waited` (real time, `--slow`) or `clock moved` (a mock's clock).
    pub how: &'static str,
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}… ({} bytes)", s.len())
}

/// The suite's state while it runs.
pub struct Ctx<'c> {
    setup: Setup,
    contract: &'c Contract,
    http: reqwest::Client,
    /// One [`TokenCache`] per client key: the same refresh-before-expiry and
    /// renew-once-on-401 as `run`.
    tokens: HashMap<String, TokenCache>,
    /// A token an expired-token check waited out (`--slow`): key, value, when
    /// it was issued and its lifetime; the next such check reuses it.
    stale: HashMap<String, (String, Instant, u64)>,
    token_age: Option<TokenAge>,
    secrets: Vec<String>,
    gens: HashMap<String, (AffiliationGenerator, RetractionGenerator)>,
    rng: ChaCha8Rng,
    log: Vec<Exchange>,
    current: Vec<Exchange>,
    used_radicados: HashSet<String>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("base_url", &self.setup.base_url)
            .field("administradora", &self.setup.administradora)
            .finish_non_exhaustive()
    }
}

type Step<T> = Result<T, Verdict>;

fn fail(why: impl Into<String>) -> Verdict {
    Verdict::Fail(why.into())
}

impl<'c> Ctx<'c> {
    /// A context for `setup`, with `contract` for the checks.
    pub fn new(setup: Setup, contract: &'c Contract) -> anyhow::Result<Self> {
        let http = match &setup.client {
            Some(c) => c.clone(),
            None => reqwest::Client::builder()
                .timeout(setup.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        };
        let secrets = setup
            .creds
            .values()
            .map(|c| c.password.expose().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let rng = ChaCha8Rng::seed_from_u64(setup.seed ^ 0xC0F0_2026);
        Ok(Ctx {
            setup,
            contract,
            http,
            tokens: HashMap::new(),
            stale: HashMap::new(),
            token_age: None,
            secrets,
            gens: HashMap::new(),
            rng,
            log: Vec::new(),
            current: Vec::new(),
            used_radicados: HashSet::new(),
        })
    }

    /// `s` with every secret (passwords, tokens) replaced.
    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
        out
    }

    fn redact_form(&self, body: &[u8]) -> String {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| {
                let v = if k == "password" {
                    "<redacted>".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        self.redact(&s.finish())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Exchange {
        let url = format!("{}{path}", self.setup.base_url);
        let mut req = self.http.request(method.clone(), &url);
        let mut shown = Vec::new();
        let mut form = false;
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
            let display = if name.eq_ignore_ascii_case("authorization") {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} <redacted>"),
                    None => "<redacted>".to_owned(),
                }
            } else {
                self.redact(value)
            };
            if name.eq_ignore_ascii_case("content-type")
                && value.starts_with("application/x-www-form-urlencoded")
            {
                form = true;
            }
            shown.push(((*name).to_owned(), display));
        }
        let body_text = if form {
            self.redact_form(&body)
        } else {
            self.redact(&shorten(&String::from_utf8_lossy(&body), 2000))
        };
        let service = Service::ALL.into_iter().find(|s| s.path() == path);
        let mut ex = Exchange {
            method: method.to_string(),
            path: path.to_owned(),
            headers: shown,
            body: body_text,
            status: None,
            response: String::new(),
            content_type: None,
            www_authenticate: None,
            allow: None,
            cache_control: None,
            json: None,
            service,
            token: path == "/token",
        };
        match req.body(body).send().await {
            Ok(resp) => {
                ex.status = Some(resp.status().as_u16());
                let h = |n: reqwest::header::HeaderName| {
                    resp.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                ex.content_type = h(reqwest::header::CONTENT_TYPE);
                ex.www_authenticate = h(reqwest::header::WWW_AUTHENTICATE);
                ex.allow = h(reqwest::header::ALLOW);
                ex.cache_control = h(reqwest::header::CACHE_CONTROL);
                match resp.bytes().await {
                    Ok(bytes) => {
                        ex.json = serde_json::from_slice(&bytes).ok();
                        if let Some(token) = ex
                            .json
                            .as_ref()
                            .and_then(|j| j.get("access_token"))
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            self.secrets.push(token.to_owned());
                        }
                        ex.response = self.redact(&shorten(&String::from_utf8_lossy(&bytes), 2000));
                    }
                    Err(e) => ex.response = format!("body unreadable: {e}"),
                }
            }
            Err(e) => ex.response = self.redact(&e.to_string()),
        }
        self.current.push(ex.clone());
        if ex.service.is_some() || ex.token {
            self.log.push(ex.clone());
        }
        ex
    }

    fn creds(&self, key: &str) -> Step<&Creds> {
        self.setup.creds.get(key).ok_or_else(|| {
            Verdict::Skip(match key {
                OWN_AFI | OWN_RET => {
                    "needs one client_id per service (MSS_CLIENT_ID_AFILIACION and MSS_CLIENT_ID_RETRACTO)"
                        .to_owned()
                }
                other => format!("needs credentials of administrator {other}"),
            })
        })
    }

    /// The key of the client that reports to `service` for the administrator
    /// under test.
    fn key_for(&self, service: Service) -> &'static str {
        if self.setup.creds.contains_key(OWN) {
            OWN
        } else {
            match service {
                Service::Afiliacion => OWN_AFI,
                Service::Retracto => OWN_RET,
            }
        }
    }

    fn grant_form(&self, key: &str) -> Step<Vec<(String, String)>> {
        let c = self.creds(key)?;
        Ok(vec![
            ("grant_type".into(), "password".into()),
            ("username".into(), c.username.clone()),
            ("password".into(), c.password.expose().to_owned()),
            ("client_id".into(), c.client_id.clone()),
        ])
    }

    async fn token_request(&mut self, pairs: &[(String, String)]) -> Exchange {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        let body = s.finish().into_bytes();
        self.send(
            Method::POST,
            "/token",
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        )
        .await
    }

    async fn fresh_token(&mut self, key: &str) -> Step<(String, Exchange)> {
        let form = self.grant_form(key)?;
        let ex = self.token_request(&form).await;
        match ex
            .field("access_token")
            .and_then(Value::as_str)
            .filter(|_| ex.status == Some(200))
        {
            Some(t) => Ok((t.to_owned(), ex.clone())),
            None => Err(fail(format!(
                "could not get a token for client {key}: {}",
                ex.seen()
            ))),
        }
    }

    /// A token of client `key` usable now and its generation, from the
    /// client's [`TokenCache`] (refreshed before it expires).
    async fn cached_token(&mut self, key: &str) -> Step<(String, u64)> {
        if !self.tokens.contains_key(key) {
            let c = self.creds(key)?;
            let cache = TokenCache::new(
                self.http.clone(),
                format!("{}/token", self.setup.base_url),
                Credentials {
                    username: c.username.clone(),
                    password: c.password.clone(),
                    client_id: c.client_id.clone(),
                },
                TokenPolicy {
                    timeout: self.setup.timeout,
                    ..TokenPolicy::default()
                },
            );
            self.tokens.insert(key.to_owned(), cache);
        }
        let got = match self.tokens.get(key) {
            Some(cache) => cache.get().await,
            None => return Err(fail("token cache missing")),
        };
        match got {
            Ok(t) => {
                let value = t.value.expose().to_owned();
                if !self.secrets.contains(&value) {
                    self.secrets.push(value.clone());
                }
                Ok((value, t.generation))
            }
            Err(e) => Err(fail(format!("could not get a token for client {key}: {e}"))),
        }
    }

    /// A token of client `key` usable now.
    async fn token(&mut self, key: &str) -> Step<String> {
        Ok(self.cached_token(key).await?.0)
    }

    async fn post_raw(
        &mut self,
        path: &str,
        authorization: Option<String>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Exchange {
        let mut headers = vec![("content-type", content_type.to_owned())];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.send(Method::POST, path, &headers, body).await
    }

    async fn post(
        &mut self,
        service: Service,
        authorization: Option<String>,
        body: &Value,
    ) -> Exchange {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.post_raw(service.path(), authorization, "application/json", bytes)
            .await
    }

    /// Send `body` with a token of client `key`; on 401 the token is renewed
    /// once and the request sent again (as `run` does).
    async fn post_as(&mut self, service: Service, key: &str, body: &Value) -> Step<Exchange> {
        let (token, generation) = self.cached_token(key).await?;
        let ex = self
            .post(service, Some(format!("Bearer {token}")), body)
            .await;
        if ex.status != Some(401) {
            return Ok(ex);
        }
        if let Some(cache) = self.tokens.get(key) {
            cache.invalidate(generation);
        }
        let (token, _) = self.cached_token(key).await?;
        Ok(self
            .post(service, Some(format!("Bearer {token}")), body)
            .await)
    }

    /// "Today" at the target.
    pub(super) fn as_of(&self) -> NaiveDate {
        self.setup.as_of
    }

    /// Code of the administrator under test.
    pub(super) fn administradora(&self) -> &str {
        &self.setup.administradora
    }

    pub(super) fn generators(
        &mut self,
        admin: &str,
    ) -> Step<&mut (AffiliationGenerator, RetractionGenerator)> {
        if !self.gens.contains_key(admin) {
            let mut config = GeneratorConfig::new(self.setup.seed, admin);
            config.as_of = self.setup.as_of;
            let a = AffiliationGenerator::new(config.clone())
                .map_err(|e| fail(format!("generator: {e}")))?;
            let r =
                RetractionGenerator::new(config).map_err(|e| fail(format!("generator: {e}")))?;
            self.gens.insert(admin.to_owned(), (a, r));
        }
        self.gens
            .get_mut(admin)
            .ok_or_else(|| fail("generator missing"))
    }

    /// A valid affiliation of `admin` that carries `field` (equal to `value`
    /// when given).
    fn draw(
        &mut self,
        admin: &str,
        field: Option<&str>,
        value: Option<&str>,
    ) -> Step<Option<Value>> {
        let (g, _) = self.generators(admin)?;
        for _ in 0..400 {
            let a = g
                .next_affiliation()
                .map_err(|e| fail(format!("generator: {e}")))?;
            let v = serde_json::to_value(&a).map_err(|e| fail(e.to_string()))?;
            let ok = match field {
                None => true,
                Some(f) => v
                    .get(f)
                    .and_then(Value::as_str)
                    .is_some_and(|x| value.is_none_or(|want| want == x)),
            };
            if ok {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// A valid affiliation carrying `field` = `value`, from the administrator
    /// under test or, when it cannot report one, from another administrator
    /// whose credentials we have: (client key, body).
    fn draw_somewhere(
        &mut self,
        field: &str,
        value: Option<&str>,
    ) -> Step<Option<(String, Value)>> {
        let own = self.setup.administradora.clone();
        if let Some(v) = self.draw(&own, Some(field), value)? {
            return Ok(Some((self.key_for(Service::Afiliacion).to_owned(), v)));
        }
        let others: Vec<String> = self
            .contract
            .administradoras
            .iter()
            .map(|a| a.codigo.clone())
            .filter(|c| *c != own && self.setup.creds.contains_key(c))
            .collect();
        for other in others {
            if let Some(v) = self.draw(&other, Some(field), value)? {
                return Ok(Some((other, v)));
            }
        }
        Ok(None)
    }

    fn own_body(&mut self) -> Step<Value> {
        let own = self.setup.administradora.clone();
        self.draw(&own, None, None)?
            .ok_or_else(|| fail("the generator draws no affiliation"))
    }

    fn fresh_radicado(&mut self) -> Step<String> {
        let v = self.own_body()?;
        Ok(v["numeroRadicado"].as_str().unwrap_or_default().to_owned())
    }

    /// Send `body` as an affiliation that must be accepted; its numeroTransaccion.
    async fn affiliate(&mut self, key: &str, body: &Value) -> Step<String> {
        let ex = self.post_as(Service::Afiliacion, key, body).await?;
        if ex.status != Some(200) {
            return Err(fail(format!(
                "set-up affiliation refused: {} (a valid report must be accepted)",
                ex.seen()
            )));
        }
        ex.field("numeroTransaccion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail("set-up affiliation accepted without numeroTransaccion"))
    }

    /// A valid retraction body: of an affiliation accepted first when `real`
    /// (after `shape` changed it), else of a transaction that does not exist.
    async fn retraction(&mut self, real: bool, shape: impl FnOnce(&mut Value)) -> Step<Value> {
        let own = self.setup.administradora.clone();
        let as_of = self.setup.as_of;
        let (g, _) = self.generators(&own)?;
        let persona = g
            .persona(as_of, None)
            .map_err(|e| fail(format!("generator: {e}")))?;
        let a = g.affiliation_of(&persona, Novedad::Afiliacion, as_of);
        let mut aff = serde_json::to_value(&a).map_err(|e| fail(e.to_string()))?;
        shape(&mut aff);
        let numero = if real {
            let key = self.key_for(Service::Afiliacion);
            self.affiliate(key, &aff).await?
        } else {
            format!("NOEXISTE{:09}", self.rng.random_range(0..1_000_000_000u64))
        };
        let accepted = AcceptedAffiliation {
            numero_transaccion: numero,
            codigo_administradora: own.clone(),
            tipo_documento: aff["tipoDocumento"].as_str().unwrap_or_default().to_owned(),
            numero_documento: aff["numeroDocumento"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            fecha_solicitud: as_of,
        };
        let (_, r) = self.generators(&own)?;
        let ret = r.retraction_dated(&accepted, as_of, Some("Retracto de prueba".to_owned()));
        serde_json::to_value(&ret).map_err(|e| fail(e.to_string()))
    }

    /// A valid body for `service` that carries `field` (for a retraction: of a
    /// transaction that does not exist).
    async fn body_with(&mut self, service: Service, field: &str) -> Step<(String, Value)> {
        match service {
            Service::Afiliacion => {
                let own = self.setup.administradora.clone();
                match self.draw(&own, Some(field), None)? {
                    Some(v) => Ok((self.key_for(service).to_owned(), v)),
                    None => Err(Verdict::Skip(format!(
                        "administrator {own} reports no affiliation with {field}"
                    ))),
                }
            }
            Service::Retracto => Ok((
                self.key_for(service).to_owned(),
                self.retraction(false, |_| {}).await?,
            )),
        }
    }

    fn expect(&self, ex: &Exchange, codigo: &str) -> Verdict {
        let status = self.contract.codigo(codigo).map_or(0, |c| c.http_status);
        if ex.status == Some(status) && ex.codigo() == codigo {
            Verdict::Pass
        } else {
            fail(format!("expected {status} {codigo}, got {}", ex.seen()))
        }
    }

    fn accepted(&self, ex: &Exchange) -> Verdict {
        let ok = self
            .contract
            .codigos
            .iter()
            .find(|c| c.http_status == 200)
            .map_or("OK", |c| c.codigo.as_str());
        self.expect(ex, ok)
    }

    fn random_value(&mut self, class: Class, n: usize) -> String {
        let rng = &mut self.rng;
        match class {
            Class::Letters => (0..n)
                .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
                .collect(),
            Class::Digits => (0..n)
                .map(|i| {
                    let lo = if i == 0 { 1 } else { 0 };
                    char::from(b'0' + rng.random_range(lo..10u8))
                })
                .collect(),
            Class::Email => {
                let local: String = (0..n.saturating_sub(5))
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect();
                format!("{local}@b.co")
            }
        }
    }

    /// Run one check; the exchanges it made are in `self.current`.
    async fn run_check(&mut self, check: &Check) -> Verdict {
        let writes = needs_writes(&check.probe);
        if writes && !self.setup.writes {
            return Verdict::Skip(
                "creates records at the target; give --allow-writes to run it".to_owned(),
            );
        }
        match self.probe(&check.probe).await {
            Ok(v) | Err(v) => v,
        }
    }

    async fn probe(&mut self, probe: &Probe) -> Step<Verdict> {
        match probe {
            Probe::Tok(n) => self.tok(*n).await,
            Probe::Auth(service, n) => self.auth(*service, *n).await,
            Probe::Fmt(service, n) => self.fmt(*service, *n).await,
            Probe::Fuz(service) => self.fuz(*service).await,
            Probe::Typ(service, kind, field) => {
                let (key, mut body) = self.body_with_any(*service).await?;
                body[field.as_str()] = match kind {
                    TypKind::Number => Value::from(1_234_567u64),
                    TypKind::Boolean => Value::Bool(true),
                    TypKind::Array => serde_json::json!(["1234567"]),
                    TypKind::Object => serde_json::json!({"valor": "1234567"}),
                    TypKind::Null => Value::Null,
                };
                let ex = self.post_as(*service, &key, &body).await?;
                Ok(self.expect(
                    &ex,
                    if *kind == TypKind::Null {
                        "VAL01"
                    } else {
                        "VAL02"
                    },
                ))
            }
            Probe::Req(service, field) => {
                let (key, mut body) = self.body_with(*service, field).await?;
                if let Some(map) = body.as_object_mut() {
                    map.remove(field);
                }
                let ex = self.post_as(*service, &key, &body).await?;
                let v = self.expect(&ex, "VAL01");
                if v == Verdict::Pass
                    && !ex
                        .field("mensaje")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.contains(field.as_str()))
                {
                    return Ok(fail(format!("VAL01 does not name {field}: {}", ex.seen())));
                }
                Ok(v)
            }
            Probe::Len {
                service,
                field,
                at,
                chars,
                class,
            } => self.len(*service, field, *at, *chars, *class).await,
            Probe::EnumCase(service, field, value) => {
                let (key, mut body) = match self.draw_somewhere(field, Some(value))? {
                    Some(found) => found,
                    None => self.body_with(*service, field).await?,
                };
                body[field.as_str()] = value.to_lowercase().into();
                let ex = self.post_as(*service, &key, &body).await?;
                Ok(self.expect(&ex, "VAL02"))
            }
            Probe::Rul(codigo) => self.rule(codigo).await,
            Probe::Dup(n) => {
                let key = self.key_for(Service::Afiliacion);
                let first = self.own_body()?;
                self.affiliate(key, &first).await?;
                let mut second = if *n == 1 {
                    self.own_body()?
                } else {
                    first.clone()
                };
                if *n == 1 {
                    second["numeroRadicado"] = first["numeroRadicado"].clone();
                } else {
                    second["numeroRadicado"] = self.fresh_radicado()?.into();
                }
                let ex = self.post_as(Service::Afiliacion, key, &second).await?;
                Ok(self.expect(&ex, "NEG01"))
            }
            Probe::Rut(n) => self.route(*n).await,
            Probe::Bnd(b) => self.boundary(*b).await,
            Probe::Env(_) | Probe::Sch(_) => Ok(Verdict::Skip("evaluated at the end".into())),
        }
    }

    async fn body_with_any(&mut self, service: Service) -> Step<(String, Value)> {
        match service {
            Service::Afiliacion => Ok((self.key_for(service).to_owned(), self.own_body()?)),
            Service::Retracto => Ok((
                self.key_for(service).to_owned(),
                self.retraction(false, |_| {}).await?,
            )),
        }
    }

    async fn tok(&mut self, n: u8) -> Step<Verdict> {
        let mut form = self.grant_form(OWN).or_else(|_| self.grant_form(OWN_AFI))?;
        let set = |form: &mut Vec<(String, String)>, k: &str, v: String| {
            if let Some(p) = form.iter_mut().find(|(key, _)| key == k) {
                p.1 = v;
            }
        };
        let error_is = |ex: &Exchange, statuses: &[u16], error: &str| -> Verdict {
            let got = ex.field("error").and_then(Value::as_str).unwrap_or("");
            if ex.status.is_some_and(|s| statuses.contains(&s)) && got == error {
                Verdict::Pass
            } else {
                fail(format!("expected {statuses:?} {error}, got {}", ex.seen()))
            }
        };
        Ok(match n {
            1 => {
                let ex = self.token_request(&form).await;
                let json_ct = ex
                    .content_type
                    .as_deref()
                    .is_some_and(|c| media_type(c) == "application/json");
                let token = ex
                    .field("access_token")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty());
                if ex.status == Some(200) && json_ct && token {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 200 application/json with access_token, got {} ({})",
                        ex.seen(),
                        ex.content_type.as_deref().unwrap_or("no Content-Type")
                    ))
                }
            }
            2 => {
                let ex = self.token_request(&form).await;
                match ex.field("expires_in").and_then(Value::as_u64) {
                    Some(s) if (1..=300).contains(&s) => Verdict::Pass,
                    other => fail(format!(
                        "expires_in {other:?}, expected 1..=300 ({})",
                        ex.seen()
                    )),
                }
            }
            3 => {
                let wrong = format!("incorrecta-{:08x}", self.rng.random::<u32>());
                set(&mut form, "password", wrong);
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_grant")
            }
            4 => {
                let unknown = format!("desconocido-{:08x}", self.rng.random::<u32>());
                set(&mut form, "client_id", unknown);
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400, 401], "invalid_client")
            }
            5 => {
                set(&mut form, "grant_type", "client_credentials".into());
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "unsupported_grant_type")
            }
            6 => {
                form.retain(|(k, _)| k != "password");
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_request")
            }
            7 => {
                let body: serde_json::Map<String, Value> = form
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                let ex = self
                    .send(
                        Method::POST,
                        "/token",
                        &[("content-type", "application/json".to_owned())],
                        serde_json::to_vec(&body).unwrap_or_default(),
                    )
                    .await;
                let error = ex.field("error").and_then(Value::as_str).unwrap_or("");
                if ex.status == Some(400) && !error.is_empty() {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 400 with an RFC 6749 error, got {}",
                        ex.seen()
                    ))
                }
            }
            8 => {
                let ok = self.token_request(&form).await;
                form.retain(|(k, _)| k != "grant_type");
                let refused = self.token_request(&form).await;
                let no_store = |ex: &Exchange| {
                    ex.cache_control.as_deref().is_some_and(|c| {
                        c.split(',')
                            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
                    })
                };
                match (no_store(&ok), no_store(&refused)) {
                    (true, true) => Verdict::Pass,
                    (a, _) => fail(format!(
                        "the {} answer has Cache-Control {:?}",
                        if a { "refusal" } else { "token" },
                        if a {
                            &refused.cache_control
                        } else {
                            &ok.cache_control
                        }
                    )),
                }
            }
            9 => {
                let client = form.iter().find(|(k, _)| k == "client_id").cloned();
                if let Some(c) = client {
                    form.push(c);
                }
                let ex = self.token_request(&form).await;
                error_is(&ex, &[400], "invalid_request")
            }
            _ => {
                let ex = self.token_request(&form).await;
                match ex.field("token_type").and_then(Value::as_str) {
                    Some(t) if t.eq_ignore_ascii_case("bearer") => Verdict::Pass,
                    other => fail(format!(
                        "token_type {other:?}, expected bearer ({})",
                        ex.seen()
                    )),
                }
            }
        })
    }

    async fn auth(&mut self, service: Service, n: u8) -> Step<Verdict> {
        let own = self.setup.administradora.clone();
        let key = self.key_for(service);
        let body = match (service, n) {
            (Service::Afiliacion, 7) => {
                // A valid report of another administrator, sent with our token.
                let regimen = self.contract.administradora(&own).map(|a| a.regimen);
                let other = self
                    .contract
                    .administradoras
                    .iter()
                    .filter(|a| a.codigo != own)
                    .max_by_key(|a| Some(a.regimen) == regimen)
                    .map(|a| a.codigo.clone())
                    .ok_or_else(|| Verdict::Skip("the contract has one administrator".into()))?;
                self.draw(&other, None, None)?
                    .ok_or_else(|| fail("the generator draws nothing"))?
            }
            (Service::Retracto, 7) => {
                let mut b = self.retraction(false, |_| {}).await?;
                let other = self
                    .contract
                    .administradoras
                    .iter()
                    .find(|a| a.codigo != own)
                    .map(|a| a.codigo.clone())
                    .ok_or_else(|| Verdict::Skip("the contract has one administrator".into()))?;
                b["codigoAdministradora"] = other.into();
                b
            }
            (Service::Afiliacion, 8) => self.own_body()?,
            (Service::Retracto, 8) => self.retraction(true, |_| {}).await?,
            (Service::Afiliacion, _) => self.own_body()?,
            (Service::Retracto, _) => self.retraction(false, |_| {}).await?,
        };
        Ok(match n {
            1 => {
                let ex = self.post(service, None, &body).await;
                self.expect(&ex, "AUT01")
            }
            2 => {
                // Another scheme, then the Bearer scheme without a token.
                let ex = self
                    .post(
                        service,
                        Some("Basic Y29uZm9ybTpjb25mb3Jt".to_owned()),
                        &body,
                    )
                    .await;
                match self.expect(&ex, "AUT01") {
                    Verdict::Pass => {
                        let ex = self.post(service, Some("Bearer".to_owned()), &body).await;
                        self.expect(&ex, "AUT01")
                    }
                    other => other,
                }
            }
            3 => {
                let fake: String = (0..64)
                    .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16usize)]))
                    .collect();
                let ex = self
                    .post(service, Some(format!("Bearer {fake}")), &body)
                    .await;
                self.expect(&ex, "AUT01")
            }
            4 => self.expired(service, key, &body).await?,
            5 => {
                let ex = self.post(service, None, &body).await;
                match ex.www_authenticate.as_deref() {
                    Some(w)
                        if ex.status == Some(401)
                            && w.trim_start().to_ascii_lowercase().starts_with("bearer") =>
                    {
                        Verdict::Pass
                    }
                    other => fail(format!(
                        "expected 401 with WWW-Authenticate: Bearer, got {} with {other:?}",
                        ex.seen()
                    )),
                }
            }
            6 => {
                let wrong = match service {
                    Service::Afiliacion => OWN_RET,
                    Service::Retracto => OWN_AFI,
                };
                self.creds(wrong)?;
                let ex = self.post_as(service, wrong, &body).await?;
                self.expect(&ex, "AUT03")
            }
            7 => {
                let ex = self.post_as(service, key, &body).await?;
                self.expect(&ex, "AUT03")
            }
            _ => {
                let token = self.token(key).await?;
                let ex = self
                    .post(service, Some(format!("bearer {token}")), &body)
                    .await;
                self.accepted(&ex)
            }
        })
    }

    /// AUTH-*-004: a token past its lifetime gets 401 AUT02. The embedded
    /// mock's clock (or a local mss-mock's, `/__admin/clock`) is moved past
    /// the lifetime; with `--slow` the suite waits it out in real time instead,
    /// once: a second such check reuses the token already waited out.
    async fn expired(&mut self, service: Service, key: &str, body: &Value) -> Step<Verdict> {
        let clock_mock = self.setup.mock.clone().filter(|_| !self.setup.slow);
        let (token, issued, lifetime, moved) = if let Some(mock) = clock_mock {
            let (token, answer) = self.fresh_token(key).await?;
            let lifetime = lifetime_of(&answer);
            let ttl = i64::try_from(mock.config().token_ttl_seconds).unwrap_or(300) + 1;
            mock.clock().advance(ttl);
            let ex = self
                .post(service, Some(format!("Bearer {token}")), body)
                .await;
            mock.clock().advance(-ttl);
            self.token_age = Some(TokenAge {
                age_s: ttl as f64,
                lifetime_s: lifetime,
                how: "clock moved",
            });
            return Ok(self.expect(&ex, "AUT02"));
        } else if self.setup.admin_clock && !self.setup.slow {
            let (token, answer) = self.fresh_token(key).await?;
            let lifetime = lifetime_of(&answer);
            (token, Instant::now(), lifetime, lifetime as i64 + 1)
        } else if self.setup.slow {
            if !self.stale.contains_key(key) {
                // Take the other service's token to wait out too, so that a
                // client_id per service still means one wait.
                let mut keys = vec![key.to_owned()];
                for s in Service::ALL {
                    let k = self.key_for(s).to_owned();
                    if !keys.contains(&k) && !self.stale.contains_key(&k) {
                        keys.push(k);
                    }
                }
                for k in keys {
                    let (token, answer) = self.fresh_token(&k).await?;
                    self.stale
                        .insert(k, (token, Instant::now(), lifetime_of(&answer)));
                }
            }
            let (token, issued, lifetime) = self
                .stale
                .get(key)
                .cloned()
                .ok_or_else(|| fail("no token to wait out"))?;
            // Past the lifetime by 2 s: the target counts from before the
            // answer reached us, and in whole seconds.
            let due = Duration::from_secs(lifetime + 2);
            if let Some(wait) = due.checked_sub(issued.elapsed()).filter(|w| !w.is_zero()) {
                eprintln!(
                    "conform: waiting {:.0} s for a token to expire (--slow)",
                    wait.as_secs_f64().ceil()
                );
                tokio::time::sleep(wait).await;
            }
            (token, issued, lifetime, 0)
        } else {
            return Err(Verdict::Skip(
                "waits out a token's lifetime; give --slow to run it against a real endpoint"
                    .into(),
            ));
        };
        if moved != 0 {
            self.move_clock(moved).await?;
        }
        let age_s = issued.elapsed().as_secs_f64() + moved as f64;
        let ex = self
            .post(service, Some(format!("Bearer {token}")), body)
            .await;
        if moved != 0 {
            self.move_clock(-moved).await?;
        }
        self.token_age = Some(TokenAge {
            age_s,
            lifetime_s: lifetime,
            how: if moved != 0 { "clock moved" } else { "waited" },
        });
        Ok(self.expect(&ex, "AUT02"))
    }

    /// Move a separately started mss-mock's clock (`POST /__admin/clock`).
    async fn move_clock(&mut self, seconds: i64) -> Step<()> {
        let body = serde_json::to_vec(&serde_json::json!({ "advance_seconds": seconds }))
            .unwrap_or_default();
        let ex = self
            .send(
                Method::POST,
                "/__admin/clock",
                &[("content-type", "application/json".to_owned())],
                body,
            )
            .await;
        if ex.status == Some(200) {
            Ok(())
        } else {
            Err(fail(format!(
                "the mock's clock did not move: {}",
                ex.seen()
            )))
        }
    }

    async fn fmt(&mut self, service: Service, n: u8) -> Step<Verdict> {
        let (key, body) = self.body_with_any(service).await?;
        let token = self.token(&key).await?;
        let auth = Some(format!("Bearer {token}"));
        let json = serde_json::to_vec(&body).unwrap_or_default();
        Ok(match n {
            1 => {
                let cut = json[..json.len() / 2].to_vec();
                let ex = self
                    .post_raw(service.path(), auth, "application/json", cut)
                    .await;
                self.expect(&ex, "VAL00")
            }
            2 => {
                let ex = self
                    .post_raw(service.path(), auth, "text/plain", json)
                    .await;
                self.expect(&ex, "VAL00")
            }
            3 => {
                let ex = self.post(service, auth, &Value::Array(vec![body])).await;
                self.expect(&ex, "VAL00")
            }
            _ => {
                let mut b = body;
                b["campoNoDefinido"] = "x".into();
                let ex = self.post(service, auth, &b).await;
                self.expect(&ex, "VAL02")
            }
        })
    }

    async fn fuz(&mut self, service: Service) -> Step<Verdict> {
        let (key, body) = self.body_with_any(service).await?;
        let token = self.token(&key).await?;
        let valid = serde_json::to_vec(&body).unwrap_or_default();
        let mut inputs: Vec<(String, Vec<u8>)> = vec![
            ("empty body".into(), Vec::new()),
            ("null".into(), b"null".to_vec()),
            ("an opening brace".into(), b"{".to_vec()),
            (
                "not UTF-8".into(),
                b"{\"numeroRadicado\":\"\xff\xfe\xfd\"}".to_vec(),
            ),
            (
                "a byte-order mark".into(),
                [b"\xEF\xBB\xBF".as_slice(), &valid].concat(),
            ),
            ("100,000 nested arrays".into(), vec![b'['; 100_000]),
            ("10,000 nested objects".into(), b"{\"a\":".repeat(10_000)),
            (
                "a 1 MB field".into(),
                format!("{{\"numeroRadicado\":\"{}\"}}", "x".repeat(1 << 20)).into_bytes(),
            ),
            (
                "a lone surrogate".into(),
                b"{\"numeroRadicado\":\"\\ud800\"}".to_vec(),
            ),
            (
                "a number out of range".into(),
                b"{\"numeroRadicado\":1e400}".to_vec(),
            ),
            (
                "a NUL byte".into(),
                b"{\"numeroRadicado\":\"a\x00b\"}".to_vec(),
            ),
            (
                "trailing garbage".into(),
                [valid.as_slice(), b"xyz"].concat(),
            ),
            ("two objects".into(), [valid.as_slice(), &valid].concat()),
        ];
        for i in 0..8 {
            let len = self.rng.random_range(1..200usize);
            let bytes: Vec<u8> = (0..len).map(|_| self.rng.random::<u8>()).collect();
            inputs.push((format!("random bytes #{i}"), bytes));
        }
        for i in 0..8 {
            let at = self.rng.random_range(1..valid.len().max(2));
            inputs.push((
                format!("truncated at byte {at} (#{i})"),
                valid[..at.min(valid.len())].to_vec(),
            ));
        }
        for (what, bytes) in inputs {
            let ex = self
                .post_raw(
                    service.path(),
                    Some(format!("Bearer {token}")),
                    "application/json",
                    bytes,
                )
                .await;
            match ex.status {
                Some(s) if (400..500).contains(&s) => {}
                _ => return Ok(fail(format!("{what}: expected 4xx, got {}", ex.seen()))),
            }
        }
        Ok(Verdict::Pass)
    }

    async fn len(
        &mut self,
        service: Service,
        field: &str,
        at: LenAt,
        chars: usize,
        class: Class,
    ) -> Step<Verdict> {
        let mut value = self.random_value(class, chars);
        if field == "numeroRadicado" {
            for _ in 0..50 {
                if !self.used_radicados.contains(&value) {
                    break;
                }
                value = self.random_value(class, chars);
            }
            self.used_radicados.insert(value.clone());
        }
        let (key, body) = match (service, at.accepted()) {
            (Service::Afiliacion, _) => {
                let (key, mut body) = self.body_with(service, field).await?;
                body[field] = value.clone().into();
                fix_related(self.contract, &mut body, field);
                (key, body)
            }
            (Service::Retracto, true) if field == "numeroDocumento" => {
                // The retraction names the person of the affiliation: the value
                // goes into the affiliation first.
                let contract = self.contract;
                let v = value.clone();
                let body = self
                    .retraction(true, |aff| {
                        aff["numeroDocumento"] = v.into();
                        fix_related(contract, aff, "numeroDocumento");
                    })
                    .await?;
                (self.key_for(service).to_owned(), body)
            }
            (Service::Retracto, real) => {
                let mut body = self.retraction(real, |_| {}).await?;
                body[field] = value.clone().into();
                (self.key_for(service).to_owned(), body)
            }
        };
        let ex = self.post_as(service, &key, &body).await?;
        Ok(if at.accepted() {
            self.accepted(&ex)
        } else {
            self.expect(&ex, "VAL02")
        })
    }

    async fn rule(&mut self, codigo: &str) -> Step<Verdict> {
        let key = self.key_for(Service::Afiliacion);
        let own = self.setup.administradora.clone();
        match codigo {
            "VAL03" | "VAL04" | "VAL05" => {
                let mut body = self.own_body()?;
                match codigo {
                    "VAL03" => {
                        let numero = body["numeroDocumento"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        let refused = self
                            .contract
                            .tipos_documento
                            .iter()
                            .find(|t| !t.permitido_pensiones && t.patron_numero.is_match(&numero))
                            .or_else(|| {
                                self.contract
                                    .tipos_documento
                                    .iter()
                                    .find(|t| !t.permitido_pensiones)
                            })
                            .ok_or_else(|| {
                                Verdict::Skip("the contract refuses no document type".into())
                            })?;
                        body["tipoDocumento"] = refused.codigo.clone().into();
                    }
                    "VAL04" => {
                        let regimen = self
                            .contract
                            .administradora(&own)
                            .map_or(Regimen::Rais, |a| a.regimen);
                        body["regimenDestino"] = regimen.other().as_str().into();
                    }
                    _ => {
                        let dep = body["codigoDepartamento"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        let free = (0..1000)
                            .rev()
                            .map(|n| format!("{n:03}"))
                            .find(|m| self.contract.municipio(&dep, m).is_none())
                            .ok_or_else(|| {
                                Verdict::Skip("every municipality code exists".into())
                            })?;
                        body["codigoMunicipio"] = free.into();
                    }
                }
                let ex = self.post_as(Service::Afiliacion, key, &body).await?;
                Ok(self.expect(&ex, codigo))
            }
            _ => {
                let case = {
                    let (a, r) = self.generators(&own)?;
                    InvalidGenerator::new(a, r)
                        .case(codigo)
                        .map_err(|e| fail(format!("generator: {e}")))?
                };
                self.run_case(&case.setup, &case.probe, Some(case.codigo), None)
                    .await
            }
        }
    }

    /// Send `setup` (each step must be accepted), then `probe`, which must get
    /// `codigo` (be accepted when `None`) with a `mensaje` naming `names`.
    pub(super) async fn run_case(
        &mut self,
        setup: &[crate::generator::invalid::Step],
        probe: &crate::generator::invalid::Step,
        codigo: Option<&str>,
        names: Option<&str>,
    ) -> Step<Verdict> {
        let own = self.setup.administradora.clone();
        let mut answers: Vec<Value> = Vec::new();
        let last = setup.len();
        for (i, step) in setup.iter().chain(std::iter::once(probe)).enumerate() {
            let sender = if step.sender == own {
                self.key_for(step.service).to_owned()
            } else {
                step.sender.clone()
            };
            let mut body = step.body.clone();
            if let Some(from) = step.transaction_from {
                if body["numeroTransaccionAfiliacion"] != PENDING_TRANSACTION {
                    return Err(fail("set-up without a pending transaction"));
                }
                body["numeroTransaccionAfiliacion"] = answers
                    .get(from)
                    .map_or(Value::Null, |a| a["numeroTransaccion"].clone());
            }
            let ex = self.post_as(step.service, &sender, &body).await?;
            if i < last {
                if ex.status != Some(200) {
                    return Ok(fail(format!(
                        "set-up step {} refused: {} (a valid report must be accepted)",
                        i + 1,
                        ex.seen()
                    )));
                }
                answers.push(ex.json.clone().unwrap_or(Value::Null));
            } else {
                let verdict = match codigo {
                    Some(c) => self.expect(&ex, c),
                    None => self.accepted(&ex),
                };
                if let (Verdict::Pass, Some(field)) = (&verdict, names)
                    && !ex
                        .field("mensaje")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.contains(field))
                {
                    return Ok(fail(format!(
                        "the refusal does not name {field}: {}",
                        ex.seen()
                    )));
                }
                return Ok(verdict);
            }
        }
        Err(fail("the case has no probe"))
    }

    async fn route(&mut self, n: u8) -> Step<Verdict> {
        Ok(match n {
            1 => {
                let ex = self
                    .post_raw(
                        "/ReportarNoExiste",
                        None,
                        "application/json",
                        b"{}".to_vec(),
                    )
                    .await;
                if ex.status == Some(404) {
                    Verdict::Pass
                } else {
                    fail(format!("expected 404, got {}", ex.seen()))
                }
            }
            2..=4 => {
                let path = match n {
                    2 => Service::Afiliacion.path(),
                    3 => Service::Retracto.path(),
                    _ => "/token",
                };
                let ex = self.send(Method::GET, path, &[], Vec::new()).await;
                let allow_post = ex
                    .allow
                    .as_deref()
                    .is_some_and(|a| a.split(',').any(|m| m.trim().eq_ignore_ascii_case("POST")));
                if ex.status == Some(405) && allow_post {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 405 with Allow: POST, got {} with Allow {:?}",
                        ex.seen(),
                        ex.allow
                    ))
                }
            }
            _ => {
                let (path, service) = if n == 5 {
                    (
                        Service::Afiliacion.path().to_lowercase(),
                        Service::Afiliacion,
                    )
                } else {
                    (Service::Retracto.path().to_uppercase(), Service::Retracto)
                };
                let (_, body) = self.body_with_any(service).await?;
                let ex = self
                    .post_raw(
                        &path,
                        None,
                        "application/json",
                        serde_json::to_vec(&body).unwrap_or_default(),
                    )
                    .await;
                if ex.status == Some(401) {
                    Verdict::Pass
                } else {
                    fail(format!(
                        "expected 401 (the route exists, no token), got {}",
                        ex.seen()
                    ))
                }
            }
        })
    }

    /// ENV and SCH checks over every exchange so far.
    fn aggregate(&self, probe: &Probe) -> (Verdict, usize, Option<Exchange>) {
        let services: Vec<&Exchange> = self
            .log
            .iter()
            .filter(|e| e.service.is_some() && e.status.is_some())
            .collect();
        let first_bad = |bad: &dyn Fn(&Exchange) -> Option<String>, over: &[&Exchange]| {
            let mut n = 0;
            let mut first = None;
            for e in over {
                if let Some(why) = bad(e) {
                    n += 1;
                    if first.is_none() {
                        first = Some(((*e).clone(), why));
                    }
                }
            }
            match first {
                None => (Verdict::Pass, over.len(), None),
                Some((e, why)) => (
                    fail(format!("{n} of {} answers: {why}", over.len())),
                    over.len(),
                    Some(e),
                ),
            }
        };
        match probe {
            Probe::Env(1) => first_bad(
                &|e| {
                    let ct = e.content_type.as_deref().unwrap_or("");
                    (media_type(ct) != "application/json").then(|| {
                        format!(
                            "{} {} answered {} with Content-Type {ct:?}",
                            e.method,
                            e.path,
                            e.status.unwrap_or(0)
                        )
                    })
                },
                &services,
            ),
            Probe::Env(_) => first_bad(
                &|e| {
                    let status = e.status.unwrap_or(0).to_string();
                    let resultado = e.field("resultado").and_then(Value::as_str);
                    (resultado != Some(status.as_str()))
                        .then(|| format!("status {status} with resultado {resultado:?}"))
                },
                &services,
            ),
            Probe::Sch(n) => {
                let (name, over): (&str, Vec<&Exchange>) = if *n == 1 {
                    ("Envelope", services)
                } else {
                    (
                        "TokenError",
                        self.log
                            .iter()
                            .filter(|e| e.token && e.status == Some(400))
                            .collect(),
                    )
                };
                let Some(schema) = self.contract.schema(name) else {
                    return (
                        fail(format!("contract/openapi.json has no schema {name}")),
                        0,
                        None,
                    );
                };
                let validator = match jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .build(schema)
                {
                    Ok(v) => v,
                    Err(e) => return (fail(format!("schema {name}: {e}")), 0, None),
                };
                first_bad(
                    &|e| match &e.json {
                        None => Some(format!(
                            "{} {} answered {} with a body that is not JSON",
                            e.method,
                            e.path,
                            e.status.unwrap_or(0)
                        )),
                        Some(j) => validator.validate(j).err().map(|err| {
                            format!(
                                "{} {} answered {}: {} at {}",
                                e.method,
                                e.path,
                                e.status.unwrap_or(0),
                                err,
                                err.instance_path()
                            )
                        }),
                    },
                    &over,
                )
            }
            _ => (fail("not an aggregate check"), 0, None),
        }
    }

    /// Run `checks` in order (aggregate ones last) and return their outcomes in
    /// catalogue order.
    pub async fn run(&mut self, checks: &[Check]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; checks.len()];
        for (i, check) in checks.iter().enumerate() {
            if matches!(check.probe, Probe::Env(_) | Probe::Sch(_)) {
                continue;
            }
            self.current.clear();
            self.token_age = None;
            let verdict = self.run_check(check).await;
            let probe = self.current.last().cloned();
            out[i] = Some(Outcome {
                check: check.clone(),
                verdict,
                requests: self.current.len(),
                probe,
                token_age: self.token_age.take(),
            });
        }
        for (i, check) in checks.iter().enumerate() {
            if out[i].is_none() {
                let (verdict, n, probe) = self.aggregate(&check.probe);
                out[i] = Some(Outcome {
                    check: check.clone(),
                    verdict,
                    requests: n,
                    probe,
                    token_age: None,
                });
            }
        }
        out.into_iter().flatten().collect()
    }
}

/// After `field` changed in an affiliation: keep the fields tied to it valid.
fn fix_related(contract: &Contract, body: &mut Value, field: &str) {
    if field == "numeroDocumento"
        && let Some(numero) = body[field].as_str()
        && let Some(t) = contract
            .tipos_documento
            .iter()
            .find(|t| t.permitido_pensiones && t.patron_numero.is_match(numero))
    {
        body["tipoDocumento"] = t.codigo.clone().into();
    }
    if field == "numeroDocumentoEmpleador"
        && let Some(nit) = body[field].as_str()
        && body.get("digitoVerificacion").is_some()
        && let Some(dv) = nit_check_digit(nit)
    {
        body["digitoVerificacion"] = dv.to_string().into();
    }
}

/// The lifetime a token answer announces (`expires_in`), within 1 s to an hour.
fn lifetime_of(answer: &Exchange) -> u64 {
    answer
        .field("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300)
        .clamp(1, 3600)
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a check creates records at the target when the target behaves.
pub fn needs_writes(probe: &Probe) -> bool {
    match probe {
        Probe::Auth(_, 8) | Probe::Dup(_) => true,
        Probe::Bnd(b) => b.writes(),
        Probe::Len { at, .. } => at.accepted(),
        Probe::Rul(codigo) => !matches!(*codigo, "VAL03" | "VAL04" | "VAL05" | "NEG02" | "NEG10"),
        _ => false,
    }
}
