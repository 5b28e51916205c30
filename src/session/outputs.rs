//! The end of a run: its results collected (`results::collect`), judged
//! (`verdict`), the capacity analysis added, and the results folder written.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::engine::RunContext;
use crate::scenario::RunPlan;

/// Collect the run's results (`results::collect`), judge them (`verdict`),
/// add the capacity analysis and write the folder.
// Each argument is a separate part of the summary.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_outputs(
    dir: &Path,
    scenario: &RunPlan,
    ctx: &RunContext,
    target_accepted: Option<[u64; 2]>,
    target_label: &str,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    faults: Value,
    search_steps: Option<Vec<crate::results::Stage>>,
) -> anyhow::Result<crate::results::Summary> {
    let facts = crate::results::collect::RunFacts::of(scenario)?;
    let end = crate::results::collect::RunEnd {
        target_accepted,
        target_label: target_label.to_owned(),
        started_at,
        ended_at,
        faults: serde_json::from_value(faults).context("faults")?,
        search_steps,
    };
    let mut summary = crate::results::collect::summary(&facts, ctx, end);
    crate::cmd::unexpected::annotate(&mut summary.services, ctx);
    summary.capacity = crate::capacity::of_run(scenario, &summary.stages, &|from, to| {
        ctx.metrics().window(from, to)
    });
    crate::results::collect::write(dir, &summary, ctx, &facts.scenario_toml)?;
    Ok(summary)
}
