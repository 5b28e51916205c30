//! Reports of a run, read back from its results folder: `report.html` (one
//! self-contained page, inline SVG charts drawn with plotters), `report.md`
//! (for CI logs and pull requests) and `junit.xml` (each threshold and the
//! reconciliation a testcase). Every run writes them; `mss-harness report DIR`
//! writes them again from the folder's files alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::Value;

pub mod charts;
mod html;
pub mod junit;
pub mod markdown;

/// Latency percentiles of one second of one service, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondStats {
    /// Seconds from the start of the run.
    pub second: f64,
    /// p50, ms.
    pub p50: f64,
    /// p90, ms.
    pub p90: f64,
    /// p99, ms.
    pub p99: f64,
}

/// One second's counts over every service.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SecondCounts {
    /// Requests that ended in this second.
    pub sent: u64,
    /// Of which stored by the target.
    pub stored: u64,
    /// Of which not.
    pub errors: u64,
}

/// A percentile distribution: (percentile 0–100, latency ms), rising.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Service name.
    pub service: String,
    /// `latency` (from the intended time) or `service_time`.
    pub kind: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// What the reports are made from.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The results folder.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Value,
    /// Per service, per second latency percentiles (from `latency.hlog`).
    pub latency: BTreeMap<String, Vec<SecondStats>>,
    /// Per second counts over every service (from `timeseries.csv`).
    pub counts: BTreeMap<u64, SecondCounts>,
    /// Percentile distributions (from `histograms.hlog`).
    pub curves: Vec<Curve>,
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Percentiles at HdrHistogram-style steps, up to the largest value.
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    if h.is_empty() {
        return points;
    }
    for v in h.iter_quantiles(4) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        points.push((q * 100.0, v.value_iterated_to() as f64 / 1000.0));
    }
    // The maximum closes the curve, never going back along the x axis.
    let max = h.max() as f64 / 1000.0;
    let top = 100.0 * (1.0 - 1.0 / (h.len() as f64 + 1.0));
    match points.last_mut() {
        Some(last) if last.0 >= top => last.1 = last.1.max(max),
        _ => points.push((top, max)),
    }
    points.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    points
}

/// The `schema_version` of the `summary.json` this harness writes
/// (`results/summary.schema.json`).
pub const SCHEMA_VERSION: u64 = 2;

/// The versions of `summary.json` this harness reads: 1 is read as 2 (see
/// [`upgrade_v1`]).
pub const READS_SCHEMA_VERSIONS: [u64; 2] = [1, 2];

/// The header of `timeseries.csv` (version 1 folders have `accepted` where
/// `stored` is).
pub const TIMESERIES_HEADER: [&str; 7] = [
    "second", "service", "sent", "stored", "errors", "p50_ms", "p99_ms",
];

/// A results folder's `summary.json`, as the current schema version: a
/// version 1 summary is upgraded ([`upgrade_v1`]); a summary without a
/// `schema_version`, or of a version this harness does not read, is an error
/// that names the file and the version.
pub(crate) fn read_summary(dir: &Path) -> anyhow::Result<Value> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut summary: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    match summary.get("schema_version").and_then(Value::as_u64) {
        Some(1) => upgrade_v1(&mut summary),
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
    Ok(summary)
}

