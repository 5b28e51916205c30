//! Preflight: the connectivity check the protocol asks for ("gestión de
//! conectividad — validación de credenciales, token"), stage by stage with
//! times: DNS, TCP connect, TLS handshake (version, certificate, whether it
//! verifies) in [`connection`], the token request and the clock skew from the
//! `Date` header in [`token`], and one harmless call per service (refused by
//! design, so nothing real is reported) in [`services`]; a stage runs only
//! when the one before it worked. The token and service calls go through
//! the run's send path ([`crate::transport`], one kept connection) and say
//! where their time went: the connection's opening when they opened one,
//! the request written, the time to first byte, the body read.
//! [`report`] prints the table and writes `preflight.json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::Utc;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use serde_json::{Value, json};

use crate::connect::ConnectArgs;
use crate::transport::{Answer, Body, Endpoint, Failure, Phase, Phases, Slot};

mod connection;
pub mod report;
mod services;
mod token;

/// What preflight checks, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of the target.
    pub target: String,
    /// Credentials file; else the `MSS_*` environment variables.
    pub credentials: Option<PathBuf>,
    /// Code of the administrator the credentials belong to.
    pub administradora: String,
    /// The contract the calls follow.
    pub contract: std::sync::Arc<crate::domain::Contract>,
    /// Connection settings.
    pub connect: ConnectArgs,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Where preflight.json goes [default: results/preflight-<UTC time>].
    pub out: Option<PathBuf>,
}

/// One stage's result.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its name.
    pub name: &'static str,
    /// `Some(true)` worked, `Some(false)` failed, `None` not run.
    pub ok: Option<bool>,
    /// How long it took.
    pub ms: Option<f64>,
    /// What it found, or why it failed.
    pub detail: String,
    /// Details for preflight.json.
    pub data: Value,
}

impl Stage {
    fn new(name: &'static str) -> Self {
        Stage {
            name,
            ok: None,
            ms: None,
            detail: "not run".into(),
            data: Value::Null,
        }
    }

    fn done(&mut self, ok: bool, started: Instant, detail: impl Into<String>, data: Value) {
        self.ok = Some(ok);
        self.ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        self.detail = detail.into();
        self.data = data;
    }
}

/// How preflight's token and service calls reach the target: the
/// transport, every exchange timed by phase, redirects followed within the
/// target's host only.
struct Http<'a> {
    endpoint: &'a Endpoint,
    /// The base URL's path, before each call's.
    prefix: &'a str,
    timeout: Duration,
}

impl Http<'_> {
    /// POST `body` to `path` on `slot`'s connection.
    async fn post(
        &self,
        slot: &mut Slot,
        path: &str,
        content_type: HeaderValue,
        bearer: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<Answer, Failure> {
        let text = format!("{}{path}", self.prefix);
        let uri = hyper::Uri::try_from(text.as_str()).map_err(|e| Failure {
            outcome: crate::outcome::Outcome::Reset,
            phase: Phase::Send,
            detail: format!("{text:?}: {e}"),
        })?;
        let build = |uri: hyper::Uri| {
            let mut request = hyper::Request::new(Body::new(body.clone()));
            *request.method_mut() = hyper::Method::POST;
            *request.uri_mut() = uri;
            let headers = request.headers_mut();
            headers.insert(HOST, self.endpoint.authority().clone());
            headers.insert(CONTENT_TYPE, content_type.clone());
            if let Some(b) = &bearer {
                headers.insert(AUTHORIZATION, b.clone());
            }
            request
        };
        self.endpoint
            .exchange_following(slot, uri, build, self.timeout, |_| {})
            .await
    }
}

