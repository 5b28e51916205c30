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
//!
//! One file per target: [`validation`] (the mock's validation called
//! directly), [`router`] (the mock through its router) and [`scenario`] (the
//! scenario-file parser and what a run does with an accepted file);
//! [`bodies`] holds the JSON and report-body strategies the first two share,
//! and this file the runner and the reader of the word lists the targets
//! draw from (`tests/data/fuzz-words.toml`).

mod bodies;
mod router;
mod scenario;
mod validation;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// The word list `name` of tests/data/fuzz-words.toml, in its order.
pub(super) fn words(name: &str) -> Vec<&'static str> {
    static LISTS: LazyLock<toml::Table> = LazyLock::new(|| {
        include_str!("../data/fuzz-words.toml")
            .parse()
            .expect("tests/data/fuzz-words.toml is TOML")
    });
    let list = LISTS
        .get(name)
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("tests/data/fuzz-words.toml has no list {name:?}"));
    list.iter()
        .map(|w| {
            w.as_str()
                .unwrap_or_else(|| panic!("{name}: {w} is not a string"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The runner: a case count from the environment, a tally printed at the end.
// ---------------------------------------------------------------------------

/// The item `i` picks of a list of `len` items, when the list has any (the
/// mutations of a seed address its entries or lines this way).
pub(super) fn at(i: &proptest::sample::Index, len: usize) -> Option<usize> {
    (len > 0).then(|| i.index(len))
}

/// Cases per property: `MSS_FUZZ_CASES`, else `default`.
pub(super) fn cases(default: u32) -> u32 {
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
pub(super) struct Tally {
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
pub(super) fn fuzz<S>(
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
