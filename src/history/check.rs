//! `history check`: the newest run of a history judged against the runs
//! before it — the window: the previous N runs of the same scenario (name and
//! `scenario.toml`) against the same target — with `compare`'s statistics
//! ([`crate::stats::compare::judge_measures`]), the window's runs as several
//! baselines, so that the spread between runs counts as well as each run's
//! own noise. Same four words, same exit codes as `compare`.
//!
//! A window of fewer than three runs cannot show the spread between runs:
//! every line is then `inconclusive`, unless baseline folders were given for
//! that case (a CI's committed baseline), against which the newest run's
//! folder is compared as `compare` does until the window is full.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::store::{History, RunRow};
use crate::results::comparison::{Comparison, Line, SCHEMA_VERSION};
use crate::stats::change::MIN_BASELINES_FOR_SPREAD;
use crate::stats::compare::{self, Options};
use crate::stats::estimate::Measured;
use crate::stats::{limits, multiplicity};

/// The window's default length: ten runs give the spread between runs nine
/// degrees of freedom (Student's t of 2.26 instead of 1.96 at 95%), and ten
/// pipelines are a week or two of a project's main branch: long enough to
/// know the noise, short enough to follow a drift.
pub const DEFAULT_WINDOW: usize = 10;

/// The fewest earlier runs judged against: three show the spread between runs.
pub const MIN_WINDOW: usize = MIN_BASELINES_FOR_SPREAD;

/// How `history check` judges.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// Earlier runs judged against, at most.
    pub window: usize,
    /// The minimum effects, the family-wise level and the explicit limits.
    pub judge: Options,
    /// Baseline folders compared with until the window is full.
    pub baselines: Vec<PathBuf>,
}

/// What the newest run was judged against.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// The window's runs (oldest first).
    Window(Vec<RunRow>),
    /// The baseline folders given, the window holding only these runs.
    Baselines(Vec<RunRow>),
    /// Nothing: the window holds only these runs, too few.
    TooFew(Vec<RunRow>),
}

/// A check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The run judged.
    pub newest: RunRow,
    /// Against what.
    pub basis: Basis,
    /// The lines, as `compare` writes them.
    pub comparison: Comparison,
}

/// Judge the newest run of `h`.
pub fn check(h: &History, opts: &CheckOptions) -> anyhow::Result<Check> {
    let mut runs = h.runs()?;
    let newest = runs
        .pop()
        .ok_or_else(|| anyhow::anyhow!("{}: the history holds no run yet", h.path().display()))?;
    let mut earlier: Vec<RunRow> = runs
        .into_iter()
        .rev()
        .filter(|r| r.same_series(&newest))
        .take(opts.window)
        .collect();
    earlier.reverse();
    if earlier.len() < opts.window && !opts.baselines.is_empty() {
        let folder = Path::new(&newest.run.source);
        if !folder.join("summary.json").is_file() {
            anyhow::bail!(
                "run #{} of {}: its results folder {} is gone; the window holds {} of {} runs, so it is compared with the baselines from its folder",
                newest.id,
                h.path().display(),
                folder.display(),
                earlier.len(),
                opts.window
            );
        }
        let comparison = compare::compare(&opts.baselines, folder, &opts.judge)?;
        return Ok(Check {
            newest,
            basis: Basis::Baselines(earlier),
            comparison,
        });
    }
    let current = h.measures(&newest)?;
    if earlier.len() < MIN_WINDOW {
        let before = earlier
            .iter()
            .map(|r| h.measures(r))
            .collect::<Result<Vec<_>, _>>()?;
        let comparison = too_few(&before, &current, opts);
        return Ok(Check {
            newest,
            basis: Basis::TooFew(earlier),
            comparison,
        });
    }
    let before = earlier
        .iter()
        .map(|r| h.measures(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut comparison = compare::judge_measures(
        &before,
        &current,
        &opts.judge.min_effect,
        opts.judge.family_alpha,
    )?;
    if opts.judge.limits != limits::Limits::default() {
        let summary_of = |r: &RunRow| -> anyhow::Result<crate::results::Summary> {
            let text = h.summary_json(r.id)?;
            let name = PathBuf::from(format!("{} run #{}", h.path().display(), r.id));
            crate::results::parse_summary(&text, &name)
                .with_context(|| format!("run #{}'s summary.json, as kept", r.id))
        };
        let summaries = earlier
            .iter()
            .map(summary_of)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let refs: Vec<&crate::results::Summary> = summaries.iter().collect();
        let mut services: Vec<String> = Vec::new();
        for l in &comparison.lines {
            if !services.contains(&l.service) {
                services.push(l.service.clone());
            }
        }
        comparison.limits =
            limits::check(&opts.judge.limits, &refs, &summary_of(&newest)?, &services);
        comparison.regressed |= comparison.limits.iter().any(|l| !l.ok);
    }
    Ok(Check {
        newest,
        basis: Basis::Window(earlier),
        comparison,
    })
}

/// Every line `inconclusive`: the runs `before` are too few to judge against.
fn too_few(
    before: &[compare::RunMeasures],
    current: &compare::RunMeasures,
    opts: &CheckOptions,
) -> Comparison {
    let shown = |m: &Measured| match m {
        Measured::Estimate(e) => Some(e.shown),
        Measured::TooFew { shown, .. } => *shown,
    };
    let mut lines = Vec::new();
    for (service, s) in current.services.iter().filter(|(_, s)| s.requests > 0) {
        for (metric, m) in &s.metrics {
            let values: Vec<f64> = before
                .iter()
                .filter_map(|b| b.services.get(service))
                .filter_map(|b| b.metrics.iter().find(|(x, _)| x == metric))
                .filter_map(|(_, m)| shown(m))
                .collect();
            lines.push(Line {
                service: service.clone(),
                metric: metric.name().to_owned(),
                unit: metric.unit().to_owned(),
                baseline: (!values.is_empty())
                    .then(|| values.iter().sum::<f64>() / values.len() as f64),
                current: shown(m),
                change_unit: if metric.relative() { "%" } else { "pp" }.to_owned(),
                change: None,
                low: None,
                high: None,
                min_effect: opts.judge.min_effect.of(*metric),
                verdict: crate::stats::verdict::Verdict::Inconclusive
                    .word()
                    .to_owned(),
                // Said once, by the caller: the window is too short.
                note: None,
            });
        }
    }
    Comparison {
        schema_version: SCHEMA_VERSION,
        scenario: current.scenario.clone(),
        baselines: before.iter().map(|b| b.name.clone()).collect(),
        current: current.name.clone(),
        family_alpha: opts.judge.family_alpha,
        lines_judged: 0,
        line_confidence_pct: multiplicity::line_confidence(opts.judge.family_alpha, 0),
        between_runs: false,
        lines,
        limits: Vec::new(),
        regressed: false,
    }
}
