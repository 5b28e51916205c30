//! Bad input, fuzzed: property tests (proptest) that feed the mock's request
//! parsing and validation, and the scenario-file parser, arbitrary and mutated
//! input. None of them may panic; the mock never answers 5xx and always answers
//! with the protocol's envelope (the RFC 6749 object on `/token`); a scenario file
//! is accepted or refused with a message naming the file, and an accepted one
//! survives every step a run takes with it. The admin API (`/__admin/`) is a test
//! control that stalls, slows and resets the mock; the fuzzed routes keep clear
//! of it.
//!
//! Each property runs `MSS_FUZZ_CASES` cases when that variable is set, else a
//! small default that keeps `cargo test` quick. A million cases each:
//!
//! ```text
//! MSS_FUZZ_CASES=1000000 cargo test --release --test tests fuzz:: -- --nocapture
//! ```
//!
//! Every property prints how many cases ran, how long they took and what the
//! inputs came to (the answers' `codigo`s, files accepted or refused), so that a
//! run shows the fuzzer got past the first check.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use chrono::{Days, NaiveDate};
use http_body_util::BodyExt;
use mss_contract::{Contract, Service};
use mss_harness::generator::{
    AcceptedAffiliation, AffiliationGenerator, GeneratorConfig, RetractionGenerator,
};
use mss_harness::scenario::{BUILT_IN, LoadModel, RunPlan};
use mss_harness::schedule::ArrivalSchedule;
use mss_harness::session::RunOptions;
use mss_mock::codes::Role;
use mss_mock::validate::{self, Rejection};
use mss_mock::{App, ClientConfig, Deviations, Mock, MockConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use tower::ServiceExt;

// ---------------------------------------------------------------------------
// The runner: a case count from the environment, a tally printed at the end.
// ---------------------------------------------------------------------------

/// Cases per property: `MSS_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    match std::env::var("MSS_FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("MSS_FUZZ_CASES={v:?} is not a number of cases")),
        Err(_) => default,
    }
}

