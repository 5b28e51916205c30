//! JSON Lines of report bodies (`mss-harness payload`): valid affiliations,
//! valid retractions of accepted affiliations (read from JSON Lines such as
//! the mock's `GET /__admin/records`, or else the affiliations the same seed
//! draws, with `numeroTransaccionAfiliacion` set to [`PENDING_TRANSACTION`]),
//! or the invalid cases of one codigo.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use serde::Deserialize;

use super::invalid::{self, InvalidGenerator, PENDING_TRANSACTION};
use super::{AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator};
use crate::domain::Service;

/// Which bodies to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bodies {
    /// Valid affiliations.
    Affiliations,
    /// Valid retractions of the affiliations in `accepted` (JSON Lines), or
    /// of those the same seed draws.
    Retractions {
        /// The accepted affiliations' file.
        accepted: Option<PathBuf>,
    },
    /// Invalid cases the protocol must reject with `codigo`; `service`, when
    /// asked for, must be the codigo's.
    Invalid {
        /// The codigo.
        codigo: String,
        /// The service asked for.
        service: Option<Service>,
    },
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

fn read_accepted(path: &Path, limit: u64) -> anyhow::Result<Vec<AcceptedAffiliation>> {
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

/// Write `count` of `bodies`, drawn with `config`, to `out`, one JSON object
/// a line; what the reader should know (a placeholder written, affiliations
/// past their retraction window skipped) goes to `notes`.
pub fn write(
    config: GeneratorConfig,
    bodies: &Bodies,
    count: u64,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let contract = config.contract.clone();
    let mut affiliations = AffiliationGenerator::new(config.clone())?;
    let mut retractions = RetractionGenerator::new(config)?;
    match bodies {
        Bodies::Invalid { codigo, service } => {
            let kind = invalid::kind(&contract, codigo)?;
            if let Some(wanted) = service
                && *wanted != kind.service
            {
                bail!(
                    "--invalid {} is a case of {}; drop --service or use the matching one",
                    kind.codigo(&contract),
                    kind.service.name()
                );
            }
            let mut cases = InvalidGenerator::new(&mut affiliations, &mut retractions);
            for _ in 0..count {
                let case = cases.case(kind.codigo(&contract))?;
                serde_json::to_writer(&mut *out, &case)?;
                out.write_all(b"\n")?;
            }
        }
        Bodies::Affiliations => {
            for _ in 0..count {
                serde_json::to_writer(&mut *out, &affiliations.next_affiliation()?)?;
                out.write_all(b"\n")?;
            }
        }
        Bodies::Retractions { accepted } => {
            let accepted = match accepted {
                Some(path) => read_accepted(path, count)?,
                None => {
                    writeln!(
                        notes,
                        "mss-harness: no --accepted file: numeroTransaccionAfiliacion is {PENDING_TRANSACTION}; \
                         fill it with the numeroTransaccion the target returned for each affiliation"
                    )?;
                    (0..count)
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
                writeln!(
                    notes,
                    "mss-harness: {closed} of {} accepted affiliations are past their 5-business-day retraction window; skipped",
                    accepted.len()
                )?;
            }
        }
    }
    Ok(out.flush()?)
}
