//! `mss-harness payload`: synthetic report bodies as JSON Lines
//! ([`crate::generator::payload`]).
//!
//! Valid affiliations print one body per line. Valid retractions refer to
//! affiliations the target accepted: give them with `--accepted FILE` (the JSON
//! Lines of the mock's `GET /__admin/records`, or any lines with
//! `numeroTransaccion`, `codigoAdministradora`, `tipoDocumento`,
//! `numeroDocumento` and `fechaSolicitud`); without it they refer to the
//! affiliations the same seed prints, with `numeroTransaccionAfiliacion` set to
//! `PENDIENTE`. With `--invalid CODIGO` each line is a case: set-up requests,
//! the probe and the expected status and codigo.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::ValueEnum;

use crate::domain::Contract;
use crate::generator::payload::{self, Bodies};
use crate::generator::{DEFAULT_PREFIX, GeneratorConfig};

/// Which service's bodies to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    /// `ReportarAfiliaciontraslado`.
    Afiliacion,
    /// `ReportarRetractoAfiliacion`.
    Retracto,
}

/// Flags of `payload`.
#[derive(Debug, Clone, clap::Args)]
pub struct PayloadArgs {
    /// The contract folder (an edited copy of contract/, e.g. from the
    /// ministry's technical annex) [default: the bundled contract].
    #[arg(long, value_name = "DIR")]
    pub contract: Option<PathBuf>,
    /// Service whose bodies to print [default: afiliacion, or the service of the
    /// --invalid variant].
    #[arg(long, value_enum)]
    pub service: Option<ServiceArg>,
    /// How many bodies (or cases with --invalid).
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Seed of the data; the same seed prints the same lines.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print invalid cases that the protocol must reject with this codigo
    /// (VAL01–VAL05, NEG01–NEG05, NEG10–NEG12).
    #[arg(long, value_name = "CODIGO")]
    pub invalid: Option<String>,
    /// Code of the reporting administrator (contract/administradoras.csv)
    /// [default: the contract's default administrator, `por_defecto`].
    #[arg(long)]
    pub administradora: Option<String>,
    /// Worker slot (0–999): disjoint radicados and people per slot.
    #[arg(long, default_value_t = 0)]
    pub worker: u16,
    /// The day taken as today (YYYY-MM-DD) [default: today in Bogotá].
    #[arg(long, value_name = "FECHA")]
    pub as_of: Option<NaiveDate>,
    /// Prefix of every numeroRadicado.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub radicado_prefix: String,
    /// Accepted affiliations to retract (JSON Lines), e.g. the mock's
    /// `GET /__admin/records`.
    #[arg(long, value_name = "FILE")]
    pub accepted: Option<PathBuf>,
}

/// Print what `args` asks for to `out`, following `contract`.
pub fn run(
    args: &PayloadArgs,
    contract: &Arc<Contract>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let administradora = match &args.administradora {
        Some(code) => code.clone(),
        None => contract.default_administradora().codigo.clone(),
    };
    let mut config = GeneratorConfig::new(contract, args.seed, &administradora);
    config.worker = args.worker;
    config.radicado_prefix = args.radicado_prefix.clone();
    if let Some(d) = args.as_of {
        config.as_of = d;
    }
    let service = args.service.map(|s| match s {
        ServiceArg::Afiliacion => mss_contract::Service::Afiliacion,
        ServiceArg::Retracto => mss_contract::Service::Retracto,
    });
    let bodies = match (&args.invalid, args.service) {
        (Some(codigo), _) => Bodies::Invalid {
            codigo: codigo.clone(),
            service,
        },
        (None, None | Some(ServiceArg::Afiliacion)) => Bodies::Affiliations,
        (None, Some(ServiceArg::Retracto)) => Bodies::Retractions {
            accepted: args.accepted.clone(),
        },
    };
    payload::write(config, &bodies, args.count, out, &mut std::io::stderr())
}
