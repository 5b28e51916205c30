//! The connection stages of preflight: DNS (or `--resolve`), TCP connect to
//! the first address that answers, and the TLS handshake — its version, the
//! server's certificate (subject, issuer, expiry) and whether it verifies;
//! when it does not, the certificate is read anyway to say what it is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};

use super::{Stage, root_cause};
use crate::connect::{ConnectArgs, tls_config};

/// Subject, issuer and expiry of a DER certificate.
fn describe(der: &[u8]) -> Value {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let not_after =
                DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0);
            json!({
                "subject": cert.subject().to_string(),
                "issuer": cert.issuer().to_string(),
                "not_after": not_after.map(|t| t.to_rfc3339()),
                "days_left": not_after.map(|t| (t - Utc::now()).num_days()),
            })
        }
        Err(e) => json!({ "error": format!("unreadable certificate: {e}") }),
    }
}

async fn handshake(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
    timeout: Duration,
) -> anyhow::Result<(String, Option<Vec<u8>>)> {
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connect timed out"))??;
    let name = ServerName::try_from(host.to_owned()).context("server name")?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().map_or_else(
        || "?".to_owned(),
        |v| format!("{v:?}").replace("TLSv1_", "TLS 1."),
    );
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    Ok((version, cert))
}

/// The DNS stage: the addresses of `host`, or the `--resolve` override.
pub(super) async fn resolve(
    dns: &mut Stage,
    overridden: Option<SocketAddr>,
    host: &str,
    port: u16,
) -> Vec<SocketAddr> {
    let t = Instant::now();
    match overridden {
        Some(a) => {
            dns.done(
                true,
                t,
                format!("{a} (--resolve)"),
                json!({"addresses": [a.to_string()], "override": true}),
            );
            vec![a]
        }
        None => match tokio::net::lookup_host((host, port)).await {
            Ok(found) => {
                let found: Vec<SocketAddr> = found.collect();
                let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
                dns.done(
                    !found.is_empty(),
                    t,
                    shown.join(", "),
                    json!({"addresses": shown}),
                );
                found
            }
            Err(e) => {
                dns.done(
                    false,
                    t,
                    format!("{host} does not resolve: {e}"),
                    Value::Null,
                );
                Vec::new()
            }
        },
    }
}

/// The TCP stage: the first of `addrs` that accepts a connection.
pub(super) async fn connect(
    tcp: &mut Stage,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Option<SocketAddr> {
    let t = Instant::now();
    let mut last = String::new();
    let mut reached = None;
    for a in addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(_)) => {
                reached = Some(*a);
                break;
            }
            Ok(Err(e)) => last = format!("{a}: {e}"),
            Err(_) => last = format!("{a}: no answer in {timeout:?}"),
        }
    }
    match reached {
        Some(a) => tcp.done(true, t, format!("{a}"), json!({"address": a.to_string()})),
        None => tcp.done(false, t, format!("cannot connect: {last}"), Value::Null),
    }
    reached
}

/// The TLS stage against `addr` (plain HTTP passes it as such); whether the
/// connection is one to send credentials over.
pub(super) async fn tls(
    tls: &mut Stage,
    https: bool,
    connect: &ConnectArgs,
    addr: SocketAddr,
    host: &str,
    timeout: Duration,
) -> anyhow::Result<bool> {
    if !https {
        tls.ok = Some(true);
        tls.detail = "plain HTTP (no TLS)".into();
        tls.data = json!({"tls": false});
        return Ok(true);
    }
    let verify = !connect.insecure;
    // Built before the clock starts: loading the system's CA store is
    // not part of the handshake.
    let config = connect.tls_config()?;
    let unverified = Arc::new(tls_config(connect, false)?);
    let t = Instant::now();
    match handshake(config, addr, host, timeout).await {
        Ok((version, cert)) => {
            let mut data = cert.as_deref().map_or(Value::Null, describe);
            data["version"] = version.clone().into();
            data["verified"] = verify.into();
            let subject = data["subject"].as_str().unwrap_or("?").to_owned();
            let expiry = data["not_after"].as_str().unwrap_or("?").to_owned();
            tls.done(
                true,
                t,
                format!(
                    "{version}, {subject}, expires {expiry}, {}",
                    if verify {
                        "verifies"
                    } else {
                        "NOT verified (--insecure)"
                    }
                ),
                data,
            );
            Ok(true)
        }
        Err(e) => {
            let why = root_cause(&e);
            // Read the certificate anyway, to say what it is.
            let seen = handshake(unverified, addr, host, timeout).await.ok();
            let mut data = seen
                .as_ref()
                .and_then(|(_, c)| c.as_deref())
                .map_or(Value::Null, describe);
            if !data.is_object() {
                data = json!({});
            }
            data["verified"] = false.into();
            data["error"] = why.clone().into();
            let what = match seen {
                Some((version, _)) => format!(
                    "{version}, {} issued by {}",
                    data["subject"].as_str().unwrap_or("?"),
                    data["issuer"].as_str().unwrap_or("?")
                ),
                None => "no TLS handshake at all".to_owned(),
            };
            tls.done(
                false,
                t,
                format!("certificate does not verify ({why}): {what}; give its CA with --ca-cert"),
                data,
            );
            Ok(false)
        }
    }
}
