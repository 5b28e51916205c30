//! The crate's module graph as the compiler resolves it: every module the
//! crate declares (from its root files through their `mod` items,
//! `#[cfg(test)]` items left out) parsed with `syn`, and every path it names —
//! `use` trees (grouped, renamed, `self`, `super`, relative), paths in types,
//! expressions, patterns and macro arguments, serde's `with` functions —
//! resolved to the module that defines it, through `pub use` and glob
//! re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::visit::Visit;

/// A module path from the crate root (`["engine", "attack"]`); the root is `[]`.
pub type ModPath = Vec<String>;

/// One module of the crate: where it is written and its items (test items
/// left out).
pub struct Module {
    pub path: ModPath,
    pub file: PathBuf,
    pub items: Vec<syn::Item>,
    /// Names its items define (functions, types, modules, constants…).
    defines: BTreeSet<String>,
    /// Names its `use` items bring in, with the absolute path each names.
    imports: BTreeMap<String, Vec<String>>,
    /// Targets of its glob imports (`use a::*`), absolute.
    globs: Vec<Vec<String>>,
}

/// One import of a module by another: `from`'s `file:line` names `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: ModPath,
    pub to: ModPath,
    pub file: PathBuf,
    pub line: usize,
}

/// A crate's modules and the edges between them.
pub struct Graph {
    pub modules: BTreeMap<ModPath, Module>,
    pub edges: Vec<Edge>,
}

/// Whether `attrs` switch their item on only under `cfg(test)`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| requires_test(&m))
    })
}

/// Whether a `cfg` predicate holds only when `test` does.
fn requires_test(meta: &syn::Meta) -> bool {
    let list = |l: &syn::MetaList| {
        l.parse_args_with(
            syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
        )
        .map(|p| p.into_iter().collect::<Vec<_>>())
        .unwrap_or_default()
    };
    match meta {
        syn::Meta::Path(p) => p.is_ident("test"),
        syn::Meta::List(l) if l.path.is_ident("all") => list(l).iter().any(requires_test),
        syn::Meta::List(l) if l.path.is_ident("any") => {
            let parts = list(l);
            !parts.is_empty() && parts.iter().all(requires_test)
        }
        _ => false,
    }
}

/// A syntax node's own attributes (none for a kind that carries none).
trait Attrs {
    fn attrs(&self) -> &[syn::Attribute];
}

/// `Attrs` for enums whose listed variants carry an `attrs` field, and for
/// structs that carry one.
macro_rules! attrs {
    ($($node:ident: $($variant:ident),+;)*) => {$(
        impl Attrs for syn::$node {
            fn attrs(&self) -> &[syn::Attribute] {
                match self {
                    $(syn::$node::$variant(i) => &i.attrs,)+
                    _ => &[],
                }
            }
        }
    )*};
    ($($node:ident),*) => {$(
        impl Attrs for syn::$node {
            fn attrs(&self) -> &[syn::Attribute] {
                &self.attrs
            }
        }
    )*};
}

attrs! {
    Item: Const, Enum, ExternCrate, Fn, ForeignMod, Impl, Macro, Mod, Static, Struct, Trait,
        TraitAlias, Type, Union, Use;
    ImplItem: Const, Fn, Type, Macro;
    TraitItem: Const, Fn, Type, Macro;
}
attrs!(Field, Variant, Arm, Local);

/// `Visit` methods that walk a node unless it is switched on only under
/// `cfg(test)`.
macro_rules! unless_test {
    ($($visit:ident: $node:ty),* $(,)?) => {$(
        fn $visit(&mut self, node: &'ast $node) {
            if !is_test(node.attrs()) {
                syn::visit::$visit(self, node);
            }
        }
    )*};
}

fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::ExternCrate(i) => i.rename.as_ref().map_or(&i.ident, |(_, r)| r),
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// One leaf of a `use` tree: the name it brings in (`None` for a glob or
/// `as _`), the path it names as written, and its line.
struct UseLeaf {
    name: Option<String>,
    path: Vec<String>,
    line: usize,
}

