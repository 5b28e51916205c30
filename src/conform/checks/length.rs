//! `LEN-`: the length boundaries of every length-constrained field of the
//! contract (one under the minimum, the minimum, the maximum, one over), each
//! value made to fit the field's pattern and the rules that tie it to other
//! fields, so that only its length decides.

use mss_contract::FieldSpec;
use mss_contract::rules::nit_check_digit;
use mss_contract::{Contract, Role, Service, ServiceSpec};
use rand::RngExt;
use serde_json::Value;

use super::{Check, Probe, Severity, gets, tag};
use crate::conform::runner::{Ctx, Step, Verdict};

/// Which boundary of a length a check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenAt {
    /// One character under the minimum: refused.
    MinMinus1,
    /// The minimum: accepted.
    Min,
    /// The maximum: accepted.
    Max,
    /// One character over the maximum: refused.
    MaxPlus1,
}

impl LenAt {
    /// The id's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            LenAt::MinMinus1 => "MIN-1",
            LenAt::Min => "MIN",
            LenAt::Max => "MAX",
            LenAt::MaxPlus1 => "MAX+1",
        }
    }

    /// Whether a value at this boundary must be accepted.
    pub fn accepted(self) -> bool {
        matches!(self, LenAt::Min | LenAt::Max)
    }
}

/// The characters a boundary value is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Upper-case letters.
    Letters,
    /// Digits, the first not zero.
    Digits,
    /// `aaaa@b.co`.
    Email,
}

impl Class {
    /// A fixed sample of `n` characters (the catalogue decides with it whether a
    /// length is reachable; the run draws random ones of the same class).
    pub fn sample(self, n: usize) -> Option<String> {
        match self {
            Class::Letters => Some("A".repeat(n)),
            Class::Digits => Some(if n == 0 {
                String::new()
            } else {
                format!("1{}", "0".repeat(n - 1))
            }),
            Class::Email => (n >= 6).then(|| format!("{}@b.co", "a".repeat(n - 5))),
        }
    }
}

/// Fields whose length boundaries are probed: no enumeration, no date format
/// (their constraints are checked otherwise).
fn length_probed(f: &FieldSpec) -> bool {
    f.enumeration.is_none() && f.format.is_none()
}

/// A value of `n` characters that the field accepts, by class: it must match
/// the field's pattern and the rules that tie it to others (a document number
/// fits some document type; an employer's NIT has a check digit).
pub fn reachable(contract: &Contract, f: &FieldSpec, n: usize) -> Option<Class> {
    if f.code_list.is_some() || f.references.is_some() {
        return None;
    }
    [Class::Letters, Class::Digits, Class::Email]
        .into_iter()
        .find(|class| {
            class.sample(n).is_some_and(|v| {
                v.chars().count() == n
                    && f.pattern.as_ref().is_none_or(|(_, re)| re.is_match(&v))
                    && fits_related(contract, &f.name, &v)
            })
        })
}

/// Rules of the protocol that tie a field's value to another field.
pub fn fits_related(contract: &Contract, field: &str, v: &str) -> bool {
    match field {
        "numeroDocumento" => contract
            .tipos_documento
            .iter()
            .any(|t| t.permitido_pensiones && t.patron_numero.is_match(v)),
        "numeroDocumentoEmpleador" => nit_check_digit(v).is_some(),
        _ => true,
    }
}

/// The class of an out-of-range value: the one that fits the nearest boundary.
fn rejected_class(f: &FieldSpec, n: usize) -> Class {
    [Class::Letters, Class::Digits, Class::Email]
        .into_iter()
        .find(|c| {
            c.sample(n)
                .is_some_and(|v| f.pattern.as_ref().is_none_or(|(_, re)| re.is_match(&v)))
        })
        .unwrap_or(Class::Digits)
}

