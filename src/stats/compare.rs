//! A run against one or several baseline runs, every service and metric:
//! estimates ([`super::estimate`]), the change's interval ([`super::change`])
//! at the Bonferroni level of the whole comparison
//! ([`super::multiplicity`]), the verdict ([`super::verdict`]) and the
//! explicit limits ([`super::limits`]), as a [`Comparison`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;

use super::change::{self, MIN_BASELINES_FOR_SPREAD};
use super::estimate::{self, Estimate, Measured, Metric};
use super::limits::{self, Flag, Limits};
use super::multiplicity;
use super::sample::{self, RunSample};
use super::verdict::{self, Resolution, Verdict};
use crate::results::comparison::{Comparison, Line, SCHEMA_VERSION};

/// The default minimum effect of the latency percentiles, %. In a run of
/// 30 s at 100 req/s the interval itself decides (a pair's p50 interval is
/// about ±4% at the Bonferroni level; it only lies beyond +1% when the change
/// is some 5% or more); the 1% keeps a long run, whose interval is narrow,
/// from failing on a change too small to act on. A larger one costs power:
/// at 3%, a +10% change of the mock's latency (+7 to +8% as measured, the
/// harness's own overhead not scaling) was `regressed` in only 12 of 16 pairs
/// of the acceptance bench, at 1% in 15 (README, "compare").
pub const DEFAULT_LATENCY: f64 = 1.0;

/// The default minimum effect of the throughput, %: in the open model stored
/// reports per second only fall through errors or drops, and a 30 s run
/// knows its throughput to about ±2% (the mix's per-second noise), so a
/// healthy run is `unchanged` within ±3%.
pub const DEFAULT_THROUGHPUT: f64 = 3.0;

/// The default minimum effect of the error rate, percentage points (the
/// older `--max-error-rate-increase` default).
pub const DEFAULT_ERROR_RATE_PP: f64 = 0.5;

/// The minimum effect worth acting on, per metric: % for the relative
/// metrics, percentage points for the error rate.
#[derive(Debug, Clone, PartialEq)]
pub struct MinEffect(BTreeMap<Metric, f64>);

impl Default for MinEffect {
    /// The defaults: [`DEFAULT_LATENCY`] for p50, p90 and p99,
    /// [`DEFAULT_THROUGHPUT`], [`DEFAULT_ERROR_RATE_PP`].
    fn default() -> Self {
        MinEffect(BTreeMap::from([
            (Metric::P50, DEFAULT_LATENCY),
            (Metric::P90, DEFAULT_LATENCY),
            (Metric::P99, DEFAULT_LATENCY),
            (Metric::Throughput, DEFAULT_THROUGHPUT),
            (Metric::ErrorRate, DEFAULT_ERROR_RATE_PP),
        ]))
    }
}

impl MinEffect {
    /// The minimum effect of `m`.
    pub fn of(&self, m: Metric) -> f64 {
        self.0.get(&m).copied().unwrap_or(0.0)
    }

    /// The defaults changed by `--min-effect` values: `5%` (every relative
    /// metric), `p99=10%`, `error_rate=0.2pp`.
    pub fn parse(values: &[String]) -> anyhow::Result<MinEffect> {
        let mut me = MinEffect::default();
        for v in values {
            let (key, number) = Flag::split(v);
            let metric = key
                .map(|m| {
                    Metric::from_name(m).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--min-effect {v:?}: unknown metric {m:?} (p50, p90, p99, throughput or error_rate)"
                        )
                    })
                })
                .transpose()?;
            let unit = if metric == Some(Metric::ErrorRate) {
                "pp"
            } else {
                "%"
            };
            let flag = Flag {
                name: "--min-effect",
                unit,
            };
            let n = flag
                .number(v, number, 5)?
                .filter(|n| unit == "pp" || *n < 100.0)
                .ok_or_else(|| {
                    anyhow::anyhow!("--min-effect {v:?}: not a number from 0 (below 100%)")
                })?;
            match metric {
                Some(m) => {
                    me.0.insert(m, n);
                }
                None => {
                    for m in Metric::ALL.into_iter().filter(|m| m.relative()) {
                        me.0.insert(m, n);
                    }
                }
            }
        }
        Ok(me)
    }
}

/// How `compare` judges.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The minimum effects.
    pub min_effect: MinEffect,
    /// The family-wise rate of a false `regressed`.
    pub family_alpha: f64,
    /// The explicit limits (none by default).
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_effect: MinEffect::default(),
            family_alpha: multiplicity::FAMILY_ALPHA,
            limits: Limits::default(),
        }
    }
}

/// Compare the run in `current` with the runs in `baselines` (at least one).
pub fn compare(
    baselines: &[PathBuf],
    current: &Path,
    opts: &Options,
) -> anyhow::Result<Comparison> {
    if baselines.is_empty() {
        bail!("no baseline folder given");
    }
    let bs = baselines
        .iter()
        .map(|b| sample::read(b))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cur = sample::read(current)?;
    judge(&bs, &cur, opts)
}

