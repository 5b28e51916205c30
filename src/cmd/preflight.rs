//! `mss-harness preflight --target URL`: the connectivity check the protocol
//! asks for, stage by stage with times ([`crate::preflight`]). A table and
//! `preflight.json`; exit 0 when every stage works, 1 when one does not, 2 on
//! bad usage.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::connect::ConnectArgs;
use crate::domain::Contract;
use crate::preflight::{Options, report};

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

impl PreflightArgs {
    /// What the library is asked to check, following `contract`.
    fn options(&self, contract: &Arc<Contract>) -> Options {
        Options {
            target: self.target.clone(),
            credentials: self.credentials.clone(),
            administradora: self
                .administradora
                .clone()
                .unwrap_or_else(|| contract.default_administradora().codigo.clone()),
            contract: Arc::clone(contract),
            connect: self.connect.clone(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            out: self.out.clone(),
        }
    }
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
    match rt.block_on(crate::preflight::run(&args.options(contract))) {
        Ok((stages, dir)) => {
            print!("{}", report::table(&stages, &args.target));
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
