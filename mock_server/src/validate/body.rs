//! The report body as the validation reads it: one JSON object parsed once,
//! borrowing its strings, each contract field in a slot found in O(1), the
//! first unknown key remembered, and every JSON type told apart (the TYP
//! checks need to know a number from a string).

use std::borrow::Cow;
use std::marker::PhantomData;

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

/// How a value is built from each kind of JSON value: [`Field`] (a field's
/// value) and [`Entries`] (the body) are read by the one visitor, [`Kinds`],
/// that tells every JSON type apart.
trait FromKinds<'de>: Sized {
    /// What the value should be, for serde's errors.
    const EXPECTING: &'static str;
    /// A string.
    fn text(s: Cow<'de, str>) -> Self;
    /// `null`.
    fn null() -> Self;
    /// A number, a boolean or an array (read through and dropped).
    fn other(kind: JsonKind) -> Self;
    /// An object.
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// The visitor of any JSON value, building a `T`.
struct Kinds<T>(PhantomData<T>);

impl<'de, T: FromKinds<'de>> Visitor<'de> for Kinds<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::text(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::other(JsonKind::Boolean))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::other(JsonKind::Number))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::other(JsonKind::Number))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::other(JsonKind::Number))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::other(JsonKind::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
}

impl<'de> FromKinds<'de> for Field<'de> {
    const EXPECTING: &'static str = "any JSON value";
    fn text(s: Cow<'de, str>) -> Self {
        Field::Text(s)
    }
    fn null() -> Self {
        Field::Null
    }
    fn other(kind: JsonKind) -> Self {
        Field::Other(kind)
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other(JsonKind::Object))
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Kinds(PhantomData))
    }
}

/// An object key, borrowed when it has no escapes.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// The entries of a JSON object, in order; `Err(kind)` when it is no object.
struct Entries<'a>(Result<Vec<(Key<'a>, Field<'a>)>, &'static str>);

impl<'de> FromKinds<'de> for Entries<'de> {
    const EXPECTING: &'static str = "a JSON object";
    fn text(_: Cow<'de, str>) -> Self {
        Entries(Err("una cadena"))
    }
    fn null() -> Self {
        Entries(Err("null"))
    }
    fn other(kind: JsonKind) -> Self {
        Entries(Err(match kind {
            JsonKind::Number => "un número",
            JsonKind::Boolean => "un booleano",
            JsonKind::Array => "un arreglo",
            JsonKind::Object => "un objeto",
        }))
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(entry) = map.next_entry::<Key<'de>, Field<'de>>()? {
            entries.push(entry);
        }
        Ok(Entries(Ok(entries)))
    }
}

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Kinds(PhantomData))
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

#[cfg(test)]
mod tests {
    use mss_contract::{Contract, Service};

    use super::*;

    /// What a body that is no object is refused with.
    fn refusal(json: &str) -> String {
        let spec = Contract::embedded().service(Service::Afiliacion);
        let e = Body::parse(spec, json.as_bytes()).expect_err(json);
        assert_eq!(e.codigo, Role::MalformedBody, "{json}");
        e.mensaje
    }

    #[test]
    fn a_body_that_is_no_object_is_named_by_its_json_type() {
        for (json, kind) in [
            (r#""texto""#, "una cadena"),
            (r#""con \"escape\"""#, "una cadena"),
            ("null", "null"),
            ("true", "un booleano"),
            ("-1", "un número"),
            ("7", "un número"),
            ("1.5", "un número"),
            ("[1, {}]", "un arreglo"),
        ] {
            assert_eq!(
                refusal(json),
                format!("El cuerpo debe ser un objeto JSON, no {kind}")
            );
        }
    }

    #[test]
    fn fields_keep_their_json_type() {
        let spec = Contract::embedded().service(Service::Afiliacion);
        let name = |i: usize| spec.fields[i].name.clone();
        let json = format!(
            r#"{{"{}": "a", "{}": null, "{}": 1, "{}": false, "{}": [], "{}": {{"x": 1}}}}"#,
            name(0),
            name(1),
            name(2),
            name(3),
            name(4),
            name(5)
        );
        let body = Body::parse(spec, json.as_bytes()).expect("an object");
        let kinds: Vec<String> = body.slots[..6]
            .iter()
            .map(|f| format!("{:?}", f.as_ref().expect("present")))
            .collect();
        assert_eq!(
            kinds,
            [
                r#"Text("a")"#,
                "Null",
                "Other(Number)",
                "Other(Boolean)",
                "Other(Array)",
                "Other(Object)"
            ]
        );
    }
}
