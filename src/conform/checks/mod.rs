//! The catalogue of conformance checks, one family per file, each family an
//! enum (the business rules: a table) whose variants carry their id, title,
//! source, severity and what they send side by side: `TOK-` ([`token`]), `AUTH-` ([`auth`]), `FMT-`
//! ([`format`]), `FUZ-` ([`fuzz`]), `REQ-`/`ENUM-`/`TYP-` ([`fields`]),
//! `LEN-` ([`length`]), `RUL-`/`DUP-` ([`rules`]), `BND-` ([`boundary`]),
//! `RUT-` ([`routes`]), `ENV-`/`SCH-` ([`answers`]).
//!
//! A few families are fixed (the token service, authentication, envelope,
//! routes, business rules); the rest are generated from `contract/`: one
//! required-field check per required field (conditional ones included),
//! boundary checks per length-constrained field, a case check per
//! enumeration value, and type mutations. A change of a field, a length or an
//! enumeration in the contract changes the catalogue with no change of code;
//! every codigo a check expects is the contract's for a role
//! (`mss_contract::Role`).

pub mod answers;
pub mod auth;
pub mod boundary;
pub mod fields;
pub mod format;
pub mod fuzz;
pub mod length;
pub mod routes;
pub mod rules;
pub mod token;

use mss_contract::{Contract, Role, Service};
use serde::Serialize;

pub use answers::Aggregate;
pub use auth::Auth;
pub use boundary::Boundary;
pub use fields::{TypKind, required_fields};
pub use format::Fmt;
pub use length::{Class, LenAt, fits_related, reachable};
pub use routes::Rut;
pub use rules::{Dup, Rul};
pub use token::Tok;

use super::runner::{Ctx, Exchange, Step, Verdict};

/// How bad a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Security or connectivity: a token, an authentication rule.
    Critical,
    /// A rule of the protocol: validation, business rules, envelope.
    Major,
    /// Conventions around it: routes, methods.
    Minor,
}

/// What a check sends and expects: its family, and the check of the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A check of the token service.
    Tok(Tok),
    /// An authentication check on a service.
    Auth(Service, Auth),
    /// A check over every answer of a kind (envelopes, schemas).
    Aggregate(Aggregate),
    /// A body format check on a service.
    Fmt(Service, Fmt),
    /// Malformed inputs: no 5xx.
    Fuz(Service),
    /// A field of the wrong JSON type.
    Typ(Service, TypKind, String),
    /// A required field missing.
    Req(Service, String),
    /// A length boundary of a field.
    Len {
        /// The service.
        service: Service,
        /// The field.
        field: String,
        /// Which boundary.
        at: LenAt,
        /// The value's length in characters.
        chars: usize,
        /// What the value is made of.
        class: Class,
    },
    /// An enumeration value in lower case: refused.
    EnumCase(Service, String, String),
    /// A business rule or code list.
    Rul(Rul),
    /// A duplicate report.
    Dup(Dup),
    /// A route or method check.
    Rut(Rut),
    /// One side of a numeric rule's boundary ([`boundary`]).
    Bnd(Boundary),
}

impl Probe {
    /// Whether the check creates records at the target when the target
    /// behaves.
    pub fn writes(&self) -> bool {
        match self {
            Probe::Auth(_, a) => a.writes(),
            Probe::Dup(_) => true,
            Probe::Bnd(b) => b.writes(),
            Probe::Len { at, .. } => at.accepted(),
            Probe::Rul(r) => r.writes(),
            Probe::Tok(_)
            | Probe::Aggregate(_)
            | Probe::Fmt(..)
            | Probe::Fuz(_)
            | Probe::Typ(..)
            | Probe::Req(..)
            | Probe::EnumCase(..)
            | Probe::Rut(_) => false,
        }
    }

    /// Whether the check judges the answers of the others (it runs last and
    /// sends nothing).
    pub fn is_aggregate(&self) -> bool {
        matches!(self, Probe::Aggregate(_))
    }
}

/// One check of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id (`AUTH-AFI-003`, `LEN-AFI-primerApellido-MAX+1`).
    pub id: String,
    /// What it verifies.
    pub title: String,
    /// The clause or source it enforces.
    pub source: String,
    /// How bad a failure is.
    pub severity: Severity,
    /// What it sends.
    pub probe: Probe,
}

/// `AFI` or `RET`.
pub fn tag(service: Service) -> &'static str {
    match service {
        Service::Afiliacion => "AFI",
        Service::Retracto => "RET",
    }
}

/// `gets <status> <codigo>` for the codigo that plays `role` in `contract`.
pub(crate) fn gets(contract: &Contract, role: Role) -> String {
    let c = contract.code(role);
    format!("gets {} {}", c.http_status, c.codigo)
}

/// The whole catalogue for `contract`, in the order it runs.
pub fn catalogue(contract: &Contract) -> Vec<Check> {
    let mut out: Vec<Check> = Tok::ALL.into_iter().map(Tok::check).collect();
    for service in Service::ALL {
        out.extend(Auth::ALL.into_iter().map(|a| a.check(service, contract)));
    }
    for service in Service::ALL {
        out.extend(Fmt::ALL.into_iter().map(|f| f.check(service, contract)));
        out.push(fuzz::check(service));
    }
    for service in Service::ALL {
        let spec = contract.service(service);
        out.extend(fields::required_checks(contract, service, spec));
        out.extend(length::checks(contract, service, spec));
        out.extend(fields::enum_checks(contract, service, spec));
        out.extend(fields::type_checks(contract, service, spec));
    }
    out.extend(Rul::ALL.into_iter().map(|r| r.check(contract)));
    out.extend(boundary::checks(contract));
    out.extend(Dup::ALL.into_iter().map(|d| d.check(contract)));
    out.extend(Rut::ALL.into_iter().map(Rut::check));
    out.extend(Aggregate::ALL.into_iter().map(Aggregate::check));
    out
}

