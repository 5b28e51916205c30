//! A results folder read as what the history keeps of it: the run's row (when,
//! which commit, scenario and target, whether it passed), each service's
//! numbers, the estimates the verdict judges with (computed once, when the run
//! is added: the per-second histograms are not kept), and `summary.json`
//! itself, whole, so that no field is lost to a later reader. Read through
//! [`crate::results::read_summary`] and the statistics' own reader.

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::results::Summary;
use crate::stats::compare::{RunMeasures, ServiceMeasures};
use crate::stats::estimate::{Measured, Metric};

/// One service's numbers in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRow {
    /// The service's protocol name.
    pub service: String,
    /// Requests that were due.
    pub requests: u64,
    /// Of which sent (not dropped).
    pub sent: u64,
    /// Stored reports.
    pub stored: u64,
    /// Invalid records refused as expected.
    pub rejected_as_expected: u64,
    /// Requests in an error class (the dropped included).
    pub errors: u64,
    /// Dropped (never sent).
    pub dropped: u64,
    /// Latency from the intended time, ms.
    pub p50_ms: f64,
    /// p90, ms.
    pub p90_ms: f64,
    /// p95, ms.
    pub p95_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// p99.9, ms.
    pub p999_ms: f64,
    /// The largest, ms.
    pub max_ms: f64,
    /// Stored reports per second of the load.
    pub throughput: f64,
    /// Sent requests neither stored nor rejected as expected, %; none when
    /// nothing was sent.
    pub error_rate: Option<f64>,
}

/// A run as the history lists it: when it ran, the commit, scenario and
/// target, whether it passed, the folder it was read from, and its services'
/// numbers: what a [`Record`] adds and the history's rows read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// RFC 3339, as its summary says.
    pub started_at: String,
    /// The same, milliseconds since the Unix epoch: the runs' order.
    pub started_ms: i64,
    /// The commit under test, when known ([`commit`]).
    pub commit: Option<String>,
    /// The scenario's name.
    pub scenario: String,
    /// SHA-256 of its `scenario.toml`, when known.
    pub scenario_sha256: Option<String>,
    /// "mock (embedded)" or the base URL.
    pub target: String,
    /// Whether the run passed ([`crate::verdict::passed`]: thresholds,
    /// reconciliation).
    pub passed: bool,
    /// The results folder, absolute.
    pub source: String,
    /// Its services, by name.
    pub services: Vec<ServiceRow>,
}

/// What the history keeps of one run.
#[derive(Debug, Clone)]
pub struct Record {
    /// The run as it is listed.
    pub run: Run,
    /// How long the load lasted, seconds.
    pub duration_s: f64,
    /// The harness that ran it.
    pub harness_version: String,
    /// When it was added, RFC 3339.
    pub added_at: String,
    /// SHA-256 of `summary.json`: the same run is not added twice.
    pub summary_sha256: String,
    /// `summary.json`, whole.
    pub summary_json: String,
    /// The estimates the verdict judges with.
    pub measures: RunMeasures,
}

/// A folder read, or why it is not added.
#[derive(Debug, Clone)]
pub enum Readout {
    /// A run to add.
    Run(Box<Record>),
    /// Not a run to judge others by, and why.
    Skip(String),
}

