//! Validation of report bodies: the contract's field rules first (required,
//! format, code lists, all read from `mss-contract`), then the stateless business
//! rules. What passes comes out as a compact typed request for the store, which
//! applies the stateful rules.
//!
//! The order of the checks, first failure wins, is documented in
//! `contract/README.md` ("Validation order"); the functions below follow it.

use chrono::NaiveDate;
use mss_contract::enumerations::Enumerated;
use mss_contract::rules::{self, Sexo};
use mss_contract::{Contract, Regimen};

use crate::deviate::{Deviations, PerService};
use mss_contract::Role;

mod body;
mod fields;

use body::text;
pub use body::{Body, Field};
pub use fields::check_fields;
use fields::{bad, date, missing};

/// A refusal: the role of the envelope's `codigo` (its spelling and HTTP
/// status come from `errores.csv`) and the `mensaje`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The codigo's role in the contract.
    pub codigo: Role,
    /// Human-readable message, in Spanish like the ministry's.
    pub mensaje: String,
    /// An internal error outside the contract (only a deviation fakes one):
    /// answered 500 with a codigo the contract does not list.
    pub internal: bool,
    /// The field the refusal is about, when the field rules name one (the
    /// harness's feeder reports a bad row by it).
    pub campo: Option<String>,
}

impl Rejection {
    /// A refusal with the codigo of `role` and `mensaje`.
    pub fn new(codigo: Role, mensaje: impl Into<String>) -> Self {
        Rejection {
            codigo,
            mensaje: mensaje.into(),
            internal: false,
            campo: None,
        }
    }

    /// The same refusal, about field `campo`.
    pub fn on(mut self, campo: &str) -> Self {
        self.campo = Some(campo.to_owned());
        self
    }

    /// An internal error (a 500 outside the contract).
    pub fn internal(mensaje: impl Into<String>) -> Self {
        Rejection {
            internal: true,
            ..Rejection::new(Role::MalformedBody, mensaje)
        }
    }
}

/// `tipoNovedad`, the contract's typed value.
pub use mss_contract::Novedad;

/// The byte the store keeps for `novedad`: its place in the contract's list.
pub fn novedad_byte(novedad: Novedad) -> u8 {
    Novedad::ALL
        .iter()
        .position(|&n| n == novedad)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// The novelty of a stored byte (see [`novedad_byte`]).
pub fn novedad_of_byte(b: u8) -> Novedad {
    Novedad::ALL
        .get(usize::from(b))
        .copied()
        .unwrap_or(Novedad::Afiliacion)
}

/// What every report body names: its numeroRadicado, the administrator that
/// files it, and the person it is about (the document).
#[derive(Debug)]
pub struct Filing<'a> {
    pub radicado: &'a str,
    pub administradora: u8,
    pub tipo_documento: u8,
    pub numero_documento: &'a str,
}

/// A `ReportarAfiliaciontraslado` body that passed every stateless check.
#[derive(Debug)]
pub struct Affiliation<'a> {
    pub filing: Filing<'a>,
    pub novedad: Novedad,
    /// `tipoNovedad` as the body, and so the contract, spells it (for messages).
    pub tipo_novedad: &'a str,
    pub fecha_solicitud: NaiveDate,
    pub origen: Option<u8>,
}

/// A `ReportarRetractoAfiliacion` body that passed every stateless check.
#[derive(Debug)]
pub struct Retraction<'a> {
    pub filing: Filing<'a>,
    pub transaccion: &'a str,
    pub fecha_retracto: NaiveDate,
}

/// The [`Filing`] of a body whose administrator (its index) is known.
fn filing<'a>(
    contract: &Contract,
    body: &'a Body<'_>,
    administradora: u8,
) -> Result<Filing<'a>, Rejection> {
    Ok(Filing {
        radicado: need(body, "numeroRadicado")?,
        administradora,
        tipo_documento: index_of_tipo(contract, need(body, "tipoDocumento")?)?,
        numero_documento: need(body, "numeroDocumento")?,
    })
}

/// Everything after [`check_fields`] needs these fields; they are present and
/// well-formed once it passed, so a `None` here is a contract that makes a field
/// optional the code relies on: reported as VAL01 rather than a panic.
fn need<'b>(body: &'b Body<'_>, name: &str) -> Result<&'b str, Rejection> {
    text(body, name).ok_or_else(|| missing(name))
}

fn need_date(body: &Body<'_>, name: &str) -> Result<NaiveDate, Rejection> {
    date(need(body, name)?).ok_or_else(|| bad(name, "no es una fecha válida AAAA-MM-DD"))
}

