//! The README's "Results" section and `docs/prior.md` quote the generated tables by hand; this
//! test keeps them true.
//!
//! Every statistic they quote — a `mean ± std` or a `value [low, high]` interval — must
//! appear, character for character, in one of the tables `cargo xtask aggregate` committed under
//! `experiments/results/`. A number copied wrongly, or left behind when the tables were
//! regenerated, fails here.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text between `## Results` and the next second-level heading, with the Unicode minus as
/// `-` and every run of white space as one space.
fn results_section(readme: &str) -> String {
    let start = readme.find("\n## Results").expect("README.md has a `## Results` section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    normalise(&rest[..end])
}

fn normalise(text: &str) -> String {
    text.replace('−', "-").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Length of the decimal number (`[+-]?digits.digits`) at the start of `s`, if there is one.
fn number_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start || bytes.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i > frac_start).then_some(i)
}

/// The statistics quoted in `text`: `a ± b` and `a [b, c]`, each as written.
fn quoted_statistics(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.char_indices() {
        let s = &text[at..];
        // A number starts here only if the character before it is not part of a number.
        if text[..at].ends_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | '+' | '-')) {
            continue;
        }
        let Some(a) = number_len(s) else { continue };
        let after = &s[a..];
        if let Some(b) = after.strip_prefix(" ± ").and_then(number_len) {
            found.push(s[..a + " ± ".len() + b].to_string());
        } else if let Some(inner) = after.strip_prefix(" [") {
            let Some(b) = number_len(inner) else { continue };
            let Some(c) = inner[b..].strip_prefix(", ").and_then(number_len) else {
                continue;
            };
            if inner[b + 2 + c..].starts_with(']') {
                found.push(s[..a + 2 + b + 2 + c + 1].to_string());
            }
        }
    }
    found
}

#[test]
fn the_parser_finds_both_kinds_of_statistic() {
    let text = normalise("NMI 0.261 ± 0.102, paired −0.022\n   [−0.040, −0.003]; 2 [3, 4] and 10.5 ± x");
    assert_eq!(quoted_statistics(&text), ["0.261 ± 0.102", "-0.022 [-0.040, -0.003]"]);
}

/// Fails, naming them, if `quoting` (the text of `what`) quotes statistics no committed table contains.
fn assert_sourced(what: &str, quoting: &str) {
    let root = workspace_root();
    let results = root.join("experiments/results");
    let mut tables = String::new();
    for entry in std::fs::read_dir(&results).expect("experiments/results") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            tables.push_str(&normalise(&std::fs::read_to_string(&path).expect("a table")));
            tables.push('\n');
        }
    }

    let quoted = quoted_statistics(quoting);
    assert!(quoted.len() >= 10, "only {} statistics quoted; has the text moved?", quoted.len());
    let missing: Vec<_> = quoted.iter().filter(|q| !tables.contains(q.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{what} quotes statistics that no table in experiments/results/ contains \
         (regenerate with `cargo xtask aggregate` and copy them again): {missing:?}"
    );
}

#[test]
fn every_statistic_the_readme_quotes_is_in_a_committed_table() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    assert_sourced("README.md's Results section", &results_section(&readme));
}

#[test]
fn every_statistic_docs_prior_quotes_is_in_a_committed_table() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/prior.md")).expect("docs/prior.md");
    assert_sourced("docs/prior.md", &normalise(&doc));
}

/// The rows of the markdown tables in `text` that have a header with `NMI`: for each, the
/// method (the first cell, without backticks or a parenthesised note) and its cells by header.
fn table_rows(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
        match &header {
            None => header = Some(cells),
            Some(_) if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) => {}
            Some(h) if h.iter().any(|c| c.starts_with("NMI")) => {
                let method = cells[0].split(" (").next().unwrap_or("").trim_matches('`').to_string();
                out.push((method, h.iter().cloned().zip(cells).collect()));
            }
            Some(_) => {}
        }
    }
    out
}

/// Every `mean ± std` in a README results table sits in the generated table's row of the same
/// method and the column of the same metric (not merely somewhere in some table).
fn assert_rows_match(readme_part: &str, table_file: &str) {
    let generated = std::fs::read_to_string(workspace_root().join("experiments/results").join(table_file)).expect("a committed table");
    let gen_rows = table_rows(&generated.replace('−', "-"));
    let mut checked = 0;
    for (method, cells) in table_rows(&readme_part.replace('−', "-")) {
        let row = gen_rows.iter().find(|(m, _)| *m == method).unwrap_or_else(|| panic!("{table_file} has no row for `{method}`"));
        for (column, value) in cells.iter().filter(|(_, v)| v.contains(" ± ")) {
            let metric = column.trim_end_matches(['↑', '↓', ' ']);
            let generated_value = row.1.iter().find(|(c, _)| c.trim_end_matches(['↑', '↓', ' ']) == metric).map(|(_, v)| v.as_str());
            assert_eq!(generated_value, Some(value.as_str()), "README's `{method}` / {metric}: {value}, {table_file} says {generated_value:?}");
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} table values checked against {table_file}; has the README's table moved?");
}

#[test]
fn the_readme_tables_quote_each_method_and_metric_from_its_own_row() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let start = readme.find("\n## Results").expect("a Results section");
    let results = &readme[start..];
    let fashion = results.find("\n### Fashion-MNIST").expect("a Fashion-MNIST section");
    let after = results[fashion + 1..].find("\n### ").map_or(results.len(), |i| fashion + 1 + i);
    assert_rows_match(&results[..fashion], "ablations.md");
    assert_rows_match(&results[fashion..after], "fashion.md");
}
