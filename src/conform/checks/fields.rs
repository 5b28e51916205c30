//! Checks generated from the fields of the contract, family by family:
//! `REQ-` (a required field missing, conditional ones included), `ENUM-` (an
//! enumeration value in lower case) and `TYP-` (a JSON type where a string
//! goes, and `null` in a required field).

use mss_contract::{Contract, FieldSpec, Role, Service, ServiceSpec};
use serde_json::Value;

use super::{Check, Probe, Severity, gets, tag};
use crate::conform::runner::{Ctx, Step, Verdict, fail};

/// A JSON type put where a string goes (`TYP-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypKind {
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// `null` in a required field (refused as missing).
    Null,
}

impl TypKind {
    /// The id's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            TypKind::Number => "NUMBER",
            TypKind::Boolean => "BOOLEAN",
            TypKind::Array => "ARRAY",
            TypKind::Object => "OBJECT",
            TypKind::Null => "NULL",
        }
    }

    /// The role of the codigo the target must answer with.
    fn role(self) -> Role {
        match self {
            TypKind::Number | TypKind::Boolean | TypKind::Array | TypKind::Object => Role::BadField,
            TypKind::Null => Role::MissingField,
        }
    }

    /// The value put in the field.
    fn value(self) -> Value {
        match self {
            TypKind::Number => Value::from(1_234_567u64),
            TypKind::Boolean => Value::Bool(true),
            TypKind::Array => serde_json::json!(["1234567"]),
            TypKind::Object => serde_json::json!({"valor": "1234567"}),
            TypKind::Null => Value::Null,
        }
    }
}

/// The field a type mutation goes to: the last optional free-text field, else
/// the last free-text field.
fn mutation_field(spec: &ServiceSpec) -> Option<&FieldSpec> {
    let free = |f: &&FieldSpec| {
        f.enumeration.is_none()
            && f.format.is_none()
            && f.code_list.is_none()
            && f.references.is_none()
    };
    spec.fields
        .iter()
        .rfind(|f| free(f) && !f.required)
        .or_else(|| spec.fields.iter().rfind(free))
}

/// Required fields, then those a condition makes required.
pub fn required_fields(spec: &ServiceSpec) -> Vec<&str> {
    let mut out: Vec<&str> = spec.required().map(|f| f.name.as_str()).collect();
    for c in &spec.conditions {
        for name in &c.then_required {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
    }
    out
}

/// The `REQ-` checks of `service`.
pub fn required_checks(contract: &Contract, service: Service, spec: &ServiceSpec) -> Vec<Check> {
    let schema = service.schema_name();
    required_fields(spec)
        .into_iter()
        .map(|name| {
            let conditional = spec.field(name).is_some_and(|f| !f.required);
            Check {
                id: format!("REQ-{}-{name}", tag(service)),
                title: format!(
                    "{}: without {name}{} {} naming it",
                    service.name(),
                    if conditional {
                        " (when its condition holds)"
                    } else {
                        ""
                    },
                    gets(contract, Role::MissingField)
                ),
                source: format!(
                    "contract/openapi.json {schema} {}",
                    if conditional {
                        "allOf/then/required"
                    } else {
                        "required"
                    }
                ),
                severity: Severity::Major,
                probe: Probe::Req(service, name.to_owned()),
            }
        })
        .collect()
}

/// The `ENUM-` checks of `service`: each enumeration value that has a lower
/// case, in lower case.
pub fn enum_checks(contract: &Contract, service: Service, spec: &ServiceSpec) -> Vec<Check> {
    let schema = service.schema_name();
    let mut out = Vec::new();
    for f in &spec.fields {
        for v in f.enumeration.iter().flatten() {
            if v.to_lowercase() == *v {
                continue;
            }
            out.push(Check {
                id: format!("ENUM-{}-{}-{v}", tag(service), f.name),
                title: format!(
                    "{}: {} = {:?} (lower case of {v}) {}",
                    service.name(),
                    f.name,
                    v.to_lowercase(),
                    gets(contract, Role::BadField)
                ),
                source: format!("contract/openapi.json {schema}.{} enum", f.name),
                severity: Severity::Major,
                probe: Probe::EnumCase(service, f.name.clone(), v.clone()),
            });
        }
    }
    out
}

/// The `TYP-` checks of `service`: four JSON types in a free-text field, and
/// `null` in the first required field.
pub fn type_checks(contract: &Contract, service: Service, spec: &ServiceSpec) -> Vec<Check> {
    let schema = service.schema_name();
    let mut out = Vec::new();
    if let Some(target) = mutation_field(spec) {
        for kind in [
            TypKind::Number,
            TypKind::Boolean,
            TypKind::Array,
            TypKind::Object,
        ] {
            out.push(Check {
                id: format!("TYP-{}-{}", tag(service), kind.tag()),
                title: format!(
                    "{}: {} as a JSON {} {}",
                    service.name(),
                    target.name,
                    kind.tag().to_lowercase(),
                    gets(contract, kind.role())
                ),
                source: format!("contract/openapi.json {schema}.{} type string", target.name),
                severity: Severity::Major,
                probe: Probe::Typ(service, kind, target.name.clone()),
            });
        }
    }
    if let Some(first) = spec.required().next() {
        out.push(Check {
            id: format!("TYP-{}-{}", tag(service), TypKind::Null.tag()),
            title: format!(
                "{}: {} = null {} (null is absent)",
                service.name(),
                first.name,
                gets(contract, TypKind::Null.role())
            ),
            source: format!("contract/openapi.json {schema}.required; contract/README.md"),
            severity: Severity::Major,
            probe: Probe::Typ(service, TypKind::Null, first.name.clone()),
        });
    }
    out
}

impl Ctx<'_> {
    /// Run a `TYP-` check: `field` of `service` as a `kind`.
    pub(super) async fn type_check(
        &mut self,
        service: Service,
        kind: TypKind,
        field: &str,
    ) -> Step<Verdict> {
        let (key, mut body) = self.body_with_any(service).await?;
        body[field] = kind.value();
        let ex = self.post_as(service, &key, &body).await?;
        Ok(self.expect(&ex, kind.role()))
    }

    /// Run a `REQ-` check: `service` without `field`.
    pub(super) async fn required_check(&mut self, service: Service, field: &str) -> Step<Verdict> {
        let (key, mut body) = self.body_with(service, field).await?;
        if let Some(map) = body.as_object_mut() {
            map.remove(field);
        }
        let ex = self.post_as(service, &key, &body).await?;
        let v = self.expect(&ex, Role::MissingField);
        if v == Verdict::Pass && !ex.mensaje_names(field) {
            return Ok(fail(format!(
                "{} does not name {field}: {}",
                self.contract.codigo_of(Role::MissingField),
                ex.seen()
            )));
        }
        Ok(v)
    }

    /// Run an `ENUM-` check: `field` of `service` = `value` in lower case.
    pub(super) async fn enum_case_check(
        &mut self,
        service: Service,
        field: &str,
        value: &str,
    ) -> Step<Verdict> {
        let (key, mut body) = match self.draw_somewhere(field, Some(value))? {
            Some(found) => found,
            None => self.body_with(service, field).await?,
        };
        body[field] = value.to_lowercase().into();
        let ex = self.post_as(service, &key, &body).await?;
        Ok(self.expect(&ex, Role::BadField))
    }
}
