//! How the harness connects to a target: TLS (verification always on unless
//! `--insecure` for a loopback mock), an extra CA, name-resolution overrides,
//! timeouts, keep-alive, and redirects that never leave the target's host.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Connection settings shared by `run`, `preflight` and `conform`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// A CA certificate (PEM, may hold several) to trust besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate: for the mock on loopback only; refused for any
    /// other host.
    #[arg(long)]
    pub insecure: bool,
    /// Resolve HOST:PORT to ADDR instead of asking DNS, as curl's --resolve
    /// (repeatable), e.g. `ministerio.test:8443:127.0.0.1`.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// The one TLS configuration built from these settings, once (loading
    /// the system's CA store is not free); clones share it.
    #[arg(skip)]
    tls: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
}

/// A `--resolve` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Host name as the URL spells it.
    pub host: String,
    /// Where it goes.
    pub addr: SocketAddr,
}

/// Parse `HOST:PORT:ADDR` (ADDR may be `[v6]`).
pub fn parse_override(text: &str) -> anyhow::Result<Override> {
    let bad = || {
        anyhow::anyhow!(
            "--resolve {text:?}: expected HOST:PORT:ADDR, e.g. ministerio.test:8443:127.0.0.1"
        )
    };
    let (host, rest) = text.split_once(':').ok_or_else(bad)?;
    let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip: IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Override {
        host: host.to_ascii_lowercase(),
        addr: SocketAddr::new(ip, port),
    })
}

/// Whether `host` (as a URL spells it) is this machine: `localhost` or a
/// loopback address written out. Any other name is treated as production,
/// wherever it resolves: a name can point anywhere.
pub fn is_local_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ConnectArgs {
    /// The overrides, parsed.
    pub fn overrides(&self) -> anyhow::Result<Vec<Override>> {
        self.resolve.iter().map(|r| parse_override(r)).collect()
    }

    /// The address `host:port` goes to when overridden.
    pub fn override_for(&self, host: &str, port: u16) -> anyhow::Result<Option<SocketAddr>> {
        Ok(self
            .overrides()?
            .into_iter()
            .find(|o| o.host.eq_ignore_ascii_case(host) && o.addr.port() == port)
            .map(|o| o.addr))
    }

    /// Refuse `--insecure` for a host that is not this machine.
    pub fn check_insecure(&self, host: &str) -> anyhow::Result<()> {
        if self.insecure && !is_local_host(host) {
            bail!(
                "--insecure is for the mock on loopback only; {host} is not loopback (give its CA with --ca-cert)"
            );
        }
        Ok(())
    }

    /// The TLS configuration every connection of the harness uses (the
    /// transport's and reqwest's): the system's roots plus `--ca-cert`,
    /// certificates always verified — except with `--insecure`, which
    /// [`check_insecure`](Self::check_insecure) admits for loopback only.
    /// Built once; later calls share it.
    pub fn tls_config(&self) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = self.tls.get() {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(tls_config(self, !self.insecure)?);
        Ok(Arc::clone(self.tls.get_or_init(|| config)))
    }

    /// An HTTP client for `base` (`scheme://host[:port]`): TLS verification on
    /// (plus `--ca-cert`), `--insecure` only for loopback, overrides, timeouts,
    /// keep-alive, and redirects followed only within `base`'s host.
    pub fn client(
        &self,
        base: &reqwest::Url,
        connect_timeout: Duration,
        timeout: Option<Duration>,
    ) -> anyhow::Result<reqwest::Client> {
        let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
        self.check_insecure(&host)?;
        let allowed = host.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let same = attempt
                .url()
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&allowed));
            if !same {
                let to = attempt.url().host_str().unwrap_or("?").to_owned();
                attempt.error(format!("redirect to another host ({to}) refused"))
            } else if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else {
                attempt.follow()
            }
        });
        let mut b = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(usize::MAX)
            .tcp_keepalive(Duration::from_secs(30))
            .no_proxy()
            .redirect(policy);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        // The same rustls configuration as the transport's: one set of roots,
        // one verification rule.
        b = b.tls_backend_preconfigured(rustls::ClientConfig::clone(&*self.tls_config()?));
        for o in self.overrides()? {
            b = b.resolve(&o.host, o.addr);
        }
        b.build().context("cannot build the HTTP client")
    }
}

/// Accepts any certificate: used to read a certificate that did not verify
/// (preflight), and for `--insecure` against a loopback mock.
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

/// A rustls configuration from `args`: verifying against the system's roots
/// plus `--ca-cert`, or (`verify` false) accepting any certificate.
pub fn tls_config(args: &ConnectArgs, verify: bool) -> anyhow::Result<rustls::ClientConfig> {
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
            let cert = item
                .with_context(|| format!("--ca-cert {}: not PEM certificates", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("--ca-cert {}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            bail!("--ca-cert {}: no certificate in it", path.display());
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts_are_named_or_literal_loopback() {
        assert!(is_local_host("localhost"));
        assert!(is_local_host("127.0.0.1"));
        assert!(is_local_host("[::1]"));
        assert!(!is_local_host("miseguridadsocial.gov.co"));
        assert!(!is_local_host("ministerio.test"));
        assert!(!is_local_host("10.0.0.1"));
    }

    #[test]
    fn overrides_parse_and_name_what_is_wrong() {
        let o = parse_override("Ministerio.test:8443:127.0.0.1").expect("ok");
        assert_eq!(o.host, "ministerio.test");
        assert_eq!(o.addr, "127.0.0.1:8443".parse().expect("addr"));
        assert!(parse_override("x:1:[::1]").is_ok());
        for bad in ["x", "x:1", "x:port:127.0.0.1", "x:1:nohost", ":1:127.0.0.1"] {
            let e = parse_override(bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn insecure_is_refused_outside_loopback() {
        let args = ConnectArgs {
            insecure: true,
            ..ConnectArgs::default()
        };
        assert!(args.check_insecure("127.0.0.1").is_ok());
        let e = args.check_insecure("ministerio.test").expect_err("refused");
        assert!(e.to_string().contains("ministerio.test"));
    }
}