/// Read a version 1 summary as version 2, in place. Version 1 counted, per
/// service, `accepted`: the requests of class `ok`, which then included the
/// invalid records rejected as expected. Where the run reconciled with the
/// mock, `reconciliation.services.<service>.harness` is the count the harness
/// knew stored, so `stored` is that and `rejected_as_expected` the rest of
/// `accepted`; without it (a URL target, a merged run) every `accepted` is
/// taken as `stored`. Version 1's `token.refreshes` counted every token
/// obtained; the first is taken off (one client_id, the usual case).
pub fn upgrade_v1(summary: &mut Value) {
    let reconciled = summary["reconciliation"]["checked"] == true;
    let harness: BTreeMap<String, u64> = summary["reconciliation"]["services"]
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
            let accepted = obj.remove("accepted").and_then(|v| v.as_u64()).unwrap_or(0);
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

/// Read a results folder.
pub fn load(dir: &Path) -> anyhow::Result<RunData> {
    let summary = read_summary(dir)?;
    let mut latency: BTreeMap<String, Vec<SecondStats>> = BTreeMap::new();
    for (tag, start, h) in crate::hlog::read_file(&dir.join("latency.hlog"))? {
        latency.entry(tag).or_default().push(SecondStats {
            second: start,
            p50: ms(&h, 0.5),
            p90: ms(&h, 0.9),
            p99: ms(&h, 0.99),
        });
    }
    let counts = timeseries_counts(dir)?;
    let mut curves = Vec::new();
    let totals = dir.join("histograms.hlog");
    if totals.is_file() {
        for (tag, _, h) in crate::hlog::read_file(&totals)? {
            let (service, kind) = tag.split_once('/').unwrap_or((tag.as_str(), "latency"));
            curves.push(Curve {
                service: service.to_owned(),
                kind: kind.to_owned(),
                points: curve(&h),
            });
        }
    }
    Ok(RunData {
        dir: dir.to_path_buf(),
        summary,
        latency,
        counts,
        curves,
    })
}

/// Write `report.html`, `report.md` and `junit.xml` into `dir` from its files.
pub fn write_all(dir: &Path) -> anyhow::Result<()> {
    let data = load(dir)?;
    let write = |name: &str, text: String| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
    };
    write("report.md", markdown::render(&data))?;
    write("junit.xml", junit::render(&data.summary))?;
    write("report.html", html::render(&data)?)?;
    Ok(())
}

/// The services of a summary that had requests, in the summary's order.
pub(crate) fn active_services(summary: &Value) -> Vec<(String, &Value)> {
    summary["services"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v["requests"].as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| (k.clone(), v))
                .collect()
        })
        .unwrap_or_default()
}

/// How a signal stopped the run, in a line (`None` for a run that was not
/// stopped): e.g. `SIGTERM 3.2 s into the run; 12 requests in flight, 4
/// abandoned as interrupted after a 5 s grace period`.
pub fn interruption_text(summary: &Value) -> Option<String> {
    let i = summary.get("interrupted").filter(|i| i.is_object())?;
    Some(format!(
        "{} {:.1} s into the run (planned {:.0} s); {} requests in flight, {} abandoned as interrupted after a {} s grace period",
        i["signal"].as_str().unwrap_or("a signal"),
        i["at_s"].as_f64().unwrap_or(0.0),
        i["planned_duration_s"].as_f64().unwrap_or(0.0),
        i["in_flight_at_signal"].as_u64().unwrap_or(0),
        i["interrupted"].as_u64().unwrap_or(0),
        i["grace_s"].as_f64().unwrap_or(0.0),
    ))
}

/// A service's requests in an error class (its `errors`, summed).
pub(crate) fn error_count(service: &Value) -> u64 {
    service["errors"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

/// Microseconds as milliseconds with one decimal.
pub(crate) fn fmt_ms(us: &Value) -> String {
    format!("{:.1}", us.as_f64().unwrap_or(0.0) / 1000.0)
}

/// `timeseries.csv`'s counts per second, every service added (columns by
/// position, so that version 1 folders, whose `stored` column is `accepted`,
/// read the same).
pub fn timeseries_counts(dir: &Path) -> anyhow::Result<BTreeMap<u64, SecondCounts>> {
    let mut counts: BTreeMap<u64, SecondCounts> = BTreeMap::new();
    let ts = dir.join("timeseries.csv");
    let mut reader =
        csv::Reader::from_path(&ts).with_context(|| format!("cannot read {}", ts.display()))?;
    for (n, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", ts.display(), n + 2))?;
        let field = |i: usize| -> anyhow::Result<u64> {
            row.get(i)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("{}: row {}: column {}", ts.display(), n + 2, i + 1))
        };
        let c = counts.entry(field(0)?).or_default();
        c.sent += field(2)?;
        // Version 1 folders call the column `accepted` (stored, and invalid
        // records rejected as expected).
        c.stored += field(3)?;
        c.errors += field(4)?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_rises_and_ends_at_the_maximum() {
        for n in [1u64, 7, 89, 1000, 20_000] {
            let mut h = crate::metrics::histogram();
            for i in 1..=n {
                crate::metrics::record(&mut h, 1000 + i * 37 % 5000);
            }
            crate::metrics::record(&mut h, 250_000);
            let points = curve(&h);
            assert!(
                points
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "n={n}: {points:?}"
            );
            let last = points.last().expect("points");
            assert!((last.1 - 250.0).abs() < 0.5, "n={n}: {last:?}");
        }
    }
}
