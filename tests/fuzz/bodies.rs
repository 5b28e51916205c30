//! JSON for the mock's fuzz targets: values as raw text (so that 1e400, lone
//! surrogates and 300-deep arrays can be written), and valid report bodies
//! (drawn by the real generator) mutated field by field.

use std::fmt::Debug;

use chrono::{Days, NaiveDate};
use mss_contract::{Contract, Service};
use mss_harness::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use serde_json::Value;

use super::{at, words};

// ---------------------------------------------------------------------------
// JSON: values as raw text (so that 1e400, lone surrogates and 300-deep arrays
// can be written), and valid report bodies mutated field by field.
// ---------------------------------------------------------------------------

/// Any text, control characters and every plane included (`any::<String>()`
/// leaves control characters out).
pub(super) fn any_text(max: usize) -> impl Strategy<Value = String> + Clone {
    vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// `s` as a JSON string literal.
pub(super) fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Words the contract knows: codes, enumerations, field names. Mutations that
/// use them get past the first checks more often than random text does.
pub(super) fn vocabulary() -> Vec<String> {
    let c = Contract::embedded();
    let mut words: Vec<String> = Vec::new();
    for s in Service::ALL {
        for f in &c.service(s).fields {
            words.push(f.name.clone());
            words.extend(f.enumeration.iter().flatten().cloned());
        }
    }
    words.extend(c.administradoras.iter().map(|a| a.codigo.clone()));
    words.extend(c.tipos_documento.iter().map(|t| t.codigo.clone()));
    words.extend(
        c.municipios
            .iter()
            .take(20)
            .map(|m| m.codigo_municipio.clone()),
    );
    words.extend(
        c.municipios
            .iter()
            .take(20)
            .map(|m| m.codigo_departamento.clone()),
    );
    words.extend(["RPM", "RAIS", "M", "F", "S", "N", "SI", "NO", ""].map(String::from));
    words.sort();
    words.dedup();
    words
}

pub(super) fn field_names() -> Vec<String> {
    let c = Contract::embedded();
    let mut names: Vec<String> = Service::ALL
        .iter()
        .flat_map(|s| c.service(*s).fields.iter().map(|f| f.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A date as text: real dates around today, and impossible ones.
pub(super) fn date_text() -> impl Strategy<Value = String> + Clone {
    let today = mss_harness::domain::today_bogota();
    prop_oneof![
        (-40_000i64..800).prop_map(move |d| {
            let date = if d < 0 {
                today.checked_sub_days(Days::new(d.unsigned_abs()))
            } else {
                today.checked_add_days(Days::new(d.unsigned_abs()))
            };
            date.unwrap_or(NaiveDate::MIN).to_string()
        }),
        (0u32..10_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        "[0-9-]{8,12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z?",
    ]
}

/// Raw JSON text of a string value.
pub(super) fn json_string() -> impl Strategy<Value = String> + Clone {
    let vocabulary = vocabulary();
    prop_oneof![
        2 => any::<String>().prop_map(|s| quote(&s)),
        1 => any_text(40).prop_map(|s| quote(&s)),
        2 => "[0-9]{0,25}".prop_map(|s| quote(&s)),
        1 => "[A-Za-zÁÉÍÓÚÑáéíóúñ' .-]{0,70}".prop_map(|s| quote(&s)),
        2 => date_text().prop_map(|s| quote(&s)),
        3 => (select(vocabulary), any::<bool>()).prop_map(|(w, lower)| {
            quote(&if lower { w.to_lowercase() } else { w })
        }),
        // Escapes serde_json must refuse or decode: lone surrogates, a bad
        // escape, an unterminated string, a NUL, a pair that is an emoji.
        1 => select(words("json_escapes"))
        .prop_map(str::to_owned),
    ]
}

/// Raw JSON text of a scalar: null, booleans, every kind of number, strings.
pub(super) fn json_scalar() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        1 => Just("null".to_owned()),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| {
            serde_json::Number::from_f64(f).map_or_else(|| "0".to_owned(), |n| n.to_string())
        }),
        // Huge and odd numbers: hundreds of digits, exponents past f64.
        1 => "-?(0|[1-9][0-9]{0,400})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,6})?",
        // Numbers JSON does not have.
        1 => select(words("json_numbers"))
            .prop_map(str::to_owned),
        6 => json_string(),
    ]
}

/// Raw JSON text of any value: scalars, nested arrays and objects, and nesting
/// deeper than serde_json's recursion limit.
pub(super) fn json_value() -> BoxedStrategy<String> {
    let nested = json_scalar().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            vec((json_key(), inner), 0..6).prop_map(|v| {
                let pairs: Vec<String> = v.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", pairs.join(","))
            }),
        ]
    });
    prop_oneof![
        20 => nested,
        1 => (1usize..400, any::<bool>()).prop_map(|(n, array)| {
            if array {
                format!("{}{}", "[".repeat(n), "]".repeat(n))
            } else {
                format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))
            }
        }),
    ]
    .boxed()
}

