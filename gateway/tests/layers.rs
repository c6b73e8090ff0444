//! The gateway's modules import only downhill.
//!
//! Reads the gateway's own sources, builds the import graph between the
//! top-level modules of `src/` (a module is `src/NAME.rs` plus everything
//! under `src/NAME/`) from the `crate::NAME` paths in their code, comments
//! and literals left out, and checks it against the "Layers" list of the
//! crate documentation in `src/lib.rs`: every module sits in exactly one
//! layer, no module imports from a layer above its own, and the graph has
//! no cycle. Paths to items re-exported at the crate root
//! (`crate::start`) are not followed; inside the crate, import from the
//! defining module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level module -> the other top-level modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with comments and string and character literals replaced by
/// spaces (line breaks kept), so that only code is left.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, s: &[char]| {
        out.extend(s.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    };
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, ch)| c.get(i + k) == Some(&ch))
    };
    let mut i = 0;
    while i < c.len() {
        let start = i;
        let after_ident = i > 0 && is_ident(c[i - 1]);
        if at(i, "//") {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < c.len() {
                if at(i, "/*") {
                    depth += 1;
                    i += 2;
                } else if at(i, "*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if !after_ident && (at(i, "r\"") || at(i, "r#") || at(i, "br\"") || at(i, "br#")) {
            // Raw string: r"…", r#"…"#, br"…".
            i += if c[i] == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c.get(i) == Some(&'#') {
                hashes += 1;
                i += 1;
            }
            if c.get(i) != Some(&'"') {
                // `r#ident`, not a string.
                out.extend(&c[start..i]);
                continue;
            }
            i += 1;
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < c.len() && !at(i, &close) {
                i += 1;
            }
            i = (i + close.chars().count()).min(c.len());
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // Escaped character literal: '\n', '\'', '\u{..}'.
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            // Plain character literal such as '"'; otherwise a lifetime.
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        blank(&mut out, &c[start..i]);
    }
    out
}

/// The first path segment after every `crate::` in `code` (each item of a
/// `crate::{a, b::c}` group).
fn crate_paths(code: &str) -> BTreeSet<String> {
    let c: Vec<char> = code.chars().collect();
    let ident_at = |mut i: usize| {
        while c.get(i).is_some_and(|ch| ch.is_whitespace()) {
            i += 1;
        }
        c[i.min(c.len())..]
            .iter()
            .take_while(|&&ch| is_ident(ch))
            .collect::<String>()
    };
    let mut found = BTreeSet::new();
    let needle: Vec<char> = "crate::".chars().collect();
    let mut i = 0;
    while i + needle.len() <= c.len() {
        let fresh = i == 0 || !(is_ident(c[i - 1]) || c[i - 1] == '$');
        if !(fresh && c[i..i + needle.len()] == needle[..]) {
            i += 1;
            continue;
        }
        i += needle.len();
        while c.get(i).is_some_and(|ch| ch.is_whitespace()) {
            i += 1;
        }
        if c.get(i) == Some(&'{') {
            // The first segment of each top-level item of the group.
            let mut depth = 0;
            let mut item_start = true;
            while i < c.len() {
                match c[i] {
                    '{' => {
                        depth += 1;
                        if depth == 1 {
                            item_start = true;
                            i += 1;
                            continue;
                        }
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        item_start = true;
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                if item_start && depth == 1 && !c[i].is_whitespace() {
                    found.insert(ident_at(i));
                    item_start = false;
                }
                i += 1;
            }
        } else {
            found.insert(ident_at(i));
        }
    }
    found.remove("");
    found
}

/// The modules `lib.rs` declares (`mod x;`, `pub mod x;`, ...).
fn top_level_modules(lib: &str) -> BTreeSet<String> {
    let code = code_only(lib);
    let words: Vec<&str> = code
        .split(|ch: char| !is_ident(ch) && ch != ';')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| w[0] == "mod" && w[1].ends_with(';'))
        .map(|w| w[1].trim_end_matches(';').to_string())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The import graph of the gateway's top-level modules.
fn import_graph(modules: &BTreeSet<String>) -> Graph {
    let src = src_dir();
    let mut graph = Graph::new();
    for m in modules {
        let mut files = Vec::new();
        let file = src.join(format!("{m}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let dir = src.join(m);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        assert!(!files.is_empty(), "module `{m}` has no source file");
        let mut deps = BTreeSet::new();
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            deps.extend(
                crate_paths(&code_only(&text))
                    .into_iter()
                    .filter(|d| d != m && modules.contains(d)),
            );
        }
        graph.insert(m.clone(), deps);
    }
    graph
}

/// A cycle of `graph` (`a -> b -> a`), if it has one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(n.to_string(), Mark::Open);
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            match marks.get(d).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = path.iter().position(|p| p == d).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(d, graph, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in graph.keys() {
        if marks.get(n).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(n, graph, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// The layers of the "# Layers" list in the crate documentation, bottom
/// first: each numbered item names its modules in its first parentheses.
fn documented_layers(lib: &str) -> Vec<Vec<String>> {
    let mut items: Vec<String> = Vec::new();
    let mut in_section = false;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            if in_section {
                break;
            }
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            in_section = doc == "# Layers";
            continue;
        }
        if !in_section {
            continue;
        }
        let numbered = doc
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|ch| ch.is_ascii_digit()));
        if numbered {
            items.push(doc.to_string());
        } else if doc.is_empty() {
            continue;
        } else if let Some(last) = items.last_mut() {
            last.push(' ');
            last.push_str(doc);
        }
    }
    items
        .iter()
        .map(|item| {
            let open = item.find('(').expect("a layer names its modules in (…)");
            let close = open + item[open..].find(')').expect("unclosed (");
            item[open + 1..close]
                .split(',')
                .map(|m| m.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

fn show(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, deps)| {
            let deps: Vec<_> = deps.iter().map(String::as_str).collect();
            format!("  {m} -> {}", deps.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn modules_import_only_downhill() {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let modules = top_level_modules(&lib);
    assert!(modules.len() > 5, "found too few modules: {modules:?}");
    let graph = import_graph(&modules);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(edges > 0, "found no imports at all:\n{}", show(&graph));

    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}\nimport graph:\n{}",
            cycle.join(" -> "),
            show(&graph)
        );
    }

    let layers = documented_layers(&lib);
    assert!(!layers.is_empty(), "lib.rs has no \"# Layers\" list");
    let mut layer_of = BTreeMap::new();
    for (n, layer) in layers.iter().enumerate() {
        for m in layer {
            assert!(
                modules.contains(m),
                "layer {} names `{m}`, which lib.rs does not declare",
                n + 1
            );
            let before = layer_of.insert(m.clone(), n + 1);
            assert!(before.is_none(), "`{m}` is in two layers");
        }
    }
    let unplaced: Vec<_> = modules
        .difference(&layer_of.keys().cloned().collect())
        .cloned()
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the \"# Layers\" list in lib.rs: {unplaced:?}"
    );
    let uphill: Vec<String> = graph
        .iter()
        .flat_map(|(m, deps)| deps.iter().map(move |d| (m, d)))
        .filter(|(m, d)| layer_of[*d] > layer_of[*m])
        .map(|(m, d)| {
            format!(
                "`{m}` (layer {}) imports `{d}` (layer {})",
                layer_of[m], layer_of[d]
            )
        })
        .collect();
    assert!(
        uphill.is_empty(),
        "imports from a higher layer:\n  {}",
        uphill.join("\n  ")
    );
}

#[test]
fn only_code_counts() {
    let text = r##"
        use crate::alpha::A; // crate::comment
        /* crate::block /* nested crate::inner */ crate::still */
        let s = "crate::string \" crate::escaped";
        let r = r#"crate::raw "quoted" crate::raw2"#;
        let q = '"'; let e = '\''; fn f<'a>(x: &'a str) -> &'a str { crate::beta::f(x) }
        use crate::{gamma::G, delta::{self, D},
            epsilon};
        $crate::macro_path; my_crate::other; pub(crate) fn g() {}
    "##;
    let found = crate_paths(&code_only(text));
    let want: BTreeSet<String> = ["alpha", "beta", "gamma", "delta", "epsilon"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, want);
}

#[test]
fn cycles_are_named() {
    let graph: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, deps)| (m.to_string(), deps.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph).map(|c| c.join(" -> ")).as_deref(),
        Some("a -> b -> c -> a")
    );
    let dag: Graph = [("a", vec!["b"]), ("b", vec![]), ("c", vec!["a", "b"])]
        .into_iter()
        .map(|(m, deps)| (m.to_string(), deps.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(find_cycle(&dag), None);
}
