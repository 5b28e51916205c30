//! The requests of a boundary check: set-up reports that must be accepted,
//! then the report on one side of the boundary, dated from the target's
//! "today".

use std::sync::Arc;

use chrono::{Datelike, Days, Months, NaiveDate};
use mss_contract::rules::{self, Sexo};
use mss_contract::{Administradora, Contract, Regimen};

use super::dates::{add_days, birthday_near, latest_start, retraction_dates};
use super::{Boundary, Rule, th};
use crate::domain::Novedad;
use crate::generator::invalid::{PENDING_TRANSACTION, Step};
use crate::generator::{
    AcceptedAffiliation, AffiliationGenerator, Afiliacion, Persona, RetractionGenerator,
};

/// What a boundary check sends: set-up reports that must be accepted, the
/// probe, and the dates it is about (for a failure's message).
#[derive(Debug)]
pub struct Plan {
    /// Sent first, each must be accepted.
    pub setup: Vec<Step>,
    /// The request on the boundary.
    pub probe: Step,
    /// The codigo it must get; `None`: it must be accepted.
    pub codigo: Option<String>,
    /// The dates, in words.
    pub dates: String,
}

fn admins(contract: &Contract, regimen: Regimen) -> impl Iterator<Item = &Administradora> {
    contract
        .administradoras
        .iter()
        .filter(move |a| a.regimen == regimen)
}

/// The generator's administrator, borrowed from `contract` (the generator's
/// own) rather than from the generator.
fn own<'c>(contract: &'c Contract, g: &AffiliationGenerator) -> Result<&'c Administradora, String> {
    let code = &g.config().administradora;
    contract
        .administradora(code)
        .ok_or_else(|| format!("administrator {code} is not in the contract"))
}

fn person(
    g: &mut AffiliationGenerator,
    on: NaiveDate,
    sexo: Option<Sexo>,
    birth: Option<NaiveDate>,
) -> Result<Persona, String> {
    let mut p = g.persona(on, None).map_err(|e| format!("generator: {e}"))?;
    if let Some(s) = sexo {
        p.sexo = s;
    }
    if let Some(b) = birth {
        p.fecha_nacimiento = b;
    }
    Ok(p)
}

/// How long a transfer waits after the joining: months, about, and the first
/// day it is allowed, from the joining's date.
type Wait = (u32, fn(NaiveDate) -> NaiveDate);

/// A transfer to the other regime.
const REGIME_TRANSFER: Wait = (
    12 * rules::YEARS_BETWEEN_REGIME_TRANSFERS,
    rules::earliest_regime_transfer,
);

/// A switch to another administrator of the same regime.
const SWITCH: Wait = (
    rules::MONTHS_BEFORE_ADMINISTRATOR_SWITCH,
    rules::earliest_administrator_switch,
);

/// The window of a transfer that waits `wait`: the latest joining `since`
/// whose window is open on `as_of`, the window's first day, and the
/// transfer's fechaSolicitud on the side of the boundary asked for (the
/// first day when `accepted`, else the day before).
fn window(
    as_of: NaiveDate,
    (months, earliest): Wait,
    accepted: bool,
) -> Option<(NaiveDate, NaiveDate, NaiveDate)> {
    let since = latest_start(as_of, months, earliest)?;
    let first = earliest(since);
    let fecha = if accepted { first } else { add_days(first, -1) };
    Some((since, first, fecha))
}

/// The plan of a transfer away from `origen` (see [`Step::transfer`]).
fn transfer(
    origen: &Administradora,
    previa: &Afiliacion,
    probe: Afiliacion,
    codigo: Option<String>,
    dates: String,
) -> Plan {
    let (setup, probe) = Step::transfer(origen, previa, probe);
    Plan {
        setup,
        probe,
        codigo,
        dates,
    }
}

