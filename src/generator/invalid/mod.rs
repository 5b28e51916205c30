//! Deliberately invalid records: one variant per rejection role the contract
//! defines for the report body (`contract/errores.csv`, column `rol`: the
//! validation roles `missing_field` … `unknown_divipola` and the business
//! rules `duplicate` … `already_retracted`). A variant is named by the codigo
//! the contract gives its role, so a scenario's `[invalid]` table follows an
//! edited contract.
//!
//! A variant is an [`InvalidCase`]: zero or more set-up requests that the target
//! must accept (the state a business rule needs: an earlier affiliation, an
//! affiliation already retracted, ...) and one probe that it must reject with the
//! variant's HTTP status and codigo, both read from `contract/errores.csv`. A
//! step names the administrator whose client sends it (`sender`);
//! NEG03 and NEG04 need a second administrator to have reported the person first.
//!
//! This module holds the catalogue and what a case is; `builders` how each
//! variant's case is built.

mod builders;

use std::sync::Arc;

use mss_contract::{Administradora, Contract, Role, Service};
use serde::Serialize;
use serde_json::Value;

use super::{AffiliationGenerator, Afiliacion, GeneratorError, RetractionGenerator};

/// One invalid variant of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKind {
    /// The role of the codigo the probe must be rejected with (its spelling
    /// is the contract's: [`codigo`](Self::codigo)).
    pub role: Role,
    /// The service the probe goes to.
    pub service: Service,
    /// What the probe does wrong.
    pub description: &'static str,
}

/// The catalogue, in codigo order.
pub const CATALOGUE: [InvalidKind; 13] = [
    InvalidKind {
        role: Role::MissingField,
        service: Service::Afiliacion,
        description: "a required field is missing",
    },
    InvalidKind {
        role: Role::BadField,
        service: Service::Afiliacion,
        description: "a field has a bad format, length, enumeration value or type",
    },
    InvalidKind {
        role: Role::BadDocumentType,
        service: Service::Afiliacion,
        description: "a document type not valid for pensions (RC, CN, AS, MS, NU)",
    },
    InvalidKind {
        role: Role::UnknownAdministrator,
        service: Service::Afiliacion,
        description: "regimenDestino disagrees with the administrator, or an unknown origin administrator",
    },
    InvalidKind {
        role: Role::UnknownDivipola,
        service: Service::Afiliacion,
        description: "a well-formed DIVIPOLA code that does not exist",
    },
    InvalidKind {
        role: Role::Duplicate,
        service: Service::Afiliacion,
        description: "the same affiliation sent twice",
    },
    InvalidKind {
        role: Role::PensionAge,
        service: Service::Afiliacion,
        description: "a regime transfer when 10 years or less remain to pension age",
    },
    InvalidKind {
        role: Role::RegimeWindow,
        service: Service::Afiliacion,
        description: "a regime transfer within 5 years of the last regime selection",
    },
    InvalidKind {
        role: Role::AdministratorWindow,
        service: Service::Afiliacion,
        description: "an administrator switch within 6 months of joining",
    },
    InvalidKind {
        role: Role::SameAdministrator,
        service: Service::Afiliacion,
        description: "a transfer to the same administrator, or from one that is not the current one",
    },
    InvalidKind {
        role: Role::UnknownAffiliation,
        service: Service::Retracto,
        description: "a retraction of an affiliation that does not exist",
    },
    InvalidKind {
        role: Role::RetractionLate,
        service: Service::Retracto,
        description: "a retraction after the 5th business day from fechaSolicitud",
    },
    InvalidKind {
        role: Role::AlreadyRetracted,
        service: Service::Retracto,
        description: "a second retraction of an affiliation",
    },
];

impl InvalidKind {
    /// The codigo the probe must be rejected with, as `contract` spells it.
    pub fn codigo(self, contract: &Contract) -> &str {
        contract.codigo_of(self.role)
    }
}

