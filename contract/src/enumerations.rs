//! The protocol's enumeration values, as data: `tipoNovedad`, `tipoAfiliado`,
//! `regimenDestino`, `sexo`, `asesoriaDoble` and `autorizacionManejoDatos`.
//!
//! The harness acts on what a value *means* (a regime transfer needs an origin
//! administrator, an employee an employer), so it names the meaning with a
//! typed enum ([`Novedad`], [`TipoAfiliado`], [`Regimen`], [`Sexo`],
//! [`SiNo`]) and asks the contract how the protocol spells it. The spelling is
//! the property's `enum` in `openapi.json`; its `x-roles` says which value plays
//! which meaning, e.g.
//!
//! ```json
//! "tipoNovedad": {"enum": ["AFILIACION", ...],
//!                 "x-roles": {"affiliation": "AFILIACION", ...}}
//! ```
//!
//! A spelling belongs to a contract, not to the typed value:
//! `contract.enumerations().spelling(Novedad::TrasladoRegimen)`, and
//! `parse` back; two contracts that spell a value differently serve side by
//! side. A ministry annex that spells a novelty differently changes those two
//! lists, not the code. A folder whose lists disagree (a role missing or unknown, a
//! value outside the `enum`, a value of the `enum` without a role, a regime of
//! `administradoras.csv` that `regimenDestino` does not list, a condition on a
//! value the field does not take) is refused with one line naming the file and
//! the key.

use serde_json::Value;

use crate::files::invalid;
use crate::rules::Sexo;
use crate::{ContractError, Regimen, Service, ServiceSpec};

/// A value of an enumeration of the affiliation body whose spelling the
/// contract gives (`x-roles` of the field in `openapi.json`).
pub trait Enumerated: Copy + Eq + 'static {
    /// The field of `ReportarAfiliaciontraslado` it is a value of.
    const FIELD: &'static str;
    /// Every value, in the order of [`key`](Self::key)s.
    const ALL: &'static [Self];
    /// Its key in `x-roles`.
    fn key(self) -> &'static str;
    /// Its spellings, in [`ALL`](Self::ALL)'s order (empty for an optional
    /// value the contract does not offer).
    fn spellings(e: &Enumerations) -> &[String];
    /// Whether the contract may leave it out (the field's `enum` then lacks
    /// it, and the harness does without it).
    fn optional(self) -> bool {
        false
    }
}

/// `tipoNovedad`: what an affiliation report reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Novedad {
    /// A first affiliation to the pension system (`affiliation`).
    Afiliacion,
    /// A change of regime, RPM ↔ RAIS (`regime_transfer`).
    TrasladoRegimen,
    /// A change of administrator within RAIS (`administrator_transfer`).
    TrasladoAdministradora,
}

/// `tipoAfiliado`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoAfiliado {
    /// An employee: the employer's document and check digit are required
    /// (`employee`).
    Dependiente,
    /// Self-employed (`self_employed`).
    Independiente,
}

/// A yes/no flag of the protocol (`autorizacionManejoDatos`; `asesoriaDoble`
/// takes only the yes, [`Enumerations::asesoria_doble`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiNo {
    /// `yes`.
    Si,
    /// `no`.
    No,
}

/// `impl Enumerated for $type`: the field it is a value of, where its
/// spellings are kept, and each value with its key in `x-roles` (in the
/// order of `ALL`); any other item of the impl follows.
macro_rules! enumerated {
    ($type:ty, $field:literal, $spellings:ident, [$($value:ident => $key:literal),+ $(,)?] $($item:item)*) => {
        impl Enumerated for $type {
            const FIELD: &'static str = $field;
            const ALL: &'static [Self] = &[$(Self::$value),+];
            fn key(self) -> &'static str {
                match self {
                    $(Self::$value => $key),+
                }
            }
            fn spellings(e: &Enumerations) -> &[String] {
                &e.$spellings
            }
            $($item)*
        }
    };
}

