//! What a run writes: its ledger, opened before the load against a URL
//! target ([`open_ledger`]); at its end its record collected
//! (`results::collect`), its summary built and judged
//! (`verdict::build_summary`), and the results folder written.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::RunOptions;
use crate::ledger::{FORMAT_VERSION, Header, Ledger};
use crate::usage::usage;

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

/// Open the run's ledger (`--ledger FILE`, else `ledger.jsonl` in `dir`)
/// and write its header: the target's base URL, the scenario, the run's id
/// (the folder's name) and start.
pub(crate) fn open_ledger(
    dir: &Path,
    options: &RunOptions,
    plan: &RunPlan,
    target: &str,
    started_at: DateTime<Utc>,
) -> anyhow::Result<Ledger> {
    let path = options
        .ledger
        .clone()
        .unwrap_or_else(|| dir.join(crate::ledger::FILE_NAME));
    let header = Header {
        format: FORMAT_VERSION,
        command: "run".into(),
        target: target.trim_end_matches('/').to_owned(),
        scenario: plan.name.clone(),
        run_id: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        at: started_at,
    };
    Ledger::open(&path, &header).map_err(|e| usage(format!("{e}; nothing was sent")))
}