/// The variant for `codigo` (as `contract` spells it).
pub fn kind(contract: &Contract, codigo: &str) -> Result<InvalidKind, GeneratorError> {
    CATALOGUE
        .iter()
        .find(|k| k.codigo(contract).eq_ignore_ascii_case(codigo))
        .copied()
        .ok_or_else(|| {
            GeneratorError::UnknownInvalid(
                codigo.to_owned(),
                CATALOGUE
                    .iter()
                    .map(|k| k.codigo(contract))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
}

/// One request of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Where it goes.
    #[serde(rename = "servicio", serialize_with = "service_name")]
    pub service: Service,
    /// The body. A retraction's `numeroTransaccionAfiliacion` is filled from the
    /// answer to set-up step `transaction_from` when that is given.
    #[serde(rename = "cuerpo")]
    pub body: Value,
    /// Code of the administrator whose client sends it.
    #[serde(rename = "remitente")]
    pub sender: String,
    /// Set-up step whose `numeroTransaccion` this step's
    /// `numeroTransaccionAfiliacion` must carry.
    #[serde(
        rename = "numeroTransaccionDePaso",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_from: Option<usize>,
}

impl Step {
    /// Affiliation `a`, sent by the administrator it reports for.
    pub fn affiliation(a: &Afiliacion) -> Step {
        Step {
            service: Service::Afiliacion,
            sender: a.codigo_administradora.clone(),
            body: serde_json::to_value(a).unwrap_or(Value::Null),
            transaction_from: None,
        }
    }

    /// A transfer away from `origen`: the set-up `previa` (the joining of
    /// `origen`), and `probe`, made to name `origen` as the administrator
    /// the person leaves.
    pub fn transfer(
        origen: &Administradora,
        previa: &Afiliacion,
        mut probe: Afiliacion,
    ) -> (Vec<Step>, Step) {
        probe.codigo_administradora_origen = Some(origen.codigo.clone());
        (vec![Step::affiliation(previa)], Step::affiliation(&probe))
    }
}

fn service_name<S: serde::Serializer>(s: &Service, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}

/// A probe the target must reject, with the set-up it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidCase {
    /// Expected codigo, as the generator's contract spells it.
    pub codigo: String,
    /// Expected HTTP status.
    pub http_status: u16,
    /// What the variant does wrong.
    #[serde(rename = "descripcion")]
    pub description: String,
    /// Which concrete mutation this case applies (e.g. "sin fechaNacimiento").
    #[serde(rename = "mutacion")]
    pub mutation: String,
    /// Requests that must be accepted first, in order.
    #[serde(rename = "preparacion")]
    pub setup: Vec<Step>,
    /// The request that must be rejected.
    #[serde(rename = "prueba")]
    pub probe: Step,
}

/// The placeholder a step carries in `numeroTransaccionAfiliacion` until the
/// set-up step it refers to has been answered.
pub const PENDING_TRANSACTION: &str = "PENDIENTE";

/// Builds invalid cases from the run's generators, so that their people and
/// radicados never collide with the valid records of the same run. The cases
/// follow the affiliation generator's contract.
#[derive(Debug)]
pub struct InvalidGenerator<'g> {
    affiliations: &'g mut AffiliationGenerator,
    retractions: &'g mut RetractionGenerator,
}

impl<'g> InvalidGenerator<'g> {
    /// Borrow the run's generators.
    pub fn new(
        affiliations: &'g mut AffiliationGenerator,
        retractions: &'g mut RetractionGenerator,
    ) -> Self {
        InvalidGenerator {
            affiliations,
            retractions,
        }
    }

    /// The contract the cases follow.
    fn contract(&self) -> Arc<Contract> {
        Arc::clone(self.affiliations.contract())
    }

    /// A case for `codigo`.
    pub fn case(&mut self, codigo: &str) -> Result<InvalidCase, GeneratorError> {
        let contract = self.contract();
        let kind = kind(&contract, codigo)?;
        let builders::Built {
            setup,
            probe,
            mutation,
        } = self.build(&contract, kind)?;
        let entry = contract.code(kind.role);
        Ok(InvalidCase {
            codigo: entry.codigo.clone(),
            http_status: entry.http_status,
            description: kind.description.to_owned(),
            mutation,
            setup,
            probe,
        })
    }
}
