//! The layering that `src/lib.rs` describes holds: a module imports only the
//! modules below it, and the leaves import none. A new top-level module must be
//! given its place here (and in the map in `src/lib.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// From the top down, as in `src/lib.rs`. Modules of one row are peers and
/// may not import each other either.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["app"],
    &["http"],
    &["admin"],
    &["manage"],
    &["moderation"],
    &["chat"],
    &["identity"],
    &["webhooks"],
    &["mail"],
    &["db"],
    &[
        "input",
        "config",
        "lang",
        "metrics",
        "rate_limit",
        "timefmt",
    ],
];

/// Macros exported at the crate root (`crate::name!`), by the module that
/// defines them.
const MACROS: &[(&str, &str)] = &[
    ("with_backend", "db"),
    ("text_enum", "db"),
    ("from_db_error", "db"),
];

/// The module a `crate::name` path leads into.
fn owner(name: &str) -> &str {
    MACROS
        .iter()
        .find(|(macro_name, _)| *macro_name == name)
        .map_or(name, |(_, defined_in)| defined_in)
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level modules a line of code names as `crate::name` (comments,
/// where doc links may point anywhere, are not code).
fn named_modules(line: &str) -> Vec<String> {
    let code = match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    };
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `$crate::` in macros names the crate root the same way.
            let before = code[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut unplaced = BTreeSet::new();
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(module) else {
            unplaced.insert(module.to_owned());
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for named in named_modules(line) {
                let named = owner(&named);
                if named == module {
                    continue;
                }
                match layer_of(named) {
                    Some(layer) if layer > own => {}
                    Some(_) => upward.push(format!(
                        "{}:{}: {module} imports {named}",
                        relative.display(),
                        number + 1
                    )),
                    None => {
                        unplaced.insert(named.to_owned());
                    }
                };
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules (or root macros) without a layer in tests/it/layers.rs and src/lib.rs: {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports of a module from the same or a higher layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_imports_and_skips_comments() {
    assert_eq!(named_modules("use crate::chat::Chat;"), ["chat"]);
    assert_eq!(
        named_modules("let x = crate::db::a(crate::input::b); // crate::admin"),
        ["db", "input"]
    );
    assert_eq!(named_modules("$crate::db::DbError::lift($body)"), ["db"]);
    assert!(named_modules("//! see [`crate::admin`]").is_empty());
    assert!(named_modules("use chatctl_crate::x;").is_empty());
}
