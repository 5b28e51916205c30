//! Field specifications of the report services, read from `openapi.json`.
//!
//! The mock validates with these and the conformance suite derives its boundary,
//! enumeration and required-field checks from them, so a change of a length or
//! an enumeration in the contract changes both without a change of code.

use regex::Regex;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;

use crate::{ContractError, Service};

/// A format the contract names for a string field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `YYYY-MM-DD`, a real calendar date.
    Date,
    /// An e-mail address.
    Email,
}

/// A code list (CSV file of the contract) a field's value must belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeList {
    /// `administradoras.csv`.
    Administradoras,
    /// `tipos_documento.csv`.
    TiposDocumento,
    /// `divipola.csv` (department and municipality fields together).
    Divipola,
    /// `errores.csv`.
    Errores,
}

/// One field of a request body.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The field's name as the protocol spells it.
    pub name: String,
    /// Whether it is always required.
    pub required: bool,
    /// Minimum length in characters.
    pub min_length: Option<usize>,
    /// Maximum length in characters.
    pub max_length: Option<usize>,
    /// The pattern its value must match, with its source text.
    pub pattern: Option<(String, Regex)>,
    /// The values it may take, when it is an enumeration.
    pub enumeration: Option<Vec<String>>,
    /// A format the value must have.
    pub format: Option<Format>,
    /// A code list the value must belong to.
    pub code_list: Option<CodeList>,
    /// A value the server handed out that the field must repeat
    /// (`x-references`, e.g. `ReportarAfiliaciontraslado.numeroTransaccion`).
    pub references: Option<String>,
}

/// "When `field` is one of `values`, `then_required` are required."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field the condition looks at.
    pub field: String,
    /// The values that trigger it.
    pub values: Vec<String>,
    /// The fields it makes required.
    pub then_required: Vec<String>,
}

/// The request body of one service.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Which service.
    pub service: Service,
    /// Its fields, in the contract's order.
    pub fields: Vec<FieldSpec>,
    /// Its conditional requirements.
    pub conditions: Vec<Condition>,
    /// Whether fields the contract does not name are refused.
    pub closed: bool,
    index: HashMap<String, usize>,
}