/// Whether a check's id is selected by `--only` patterns: an exact id, or a
/// prefix ending in `-` or `*` (`AUTH-`, `LEN-AFI*`), any case.
pub fn selected(id: &str, only: &[String]) -> bool {
    only.is_empty()
        || only.iter().any(|p| {
            let p = p.trim();
            if let Some(prefix) = p.strip_suffix('*') {
                id.to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            } else if p.ends_with('-') {
                id.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase())
            } else {
                id.eq_ignore_ascii_case(p)
            }
        })
}

impl Ctx<'_> {
    /// Send what `probe` sends and judge the answers; an aggregate check is
    /// skipped here (see [`Ctx::aggregate`]).
    pub(in crate::conform) async fn probe(&mut self, probe: &Probe) -> Step<Verdict> {
        match probe {
            Probe::Tok(t) => self.token_check(*t).await,
            Probe::Auth(service, a) => self.auth_check(*service, *a).await,
            Probe::Fmt(service, f) => self.format_check(*service, *f).await,
            Probe::Fuz(service) => self.fuzz_check(*service).await,
            Probe::Typ(service, kind, field) => self.type_check(*service, *kind, field).await,
            Probe::Req(service, field) => self.required_check(*service, field).await,
            Probe::Len {
                service,
                field,
                at,
                chars,
                class,
            } => {
                self.length_check(*service, field, *at, *chars, *class)
                    .await
            }
            Probe::EnumCase(service, field, value) => {
                self.enum_case_check(*service, field, value).await
            }
            Probe::Rul(r) => self.rule_check(*r).await,
            Probe::Dup(d) => self.duplicate_check(*d).await,
            Probe::Rut(r) => self.route_check(*r).await,
            Probe::Bnd(b) => self.boundary(*b).await,
            Probe::Aggregate(_) => Ok(Verdict::Skip("evaluated at the end".into())),
        }
    }

    /// An aggregate check's verdict over every exchange so far, how many
    /// answers it judged and the first that failed; `None` for a check that
    /// sends its own requests.
    pub(in crate::conform) fn aggregate(
        &self,
        probe: &Probe,
    ) -> Option<(Verdict, usize, Option<Exchange>)> {
        match probe {
            Probe::Aggregate(c) => Some(self.aggregate_check(*c)),
            Probe::Tok(_)
            | Probe::Auth(..)
            | Probe::Fmt(..)
            | Probe::Fuz(_)
            | Probe::Typ(..)
            | Probe::Req(..)
            | Probe::Len { .. }
            | Probe::EnumCase(..)
            | Probe::Rul(_)
            | Probe::Dup(_)
            | Probe::Rut(_)
            | Probe::Bnd(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_over_sixty() {
        let all = catalogue(Contract::embedded());
        let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
        assert!(n >= 60, "{n} checks");
    }

    #[test]
    fn boundaries_follow_patterns_and_related_rules() {
        let all = catalogue(Contract::embedded());
        let has = |id: &str| all.iter().any(|c| c.id == id);
        assert!(has("LEN-AFI-primerApellido-MAX+1"));
        assert!(has("LEN-AFI-primerApellido-MIN"));
        // A one-digit telephone cannot match ^[0-9]{7,10}$: no MIN check.
        assert!(!has("LEN-AFI-telefono-MIN"));
        assert!(has("LEN-AFI-telefono-MAX"));
        // No 16-digit NIT has a DIAN check digit: no MAX check.
        assert!(!has("LEN-AFI-numeroDocumentoEmpleador-MAX"));
        // Referenced values are never invented for an accepted report.
        assert!(!has("LEN-RET-numeroTransaccionAfiliacion-MAX"));
        assert!(has("LEN-RET-numeroTransaccionAfiliacion-MAX+1"));
        assert!(has("ENUM-AFI-tipoNovedad-TRASLADO_REGIMEN"));
        assert!(has("REQ-AFI-asesoriaDoble"));
    }

    #[test]
    fn only_selects_ids_and_prefixes() {
        assert!(selected("AUTH-AFI-001", &[]));
        assert!(selected("AUTH-AFI-001", &["auth-afi-001".into()]));
        assert!(selected("AUTH-AFI-001", &["AUTH-".into()]));
        assert!(selected("LEN-AFI-x-MAX", &["LEN-AFI*".into()]));
        assert!(!selected("LEN-RET-x-MAX", &["LEN-AFI*".into()]));
        assert!(!selected("AUTH-AFI-0011", &["AUTH-AFI-001".into()]));
    }

    #[test]
    fn every_rule_is_listed_once_by_its_codigo() {
        let c = Contract::embedded();
        let all = catalogue(c);
        for r in Rul::ALL {
            let id = format!("RUL-{}", c.codigo_of(r.role()));
            assert_eq!(all.iter().filter(|x| x.id == id).count(), 1, "{id}");
        }
    }
}