enumerated!(Novedad, "tipoNovedad", novedad, [
    Afiliacion => "affiliation",
    TrasladoRegimen => "regime_transfer",
    TrasladoAdministradora => "administrator_transfer",
]);
enumerated!(TipoAfiliado, "tipoAfiliado", tipo_afiliado, [
    Dependiente => "employee",
    Independiente => "self_employed",
]);
enumerated!(Regimen, "regimenDestino", regimen, [Rpm => "prima_media", Rais => "ahorro_individual"]);
enumerated!(Sexo, "sexo", sexo, [F => "female", M => "male"]);
enumerated!(SiNo, "autorizacionManejoDatos", si_no, [Si => "yes", No => "no"]
    /// A contract may accept only the yes (no data processing without consent).
    fn optional(self) -> bool {
        self == Self::No
    }
);

/// The spelling of every [`Enumerated`] value, read from `openapi.json`.
#[derive(Debug, Clone, Default)]
pub struct Enumerations {
    novedad: Vec<String>,
    tipo_afiliado: Vec<String>,
    regimen: Vec<String>,
    sexo: Vec<String>,
    si_no: Vec<String>,
    asesoria_doble: String,
}

impl Enumerations {
    /// How the protocol spells `v`.
    pub fn spelling<T: Enumerated>(&self, v: T) -> &str {
        let i = T::ALL.iter().position(|x| *x == v).unwrap_or_default();
        T::spellings(self).get(i).map_or("", String::as_str)
    }

    /// The value spelled `s`, if the field takes it.
    pub fn parse<T: Enumerated>(&self, s: &str) -> Option<T> {
        T::spellings(self)
            .iter()
            .position(|x| !x.is_empty() && x == s)
            .and_then(|i| T::ALL.get(i).copied())
    }

    /// Whether the contract offers `v` (only an [optional](Enumerated::optional)
    /// value may be missing).
    pub fn offers<T: Enumerated>(&self, v: T) -> bool {
        !self.spelling(v).is_empty()
    }

    /// `asesoriaDoble`'s one value (the double advice was given).
    pub fn asesoria_doble(&self) -> &str {
        &self.asesoria_doble
    }

    /// Read and check the `x-roles` of every enumeration of the affiliation
    /// body (`spec` is its parsed specification, `doc` the OpenAPI document).
    pub(crate) fn from_openapi(doc: &Value, spec: &ServiceSpec) -> Result<Self, ContractError> {
        let asesoria = roles(doc, spec, "asesoriaDoble", &["yes"], &[])?;
        Ok(Enumerations {
            novedad: typed::<Novedad>(doc, spec)?,
            tipo_afiliado: typed::<TipoAfiliado>(doc, spec)?,
            regimen: typed::<Regimen>(doc, spec)?,
            sexo: typed::<Sexo>(doc, spec)?,
            si_no: typed::<SiNo>(doc, spec)?,
            asesoria_doble: asesoria.into_iter().next().unwrap_or_default(),
        })
    }
}

fn typed<T: Enumerated>(doc: &Value, spec: &ServiceSpec) -> Result<Vec<String>, ContractError> {
    let keys: Vec<&str> = T::ALL.iter().map(|v| v.key()).collect();
    let optional: Vec<&str> = T::ALL
        .iter()
        .filter(|v| v.optional())
        .map(|v| v.key())
        .collect();
    roles(doc, spec, T::FIELD, &keys, &optional)
}