/// Read the results folder `dir`; `commit` is the commit under test, when
/// known.
pub fn read(dir: &Path, commit: Option<String>) -> anyhow::Result<Readout> {
    let summary = crate::results::read_summary(dir)?;
    let file = dir.join("summary.json");
    let summary_json = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if let Some(i) = &summary.interrupted {
        return Ok(Readout::Skip(format!(
            "{} stopped the run at {:.1} s of {:.0}: its load is not the scenario's",
            i.signal.name(),
            i.at_s,
            i.planned_duration_s
        )));
    }
    if let Some(w) = summary.meta.as_ref().and_then(|m| m.worker)
        && w.count > 1
    {
        return Ok(Readout::Skip(format!(
            "worker {} of {}: a share of the load; add the folder `mss-harness merge` writes",
            w.index, w.count
        )));
    }
    let started_ms = chrono::DateTime::parse_from_rfc3339(&summary.started_at)
        .with_context(|| {
            format!(
                "{}: key `started_at` {:?} is not RFC 3339",
                file.display(),
                summary.started_at
            )
        })?
        .timestamp_millis();
    let scenario_sha256 = match &summary.audit {
        Some(a) => Some(a.scenario_sha256.clone()),
        None => {
            let toml = dir.join("scenario.toml");
            toml.is_file()
                .then(|| std::fs::read(&toml))
                .transpose()
                .with_context(|| format!("cannot read {}", toml.display()))?
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
        }
    };
    let measures = if dir.join("latency.hlog").is_file() {
        let sample = crate::stats::sample::read(dir)?;
        crate::stats::compare::measure(&sample, 0)
    } else {
        without_histograms(dir, &summary)
    };
    Ok(Readout::Run(Box::new(Record {
        run: Run {
            started_at: summary.started_at.clone(),
            started_ms,
            commit,
            scenario: summary.scenario.clone(),
            scenario_sha256,
            target: summary.target.clone(),
            passed: crate::verdict::passed(&summary),
            // Absolute (symbolic links kept), so that `history check
            // --baseline` finds the folder from wherever it runs.
            source: std::path::absolute(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .display()
                .to_string(),
            services: services(&summary),
        },
        duration_s: summary.duration_s,
        harness_version: summary.version.clone(),
        added_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        summary_sha256: hex::encode(Sha256::digest(summary_json.as_bytes())),
        summary_json,
        measures,
    })))
}

/// Each service's row.
fn services(s: &Summary) -> Vec<ServiceRow> {
    let ms = |us: u64| us as f64 / 1000.0;
    s.services
        .iter()
        .map(|(name, v)| {
            let sent = v.requests.saturating_sub(v.dropped());
            let l = &v.latency_us;
            ServiceRow {
                service: name.clone(),
                requests: v.requests,
                sent,
                stored: v.stored,
                rejected_as_expected: v.rejected_as_expected,
                errors: v.error_count(),
                dropped: v.dropped(),
                p50_ms: ms(l.p50),
                p90_ms: ms(l.p90),
                p95_ms: ms(l.p95),
                p99_ms: ms(l.p99),
                p999_ms: ms(l.p999),
                max_ms: ms(l.max),
                throughput: v.stored as f64 / s.duration_s.max(1e-9),
                error_rate: (sent > 0).then(|| {
                    crate::results::error_rate(sent, v.stored + v.rejected_as_expected) * 100.0
                }),
            }
        })
        .collect()
}

/// A folder without `latency.hlog` (results of an early version): its values,
/// none of them with an error the verdict could judge by.
fn without_histograms(dir: &Path, s: &Summary) -> RunMeasures {
    let why =
        "the results folder has no latency.hlog, whose per-second histograms the verdict needs";
    RunMeasures {
        name: dir.display().to_string(),
        source: dir.join("summary.json").display().to_string(),
        scenario: s.scenario.clone(),
        seconds: s.duration_s,
        services: services(s)
            .into_iter()
            .map(|r| {
                let metrics = Metric::ALL
                    .into_iter()
                    .map(|m| {
                        let shown = match m {
                            Metric::P50 => Some(r.p50_ms),
                            Metric::P90 => Some(r.p90_ms),
                            Metric::P99 => Some(r.p99_ms),
                            Metric::Throughput => Some(r.throughput),
                            Metric::ErrorRate => r.error_rate,
                        };
                        (
                            m,
                            Measured::TooFew {
                                shown,
                                why: why.to_owned(),
                                needs: None,
                            },
                        )
                    })
                    .collect();
                (
                    r.service,
                    ServiceMeasures {
                        requests: r.requests,
                        metrics,
                    },
                )
            })
            .collect(),
    }
}

/// The commit under test: `explicit` (a `--commit` flag), else the CI's
/// (`GITHUB_SHA`, `CI_COMMIT_SHA`), else `git rev-parse HEAD` of the current
/// folder; none when none of them says.
pub fn commit(explicit: Option<&str>) -> Option<String> {
    commit_from(
        explicit,
        |k| std::env::var(k).ok(),
        || {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    )
}

/// [`commit`] with the environment and git given.
pub fn commit_from(
    explicit: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    git: impl FnOnce() -> Option<String>,
) -> Option<String> {
    let clean = |s: String| {
        let s = s.trim().to_owned();
        (!s.is_empty()).then_some(s)
    };
    explicit
        .map(str::to_owned)
        .and_then(clean)
        .or_else(|| {
            ["GITHUB_SHA", "CI_COMMIT_SHA"]
                .iter()
                .find_map(|k| env(k).and_then(clean))
        })
        .or_else(|| git().and_then(clean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_comes_from_the_flag_the_ci_or_git_in_that_order() {
        let env = |k: &str| (k == "CI_COMMIT_SHA").then(|| "gitlab123\n".to_owned());
        let git = || Some("abc\n".to_owned());
        assert_eq!(
            commit_from(Some("given"), env, git).as_deref(),
            Some("given")
        );
        assert_eq!(commit_from(None, env, git).as_deref(), Some("gitlab123"));
        assert_eq!(
            commit_from(Some("  "), |_| None, git).as_deref(),
            Some("abc")
        );
        assert_eq!(commit_from(None, |_| None, || None), None);
    }

    #[test]
    fn the_committed_baseline_reads_with_its_estimates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baseline/smoke");
        let Readout::Run(r) = read(&dir, None).expect("read") else {
            panic!("skipped")
        };
        assert_eq!(r.run.scenario, "smoke");
        let a = r
            .run
            .services
            .iter()
            .find(|s| s.service == "ReportarAfiliaciontraslado")
            .expect("service");
        assert_eq!(a.stored, 895);
        let m = &r.measures.services["ReportarAfiliaciontraslado"];
        assert!(
            matches!(m.metrics[0], (Metric::P50, Measured::Estimate(e)) if (e.shown - a.p50_ms).abs() < 0.05 * a.p50_ms),
            "{:?}",
            m.metrics[0]
        );
        assert_eq!(r.summary_sha256.len(), 64);
    }
}