/// Raw JSON text of an object key: the contract's field names (also in other
/// case) and arbitrary text.
pub(super) fn json_key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => (select(field_names()), 0u8..3).prop_map(|(k, case)| quote(&match case {
            0 => k,
            1 => k.to_lowercase(),
            _ => k.to_uppercase(),
        })),
        1 => any::<String>().prop_map(|s| quote(&s)),
        1 => "[a-zA-Z]{0,12}".prop_map(|s| quote(&s)),
    ]
}

/// A report body as a list of (raw key, raw value) in order.
pub(super) type Entries = Vec<(String, String)>;

pub(super) fn entries_of(body: &impl serde::Serialize) -> Entries {
    let value = serde_json::to_value(body).expect("a generated body is JSON");
    value
        .as_object()
        .expect("a generated body is an object")
        .iter()
        .map(|(k, v)| (quote(k), v.to_string()))
        .collect()
}

/// One change to a body.
#[derive(Debug, Clone)]
pub(super) enum Mutation {
    /// Drop an entry.
    Remove(Index),
    /// Replace an entry's value.
    Replace(Index, String),
    /// Add an entry (a known key again, or a new one).
    Insert(Index, String, String),
    /// Repeat an entry (a duplicate key).
    Duplicate(Index),
    /// Make a string value this many characters long (cut, or padded with `char`).
    Resize(Index, usize, char),
    /// Swap two entries' values.
    Swap(Index, Index),
    /// Upper-case (`true`) or lower-case a string value.
    Recase(Index, bool),
    /// Change an entry's key.
    Rename(Index, String),
}

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
    let length = prop_oneof![
        8 => 0usize..80,
        1 => 60_000usize..70_000,
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Remove),
        6 => (any::<Index>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => (any::<Index>(), json_key(), json_value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        1 => any::<Index>().prop_map(Mutation::Duplicate),
        3 => (any::<Index>(), length, any::<char>()).prop_map(|(i, n, c)| Mutation::Resize(i, n, c)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(i, u)| Mutation::Recase(i, u)),
        1 => (any::<Index>(), json_key()).prop_map(|(i, k)| Mutation::Rename(i, k)),
    ]
}

/// Damage to the rendered bytes, after the mutations.
#[derive(Debug, Clone)]
pub(super) enum Damage {
    None,
    /// Cut the body here.
    Truncate(Index),
    /// Overwrite one byte.
    Byte(Index, u8),
    /// Insert bytes.
    Splice(Index, Vec<u8>),
    /// Wrap the object in an array.
    Array,
}

pub(super) fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        30 => Just(Damage::None),
        1 => any::<Index>().prop_map(Damage::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Byte(i, b)),
        1 => (any::<Index>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Damage::Splice(i, b)),
        1 => Just(Damage::Array),
    ]
}

/// A valid body (`seed` picks it), changed by `mutations`, then `damage`d.
#[derive(Debug, Clone)]
pub(super) struct MutatedBody {
    seed: Index,
    /// Take the seed from the other service's bodies.
    cross: bool,
    mutations: Vec<Mutation>,
    damage: Damage,
}

pub(super) fn mutated_body() -> impl Strategy<Value = MutatedBody> {
    (
        any::<Index>(),
        prop::bool::weighted(0.05),
        vec(mutation(), 0..5),
        damage(),
    )
        .prop_map(|(seed, cross, mutations, damage)| MutatedBody {
            seed,
            cross,
            mutations,
            damage,
        })
}

pub(super) fn resize(raw: &str, n: usize, pad: char) -> Option<String> {
    let s: String = serde_json::from_str(raw).ok()?;
    let text: String = if s.is_empty() {
        std::iter::repeat_n(pad, n).collect()
    } else {
        s.chars().chain(std::iter::repeat(pad)).take(n).collect()
    };
    Some(quote(&text))
}

pub(super) fn recase(raw: &str, upper: bool) -> Option<String> {
    let s: String = serde_json::from_str(raw).ok()?;
    Some(quote(&if upper {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    }))
}

