//! The order as docs/architecture.md writes it — the layers table and the
//! crates table — and the edges of a module graph against it.

use std::collections::BTreeSet;
use std::path::Path;

use super::graph::Graph;

/// A module name of the table: a path from the crate root, `*` standing for
/// each submodule on its own (`cmd::*`).
pub type Spec = Vec<String>;

/// One row of the layers table.
#[derive(Debug)]
pub struct Layer {
    pub number: usize,
    pub name: String,
    pub modules: Vec<Spec>,
    /// Whether its modules may import one another.
    peers: bool,
    /// Lower modules it still must not import.
    never: Vec<Spec>,
}

/// The rows of the first markdown table after the heading `heading`, each
/// split into its cells, with the line it stands on.
fn table(doc: &str, heading: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut lines = doc.lines().enumerate();
    lines
        .by_ref()
        .find(|(_, l)| l.trim() == heading)
        .ok_or_else(|| format!("no `{heading}` heading"))?;
    let rows: Vec<(usize, Vec<String>)> = lines
        .skip_while(|(_, l)| !l.trim_start().starts_with('|'))
        .take_while(|(_, l)| l.trim_start().starts_with('|'))
        .map(|(n, l)| {
            let cells = l.trim().trim_matches('|').split('|');
            (n + 1, cells.map(|c| c.trim().to_owned()).collect())
        })
        .collect();
    if rows.len() < 3 {
        return Err(format!(
            "`{heading}`: no table with a header and rows under it"
        ));
    }
    // The header, then the `|---|` line.
    Ok(rows.into_iter().skip(2).collect())
}

/// The `code` spans of a cell.
fn names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

pub fn spec(name: &str) -> Spec {
    name.split("::").map(str::to_owned).collect()
}

/// The layers table of `doc` (see docs/architecture.md): `# | Layer |
/// Modules | Within the layer | Never imports`, lowest first.
pub fn layers(doc: &str) -> Result<Vec<Layer>, String> {
    let mut out: Vec<Layer> = Vec::new();
    for (line, cells) in table(doc, "## Layers")? {
        let [number, name, modules, within, never] = &cells[..] else {
            return Err(format!("line {line}: {} cells, not 5", cells.len()));
        };
        let number: usize = number
            .parse()
            .map_err(|_| format!("line {line}: layer number {number:?}"))?;
        if number != out.len() + 1 {
            return Err(format!(
                "line {line}: layer {number} after layer {}",
                out.len()
            ));
        }
        let peers = match within.as_str() {
            "none" => false,
            "any" => true,
            other => {
                return Err(format!(
                    "line {line}: within the layer {other:?}: none or any"
                ));
            }
        };
        let modules: Vec<Spec> = names(modules).iter().map(|m| spec(m)).collect();
        if modules.is_empty() {
            return Err(format!("line {line}: layer {number} names no module"));
        }
        out.push(Layer {
            number,
            name: name.clone(),
            modules,
            peers,
            never: names(never).iter().map(|m| spec(m)).collect(),
        });
    }
    let mut seen = BTreeSet::new();
    for m in out
        .iter()
        .flat_map(|l| l.modules.iter().chain(l.never.iter()))
    {
        if !out.iter().any(|l| l.modules.contains(m)) {
            return Err(format!("`{}` is in no layer's Modules", m.join("::")));
        }
    }
    for m in out.iter().flat_map(|l| &l.modules) {
        if !seen.insert(m) {
            return Err(format!("`{}` stands in two layers", m.join("::")));
        }
    }
    Ok(out)
}

/// The crates table of `doc`: (package, directory), lowest first.
pub fn crates(doc: &str) -> Result<Vec<(String, String, usize)>, String> {
    table(doc, "## Crates")?
        .into_iter()
        .map(|(line, cells)| match &cells[..] {
            [_, _, package, dir] => match (&names(package)[..], &names(dir)[..]) {
                ([p], [d]) => Ok((p.clone(), d.clone(), line)),
                _ => Err(format!("line {line}: a package and a directory, in `code`")),
            },
            _ => Err(format!("line {line}: {} cells, not 4", cells.len())),
        })
        .collect()
}

/// Where `module` stands: its unit (the table's name for it) and its layer.
fn place<'l>(layers: &'l [Layer], module: &[String]) -> Option<(Spec, &'l Layer)> {
    let mut best: Option<(Spec, &Layer)> = None;
    for layer in layers {
        for s in &layer.modules {
            let fits =
                s.len() <= module.len() && s.iter().zip(module).all(|(a, b)| a == "*" || a == b);
            if !fits {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| b.len() < s.len()) {
                best = Some((module[..s.len()].to_vec(), layer));
            }
        }
    }
    best
}

/// Every edge of `graph` against `layers`, one line each (`file:line: from →
/// to: why`). `root` shortens paths.
pub fn violations(graph: &Graph, layers: &[Layer], root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (path, m) in &graph.modules {
        let declares_only = m.items.iter().all(|i| matches!(i, syn::Item::Mod(_)));
        if place(layers, path).is_none() && !(path.is_empty() && declares_only) {
            found.push(format!(
                "{}: module `{}` is in no layer of the table",
                m.file.strip_prefix(root).unwrap_or(&m.file).display(),
                path.join("::")
            ));
        }
    }
    for e in &graph.edges {
        let (Some((from, fl)), Some((to, tl))) = (place(layers, &e.from), place(layers, &e.to))
        else {
            continue;
        };
        if from == to {
            continue;
        }
        let why = if tl.number > fl.number {
            Some(format!(
                "layer {} ({}) imports layer {} ({}), above it",
                fl.number, fl.name, tl.number, tl.name
            ))
        } else if tl.number == fl.number && !fl.peers {
            Some(format!(
                "both in layer {} ({}), whose modules do not import one another",
                fl.number, fl.name
            ))
        } else if fl.never.contains(&to) {
            Some(format!(
                "layer {} ({}) never imports `{}`",
                fl.number,
                fl.name,
                to.join("::")
            ))
        } else {
            None
        };
        let Some(why) = why else { continue };
        found.push(format!(
            "{}:{}: {} → {}: {why}",
            e.file.strip_prefix(root).unwrap_or(&e.file).display(),
            e.line,
            e.from.join("::"),
            e.to.join("::")
        ));
    }
    found.sort();
    found.dedup();
    found
}