/// The values `keys` name in `x-roles` of `field`, checked against its `enum`;
/// an `optional` key that is missing, or whose value the `enum` no longer
/// lists, is not offered (an empty spelling).
fn roles(
    doc: &Value,
    spec: &ServiceSpec,
    field: &str,
    keys: &[&str],
    optional: &[&str],
) -> Result<Vec<String>, ContractError> {
    let pointer = format!(
        "/components/schemas/{}/properties/{field}",
        Service::Afiliacion.schema_name()
    );
    let err =
        |key: &str, message: String| invalid("openapi.json", format!("{pointer}/{key}: {message}"));
    let Some(values) = spec.field(field).and_then(|f| f.enumeration.as_ref()) else {
        return Err(err(
            "enum",
            "missing: the harness needs the field's values".to_owned(),
        ));
    };
    let want = keys.join(", ");
    let map = doc
        .pointer(&format!("{pointer}/x-roles"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            err(
                "x-roles",
                format!("missing: an object naming the value of each of {want}"),
            )
        })?;
    if let Some(unknown) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(err(
            "x-roles",
            format!("unknown role {unknown:?}; the roles are {want}"),
        ));
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let is_optional = optional.contains(key);
        let offered = map
            .get(*key)
            .and_then(Value::as_str)
            .is_some_and(|v| values.iter().any(|x| x == v));
        if is_optional && !offered {
            out.push(String::new());
            continue;
        }
        let value = map
            .get(*key)
            .ok_or_else(|| err("x-roles", format!("role {key} has no value")))?
            .as_str()
            .ok_or_else(|| err(&format!("x-roles/{key}"), "must be a string".to_owned()))?;
        if !values.iter().any(|v| v == value) {
            return Err(err(
                &format!("x-roles/{key}"),
                format!(
                    "{value:?} is not a value of the field's enum ({})",
                    values.join(", ")
                ),
            ));
        }
        if out.iter().any(|v| v == value) {
            return Err(err(
                &format!("x-roles/{key}"),
                format!("{value:?} already plays another role"),
            ));
        }
        out.push(value.to_owned());
    }
    if let Some(orphan) = values.iter().find(|v| !out.contains(v)) {
        return Err(err(
            "x-roles",
            format!("the enum's value {orphan:?} plays no role; give it one of {want}"),
        ));
    }
    Ok(out)
}

/// Every condition of `spec` names values its field takes (when the field is
/// an enumeration).
pub(crate) fn check_conditions(spec: &ServiceSpec) -> Result<(), ContractError> {
    for (i, c) in spec.conditions.iter().enumerate() {
        let Some(values) = spec.field(&c.field).and_then(|f| f.enumeration.as_ref()) else {
            continue;
        };
        if let Some(v) = c.values.iter().find(|v| !values.contains(v)) {
            return Err(invalid(
                "openapi.json",
                format!(
                    "/components/schemas/{}/allOf/{i}/if/properties/{}: {v:?} is not a value of the field's enum ({})",
                    spec.service.schema_name(),
                    c.field,
                    values.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

impl Novedad {
    /// Whether it is a transfer (and so names an origin administrator).
    pub fn is_transfer(self) -> bool {
        !matches!(self, Self::Afiliacion)
    }
}

impl SiNo {
    /// [`Si`](Self::Si) when `yes`.
    pub fn of(yes: bool) -> Self {
        if yes { Self::Si } else { Self::No }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Contract;

    #[test]
    fn the_embedded_contract_spells_every_value() {
        let e = Contract::embedded().enumerations();
        assert_eq!(e.spelling(Novedad::TrasladoRegimen), "TRASLADO_REGIMEN");
        assert_eq!(e.spelling(TipoAfiliado::Dependiente), "DEPENDIENTE");
        assert_eq!(e.spelling(Regimen::Rais), "RAIS");
        assert_eq!(e.spelling(Sexo::F), "F");
        assert_eq!(e.spelling(SiNo::No), "N");
        assert_eq!(e.asesoria_doble(), "S");
        assert_eq!(e.parse::<Novedad>("AFILIACION"), Some(Novedad::Afiliacion));
        assert_eq!(e.parse::<Regimen>("rais"), None);
        for n in Novedad::ALL {
            assert_eq!(e.parse::<Novedad>(e.spelling(*n)), Some(*n));
        }
        assert_eq!(e.parse::<TipoAfiliado>("OTRO"), None);
    }
}
