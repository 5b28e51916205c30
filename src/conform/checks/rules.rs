//! `RUL-` and `DUP-`: the business rules and code lists of the protocol, a
//! table with one entry per rule: the role of the codigo it must get (the id
//! is `RUL-<that codigo>`, spelled as the contract spells it; what it sends
//! follows from the role), title and source; and the two kinds of duplicate
//! report.

use mss_contract::{Contract, Regimen, Role, Service};
use serde_json::Value;

use super::{Check, Probe, Severity, gets};
use crate::conform::runner::{Ctx, Step, Verdict, fail};
use crate::generator::invalid::InvalidGenerator;

/// A business rule or code list: the role of the codigo a report that
/// breaks it must get (the check's id is `RUL-<that codigo>`), what that
/// report is (the title, before "gets ..."), the rule's source, and whether
/// the check creates records at a target that behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rul {
    role: Role,
    what: &'static str,
    source: &'static str,
    writes: bool,
}

impl Rul {
    /// Every rule, in the order they run.
    pub const ALL: [Rul; 11] = [
        Rul {
            role: Role::BadDocumentType,
            what: "a document type not valid for pensions",
            source: "contract/tipos_documento.csv; docs/protocol.md §Fields",
            writes: false,
        },
        Rul {
            role: Role::UnknownAdministrator,
            what: "regimenDestino of the other regime",
            source: "contract/administradoras.csv (regimes); docs/protocol.md §Fields",
            writes: false,
        },
        Rul {
            role: Role::UnknownDivipola,
            what: "a DIVIPOLA code that does not exist",
            source: "contract/divipola.csv (DANE's DIVIPOLA)",
            writes: false,
        },
        Rul {
            role: Role::Duplicate,
            what: "the same report sent twice",
            source: "docs/protocol.md §Codes (numeroRadicado unique); contract/errores.csv",
            writes: true,
        },
        Rul {
            role: Role::PensionAge,
            what: "a regime transfer with 10 years or less to pension age",
            source: "docs/protocol.md §Rules (Ley 100/1993 art. 13(e), Ley 797/2003 art. 2)",
            writes: false,
        },
        Rul {
            role: Role::RegimeWindow,
            what: "a regime transfer within 5 years of the last selection",
            source: "docs/protocol.md §Rules (Ley 797/2003 art. 2)",
            writes: true,
        },
        Rul {
            role: Role::AdministratorWindow,
            what: "an administrator switch within 6 months of joining",
            source: "docs/protocol.md §Rules (6 months)",
            writes: true,
        },
        Rul {
            role: Role::SameAdministrator,
            what: "a transfer to the same or from a non-current administrator",
            source: "contract/errores.csv; docs/protocol.md §Codes",
            writes: true,
        },
        Rul {
            role: Role::UnknownAffiliation,
            what: "a retraction of an affiliation that does not exist",
            source: "contract/errores.csv; docs/protocol.md §Codes",
            writes: false,
        },
        Rul {
            role: Role::RetractionLate,
            what: "a retraction after the 5th business day",
            source: "docs/protocol.md §Rules (Decreto 1161/1994 art. 3, Ley 51/1983)",
            writes: true,
        },
        Rul {
            role: Role::AlreadyRetracted,
            what: "a second retraction of an affiliation",
            source: "contract/errores.csv; docs/protocol.md §Codes",
            writes: true,
        },
    ];

    /// The role of the codigo the target must answer with.
    pub fn role(self) -> Role {
        self.role
    }

    /// The catalogue's entry.
    pub fn check(self, contract: &Contract) -> Check {
        Check {
            id: format!("RUL-{}", contract.codigo_of(self.role)),
            title: format!("{} {}", self.what, gets(contract, self.role)),
            source: self.source.to_owned(),
            severity: Severity::Major,
            probe: Probe::Rul(self),
        }
    }

    /// Whether the check creates records at a target that behaves.
    pub fn writes(self) -> bool {
        self.writes
    }
}

/// A duplicate report (`DUP-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dup {
    /// A known numeroRadicado with another person.
    SameRadicado,
    /// The same person, novelty and date under a new numeroRadicado.
    SamePerson,
}

impl Dup {
    /// Both, in the order they run.
    pub const ALL: [Dup; 2] = [Dup::SameRadicado, Dup::SamePerson];

