//! The history's trends, for `history report`: per scenario and target, per
//! service, the p50, p99, throughput and error rate of each run, oldest
//! first, with their change points ([`crate::stats::changepoint`]) and what
//! changed at each (the means of the segments on either side).

use super::store::{History, RunRow};
use crate::stats::changepoint::{self, Params};
use crate::stats::estimate::Metric;

/// The metrics drawn, in the page's order.
pub const METRICS: [Metric; 4] = [
    Metric::P50,
    Metric::P99,
    Metric::Throughput,
    Metric::ErrorRate,
];

/// The default of `history report --last`: the newest runs drawn per
/// scenario and target (the change-point search costs O(runs²) per shuffle).
pub const DEFAULT_LAST: usize = 200;

/// The whole history's trends.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// The history file.
    pub file: String,
    /// Runs in the file.
    pub runs: usize,
    /// One per scenario and target, in the order of their first run.
    pub groups: Vec<Group>,
    /// The change-point method's parameters.
    pub params: Params,
}

/// The runs of one scenario against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The scenario's name.
    pub scenario: String,
    /// The target.
    pub target: String,
    /// Its runs, oldest first (the newest `--last`).
    pub runs: Vec<RunRow>,
    /// Runs of the group left out (older than the newest `--last`).
    pub left_out: usize,
    /// Per service with requests in one of the runs.
    pub services: Vec<ServiceTrend>,
}

/// One service's series.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTrend {
    /// Its protocol name.
    pub service: String,
    /// One per [`METRICS`].
    pub series: Vec<Series>,
}

/// One metric over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Which.
    pub metric: Metric,
    /// Per run of the group (none: the run had no value of it).
    pub values: Vec<Option<f64>>,
    /// Its change points.
    pub shifts: Vec<Shift>,
}

/// A change point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// The first run of the new level: an index into the group's runs.
    pub at: usize,
    /// Its id.
    pub run_id: i64,
    /// The mean of the segment before it.
    pub before: f64,
    /// The mean of the segment from it.
    pub after: f64,
    /// The change: % for a relative metric, points for the error rate.
    pub change: f64,
    /// The permutation test's p-value.
    pub p_value: f64,
}

/// The value of `metric` of `service` in `run`.
fn value(run: &RunRow, service: &str, metric: Metric) -> Option<f64> {
    let s = run.service(service).filter(|s| s.requests > 0)?;
    match metric {
        Metric::P50 => Some(s.p50_ms),
        Metric::P90 => Some(s.p90_ms),
        Metric::P99 => Some(s.p99_ms),
        Metric::Throughput => Some(s.throughput),
        Metric::ErrorRate => s.error_rate,
    }
}

/// The series of `values` with its change points.
pub fn series(metric: Metric, values: Vec<Option<f64>>, runs: &[RunRow], p: &Params) -> Series {
    // The runs with a value, and where each stands in the group.
    let (at, xs): (Vec<usize>, Vec<f64>) = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .unzip();
    let found = changepoint::change_points(&xs, p);
    let mut bounds: Vec<usize> = vec![0];
    bounds.extend(found.iter().map(|c| c.index));
    bounds.push(xs.len());
    let mean = |a: usize, b: usize| xs[a..b].iter().sum::<f64>() / (b - a).max(1) as f64;
    let shifts = found
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let before = mean(bounds[k], c.index);
            let after = mean(c.index, bounds[k + 2]);
            let change = if metric.relative() {
                if before > 0.0 {
                    100.0 * (after / before - 1.0)
                } else {
                    0.0
                }
            } else {
                after - before
            };
            Shift {
                at: at[c.index],
                run_id: runs[at[c.index]].id,
                before,
                after,
                change,
                p_value: c.p_value,
            }
        })
        .collect();
    Series {
        metric,
        values,
        shifts,
    }
}

/// The trends of `h`: per scenario and target its newest `last` runs.
pub fn trend(h: &History, last: usize, p: &Params) -> anyhow::Result<Trend> {
    let runs = h.runs()?;
    let total = runs.len();
    let mut groups: Vec<Group> = Vec::new();
    for run in runs {
        match groups
            .iter_mut()
            .find(|g| g.scenario == run.run.scenario && g.target == run.run.target)
        {
            Some(g) => g.runs.push(run),
            None => groups.push(Group {
                scenario: run.run.scenario.clone(),
                target: run.run.target.clone(),
                runs: vec![run],
                left_out: 0,
                services: Vec::new(),
            }),
        }
    }
    for g in &mut groups {
        if g.runs.len() > last {
            g.left_out = g.runs.len() - last;
            g.runs.drain(..g.left_out);
        }
        let mut names: Vec<String> = Vec::new();
        for r in &g.runs {
            for s in r.run.services.iter().filter(|s| s.requests > 0) {
                if !names.contains(&s.service) {
                    names.push(s.service.clone());
                }
            }
        }
        names.sort();
        g.services = names
            .into_iter()
            .map(|service| ServiceTrend {
                series: METRICS
                    .iter()
                    .map(|&m| {
                        let values = g.runs.iter().map(|r| value(r, &service, m)).collect();
                        series(m, values, &g.runs, p)
                    })
                    .collect(),
                service,
            })
            .collect();
    }
    Ok(Trend {
        file: h.path().display().to_string(),
        runs: total,
        groups,
        params: *p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::changepoint::tests::noisy;

    fn run(id: i64) -> RunRow {
        RunRow {
            id,
            run: crate::history::record::Run {
                started_at: String::new(),
                started_ms: id,
                commit: None,
                scenario: "s".into(),
                scenario_sha256: None,
                target: "t".into(),
                passed: true,
                source: String::new(),
                services: Vec::new(),
            },
        }
    }

    #[test]
    fn a_step_is_placed_at_its_run_across_missing_values() {
        let runs: Vec<RunRow> = (100..132).map(run).collect();
        let xs = noisy(&[(15, 20.0), (15, 24.0)], 0.05, 7);
        // Two runs without the service: the series has 30 values over 32 runs.
        let mut values: Vec<Option<f64>> = xs.into_iter().map(Some).collect();
        values.insert(3, None);
        values.insert(20, None);
        let s = series(Metric::P50, values, &runs, &Params::default());
        assert_eq!(s.shifts.len(), 1, "{s:?}");
        // The 16th value stands at run index 16 (one gap before it).
        assert_eq!((s.shifts[0].at, s.shifts[0].run_id), (16, 116));
        assert!((s.shifts[0].change - 20.0).abs() < 5.0, "{:?}", s.shifts[0]);
    }
}
