//! A run's results folder, written and read by this one module:
//! `summary.json` ([`Summary`]), `timeseries.csv` and `errors.csv`
//! ([`rows`]). A reader fails loudly (naming the file and the key) on a
//! missing or mistyped key instead of reading zeros, and names a
//! `schema_version` it cannot read. `results/summary.schema.json` is
//! generated from [`Summary`] ([`schema`]).

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

pub mod audit;
pub mod capacity;
pub mod collect;
pub mod comparison;
pub mod delivery;
pub mod folder;
mod keys;
pub mod merge;
pub mod phases;
pub mod record;
pub mod rows;
pub mod slowest;
pub mod summary;
pub mod table;
pub mod unexpected;

pub use phases::{ExchangePhases, OpenedRate, PhaseStats};
pub use rows::{ErrorRow, TimeseriesRow};
pub use summary::*;

/// The error rate (docs/results.md: one definition, used by the verdict,
/// the reports and `compare`) of `sent` requests (dropped ones left out) of which
/// `succeeded` were stored or rejected as expected: 0 when none was sent.
pub fn error_rate(sent: u64, succeeded: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        sent.saturating_sub(succeeded) as f64 / sent as f64
    }
}

/// The `schema_version` of the `summary.json` this harness writes.
pub const SCHEMA_VERSION: u64 = 2;

/// The versions of `summary.json` this harness reads: 1 is read as 2 (see
/// [`upgrade_v1`]).
pub const READS_SCHEMA_VERSIONS: [u64; 2] = [1, 2];

/// The JSON Schema of `summary.json` (`results/summary.schema.json`),
/// generated from [`Summary`], pretty-printed with a final newline.
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(Summary).to_value();
    if let Some(v) = schema.pointer_mut("/properties/schema_version") {
        // The one version written.
        *v = serde_json::json!({"const": SCHEMA_VERSION, "description": "The version of this file's layout."});
    }
    // The identifying keys first, for people reading the file.
    let mut ordered = serde_json::Map::new();
    if let Value::Object(mut o) = schema {
        for k in ["$schema", "$id", "title", "description"] {
            if let Some(v) = o.remove(k) {
                ordered.insert(k.to_owned(), v);
            }
        }
        ordered.extend(o);
    }
    serde_json::to_string_pretty(&Value::Object(ordered)).unwrap_or_default() + "\n"
}

/// A results folder's `summary.json`, as the current schema version: a
/// version 1 summary is upgraded ([`upgrade_v1`]); a summary without a
/// `schema_version`, of a version this harness does not read, or with a
/// missing, unknown or mistyped key is an error that names the file and the
/// version or the key.
pub fn read_summary(dir: &Path) -> anyhow::Result<Summary> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_summary(&text, &path)
}

/// [`read_summary`] of the text of `path`.
pub fn parse_summary(text: &str, path: &Path) -> anyhow::Result<Summary> {
    let mut value: Value =
        serde_json::from_str(text).with_context(|| format!("{}: not JSON", path.display()))?;
    match value.get("schema_version").and_then(Value::as_u64) {
        Some(1) => upgrade_v1(&mut value),
        Some(SCHEMA_VERSION) => {}
        Some(v) => anyhow::bail!(
            "{}: schema_version {v} is not one this mss-harness {} reads (versions {}); \
             it was written by another version of mss-harness",
            path.display(),
            env!("CARGO_PKG_VERSION"),
            READS_SCHEMA_VERSIONS.map(|v| v.to_string()).join(" and ")
        ),
        None => anyhow::bail!(
            "{}: no schema_version: not the summary.json of an mss-harness run",
            path.display()
        ),
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        anyhow::anyhow!(
            "{}: key `{}`: {}",
            path.display(),
            if key == "." { "(top)".to_owned() } else { key },
            e.inner()
        )
    })
}

/// `summary` as `summary.json`'s text (no final newline).
pub fn summary_text(summary: &Summary) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(summary)?)
}

