//! `[load]` into the load model: built once, defaults filled in
//! ([`model`]), and checked ([`check`]): the keys of the model written and no
//! other's, rates, durations and sizes in range.

use std::time::Duration;

use super::file::{LoadSpec, Model};
use super::plan::{LoadModel, SearchPlan};
use super::{Bad, ScenarioError};

/// The first key of `keys` that is present, refused as not a key of `model`.
fn other_model(keys: &[(&str, bool)], model: &str, bad: Bad<'_>) -> Result<(), ScenarioError> {
    match keys.iter().find(|(_, present)| *present) {
        Some((k, _)) => Err(bad(
            &format!("load.{k}"),
            format!("is not a key of the {model} model"),
        )),
        None => Ok(()),
    }
}

/// The keys only the closed model takes, each with whether it is written.
fn closed_keys(l: &LoadSpec) -> [(&'static str, bool); 4] {
    [
        ("users", l.users.is_some()),
        ("ramp", l.ramp.is_some()),
        ("think_time", l.think_time.is_some()),
        ("run_time", l.run_time.is_some()),
    ]
}

/// `load.max_in_flight` of the open and search models.
fn max_in_flight(l: &LoadSpec, model: &str, bad: Bad<'_>) -> Result<(), ScenarioError> {
    match l.max_in_flight {
        Some(n) if (1..=100_000).contains(&n) => Ok(()),
        Some(n) => Err(bad("load.max_in_flight", format!("{n} must be 1–100000"))),
        None => Err(bad(
            "load.max_in_flight",
            format!("the {model} model needs it"),
        )),
    }
}

/// `[load]`'s own checks: the keys of the model written and no other's,
/// rates, durations and sizes in range. The model itself is [`model`].
pub(super) fn check(l: &LoadSpec, bad: Bad<'_>) -> Result<(), ScenarioError> {
    if l.model != Model::Search {
        let search_keys = [
            ("max_rate", l.max_rate.is_some()),
            ("step", l.step.is_some()),
            ("plateau", l.plateau.is_some()),
            ("plateaus", l.plateaus.is_some()),
        ];
        other_model(&search_keys, "open or closed", bad)?;
    }
    match l.model {
        Model::Search => check_search(l, bad),
        Model::Open => check_open(l, bad),
        Model::Closed => check_closed(l, bad),
    }
}

fn check_search(l: &LoadSpec, bad: Bad<'_>) -> Result<(), ScenarioError> {
    let stages = [("stages", !l.stages.is_empty())];
    other_model(&[&closed_keys(l)[..], &stages].concat(), "search", bad)?;
    let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1_000_000.0;
    let start = l.start_rate.ok_or_else(|| {
        bad(
            "load.start_rate",
            "the search model needs the first plateau's rate".into(),
        )
    })?;
    if !rate_ok(start) {
        return Err(bad(
            "load.start_rate",
            format!("{start} must be above 0 and at most 1000000"),
        ));
    }
    let max = l.max_rate.ok_or_else(|| {
        bad(
            "load.max_rate",
            "the search model needs the highest rate it may try".into(),
        )
    })?;
    if !rate_ok(max) || max < start {
        return Err(bad(
            "load.max_rate",
            format!("{max} must be at least start_rate ({start}) and at most 1000000"),
        ));
    }
    if let Some(f) = l.step
        && !(f.is_finite() && (1.05..=10.0).contains(&f))
    {
        return Err(bad(
            "load.step",
            format!("{f} must be a factor between 1.05 and 10"),
        ));
    }
    if let Some(p) = l.plateau
        && !(Duration::from_secs(3)..=Duration::from_secs(600)).contains(&p.0)
    {
        return Err(bad("load.plateau", "must be between 3s and 10m".into()));
    }
    if let Some(n) = l.plateaus
        && !(4..=100).contains(&n)
    {
        return Err(bad("load.plateaus", format!("{n} must be 4–100")));
    }
    max_in_flight(l, "search", bad)
}

fn check_open(l: &LoadSpec, bad: Bad<'_>) -> Result<(), ScenarioError> {
    other_model(&closed_keys(l), "open", bad)?;
    if l.stages.is_empty() {
        return Err(bad("load.stages", "at least one stage is needed".into()));
    }
    let rate_ok = |r: f64| r.is_finite() && (0.0..=1_000_000.0).contains(&r);
    if let Some(r) = l.start_rate
        && !rate_ok(r)
    {
        return Err(bad(
            "load.start_rate",
            format!("{r} must be between 0 and 1000000"),
        ));
    }
    for (i, s) in l.stages.iter().enumerate() {
        if !rate_ok(s.rate) {
            return Err(bad(
                &format!("load.stages[{i}].rate"),
                format!(
                    "{} must be between 0 and 1000000 requests per second",
                    s.rate
                ),
            ));
        }
        if s.duration.0.is_zero() {
            return Err(bad(
                &format!("load.stages[{i}].duration"),
                "must be above 0".into(),
            ));
        }
    }
    max_in_flight(l, "open", bad)
}

fn check_closed(l: &LoadSpec, bad: Bad<'_>) -> Result<(), ScenarioError> {
    other_model(
        &[
            ("start_rate", l.start_rate.is_some()),
            ("stages", !l.stages.is_empty()),
            ("max_in_flight", l.max_in_flight.is_some()),
        ],
        "closed",
        bad,
    )?;
    match l.users {
        Some(n) if (1..=100_000).contains(&n) => {}
        Some(n) => return Err(bad("load.users", format!("{n} must be 1–100000"))),
        None => return Err(bad("load.users", "the closed model needs it".into())),
    }
    match l.run_time {
        Some(r) if !r.0.is_zero() => Ok(()),
        _ => Err(bad(
            "load.run_time",
            "the closed model needs a run time above 0".into(),
        )),
    }
}

/// `[load]` as the load model, its defaults filled in, built once: what the
/// checks that come before the load's own in [`super::validate::plan`] (the
/// production caps, the faults' offsets) judge, so that a file with several
/// mistakes is refused for the same one as always, and, once [`check`] has
/// passed, the plan's model. A key a model needs and the file lacks is given
/// a placeholder here, which [`check`] refuses.
pub(super) fn model(l: &LoadSpec) -> LoadModel {
    match l.model {
        Model::Open => LoadModel::Open {
            start_rate: l
                .start_rate
                .or_else(|| l.stages.first().map(|s| s.rate))
                .unwrap_or(0.0),
            stages: l.stages.clone(),
            max_in_flight: l.max_in_flight.unwrap_or(1),
        },
        Model::Closed => LoadModel::Closed {
            users: l.users.unwrap_or(1),
            ramp: l.ramp.unwrap_or_default().0,
            think_time: l.think_time.unwrap_or_default().0,
            run_time: l.run_time.unwrap_or_default().0,
        },
        Model::Search => LoadModel::Search(SearchPlan {
            start_rate: l.start_rate.unwrap_or(1.0),
            max_rate: l.max_rate.unwrap_or(1.0),
            step: l.step.unwrap_or(2.0),
            plateau: l.plateau.map_or(Duration::from_secs(5), |p| p.0),
            plateaus: l.plateaus.unwrap_or(10),
            max_in_flight: l.max_in_flight.unwrap_or(1),
        }),
    }
}