/// What the cases of one property came to, by outcome.
#[derive(Default)]
struct Tally {
    cases: AtomicU64,
    outcomes: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn count(&self, outcome: &str) {
        let mut map = self
            .outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                map.insert(outcome.to_owned(), 1);
            }
        }
    }

    fn summary(&self) -> String {
        let map = self
            .outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Run `test` on `cases(default_cases)` inputs from `strategy`; print the count,
/// the wall time and the tally; panic with the smallest failing input when one
/// fails (a panic inside `test` is a failure too: proptest catches it).
fn fuzz<S>(
    name: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value, &Tally) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let cases = cases(default_cases);
    let config = Config {
        cases,
        // Regressions found become ordinary tests; nothing is written next to
        // the sources.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let tally = Tally::default();
    let start = Instant::now();
    let result = runner.run(&strategy, |input| {
        tally.cases.fetch_add(1, Ordering::Relaxed);
        test(input, &tally)
    });
    let ran = tally.cases.load(Ordering::Relaxed);
    println!(
        "fuzz {name}: {ran} cases in {:.1} s; {}",
        start.elapsed().as_secs_f64(),
        tally.summary()
    );
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
    assert!(
        ran >= u64::from(cases),
        "fuzz {name}: only {ran} of {cases} cases ran"
    );
}

// ---------------------------------------------------------------------------
// JSON: values as raw text (so that 1e400, lone surrogates and 300-deep arrays
// can be written), and valid report bodies mutated field by field.
// ---------------------------------------------------------------------------

/// Any text, control characters and every plane included (`any::<String>()`
/// leaves control characters out).
fn any_text(max: usize) -> impl Strategy<Value = String> + Clone {
    vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// `s` as a JSON string literal.
fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Words the contract knows: codes, enumerations, field names. Mutations that
/// use them get past the first checks more often than random text does.
fn vocabulary() -> Vec<String> {
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

fn field_names() -> Vec<String> {
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
fn date_text() -> impl Strategy<Value = String> + Clone {
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
fn json_string() -> impl Strategy<Value = String> + Clone {
    let words = vocabulary();
    prop_oneof![
        2 => any::<String>().prop_map(|s| quote(&s)),
        1 => any_text(40).prop_map(|s| quote(&s)),
        2 => "[0-9]{0,25}".prop_map(|s| quote(&s)),
        1 => "[A-Za-zÁÉÍÓÚÑáéíóúñ' .-]{0,70}".prop_map(|s| quote(&s)),
        2 => date_text().prop_map(|s| quote(&s)),
        3 => (select(words), any::<bool>()).prop_map(|(w, lower)| {
            quote(&if lower { w.to_lowercase() } else { w })
        }),
        // Escapes serde_json must refuse or decode: lone surrogates, a bad
        // escape, an unterminated string, a NUL, a pair that is an emoji.
        1 => select(vec![
            r#""\u0000""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\uD83D\uDE00""#,
            r#""\"""#,
            r#""\/""#,
            r#""\x""#,
            r#""unterminated"#,
            r#""a\nb\tc""#,
        ])
        .prop_map(str::to_owned),
    ]
}

/// Raw JSON text of a scalar: null, booleans, every kind of number, strings.
fn json_scalar() -> impl Strategy<Value = String> + Clone {
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
        1 => select(vec!["01", "1.", "-", "+1", ".5", "1e", "NaN", "Infinity", "0x10"])
            .prop_map(str::to_owned),
        6 => json_string(),
    ]
}

/// Raw JSON text of any value: scalars, nested arrays and objects, and nesting
/// deeper than serde_json's recursion limit.
fn json_value() -> BoxedStrategy<String> {
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
fn json_key() -> impl Strategy<Value = String> + Clone {
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
type Entries = Vec<(String, String)>;

fn entries_of(body: &impl serde::Serialize) -> Entries {
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
enum Mutation {
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

fn mutation() -> impl Strategy<Value = Mutation> {
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
enum Damage {
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

fn damage() -> impl Strategy<Value = Damage> {
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
struct MutatedBody {
    seed: Index,
    /// Take the seed from the other service's bodies.
    cross: bool,
    mutations: Vec<Mutation>,
    damage: Damage,
}

fn mutated_body() -> impl Strategy<Value = MutatedBody> {
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

fn resize(raw: &str, n: usize, pad: char) -> Option<String> {
    let s: String = serde_json::from_str(raw).ok()?;
    let text: String = if s.is_empty() {
        std::iter::repeat_n(pad, n).collect()
    } else {
        s.chars().chain(std::iter::repeat(pad)).take(n).collect()
    };
    Some(quote(&text))
}

fn recase(raw: &str, upper: bool) -> Option<String> {
    let s: String = serde_json::from_str(raw).ok()?;
    Some(quote(&if upper {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    }))
}

impl MutatedBody {
    fn render(&self, seeds: &[Entries]) -> Vec<u8> {
        let mut entries = self.seed.get(seeds).clone();
        for m in &self.mutations {
            let len = entries.len();
            let at = |i: &Index| (len > 0).then(|| i.index(len));
            match m {
                Mutation::Remove(i) => {
                    if let Some(i) = at(i) {
                        entries.remove(i);
                    }
                }
                Mutation::Replace(i, v) => {
                    if let Some(i) = at(i) {
                        entries[i].1 = v.clone();
                    }
                }
                Mutation::Insert(i, k, v) => {
                    let i = i.index(len + 1);
                    entries.insert(i, (k.clone(), v.clone()));
                }
                Mutation::Duplicate(i) => {
                    if let Some(i) = at(i) {
                        let e = entries[i].clone();
                        entries.push(e);
                    }
                }
                Mutation::Resize(i, n, pad) => {
                    if let Some(i) = at(i)
                        && let Some(v) = resize(&entries[i].1, *n, *pad)
                    {
                        entries[i].1 = v;
                    }
                }
                Mutation::Swap(i, j) => {
                    if let (Some(i), Some(j)) = (at(i), at(j)) {
                        let v = entries[i].1.clone();
                        entries[i].1 = std::mem::replace(&mut entries[j].1, v);
                    }
                }
                Mutation::Recase(i, upper) => {
                    if let Some(i) = at(i)
                        && let Some(v) = recase(&entries[i].1, *upper)
                    {
                        entries[i].1 = v;
                    }
                }
                Mutation::Rename(i, k) => {
                    if let Some(i) = at(i) {
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
enum BodyInput {
    Bytes(Vec<u8>),
    Mutated(MutatedBody),
}

fn body_input() -> impl Strategy<Value = BodyInput> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..600).prop_map(BodyInput::Bytes),
        1 => "[ -~]{0,300}".prop_map(|s| BodyInput::Bytes(s.into_bytes())),
        10 => mutated_body().prop_map(BodyInput::Mutated),
    ]
}

/// Valid bodies of both services, as entries.
struct Seeds {
    afiliacion: Vec<Entries>,
    retracto: Vec<Entries>,
}

impl Seeds {
    fn of(&self, service: Service) -> &[Entries] {
        match service {
            Service::Afiliacion => &self.afiliacion,
            Service::Retracto => &self.retracto,
        }
    }

    fn render(&self, service: Service, body: &BodyInput) -> Vec<u8> {
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
fn seeds(as_of: NaiveDate, mut transaction: impl FnMut(&Entries) -> Option<String>) -> Seeds {
    let mut out = Seeds {
        afiliacion: Vec::new(),
        retracto: Vec::new(),
    };
    for (i, admin) in Contract::embedded().administradoras.iter().enumerate() {
        let mut config = GeneratorConfig::new(0xF022 + i as u64, &admin.codigo);
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
fn deviation_ids() -> Vec<String> {
    mss_mock::deviate::catalogue(Contract::embedded())
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn deviations() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => Just(Vec::new()),
        1 => subsequence(deviation_ids(), 1..=3),
    ]
}

fn service() -> impl Strategy<Value = Service> {
    select(Service::ALL.to_vec())
}

// ---------------------------------------------------------------------------
// 1a. The mock's validation, called directly: the main million-case target.
// ---------------------------------------------------------------------------

/// Whose token the body comes with.
#[derive(Debug, Clone)]
enum TokenAdmin {
    /// The administrator the body names (when it names a known one).
    Own,
    /// Any index, also past the list.
    Index(u8),
}

#[derive(Debug, Clone)]
struct ValidationCase {
    service: Service,
    body: BodyInput,
    token_admin: TokenAdmin,
    /// Days from today to the mock's "today" (its clock moves a century either way).
    today_offset: i64,
    deviations: Vec<String>,
}

fn validation_case() -> impl Strategy<Value = ValidationCase> {
    let today_offset = prop_oneof![
        6 => Just(0i64),
        1 => -36_600i64..36_600,
    ];
    let token_admin = prop_oneof![
        6 => Just(TokenAdmin::Own),
        1 => any::<u8>().prop_map(TokenAdmin::Index),
        1 => (0u8..8).prop_map(TokenAdmin::Index),
    ];
    (
        service(),
        body_input(),
        token_admin,
        today_offset,
        deviations(),
    )
        .prop_map(
            |(service, body, token_admin, today_offset, deviations)| ValidationCase {
                service,
                body,
                token_admin,
                today_offset,
                deviations,
            },
        )
}

/// A refusal names a code of the catalogue with a 4xx status, and says why.
fn check_rejection(r: &Rejection) -> Result<(), TestCaseError> {
    prop_assert!(
        !r.internal && r.codigo != Role::Stored,
        "not a refusal of the catalogue: {:?}",
        r
    );
    let status = Contract::embedded().code(r.codigo).http_status;
    prop_assert!(
        (400..500).contains(&status),
        "{} has status {status}",
        r.codigo
    );
    prop_assert!(!r.mensaje.trim().is_empty(), "{} without mensaje", r.codigo);
    Ok(())
}

/// The body's `codigoAdministradora` as an index into the contract's list.
fn admin_index(bytes: &[u8]) -> Option<u8> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let code = v.get("codigoAdministradora")?.as_str()?;
    let i = Contract::embedded()
        .administradoras
        .iter()
        .position(|a| a.codigo == code)?;
    u8::try_from(i).ok()
}

#[test]
fn fuzz_mock_validation() {
    let contract = Contract::embedded();
    let real_today = mss_harness::domain::today_bogota();
    let seeds = seeds(real_today, |_| Some("0A1BAF000000000001".to_owned()));
    let admins = contract.administradoras.len();
    fuzz(
        "mock validation (validate::Body::parse, validate::affiliation/retraction)",
        1000,
        validation_case(),
        |case, tally| {
            let bytes = seeds.render(case.service, &case.body);
            let dev = Deviations::parse(contract, &case.deviations)
                .map_err(|e| TestCaseError::fail(format!("deviation ids: {e}")))?;
            let today = if case.today_offset < 0 {
                real_today.checked_sub_days(Days::new(case.today_offset.unsigned_abs()))
            } else {
                real_today.checked_add_days(Days::new(case.today_offset.unsigned_abs()))
            }
            .expect("within a century of today");
            let token_admin = match case.token_admin {
                TokenAdmin::Own => admin_index(&bytes).unwrap_or(0),
                TokenAdmin::Index(i) => i,
            };
            let spec = contract.service(case.service);
            let mut body = match validate::Body::parse(spec, &bytes) {
                Ok(body) => body,
                Err(r) => {
                    check_rejection(&r)?;
                    tally.count(Contract::embedded().codigo_of(r.codigo));
                    return Ok(());
                }
            };
            // As the mock does before validating, under ENUM deviations.
            if !dev.is_empty() {
                for f in &spec.fields {
                    for v in f.enumeration.iter().flatten() {
                        if dev.of("ENUM", case.service, &format!("{}-{v}", f.name)) {
                            body.uppercase_if(&f.name, &v.to_lowercase());
                        }
                    }
                }
            }
            let checked = match case.service {
                Service::Afiliacion => {
                    validate::affiliation(contract, &body, token_admin, today, &dev).map(|a| {
                        (
                            a.administradora,
                            a.tipo_documento,
                            a.fecha_solicitud,
                            a.radicado.is_empty() || a.numero_documento.is_empty(),
                            a.origen.is_none_or(|o| usize::from(o) < admins),
                        )
                    })
                }
                Service::Retracto => {
                    validate::retraction(contract, &body, token_admin, today, &dev).map(|r| {
                        (
                            r.administradora,
                            r.tipo_documento,
                            r.fecha_retracto,
                            r.radicado.is_empty()
                                || r.numero_documento.is_empty()
                                || r.transaccion.is_empty(),
                            true,
                        )
                    })
                }
            };
            match checked {
                Err(r) => {
                    check_rejection(&r)?;
                    tally.count(Contract::embedded().codigo_of(r.codigo));
                }
                Ok((admin, tipo, fecha, empty, origen_ok)) => {
                    let body = String::from_utf8_lossy(&bytes);
                    prop_assert!(usize::from(admin) < admins, "admin {admin}: {body}");
                    prop_assert!(
                        usize::from(tipo) < contract.tipos_documento.len(),
                        "tipo {tipo}: {body}"
                    );
                    prop_assert!(origen_ok, "origen out of the list: {body}");
                    prop_assert!(fecha <= today, "{fecha} after {today}: {body}");
                    if dev.is_empty() {
                        prop_assert!(!empty, "empty identifier accepted: {body}");
                        prop_assert_eq!(
                            admin,
                            token_admin,
                            "another administrator's body: {}",
                            body
                        );
                    }
                    tally.count("accepted");
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// 1b. The mock through its router: reports, /token, any route and header.
// ---------------------------------------------------------------------------

/// A header's value: absent, one of the usual ones, or any valid header bytes.
#[derive(Debug, Clone)]
enum HeaderInput {
    Absent,
    Text(String),
    Raw(Vec<u8>),
}

impl HeaderInput {
    fn value(&self) -> Option<HeaderValue> {
        match self {
            HeaderInput::Absent => None,
            HeaderInput::Text(s) => HeaderValue::from_str(s).ok(),
            HeaderInput::Raw(b) => HeaderValue::from_bytes(b).ok(),
        }
    }
}

/// Bytes a header value may hold: tab, visible ASCII and space, obs-text.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(
        prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff,],
        0..max,
    )
}

fn content_type(usual: &'static [&'static str]) -> impl Strategy<Value = HeaderInput> {
    prop_oneof![
        1 => Just(HeaderInput::Absent),
        6 => select(usual).prop_map(|s| HeaderInput::Text(s.to_owned())),
        1 => header_bytes(60).prop_map(HeaderInput::Raw),
    ]
}

const JSON_TYPES: &[&str] = &[
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    " application/json ;;; charset=\"x\"",
    "application/jsonx",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    ";",
];

const FORM_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "application/json",
    "text/plain",
    "",
];

/// How a report request is authorised.
#[derive(Debug, Clone)]
enum Auth {
    /// A valid token of a client of the body's administrator for the service.
    Own,
    /// A valid token of any demo client.
    Client(Index),
    /// `scheme` and a valid token of any client, with odd spacing.
    Scheme(String, Index),
    /// Any header value.
    Raw(Vec<u8>),
    Absent,
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        8 => Just(Auth::Own),
        2 => any::<Index>().prop_map(Auth::Client),
        1 => (
            select(vec!["bearer ", "BEARER ", "Bearer  ", " Bearer\t", "Basic ", "Bearer", "Bearer x", ""]),
            any::<Index>()
        )
            .prop_map(|(s, i)| Auth::Scheme(s.to_owned(), i)),
        2 => header_bytes(120).prop_map(Auth::Raw),
        1 => "Bearer [0-9a-f]{0,70}".prop_map(|s| Auth::Raw(s.into_bytes())),
        1 => Just(Auth::Absent),
    ]
}

/// How a report route is spelled.
#[derive(Debug, Clone)]
enum Spelling {
    Protocol,
    Lower,
    Upper,
    Query(String),
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        6 => Just(Spelling::Protocol),
        1 => Just(Spelling::Lower),
        1 => Just(Spelling::Upper),
        1 => "[a-zA-Z0-9=&%._-]{0,20}".prop_map(Spelling::Query),
    ]
}

/// A `/token` body: arbitrary bytes, or a demo client's grant changed.
#[derive(Debug, Clone)]
enum TokenBody {
    Raw(Vec<u8>),
    Grant {
        client: Index,
        drop: Vec<Index>,
        replace: Option<(Index, String)>,
        extra: Vec<(String, String)>,
    },
}

fn token_body() -> impl Strategy<Value = TokenBody> {
    let names = select(vec![
        "grant_type",
        "username",
        "password",
        "client_id",
        "scope",
        "GRANT_TYPE",
        "",
    ]);
    let value = prop_oneof![
        any::<String>(),
        "[ -~]{0,20}",
        Just("password".to_owned()),
        Just("client_credentials".to_owned()),
    ];
    prop_oneof![
        1 => vec(any::<u8>(), 0..300).prop_map(TokenBody::Raw),
        1 => "[a-z_=&%+0-9]{0,80}".prop_map(|s| TokenBody::Raw(s.into_bytes())),
        3 => (
            any::<Index>(),
            vec(any::<Index>(), 0..3),
            prop::option::weighted(0.6, (any::<Index>(), value.clone())),
            vec((names.prop_map(str::to_owned), value), 0..3),
        )
            .prop_map(|(client, drop, replace, extra)| TokenBody::Grant {
                client,
                drop,
                replace,
                extra,
            }),
    ]
}

/// A path for any route: the services' and /token in other spellings, and
/// arbitrary ones (the admin API is left out: it changes the mock's behaviour).
fn path() -> impl Strategy<Value = String> {
    let known = select(vec![
        "/token",
        "/ReportarAfiliaciontraslado",
        "/ReportarRetractoAfiliacion",
        "/reportarafiliaciontraslado/",
        "//ReportarRetractoAfiliacion",
        "/Token?x=1",
        "/",
        "",
        "*",
    ]);
    prop_oneof![
        2 => known.prop_map(str::to_owned),
        2 => "/[A-Za-z0-9._~%/?=&-]{0,40}",
        1 => any::<String>(),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT"])
            .prop_map(str::to_owned),
        1 => "[A-Za-z!#$%&'*+.^_`|~-]{1,12}",
    ]
}

#[derive(Debug, Clone)]
enum RouterCase {
    Report {
        service: Service,
        spelling: Spelling,
        content_type: HeaderInput,
        auth: Auth,
        content_length: Option<String>,
        body: BodyInput,
        /// Make the body this long (past the mock's 64 KiB limit).
        big: Option<usize>,
    },
    Token {
        content_type: HeaderInput,
        body: TokenBody,
    },
    Route {
        method: String,
        path: String,
        content_type: HeaderInput,
        body: Vec<u8>,
    },
}

fn router_case() -> impl Strategy<Value = RouterCase> {
    let content_length = prop::option::weighted(
        0.05,
        prop_oneof![
            (0u64..200_000).prop_map(|n| n.to_string()),
            Just("99999999999999999999999".to_owned()),
            Just("-1".to_owned()),
            "[ -~]{0,10}",
        ],
    );
    let big = prop::option::weighted(0.01, 60_000usize..80_000);
    prop_oneof![
        6 => (
            service(),
            spelling(),
            content_type(JSON_TYPES),
            auth(),
            content_length,
            body_input(),
            big,
        )
            .prop_map(|(service, spelling, content_type, auth, content_length, body, big)| {
                RouterCase::Report {
                    service,
                    spelling,
                    content_type,
                    auth,
                    content_length,
                    body,
                    big,
                }
            }),
        2 => (content_type(FORM_TYPES), token_body())
            .prop_map(|(content_type, body)| RouterCase::Token { content_type, body }),
        2 => (method(), path(), content_type(JSON_TYPES), vec(any::<u8>(), 0..100)).prop_map(
            |(method, path, content_type, body)| RouterCase::Route {
                method,
                path,
                content_type,
                body,
            }
        ),
    ]
}

/// The in-process mock with a valid token for every demo client.
struct Harness {
    runtime: tokio::runtime::Runtime,
    mock: Mock,
    app: App,
    clients: Vec<ClientConfig>,
    tokens: Mutex<Vec<String>>,
    seeds: Seeds,
    issued: AtomicU64,
}

fn form(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn grant(c: &ClientConfig) -> Vec<(String, String)> {
    vec![
        ("grant_type".to_owned(), "password".to_owned()),
        ("username".to_owned(), c.username.clone()),
        ("password".to_owned(), c.password.clone()),
        ("client_id".to_owned(), c.client_id.clone()),
    ]
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mock = Mock::new(MockConfig::demo().expect("demo configuration")).expect("mock");
        let app = mock.app();
        let clients = mock.config().clients.clone();
        let mut h = Harness {
            runtime,
            mock,
            app,
            clients,
            tokens: Mutex::new(Vec::new()),
            seeds: Seeds {
                afiliacion: Vec::new(),
                retracto: Vec::new(),
            },
            issued: AtomicU64::new(0),
        };
        h.renew_tokens();
        // Affiliations the mock accepts, and retractions of them.
        let today = h.mock.clock().today();
        let seeds = seeds(today, |entries| {
            let body = format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let admin = admin_index(body.as_bytes())?;
            let token = h.own_token(admin, Service::Afiliacion)?;
            let (status, _, answer) = h.send(
                Request::post(Service::Afiliacion.path())
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("request"),
            );
            assert_eq!(
                status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&answer)
            );
            let v: Value = serde_json::from_slice(&answer).ok()?;
            v["numeroTransaccion"].as_str().map(str::to_owned)
        });
        h.seeds = seeds;
        h
    }

    /// Revoke every token (the fuzzed grants' too) and get one per demo client.
    fn renew_tokens(&self) {
        self.mock.revoke_tokens();
        let mut tokens = Vec::new();
        for c in &self.clients {
            let (status, _, body) = self.send(
                Request::post("/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form(&grant(c))))
                    .expect("request"),
            );
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let v: Value = serde_json::from_slice(&body).expect("token JSON");
            tokens.push(v["access_token"].as_str().expect("access_token").to_owned());
        }
        *self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tokens;
    }

    fn token(&self, i: usize) -> String {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[i]
            .clone()
    }

    /// A token of a client of administrator `admin` entitled to `service`.
    fn own_token(&self, admin: u8, service: Service) -> Option<String> {
        let code = &Contract::embedded()
            .administradoras
            .get(usize::from(admin))?
            .codigo;
        let i = self.clients.iter().position(|c| {
            &c.administradora == code
                && c.services
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|n| n == service.name()))
        })?;
        Some(self.token(i))
    }

    fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.runtime.block_on(async {
            let resp = self.app.clone().oneshot(req).await.expect("infallible");
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .expect("the mock's answers are in memory")
                .to_bytes()
                .to_vec();
            (status, headers, body)
        })
    }

    /// The request of `case`, or `None` when no HTTP server would pass it on
    /// (a path that is no URI).
    fn request(&self, case: &RouterCase) -> Option<Request<Body>> {
        let mut builder;
        let body: Vec<u8>;
        let ctype;
        match case {
            RouterCase::Report {
                service,
                spelling,
                content_type,
                auth,
                content_length,
                body: input,
                big,
            } => {
                let path = match spelling {
                    Spelling::Protocol => service.path().to_owned(),
                    Spelling::Lower => service.path().to_lowercase(),
                    Spelling::Upper => service.path().to_uppercase(),
                    Spelling::Query(q) => format!("{}?{q}", service.path()),
                };
                builder = Request::builder().method(Method::POST).uri(path);
                let mut bytes = self.seeds.render(*service, input);
                if let Some(n) = big {
                    bytes.resize(*n, b' ');
                }
                body = bytes;
                let admin = admin_index(&body).unwrap_or(0);
                let n = self.clients.len();
                let value: Option<Vec<u8>> = match auth {
                    Auth::Own => Some(
                        format!(
                            "Bearer {}",
                            self.own_token(admin, *service)
                                .unwrap_or_else(|| self.token(0))
                        )
                        .into_bytes(),
                    ),
                    Auth::Client(i) => {
                        Some(format!("Bearer {}", self.token(i.index(n))).into_bytes())
                    }
                    Auth::Scheme(s, i) => {
                        Some(format!("{s}{}", self.token(i.index(n))).into_bytes())
                    }
                    Auth::Raw(b) => Some(b.clone()),
                    Auth::Absent => None,
                };
                if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                    builder = builder.header("authorization", v);
                }
                if let Some(v) = content_length
                    .as_deref()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                {
                    builder = builder.header("content-length", v);
                }
                ctype = content_type;
            }
            RouterCase::Token {
                content_type,
                body: input,
            } => {
                builder = Request::builder().method(Method::POST).uri("/token");
                body = match input {
                    TokenBody::Raw(b) => b.clone(),
                    TokenBody::Grant {
                        client,
                        drop,
                        replace,
                        extra,
                    } => {
                        let mut pairs = grant(client.get(&self.clients));
                        if let Some((i, v)) = replace {
                            let i = i.index(pairs.len());
                            pairs[i].1 = v.clone();
                        }
                        for d in drop {
                            if !pairs.is_empty() {
                                pairs.remove(d.index(pairs.len()));
                            }
                        }
                        pairs.extend(extra.iter().cloned());
                        form(&pairs).into_bytes()
                    }
                };
                ctype = content_type;
            }
            RouterCase::Route {
                method,
                path,
                content_type,
                body: bytes,
            } => {
                // The admin API is a test control (it stalls, slows, resets the
                // mock); arbitrary routes stay clear of it.
                let path = if path.to_ascii_lowercase().contains("admin") {
                    "/no-admin"
                } else {
                    path.as_str()
                };
                let method = Method::from_bytes(method.as_bytes()).ok()?;
                builder = Request::builder().method(method).uri(path);
                body = bytes.clone();
                ctype = content_type;
            }
        }
        if let Some(v) = ctype.value() {
            builder = builder.header("content-type", v);
        }
        builder.body(Body::from(body)).ok()
    }
}

/// The envelope of the report services and of refusals: JSON with `resultado`
/// (the status), a known `codigo` of that status, `mensaje`, `numeroTransaccion`.
fn check_envelope(status: StatusCode, body: &[u8]) -> Result<String, TestCaseError> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
    prop_assert_eq!(v["resultado"].as_str(), Some(status.as_str()), "{}", text);
    let codigo = v["codigo"].as_str().unwrap_or("");
    prop_assert!(
        Contract::embedded().role_of(codigo).is_some(),
        "codigo: {}",
        text
    );
    let expected = Contract::embedded().codigo(codigo).map(|c| c.http_status);
    prop_assert_eq!(expected, Some(status.as_u16()), "{}", text);
    prop_assert!(
        v["mensaje"].as_str().is_some_and(|m| !m.trim().is_empty()),
        "mensaje: {}",
        text
    );
    prop_assert!(
        v["numeroTransaccion"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "numeroTransaccion: {}",
        text
    );
    Ok(codigo.to_owned())
}

/// A `/token` answer: an access token, or an RFC 6749 error object.
fn check_token_answer(status: StatusCode, body: &[u8]) -> Result<String, TestCaseError> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
    match status {
        StatusCode::OK => {
            prop_assert!(
                v["access_token"].as_str().is_some_and(|t| !t.is_empty()),
                "{}",
                text
            );
            prop_assert_eq!(v["token_type"].as_str(), Some("bearer"), "{}", text);
            prop_assert!(v["expires_in"].as_u64().is_some(), "{}", text);
            Ok("token issued".to_owned())
        }
        StatusCode::BAD_REQUEST => {
            let error = v["error"].as_str().unwrap_or("");
            prop_assert!(
                [
                    "invalid_request",
                    "invalid_client",
                    "invalid_grant",
                    "unsupported_grant_type"
                ]
                .contains(&error),
                "{}",
                text
            );
            prop_assert!(
                v["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{}",
                text
            );
            Ok(format!("token {error}"))
        }
        _ => Err(TestCaseError::fail(format!(
            "/token answered {status}: {text}"
        ))),
    }
}

#[test]
fn fuzz_mock_router() {
    let h = Harness::new();
    let report_paths: Vec<String> = Service::ALL
        .iter()
        .map(|s| s.path().to_lowercase())
        .collect();
    fuzz(
        "mock router (POST /token, report services, any route)",
        500,
        router_case(),
        |case, tally| {
            // Fuzzed grants get tokens too: start afresh now and then so that
            // the mock's token table stays small.
            if h.issued.fetch_add(1, Ordering::Relaxed) % 20_000 == 19_999 {
                h.renew_tokens();
            }
            let Some(req) = h.request(&case) else {
                tally.count("no URI");
                return Ok(());
            };
            let method = req.method().clone();
            let path = req.uri().path().to_ascii_lowercase();
            let (status, headers, body) = h.send(req);
            prop_assert!(
                !status.is_server_error(),
                "{} {} answered {}: {}",
                method,
                path,
                status,
                String::from_utf8_lossy(&body)
            );
            if method == Method::HEAD {
                tally.count("HEAD");
                return Ok(());
            }
            let json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            prop_assert!(
                json,
                "{} {}: Content-Type {:?}",
                method,
                path,
                headers.get("content-type")
            );
            let outcome = if method == Method::POST && path == "/token" {
                check_token_answer(status, &body)?
            } else {
                let codigo = check_envelope(status, &body)?;
                if method == Method::POST && report_paths.contains(&path) {
                    codigo
                } else {
                    format!("route {codigo}")
                }
            };
            tally.count(&outcome);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// 2. The scenario-file parser, and what a run does with an accepted file.
// ---------------------------------------------------------------------------

/// Scenarios besides the shipped ones, for the keys those do not use: a URL
/// target with credentials and production caps, a local URL target, the closed
/// model, a credentials file.
const EXTRA_SCENARIOS: [&str; 3] = [
    r#"name = "produccion"
description = "a production target"
[target]
url = "https://ministerio.test:8062"
allowed_hosts = ["ministerio.test"]
[credentials]
username_env = "MSS_USERNAME"
password_env = "MSS_PASSWORD"
client_id_afiliacion_env = "MSS_CLIENT_ID_AFILIACION"
client_id_retracto_env = "MSS_CLIENT_ID_RETRACTO"
[load]
model = "open"
start_rate = 1
stages = [{ rate = 5, duration = "30s" }, { rate = 5, duration = "1m" }]
max_in_flight = 20
[production]
max_rate = 10
max_duration = "5m"
max_requests = 3000
[data]
radicado_prefix = "PRUEBAMSS"
seed = 7
administradora = "230201"
[token]
refresh_margin = "30s"
refresh_jitter = "10s"
[http]
timeout = "30s"
connect_timeout = "5s"
[thresholds]
global = ["p99 < 2s", "error_rate <= 1%", "drop_rate < 0.5%", "throughput >= 4/s"]
ReportarRetractoAfiliacion = ["max < 5s", "mean < 1s", "p50 < 300ms"]
"#,
    r#"name = "local_closed"
[target]
url = "http://127.0.0.1:8062"
allowed_hosts = ["127.0.0.1", "localhost"]
[credentials]
file = "credentials.toml"
[load]
model = "closed"
users = 5
ramp = "2s"
think_time = "100ms"
run_time = "3s"
[mix]
ReportarAfiliaciontraslado = 1
ReportarRetractoAfiliacion = 0
[invalid]
VAL01 = 0.1
NEG11 = 0.05
"#,
    r#"name = "mock-options"
[target]
url = "mock"
[target.mock]
token_ttl_seconds = 10
max_records = 1000
max_fingerprints = 4000
latency = { distribution = "uniform", min_ms = 1, max_ms = 5 }
[load]
model = "open"
max_in_flight = 10
[[load.stages]]
rate = 1
duration = "1s"
[[load.stages]]
rate = 0
duration = "500ms"
"#,
];

fn scenario_seeds() -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .map(|(_, text)| *text)
        .chain(EXTRA_SCENARIOS)
        .collect()
}

/// A TOML string literal of `s`.
fn toml_quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Raw TOML text of a number: odd ones (out of range, not finite, other bases).
fn toml_number() -> impl Strategy<Value = String> + Clone {
    let numbers = select(vec![
        "0",
        "-0",
        "-1",
        "1e400",
        "-1e400",
        "inf",
        "-inf",
        "nan",
        "+nan",
        "0.0",
        "1e-400",
        "5e-324",
        "1_000",
        "0x7fffffff",
        "0o777",
        "0b1",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "18446744073709551615",
        "1e308",
        "1.7976931348623157e308",
        "2.5",
        "100000",
        "100001",
        "1000000",
        "1000001",
    ]);
    prop_oneof![
        3 => numbers.prop_map(str::to_owned),
        2 => (-3i64..200_001).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
    ]
}

/// Raw TOML text of a string: durations (odd ones first) and words a scenario
/// uses (URLs, models, thresholds, codes).
fn toml_text() -> impl Strategy<Value = String> + Clone {
    let durations = select(vec![
        "0s",
        "-1s",
        "1e400",
        "1e400s",
        "18446744073709551615s",
        "18446744073709551616s",
        "584942417355y",
        "584542046090years",
        "500000000000y",
        "1h 30m",
        "",
        "  ",
        "5",
        "1ms 1ns",
        "1 s",
        "NaN s",
        "∞",
        "1ns",
        "999999999999999999999ns",
    ]);
    let words = select(vec![
        "mock",
        "open",
        "closed",
        "http://",
        "https://ministerio.test",
        "http://127.0.0.1:1",
        "http://[::1]:8062",
        "https://user@:0",
        "p99 < 800ms",
        "p999<2s",
        "error_rate < 1%",
        "throughput >= 1e400",
        "p0 < 1s",
        "p1e400 < 1s",
        "p-1 < 1s",
        "pNaN < 1s",
        "p99 < 18446744073709551615s",
        "max < 584942417355y",
        "error_rate < NaN%",
        "drop_rate >= -0%",
        "rps > inf",
        "lognormal",
        "fixed",
        "uniform",
        "none",
        "ReportarAfiliaciontraslado",
        "ReportarRetractoAfiliacion",
        "global",
        "230301",
        "25-14",
        "VAL01",
        "NEG12",
        "PRUEBAMSS",
    ]);
    prop_oneof![
        3 => durations.prop_map(toml_quote),
        2 => "[0-9]{1,22}(ns|us|ms|s|m|h|d|w|M|y)( [0-9]{1,5}(ms|s|m|h))?"
            .prop_map(|s| toml_quote(&s)),
        3 => words.prop_map(toml_quote),
        1 => any_text(30).prop_map(|s| toml_quote(&s)),
    ]
}

/// Raw TOML text of any value a scenario might hold.
fn toml_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        8 => toml_text(),
        7 => toml_number(),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => "[a-z ]{0,10}".prop_map(|s| format!("'{s}'")),
        1 => Just("1979-05-27T07:32:00Z".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            vec((toml_key(), inner), 0..4).prop_map(|v| {
                let pairs: Vec<String> = v.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
    .boxed()
}

const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "url",
    "allowed_hosts",
    "mock",
    "token_ttl_seconds",
    "latency",
    "distribution",
    "ms",
    "min_ms",
    "max_ms",
    "median_ms",
    "sigma",
    "cap_ms",
    "max_records",
    "max_fingerprints",
    "file",
    "username_env",
    "password_env",
    "client_id_env",
    "client_id_afiliacion_env",
    "client_id_retracto_env",
    "model",
    "start_rate",
    "stages",
    "rate",
    "duration",
    "max_in_flight",
    "users",
    "ramp",
    "think_time",
    "run_time",
    "seed",
    "administradora",
    "radicado_prefix",
    "refresh_margin",
    "refresh_jitter",
    "timeout",
    "connect_timeout",
    "global",
    "ReportarAfiliaciontraslado",
    "ReportarRetractoAfiliacion",
    "max_rate",
    "max_duration",
    "max_requests",
    "VAL01",
    "NEG11",
];

fn toml_key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => select(SCENARIO_KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_-]{1,12}",
        1 => any::<String>().prop_map(|s| toml_quote(&s)),
    ]
}

/// A line to insert: a key and value, a table header, or anything.
fn toml_line() -> impl Strategy<Value = String> {
    let headers = select(vec![
        "[target]",
        "[target.mock]",
        "[target.mock.latency]",
        "[load]",
        "[[load.stages]]",
        "[mix]",
        "[invalid]",
        "[data]",
        "[token]",
        "[http]",
        "[thresholds]",
        "[production]",
        "[credentials]",
        "[[clients]]",
    ]);
    prop_oneof![
        6 => (toml_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => headers.prop_map(str::to_owned),
        1 => any_text(60),
    ]
}

/// One change to a scenario file.
#[derive(Debug, Clone)]
enum LineMutation {
    Drop(Index),
    Duplicate(Index),
    Swap(Index, Index),
    /// Replace the value of a `key = value` line.
    SetValue(Index, String),
    /// Replace one value inside a line (a string or a number, also inside an
    /// inline table or an array).
    SetInner(Index, Index, String),
    /// Like `SetInner`, with a value of the same kind: a number for a number,
    /// a string for a string (past the type check, into the range checks).
    Tweak(Index, Index, String, String),
    Insert(Index, String),
    Replace(Index, String),
}

fn line_mutation() -> impl Strategy<Value = LineMutation> {
    prop_oneof![
        2 => any::<Index>().prop_map(LineMutation::Drop),
        1 => any::<Index>().prop_map(LineMutation::Duplicate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| LineMutation::Swap(i, j)),
        4 => (any::<Index>(), toml_value()).prop_map(|(i, v)| LineMutation::SetValue(i, v)),
        6 => (any::<Index>(), any::<Index>(), toml_value())
            .prop_map(|(i, j, v)| LineMutation::SetInner(i, j, v)),
        8 => (any::<Index>(), any::<Index>(), toml_number(), toml_text())
            .prop_map(|(i, j, n, t)| LineMutation::Tweak(i, j, n, t)),
        2 => (any::<Index>(), toml_line()).prop_map(|(i, l)| LineMutation::Insert(i, l)),
        1 => (any::<Index>(), any_text(60)).prop_map(|(i, l)| LineMutation::Replace(i, l)),
    ]
}

/// Spans of the values in a line: double-quoted strings and bare numbers after `=`.
fn value_spans(line: &str) -> Vec<std::ops::Range<usize>> {
    let Some(eq) = line.find('=') else {
        return Vec::new();
    };
    let b = line.as_bytes();
    let mut spans = Vec::new();
    let mut i = eq + 1;
    while i < b.len() {
        if b[i] == b'"' {
            let end = line[i + 1..].find('"').map_or(b.len(), |e| i + 1 + e + 1);
            spans.push(i..end);
            i = end;
        } else if b[i].is_ascii_digit() || b[i] == b'-' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"._+-".contains(&b[i])) {
                i += 1;
            }
            spans.push(start..i);
        } else if b[i] == b'=' {
            // The key of an inline table's entry ends here.
            i += 1;
        } else {
            i += 1;
        }
    }
    spans
}

#[derive(Debug, Clone)]
enum ScenarioInput {
    /// Any text.
    Text(String),
    /// A shipped (or extra) scenario changed line by line, maybe cut short.
    Mutated {
        seed: Index,
        mutations: Vec<LineMutation>,
        cut: Option<Index>,
    },
}

fn scenario_input() -> impl Strategy<Value = ScenarioInput> {
    prop_oneof![
        1 => any_text(300).prop_map(ScenarioInput::Text),
        1 => "[\\[\\]a-z_=\"'{}., 0-9\n#-]{0,200}".prop_map(ScenarioInput::Text),
        12 => (
            any::<Index>(),
            vec(line_mutation(), 1..4),
            prop::option::weighted(0.05, any::<Index>()),
        )
            .prop_map(|(seed, mutations, cut)| ScenarioInput::Mutated {
                seed,
                mutations,
                cut,
            }),
    ]
}

impl ScenarioInput {
    fn render(&self, seeds: &[&str]) -> String {
        let (seed, mutations, cut) = match self {
            ScenarioInput::Text(s) => return s.clone(),
            ScenarioInput::Mutated {
                seed,
                mutations,
                cut,
            } => (seed, mutations, cut),
        };
        let mut lines: Vec<String> = seed.get(seeds).lines().map(str::to_owned).collect();
        for m in mutations {
            let len = lines.len();
            let at = |i: &Index| (len > 0).then(|| i.index(len));
            match m {
                LineMutation::Drop(i) => {
                    if let Some(i) = at(i) {
                        lines.remove(i);
                    }
                }
                LineMutation::Duplicate(i) => {
                    if let Some(i) = at(i) {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                }
                LineMutation::Swap(i, j) => {
                    if let (Some(i), Some(j)) = (at(i), at(j)) {
                        lines.swap(i, j);
                    }
                }
                LineMutation::SetValue(i, v) => {
                    if let Some(i) = at(i)
                        && let Some(eq) = lines[i].find('=')
                    {
                        lines[i] = format!("{}= {v}", &lines[i][..eq]);
                    }
                }
                LineMutation::SetInner(i, j, v) => {
                    if let Some(i) = at(i) {
                        let spans = value_spans(&lines[i]);
                        if !spans.is_empty() {
                            let s = j.get(&spans).clone();
                            lines[i].replace_range(s, v);
                        }
                    }
                }
                LineMutation::Tweak(i, j, number, text) => {
                    if let Some(i) = at(i) {
                        let spans = value_spans(&lines[i]);
                        if !spans.is_empty() {
                            let s = j.get(&spans).clone();
                            let v = if lines[i][s.clone()].starts_with('"') {
                                text
                            } else {
                                number
                            };
                            lines[i].replace_range(s, v);
                        }
                    }
                }
                LineMutation::Insert(i, l) => {
                    let i = i.index(len + 1);
                    lines.insert(i, l.clone());
                }
                LineMutation::Replace(i, l) => {
                    if let Some(i) = at(i) {
                        lines[i] = l.clone();
                    }
                }
            }
        }
        let mut text = lines.join("\n");
        if let Some(c) = cut {
            let mut at = c.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        text
    }
}

/// What a run does with an accepted scenario before and after sending
/// anything: the plan, the schedule, the users, the caps, the embedded mock's
/// configuration, the copy written to the results (which `merge` parses back).
fn use_scenario(s: &RunPlan, text: &str) -> Result<(), TestCaseError> {
    let model = &s.load;
    let duration = s.duration();
    let (peak, planned, total) = s.outline();
    prop_assert_eq!(planned, duration);
    if let Some(peak) = peak {
        prop_assert!(peak.is_finite() && peak >= 0.0, "peak {peak}");
    }
    let written: usize = s.file().thresholds.values().map(Vec::len).sum();
    prop_assert_eq!(s.thresholds.len(), written, "a threshold did not parse");
    let caps = s.caps;
    for worker in [(0, 1), (1, 3), (2, 3)] {
        let share = caps.share(worker);
        prop_assert!(share.max_requests <= caps.max_requests);
        let _ = mss_harness::engine::users(s, worker);
    }
    if let LoadModel::Open {
        start_rate, stages, ..
    } = model
    {
        let schedule = ArrivalSchedule::new(*start_rate, stages).with_share(0, 1);
        let n = schedule.total();
        let _ = schedule.duration();
        let _ = schedule.due(0);
        let _ = schedule.due(n / 2);
        let _ = schedule.due(n.saturating_sub(1));
        let _ = schedule.next_ticket();
        if let Some(total) = total {
            prop_assert!(
                total.abs_diff(n) <= 1 + n / 1_000_000,
                "plan {total}, schedule {n}"
            );
        }
    }
    let plan = mss_harness::session::dry_run::text(s, &RunOptions::default());
    prop_assert!(plan.contains(&s.name));
    if let Some(m) = s.target.mock() {
        // The embedded mock takes these settings as they are.
        let mut config = MockConfig::demo().expect("demo configuration");
        if let Some(ttl) = m.token_ttl_seconds {
            config.token_ttl_seconds = ttl;
        }
        if let Some(latency) = m.latency {
            config.latency = latency;
            let _ = latency.sample();
        }
        if let Some(n) = m.max_records {
            config.max_records = n;
        }
        if let Some(n) = m.max_fingerprints {
            config.max_fingerprints = n;
        }
        if let Err(e) = Mock::new(config) {
            return Err(TestCaseError::fail(format!(
                "accepted, but the embedded mock refuses it: {e}\n{text}"
            )));
        }
    }
    let mut config = GeneratorConfig::new(s.data.seed, &s.data.administradora);
    config.radicado_prefix = s.data.radicado_prefix.clone();
    if let Err(e) = AffiliationGenerator::new(config) {
        return Err(TestCaseError::fail(format!(
            "accepted, but the generator refuses it: {e}\n{text}"
        )));
    }
    // The results folder's copy, parsed again by `merge`.
    let copy = toml::to_string_pretty(s.file())
        .map_err(|e| TestCaseError::fail(format!("cannot write it back: {e}\n{text}")))?;
    let again = RunPlan::parse(&copy, Path::new("scenario.toml")).map_err(|e| {
        TestCaseError::fail(format!(
            "its copy is refused: {e}\n--- copy\n{copy}\n--- file\n{text}"
        ))
    })?;
    prop_assert_eq!(again.outline(), s.outline(), "{}", copy);
    let copy_again = toml::to_string_pretty(again.file()).unwrap_or_default();
    prop_assert_eq!(copy_again, copy);
    Ok(())
}

#[test]
fn fuzz_scenario_parser() {
    let seeds = scenario_seeds();
    for seed in &seeds {
        let s = RunPlan::parse(seed, Path::new("seed.toml"))
            .unwrap_or_else(|e| panic!("seed scenarios parse: {e}"));
        if let Err(e) = use_scenario(&s, seed) {
            panic!("seed scenario {}: {e}", s.name);
        }
    }
    let path = Path::new("fuzz.toml");
    fuzz(
        "scenario parser (Scenario::parse and what a run does with the result)",
        1500,
        scenario_input(),
        |input, tally| {
            let text = input.render(&seeds);
            match RunPlan::parse(&text, path) {
                Ok(s) => {
                    use_scenario(&s, &text)?;
                    tally.count("accepted");
                }
                Err(e) => {
                    let message = e.to_string();
                    let why = message.strip_prefix("fuzz.toml: ").unwrap_or("");
                    prop_assert!(
                        !why.trim().is_empty(),
                        "refusal without the file's name or a reason: {:?}",
                        message
                    );
                    let kind = match e {
                        mss_harness::scenario::ScenarioError::Syntax { .. }
                            if why.starts_with("line ") =>
                        {
                            "refused (TOML, or a key at the top)"
                        }
                        mss_harness::scenario::ScenarioError::Syntax { .. } => {
                            "refused (a key's type or value)"
                        }
                        mss_harness::scenario::ScenarioError::Invalid { .. } => {
                            "refused (a value out of range)"
                        }
                        mss_harness::scenario::ScenarioError::Io { .. }
                        | mss_harness::scenario::ScenarioError::Unknown { .. } => "refused (io)",
                    };
                    tally.count(kind);
                }
            }
            Ok(())
        },
    );
}