    /// The catalogue's entry.
    pub fn check(self, contract: &Contract) -> Check {
        let (id, what, source) = match self {
            Dup::SameRadicado => (
                "DUP-001",
                "a known numeroRadicado with another person",
                "docs/protocol.md §Codes (numeroRadicado unique per administrator)",
            ),
            Dup::SamePerson => (
                "DUP-002",
                "the same person, novelty and date under a new numeroRadicado",
                "contract/errores.csv (duplicate); docs/protocol.md §Codes",
            ),
        };
        Check {
            id: id.to_owned(),
            title: format!(
                "{}: {what} {}",
                Service::Afiliacion.name(),
                gets(contract, Role::Duplicate)
            ),
            source: source.to_owned(),
            severity: Severity::Major,
            probe: Probe::Dup(self),
        }
    }
}

impl Ctx<'_> {
    /// Run the check of rule `r`.
    pub(super) async fn rule_check(&mut self, r: Rul) -> Step<Verdict> {
        // A code list: one field of a valid report changed.
        // The other rules: the invalid-report generator's case.
        let change: fn(&Contract, &str, &mut Value) -> Step<()> = match r.role {
            Role::BadDocumentType => refused_document_type,
            Role::UnknownAdministrator => other_regime,
            Role::UnknownDivipola => unknown_municipio,
            _ => return self.invalid_case(r).await,
        };
        let key = self.key_for(Service::Afiliacion);
        let own = self.setup.administradora.clone();
        let mut body = self.own_body()?;
        change(self.contract, &own, &mut body)?;
        let ex = self.post_as(Service::Afiliacion, key, &body).await?;
        Ok(self.expect(&ex, r.role()))
    }

    /// Run the case the invalid-report generator builds for rule `r`: its
    /// set-up reports, then the report that breaks the rule.
    async fn invalid_case(&mut self, r: Rul) -> Step<Verdict> {
        let own = self.setup.administradora.clone();
        let codigo = self.contract.codigo_of(r.role());
        let case = {
            let (a, ret) = self.generators(&own)?;
            InvalidGenerator::new(a, ret)
                .case(codigo)
                .map_err(|e| fail(format!("generator: {e}")))?
        };
        self.run_case(&case.setup, &case.probe, Some(&case.codigo), None)
            .await
    }

    /// Run duplicate check `d`.
    pub(super) async fn duplicate_check(&mut self, d: Dup) -> Step<Verdict> {
        let key = self.key_for(Service::Afiliacion);
        let first = self.own_body()?;
        self.affiliate(key, &first).await?;
        let mut second = match d {
            Dup::SameRadicado => self.own_body()?,
            Dup::SamePerson => first.clone(),
        };
        second["numeroRadicado"] = match d {
            Dup::SameRadicado => first["numeroRadicado"].clone(),
            Dup::SamePerson => self.fresh_radicado()?.into(),
        };
        let ex = self.post_as(Service::Afiliacion, key, &second).await?;
        Ok(self.expect(&ex, Role::Duplicate))
    }
}

/// A document type the contract does not allow for pensions, preferably one
/// whose pattern the document number still matches.
fn refused_document_type(contract: &Contract, _own: &str, body: &mut Value) -> Step<()> {
    let numero = body["numeroDocumento"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refused = contract
        .tipos_documento
        .iter()
        .find(|t| !t.permitido_pensiones && t.patron_numero.is_match(&numero))
        .or_else(|| {
            contract
                .tipos_documento
                .iter()
                .find(|t| !t.permitido_pensiones)
        })
        .ok_or_else(|| Verdict::Skip("the contract refuses no document type".into()))?;
    body["tipoDocumento"] = refused.codigo.clone().into();
    Ok(())
}

/// regimenDestino of the regime the administrator under test is not in.
fn other_regime(contract: &Contract, own: &str, body: &mut Value) -> Step<()> {
    let regimen = contract
        .administradora(own)
        .map_or(Regimen::Rais, |a| a.regimen);
    body["regimenDestino"] = contract.enumerations().spelling(regimen.other()).into();
    Ok(())
}

/// A municipality code that does not exist in the report's department.
fn unknown_municipio(contract: &Contract, _own: &str, body: &mut Value) -> Step<()> {
    let dep = body["codigoDepartamento"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let free = (0..1000)
        .rev()
        .map(|n| format!("{n:03}"))
        .find(|m| contract.municipio(&dep, m).is_none())
        .ok_or_else(|| Verdict::Skip("every municipality code exists".into()))?;
    body["codigoMunicipio"] = free.into();
    Ok(())
}
