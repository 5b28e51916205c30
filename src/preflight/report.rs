//! What preflight reports: the table it prints, stage by stage, with the
//! first failure named under it, and `preflight.json`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use super::Stage;

/// The printed table of `stages` run against `target`, and the verdict line.
pub fn table(stages: &[Stage], target: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "preflight of {target}");
    let _ = writeln!(out, "{:<28} {:<7} {:>9}  detail", "stage", "result", "time");
    for s in stages {
        let result = match s.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "-",
        };
        let ms = s.ms.map_or_else(String::new, |m| format!("{m:.1} ms"));
        let _ = writeln!(out, "{:<28} {result:<7} {ms:>9}  {}", s.name, s.detail);
    }
    if let Some(failed) = stages.iter().find(|s| s.ok == Some(false)) {
        let _ = writeln!(
            out,
            "\npreflight FAILED at {}: {}",
            failed.name, failed.detail
        );
    } else {
        let _ = writeln!(out, "\npreflight passed: every stage works");
    }
    out
}

/// Write `preflight.json` of `stages` (run against `base`, `host`:`port`)
/// into `dir`, created when missing.
pub(super) fn write_json(
    dir: &Path,
    base: &str,
    host: &str,
    port: u16,
    all: &[Stage],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = json!({
        "target": base,
        "host": host,
        "port": port,
        "at": Utc::now().to_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
        "ok": all.iter().all(|s| s.ok == Some(true)),
        "stages": all.iter().map(|s| json!({
            "stage": s.name,
            "ok": s.ok,
            "ms": s.ms,
            "detail": s.detail,
            "data": s.data,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("preflight.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )
    .with_context(|| format!("cannot write {}", dir.join("preflight.json").display()))?;
    Ok(())
}
