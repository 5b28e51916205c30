//! `compare.json`: what `mss-harness compare --out DIR` found, written for the
//! reports to read (the reports read this file, never the statistics code):
//! per service and metric the change with its interval and verdict, the
//! explicit limits when given, and how the false-alarm rate is kept.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file's name in a results folder.
pub const FILE: &str = "compare.json";

/// The `schema_version` of `compare.json`.
pub const SCHEMA_VERSION: u64 = 1;

/// A whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u64,
    /// The scenario all runs ran.
    pub scenario: String,
    /// The baseline folders, as given.
    pub baselines: Vec<String>,
    /// The compared run's folder, as given.
    pub current: String,
    /// Probability of a false `regressed` anywhere in the comparison.
    pub family_alpha: f64,
    /// Lines judged (those with an estimate): the Bonferroni divisor.
    pub lines_judged: usize,
    /// Two-sided confidence of each line's interval, %.
    pub line_confidence_pct: f64,
    /// Whether the spread between baseline runs was used (three or more).
    pub between_runs: bool,
    /// One line per service and metric.
    pub lines: Vec<Line>,
    /// The explicit limits (`--max-p99-increase` …), only those given.
    pub limits: Vec<LimitCheck>,
    /// `regressed` on a line, or a limit exceeded.
    pub regressed: bool,
}

/// One service's metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Service name.
    pub service: String,
    /// `p50`, `p90`, `p99`, `throughput` or `error_rate`.
    pub metric: String,
    /// Unit of `baseline` and `current`: `ms`, `/s` or `%`.
    pub unit: String,
    /// The baselines' value (their mean), when there is one.
    pub baseline: Option<f64>,
    /// The run's value.
    pub current: Option<f64>,
    /// Unit of the change: `%` (relative) or `pp` (percentage points).
    pub change_unit: String,
    /// The change, when judged.
    pub change: Option<f64>,
    /// Lower end of its interval.
    pub low: Option<f64>,
    /// Upper end of its interval.
    pub high: Option<f64>,
    /// The minimum effect, in `change_unit`.
    pub min_effect: f64,
    /// `regressed`, `improved`, `unchanged` or `inconclusive`.
    pub verdict: String,
    /// Why inconclusive and what would resolve it.
    pub note: Option<String>,
}

/// An explicit limit of the older flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitCheck {
    /// Service name.
    pub service: String,
    /// `p99`, `throughput` or `error_rate`.
    pub metric: String,
    /// Baseline value (ms, /s or %).
    pub baseline: f64,
    /// The run's value.
    pub current: f64,
    /// The change: % for p99 (a rise) and throughput (a fall), points for the
    /// error rate; positive is worse.
    pub change: f64,
    /// The allowed change.
    pub limit: f64,
    /// Whether it holds.
    pub ok: bool,
}

/// Write `c` as `dir/compare.json`.
pub fn write(dir: &Path, c: &Comparison) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = serde_json::to_string_pretty(c)? + "\n";
    super::write_file(dir, FILE, text.as_bytes())
}

/// `dir/compare.json`, if the folder has one; an unreadable one is an error
/// naming the file and the key.
pub fn read(dir: &Path) -> anyhow::Result<Option<Comparison>> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let c: Comparison = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow::anyhow!("{}: key `{}`: {}", path.display(), e.path(), e.inner()))?;
    if c.schema_version != SCHEMA_VERSION {
        anyhow::bail!(
            "{}: schema_version {} is not {SCHEMA_VERSION}, the one this mss-harness reads",
            path.display(),
            c.schema_version
        );
    }
    Ok(Some(c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A p50 line of 20 -> 22 ms judged `verdict`: its interval from `low`
    /// to `low + 8` around a change of `low + 4` (none when `low` is none).
    pub(crate) fn line(verdict: &str, low: Option<f64>) -> Line {
        Line {
            service: "S".into(),
            metric: "p50".into(),
            unit: "ms".into(),
            baseline: Some(20.0),
            current: Some(22.0),
            change_unit: "%".into(),
            change: low.map(|l| l + 4.0),
            low,
            high: low.map(|l| l + 8.0),
            min_effect: 3.0,
            verdict: verdict.into(),
            note: None,
        }
    }

    #[test]
    fn round_trips_and_a_bad_key_is_named() {
        let c = Comparison {
            schema_version: SCHEMA_VERSION,
            scenario: "smoke".into(),
            baselines: vec!["b".into()],
            current: "c".into(),
            family_alpha: 0.05,
            lines_judged: 1,
            line_confidence_pct: 90.0,
            between_runs: false,
            lines: vec![line("regressed", Some(6.0))],
            limits: Vec::new(),
            regressed: true,
        };
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(read(dir.path()).expect("none"), None);
        write(dir.path(), &c).expect("write");
        assert_eq!(read(dir.path()).expect("read"), Some(c));
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path).expect("text");
        std::fs::write(&path, text.replace("\"verdict\"", "\"verdikt\"")).expect("write");
        let e = format!("{:#}", read(dir.path()).expect_err("bad key"));
        assert!(e.contains("compare.json") && e.contains("verdikt"), "{e}");
    }
}