/// A stable seed per run position and service, so that a comparison is the
/// same every time it is made.
fn seed(position: usize, service: &str) -> u64 {
    service
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64 ^ position as u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

/// One line before the Bonferroni level is known.
struct Pending {
    service: String,
    metric: Metric,
    baseline: Option<f64>,
    current: Option<f64>,
    judged: Result<(Vec<Estimate>, Estimate), String>,
    requests: u64,
}

/// One service of a run as the verdict reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceMeasures {
    /// Requests that were due.
    pub requests: u64,
    /// Every metric, in [`Metric::ALL`]'s order.
    pub metrics: Vec<(Metric, Measured)>,
}

/// A run as the verdict reads it: every service's estimates. Made from a
/// results folder ([`measure`]) or kept in a run history and read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMeasures {
    /// How the comparison names the run (a folder as given, a history run).
    pub name: String,
    /// What an error about the run names (its `summary.json`).
    pub source: String,
    /// The scenario it ran.
    pub scenario: String,
    /// How long the load lasted, seconds.
    pub seconds: f64,
    /// Per service named in the summary.
    pub services: BTreeMap<String, ServiceMeasures>,
}

/// The estimates of `run`, which stands at `position` in a comparison (the
/// bootstrap's seed: baselines 0, 1, …, then the judged run).
pub fn measure(run: &RunSample, position: usize) -> RunMeasures {
    RunMeasures {
        name: run.dir.display().to_string(),
        source: run.dir.join("summary.json").display().to_string(),
        scenario: run.summary.scenario.clone(),
        seconds: run.seconds(),
        services: run
            .services
            .iter()
            .map(|(name, s)| {
                let metrics = estimate::estimates(s, run.seconds(), seed(position, name));
                (
                    name.clone(),
                    ServiceMeasures {
                        requests: s.requests,
                        metrics,
                    },
                )
            })
            .collect(),
    }
}

/// [`compare`] of runs already read.
pub fn judge(
    baselines: &[RunSample],
    current: &RunSample,
    opts: &Options,
) -> anyhow::Result<Comparison> {
    let bs: Vec<RunMeasures> = baselines
        .iter()
        .enumerate()
        .map(|(i, b)| measure(b, i))
        .collect();
    let mut c = judge_measures(
        &bs,
        &measure(current, baselines.len()),
        &opts.min_effect,
        opts.family_alpha,
    )?;
    let summaries: Vec<&crate::results::Summary> = baselines.iter().map(|b| &b.summary).collect();
    c.limits = limits::check(
        &opts.limits,
        &summaries,
        &current.summary,
        &judged_services(&bs),
    );
    c.regressed = c.regressed || c.limits.iter().any(|l| !l.ok);
    Ok(c)
}

/// The services with requests in a baseline, in the summaries' order.
fn judged_services(baselines: &[RunMeasures]) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    for b in baselines {
        for (name, s) in &b.services {
            if s.requests > 0 && !services.contains(name) {
                services.push(name.clone());
            }
        }
    }
    services
}

/// The statistical verdict of `current` against `baselines` (at least one),
/// every line at the Bonferroni level of `family_alpha`; no explicit limits.
pub fn judge_measures(
    baselines: &[RunMeasures],
    current: &RunMeasures,
    min_effect: &MinEffect,
    family_alpha: f64,
) -> anyhow::Result<Comparison> {
    let Some(first) = baselines.first() else {
        bail!("no baseline given");
    };
    for b in baselines {
        if b.scenario != current.scenario {
            bail!(
                "different scenarios: the baseline {} ran {} and the current run {}; compare runs of one scenario",
                b.name,
                b.scenario,
                current.scenario
            );
        }
    }
    let services = judged_services(baselines);
    if services.is_empty() {
        bail!("{}: the baseline has no requests", first.source);
    }
    let mut pending = Vec::new();
    for name in &services {
        let missing =
            |r: &RunMeasures| anyhow::anyhow!("{}: key `services.{name}` missing", r.source);
        let mut per_base = Vec::new();
        for b in baselines {
            per_base.push(&b.services.get(name).ok_or_else(|| missing(b))?.metrics);
        }
        let cs = current.services.get(name).ok_or_else(|| missing(current))?;
        for (k, (metric, c)) in cs.metrics.iter().enumerate() {
            let bm: Vec<&Measured> = per_base.iter().map(|e| &e[k].1).collect();
            let value_of = |m: &Measured| match m {
                Measured::Estimate(e) => Some(e.shown),
                Measured::TooFew { shown, .. } => *shown,
            };
            let bvals: Vec<f64> = bm.iter().filter_map(|m| value_of(m)).collect();
            let baseline =
                (!bvals.is_empty()).then(|| bvals.iter().sum::<f64>() / bvals.len() as f64);
            let too_few = std::iter::once(c)
                .chain(bm.iter().copied())
                .find_map(|m| match m {
                    Measured::TooFew { why, needs, .. } => Some(match needs {
                        Some(n) => {
                            format!("{why}; a run needs at least {n} requests of this service")
                        }
                        None => why.clone(),
                    }),
                    Measured::Estimate(_) => None,
                });
            let judged = match (too_few, c) {
                (Some(why), _) => Err(why),
                (None, Measured::Estimate(e)) => Ok((
                    bm.iter()
                        .filter_map(|m| match m {
                            Measured::Estimate(e) => Some(*e),
                            Measured::TooFew { .. } => None,
                        })
                        .collect(),
                    *e,
                )),
                (None, Measured::TooFew { why, .. }) => Err(why.clone()),
            };
            pending.push(Pending {
                service: name.clone(),
                metric: *metric,
                baseline,
                current: value_of(c),
                judged,
                requests: cs.requests,
            });
        }
    }
    let judged_lines = pending.iter().filter(|p| p.judged.is_ok()).count();
    let tail = multiplicity::per_line(family_alpha, judged_lines);
    let seconds = current.seconds;
    let lines: Vec<Line> = pending
        .into_iter()
        .map(|p| line(p, tail, min_effect, seconds))
        .collect();
    let regressed = lines.iter().any(|l| l.verdict == Verdict::Regressed.word());
    Ok(Comparison {
        schema_version: SCHEMA_VERSION,
        scenario: current.scenario.clone(),
        baselines: baselines.iter().map(|b| b.name.clone()).collect(),
        current: current.name.clone(),
        family_alpha,
        lines_judged: judged_lines,
        line_confidence_pct: multiplicity::line_confidence(family_alpha, judged_lines),
        between_runs: baselines.len() >= MIN_BASELINES_FOR_SPREAD,
        lines,
        limits: Vec::new(),
        regressed,
    })
}

