//! The report body as the validation reads it: one JSON object parsed once,
//! borrowing its strings, each contract field in a slot found in O(1), the
//! first unknown key remembered, and every JSON type told apart (the TYP
//! checks need to know a number from a string).

use std::borrow::Cow;

use mss_contract::{Role, ServiceSpec};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Rejection;
use crate::deviate::{Deviations, JsonKind};

/// A field's value as the body carries it.
#[derive(Debug)]
pub enum Field<'a> {
    /// A JSON string (borrowed from the request when it has no escapes).
    Text(Cow<'a, str>),
    /// `null`: treated as absent.
    Null,
    /// Any other JSON type.
    Other(JsonKind),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Boolean))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Field::Other(JsonKind::Number))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other(JsonKind::Array))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other(JsonKind::Object))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object key, borrowed when it has no escapes.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// The entries of a JSON object, in order; `Err(kind)` when it is no object.
struct Entries<'a>(Result<Vec<(Key<'a>, Field<'a>)>, &'static str>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(entry) = map.next_entry::<Key<'de>, Field<'de>>()? {
                    entries.push(entry);
                }
                Ok(Entries(Ok(entries)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entries(Err("un arreglo")))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Entries(Err("una cadena")))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Entries(Err("una cadena")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Entries(Err("null")))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Entries(Err("un booleano")))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Entries(Err("un número")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A request body parsed against a service's field list: each contract field
/// found in O(1), unknown keys remembered for VAL02.
#[derive(Debug)]
pub struct Body<'a> {
    pub(super) spec: &'a ServiceSpec,
    pub(super) slots: Vec<Option<Field<'a>>>,
    pub(super) unknown: Option<String>,
}

impl<'a> Body<'a> {
    /// Parse `bytes` as a JSON object for `spec` (VAL00 when it is none). When a
    /// key repeats, the last value wins, as in most JSON parsers.
    pub fn parse(spec: &'a ServiceSpec, bytes: &'a [u8]) -> Result<Self, Rejection> {
        let entries = match serde_json::from_slice::<Entries<'a>>(bytes) {
            Ok(Entries(Ok(entries))) => entries,
            Ok(Entries(Err(kind))) => {
                return Err(Rejection::new(
                    Role::MalformedBody,
                    format!("El cuerpo debe ser un objeto JSON, no {kind}"),
                ));
            }
            Err(e) => {
                return Err(Rejection::new(
                    Role::MalformedBody,
                    format!("JSON malformado: {}", e.to_string().replace('"', "'")),
                ));
            }
        };
        let mut slots: Vec<Option<Field<'a>>> = Vec::with_capacity(spec.fields.len());
        slots.resize_with(spec.fields.len(), || None);
        let mut unknown = None;
        for (Key(key), value) in entries {
            match spec.position(&key) {
                Some(i) => slots[i] = Some(value),
                None => {
                    if unknown.is_none() {
                        unknown = Some(key.chars().take(40).collect());
                    }
                }
            }
        }
        Ok(Body {
            spec,
            slots,
            unknown,
        })
    }

    /// Upper-case the text of field `name` when it is `lower` (the `ENUM-…`
    /// deviations).
    pub fn uppercase_if(&mut self, name: &str, lower: &str) {
        if let Some(i) = self.spec.position(name)
            && let Some(Field::Text(s)) = &self.slots[i]
            && s == lower
        {
            let upper = s.to_uppercase();
            self.slots[i] = Some(Field::Text(Cow::Owned(upper)));
        }
    }

    /// Upper-case every enumeration value that an `ENUM-…` deviation of `dev`
    /// lets through in lower case: what the mock does to a body before
    /// validating it.
    pub fn apply_enum_deviations(&mut self, dev: &Deviations) {
        if dev.is_empty() {
            return;
        }
        let spec = self.spec;
        for f in &spec.fields {
            for v in f.enumeration.iter().flatten() {
                if dev.of("ENUM", spec.service, &format!("{}-{v}", f.name)) {
                    self.uppercase_if(&f.name, &v.to_lowercase());
                }
            }
        }
    }

    /// The contract of this body's service.
    pub fn spec(&self) -> &'a ServiceSpec {
        self.spec
    }

    pub(super) fn slot(&self, name: &str) -> Option<&Field<'a>> {
        self.spec
            .position(name)
            .and_then(|i| self.slots[i].as_ref())
    }
}

pub(super) fn text<'b>(body: &'b Body<'_>, name: &str) -> Option<&'b str> {
    match body.slot(name) {
        Some(Field::Text(s)) => Some(s),
        _ => None,
    }
}

pub(super) fn absent(body: &Body<'_>, name: &str) -> bool {
    matches!(body.slot(name), None | Some(Field::Null))
}
