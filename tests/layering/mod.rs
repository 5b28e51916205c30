//! The house's layers, checked on the module graph the compiler sees.
//!
//! The order is written once, in docs/architecture.md: a table of the
//! harness's layers, lowest first, each naming its modules and what its
//! modules may import from one another, and a table of the workspace's crates.
//! These tests read both tables ([`order`]) and the real module graph
//! ([`graph`]: every source file parsed with `syn`, paths resolved as the
//! compiler resolves them) and fail on every edge from a lower layer to a
//! higher one, between modules of one layer that the table keeps apart, or
//! to a module the table says a layer never imports — all of them at once,
//! each with its file, line and edge. The crates are checked on their
//! manifests: a crate names only the crates below it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use graph::{Graph, read_crate};
use order::{crates, layers, violations};

mod graph;
mod order;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn architecture() -> String {
    fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md")
}

fn harness() -> Graph {
    read_crate(
        &root().join("src/lib.rs"),
        Some((&root().join("src/main.rs"), "main")),
        "mss_harness",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_modules_keep_the_documented_layers() {
    let layers = layers(&architecture()).unwrap_or_else(|e| panic!("docs/architecture.md: {e}"));
    let graph = harness();
    let found = violations(&graph, &layers, &root());
    assert!(
        found.is_empty(),
        "{} import(s) against docs/architecture.md:\n{}",
        found.len(),
        found.join("\n")
    );
    // Every module the table names exists.
    for layer in &layers {
        for s in &layer.modules {
            let exists = graph
                .modules
                .keys()
                .any(|m| m.len() >= s.len() && s.iter().zip(m).all(|(a, b)| a == "*" || a == b));
            assert!(
                exists,
                "docs/architecture.md names `{}`, which is not a module",
                s.join("::")
            );
        }
    }
}

#[test]
fn the_crates_keep_their_documented_order() {
    let crates = crates(&architecture()).unwrap_or_else(|e| panic!("docs/architecture.md: {e}"));
    let mut found = Vec::new();
    for (row, (package, dir, _)) in crates.iter().enumerate() {
        let manifest = root().join(dir).join("Cargo.toml");
        let text = fs::read_to_string(&manifest).expect("manifest");
        let toml: toml::Table = text.parse().expect("manifest is TOML");
        assert_eq!(
            toml.get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str()),
            Some(package.as_str()),
            "{dir}/Cargo.toml is not package {package}"
        );
        let mut tables: Vec<&toml::Table> = Vec::new();
        let kinds = ["dependencies", "dev-dependencies", "build-dependencies"];
        tables.extend(kinds.iter().filter_map(|k| toml.get(*k)?.as_table()));
        if let Some(targets) = toml.get("target").and_then(|t| t.as_table()) {
            for t in targets.values().filter_map(|t| t.as_table()) {
                tables.extend(kinds.iter().filter_map(|k| t.get(*k)?.as_table()));
            }
        }
        for (key, value) in tables.iter().flat_map(|t| t.iter()) {
            let named = value.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            let Some(at) = crates.iter().position(|(p, _, _)| p == named) else {
                continue;
            };
            if at >= row {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(key.as_str()))
                    .map_or(0, |n| n + 1);
                found.push(format!(
                    "{dir}/Cargo.toml:{line}: {package} (crate {}) depends on {named} (crate {}), not below it",
                    row + 1,
                    at + 1
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// A crate written for the checks: `(path, text)` of its files under `src/`.
fn fixture(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join("src").join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    dir
}

/// The edges of a fixture crate as `from -> to @line`.
fn edges_of(dir: &Path) -> BTreeSet<String> {
    let graph = read_crate(&dir.join("src/lib.rs"), None, "fixture").expect("graph");
    graph
        .edges
        .iter()
        .map(|e| format!("{} -> {} @{}", e.from.join("::"), e.to.join("::"), e.line))
        .collect()
}

#[test]
fn the_reader_resolves_paths_as_the_compiler_does() {
    let dir = fixture(&[
        (
            "lib.rs",
            "pub mod low;\npub mod mid;\npub mod top;\n#[cfg(test)]\nmod tests;\n",
        ),
        (
            "low/mod.rs",
            "pub mod hist;\npub mod plan;\npub use plan::Plan;\npub use hist::*;\n",
        ),
        ("low/hist.rs", "pub fn histogram() {}\npub struct H;\n"),
        ("low/plan.rs", "pub struct Plan;\npub struct Stage;\n"),
        (
            "mid.rs",
            concat!(
                "use crate::low::{self, plan::{Stage as S}};\n", // 1: grouped, self, rename
                "pub mod inner {\n",
                "    use super::super::low::Plan;\n", // 3: super::super, re-export
                "    pub fn f(_: Plan) {}\n",
                "}\n",
                "pub fn g() -> low::H {\n", // 6: through an imported module, glob re-export
                "    let _ = crate::top::run(); \n", // 7: a path in an expression
                "    format!(\"{:?}\", crate::low::hist::histogram());\n", // 8: in a macro
                "    low::H\n",
                "}\n",
                "#[derive(serde::Serialize)]\n",
                "pub struct W { #[serde(serialize_with = \"inner::ser\")] pub x: u8 }\n", // 12
                "pub fn h(_: S) {}\n",
                "#[cfg(test)]\n",
                "fn only_in_tests() { crate::top::run(); }\n",
                "#[cfg(all(test, unix))]\n",
                "use crate::top as also_test;\n",
                "pub(crate) fn visible() {}\n",
                // 17-: nodes switched on only in tests, inside items that are not.
                "impl W { #[cfg(test)] fn t() { crate::top::run(); } }\n",
                "pub trait Tr { #[cfg(test)] fn t() { crate::top::run(); } }\n",
                "pub struct V { #[cfg(test)] pub t: crate::top::T }\n",
                "pub enum E { #[cfg(test)] A(crate::top::T) }\n",
                "pub fn m(x: u8) { match x { #[cfg(test)] 0 => crate::top::run(), _ => {} } }\n",
                "pub fn l() { #[cfg(test)] let _ = crate::top::run(); }\n",
            ),
        ),
        (
            "top.rs",
            "pub fn run() {}\npub(in crate::top) fn x() {}\npub struct T;\n",
        ),
        ("tests.rs", "use crate::top::run;\n"),
    ]);
    let edges = edges_of(dir.path());
    let expected: BTreeSet<String> = [
        "low -> low::plan @3",        // pub use plan::Plan
        "low -> low::hist @4",        // pub use hist::*
        "mid -> low @1",              // use crate::low::{self, ..}
        "mid -> low::plan @1",        // .. plan::{Stage as S}
        "mid::inner -> low::plan @3", // super::super::low::Plan, re-exported
        "mid::inner -> low::plan @4", // Plan in a signature
        "mid -> low::hist @6",        // low::H, through the glob re-export
        "mid -> top @7",              // a path in an expression
        "mid -> low::hist @8",        // a path in a macro's arguments
        "mid -> low::hist @9",
        "mid -> mid::inner @12", // serde's with = "inner::ser"
        "mid -> low::plan @13",  // S, the renamed Stage
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(edges, expected);
}

#[test]
fn every_import_against_the_table_fails_with_its_file_line_and_edge() {
    let doc = "## Layers\n\n\
        | # | Layer | Modules | Within the layer | Never imports |\n\
        |---|---|---|---|---|\n\
        | 1 | data | `a`, `a::file` | any | |\n\
        | 2 | work | `b`, `c` | none | `a::file` |\n\
        | 3 | commands | `cmds`, `cmds::*` | none | |\n";
    let layers = layers(doc).expect("table");
    let dir = fixture(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod cmds;\npub mod d;\n",
        ),
        ("a/mod.rs", "pub mod file;\npub use file::Spec;\n"),
        (
            "a/file.rs",
            "pub struct Spec;\npub fn back() { crate::b::f(); }\n",
        ),
        (
            "b.rs",
            "use crate::c::h;\npub fn f() { h() }\npub fn g(_: crate::a::Spec) {}\n",
        ),
        ("c.rs", "pub fn h() {}\npub fn k() { crate::b::f() }\n"),
        ("cmds/mod.rs", "pub mod one;\npub mod two;\n"),
        (
            "cmds/one.rs",
            "pub fn x() { super::two::y(); crate::b::f(); }\n",
        ),
        ("cmds/two.rs", "pub fn y() {}\n"),
        ("d.rs", "pub fn d() {}\n"),
    ]);
    let graph = read_crate(&dir.path().join("src/lib.rs"), None, "fixture").expect("graph");
    let found = violations(&graph, &layers, dir.path());
    assert_eq!(
        found,
        [
            "src/a/file.rs:2: a::file → b: layer 1 (data) imports layer 2 (work), above it",
            "src/b.rs:1: b → c: both in layer 2 (work), whose modules do not import one another",
            "src/b.rs:2: b → c: both in layer 2 (work), whose modules do not import one another",
            "src/b.rs:3: b → a::file: layer 2 (work) never imports `a::file`",
            "src/c.rs:2: c → b: both in layer 2 (work), whose modules do not import one another",
            "src/cmds/one.rs:1: cmds::one → cmds::two: both in layer 3 (commands), whose modules do not import one another",
            "src/d.rs: module `d` is in no layer of the table",
        ]
    );
}

#[test]
fn a_table_that_cannot_be_read_is_refused_by_name() {
    let head = "## Layers\n| # | Layer | Modules | Within the layer | Never imports |\n|---|---|---|---|---|\n";
    for (rows, says) in [
        ("| 1 | a | `a` | some | |\n", "within the layer \"some\""),
        ("| 2 | a | `a` | none | |\n", "layer 2 after layer 0"),
        (
            "| 1 | a | `a` | none | |\n| 2 | b | `a` | none | |\n",
            "`a` stands in two layers",
        ),
        (
            "| 1 | a | `a` | none | `b` |\n",
            "`b` is in no layer's Modules",
        ),
        ("| 1 | a | | none | |\n", "names no module"),
    ] {
        let e = layers(&format!("{head}{rows}")).expect_err(rows);
        assert!(e.contains(says), "{rows}: {e}");
    }
    assert!(layers("# nothing\n").is_err());
}