impl MutatedBody {
    pub(super) fn render(&self, seeds: &[Entries]) -> Vec<u8> {
        let mut entries = self.seed.get(seeds).clone();
        for m in &self.mutations {
            let len = entries.len();
            match m {
                Mutation::Remove(i) => {
                    if let Some(i) = at(i, len) {
                        entries.remove(i);
                    }
                }
                Mutation::Replace(i, v) => {
                    if let Some(i) = at(i, len) {
                        entries[i].1 = v.clone();
                    }
                }
                Mutation::Insert(i, k, v) => {
                    let i = i.index(len + 1);
                    entries.insert(i, (k.clone(), v.clone()));
                }
                Mutation::Duplicate(i) => {
                    if let Some(i) = at(i, len) {
                        let e = entries[i].clone();
                        entries.push(e);
                    }
                }
                Mutation::Resize(i, n, pad) => {
                    if let Some(i) = at(i, len)
                        && let Some(v) = resize(&entries[i].1, *n, *pad)
                    {
                        entries[i].1 = v;
                    }
                }
                Mutation::Swap(i, j) => {
                    if let (Some(i), Some(j)) = (at(i, len), at(j, len)) {
                        let v = entries[i].1.clone();
                        entries[i].1 = std::mem::replace(&mut entries[j].1, v);
                    }
                }
                Mutation::Recase(i, upper) => {
                    if let Some(i) = at(i, len)
                        && let Some(v) = recase(&entries[i].1, *upper)
                    {
                        entries[i].1 = v;
                    }
                }
                Mutation::Rename(i, k) => {
                    if let Some(i) = at(i, len) {
                        entries[i].0 = k.clone();
                    }
                }
            }
        }
        let pairs: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let mut bytes = format!("{{{}}}", pairs.join(",")).into_bytes();
        match &self.damage {
            Damage::None => {}
            Damage::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
            Damage::Byte(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            Damage::Splice(i, b) => {
                let i = i.index(bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Damage::Array => {
                bytes.insert(0, b'[');
                bytes.push(b']');
            }
        }
        bytes
    }
}

/// A report body: arbitrary bytes, or a valid one mutated.
#[derive(Debug, Clone)]
pub(super) enum BodyInput {
    Bytes(Vec<u8>),
    Mutated(MutatedBody),
}

pub(super) fn body_input() -> impl Strategy<Value = BodyInput> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..600).prop_map(BodyInput::Bytes),
        1 => "[ -~]{0,300}".prop_map(|s| BodyInput::Bytes(s.into_bytes())),
        10 => mutated_body().prop_map(BodyInput::Mutated),
    ]
}

/// Valid bodies of both services, as entries.
pub(super) struct Seeds {
    pub(super) afiliacion: Vec<Entries>,
    pub(super) retracto: Vec<Entries>,
}

impl Seeds {
    fn of(&self, service: Service) -> &[Entries] {
        match service {
            Service::Afiliacion => &self.afiliacion,
            Service::Retracto => &self.retracto,
        }
    }

    pub(super) fn render(&self, service: Service, body: &BodyInput) -> Vec<u8> {
        match body {
            BodyInput::Bytes(b) => b.clone(),
            BodyInput::Mutated(m) => {
                let other = match service {
                    Service::Afiliacion => Service::Retracto,
                    Service::Retracto => Service::Afiliacion,
                };
                m.render(self.of(if m.cross { other } else { service }))
            }
        }
    }
}

/// Affiliations of every administrator, dated up to `as_of`, and for each one a
/// retraction of it; `transaction` gives the number the target accepted it with
/// (`None`: leave it out of the retractions).
pub(super) fn seeds(
    as_of: NaiveDate,
    mut transaction: impl FnMut(&Entries) -> Option<String>,
) -> Seeds {
    let mut out = Seeds {
        afiliacion: Vec::new(),
        retracto: Vec::new(),
    };
    for (i, admin) in Contract::embedded().administradoras.iter().enumerate() {
        let mut config = GeneratorConfig::new(
            mss_contract::Contract::embedded(),
            0xF022 + i as u64,
            &admin.codigo,
        );
        config.as_of = as_of;
        let mut affiliations = AffiliationGenerator::new(config.clone()).expect("generator");
        let mut retractions = RetractionGenerator::new(config).expect("generator");
        for _ in 0..6 {
            let a = affiliations.next_affiliation().expect("affiliation");
            let entries = entries_of(&a);
            if let Some(numero) = transaction(&entries)
                && let Some(r) = retractions.retraction(&AcceptedAffiliation::of(&a, &numero))
            {
                out.retracto.push(entries_of(&r));
            }
            out.afiliacion.push(entries);
        }
    }
    assert!(!out.afiliacion.is_empty() && !out.retracto.is_empty());
    out
}

/// Every deviation id the mock knows.
pub(super) fn deviation_ids() -> Vec<String> {
    mss_mock::deviate::catalogue(Contract::embedded())
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

pub(super) fn deviations() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => Just(Vec::new()),
        1 => subsequence(deviation_ids(), 1..=3),
    ]
}

pub(super) fn service() -> impl Strategy<Value = Service> {
    select(Service::ALL.to_vec())
}

/// The body's `codigoAdministradora` as an index into the contract's list.
pub(super) fn admin_index(bytes: &[u8]) -> Option<u8> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let code = v.get("codigoAdministradora")?.as_str()?;
    let i = Contract::embedded()
        .administradoras
        .iter()
        .position(|a| a.codigo == code)?;
    u8::try_from(i).ok()
}