fn use_leaves(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseLeaf>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let ident = n.ident.to_string();
            let (name, path) = if ident == "self" {
                (prefix.last().cloned(), prefix.clone())
            } else {
                let mut path = prefix.clone();
                path.push(ident.clone());
                (Some(ident), path)
            };
            out.push(UseLeaf {
                name,
                path,
                line: n.ident.span().start().line,
            });
        }
        syn::UseTree::Rename(r) => {
            let ident = r.ident.to_string();
            let mut path = prefix.clone();
            if ident != "self" {
                path.push(ident);
            }
            let rename = r.rename.to_string();
            out.push(UseLeaf {
                name: (rename != "_").then_some(rename),
                path,
                line: r.ident.span().start().line,
            });
        }
        syn::UseTree::Glob(g) => out.push(UseLeaf {
            name: None,
            path: prefix.clone(),
            line: g.star_token.span.start().line,
        }),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

fn leaves_of(u: &syn::ItemUse) -> Vec<UseLeaf> {
    let mut out = Vec::new();
    use_leaves(&u.tree, &mut Vec::new(), &mut out);
    if u.leading_colon.is_some() {
        // `use ::name::…`: always another crate.
        out.iter_mut().for_each(|l| l.path.insert(0, String::new()));
    }
    out
}

/// Read the crate whose root file is `lib` (module `[]`) and, if given, a
/// binary root `bin` (module `[bin_name]`, which names the library as
/// `lib_name`).
pub fn read_crate(lib: &Path, bin: Option<(&Path, &str)>, lib_name: &str) -> Result<Graph, String> {
    let mut raw = Vec::new();
    load(lib, Vec::new(), &mut raw)?;
    if let Some((file, name)) = bin {
        load(file, vec![name.to_owned()], &mut raw)?;
    }
    let mut modules: BTreeMap<ModPath, Module> = raw
        .into_iter()
        .map(|(path, file, items)| {
            let defines = items.iter().filter_map(item_name).collect();
            let m = Module {
                path: path.clone(),
                file,
                items,
                defines,
                imports: BTreeMap::new(),
                globs: Vec::new(),
            };
            (path, m)
        })
        .collect();
    let bin_name = bin.map(|(_, n)| n.to_owned());
    let scope = Scope {
        lib_name: lib_name.to_owned(),
        bin_name,
    };
    // Imports, in rounds: `use a::b` may start from a name another `use`
    // of the same module brought in.
    let paths: Vec<ModPath> = modules.keys().cloned().collect();
    for _ in 0..4 {
        for p in &paths {
            let m = &modules[p];
            let mut imports = BTreeMap::new();
            let mut globs = Vec::new();
            for item in &m.items {
                let syn::Item::Use(u) = item else { continue };
                for leaf in leaves_of(u) {
                    let Some(abs) = scope.absolute(&modules, m, &leaf.path) else {
                        continue;
                    };
                    match leaf.name {
                        Some(name) => {
                            imports.insert(name, abs);
                        }
                        None if leaf.path.last().is_none_or(|l| l != "_") => globs.push(abs),
                        None => {}
                    }
                }
            }
            let m = modules.get_mut(p).expect("module");
            m.imports = imports;
            m.globs = globs;
        }
    }
    let mut edges = Vec::new();
    for m in modules.values() {
        let mut v = Collect {
            scope: &scope,
            modules: &modules,
            module: m,
            edges: &mut edges,
        };
        for item in &m.items {
            v.visit_item(item);
        }
    }
    edges.sort();
    edges.dedup();
    Ok(Graph { modules, edges })
}

/// Parse `file` as module `path` and the modules it declares, recursively.
fn load(
    file: &Path,
    path: ModPath,
    out: &mut Vec<(ModPath, PathBuf, Vec<syn::Item>)>,
) -> Result<(), String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let parsed = syn::parse_file(&text).map_err(|e| {
        format!(
            "{}:{}: not Rust that syn reads: {e}",
            file.display(),
            e.span().start().line
        )
    })?;
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let parent = file.parent().unwrap_or(Path::new("."));
    let children = if matches!(stem, "mod" | "lib" | "main") {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    };
    module_items(file, path, parsed.items, &children, out)
}

