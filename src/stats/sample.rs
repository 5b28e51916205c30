//! A results folder read as what the statistics need: per service, the
//! per-second latency histograms of `latency.hlog` and the per-second counts
//! of `timeseries.csv`, with `summary.json`. Read through the results readers
//! ([`crate::results`], [`crate::hlog`]); nothing here writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::bootstrap::{Seconds, SecondsBuilder};
use crate::results::Summary;

/// One second of one service from `timeseries.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SecondRow {
    /// Requests sent that ended in the second.
    pub sent: u64,
    /// Of which stored.
    pub stored: u64,
    /// Of the sent, neither stored nor rejected as expected.
    pub errors: u64,
}

/// One service of a run.
#[derive(Debug, Clone, Default)]
pub struct ServiceSample {
    /// Latency from the intended time, per second of the run.
    pub latency: Seconds,
    /// Counts per whole second of the load, when the folder has
    /// `timeseries.csv` (the committed version 1 baseline has none). The
    /// seconds after the load's end (the last answers draining) are left out
    /// of the series: a second with one straggler is no second of the load.
    /// They are in the totals below.
    pub per_second: Option<Vec<SecondRow>>,
    /// Requests that were due.
    pub requests: u64,
    /// Of which sent (not dropped).
    pub sent: u64,
    /// Stored reports.
    pub stored: u64,
    /// Sent requests neither stored nor rejected as expected.
    pub errors: u64,
}

/// A results folder as the statistics read it.
#[derive(Debug, Clone)]
pub struct RunSample {
    /// The folder.
    pub dir: PathBuf,
    /// Its `summary.json`.
    pub summary: Summary,
    /// Per service named in the summary.
    pub services: BTreeMap<String, ServiceSample>,
}

impl RunSample {
    /// How long the load lasted, seconds.
    pub fn seconds(&self) -> f64 {
        self.summary.duration_s
    }
}

/// Read the folder `dir`: `summary.json`, `latency.hlog` (required: the
/// percentiles' errors come from it) and `timeseries.csv` (when present).
pub fn read(dir: &Path) -> anyhow::Result<RunSample> {
    let summary = crate::results::read_summary(dir)?;
    let hlog = dir.join("latency.hlog");
    if !hlog.is_file() {
        anyhow::bail!(
            "{}: missing; compare judges percentiles from each run's per-second histograms",
            hlog.display()
        );
    }
    // One histogram at a time: a long run's seconds are never all held.
    let mut builders: BTreeMap<&str, SecondsBuilder> = summary
        .services
        .keys()
        .map(|k| (k.as_str(), SecondsBuilder::default()))
        .collect();
    let mut len = 0;
    crate::hlog::for_each_in_file(&hlog, |tag, start, h| {
        let i = start.round().max(0.0) as usize;
        len = len.max(i + 1);
        if let Some(b) = builders.get_mut(tag) {
            b.add(i, &h);
        }
        Ok(())
    })?;
    let timeseries = dir.join("timeseries.csv");
    let rows = if timeseries.is_file() {
        Some(crate::results::read_timeseries(dir)?)
    } else {
        None
    };
    let mut services = BTreeMap::new();
    for (name, s) in &summary.services {
        let mut seconds = builders.remove(name.as_str()).unwrap_or_default();
        seconds.extend_to(len);
        let per_second = rows.as_ref().map(|rows| {
            let n = rows
                .iter()
                .map(|r| r.second as usize + 1)
                .max()
                .unwrap_or(0);
            let mut out = vec![SecondRow::default(); n];
            for r in rows.iter().filter(|r| &r.service == name) {
                let o = &mut out[r.second as usize];
                o.sent += r.sent;
                o.stored += r.stored;
                // `errors` counts the dropped ones too; they were never sent.
                o.errors += r.errors.saturating_sub(r.dropped);
            }
            out.truncate((summary.duration_s.floor() as usize).max(1));
            out
        });
        let sent = s.requests.saturating_sub(s.dropped());
        services.insert(
            name.clone(),
            ServiceSample {
                latency: seconds.build(),
                per_second,
                requests: s.requests,
                sent,
                stored: s.stored,
                errors: sent.saturating_sub(s.stored + s.rejected_as_expected),
            },
        );
    }
    Ok(RunSample {
        dir: dir.to_path_buf(),
        summary,
        services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_baseline_reads_without_timeseries() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline/smoke");
        let run = read(&dir).expect("baseline");
        let a = &run.services["ReportarAfiliaciontraslado"];
        assert_eq!(a.latency.total(), a.requests);
        assert!(a.latency.len() >= 20, "{}", a.latency.len());
        assert!(a.per_second.is_none());
        assert_eq!(a.stored, 895);
    }

    #[test]
    fn a_folder_without_latency_hlog_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline/smoke");
        std::fs::copy(src.join("summary.json"), dir.path().join("summary.json")).expect("copy");
        let e = format!("{:#}", read(dir.path()).expect_err("no hlog"));
        assert!(e.contains("latency.hlog"), "{e}");
    }
}
