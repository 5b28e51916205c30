//! The end of a run: its record collected (`results::collect`), its summary
//! built and judged (`verdict::build_summary`), and the results folder
//! written.

use std::path::Path;

use crate::engine::RunContext;
use crate::results::collect::RunEnd;
use crate::results::record::RunFacts;
use crate::scenario::RunPlan;

/// Collect the run's record (`results::collect`), build its summary
/// (`verdict::build_summary`) and write the folder.
pub(crate) fn write_outputs(
    dir: &Path,
    scenario: &RunPlan,
    ctx: &RunContext,
    end: RunEnd,
) -> anyhow::Result<crate::results::Summary> {
    let facts = RunFacts::of(scenario)?;
    let record = crate::results::collect::record(&facts, ctx, end);
    let summary = crate::verdict::build_summary(&record, &facts);
    crate::results::collect::write(dir, &summary, &record, ctx, &facts.scenario_toml)?;
    Ok(summary)
}