/// Shown units of a change on the judged scale.
fn shown(metric: Metric, x: f64) -> f64 {
    if metric.relative() {
        100.0 * x.exp_m1()
    } else {
        x
    }
}

fn line(p: Pending, tail: f64, me: &MinEffect, seconds: f64) -> Line {
    let m = me.of(p.metric);
    let mut out = Line {
        service: p.service,
        metric: p.metric.name().to_owned(),
        unit: p.metric.unit().to_owned(),
        baseline: p.baseline,
        current: p.current,
        change_unit: if p.metric.relative() { "%" } else { "pp" }.to_owned(),
        change: None,
        low: None,
        high: None,
        min_effect: m,
        verdict: Verdict::Inconclusive.word().to_owned(),
        note: None,
    };
    let (bases, cur) = match p.judged {
        Ok(x) => x,
        Err(why) => {
            out.note = Some(why);
            return out;
        }
    };
    let c = change::change(&bases, &cur, tail);
    let (low, high) = (shown(p.metric, c.low()), shown(p.metric, c.high()));
    let v = verdict::judge(low, high, m, p.metric.worse_up());
    out.change = Some(shown(p.metric, c.estimate));
    out.low = Some(low);
    out.high = Some(high);
    out.verdict = v.word().to_owned();
    if v == Verdict::Inconclusive {
        let band = if p.metric.relative() {
            ((1.0 - m / 100.0).ln(), (1.0 + m / 100.0).ln())
        } else {
            (-m, m)
        };
        let unit = &out.change_unit;
        out.note = Some(match verdict::resolve(&c, band) {
            Resolution::MoreRequests(f) => format!(
                "resolving ±{m}{unit} needs about {} requests of this service per run \
                 (about {} s at this rate)",
                round_up(p.requests as f64 * f),
                round_up(seconds * f)
            ),
            Resolution::MoreBaselines => format!(
                "the baseline runs alone spread wider than ±{m}{unit}: more baseline runs can resolve it"
            ),
            Resolution::Never => format!("the change is about ±{m}{unit} itself"),
        });
    }
    out
}

/// `x` rounded up to two significant digits.
fn round_up(x: f64) -> u64 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    let scale = 10f64.powi((x.log10().floor() as i32 - 1).max(0));
    ((x / scale).ceil() * scale) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_effect_values() {
        let me = MinEffect::parse(&["5%".into(), "p99=12%".into(), "error_rate=0.2pp".into()])
            .expect("parse");
        assert_eq!(me.of(Metric::P50), 5.0);
        assert_eq!(me.of(Metric::Throughput), 5.0);
        assert_eq!(me.of(Metric::P99), 12.0);
        assert_eq!(me.of(Metric::ErrorRate), 0.2);
        for bad in ["5", "p42=5%", "error_rate=1%", "150%", "-1%"] {
            let e = MinEffect::parse(&[bad.into()]).expect_err(bad).to_string();
            assert!(e.contains("--min-effect") && e.contains(bad), "{e}");
        }
        assert_eq!(round_up(12_345.0), 13_000);
        assert_eq!(round_up(87.2), 88);
        assert_eq!(round_up(3.2), 4);
    }
}