/// Write `summary` as `dir/summary.json` (what every run and every merge
/// writes: [`summary_text`], no final newline).
pub fn write_summary(dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    write_file(dir, "summary.json", summary_text(summary)?.as_bytes())
}

/// Write `bytes` to `dir/name`, the error naming the file.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(dir.join(name), bytes)
        .with_context(|| format!("cannot write {}", dir.join(name).display()))
}

/// A folder's `timeseries.csv` rows.
pub fn read_timeseries(dir: &Path) -> anyhow::Result<Vec<TimeseriesRow>> {
    rows::read(&dir.join("timeseries.csv"))
}

/// A folder's `errors.csv` rows.
pub fn read_errors(dir: &Path) -> anyhow::Result<Vec<ErrorRow>> {
    rows::read(&dir.join("errors.csv"))
}

/// Read a version 1 summary as version 2, in place. Version 1 counted, per
/// service, `accepted`: the requests of class `ok`, which then included the
/// invalid records rejected as expected. Where the run reconciled with the
/// mock, `reconciliation.services.<service>.harness` is the count the harness
/// knew stored, so `stored` is that and `rejected_as_expected` the rest of
/// `accepted`; without it (a URL target, a merged run) every `accepted` is
/// taken as `stored`. Version 1's `token.refreshes` counted every token
/// obtained; the first is taken off (one client_id, the usual case). A
/// service without `accepted` is left as it is (and fails as version 2).
pub fn upgrade_v1(summary: &mut Value) {
    let reconciled = summary["reconciliation"]["checked"] == true;
    let harness: std::collections::BTreeMap<String, u64> = summary["reconciliation"]["services"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v["harness"].as_u64()?)))
        .collect();
    if let Some(services) = summary["services"].as_object_mut() {
        for (name, s) in services.iter_mut() {
            let Some(obj) = s.as_object_mut() else {
                continue;
            };
            let Some(accepted) = obj.get("accepted").and_then(Value::as_u64) else {
                continue;
            };
            obj.remove("accepted");
            let stored = match harness.get(name) {
                Some(h) if reconciled => (*h).min(accepted),
                _ => accepted,
            };
            obj.insert("stored".into(), stored.into());
            obj.insert("rejected_as_expected".into(), (accepted - stored).into());
        }
    }
    if let Some(token) = summary.get_mut("token").and_then(Value::as_object_mut)
        && let Some(r) = token.get("refreshes").and_then(Value::as_u64)
    {
        token.insert("refreshes".into(), r.saturating_sub(1).into());
    }
    summary["schema_version"] = SCHEMA_VERSION.into();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_old_folders_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in [
            "results/baseline/smoke",
            "tests/data/results-v0.1-hlog/w0",
            "tests/data/results-v0.1-hlog/w1",
        ] {
            let s = read_summary(&root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e:#}"));
            assert_eq!(s.schema_version, SCHEMA_VERSION);
        }
        read_timeseries(&root.join("tests/data/results-v0.1-hlog/w0")).expect("timeseries");
        read_errors(&root.join("tests/data/results-v0.1-hlog/w0")).expect("errors");
    }

    #[test]
    fn a_renamed_key_is_named() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("tests/data/results-v0.1-hlog/w0/summary.json");
        let text = std::fs::read_to_string(&path).expect("read");
        let renamed = text.replace("\"dropped\"", "\"droped\"");
        let e = format!("{:#}", parse_summary(&renamed, &path).expect_err("renamed"));
        assert!(e.contains("summary.json") && e.contains("droped"), "{e}");
        let mut mistyped: Value = serde_json::from_str(&text).expect("json");
        mistyped["duration_s"] = "x".into();
        let e = format!(
            "{:#}",
            parse_summary(&mistyped.to_string(), &path).expect_err("mistyped")
        );
        assert!(e.contains("duration_s"), "{e}");
    }
}
