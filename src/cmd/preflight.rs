//! `mss-harness preflight --target URL`: the connectivity check the protocol
//! asks for ("gestión de conectividad — validación de credenciales, token"),
//! stage by stage with times: DNS, TCP connect, TLS handshake (version,
//! certificate, whether it verifies), the token request, the clock skew from
//! the `Date` header, and one harmless call per service (refused by design, so
//! nothing real is reported). A table and `preflight.json`; exit 0 when every
//! stage works, 1 when one does not, 2 on bad usage.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{Value, json};

use crate::connect::ConnectArgs;
use crate::domain::{Contract, Service};
use crate::generator::{AcceptedAffiliation, GeneratorConfig, RetractionGenerator};

/// Flags of `preflight`.
#[derive(Debug, Clone, clap::Args)]
pub struct PreflightArgs {
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Base URL of the target, e.g. https://miseguridadsocial.gov.co:8062.
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Credentials file (TOML, mode 600); else MSS_USERNAME, MSS_PASSWORD,
    /// MSS_CLIENT_ID (or MSS_CLIENT_ID_AFILIACION and MSS_CLIENT_ID_RETRACTO).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Code of the administrator the credentials belong to [default: the
    /// contract's default administrator, `por_defecto`].
    #[arg(long)]
    pub administradora: Option<String>,
    /// Connection settings.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Timeout of establishing a connection.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
    /// Timeout of one request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Where preflight.json goes [default: results/preflight-<UTC time>].
    #[arg(long, value_name = "DIR")]
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

/// Accepts any certificate: used to read a certificate that did not verify,
/// and for `--insecure` against a loopback mock.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(args: &ConnectArgs, verify: bool) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))?;
        let mut n = 0;
        for item in CertificateDer::pem_slice_iter(&pem) {
            let cert = item.with_context(|| format!("--ca-cert {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("--ca-cert {}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            anyhow::bail!("--ca-cert {}: no certificate in it", path.display());
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

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
    config: rustls::ClientConfig,
    addr: SocketAddr,
    host: &str,
    timeout: Duration,
) -> anyhow::Result<(String, Option<Vec<u8>>)> {
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connect timed out"))??;
    let name = ServerName::try_from(host.to_owned()).context("server name")?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
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

/// The password grant for `client_id` at `base`/token.
async fn token_request(
    client: &reqwest::Client,
    base: &str,
    creds: &crate::credentials::CredentialSet,
    client_id: &str,
) -> reqwest::Result<reqwest::Response> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", &creds.username)
        .append_pair("password", creds.password.expose())
        .append_pair("client_id", client_id)
        .finish();
    client
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
}

fn root_cause(e: &anyhow::Error) -> String {
    e.chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Run the stages with `contract`; the process's exit code.
pub fn run(args: &PreflightArgs, contract: &Arc<Contract>) -> u8 {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mss-harness: preflight: {e}");
            return 2;
        }
    };
    match rt.block_on(preflight(args, contract)) {
        Ok((stages, dir)) => {
            print(&stages, &args.target);
            println!("wrote {}", dir.join("preflight.json").display());
            if stages.iter().all(|s| s.ok == Some(true)) {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("mss-harness: preflight: {e:#}");
            2
        }
    }
}

fn print(stages: &[Stage], target: &str) {
    println!("preflight of {target}");
    println!("{:<28} {:<7} {:>9}  detail", "stage", "result", "time");
    for s in stages {
        let result = match s.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "-",
        };
        let ms = s.ms.map_or_else(String::new, |m| format!("{m:.1} ms"));
        println!("{:<28} {result:<7} {ms:>9}  {}", s.name, s.detail);
    }
    if let Some(failed) = stages.iter().find(|s| s.ok == Some(false)) {
        println!("\npreflight FAILED at {}: {}", failed.name, failed.detail);
    } else {
        println!("\npreflight passed: every stage works");
    }
}

/// The stages against `args.target` and the folder preflight.json went to.
pub async fn preflight(
    args: &PreflightArgs,
    contract: &Arc<Contract>,
) -> anyhow::Result<(Vec<Stage>, PathBuf)> {
    let administradora = args
        .administradora
        .clone()
        .unwrap_or_else(|| contract.default_administradora().codigo.clone());
    let base = args.target.trim_end_matches('/').to_owned();
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
    args.connect.check_insecure(&host)?;
    let overridden = args.connect.override_for(&host, port)?;
    let creds = crate::credentials::from_file_or_env(args.credentials.as_deref())?;
    let (afi_client, ret_client) = creds.client_ids()?;
    let client = args
        .connect
        .client(&url, args.connect_timeout, Some(args.timeout))?;
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("preflight-{}", Utc::now().format("%Y%m%dT%H%M%SZ")))
    });

    let mut dns = Stage::new("DNS resolution");
    let mut tcp = Stage::new("TCP connect");
    let mut tls = Stage::new("TLS handshake");
    let mut token = Stage::new("token (POST /token)");
    let mut skew = Stage::new("clock skew (Date header)");
    let mut afi = Stage::new("ReportarAfiliaciontraslado");
    let mut ret = Stage::new("ReportarRetractoAfiliacion");
    let stages = |v: [&Stage; 7]| v.into_iter().cloned().collect::<Vec<_>>();

    // DNS.
    let t = Instant::now();
    let addrs: Vec<SocketAddr> = match overridden {
        Some(a) => {
            dns.done(
                true,
                t,
                format!("{a} (--resolve)"),
                json!({"addresses": [a.to_string()], "override": true}),
            );
            vec![a]
        }
        None => match tokio::net::lookup_host((host.as_str(), port)).await {
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
    };
    // TCP.
    let mut reached = None;
    if !addrs.is_empty() {
        let t = Instant::now();
        let mut last = String::new();
        for a in &addrs {
            match tokio::time::timeout(args.connect_timeout, tokio::net::TcpStream::connect(a))
                .await
            {
                Ok(Ok(_)) => {
                    reached = Some(*a);
                    break;
                }
                Ok(Err(e)) => last = format!("{a}: {e}"),
                Err(_) => last = format!("{a}: no answer in {:?}", args.connect_timeout),
            }
        }
        match reached {
            Some(a) => tcp.done(true, t, format!("{a}"), json!({"address": a.to_string()})),
            None => tcp.done(false, t, format!("cannot connect: {last}"), Value::Null),
        }
    }
    // TLS.
    let mut secure = reached.is_some();
    if let Some(addr) = reached {
        if https {
            let verify = !args.connect.insecure;
            // Built before the clock starts: loading the system's CA store is
            // not part of the handshake.
            let config = tls_config(&args.connect, verify)?;
            let unverified = tls_config(&args.connect, false)?;
            let t = Instant::now();
            match handshake(config, addr, &host, args.connect_timeout).await {
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
                }
                Err(e) => {
                    secure = false;
                    let why = root_cause(&e);
                    // Read the certificate anyway, to say what it is.
                    let seen = handshake(unverified, addr, &host, args.connect_timeout)
                        .await
                        .ok();
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
                }
            }
        } else {
            tls.ok = Some(true);
            tls.detail = "plain HTTP (no TLS)".into();
            tls.data = json!({"tls": false});
        }
    }
    // Token, skew, services.
    if secure {
        let t = Instant::now();
        let sent_at = Utc::now();
        let answer = token_request(&client, &base, &creds, &afi_client).await;
        let redact = |s: String| s.replace(creds.password.expose(), "<redacted>");
        let mut access = None;
        match answer {
            Err(e) => token.done(
                false,
                t,
                redact(format!("no answer: {}", root_cause(&anyhow::Error::new(e)))),
                Value::Null,
            ),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let date = resp
                    .headers()
                    .get(reqwest::header::DATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let elapsed = t.elapsed();
                let expires = body["expires_in"].as_u64();
                if status == 200 && body["access_token"].as_str().is_some_and(|s| !s.is_empty()) {
                    access = body["access_token"].as_str().map(str::to_owned);
                    let within = expires.is_some_and(|e| (1..=300).contains(&e));
                    token.done(
                        within,
                        t,
                        format!(
                            "200, expires_in {}{}",
                            expires.map_or("missing".into(), |e| format!("{e} s")),
                            if within {
                                ""
                            } else {
                                " (the protocol says 300 s)"
                            }
                        ),
                        json!({"status": status, "expires_in": expires}),
                    );
                } else {
                    let error = body["error"].as_str().unwrap_or("");
                    token.done(
                        false,
                        t,
                        redact(format!(
                            "{status} {error}: the credentials were refused{}",
                            body["error_description"]
                                .as_str()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        )),
                        json!({"status": status, "error": error}),
                    );
                }
                let t = Instant::now();
                match date.as_deref().map(DateTime::parse_from_rfc2822) {
                    Some(Ok(server)) => {
                        let local =
                            sent_at + chrono::TimeDelta::from_std(elapsed / 2).unwrap_or_default();
                        let seconds =
                            (server.with_timezone(&Utc) - local).num_milliseconds() as f64 / 1000.0;
                        let ok = seconds.abs() <= 60.0;
                        skew.done(
                            ok,
                            t,
                            format!(
                                "{seconds:+.1} s (server minus this machine; the Date header has 1-second resolution){}",
                                if ok { "" } else { ": tokens may look expired early or late" }
                            ),
                            json!({"seconds": seconds, "date": date}),
                        );
                    }
                    Some(Err(e)) => skew.done(
                        false,
                        t,
                        format!("unreadable Date header {date:?}: {e}"),
                        Value::Null,
                    ),
                    None => skew.done(false, t, "no Date header in the answer", Value::Null),
                }
            }
        }
        if let Some(tok) = access {
            // A retraction of an affiliation that does not exist, and an
            // affiliation without its required fields: both must be refused.
            let mut config = GeneratorConfig::new(contract, 1, &administradora);
            config.radicado_prefix = "MSSPREFLIGHT".into();
            let mut g = RetractionGenerator::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
            let accepted = AcceptedAffiliation {
                numero_transaccion: format!("NOEXISTE{:09}", rand::random::<u32>() % 1_000_000_000),
                codigo_administradora: administradora.clone(),
                // A type for pensions that takes this number (a cédula).
                tipo_documento: contract
                    .tipos_documento
                    .iter()
                    .find(|t| t.permitido_pensiones && t.patron_numero.is_match("1000000001"))
                    .map(|t| t.codigo.clone())
                    .unwrap_or_default(),
                numero_documento: "1000000001".into(),
                fecha_solicitud: crate::domain::today_bogota(),
            };
            let retraction = serde_json::to_value(g.retraction_dated(
                &accepted,
                accepted.fecha_solicitud,
                None,
            ))?;
            let empty = json!({"codigoAdministradora": administradora});
            let mut ret_token = tok.clone();
            if ret_client != afi_client {
                // One client_id per service: the retraction needs its own token.
                if let Ok(r) = token_request(&client, &base, &creds, &ret_client).await
                    && let Ok(v) = r.json::<Value>().await
                    && let Some(t) = v["access_token"].as_str()
                {
                    ret_token = t.to_owned();
                }
            }
            for (stage, service, body, token, expected) in [
                (
                    &mut afi,
                    Service::Afiliacion,
                    &empty,
                    &tok,
                    "a validation refusal (VAL01)",
                ),
                (
                    &mut ret,
                    Service::Retracto,
                    &retraction,
                    &ret_token,
                    "a business refusal (NEG10)",
                ),
            ] {
                let t = Instant::now();
                let r = client
                    .post(format!("{base}{}", service.path()))
                    .bearer_auth(token)
                    .json(body)
                    .send()
                    .await;
                match r {
                    Err(e) => stage.done(
                        false,
                        t,
                        format!("no answer: {}", root_cause(&anyhow::Error::new(e))),
                        Value::Null,
                    ),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let v: Value = resp.json().await.unwrap_or(Value::Null);
                        let codigo = v["codigo"].as_str().unwrap_or("").to_owned();
                        let refused = (400..500).contains(&status)
                            && !matches!(status, 401 | 403 | 404 | 405);
                        stage.done(
                            refused,
                            t,
                            if refused {
                                format!("{status} {codigo}: refused as intended, nothing reported")
                            } else {
                                format!("{status} {codigo}: expected {expected}")
                            },
                            json!({"status": status, "codigo": codigo, "mensaje": v["mensaje"]}),
                        );
                    }
                }
            }
        }
    }

    let all = stages([&dns, &tcp, &tls, &token, &skew, &afi, &ret]);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = json!({
        "target": base,
        "host": host,
        "port": port,
        "at": Utc::now().to_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
        "ok": all.iter().all(|s| s.ok == Some(true)),
        "stages": all.iter().map(|s| json!({
            "stage": s.name,
            "ok": s.ok,
            "ms": s.ms,
            "detail": s.detail,
            "data": s.data,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("preflight.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )
    .with_context(|| format!("cannot write {}", dir.join("preflight.json").display()))?;
    Ok((all, dir))
}
