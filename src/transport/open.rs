//! Where a target's exchanges go ([`Endpoint`]), and a connection opened to
//! it step by step, each step timed: the name's resolution (none for an
//! address written out or a `--resolve` override), the TCP connection, the
//! TLS handshake (the harness's one rustls configuration), then HTTP/1.1's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hyper::header::HeaderValue;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::exchange::{Connection, Failure};
use super::timed::{Marks, Stream, Timed};
use super::{Opening, Phase};
use crate::connect::ConnectArgs;
use crate::outcome::Outcome;

/// A target's address and how to reach it: what every exchange with it
/// shares, read once from the base URL and the connection settings (no URL
/// is parsed per request).
#[derive(Debug, Clone)]
pub struct Endpoint {
    host: Arc<str>,
    port: u16,
    /// The address when nothing is to be looked up: an address written out,
    /// or a `--resolve` override.
    fixed: Option<SocketAddr>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
    authority: HeaderValue,
    /// `scheme://host:port`, what a redirect's `Location` is read against.
    origin: reqwest::Url,
}

impl Endpoint {
    /// The endpoint of `base` (`scheme://host[:port]`, any path ignored),
    /// reached with `connect`'s settings (its TLS configuration, overrides;
    /// `--insecure` refused outside loopback), a connection given
    /// `connect_timeout` to open.
    pub fn new(
        base: &str,
        connect: &ConnectArgs,
        connect_timeout: Duration,
    ) -> anyhow::Result<Endpoint> {
        let url = reqwest::Url::parse(base).with_context(|| format!("target URL {base:?}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => bail!("target URL {base:?}: scheme {other:?} is neither http nor https"),
        };
        let written = match url.host_str() {
            Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
            _ => bail!("target URL {base:?}: no host"),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let name = written
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let literal = name
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port));
        connect.check_insecure(&written)?;
        let fixed = match connect.override_for(&name, port)? {
            Some(a) => Some(a),
            None => literal,
        };
        let tls = if https {
            let server = ServerName::try_from(name.clone())
                .with_context(|| format!("target URL {base:?}: not a TLS server name"))?;
            Some((connect.tls_config()?, server))
        } else {
            None
        };
        let mut origin = url.clone();
        origin.set_path("/");
        origin.set_query(None);
        let authority = match url.port() {
            Some(p) => format!("{written}:{p}"),
            None => written,
        };
        Ok(Endpoint {
            host: name.into(),
            port,
            fixed,
            tls,
            connect_timeout,
            authority: HeaderValue::from_str(&authority)
                .with_context(|| format!("target URL {base:?}: host"))?,
            origin,
        })
    }

    /// The `Host` header of every request to this endpoint.
    pub fn authority(&self) -> &HeaderValue {
        &self.authority
    }

    /// The URL of the target's root (`scheme://host:port/`).
    pub fn origin(&self) -> &reqwest::Url {
        &self.origin
    }

    /// Open a connection: resolved, connected, its TLS handshake done, in
    /// `connect_timeout` (DNS aside); each step timed.
    pub async fn open(&self) -> Result<(Connection, Opening), Failure> {
        let (addrs, dns) = self.resolve().await?;
        let timeout = self.connect_timeout;
        let opening = async {
            let t = Instant::now();
            let tcp = connect_first(&addrs).await?;
            let _ = tcp.set_nodelay(true);
            let connect = t.elapsed();
            let (stream, tls) = match &self.tls {
                None => (Stream::Plain(tcp), None),
                Some((config, name)) => {
                    let t = Instant::now();
                    let connector = TlsConnector::from(Arc::clone(config));
                    let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                        Failure::new(Outcome::Tls, Phase::Tls, format!("TLS handshake: {e}"))
                    })?;
                    (Stream::Tls(Box::new(tls)), Some(t.elapsed()))
                }
            };
            Ok::<_, Failure>((stream, Opening { dns, connect, tls }))
        };
        let (stream, opening) = match tokio::time::timeout(timeout, opening).await {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(Failure::new(
                    Outcome::ConnectTimeout,
                    Phase::Connect,
                    format!("{}:{}: not connected in {timeout:?}", self.host, self.port),
                ));
            }
        };
        let marks = Marks::new();
        let io = hyper_util::rt::TokioIo::new(Timed {
            stream,
            marks: Arc::clone(&marks),
        });
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| Failure::new(Outcome::Reset, Phase::Connect, format!("HTTP/1.1: {e}")))?;
        // The connection's IO runs beside its user; it ends when the
        // connection closes or its user drops it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((Connection { sender, marks }, opening))
    }

    /// The addresses to connect to, and the lookup's time when there was one.
    async fn resolve(&self) -> Result<(Vec<SocketAddr>, Option<Duration>), Failure> {
        if let Some(a) = self.fixed {
            return Ok((vec![a], None));
        }
        let t = Instant::now();
        let dns = |detail: String| Failure::new(Outcome::Dns, Phase::Dns, detail);
        let found: Vec<SocketAddr> = tokio::net::lookup_host((&*self.host, self.port))
            .await
            .map_err(|e| dns(format!("{} does not resolve: {e}", self.host)))?
            .collect();
        if found.is_empty() {
            return Err(dns(format!("{} resolves to no address", self.host)));
        }
        Ok((found, Some(t.elapsed())))
    }
}

/// A TCP connection to the first of `addrs` that accepts one.
async fn connect_first(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((*a, e)),
        }
    }
    let (outcome, detail) = match last {
        Some((a, e)) => (
            if e.kind() == std::io::ErrorKind::TimedOut {
                Outcome::ConnectTimeout
            } else {
                Outcome::ConnectRefused
            },
            format!("cannot connect to {a}: {e}"),
        ),
        None => (
            Outcome::ConnectRefused,
            "no address to connect to".to_owned(),
        ),
    };
    Err(Failure::new(outcome, Phase::Connect, detail))
}
