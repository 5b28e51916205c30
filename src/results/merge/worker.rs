//! One worker's results folder, read back for the merge: its summary, its
//! interval logs, time series and delivery, and what of its summary the
//! joined run sums (retries, unexpected codigos) or keeps for a lone worker
//! (what its target stored).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::domain::Service;
use crate::results::record::{StoredCounts, StoredRecord, UnexpectedCounts};
use crate::results::{Retries, Summary, TimeseriesRow};

/// An interval log's entries: tag, start in seconds, histogram.
pub(super) type Entries = Vec<(String, f64, Histogram<u64>)>;

/// One worker's folder, read.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) dir: PathBuf,
    pub(super) summary: Summary,
    pub(super) scenario_text: String,
    pub(super) index: u64,
    pub(super) count: u64,
    pub(super) start: SystemTime,
    pub(super) intervals: Entries,
    pub(super) totals: Vec<(String, Histogram<u64>)>,
    pub(super) token: Option<Histogram<u64>>,
    pub(super) rows: Vec<TimeseriesRow>,
    pub(super) delivery: Vec<crate::results::delivery::DeliveryRow>,
    /// Its phase timings (`None`: it kept none).
    pub(super) phases: Option<crate::results::phases::PhaseRecord>,
}

fn read_log(path: &Path) -> anyhow::Result<(Option<SystemTime>, Entries)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((
        crate::hlog::start_time(&bytes),
        crate::hlog::read(&bytes, path)?,
    ))
}

impl Worker {
    pub(super) fn read(dir: &Path) -> anyhow::Result<Worker> {
        let summary = crate::results::read_summary(dir)?;
        let scenario_text = std::fs::read_to_string(dir.join("scenario.toml"))
            .with_context(|| format!("cannot read {}", dir.join("scenario.toml").display()))?;
        let (start, intervals) = read_log(&dir.join("latency.hlog"))?;
        let start = start.with_context(|| {
            format!(
                "{}: no StartTime in its header",
                dir.join("latency.hlog").display()
            )
        })?;
        let (_, totals) = read_log(&dir.join("histograms.hlog"))?;
        let token = match dir.join("token.hlog") {
            p if p.is_file() => read_log(&p)?.1.into_iter().next().map(|(_, _, h)| h),
            _ => None,
        };
        let rows = crate::results::read_timeseries(dir)?;
        let delivery = crate::results::delivery::read(dir)?;
        let path = dir.join("summary.json");
        let worker = summary
            .meta
            .as_ref()
            .and_then(|m| m.worker)
            .with_context(|| format!("{}: key `meta.worker` missing", path.display()))?;
        Ok(Worker {
            dir: dir.to_path_buf(),
            index: worker.index,
            count: worker.count,
            summary,
            scenario_text,
            start,
            intervals,
            totals: totals.into_iter().map(|(t, _, h)| (t, h)).collect(),
            token,
            rows,
            delivery,
            phases: crate::results::phases::read(dir)?,
        })
    }

    /// Its `summary.json`, for errors.
    pub(super) fn summary_path(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
}

/// The workers' retries per service, summed; `None` unless every worker
/// counted them for every service it lists.
pub(super) fn retries(workers: &[Worker]) -> Option<[Retries; 2]> {
    let mut sum = [Retries {
        sent: 0,
        refused_by_budget: 0,
    }; 2];
    for w in workers {
        for (i, service) in Service::ALL.into_iter().enumerate() {
            if let Some(s) = w.summary.services.get(service.name()) {
                let r = s.retries?;
                sum[i].sent += r.sent;
                sum[i].refused_by_budget += r.refused_by_budget;
            }
        }
    }
    Some(sum)
}

/// The workers' unexpected codigos, summed per service, codigo and status;
/// `None` unless every worker counted them for every service it lists.
pub(super) fn unexpected(workers: &[Worker]) -> Option<UnexpectedCounts> {
    let mut sum = UnexpectedCounts::new();
    for w in workers {
        for service in Service::ALL {
            if let Some(s) = w.summary.services.get(service.name()) {
                for u in s.unexpected_codigos.as_ref()? {
                    *sum.entry((service, u.codigo.clone(), u.http_status))
                        .or_default() += u.count;
                }
            }
        }
    }
    Some(sum)
}

/// What a lone worker's target stored, as its summary's reconciliation says.
pub(super) fn stored(w: &Worker) -> anyhow::Result<StoredRecord> {
    let r = &w.summary.reconciliation;
    let counts = if r.checked {
        let mut c = StoredCounts {
            target: [0; 2],
            harness: [0; 2],
            unanswered: [0; 2],
        };
        for (i, service) in Service::ALL.into_iter().enumerate() {
            let s = r.services.get(service.name()).with_context(|| {
                format!(
                    "{}: key `reconciliation.services.{}` missing",
                    w.summary_path().display(),
                    service.name()
                )
            })?;
            c.target[i] = s.target;
            c.harness[i] = s.harness;
            c.unanswered[i] = s.unanswered;
        }
        Some(c)
    } else {
        None
    };
    Ok(StoredRecord {
        counts,
        unknown_outcome: r.unknown_outcome.clone(),
        idempotent_duplicates: r.idempotent_duplicates,
        unresolved: r.unresolved.clone(),
    })
}
