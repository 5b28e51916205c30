//! `mss-harness payload`: synthetic report bodies as JSON Lines.
//!
//! Valid affiliations print one body per line. Valid retractions refer to
//! affiliations the target accepted: give them with `--accepted FILE` (the JSON
//! Lines of the mock's `GET /__admin/records`, or any lines with
//! `numeroTransaccion`, `codigoAdministradora`, `tipoDocumento`,
//! `numeroDocumento` and `fechaSolicitud`); without it they refer to the
//! affiliations the same seed prints, with `numeroTransaccionAfiliacion` set to
//! `PENDIENTE`. With `--invalid CODIGO` each line is a case: set-up requests,
//! the probe and the expected status and codigo.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::ValueEnum;
use mss_contract::Contract;
use serde::Deserialize;

use crate::generator::invalid::{self, InvalidGenerator, PENDING_TRANSACTION};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, DEFAULT_PREFIX, GeneratorConfig, RetractionGenerator,
};

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

/// A line of `--accepted`: a mock record or any object with these fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedLine {
    #[serde(default)]
    servicio: Option<String>,
    #[serde(default)]
    retractada: Option<bool>,
    numero_transaccion: String,
    codigo_administradora: String,
    tipo_documento: String,
    numero_documento: String,
    fecha_solicitud: NaiveDate,
}

fn read_accepted(path: &PathBuf, limit: u64) -> anyhow::Result<Vec<AcceptedAffiliation>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("{}: cannot read line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        if line.contains("\"servicio\"") && line.contains("ReportarRetractoAfiliacion") {
            continue;
        }
        let rec: AcceptedLine = serde_json::from_str(&line).with_context(|| {
            format!("{}:{}: not an accepted affiliation", path.display(), i + 1)
        })?;
        if rec
            .servicio
            .as_deref()
            .is_some_and(|s| s != "ReportarAfiliaciontraslado")
            || rec.retractada == Some(true)
        {
            continue;
        }
        out.push(AcceptedAffiliation {
            numero_transaccion: rec.numero_transaccion,
            codigo_administradora: rec.codigo_administradora,
            tipo_documento: rec.tipo_documento,
            numero_documento: rec.numero_documento,
            fecha_solicitud: rec.fecha_solicitud,
        });
        if out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
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
    let mut affiliations = AffiliationGenerator::new(config.clone())?;
    let mut retractions = RetractionGenerator::new(config)?;

    if let Some(codigo) = &args.invalid {
        let kind = invalid::kind(contract, codigo)?;
        if let Some(s) = args.service {
            let wanted = match s {
                ServiceArg::Afiliacion => mss_contract::Service::Afiliacion,
                ServiceArg::Retracto => mss_contract::Service::Retracto,
            };
            if wanted != kind.service {
                bail!(
                    "--invalid {} is a case of {}; drop --service or use the matching one",
                    kind.codigo(contract),
                    kind.service.name()
                );
            }
        }
        let mut cases = InvalidGenerator::new(&mut affiliations, &mut retractions);
        for _ in 0..args.count {
            let case = cases.case(kind.codigo(contract))?;
            serde_json::to_writer(&mut *out, &case)?;
            out.write_all(b"\n")?;
        }
        return Ok(out.flush()?);
    }

    match args.service.unwrap_or(ServiceArg::Afiliacion) {
        ServiceArg::Afiliacion => {
            for _ in 0..args.count {
                serde_json::to_writer(&mut *out, &affiliations.next_affiliation()?)?;
                out.write_all(b"\n")?;
            }
        }
        ServiceArg::Retracto => {
            let accepted = match &args.accepted {
                Some(path) => read_accepted(path, args.count)?,
                None => {
                    eprintln!(
                        "mss-harness: no --accepted file: numeroTransaccionAfiliacion is {PENDING_TRANSACTION}; \
                         fill it with the numeroTransaccion the target returned for each affiliation"
                    );
                    (0..args.count)
                        .map(|_| {
                            affiliations
                                .next_affiliation()
                                .map(|a| AcceptedAffiliation::of(&a, PENDING_TRANSACTION))
                        })
                        .collect::<Result<_, _>>()?
                }
            };
            let mut closed = 0u64;
            for a in &accepted {
                match retractions.retraction(a) {
                    Some(r) => {
                        serde_json::to_writer(&mut *out, &r)?;
                        out.write_all(b"\n")?;
                    }
                    None => closed += 1,
                }
            }
            if closed > 0 {
                eprintln!(
                    "mss-harness: {closed} of {} accepted affiliations are past their 5-business-day retraction window; skipped",
                    accepted.len()
                );
            }
        }
    }
    Ok(out.flush()?)
}