/// The length checks of `service` in `spec`, field by field.
pub fn checks(contract: &Contract, service: Service, spec: &ServiceSpec) -> Vec<Check> {
    let schema = service.schema_name();
    let mut out = Vec::new();
    for f in spec.fields.iter().filter(|f| length_probed(f)) {
        let mut at = Vec::new();
        if let Some(min) = f.min_length.filter(|m| *m > 0) {
            at.push((LenAt::MinMinus1, min - 1));
            if f.max_length != Some(min) {
                at.push((LenAt::Min, min));
            }
        }
        if let Some(max) = f.max_length {
            if f.min_length != Some(max) {
                at.push((LenAt::Max, max));
            }
            at.push((LenAt::MaxPlus1, max + 1));
        }
        for (which, n) in at {
            let class = if which.accepted() {
                match reachable(contract, f, n) {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                rejected_class(f, n)
            };
            let outcome = if which.accepted() {
                "is accepted".to_owned()
            } else {
                gets(contract, Role::BadField)
            };
            let bound = match which {
                LenAt::MinMinus1 | LenAt::Min => "minLength",
                LenAt::Max | LenAt::MaxPlus1 => "maxLength",
            };
            out.push(Check {
                id: format!("LEN-{}-{}-{}", tag(service), f.name, which.tag()),
                title: format!(
                    "{}: {} of {n} character{} ({}) {outcome}",
                    service.name(),
                    f.name,
                    if n == 1 { "" } else { "s" },
                    which.tag().to_lowercase()
                ),
                source: format!("contract/openapi.json {schema}.{} {bound}", f.name),
                severity: Severity::Major,
                probe: Probe::Len {
                    service,
                    field: f.name.clone(),
                    at: which,
                    chars: n,
                    class,
                },
            });
        }
    }
    out
}

impl Ctx<'_> {
    /// A random value of `n` characters of `class`.
    fn random_value(&mut self, class: Class, n: usize) -> String {
        let rng = &mut self.rng;
        match class {
            Class::Letters => (0..n)
                .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
                .collect(),
            Class::Digits => (0..n)
                .map(|i| {
                    let lo = if i == 0 { 1 } else { 0 };
                    char::from(b'0' + rng.random_range(lo..10u8))
                })
                .collect(),
            Class::Email => {
                let local: String = (0..n.saturating_sub(5))
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect();
                format!("{local}@b.co")
            }
        }
    }

    /// Run the length check of `field` on `service`.
    pub(super) async fn length_check(
        &mut self,
        service: Service,
        field: &str,
        at: LenAt,
        chars: usize,
        class: Class,
    ) -> Step<Verdict> {
        let mut value = self.random_value(class, chars);
        if field == "numeroRadicado" {
            for _ in 0..50 {
                if !self.used_radicados.contains(&value) {
                    break;
                }
                value = self.random_value(class, chars);
            }
            self.used_radicados.insert(value.clone());
        }
        let (key, body) = match (service, at.accepted()) {
            (Service::Afiliacion, _) => {
                let (key, mut body) = self.body_with(service, field).await?;
                body[field] = value.clone().into();
                fix_related(self.contract, &mut body, field);
                (key, body)
            }
            (Service::Retracto, true) if field == "numeroDocumento" => {
                // The retraction names the person of the affiliation: the value
                // goes into the affiliation first.
                let contract = self.contract;
                let v = value.clone();
                let body = self
                    .retraction(true, |aff| {
                        aff["numeroDocumento"] = v.into();
                        fix_related(contract, aff, "numeroDocumento");
                    })
                    .await?;
                (self.key_for(service).to_owned(), body)
            }
            (Service::Retracto, real) => {
                let mut body = self.retraction(real, |_| {}).await?;
                body[field] = value.clone().into();
                (self.key_for(service).to_owned(), body)
            }
        };
        let ex = self.post_as(service, &key, &body).await?;
        Ok(if at.accepted() {
            self.accepted(&ex)
        } else {
            self.expect(&ex, Role::BadField)
        })
    }
}

/// After `field` changed in an affiliation: keep the fields tied to it valid.
fn fix_related(contract: &Contract, body: &mut Value, field: &str) {
    if field == "numeroDocumento"
        && let Some(numero) = body[field].as_str()
        && let Some(t) = contract
            .tipos_documento
            .iter()
            .find(|t| t.permitido_pensiones && t.patron_numero.is_match(numero))
    {
        body["tipoDocumento"] = t.codigo.clone().into();
    }
    if field == "numeroDocumentoEmpleador"
        && let Some(nit) = body[field].as_str()
        && body.get("digitoVerificacion").is_some()
        && let Some(dv) = nit_check_digit(nit)
    {
        body["digitoVerificacion"] = dv.to_string().into();
    }
}
