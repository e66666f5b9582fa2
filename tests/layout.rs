//! The layout docs/architecture.md promises, checked on the source itself:
//! - `samba/` and `entra/` import nothing of ours above them, nor each other;
//! - the emulator imports nothing of ours but `entra` (its codecs): not the engine, the bus,
//!   the daemon, the config or sam.ldb;
//! - the modules inside `sync/` and inside `emulator/` import each other without a cycle, so
//!   each can be read knowing only the ones below it.
//!
//! Imports are read from the paths a file names (`crate::…`, `super::…`, `use` lists), outside
//! its unit tests and comments; `sync/testing` (the fakes, built only for tests) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `src/sync/state/blocked.rs` → `sync::state::blocked`; `mod.rs`, `lib.rs` and `main.rs` name
/// their directory's module.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code a file compiles outside its unit tests, without comments and string contents.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // What follows is the test module (the house style puts it last) or a test-only item.
            if lines.peek().is_some_and(|l| l.contains("mod tests")) {
                break;
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut escaped = false;
        for c in line.chars() {
            match (in_string, c) {
                (true, _) if escaped => escaped = false,
                (true, '\\') => escaped = true,
                (true, '"') => in_string = false,
                (true, _) => {}
                (false, '"') => in_string = true,
                (false, c) => out.push(c),
            }
        }
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Where a path that starts at `rest` (just after `crate::` or a `super::` chain, resolved to
/// `base`) leads: one module path per item (a `{a, b::c}` list gives several).
fn paths_from(base: &[String], rest: &str, out: &mut Vec<Vec<String>>) {
    if let Some(list) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in list.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    paths_from(base, list[start..i].trim(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    paths_from(base, list[start..i].trim(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let mut path = base.to_vec();
    let mut rest = rest;
    loop {
        let (name, after) = ident(rest);
        if name.is_empty() || name == "self" {
            break;
        }
        path.push(name.to_owned());
        match after.strip_prefix("::") {
            Some(next) if next.starts_with('{') => return paths_from(&path, next, out),
            Some(next) => rest = next,
            None => break,
        }
    }
    out.push(path);
}

/// Every module path `code` (of module `module`) names through `crate::` or `super::`.
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        if boundary(i) && rest.starts_with("crate::") {
            paths_from(&[], &rest["crate::".len()..], &mut out);
            i += "crate::".len();
        } else if boundary(i) && rest.starts_with("super::") {
            let mut base = module.to_vec();
            let mut r = rest;
            while let Some(next) = r.strip_prefix("super::") {
                base.pop();
                r = next;
            }
            paths_from(&base, r, &mut out);
            i += rest.len() - r.len();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// For each file: its module path and the module paths it names.
fn imports() -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files
        .into_iter()
        .map(|f| {
            let module = module_of(&f);
            let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let refs = references(&module, &code(&text));
            (module, refs)
        })
        .collect()
}

/// The import graph between the modules directly inside `parent` (e.g. `sync`), with for each
/// edge the file that makes it.
fn graph(parent: &str, leave_out: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut nodes = BTreeSet::new();
    let all = imports();
    for (module, _) in &all {
        if module.first().is_some_and(|m| m == parent) && module.len() > 1 {
            nodes.insert(module[1].clone());
        }
    }
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, refs) in &all {
        if module.first().is_none_or(|m| m != parent) || module.len() < 2 || leave_out.contains(&module[1].as_str()) {
            continue;
        }
        for r in refs {
            if r.first().is_some_and(|m| m == parent)
                && r.len() > 1
                && r[1] != module[1]
                && nodes.contains(&r[1])
                && !leave_out.contains(&r[1].as_str())
            {
                edges.entry(module[1].clone()).or_default().entry(r[1].clone()).or_insert_with(|| module.join("::"));
            }
        }
    }
    edges
}

/// A cycle in `edges`, as `a → b (file) → … → a`, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Option<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeMap<String, String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle: Vec<String> = stack[at..].to_vec();
            cycle.push(node.to_owned());
            let steps: Vec<String> =
                cycle.windows(2).map(|w| format!("{} → {} (in {})", w[0], w[1], edges[&w[0]][&w[1]])).collect();
            return Some(steps.join(", "));
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_engines_modules_import_each_other_without_a_cycle() {
    let edges = graph("sync", &["testing"]);
    assert!(edges.len() > 10, "the import graph of sync/ was not read: {edges:?}");
    assert!(edges["reconcile"].contains_key("control"), "a known import is missing: {:?}", edges["reconcile"]);
    if let Some(cycle) = find_cycle(&edges) {
        panic!("sync/ has an import cycle: {cycle}");
    }
}

#[test]
fn the_emulators_modules_import_each_other_without_a_cycle() {
    let edges = graph("emulator", &[]);
    assert!(edges.len() > 5, "the import graph of emulator/ was not read: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("emulator/ has an import cycle: {cycle}");
    }
}

#[test]
fn the_parts_and_the_stand_in_import_nothing_above_them() {
    let rules: [(&str, &[&str]); 3] = [
        ("samba", &["sync", "bus", "emulator", "entra", "daemon", "cli"]),
        ("entra", &["sync", "bus", "emulator", "samba", "daemon", "cli"]),
        ("emulator", &["sync", "bus", "samba", "daemon", "cli", "config"]),
    ];
    let mut broken = Vec::new();
    let mut seen = 0;
    for (module, refs) in imports() {
        for (part, forbidden) in rules {
            if module.first().is_some_and(|m| m == part) {
                seen += 1;
                for r in &refs {
                    if r.first().is_some_and(|top| forbidden.contains(&top.as_str())) {
                        broken.push(format!("{} uses {}", module.join("::"), r.join("::")));
                    }
                }
            }
        }
    }
    assert!(seen > 30, "too few files of samba/, entra/ and emulator/ read: {seen}");
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_reader_finds_what_a_file_names() {
    let module: Vec<String> = ["sync", "reconcile", "apply"].iter().map(|s| s.to_string()).collect();
    let text = "use super::{PendingPassword, Reconciler};\nuse crate::sync::plan::{Action, Plan};\n\
                // use crate::bus::nothing;\nlet s = \"crate::emulator\";\nsuper::super::control::Control::new();\n";
    let refs: Vec<String> = references(&module, &code(text)).iter().map(|r| r.join("::")).collect();
    assert_eq!(
        refs,
        [
            "sync::reconcile::PendingPassword",
            "sync::reconcile::Reconciler",
            "sync::plan::Action",
            "sync::plan::Plan",
            "sync::control::Control::new"
        ]
    );
}

#[test]
fn the_source_names_no_section_of_a_document_outside_the_repository() {
    // A section sign points into a document; only public standards (RFC, [MS-…]) are fine: a
    // newcomer cannot open the notes this project was planned from.
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let public = line.contains("RFC") || line.contains("MS-");
            if line.contains('\u{a7}') && !public {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(files.len() > 100, "too few files read: {}", files.len());
    assert!(found.is_empty(), "{found:#?}");
}
