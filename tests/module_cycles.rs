//! No module circle in any library crate: within each crate, the graph of `crate::<module>`
//! references between its top-level modules (test modules left out) has no cycle. A plain
//! import check, not `cargo modules`: every `crate::x` path outside a comment counts, `use`
//! or inline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the crate's other top-level modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = g.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    }
    g
}

/// A cycle through `start`, if any (depth-first).
fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn go(g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> Option<Vec<String>> {
        let last = path.last().unwrap().clone();
        for d in g.get(&last).into_iter().flatten().filter(|d| g.contains_key(*d)) {
            if *d == path[0] {
                return Some(path.clone());
            }
            if seen.insert(d.clone()) {
                path.push(d.clone());
                if let Some(c) = go(g, path, seen) {
                    return Some(c);
                }
                path.pop();
            }
        }
        None
    }
    go(g, &mut vec![start.to_string()], &mut BTreeSet::new())
}

#[test]
fn no_library_crate_has_a_module_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for e in std::fs::read_dir(&crates).unwrap() {
        let src = e.unwrap().path().join("src");
        if !src.join("lib.rs").is_file() {
            continue;
        }
        let g = graph(&src);
        for m in g.keys() {
            if let Some(c) = cycle_from(&g, m) {
                panic!("{}: module cycle {} -> {m}", src.display(), c.join(" -> "));
            }
        }
        checked += 1;
    }
    assert!(checked >= 7, "found only {checked} library crates");
}

#[test]
fn the_check_sees_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", &["b"][..]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(cycle_from(&g, "a"), Some(vec!["a".into(), "b".into(), "c".into()]));
    assert_eq!(cycle_from(&g, "d"), None);
}
