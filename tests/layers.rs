//! No module of `src/` imports a module that imports it, directly or through others.
//!
//! The graph: one node per source file (its module); an edge for every `crate::`,
//! `super::` and `self::` path in its code (`use` declarations, brace groups expanded,
//! and paths written inline), pointing at the deepest module the path names. Comments,
//! string and character literals are ignored; paths inside an inline module (`mod tests
//! { … }`) resolve from that module but count as the file's. A module's `mod`
//! declarations are not edges: only what it uses is.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of the library crate (`src/main.rs` is the binary, another crate) and
/// its source.
fn library_modules(src: &Path) -> BTreeMap<Module, String> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("main.rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            modules.insert(module, std::fs::read_to_string(&path).expect("read source"));
        }
    }
    modules
}

/// The code with comments and the contents of string and character literals blanked
/// out (lifetimes are kept).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let starts_ident = |i: usize| i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    while i < chars.len() {
        let rest = &chars[i..];
        match rest {
            ['/', '/', ..] => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ['/', '*', ..] => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i..].starts_with(&['/', '*']) {
                        depth += 1;
                        i += 2;
                    } else if chars[i..].starts_with(&['*', '/']) {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            ['r', '#' | '"', ..] | ['b', 'r', '#' | '"', ..] if !starts_ident(i) => {
                // A raw string: r"…", r#"…"#, br"…"; an identifier such as `r#type`
                // (no quote after the hashes) is kept.
                let mut j = i + if chars[i] == 'b' { 2 } else { 1 };
                let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
                j += hashes;
                if chars.get(j) != Some(&'"') {
                    out.push(chars[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                while j < chars.len() && !chars[j..].starts_with(&closing) {
                    j += 1;
                }
                i = j + closing.len();
                out.push_str("\"\"");
            }
            ['"', ..] => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '"' {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                i = j + 1;
                out.push_str("\"\"");
            }
            ['\'', '\\', ..] => {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            }
            ['\'', _, '\'', ..] => {
                i += 3;
                out.push_str("' '");
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// The inline module stack (`mod tests { … }`) at each byte offset where it changes.
fn inline_modules(code: &str) -> Vec<(usize, Module)> {
    let mut marks = vec![(0, Vec::new())];
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                    marks.push((i, stack.iter().map(|(n, _)| n.clone()).collect()));
                }
            }
            b'm' if code[i..].starts_with("mod ") && (i == 0 || !is_ident(bytes[i - 1])) => {
                let name: String = code[i + 4..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let after = code[i + 4..].trim_start()[name.len()..].trim_start();
                if after.starts_with('{') {
                    stack.push((name, depth));
                    let open = code.len() - after.len();
                    depth += 1;
                    marks.push((open, stack.iter().map(|(n, _)| n.clone()).collect()));
                    i = open + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    marks
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let head = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| expand(&format!("{head}{item}")))
        .collect()
}

/// `(path, offset)` of every `use` tree and every inline `crate::`/`super::` path.
fn paths(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(at) = code[i..].find("use ").map(|p| p + i) {
        i = at + 4;
        if at > 0 && is_ident(bytes[at - 1]) {
            continue;
        }
        let Some(end) = code[at..].find(';').map(|e| e + at) else {
            break;
        };
        let tree = code[at + 4..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" ::", "::")
            .replace(":: ", "::")
            .replace("{ ", "{")
            .replace(" }", "}")
            .replace(" ,", ",")
            .replace(", ", ",");
        found.extend(expand(&tree).into_iter().map(|p| (p, at)));
        i = end;
    }
    for root in ["crate::", "super::"] {
        let mut i = 0;
        while let Some(at) = code[i..].find(root).map(|p| p + i) {
            i = at + root.len();
            if at > 0 && (is_ident(bytes[at - 1]) || bytes[at - 1] == b':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push((path, at));
        }
    }
    found
}

/// The module `path` (written in `here`) names: the deepest known module along it.
fn resolve(path: &str, here: &[String], modules: &BTreeMap<Module, String>) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut base: Module = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super" | "self") => {
            let mut base = here.to_vec();
            while let Some(step @ ("super" | "self")) = segments.peek().copied() {
                if step == "super" {
                    base.pop();
                }
                segments.next();
            }
            base
        }
        // A child module named relative to this one (`use child::Item;`).
        Some(first) => {
            let mut child = here.to_vec();
            child.push(first.to_owned());
            if !modules.contains_key(&child) {
                return None;
            }
            here.to_vec()
        }
        None => return None,
    };
    // An inline module is part of its file's module.
    while !modules.contains_key(&base) && base.pop().is_some() {}
    for segment in segments {
        base.push(segment.to_owned());
        if !modules.contains_key(&base) {
            base.pop();
            break;
        }
    }
    Some(base)
}

/// Edges `from → to`, each with one path that makes it, for the failure message.
fn edges(modules: &BTreeMap<Module, String>) -> BTreeMap<(Module, Module), String> {
    let mut edges = BTreeMap::new();
    for (module, source) in modules {
        let code = code_only(source);
        let marks = inline_modules(&code);
        for (path, at) in paths(&code) {
            let inline = marks
                .iter()
                .take_while(|(offset, _)| *offset <= at)
                .last()
                .map(|(_, stack)| stack.clone())
                .unwrap_or_default();
            let here: Module = module.iter().cloned().chain(inline).collect();
            if let Some(target) = resolve(&path, &here, modules)
                && &target != module
            {
                edges
                    .entry((module.clone(), target))
                    .or_insert_with(|| path.clone());
            }
        }
    }
    edges
}

/// The cycles of the graph, each as its modules in order (one per strongly connected
/// component).
fn cycles(edges: &BTreeMap<(Module, Module), String>) -> Vec<Vec<Module>> {
    let mut next: BTreeMap<&Module, BTreeSet<&Module>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().insert(to);
    }
    let mut reported: BTreeSet<Module> = BTreeSet::new();
    let mut found = Vec::new();
    for start in next.keys() {
        if reported.contains(*start) {
            continue;
        }
        // Depth-first search for a path back to `start`.
        let mut stack: Vec<(&Module, Vec<&Module>)> = vec![(start, vec![start])];
        let mut seen: BTreeSet<&Module> = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for target in next.get(node).into_iter().flatten() {
                if target == start {
                    reported.extend(trail.iter().map(|m| (*m).clone()));
                    found.push(trail.iter().map(|m| (*m).clone()).collect());
                    stack.clear();
                    break;
                }
                if seen.insert(target) {
                    let mut longer = trail.clone();
                    longer.push(target);
                    stack.push((target, longer));
                }
            }
        }
    }
    found
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

fn describe(cycle: &[Module], edges: &BTreeMap<(Module, Module), String>) -> String {
    let mut text = name(&cycle[0]);
    for (i, from) in cycle.iter().enumerate() {
        let to = &cycle[(i + 1) % cycle.len()];
        let path = edges
            .get(&(from.clone(), to.clone()))
            .map_or("?", String::as_str);
        text.push_str(&format!(" -> {} (via {path})", name(to)));
    }
    text
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let modules = library_modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(modules.len() > 50, "only {} modules found", modules.len());
    let edges = edges(&modules);
    assert!(edges.len() > 100, "only {} edges found", edges.len());
    let cycles = cycles(&edges);
    assert!(
        cycles.is_empty(),
        "import cycles in src/:\n{}",
        cycles
            .iter()
            .map(|c| describe(c, &edges))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The checker itself: it finds the cycle between two siblings and one through a parent,
/// follows inline modules and `super::super`, and ignores comments and strings.
#[test]
fn the_checker_catches_cycles() {
    let module = |path: &str| -> Module {
        path.split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let graph = |files: &[(&str, &str)]| {
        let modules: BTreeMap<Module, String> = files
            .iter()
            .map(|(path, source)| (module(path), (*source).to_owned()))
            .collect();
        edges(&modules)
    };

    let siblings = graph(&[
        ("", "pub mod a;"),
        ("a", "pub mod b; pub mod c;"),
        ("a::b", "use super::c::Thing;\npub struct Other;"),
        ("a::c", "pub fn f() -> super::b::Other { todo!() }"),
    ]);
    let found = cycles(&siblings);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        describe(&found[0], &siblings),
        "a::b -> a::c (via super::c::Thing) -> a::b (via super::b::Other)"
    );

    let through_parent = graph(&[
        ("", "pub mod x; pub mod y;"),
        ("x", "pub use crate::y::{Y, z::{Z}};\npub mod w;"),
        ("x::w", "pub struct W;"),
        ("y", "pub mod z; pub struct Y;"),
        ("y::z", "use crate::x::w::W;\npub struct Z;"),
    ]);
    assert_eq!(cycles(&through_parent), vec![] as Vec<Vec<Module>>);
    let closes = graph(&[
        ("", "pub mod x; pub mod y;"),
        ("x", "pub use crate::y::{Y, z::{Z}};\npub struct X;"),
        ("y", "pub mod z; pub struct Y;"),
        ("y::z", "use crate::x::X;\npub struct Z;"),
    ]);
    assert_eq!(cycles(&closes).len(), 1);

    // Comments, strings and test modules' own `super` do not make edges to the parent.
    let quiet = graph(&[
        ("", "pub mod p;"),
        ("p", "pub mod q;\nuse q::Q;"),
        (
            "p::q",
            r##"//! See [`crate::p`].
pub struct Q;
const S: &str = "crate::p::X";
const R: &str = r#"super::X"#;
/* super::X */
#[cfg(test)]
mod tests {
    use super::*;
    mod deeper {
        use super::super::Q;
    }
}"##,
        ),
    ]);
    assert_eq!(
        quiet.keys().cloned().collect::<Vec<_>>(),
        vec![(module("p"), module("p::q"))]
    );
}
