//! The house's layering, checked on the source: scenario → plan → engine →
//! metrics → results → reports. A command is not another command's library;
//! the engine sees the plan, not the scenario file; the reports and the
//! ministry's report read only the results.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its text before its `#[cfg(test)]` module.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&p).expect("read");
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                out.push((p, code));
            }
        }
    }
    out.sort();
    out
}

/// The files of `dir` that name any of `forbidden`, with the name.
fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
    sources(&root().join(dir))
        .into_iter()
        .flat_map(|(p, code)| {
            forbidden
                .iter()
                .filter(|f| code.contains(**f))
                .map(|f| format!("{} names {f}", p.display()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn no_command_imports_another_command() {
    let mut found = Vec::new();
    for (p, code) in sources(&root().join("src/cmd")) {
        let name = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned();
        for other in [
            "run",
            "merge",
            "compare",
            "capacity",
            "init",
            "payload",
            "preflight",
            "unexpected",
        ] {
            if other == name {
                continue;
            }
            for pattern in [format!("crate::cmd::{other}"), format!("super::{other}")] {
                if code.contains(&pattern) {
                    found.push(format!("{} names {pattern}", p.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_engine_sees_the_plan_not_the_scenario_file() {
    let found = offenders(
        "src/engine",
        &[
            "ScenarioFile",
            "scenario::file",
            "LoadSpec",
            "HttpSpec",
            "DataSpec",
            "TokenSpec",
            "TargetSpec",
            "ProductionSpec",
            "crate::cmd",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn reports_and_the_informe_read_only_the_results() {
    for dir in ["src/report", "src/informe"] {
        let found = offenders(
            dir,
            &[
                "crate::engine",
                "crate::live",
                "crate::metrics",
                "crate::session",
                "crate::cmd",
                "crate::stats",
            ],
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn the_statistics_read_only_the_results() {
    let found = offenders(
        "src/stats",
        &[
            "crate::engine",
            "crate::live",
            "crate::metrics",
            "crate::session",
            "crate::cmd",
            "crate::report",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_scan_sees_what_it_forbids() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("a.rs"),
        "use crate::metrics::histogram;\n#[cfg(test)]\nuse crate::live;",
    )
    .expect("write");
    let found: Vec<_> = sources(dir.path())
        .into_iter()
        .filter(|(_, code)| code.contains("crate::metrics"))
        .collect();
    assert_eq!(found.len(), 1);
    assert!(
        !found[0].1.contains("crate::live"),
        "test code is not scanned"
    );
}
