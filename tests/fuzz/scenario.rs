//! Fuzz target 2: the scenario-file parser, and what a run does with an
//! accepted file (plan, schedule, users, caps, the embedded mock's
//! configuration, the copy written to the results).

use std::fmt::Debug;
use std::path::Path;
use std::sync::LazyLock;

use super::bodies::any_text;
use super::{at, fuzz, words};
use mss_harness::generator::{AffiliationGenerator, GeneratorConfig};
use mss_harness::scenario::{BUILT_IN, LoadModel, RunPlan};
use mss_harness::schedule::ArrivalSchedule;
use mss_harness::session::RunOptions;
use mss_mock::{LatencyProfile, Mock, MockConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------
// 2. The scenario-file parser, and what a run does with an accepted file.
// ---------------------------------------------------------------------------

/// Scenarios besides the shipped ones, for the keys those do not use: a URL
/// target with credentials and production caps, a local URL target, the closed
/// model, a credentials file.
pub(super) const EXTRA_SCENARIOS: [&str; 3] = [
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

pub(super) fn scenario_seeds() -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .map(|(_, text)| *text)
        .chain(EXTRA_SCENARIOS)
        .collect()
}

/// A TOML string literal of `s`.
pub(super) fn toml_quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Raw TOML text of a number: odd ones (out of range, not finite, other bases).
pub(super) fn toml_number() -> impl Strategy<Value = String> + Clone {
    let numbers = select(words("toml_numbers"));
    prop_oneof![
        3 => numbers.prop_map(str::to_owned),
        2 => (-3i64..200_001).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
    ]
}

/// Raw TOML text of a string: durations (odd ones first) and words a scenario
/// uses (URLs, models, thresholds, codes).
pub(super) fn toml_text() -> impl Strategy<Value = String> + Clone {
    let durations = select(words("durations"));
    let words = select(words("scenario_words"));
    prop_oneof![
        3 => durations.prop_map(toml_quote),
        2 => "[0-9]{1,22}(ns|us|ms|s|m|h|d|w|M|y)( [0-9]{1,5}(ms|s|m|h))?"
            .prop_map(|s| toml_quote(&s)),
        3 => words.prop_map(toml_quote),
        1 => any_text(30).prop_map(|s| toml_quote(&s)),
    ]
}

/// Raw TOML text of any value a scenario might hold.
pub(super) fn toml_value() -> BoxedStrategy<String> {
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

/// The keys a written line or inline table takes: those of the format
/// (scenarios/README.md's key table, a `[table.sub]` as `table` and `sub`),
/// those the seed scenarios hold, and the latency profile's.
static SCENARIO_KEYS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let documented = crate::util::documented_scenario_keys()
        .into_iter()
        .flat_map(|k| {
            k.trim_matches(['[', ']'])
                .split('.')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
    let mut keys: Vec<String> = documented
        .chain(scenario_seeds().into_iter().flat_map(keys_of))
        .chain(LatencyProfile::KEYS.iter().map(|k| (*k).to_owned()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
});

/// Every key of a TOML text, at any depth.
fn keys_of(text: &str) -> Vec<String> {
    fn walk(value: &toml::Value, keys: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, inner) in table {
                    keys.push(key.clone());
                    walk(inner, keys);
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, keys)),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    let table: toml::Table = text.parse().expect("a seed scenario is TOML");
    walk(&toml::Value::Table(table), &mut keys);
    keys
}

pub(super) fn toml_key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => select(SCENARIO_KEYS.clone()),
        1 => "[a-zA-Z_-]{1,12}",
        1 => any::<String>().prop_map(|s| toml_quote(&s)),
    ]
}

/// A line to insert: a key and value, a table header, or anything.
pub(super) fn toml_line() -> impl Strategy<Value = String> {
    let headers = select(words("table_headers"));
    prop_oneof![
        6 => (toml_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => headers.prop_map(str::to_owned),
        1 => any_text(60),
    ]
}

/// One change to a scenario file.
#[derive(Debug, Clone)]
pub(super) enum LineMutation {
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

pub(super) fn line_mutation() -> impl Strategy<Value = LineMutation> {
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
pub(super) fn value_spans(line: &str) -> Vec<std::ops::Range<usize>> {
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
pub(super) enum ScenarioInput {
    /// Any text.
    Text(String),
    /// A shipped (or extra) scenario changed line by line, maybe cut short.
    Mutated {
        seed: Index,
        mutations: Vec<LineMutation>,
        cut: Option<Index>,
    },
}

pub(super) fn scenario_input() -> impl Strategy<Value = ScenarioInput> {
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
            match m {
                LineMutation::Drop(i) => {
                    if let Some(i) = at(i, len) {
                        lines.remove(i);
                    }
                }
                LineMutation::Duplicate(i) => {
                    if let Some(i) = at(i, len) {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                }
                LineMutation::Swap(i, j) => {
                    if let (Some(i), Some(j)) = (at(i, len), at(j, len)) {
                        lines.swap(i, j);
                    }
                }
                LineMutation::SetValue(i, v) => {
                    if let Some(i) = at(i, len)
                        && let Some(eq) = lines[i].find('=')
                    {
                        lines[i] = format!("{}= {v}", &lines[i][..eq]);
                    }
                }
                LineMutation::SetInner(i, j, v) => {
                    if let Some(i) = at(i, len) {
                        let spans = value_spans(&lines[i]);
                        if !spans.is_empty() {
                            let s = j.get(&spans).clone();
                            lines[i].replace_range(s, v);
                        }
                    }
                }
                LineMutation::Tweak(i, j, number, text) => {
                    if let Some(i) = at(i, len) {
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
                    if let Some(i) = at(i, len) {
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
pub(super) fn use_scenario(s: &RunPlan, text: &str) -> Result<(), TestCaseError> {
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
        // The embedded mock takes these settings as they are (the run's own
        // code applies them).
        let mut config =
            MockConfig::demo(mss_contract::Contract::embedded()).expect("demo configuration");
        mss_harness::target::embedded::apply_mock_settings(m, &mut config);
        let _ = config.latency.sample();
        if let Err(e) = Mock::new(config, mss_contract::Contract::embedded().clone()) {
            return Err(TestCaseError::fail(format!(
                "accepted, but the embedded mock refuses it: {e}\n{text}"
            )));
        }
    }
    let mut config = GeneratorConfig::new(
        mss_contract::Contract::embedded(),
        s.data.seed,
        &s.data.administradora,
    );
    config.radicado_prefix = s.data.radicado_prefix.clone();
    if let Err(e) = AffiliationGenerator::new(config) {
        return Err(TestCaseError::fail(format!(
            "accepted, but the generator refuses it: {e}\n{text}"
        )));
    }
    // The results folder's copy, parsed again by `merge`.
    let copy = toml::to_string_pretty(s.file())
        .map_err(|e| TestCaseError::fail(format!("cannot write it back: {e}\n{text}")))?;
    let again = RunPlan::parse(
        &copy,
        Path::new("scenario.toml"),
        mss_contract::Contract::embedded(),
    )
    .map_err(|e| {
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
pub(super) fn fuzz_scenario_parser() {
    let seeds = scenario_seeds();
    for seed in &seeds {
        let s = RunPlan::parse(
            seed,
            Path::new("seed.toml"),
            mss_contract::Contract::embedded(),
        )
        .unwrap_or_else(|e| panic!("seed scenarios parse: {e}"));
        if let Err(e) = use_scenario(&s, seed) {
            panic!("seed scenario {}: {e}", s.name);
        }
    }
    let path = Path::new("fuzz.toml");
    fuzz(
        "scenario parser (RunPlan::parse and what a run does with the result)",
        1500,
        scenario_input(),
        |input, tally| {
            let text = input.render(&seeds);
            match RunPlan::parse(&text, path, mss_contract::Contract::embedded()) {
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
