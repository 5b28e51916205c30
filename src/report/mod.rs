//! Reports of a run, read back from its results folder: `report.html` (one
//! self-contained page, inline SVG charts drawn with plotters), `report.md`
//! (for CI logs and pull requests) and `junit.xml` (each threshold and the
//! reconciliation a testcase). Every run writes them; `mss-harness report DIR`
//! writes them again from the folder's files alone. Each says first whether
//! the run delivered its plan (`summary.json`'s `delivery`), and each
//! latency it shows says what it covers: over how many sent of how many
//! planned requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hdrhistogram::Histogram;

pub use crate::results::rows::SecondCounts;
pub use crate::results::table::interruption_text;
use crate::results::{ServiceSummary, Summary};

pub mod charts;
pub mod compare_out;
pub mod comparison;
pub mod delivery_chart;
mod delivery_section;
pub mod history;
mod html;
pub mod junit;
pub mod markdown;
mod phases_section;
mod slowest;

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
    pub summary: Summary,
    /// Per service, per second latency percentiles (from `latency.hlog`).
    pub latency: BTreeMap<String, Vec<SecondStats>>,
    /// Per second counts over every service (from `timeseries.csv`).
    pub counts: BTreeMap<u64, SecondCounts>,
    /// Percentile distributions (from `histograms.hlog`).
    pub curves: Vec<Curve>,
    /// The folder's `compare.json`, when `compare --out` wrote one.
    pub comparison: Option<crate::results::comparison::Comparison>,
    /// Per second, what was planned, sent and dropped, and the harness's
    /// load (`delivery.csv`; empty for a folder written before it).
    pub delivery: Vec<crate::results::delivery::DeliveryRow>,
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

/// Read a results folder.
pub fn load(dir: &Path) -> anyhow::Result<RunData> {
    let summary = crate::results::read_summary(dir)?;
    let mut latency: BTreeMap<String, Vec<SecondStats>> = BTreeMap::new();
    // One second's histogram at a time: a long run has thousands.
    crate::hlog::for_each_in_file(&dir.join("latency.hlog"), |tag, start, h| {
        let stats = SecondStats {
            second: start,
            p50: ms(&h, 0.5),
            p90: ms(&h, 0.9),
            p99: ms(&h, 0.99),
        };
        match latency.get_mut(tag) {
            Some(seconds) => seconds.push(stats),
            None => {
                latency.insert(tag.to_owned(), vec![stats]);
            }
        }
        Ok(())
    })?;
    let counts = crate::results::rows::second_counts(dir)?;
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
        comparison: crate::results::comparison::read(dir)?,
        delivery: crate::results::delivery::read(dir)?,
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
pub(crate) fn active_services(summary: &Summary) -> Vec<(&str, &ServiceSummary)> {
    summary
        .services
        .iter()
        .filter(|(_, v)| v.requests > 0)
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

/// What a latency shown covers: `over 215 sent of 2,000 planned requests`
/// (a closed model plans users, not requests: `over 1,234 requests the users
/// sent`);
/// `None` for a summary written before delivery was recorded.
pub(crate) fn covered(summary: &Summary) -> Option<String> {
    let d = summary.delivery.as_ref()?;
    let grouped = crate::results::delivery::grouped;
    Some(match d.planned {
        Some(planned) => format!(
            "over {} sent of {} planned requests",
            grouped(d.sent),
            grouped(planned)
        ),
        None => format!("over {} requests the users sent", grouped(d.sent)),
    })
}

/// Microseconds as milliseconds with one decimal.
pub(crate) fn fmt_ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A committed worker's results folder (tests/data) and its summary:
    /// what the reports' tests start from.
    pub(crate) fn committed_worker() -> (std::path::PathBuf, crate::results::Summary) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/results-v0.1-hlog/w0");
        let summary = crate::results::read_summary(&dir).expect("summary");
        (dir, summary)
    }

    /// What the reports are made from: `summary` of the folder `dir`, with
    /// no time series, distribution, comparison nor delivery rows.
    pub(crate) fn run_data(dir: PathBuf, summary: crate::results::Summary) -> RunData {
        RunData {
            dir,
            summary,
            latency: Default::default(),
            counts: Default::default(),
            curves: Vec::new(),
            comparison: None,
            delivery: Vec::new(),
        }
    }

    #[test]
    fn a_curve_rises_and_ends_at_the_maximum() {
        for n in [1u64, 7, 89, 1000, 20_000] {
            let mut h = crate::hdr::histogram();
            for i in 1..=n {
                crate::hdr::record(&mut h, 1000 + i * 37 % 5000);
            }
            crate::hdr::record(&mut h, 250_000);
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