/// The index (as the store keeps it) of the row of `codes` spelled `codigo`;
/// else refused as `role`, with `unknown` and the codigo as the message.
fn index_of<'c>(
    mut codes: impl Iterator<Item = &'c str>,
    codigo: &str,
    role: Role,
    unknown: &str,
) -> Result<u8, Rejection> {
    codes
        .position(|c| c == codigo)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| Rejection::new(role, format!("{unknown} {codigo}")))
}

fn index_of_admin(contract: &Contract, codigo: &str) -> Result<u8, Rejection> {
    let codes = contract.administradoras.iter().map(|a| a.codigo.as_str());
    index_of(
        codes,
        codigo,
        Role::UnknownAdministrator,
        "administradora desconocida",
    )
}

fn index_of_tipo(contract: &Contract, codigo: &str) -> Result<u8, Rejection> {
    let codes = contract.tipos_documento.iter().map(|t| t.codigo.as_str());
    index_of(
        codes,
        codigo,
        Role::BadDocumentType,
        "tipo de documento desconocido",
    )
}

fn own_administrator(
    contract: &Contract,
    administradora: u8,
    token_admin: u8,
) -> Result<(), Rejection> {
    if administradora == token_admin {
        return Ok(());
    }
    let name = |i: u8| {
        contract
            .administradoras
            .get(usize::from(i))
            .map(|a| a.codigo.as_str())
            .unwrap_or("?")
    };
    Err(Rejection::new(
        Role::NotEntitled,
        format!(
            "codigoAdministradora {} no es la administradora del token ({})",
            name(administradora),
            name(token_admin)
        ),
    ))
}

