//! Command-line arguments of the mock, shared by `mss-mock` and `mss-harness mock`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use mss_contract::Contract;
use tokio::net::TcpListener;

use crate::{Mock, MockConfig};

/// Run the bundled mock Ministry.
#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Address to listen on [default: `listen` of the config, 127.0.0.1:8062].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Configuration file (TOML) [default: the demo configuration, mock_server/mock.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Break one rule of the protocol on purpose, to prove that the conformance
    /// check with this id catches it (repeatable; see --list-deviations).
    #[arg(long, value_name = "ID")]
    pub deviate: Vec<String>,
    /// Print every deviation (id and what it breaks) and exit.
    #[arg(long)]
    pub list_deviations: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The contract of `args`: the folder `--contract` names, else the bundled
/// one. Read once, where the command starts.
pub fn contract(args: &MockArgs) -> anyhow::Result<Arc<Contract>> {
    match &args.contract {
        Some(dir) => Contract::from_dir(dir)
            .map(Arc::new)
            .map_err(|e| anyhow::anyhow!("--contract {}: {e}", dir.display())),
        None => Ok(Arc::clone(Contract::embedded())),
    }
}

/// Load the configuration, bind, print where it listens and serve
/// `contract` until Ctrl-C.
pub async fn run(args: MockArgs, contract: Arc<Contract>) -> anyhow::Result<()> {
    if args.list_deviations {
        for (id, what) in crate::deviate::catalogue(&contract) {
            println!("{id}\t{what}");
        }
        return Ok(());
    }
    let mut config = match &args.config {
        Some(path) => MockConfig::from_file(path, &contract)?,
        None => MockConfig::demo(&contract)?,
    };
    config.deviate.extend(args.deviate.iter().cloned());
    let addr = args.listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let origin = args.config.as_ref().map_or_else(
        || "demo configuration".to_owned(),
        |p| p.display().to_string(),
    );
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => {
            let read = |p: &PathBuf| {
                std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
            };
            Some(
                crate::tls_config(&read(c)?, &read(k)?)
                    .map_err(|e| anyhow::anyhow!("--tls-cert/--tls-key: {e}"))?,
            )
        }
        _ => None,
    };
    let mock = Mock::new(config, contract)?;
    let deviations = mock.deviations();
    if !deviations.is_empty() {
        eprintln!(
            "mss-mock: DEVIATING from the protocol on purpose: {}",
            deviations.ids().collect::<Vec<_>>().join(", ")
        );
    }
    eprintln!(
        "mss-mock listening on {}://{local} ({origin}, {} client_ids, token TTL {} s); Ctrl-C stops it",
        if tls.is_some() { "https" } else { "http" },
        mock.config().clients.len(),
        mock.config().token_ttl_seconds
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(tls) => mock.serve_tls(listener, tls, stop).await,
        None => mock.serve_with_shutdown(listener, stop).await,
    }
    .context("mock server failed")?;
    Ok(())
}
