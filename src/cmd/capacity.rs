//! `mss-harness capacity RESULTS_DIR... [--slo p99<800ms] [--out DIR]`: the
//! capacity analysis ([`crate::capacity`]) of the plateaus of one or more
//! runs — a go-live ramp, a `capacity` search, a sweep of closed-model runs.
//!
//! Exit codes: 0 the analysis holds a fit; 2 bad usage, unreadable folders,
//! or points that cannot be fitted (the message says what to run).

use std::path::PathBuf;

use anyhow::Context;

/// Flags of `capacity`.
#[derive(Debug, Clone, clap::Args)]
pub struct CapacityArgs {
    /// Results folders (each with summary.json, latency.hlog, timeseries.csv).
    #[arg(required = true, value_name = "RESULTS_DIR")]
    pub dirs: Vec<PathBuf>,
    /// The latency objective, a percentile: e.g. `p99<800ms` [default: the
    /// first run's global percentile threshold, else p99 < 800ms].
    #[arg(long, value_name = "EXPR")]
    pub slo: Option<String>,
    /// Write capacity.json, capacity.svg and capacity-latency.svg here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Run `capacity`: the exit code (0 with a fit, 2 without).
pub fn run(args: &CapacityArgs) -> anyhow::Result<u8> {
    let slo = args
        .slo
        .as_deref()
        .map(crate::capacity::parse_slo)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--slo {e}"))?;
    for d in &args.dirs {
        if !d.join("summary.json").is_file() {
            anyhow::bail!("{}: not a results folder (no summary.json)", d.display());
        }
    }
    let analysis =
        crate::capacity::from_results(&args.dirs, slo, mss_contract::Contract::embedded())?;
    print!("{}", analysis.text());
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let section = analysis.to_section();
        let write = |name: &str, text: String| -> anyhow::Result<()> {
            std::fs::write(out.join(name), text)
                .with_context(|| format!("cannot write {}", out.join(name).display()))
        };
        write("capacity.json", serde_json::to_string_pretty(&section)?)?;
        write("capacity.svg", crate::report::charts::capacity(&section)?)?;
        write(
            "capacity-latency.svg",
            crate::report::charts::capacity_latency(&section)?,
        )?;
        println!("wrote {}", out.join("capacity.json").display());
    }
    if let Some(why) = &analysis.refused {
        eprintln!("mss-harness: capacity: cannot fit: {why}");
        return Ok(2);
    }
    Ok(0)
}