fn module_items(
    file: &Path,
    path: ModPath,
    items: Vec<syn::Item>,
    children: &Path,
    out: &mut Vec<(ModPath, PathBuf, Vec<syn::Item>)>,
) -> Result<(), String> {
    let items: Vec<syn::Item> = items.into_iter().filter(|i| !is_test(i.attrs())).collect();
    for item in &items {
        let syn::Item::Mod(m) = item else { continue };
        if m.attrs.iter().any(|a| a.path().is_ident("path")) {
            return Err(format!(
                "{}:{}: #[path] on mod {}: this test finds a module's file by its name only",
                file.display(),
                m.ident.span().start().line,
                m.ident
            ));
        }
        let mut child = path.clone();
        child.push(m.ident.to_string());
        match &m.content {
            Some((_, inner)) => module_items(
                file,
                child,
                inner.clone(),
                &children.join(m.ident.to_string()),
                out,
            )?,
            None => {
                let flat = children.join(format!("{}.rs", m.ident));
                let nested = children.join(m.ident.to_string()).join("mod.rs");
                let found = if flat.is_file() { flat } else { nested };
                load(&found, child, out)?;
            }
        }
    }
    out.push((path, file.to_path_buf(), items));
    Ok(())
}

/// How paths are resolved in a crate.
struct Scope {
    /// The library's name as the binary spells it (`mss_harness`).
    lib_name: String,
    /// The binary's root module, if read.
    bin_name: Option<String>,
}

impl Scope {
    /// The absolute path (from the crate root) that `segs`, written in
    /// `module`, names; `None` for another crate's, a local or a primitive.
    fn absolute(
        &self,
        modules: &BTreeMap<ModPath, Module>,
        module: &Module,
        segs: &[String],
    ) -> Option<Vec<String>> {
        let first = segs.first()?;
        let in_bin = self
            .bin_name
            .as_ref()
            .is_some_and(|b| module.path.first() == Some(b));
        let mut out = match first.as_str() {
            "crate" if in_bin => vec![self.bin_name.clone()?],
            "crate" => Vec::new(),
            "self" => module.path.clone(),
            "super" => {
                let ups = segs.iter().take_while(|s| *s == "super").count();
                let keep = module.path.len().checked_sub(ups)?;
                let mut out = module.path[..keep].to_vec();
                out.extend(segs[ups..].iter().cloned());
                return Some(out);
            }
            name if in_bin && name == self.lib_name => Vec::new(),
            name => {
                if let Some(target) = module.imports.get(name) {
                    let mut out = target.clone();
                    out.extend(segs[1..].iter().cloned());
                    return Some(out);
                }
                if module.defines.contains(name) {
                    let mut out = module.path.clone();
                    out.extend(segs.iter().cloned());
                    return Some(out);
                }
                for g in &module.globs {
                    if let Some(gm) = modules.get(g)
                        && (gm.defines.contains(name) || gm.imports.contains_key(name))
                    {
                        let mut out = g.clone();
                        out.extend(segs.iter().cloned());
                        return Some(out);
                    }
                }
                return None;
            }
        };
        out.extend(segs[1..].iter().cloned());
        Some(out)
    }
}

/// The module that defines what the absolute path `abs` names, following
/// re-exports.
fn defining_module(modules: &BTreeMap<ModPath, Module>, abs: &[String], depth: usize) -> ModPath {
    let mut at: ModPath = Vec::new();
    for (i, seg) in abs.iter().enumerate() {
        let mut child = at.clone();
        child.push(seg.clone());
        if modules.contains_key(&child) {
            at = child;
            continue;
        }
        let Some(m) = modules.get(&at) else { return at };
        if depth > 16 || m.defines.contains(seg) {
            return at;
        }
        if let Some(target) = m.imports.get(seg) {
            let mut next = target.clone();
            next.extend(abs[i + 1..].iter().cloned());
            return defining_module(modules, &next, depth + 1);
        }
        for g in &m.globs {
            if let Some(gm) = modules.get(g)
                && (gm.defines.contains(seg) || gm.imports.contains_key(seg))
            {
                let mut next = g.clone();
                next.extend(abs[i..].iter().cloned());
                return defining_module(modules, &next, depth + 1);
            }
        }
        return at;
    }
    at
}