/// Validate a `ReportarAfiliaciontraslado` body up to the stateful rules.
pub fn affiliation<'a>(
    contract: &Contract,
    body: &'a Body<'_>,
    token_admin: u8,
    today: NaiveDate,
    dev: &Deviations,
) -> Result<Affiliation<'a>, Rejection> {
    let waived = check_fields(contract, body, dev)?;
    let tipo_novedad = need(body, "tipoNovedad")?;
    let novedad = contract
        .enumerations()
        .parse::<Novedad>(tipo_novedad)
        .ok_or_else(|| bad("tipoNovedad", "valor desconocido"))?;
    let nacimiento = need_date(body, "fechaNacimiento")?;
    let fecha_solicitud = need_date(body, "fechaSolicitud")?;
    if fecha_solicitud > today {
        return Err(bad(
            "fechaSolicitud",
            &format!("no puede ser futura (hoy es {today})"),
        ));
    }
    if fecha_solicitud < rules::EARLIEST_REQUEST {
        return Err(bad(
            "fechaSolicitud",
            &format!(
                "anterior al sistema general de pensiones ({})",
                rules::EARLIEST_REQUEST
            ),
        ));
    }
    if nacimiento < rules::EARLIEST_BIRTH {
        return Err(bad(
            "fechaNacimiento",
            &format!("anterior a {}", rules::EARLIEST_BIRTH),
        ));
    }
    let min_age = rules::MIN_AGE_AT_REQUEST.saturating_add_signed(dev.shift("BND-EDAD"));
    if rules::age_on(nacimiento, fecha_solicitud) < min_age {
        return Err(bad(
            "fechaNacimiento",
            &format!("edad mínima {min_age} años en fechaSolicitud"),
        ));
    }
    if let Some(efectividad) = text(body, "fechaEfectividad").and_then(date) {
        let latest = fecha_solicitud
            .checked_add_months(chrono::Months::new(rules::MAX_MONTHS_TO_EFFECTIVE_DATE))
            .unwrap_or(NaiveDate::MAX);
        if efectividad < fecha_solicitud || efectividad > latest {
            return Err(bad(
                "fechaEfectividad",
                &format!(
                    "debe estar entre fechaSolicitud y {} meses después",
                    rules::MAX_MONTHS_TO_EFFECTIVE_DATE
                ),
            ));
        }
    }
    if let (Some(nit), Some(dv)) = (
        text(body, "numeroDocumentoEmpleador"),
        text(body, "digitoVerificacion"),
    ) && !waived.contains(&"numeroDocumentoEmpleador")
        && !waived.contains(&"digitoVerificacion")
        && rules::nit_check_digit(nit)
            .map(|d| d.to_string())
            .as_deref()
            != Some(dv)
    {
        return Err(bad(
            "digitoVerificacion",
            "no corresponde a numeroDocumentoEmpleador",
        ));
    }

    let administradora = index_of_admin(contract, need(body, "codigoAdministradora")?)?;
    let destino = &contract.administradoras[usize::from(administradora)];
    let spelled = contract.enumerations();
    let regimen_destino = spelled
        .parse::<Regimen>(need(body, "regimenDestino")?)
        .ok_or_else(|| bad("regimenDestino", "valor desconocido"))?;
    if regimen_destino != destino.regimen && !dev.has("RUL-VAL04") {
        return Err(Rejection::new(
            Role::UnknownAdministrator,
            format!(
                "regimenDestino {} no concuerda con {} ({})",
                spelled.spelling(regimen_destino),
                destino.nombre,
                spelled.spelling(destino.regimen)
            ),
        ));
    }
    let origen = match novedad {
        Novedad::Afiliacion => None,
        Novedad::TrasladoRegimen | Novedad::TrasladoAdministradora => {
            let codigo = need(body, "codigoAdministradoraOrigen")?;
            let i = index_of_admin(contract, codigo)?;
            let origen = &contract.administradoras[usize::from(i)];
            let consistent = match novedad {
                Novedad::TrasladoRegimen => origen.regimen != destino.regimen,
                _ => origen.regimen == Regimen::Rais && destino.regimen == Regimen::Rais,
            };
            if !consistent {
                return Err(Rejection::new(
                    Role::UnknownAdministrator,
                    format!(
                        "{tipo_novedad}: origen {} ({}) y destino {} ({}) no concuerdan con la novedad",
                        origen.nombre,
                        spelled.spelling(origen.regimen),
                        destino.nombre,
                        spelled.spelling(destino.regimen)
                    ),
                ));
            }
            Some(i)
        }
    };
    if !dev.on(
        mss_contract::Service::Afiliacion,
        PerService::AuthOtherAdministrator,
    ) {
        own_administrator(contract, administradora, token_admin)?;
    }
    if novedad == Novedad::TrasladoAdministradora
        && origen == Some(administradora)
        && !dev.has("RUL-NEG05")
    {
        return Err(Rejection::new(
            Role::SameAdministrator,
            "Traslado a la misma administradora de origen",
        ));
    }
    if novedad == Novedad::TrasladoRegimen && !dev.has("RUL-NEG02") {
        let sexo = (contract.enumerations().parse::<Sexo>(need(body, "sexo")?))
            .ok_or_else(|| bad("sexo", "valor desconocido"))?;
        let edad = dev.age_on(nacimiento, fecha_solicitud);
        let limite = sexo
            .regime_transfer_age_limit()
            .saturating_add_signed(dev.shift("BND-NEG02"));
        if edad >= limite {
            return Err(Rejection::new(
                Role::PensionAge,
                format!(
                    "Traslado de régimen no permitido: {edad} años en fechaSolicitud; faltan {} años o menos para la edad de pensión ({})",
                    rules::YEARS_BEFORE_PENSION_WITHOUT_TRANSFER,
                    sexo.pension_age()
                ),
            ));
        }
    }
    Ok(Affiliation {
        filing: filing(contract, body, administradora)?,
        novedad,
        tipo_novedad,
        fecha_solicitud,
        origen,
    })
}

/// Validate a `ReportarRetractoAfiliacion` body up to the stateful rules.
pub fn retraction<'a>(
    contract: &Contract,
    body: &'a Body<'_>,
    token_admin: u8,
    today: NaiveDate,
    dev: &Deviations,
) -> Result<Retraction<'a>, Rejection> {
    check_fields(contract, body, dev)?;
    let fecha_retracto = need_date(body, "fechaRetracto")?;
    if fecha_retracto < rules::EARLIEST_REQUEST {
        return Err(bad(
            "fechaRetracto",
            &format!("anterior a {}", rules::EARLIEST_REQUEST),
        ));
    }
    if fecha_retracto > today {
        return Err(bad(
            "fechaRetracto",
            &format!("no puede ser futura (hoy es {today})"),
        ));
    }
    let administradora = index_of_admin(contract, need(body, "codigoAdministradora")?)?;
    if !dev.on(
        mss_contract::Service::Retracto,
        PerService::AuthOtherAdministrator,
    ) {
        own_administrator(contract, administradora, token_admin)?;
    }
    Ok(Retraction {
        filing: filing(contract, body, administradora)?,
        transaccion: need(body, "numeroTransaccionAfiliacion")?,
        fecha_retracto,
    })
}
