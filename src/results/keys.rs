//! How `summary.json`'s keys that may hold null are read and described in
//! its schema: a key that must be present though its value may be null
//! ([`nullable`], [`Nullable`]), and one that may be absent or null
//! ([`present`]). Serde alone reads a missing `Option` key as null, which
//! would let a renamed key pass as "none".

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A key that must be present, its value possibly null.
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// In the schema, a key that is always present, its value possibly null
/// (`Option<T>`'s schema, required).
pub(super) struct Nullable<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Nullable<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        Option::<T>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Option::<T>::json_schema(generator)
    }
}

/// A key that may be absent (outer `None`) or null (`Some(None)`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