/// Collects the edges of one module.
struct Collect<'a> {
    scope: &'a Scope,
    modules: &'a BTreeMap<ModPath, Module>,
    module: &'a Module,
    edges: &'a mut Vec<Edge>,
}

impl Collect<'_> {
    fn path(&mut self, segs: &[String], line: usize) {
        let Some(abs) = self.scope.absolute(self.modules, self.module, segs) else {
            return;
        };
        let to = defining_module(self.modules, &abs, 0);
        if to != self.module.path {
            self.edges.push(Edge {
                from: self.module.path.clone(),
                to,
                file: self.module.file.clone(),
                line,
            });
        }
    }

    /// Every path in a macro's arguments: `a::b::c` runs of identifiers.
    fn tokens(&mut self, tokens: TokenStream) {
        let mut run: Vec<String> = Vec::new();
        let mut line = 0;
        let mut colons = 0;
        let flush = |this: &mut Self, run: &mut Vec<String>, line: usize| {
            if !run.is_empty() {
                this.path(run, line);
                run.clear();
            }
        };
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => {
                    if !run.is_empty() && colons != 2 {
                        flush(self, &mut run, line);
                    }
                    if run.is_empty() {
                        line = i.span().start().line;
                    }
                    run.push(i.to_string());
                    colons = 0;
                }
                TokenTree::Punct(p) if p.as_char() == ':' && !run.is_empty() => colons += 1,
                TokenTree::Group(g) => {
                    flush(self, &mut run, line);
                    colons = 0;
                    if g.delimiter() != Delimiter::None || !g.stream().is_empty() {
                        self.tokens(g.stream());
                    }
                }
                _ => {
                    flush(self, &mut run, line);
                    colons = 0;
                }
            }
        }
        flush(self, &mut run, line);
    }
}

impl<'ast> Visit<'ast> for Collect<'_> {
    unless_test!(
        visit_item: syn::Item,
        visit_impl_item: syn::ImplItem,
        visit_trait_item: syn::TraitItem,
        visit_field: syn::Field,
        visit_variant: syn::Variant,
        visit_arm: syn::Arm,
        visit_local: syn::Local,
    );

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // A module of its own: read as one.
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        for leaf in leaves_of(u) {
            if leaf.path.last().is_some_and(|l| l == "_") {
                continue;
            }
            self.path(&leaf.path, leaf.line);
        }
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {
        // `pub(crate)`, `pub(in a::b)`: who may see an item, not an import.
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = p
            .segments
            .first()
            .map_or(0, |s| s.ident.span().start().line);
        if p.leading_colon.is_none() {
            self.path(&segs, line);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // serde's and schemars's `with = "path"` name functions as strings.
        if let syn::Meta::List(l) = &a.meta {
            let mut key = String::new();
            for tt in l.tokens.clone() {
                match tt {
                    TokenTree::Ident(i) => key = i.to_string(),
                    TokenTree::Literal(lit) if key.ends_with("with") => {
                        let line = lit.span().start().line;
                        if let Ok(s) = syn::parse_str::<syn::LitStr>(&lit.to_string())
                            && let Ok(p) = syn::parse_str::<syn::Path>(&s.value())
                        {
                            let segs: Vec<String> =
                                p.segments.iter().map(|s| s.ident.to_string()).collect();
                            self.path(&segs, line);
                        }
                    }
                    _ => {}
                }
            }
        }
        syn::visit::visit_attribute(self, a);
    }
}