/// Where an exchange's time went, for a stage's detail and its data:
/// `opened a connection (TCP connect 0.3 ms, TLS handshake 4.1 ms), request
/// written 0.0 ms, time to first byte 2.7 ms, body read 0.1 ms`.
fn phases(p: &Phases) -> (String, Value) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let part = |phase: Phase| p.get(phase).map(|d| (phase, ms(d)));
    let said = |parts: Vec<(Phase, f64)>| {
        parts
            .iter()
            .map(|(phase, m)| format!("{} {m:.1} ms", phase.describe()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let opening: Vec<_> = [Phase::Dns, Phase::Connect, Phase::Tls]
        .into_iter()
        .filter_map(part)
        .collect();
    let exchange: Vec<_> = [Phase::Send, Phase::Wait, Phase::Receive]
        .into_iter()
        .filter_map(part)
        .collect();
    let data: serde_json::Map<String, Value> = opening
        .iter()
        .chain(&exchange)
        .map(|(phase, m)| (format!("{}_ms", phase.name()), json!(m)))
        .collect();
    let text = match p.opened {
        Some(_) => format!(
            "opened a connection ({}), {}",
            said(opening),
            said(exchange)
        ),
        None => format!("reused the connection, {}", said(exchange)),
    };
    let mut data = Value::Object(data);
    data["reused"] = p.opened.is_none().into();
    (text, data)
}

fn root_cause(e: &anyhow::Error) -> String {
    e.chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Run the stages against `opts.target`; the stages and the folder
/// preflight.json went to. An error is bad usage (the target, the
/// credentials, a CA file), not a failed stage.
pub async fn run(opts: &Options) -> anyhow::Result<(Vec<Stage>, PathBuf)> {
    let base = opts.target.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&base).with_context(|| format!("--target {base:?}"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => anyhow::bail!("--target {base}: scheme {other} is not http or https"),
    };
    let host = url
        .host_str()
        .with_context(|| format!("--target {base}: no host"))?
        .to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    opts.connect.check_insecure(&host)?;
    let overridden = opts.connect.override_for(&host, port)?;
    let creds = crate::credentials::from_file_or_env(opts.credentials.as_deref())?;
    let (afi_client, ret_client) = creds.client_ids()?;
    let endpoint = Endpoint::new(&base, &opts.connect, opts.connect_timeout)?;
    let http = Http {
        endpoint: &endpoint,
        prefix: url.path().trim_end_matches('/'),
        timeout: opts.timeout,
    };
    // One connection for the token and the service calls, as a run's user keeps.
    let mut slot = Slot::default();
    let dir = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("preflight-{}", Utc::now().format("%Y%m%dT%H%M%SZ")))
    });

    let mut dns = Stage::new("DNS resolution");
    let mut tcp = Stage::new("TCP connect");
    let mut tls = Stage::new("TLS handshake");
    let mut token = Stage::new("token (POST /token)");
    let mut skew = Stage::new("clock skew (Date header)");
    let mut afi = Stage::new("ReportarAfiliaciontraslado");
    let mut ret = Stage::new("ReportarRetractoAfiliacion");

    let addrs = connection::resolve(&mut dns, overridden, &host, port).await;
    let reached = if addrs.is_empty() {
        None
    } else {
        connection::connect(&mut tcp, &addrs, opts.connect_timeout).await
    };
    let secure = match reached {
        Some(addr) => {
            connection::tls(
                &mut tls,
                https,
                &opts.connect,
                addr,
                &host,
                opts.connect_timeout,
            )
            .await?
        }
        None => false,
    };
    if secure {
        let access =
            token::probe(&mut token, &mut skew, &http, &mut slot, &creds, &afi_client).await;
        if let Some(tok) = access {
            let caller = services::Caller {
                http: &http,
                creds: &creds,
                clients: (&afi_client, &ret_client),
                administradora: &opts.administradora,
                contract: &opts.contract,
            };
            services::probe(&mut afi, &mut ret, &caller, &mut slot, tok).await?;
        }
    }

    let all = vec![dns, tcp, tls, token, skew, afi, ret];
    report::write_json(&dir, &base, &host, port, &all)?;
    Ok((all, dir))
}
