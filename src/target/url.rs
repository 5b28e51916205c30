//! A URL target made ready for a run: admitted by the guards
//! ([`super::guard`]), its credentials read, its host resolved and reached,
//! the HTTP client built with the connection settings, and a first token
//! taken per client_id — all before any report is sent.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::connect::ConnectArgs;
use crate::engine::Target;
use crate::scenario::{CredentialSource, RunPlan, UrlTarget};
use crate::token::{Credentials, TokenCache, TokenPolicy};
use crate::usage::usage;

/// A URL target ready for the load: the target, the client to send with, and
/// the base URL (without a trailing `/`).
#[derive(Debug)]
pub struct Ready {
    /// Where the load goes, with its token caches and, for a production
    /// host, this worker's share of the caps.
    pub target: Target,
    /// The client every request goes through.
    pub http: reqwest::Client,
    /// The base URL.
    pub base: String,
}

/// Make `url` (the target of `plan`) ready: refused, with nothing sent, when
/// a guard, the credentials, the address or the first token says no.
pub async fn prepare(
    plan: &RunPlan,
    url: &UrlTarget,
    connect: &ConnectArgs,
    confirm_production: Option<&str>,
    policy: TokenPolicy,
) -> anyhow::Result<Ready> {
    let base = url.url.trim_end_matches('/').to_owned();
    let parsed =
        reqwest::Url::parse(&base).map_err(|e| usage(format!("target.url {base:?}: {e}")))?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let production = super::guard::admit(&host, &url.allowed_hosts, confirm_production)?;
    connect
        .check_insecure(&host)
        .map_err(|e| usage(e.to_string()))?;
    let creds = match &url.credentials {
        CredentialSource::File(f) => crate::credentials::from_file(Path::new(f)),
        CredentialSource::Env {
            username,
            password,
            client_id,
            client_id_afiliacion,
            client_id_retracto,
        } => crate::credentials::from_env(
            username,
            password,
            client_id.as_deref(),
            client_id_afiliacion.as_deref(),
            client_id_retracto.as_deref(),
        ),
    }
    .map_err(|e| usage(format!("{e:#}")))?;
    crate::secret::redact_panics(vec![creds.password.expose().to_owned()]);
    let (afi_id, ret_id) = creds.client_ids().map_err(|e| usage(e.to_string()))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match connect
        .override_for(&host, port)
        .map_err(|e| usage(e.to_string()))?
    {
        Some(a) => vec![a],
        None => (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| usage(format!("target {host}:{port}: cannot resolve: {e}")))?
            .collect(),
    };
    if !reachable(&addrs, plan.http.connect_timeout).await {
        return Err(usage(format!("target {host}:{port} is unreachable")));
    }
    let http = connect
        .client(&parsed, plan.http.connect_timeout, None)
        .map_err(|e| usage(format!("{e:#}")))?;
    let token_url = format!("{base}/token");
    let endpoint = crate::transport::Endpoint::new(&base, connect, plan.http.connect_timeout)
        .map_err(|e| usage(format!("{e:#}")))?;
    let make = |client_id: String| {
        TokenCache::new(
            http.clone(),
            token_url.clone(),
            Credentials {
                username: creds.username.clone(),
                password: creds.password.clone(),
                client_id,
            },
            policy,
        )
        .over(endpoint.clone())
        .map(Arc::new)
        .map_err(|e| usage(format!("{e:#}")))
    };
    let tokens = if afi_id == ret_id {
        let c = make(afi_id)?;
        [c.clone(), c]
    } else {
        [make(afi_id)?, make(ret_id)?]
    };
    // The first token before any load: wrong credentials or a certificate
    // that does not verify stop the run here, having sent one request.
    for cache in &tokens {
        if let Err(e) = cache.get().await {
            return Err(usage(format!(
                "{base}/token: {e}; no report was sent (`mss-harness preflight --target {base}` checks each stage)"
            )));
        }
    }
    let caps = production.then(|| plan.worker_caps());
    Ok(Ready {
        target: Target {
            base_url: base.clone(),
            tokens,
            others: HashMap::new(),
            caps,
            connect: connect.clone(),
        },
        http,
        base,
    })
}

/// Whether a TCP connection to one of `addrs` opens within `timeout`.
async fn reachable(addrs: &[SocketAddr], timeout: Duration) -> bool {
    for a in addrs {
        if let Ok(Ok(_)) = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            return true;
        }
    }
    false
}
