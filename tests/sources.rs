//! The project cites only what a user can open, and spells protocol
//! vocabulary only in `contract/`:
//! - every check's `source` (`conform --list`) is a file of this repository
//!   (with a `§Heading` that exists in it), a clause of the seed document, or
//!   an RFC;
//! - no code outside `contract/`, tests and docs holds a string literal that
//!   is a codigo of `errores.csv`, an administrator code, a DIVIPOLA code or
//!   a value of an enumeration of a report body (`tipoNovedad`, `sexo`,
//!   `regimenDestino`, `tipoAfiliado`, `asesoriaDoble`,
//!   `autorizacionManejoDatos`: `contract/openapi.json`'s `enum` and
//!   `x-roles`).

use std::path::{Path, PathBuf};
use std::process::Command;

use mss_contract::Contract;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seed document's clauses, as docs/protocol.md names them.
const SEED_CLAUSES: [&str; 4] = [
    "OBJETIVOS",
    "PRECONDICIONES",
    "PROGRAMACION",
    "INFORMES INICIALES DE ASEGURAMIENTO EN PRODUCCION",
];

/// Split on `;` outside parentheses.
fn parts(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in source.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ';' if depth == 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    out
}

/// Why `part` does not resolve, if it does not.
fn unresolved(part: &str) -> Option<String> {
    let head = part.split(" (").next().unwrap_or(part).trim();
    if let Some(rest) = head.strip_prefix("RFC ") {
        return (!rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .then(|| format!("{part:?}: not an RFC number"));
    }
    if let Some(clause) = head.strip_prefix("seed ") {
        return (!SEED_CLAUSES.contains(&clause))
            .then(|| format!("{part:?}: not a clause of the seed document"));
    }
    let mut words = head.split_whitespace();
    let file = words.next().unwrap_or("");
    let path = root().join(file);
    if file.is_empty() || !path.is_file() {
        return Some(format!(
            "{part:?}: {file:?} is not a file of the repository"
        ));
    }
    if let Some(section) = head.split('§').nth(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let heading = format!("## {}", section.trim());
        if !text.lines().any(|l| l.trim() == heading) {
            return Some(format!("{part:?}: {file} has no heading {heading:?}"));
        }
    }
    None
}

#[test]
fn every_check_source_resolves() {
    let out = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args(["conform", "--list"])
        .output()
        .expect("conform --list");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut bad = Vec::new();
    let mut checks = 0;
    for line in text.lines().filter(|l| l.contains('\t')) {
        checks += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        let source = cols.get(3).copied().unwrap_or("");
        if source.trim().is_empty() {
            bad.push(format!("{}: no source", cols[0]));
            continue;
        }
        for p in parts(source) {
            if let Some(why) = unresolved(&p) {
                bad.push(format!("{}: {why}", cols[0]));
            }
        }
    }
    assert!(checks > 100, "{checks} checks listed");
    assert!(
        bad.is_empty(),
        "{} unresolved sources:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn the_resolver_refuses_what_a_user_cannot_open() {
    assert!(unresolved(&format!("{DESIGN} §2 (envelope)")).is_some());
    assert!(unresolved("docs/protocol.md §Nowhere").is_some());
    assert!(unresolved("seed §token").is_some());
    assert!(unresolved("Ley 797/2003 art. 2").is_some());
    assert!(unresolved("docs/protocol.md §Rules (Ley 797/2003 art. 2)").is_none());
    assert!(unresolved("seed PRECONDICIONES (token)").is_none());
    assert!(unresolved("RFC 6749 §5.2").is_none());
    assert!(unresolved("contract/errores.csv token_missing").is_none());
}

/// The design document the project started from, which is not in the
/// repository (spelled in two halves so that this file does not cite it).
const DESIGN: &str = concat!("DESIGN", ".md");

/// No module doc, README or contract file cites a file that is not here.
#[test]
fn nothing_cites_the_design_document() {
    let mut hits = Vec::new();
    for dir in [
        "src",
        "mock_server/src",
        "contract",
        "tests",
        "docs",
        "scenarios",
    ] {
        walk(&root().join(dir), &mut |p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            if text.contains(DESIGN) {
                hits.push(p.display().to_string());
            }
        });
    }
    for f in ["README.md", "CHANGELOG.md"] {
        let text = std::fs::read_to_string(root().join(f)).unwrap_or_default();
        if text.contains(DESIGN) {
            hits.push(f.to_owned());
        }
    }
    assert!(hits.is_empty(), "{DESIGN} is cited in {hits:?}");
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Files still allowed to spell a codigo, each with its reason. The test
/// fails when an entry is no longer needed, so the list only shrinks.
const ALLOWED: [(&str, &str); 2] = [
    (
        "benches/informe.rs",
        "a benchmark's synthetic request log (benches are not shipped code)",
    ),
    (
        "benches/generator.rs",
        "a benchmark's generator configuration (benches are not shipped code)",
    ),
];

/// The string literals of `text` before its `#[cfg(test)]` module.
fn literals(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find('"') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('"') else { break };
        out.push(after[..j].to_owned());
        rest = &after[j + 1..];
    }
    out
}

#[test]
fn no_code_spells_a_codigo_an_administrator_a_divipola_code_or_an_enumeration_value() {
    let c = Contract::embedded();
    let mut words: Vec<String> = c.codigos.iter().map(|x| x.codigo.clone()).collect();
    words.extend(c.administradoras.iter().map(|a| a.codigo.clone()));
    words.extend(c.municipios.iter().map(|m| m.divipola()));
    let enumerations = enumeration_values(c);
    for field in ["tipoNovedad", "tipoAfiliado", "regimenDestino", "sexo"] {
        assert!(
            enumerations.iter().any(|(f, _)| f == field),
            "the scan misses {field}"
        );
    }
    words.extend(enumerations.into_iter().map(|(_, v)| v));
    let mut hits: Vec<(String, String)> = Vec::new();
    for dir in ["src", "mock_server/src", "benches"] {
        walk(&root().join(dir), &mut |p| {
            if p.extension().and_then(|e| e.to_str()) != Some("rs") {
                return;
            }
            let text = std::fs::read_to_string(p).unwrap_or_default();
            for lit in literals(&text) {
                if words.contains(&lit) {
                    let rel = p.strip_prefix(root()).unwrap_or(p).display().to_string();
                    hits.push((rel, lit));
                }
            }
        });
    }
    let unexpected: Vec<_> = hits
        .iter()
        .filter(|(f, _)| !ALLOWED.iter().any(|(a, _)| a == f))
        .collect();
    assert!(
        unexpected.is_empty(),
        "protocol vocabulary outside contract/: {unexpected:?}"
    );
    for (file, why) in ALLOWED {
        assert!(
            hits.iter().any(|(f, _)| f == file),
            "{file} no longer needs its exception ({why}): remove it from ALLOWED"
        );
    }
    // The scan sees what it forbids.
    assert!(literals("let x = \"NEG01\";").contains(&"NEG01".to_owned()));
    assert!(words.contains(&"TRASLADO_REGIMEN".to_owned()));
    assert!(words.contains(&"DEPENDIENTE".to_owned()));
}

/// Every value of an enumeration of a report body that is not a code list
/// (those are the CSV files'), with its field.
fn enumeration_values(c: &Contract) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in mss_contract::Service::ALL {
        for f in &c.service(s).fields {
            for v in f.enumeration.iter().flatten() {
                out.push((f.name.clone(), v.clone()));
            }
        }
    }
    out
}
