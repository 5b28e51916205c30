//! How each invalid variant's case is built from the run's generators: the
//! set-up a business rule needs (an earlier affiliation by another
//! administrator, an affiliation already retracted, ...), the probe with its
//! one mistake, and the name of the mutation applied. Every value the
//! contract gives (lengths, code lists, spellings, administrators) comes from
//! the contract the generators follow.

use chrono::{Days, Months, NaiveDate};
use mss_contract::{Administradora, Condition, Contract, Enumerated, Regimen, Role, Service};
use rand::RngExt;
use serde::Serialize;
use serde_json::Value;

use super::{InvalidGenerator, InvalidKind, PENDING_TRANSACTION, Step, kind};
use crate::domain::{Novedad, calendar, rules};
use crate::generator::{AcceptedAffiliation, Afiliacion, GeneratorError, RetractionGenerator};

impl InvalidGenerator<'_> {
    /// Every mutation the cases of `codigo` apply for this administrator (each
    /// case's `mutation` is one of them); empty for a variant of one shape.
    pub fn mutations(&self, codigo: &str) -> Result<Vec<String>, GeneratorError> {
        let contract = self.contract();
        let kind = kind(&contract, codigo)?;
        let own = self.affiliations.administradora();
        Ok(match kind.role {
            Role::MissingField => val01_candidates(&contract)
                .into_iter()
                .map(|(field, _)| format!("sin {field}"))
                .collect(),
            Role::BadField => VAL02
                .iter()
                .map(|(what, field)| format!("{field}: {what}"))
                .collect(),
            Role::BadDocumentType => contract
                .tipos_documento
                .iter()
                .filter(|t| !t.permitido_pensiones)
                .map(|t| format!("tipoDocumento {}", t.codigo))
                .collect(),
            Role::UnknownAdministrator => VAL04.iter().map(|m| (*m).to_owned()).collect(),
            Role::SameAdministrator if own.regimen == Regimen::Rais => {
                NEG05.iter().map(|m| (*m).to_owned()).collect()
            }
            Role::SameAdministrator => vec![NEG05[1].to_owned()],
            _ => Vec::new(),
        })
    }

    /// An affiliation whose body meets `condition` (so that the fields it makes
    /// required are present), or `None` when the administrator cannot report one.
    fn meeting(
        &mut self,
        contract: &Contract,
        condition: &Condition,
    ) -> Result<Option<Afiliacion>, GeneratorError> {
        let g = &mut *self.affiliations;
        let regimen = g.administradora().regimen;
        if condition.field == <Novedad as Enumerated>::FIELD {
            let e = contract.enumerations();
            let novedad = condition
                .values
                .iter()
                .filter_map(|v| e.parse::<Novedad>(v))
                .find(|n| *n != Novedad::TrasladoAdministradora || regimen == Regimen::Rais);
            return match novedad {
                Some(n) => g.affiliation(n).map(Some),
                None => Ok(None),
            };
        }
        // Any other condition (an employee's employer): draw until it holds.
        for _ in 0..64 {
            let a = g.next_affiliation()?;
            let v = to_value(&a);
            if v.get(&condition.field)
                .and_then(Value::as_str)
                .is_some_and(|x| condition.values.iter().any(|c| c == x))
            {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// The set-up, probe and mutation of a case of `kind`, following
    /// `contract` (the affiliation generator's).
    pub(super) fn build(
        &mut self,
        contract: &Contract,
        kind: InvalidKind,
    ) -> Result<Built, GeneratorError> {
        let code = &self.affiliations.config().administradora;
        let own = contract
            .administradora(code)
            .ok_or_else(|| GeneratorError::UnknownAdministradora(code.clone()))?;
        let as_of = self.affiliations.config().as_of;
        let spelled = contract.enumerations();
        let built = match kind.role {
            Role::MissingField => {
                let candidates = val01_candidates(contract);
                let pick = self.affiliations.rng.random_range(0..candidates.len());
                let (field, condition) = candidates[pick];
                let base = match condition {
                    None => self.affiliations.next_affiliation()?,
                    Some(c) => match self.meeting(contract, c)? {
                        Some(a) => a,
                        // This administrator cannot report such a record: fall
                        // back to an always-required field.
                        None => {
                            let a = self.affiliations.next_affiliation()?;
                            let mut body = to_value(&a);
                            remove(&mut body, "numeroRadicado");
                            return Ok(Built::single(
                                own,
                                Service::Afiliacion,
                                body,
                                "sin numeroRadicado",
                            ));
                        }
                    },
                };
                let mut body = to_value(&base);
                remove(&mut body, field);
                Built::single(own, Service::Afiliacion, body, format!("sin {field}"))
            }
            Role::BadField => {
                let g = &mut *self.affiliations;
                let mut body = to_value(&g.next_affiliation()?);
                let i = g.rng.random_range(0..VAL02.len());
                let (what, field) = VAL02[i];
                body[field] = val02_value(contract, i);
                Built::single(own, Service::Afiliacion, body, format!("{field}: {what}"))
            }
            Role::BadDocumentType => {
                let g = &mut *self.affiliations;
                let mut body = to_value(&g.next_affiliation()?);
                let refused: Vec<&str> = contract
                    .tipos_documento
                    .iter()
                    .filter(|t| !t.permitido_pensiones)
                    .map(|t| t.codigo.as_str())
                    .collect();
                if refused.is_empty() {
                    return Err(GeneratorError::Unsupported(
                        "the contract refuses no document type".into(),
                    ));
                }
                let tipo = refused[g.rng.random_range(0..refused.len())];
                body["tipoDocumento"] = tipo.into();
                Built::single(
                    own,
                    Service::Afiliacion,
                    body,
                    format!("tipoDocumento {tipo}"),
                )
            }
            Role::UnknownAdministrator => {
                let g = &mut *self.affiliations;
                if g.rng.random_bool(0.5) {
                    let mut body = to_value(&g.next_affiliation()?);
                    body["regimenDestino"] = spelled.spelling(own.regimen.other()).into();
                    Built::single(own, Service::Afiliacion, body, VAL04[0])
                } else {
                    let mut body = to_value(&g.affiliation(Novedad::TrasladoRegimen)?);
                    body["codigoAdministradoraOrigen"] = "999999".into();
                    Built::single(own, Service::Afiliacion, body, VAL04[1])
                }
            }
            Role::UnknownDivipola => {
                let g = &mut *self.affiliations;
                let mut body = to_value(&g.next_affiliation()?);
                body["codigoMunicipio"] = "999".into();
                Built::single(own, Service::Afiliacion, body, "municipio 999")
            }
            Role::Duplicate => {
                let a = self.affiliations.next_affiliation()?;
                Built {
                    setup: vec![Step::affiliation(&a)],
                    probe: Step::affiliation(&a),
                    mutation: "el mismo reporte dos veces".into(),
                }
            }
            Role::PensionAge => {
                let g = &mut *self.affiliations;
                let persona = g.persona(as_of, None)?;
                let sexo = persona.sexo;
                let limit = sexo.regime_transfer_age_limit();
                // On or after the birthday that reaches the limit, before pension age.
                let age = limit + g.rng.random_range(0..(sexo.pension_age() - limit));
                let days_back = g.rng.random_range(0..360u64);
                let nacimiento = as_of
                    .checked_sub_months(Months::new(12 * age))
                    .and_then(|d| d.checked_sub_days(Days::new(days_back)))
                    .unwrap_or(NaiveDate::MIN);
                let persona = crate::generator::Persona {
                    fecha_nacimiento: nacimiento,
                    ..persona
                };
                let a = g.affiliation_of(&persona, Novedad::TrasladoRegimen, as_of);
                Built {
                    setup: vec![],
                    probe: Step::affiliation(&a),
                    mutation: format!(
                        "traslado de régimen a los {age} años ({})",
                        spelled.spelling(sexo)
                    ),
                }
            }
            Role::RegimeWindow => {
                // The person chose the other regime a year ago with another
                // administrator, who reported it; now they ask to move to ours.
                let g = &mut *self.affiliations;
                let other = admins(contract, own.regimen.other());
                let origen = other[g.rng.random_range(0..other.len())];
                let persona = g.persona_for_regime_transfer(as_of)?;
                let hace_un_ano = as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of);
                let previa = g.affiliation_by(origen, &persona, Novedad::Afiliacion, hace_un_ano);
                let probe = g.affiliation_of(&persona, Novedad::TrasladoRegimen, as_of);
                let mutation = format!("régimen elegido con {} hace un año", origen.nombre);
                Built::transfer(origen, &previa, probe, mutation)
            }
            Role::AdministratorWindow => {
                // Joined an AFP two months ago; another AFP reports the switch.
                let g = &mut *self.affiliations;
                let afps = admins(contract, Regimen::Rais);
                if afps.len() < 2 {
                    return Err(GeneratorError::Unsupported(
                        "NEG04 needs two RAIS administrators".into(),
                    ));
                }
                let destino = if own.regimen == Regimen::Rais {
                    own
                } else {
                    afps[g.rng.random_range(0..afps.len())]
                };
                let others: Vec<_> = afps
                    .into_iter()
                    .filter(|a| a.codigo != destino.codigo)
                    .collect();
                let origen = others[g.rng.random_range(0..others.len())];
                let persona = g.persona(as_of, None)?;
                let hace_dos_meses = as_of.checked_sub_months(Months::new(2)).unwrap_or(as_of);
                let previa =
                    g.affiliation_by(origen, &persona, Novedad::Afiliacion, hace_dos_meses);
                let probe =
                    g.affiliation_by(destino, &persona, Novedad::TrasladoAdministradora, as_of);
                let mutation = format!("vinculado a {} hace dos meses", origen.nombre);
                Built::transfer(origen, &previa, probe, mutation)
            }
            Role::SameAdministrator => {
                let g = &mut *self.affiliations;
                if own.regimen == Regimen::Rais && g.rng.random_bool(0.5) {
                    // A switch to the administrator the person is already with.
                    let mut a = g.affiliation(Novedad::TrasladoAdministradora)?;
                    a.codigo_administradora_origen = Some(own.codigo.clone());
                    Built {
                        setup: vec![],
                        probe: Step::affiliation(&a),
                        mutation: NEG05[0].into(),
                    }
                } else {
                    // The person is with us already; a transfer claims they come
                    // from another administrator.
                    let persona = g.persona_for_regime_transfer(as_of)?;
                    let ayer = calendar::sub_business_days(as_of, 1);
                    let previa = g.affiliation_of(&persona, Novedad::Afiliacion, ayer);
                    let novedad = match own.regimen {
                        Regimen::Rais => Novedad::TrasladoAdministradora,
                        Regimen::Rpm => Novedad::TrasladoRegimen,
                    };
                    let probe = g.affiliation_of(&persona, novedad, as_of);
                    Built {
                        setup: vec![Step::affiliation(&previa)],
                        probe: Step::affiliation(&probe),
                        mutation: NEG05[1].into(),
                    }
                }
            }
            Role::UnknownAffiliation => {
                let g = &mut *self.affiliations;
                let a = g.next_affiliation()?;
                let n = g.rng.random_range(0..1_000_000_000u64);
                let accepted = AcceptedAffiliation::of(&a, &format!("NOEXISTE{n:09}"));
                let r = self.retractions.retraction_dated(&accepted, as_of, None);
                Built::single(
                    own,
                    Service::Retracto,
                    to_value(&r),
                    "numeroTransaccionAfiliacion inexistente",
                )
            }
            Role::RetractionLate => {
                // Requested eight business days ago: the window closed three ago.
                let g = &mut *self.affiliations;
                let persona = g.persona(as_of, None)?;
                let solicitud =
                    calendar::sub_business_days(as_of, rules::RETRACTION_BUSINESS_DAYS + 3);
                let a = g.affiliation_of(&persona, Novedad::Afiliacion, solicitud);
                let probe = retracto_step(self.retractions, &a, 0, as_of);
                Built {
                    setup: vec![Step::affiliation(&a)],
                    probe,
                    mutation: "retracto 8 días hábiles después de fechaSolicitud".into(),
                }
            }
            Role::AlreadyRetracted => {
                let a = self.affiliations.affiliation(Novedad::Afiliacion)?;
                let first = retracto_step(self.retractions, &a, 0, as_of);
                let second = retracto_step(self.retractions, &a, 0, as_of);
                Built {
                    setup: vec![Step::affiliation(&a), first],
                    probe: second,
                    mutation: "segundo retracto de la misma afiliación".into(),
                }
            }
            other => {
                return Err(GeneratorError::Unsupported(format!(
                    "no builder for {other}"
                )));
            }
        };
        Ok(built)
    }
}

/// A value of `c` repeated one character past the `maxLength` the contract
/// gives `field` of `ReportarAfiliaciontraslado` (17 characters when it has
/// none: past the protocol's longest identifier).
fn over_max_length(contract: &Contract, field: &str, c: char) -> String {
    let max = contract
        .service(Service::Afiliacion)
        .field(field)
        .and_then(|f| f.max_length)
        .unwrap_or(16);
    std::iter::repeat_n(c, max + 1).collect()
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A retraction step of set-up step `of`, dated `fecha`.
fn retracto_step(r: &mut RetractionGenerator, a: &Afiliacion, of: usize, fecha: NaiveDate) -> Step {
    let accepted = AcceptedAffiliation::of(a, PENDING_TRANSACTION);
    Step {
        service: Service::Retracto,
        sender: a.codigo_administradora.clone(),
        body: to_value(&r.retraction_dated(&accepted, fecha, None)),
        transaction_from: Some(of),
    }
}

fn admins(contract: &Contract, regimen: Regimen) -> Vec<&Administradora> {
    contract
        .administradoras
        .iter()
        .filter(|a| a.regimen == regimen)
        .collect()
}

/// Every always-required field of an affiliation, and every field a condition
/// of the contract makes required (with that condition): VAL01's candidates.
fn val01_candidates(contract: &Contract) -> Vec<(&str, Option<&Condition>)> {
    let spec = contract.service(Service::Afiliacion);
    let mut candidates: Vec<(&str, Option<&Condition>)> =
        spec.required().map(|f| (f.name.as_str(), None)).collect();
    for c in &spec.conditions {
        for name in &c.then_required {
            candidates.push((name.as_str(), Some(c)));
        }
    }
    candidates
}

/// VAL02's mutations: what is wrong and the field; the value is
/// [`val02_value`] of the same index.
const VAL02: [(&str, &str); 6] = [
    ("fecha inexistente", "fechaNacimiento"),
    ("valor fuera de la enumeración", "sexo"),
    ("más larga que el máximo", "numeroDocumento"),
    ("más larga que el máximo", "primerApellido"),
    ("no cumple el patrón", "telefono"),
    ("número en lugar de texto", "numeroDocumento"),
];

/// The value of VAL02's mutation `i`. The over-long ones are one character
/// over the contract's maxLength, in the field's own alphabet (only the length
/// is wrong).
fn val02_value(contract: &Contract, i: usize) -> Value {
    match i {
        0 => "1990-02-30".into(),
        1 => "X".into(),
        2 => over_max_length(contract, "numeroDocumento", '1').into(),
        3 => over_max_length(contract, "primerApellido", 'A').into(),
        4 => "12ab567".into(),
        _ => Value::from(123_456_789u64),
    }
}

/// VAL04's mutations.
const VAL04: [&str; 2] = [
    "regimenDestino de otro régimen",
    "codigoAdministradoraOrigen desconocido",
];

/// NEG05's mutations (the first only for a RAIS administrator).
const NEG05: [&str; 2] = [
    "origen igual al destino",
    "origen distinto de la administradora actual",
];

/// What a builder produces.
pub(super) struct Built {
    pub setup: Vec<Step>,
    pub probe: Step,
    pub mutation: String,
}

impl Built {
    /// A transfer away from `origen` (see [`Step::transfer`]).
    fn transfer(
        origen: &Administradora,
        previa: &Afiliacion,
        probe: Afiliacion,
        mutation: String,
    ) -> Built {
        let (setup, probe) = Step::transfer(origen, previa, probe);
        Built {
            setup,
            probe,
            mutation,
        }
    }

    fn single(
        sender: &Administradora,
        service: Service,
        body: Value,
        mutation: impl Into<String>,
    ) -> Self {
        Built {
            setup: vec![],
            probe: Step {
                service,
                sender: sender.codigo.clone(),
                body,
                transaction_from: None,
            },
            mutation: mutation.into(),
        }
    }
}

fn remove(body: &mut Value, field: &str) {
    if let Some(map) = body.as_object_mut() {
        map.remove(field);
    }
}
