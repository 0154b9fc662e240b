//! The shape ARCHITECTURE.md promises: no two modules of a crate import each other (not
//! even through a third), and each crate's `lib.rs` opens with a map of its modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 7] = [
    "scrub",
    "schemas",
    "runtime",
    "ingest",
    "consumer",
    "aggregator",
    "tests",
];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file belongs to (`scrub/hosts.rs` → `scrub`); `None` for the
/// crate root and the binary.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// The modules of its own crate that `text` names as `crate::<module>`, outside comments
/// and its unit tests.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The module graph of one crate: module → the modules it imports.
fn graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = tests::workspace_root().join(krate).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        if let Some(module) = module_of(&src, &file) {
            let text = std::fs::read_to_string(&file).unwrap();
            graph.entry(module).or_default().extend(imports(&text));
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for (module, edges) in &mut graph {
        edges.retain(|e| e != module && modules.contains(e));
    }
    graph
}

/// A cycle through `start`, if there is one, as the path that closes it.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        for next in &graph[last] {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut cycles = Vec::new();
    for krate in CRATES {
        let graph = graph(krate);
        assert!(graph.len() > 2, "{krate}: no modules found");
        for module in graph.keys() {
            if let Some(cycle) = cycle_through(&graph, module) {
                cycles.push(format!("{krate}: {}", cycle.join(" → ")));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_finder_sees_a_cycle_when_there_is_one() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        cycle_through(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert("c".to_owned(), BTreeSet::new());
    assert_eq!(cycle_through(&graph, "a"), None);
    assert_eq!(
        imports(
            "use crate::x::Y; // crate::z\nfn f() { crate::w::g() }\n#[cfg(test)]\nuse crate::v;"
        ),
        BTreeSet::from(["w".to_owned(), "x".to_owned()])
    );
}

#[test]
fn every_lib_rs_opens_with_its_module_map() {
    for krate in CRATES {
        let lib = tests::workspace_root().join(krate).join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        let docs: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            docs.contains("# Module map"),
            "{krate}/src/lib.rs has no module map"
        );
        for line in text.lines() {
            let declared = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(module) = declared {
                assert!(
                    docs.contains(&format!("`{module}`"))
                        || docs.contains(&format!("[`{module}`]")),
                    "{krate}/src/lib.rs: module `{module}` is not in its module map"
                );
            }
        }
    }
}
