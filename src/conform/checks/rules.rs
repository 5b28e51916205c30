//! `RUL-` and `DUP-`: the business rules and code lists of the protocol, one
//! variant per rule with the role of the codigo it must get (the id is
//! `RUL-<that codigo>`, spelled as the contract spells it), title, source and
//! what it sends; and the two kinds of duplicate report.

use mss_contract::{Contract, Regimen, Role, Service};
use serde_json::Value;

use super::{Check, Probe, Severity, gets};
use crate::conform::runner::{Ctx, Step, Verdict, fail};
use crate::generator::invalid::InvalidGenerator;

/// A business rule or code list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rul {
    /// A document type not valid for pensions.
    DocumentType,
    /// regimenDestino of the other regime.
    Regime,
    /// A DIVIPOLA code that does not exist.
    Divipola,
    /// The same report sent twice.
    Duplicate,
    /// A regime transfer too close to the pension age.
    PensionAge,
    /// A regime transfer too soon after the last selection.
    RegimeWindow,
    /// An administrator switch too soon after joining.
    AdministratorWindow,
    /// A transfer to the same, or from a non-current, administrator.
    SameAdministrator,
    /// A retraction of an affiliation that does not exist.
    UnknownAffiliation,
    /// A retraction after its window.
    RetractionLate,
    /// A second retraction.
    AlreadyRetracted,
}

impl Rul {
    /// Every rule, in the order they run.
    pub const ALL: [Rul; 11] = [
        Rul::DocumentType,
        Rul::Regime,
        Rul::Divipola,
        Rul::Duplicate,
        Rul::PensionAge,
        Rul::RegimeWindow,
        Rul::AdministratorWindow,
        Rul::SameAdministrator,
        Rul::UnknownAffiliation,
        Rul::RetractionLate,
        Rul::AlreadyRetracted,
    ];

    /// The role of the codigo the target must answer with; its title (before
    /// "gets ...") and source.
    fn about(self) -> (Role, &'static str, &'static str) {
        match self {
            Rul::DocumentType => (
                Role::BadDocumentType,
                "a document type not valid for pensions",
                "contract/tipos_documento.csv; docs/protocol.md §Fields",
            ),
            Rul::Regime => (
                Role::UnknownAdministrator,
                "regimenDestino of the other regime",
                "contract/administradoras.csv (regimes); docs/protocol.md §Fields",
            ),
            Rul::Divipola => (
                Role::UnknownDivipola,
                "a DIVIPOLA code that does not exist",
                "contract/divipola.csv (DANE's DIVIPOLA)",
            ),
            Rul::Duplicate => (
                Role::Duplicate,
                "the same report sent twice",
                "docs/protocol.md §Codes (numeroRadicado unique); contract/errores.csv",
            ),
            Rul::PensionAge => (
                Role::PensionAge,
                "a regime transfer with 10 years or less to pension age",
                "docs/protocol.md §Rules (Ley 100/1993 art. 13(e), Ley 797/2003 art. 2)",
            ),
            Rul::RegimeWindow => (
                Role::RegimeWindow,
                "a regime transfer within 5 years of the last selection",
                "docs/protocol.md §Rules (Ley 797/2003 art. 2)",
            ),
            Rul::AdministratorWindow => (
                Role::AdministratorWindow,
                "an administrator switch within 6 months of joining",
                "docs/protocol.md §Rules (6 months)",
            ),
            Rul::SameAdministrator => (
                Role::SameAdministrator,
                "a transfer to the same or from a non-current administrator",
                "contract/errores.csv; docs/protocol.md §Codes",
            ),
            Rul::UnknownAffiliation => (
                Role::UnknownAffiliation,
                "a retraction of an affiliation that does not exist",
                "contract/errores.csv; docs/protocol.md §Codes",
            ),
            Rul::RetractionLate => (
                Role::RetractionLate,
                "a retraction after the 5th business day",
                "docs/protocol.md §Rules (Decreto 1161/1994 art. 3, Ley 51/1983)",
            ),
            Rul::AlreadyRetracted => (
                Role::AlreadyRetracted,
                "a second retraction of an affiliation",
                "contract/errores.csv; docs/protocol.md §Codes",
            ),
        }
    }

    /// The role of the codigo the target must answer with.
    pub fn role(self) -> Role {
        self.about().0
    }

    /// The catalogue's entry.
    pub fn check(self, contract: &Contract) -> Check {
        let (role, what, source) = self.about();
        Check {
            id: format!("RUL-{}", contract.codigo_of(role)),
            title: format!("{what} {}", gets(contract, role)),
            source: source.to_owned(),
            severity: Severity::Major,
            probe: Probe::Rul(self),
        }
    }

    /// Whether the check creates records at a target that behaves.
    pub fn writes(self) -> bool {
        match self {
            Rul::DocumentType
            | Rul::Regime
            | Rul::Divipola
            | Rul::PensionAge
            | Rul::UnknownAffiliation => false,
            Rul::Duplicate
            | Rul::RegimeWindow
            | Rul::AdministratorWindow
            | Rul::SameAdministrator
            | Rul::RetractionLate
            | Rul::AlreadyRetracted => true,
        }
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
        let change: fn(&Contract, &str, &mut Value) -> Step<()> = match r {
            Rul::DocumentType => refused_document_type,
            Rul::Regime => other_regime,
            Rul::Divipola => unknown_municipio,
            Rul::Duplicate
            | Rul::PensionAge
            | Rul::RegimeWindow
            | Rul::AdministratorWindow
            | Rul::SameAdministrator
            | Rul::UnknownAffiliation
            | Rul::RetractionLate
            | Rul::AlreadyRetracted => return self.invalid_case(r).await,
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