/// The requests of boundary `b` for a target whose today is `as_of`.
pub fn plan(
    b: Boundary,
    g: &mut AffiliationGenerator,
    r: &mut RetractionGenerator,
    as_of: NaiveDate,
) -> Result<Plan, String> {
    // The generators' contract, held apart from their borrow.
    let contract = Arc::clone(g.contract());
    let no_date = || format!("no date for {b:?} on or before {as_of}");
    let codigo = (!b.accepted).then(|| b.codigo(&contract).to_owned());
    match b.rule {
        Rule::AgeLimit(_) | Rule::LeapDayBirth | Rule::MinAge => {
            let (sexo, years, novedad) = match b.rule {
                Rule::AgeLimit(s) => (
                    Some(s),
                    s.regime_transfer_age_limit(),
                    Novedad::TrasladoRegimen,
                ),
                Rule::LeapDayBirth => (
                    Some(Sexo::F),
                    Sexo::F.regime_transfer_age_limit(),
                    Novedad::TrasladoRegimen,
                ),
                _ => (None, rules::MIN_AGE_AT_REQUEST, Novedad::Afiliacion),
            };
            // The side before the birthday is the day before it.
            let before = match b.rule {
                Rule::MinAge => !b.accepted,
                _ => b.accepted,
            };
            let (fecha, birth) = if b.rule == Rule::LeapDayBirth {
                // The latest woman born on 29 February whose `years`th birthday
                // falls in a common year (1 March), on or before today.
                (as_of.year() - i32::try_from(years).unwrap_or(0) - 8
                    ..=as_of.year() - i32::try_from(years).unwrap_or(0))
                    .rev()
                    .find_map(|y| {
                        let birth = NaiveDate::from_ymd_opt(y, 2, 29)?;
                        let on = rules::birthday(birth, years)?;
                        (on.month() == 3 && on <= as_of)
                            .then(|| (if before { add_days(on, -1) } else { on }, birth))
                    })
                    .ok_or_else(no_date)?
            } else {
                birthday_near(as_of, years, i64::from(before)).ok_or_else(no_date)?
            };
            let persona = person(g, fecha, sexo, Some(birth))?;
            let a = g.affiliation_of(&persona, novedad, fecha);
            Ok(Plan {
                setup: vec![],
                probe: Step::affiliation(&a),
                codigo,
                dates: format!(
                    "born {birth}, fechaSolicitud {fecha}, {} birthday {}",
                    th(years),
                    rules::birthday(birth, years).map_or_else(|| "?".into(), |d| d.to_string())
                ),
            })
        }
        Rule::RegimeWindow => {
            let own = own(&contract, g)?;
            let origen = admins(&contract, own.regimen.other())
                .next()
                .ok_or_else(|| {
                    format!(
                        "the contract has no administrator outside {}",
                        contract.enumerations().spelling(own.regimen)
                    )
                })?;
            let (since, first, fecha) =
                window(as_of, REGIME_TRANSFER, b.accepted).ok_or_else(no_date)?;
            // Old enough to join on `since`, young enough to transfer on `fecha`.
            let mut persona = person(g, fecha, None, None)?;
            let age = (rules::MIN_AGE_AT_REQUEST
                + rules::YEARS_BETWEEN_REGIME_TRANSFERS
                + persona.sexo.regime_transfer_age_limit())
                / 2;
            persona.fecha_nacimiento = fecha
                .checked_sub_months(Months::new(12 * age))
                .and_then(|d| d.checked_sub_days(Days::new(100)))
                .ok_or_else(no_date)?;
            let previa = g.affiliation_by(origen, &persona, Novedad::Afiliacion, since);
            let probe = g.affiliation_of(&persona, Novedad::TrasladoRegimen, fecha);
            let dates = format!(
                "regime chosen with {} on {since}, transfer requested {fecha}, allowed from {first}",
                origen.codigo
            );
            Ok(transfer(origen, &previa, probe, codigo, dates))
        }
        Rule::SwitchWindow => {
            let own = own(&contract, g)?;
            let destino = if own.regimen == Regimen::Rais {
                own
            } else {
                admins(&contract, Regimen::Rais)
                    .next()
                    .ok_or_else(|| "the contract has no RAIS administrator".to_owned())?
            };
            let origen = admins(&contract, Regimen::Rais)
                .find(|a| a.codigo != destino.codigo)
                .ok_or_else(|| "the contract needs two RAIS administrators".to_owned())?;
            let (since, first, fecha) = window(as_of, SWITCH, b.accepted).ok_or_else(no_date)?;
            let persona = person(g, fecha, None, None)?;
            let previa = g.affiliation_by(origen, &persona, Novedad::Afiliacion, since);
            let probe = g.affiliation_by(destino, &persona, Novedad::TrasladoAdministradora, fecha);
            let dates = format!(
                "joined {} on {since}, switch requested {fecha}, allowed from {first}",
                origen.codigo
            );
            Ok(transfer(origen, &previa, probe, codigo, dates))
        }
        Rule::Retraction(crossing) => {
            let (solicitud, last, next, spans) =
                retraction_dates(crossing, as_of).ok_or_else(no_date)?;
            let fecha = if b.accepted { last } else { next };
            let persona = person(g, solicitud, None, None)?;
            let a = g.affiliation_of(&persona, Novedad::Afiliacion, solicitud);
            let accepted = AcceptedAffiliation::of(&a, PENDING_TRANSACTION);
            let retraction = r.retraction_dated(&accepted, fecha, None);
            Ok(Plan {
                setup: vec![Step::affiliation(&a)],
                probe: Step {
                    service: mss_contract::Service::Retracto,
                    sender: a.codigo_administradora.clone(),
                    body: serde_json::to_value(&retraction).unwrap_or_default(),
                    transaction_from: Some(0),
                },
                codigo,
                dates: format!(
                    "fechaSolicitud {solicitud}, last business day {last}, next {next} ({spans}); fechaRetracto {fecha}"
                ),
            })
        }
    }
}