impl ServiceSpec {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.position(name).map(|i| &self.fields[i])
    }

    /// Position of the field called `name` in [`fields`](Self::fields).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Fields required in every request.
    pub fn required(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|f| f.required)
    }

    pub(crate) fn from_openapi(doc: &Value, service: Service) -> Result<Self, ContractError> {
        let pointer = format!("/components/schemas/{}", service.schema_name());
        let err = |message: String| ContractError::Invalid {
            file: "openapi.json".to_owned(),
            message: format!("{pointer}: {message}"),
        };
        let schema = doc
            .pointer(&pointer)
            .ok_or_else(|| err("missing".to_owned()))?;
        let required: Vec<&str> = strings(schema.get("required"))
            .ok_or_else(|| err("`required` must be a list of strings".to_owned()))?;
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| err("`properties` must be an object".to_owned()))?;
        let mut fields = Vec::with_capacity(properties.len());
        for (name, prop) in properties {
            let at = |what: &str| err(format!("properties.{name}: {what}"));
            if prop.get("type").and_then(Value::as_str) != Some("string") {
                return Err(at("every field of the protocol is a string"));
            }
            let length = |key: &str| -> Result<Option<usize>, ContractError> {
                match prop.get(key) {
                    None => Ok(None),
                    Some(v) => v
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .map(Some)
                        .ok_or_else(|| at(&format!("`{key}` must be a non-negative integer"))),
                }
            };
            let pattern = match prop.get("pattern") {
                None => None,
                Some(p) => {
                    let source = p.as_str().ok_or_else(|| at("`pattern` must be a string"))?;
                    let regex = Regex::new(source).map_err(|e| {
                        at(&format!("bad pattern {source:?}: {}", crate::one_line(&e)))
                    })?;
                    Some((source.to_owned(), regex))
                }
            };
            let code_list = match prop.get("x-code-list").and_then(Value::as_str) {
                None => None,
                Some("administradoras") => Some(CodeList::Administradoras),
                Some("tipos_documento") => Some(CodeList::TiposDocumento),
                Some("divipola") => Some(CodeList::Divipola),
                Some("errores") => Some(CodeList::Errores),
                Some(other) => return Err(at(&format!("unknown code list {other:?}"))),
            };
            // A code list's enumeration is the CSV file's (checked by
            // `catalogues`); a value outside it gets the list's own codigo.
            let enumeration = match prop.get("enum") {
                _ if code_list.is_some() => None,
                None => None,
                Some(v) => Some(
                    strings(Some(v))
                        .ok_or_else(|| at("`enum` must be a list of strings"))?
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                ),
            };
            let format = match prop.get("format").and_then(Value::as_str) {
                None => None,
                Some("date") => Some(Format::Date),
                Some("email") => Some(Format::Email),
                Some(other) => return Err(at(&format!("unsupported format {other:?}"))),
            };
            fields.push(FieldSpec {
                name: name.clone(),
                required: required.contains(&name.as_str()),
                min_length: length("minLength")?,
                max_length: length("maxLength")?,
                pattern,
                enumeration,
                format,
                code_list,
                references: prop
                    .get("x-references")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        for name in &required {
            if !properties.contains_key(*name) {
                return Err(err(format!("required field {name} has no property")));
            }
        }
        let mut conditions = Vec::new();
        if let Some(all_of) = schema.get("allOf") {
            let items = all_of
                .as_array()
                .ok_or_else(|| err("`allOf` must be a list".to_owned()))?;
            for (i, item) in items.iter().enumerate() {
                // Branches generated from a code list (`catalogues`): the
                // code list itself is checked.
                if item.get("x-code-list").is_some() {
                    continue;
                }
                conditions.push(condition(item).ok_or_else(|| {
                    err(format!(
                        "allOf[{i}] must be {{\"if\": {{\"properties\": {{FIELD: {{\"enum\": [..]}}}}}}, \"then\": {{\"required\": [..]}}}}"
                    ))
                })?);
            }
        }
        for c in &conditions {
            for name in std::iter::once(&c.field).chain(&c.then_required) {
                if !properties.contains_key(name) {
                    return Err(err(format!("condition names unknown field {name}")));
                }
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Ok(ServiceSpec {
            service,
            fields,
            conditions,
            closed,
            index,
        })
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<&str>> {
    v?.as_array()?.iter().map(Value::as_str).collect()
}

fn condition(item: &Value) -> Option<Condition> {
    let props = item.pointer("/if/properties")?.as_object()?;
    if props.len() != 1 {
        return None;
    }
    let (field, rule) = props.iter().next()?;
    let values: Vec<String> = match (rule.get("enum"), rule.get("const")) {
        (Some(list), None) => strings(Some(list))?
            .into_iter()
            .map(str::to_owned)
            .collect(),
        (None, Some(one)) => vec![one.as_str()?.to_owned()],
        _ => return None,
    };
    let then_required = strings(item.pointer("/then/required"))?
        .into_iter()
        .map(str::to_owned)
        .collect();
    Some(Condition {
        field: field.clone(),
        values,
        then_required,
    })
}

#[cfg(test)]
mod tests {
    use crate::{Contract, Service};

    #[test]
    fn afiliacion_spec_matches_design() {
        let spec = Contract::embedded().service(Service::Afiliacion);
        assert!(spec.closed);
        let radicado = spec.field("numeroRadicado").expect("numeroRadicado");
        assert!(radicado.required);
        assert_eq!(radicado.max_length, Some(30));
        let novedad = spec.field("tipoNovedad").expect("tipoNovedad");
        assert_eq!(
            novedad.enumeration.as_deref(),
            Some(
                &[
                    "AFILIACION".to_owned(),
                    "TRASLADO_REGIMEN".to_owned(),
                    "TRASLADO_ADMINISTRADORA".to_owned()
                ][..]
            )
        );
        assert!(
            !spec
                .field("segundoApellido")
                .expect("segundoApellido")
                .required
        );
        assert_eq!(spec.conditions.len(), 3);
        assert_eq!(spec.required().count(), 15);
        let retracto = Contract::embedded().service(Service::Retracto);
        assert_eq!(retracto.required().count(), 6);
    }
}
