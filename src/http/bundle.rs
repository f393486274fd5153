//! The widget as browsers get it, built once from the sources in `widget/`
//! (embedded in the binary) at first use:
//!
//! - the loader (`widget/loader.js`), served at `/widget.js`: the URL pasted in
//!   every page, so it is tiny and cached for minutes only;
//! - the script at `/widget/<version>.js`: `widget/src/main.js` and the files it
//!   imports, joined into one function scope (see [`join`]), and the language
//!   packs (`widget/lang/<lang>.json`, one per [`Lang`]) at
//!   `/widget/<version>/<lang>.json`, cached for a year: `<version>` is a hash of
//!   their content, so an upgrade changes the URL the loader asks for.
//!
//! Each file is minified ([`super::minify`]) and gzip-compressed here, once,
//! with Zopfli: slower than zlib's best (a fraction of a second, once per
//! process) but about 5 % smaller, and every visitor's first page view pays
//! for those bytes.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::minify;
use crate::lang::Lang;

/// What browsers get from `widget/`; its tests and `package.json` stay out.
#[derive(RustEmbed)]
#[folder = "widget/"]
#[include = "src/*.js"]
#[include = "lang/*.json"]
#[include = "loader.js"]
#[include = "demo.html"]
pub struct Sources;

/// Where the loader's source names the script version.
const VERSION_PLACEHOLDER: &str = "__CHATCTL_VERSION__";
/// Where the loader's source names the languages (a JavaScript array).
const LANGS_PLACEHOLDER: &str = "__CHATCTL_LANGS__";
/// The script's first file; the others are found through its imports.
const ENTRY: &str = "main.js";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("widget/{0} is missing from the binary")]
    Missing(String),
    #[error("widget/{0} is not UTF-8")]
    NotUtf8(String),
    #[error("widget/{file} is not valid JSON: {source}")]
    Json {
        file: String,
        source: serde_json::Error,
    },
    #[error("widget/loader.js does not contain {0}")]
    NoPlaceholder(&'static str),
    #[error("widget/src/{file}: {problem}: {line}")]
    Module {
        file: String,
        problem: &'static str,
        line: String,
    },
    #[error("widget/src/{0} imports itself through other files")]
    ImportCycle(String),
    #[error("compressing the widget: {0}")]
    Gzip(#[from] std::io::Error),
}

/// One file, ready to send.
pub struct Asset {
    pub body: Bytes,
    pub gzip: Bytes,
    /// Strong validator: a hash of `body`.
    pub etag: String,
    pub content_type: &'static str,
}

impl Asset {
    fn new(body: String, content_type: &'static str) -> Result<Asset, BundleError> {
        let mut gzip = Vec::new();
        zopfli::compress(
            zopfli::Options::default(),
            zopfli::Format::Gzip,
            body.as_bytes(),
            &mut gzip,
        )?;
        let etag = format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(body.as_bytes()))[..16]
        );
        Ok(Asset {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            etag,
            content_type,
        })
    }
}

pub struct Bundle {
    /// Content hash of the script and every language pack.
    pub version: String,
    pub loader: Asset,
    pub script: Asset,
    pub langs: BTreeMap<&'static str, Asset>,
}

/// The bundle, built at first use and kept for the life of the process.
pub fn get() -> Result<&'static Bundle, &'static BundleError> {
    static BUNDLE: OnceLock<Result<Bundle, BundleError>> = OnceLock::new();
    BUNDLE.get_or_init(build).as_ref()
}

fn source(name: &str) -> Result<String, BundleError> {
    let file = Sources::get(name).ok_or_else(|| BundleError::Missing(name.to_owned()))?;
    String::from_utf8(file.data.into_owned()).map_err(|_| BundleError::NotUtf8(name.to_owned()))
}

fn build() -> Result<Bundle, BundleError> {
    const JS: &str = "text/javascript; charset=utf-8";
    let script = minify::javascript(&join()?);
    let mut hash = Sha256::new();
    hash.update(script.as_bytes());
    let mut packs = Vec::new();
    for lang in Lang::ALL.map(Lang::code) {
        let file = format!("lang/{lang}.json");
        // Parsing checks the pack and re-serializing drops its whitespace.
        let value: serde_json::Value = serde_json::from_str(&source(&file)?)
            .map_err(|source| BundleError::Json { file, source })?;
        let json = value.to_string();
        hash.update(lang.as_bytes());
        hash.update(json.as_bytes());
        packs.push((lang, json));
    }
    let version = hex::encode(hash.finalize())[..12].to_owned();
    let loader = source("loader.js")?;
    for placeholder in [VERSION_PLACEHOLDER, LANGS_PLACEHOLDER] {
        if !loader.contains(placeholder) {
            return Err(BundleError::NoPlaceholder(placeholder));
        }
    }
    let codes = Lang::ALL.map(|lang| format!("\"{}\"", lang.code()));
    let codes = format!("[{}]", codes.join(","));
    let loader = minify::javascript(&loader)
        .replace(VERSION_PLACEHOLDER, &version)
        .replace(LANGS_PLACEHOLDER, &codes);
    let mut langs = BTreeMap::new();
    for (lang, json) in packs {
        langs.insert(lang, Asset::new(json, "application/json; charset=utf-8")?);
    }
    Ok(Bundle {
        loader: Asset::new(loader, JS)?,
        script: Asset::new(script, JS)?,
        langs,
        version,
    })
}

/// The script: the widget's ES modules as one classic script, with no build step.
///
/// Each file comes once, after the files it imports (depth first from
/// [`ENTRY`]), with its `import` lines dropped and `export` taken off its
/// declarations; all share one strict function scope, so names at the top of a
/// file must be unique across files. Node runs the same files as modules for
/// their unit tests (`widget/test/`). Only the forms those two rules can handle
/// are allowed: one-line `import {..} from "./file.js";` and `export` before a
/// `const`, `let`, `function` or `class` declaration.
pub fn join() -> Result<String, BundleError> {
    let mut out = String::from("(() => {\n\"use strict\";\n");
    let mut done = HashSet::new();
    add_module(ENTRY, &mut Vec::new(), &mut done, &mut out)?;
    out.push_str("})();\n");
    Ok(out)
}

fn add_module(
    file: &str,
    path: &mut Vec<String>,
    done: &mut HashSet<String>,
    out: &mut String,
) -> Result<(), BundleError> {
    if done.contains(file) {
        return Ok(());
    }
    if path.iter().any(|f| f == file) {
        return Err(BundleError::ImportCycle(file.to_owned()));
    }
    path.push(file.to_owned());
    let text = source(&format!("src/{file}"))?;
    let mut body = String::new();
    for line in text.lines() {
        let problem = |problem| BundleError::Module {
            file: file.to_owned(),
            problem,
            line: line.to_owned(),
        };
        if line.starts_with("import ") {
            let from = line
                .strip_suffix("\";")
                .and_then(|l| l.rsplit_once(" from \"./"))
                .filter(|(names, _)| names.contains('{') && names.ends_with('}'))
                .map(|(_, from)| from)
                .filter(|from| !from.contains('/'))
                .ok_or_else(|| problem("not `import { .. } from \"./file.js\";`"))?;
            add_module(from, path, done, out)?;
        } else if let Some(declaration) = line.strip_prefix("export ") {
            if !["const ", "let ", "function ", "class "]
                .iter()
                .any(|kind| declaration.starts_with(kind))
            {
                return Err(problem("only declarations can be exported"));
            }
            body.push_str(declaration);
            body.push('\n');
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    path.pop();
    done.insert(file.to_owned());
    out.push_str(&body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_every_language_has_every_english_key() {
        let bundle = get().expect("the widget bundle builds");
        let keys = |lang: &str| -> Vec<String> {
            let value: serde_json::Value =
                serde_json::from_slice(&bundle.langs[lang].body).unwrap();
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let english = keys("en");
        assert!(english.len() > 20);
        for lang in Lang::ALL.map(Lang::code) {
            assert_eq!(keys(lang), english, "keys of {lang}.json");
        }
        let loader = std::str::from_utf8(&bundle.loader.body).unwrap();
        assert!(loader.contains(&bundle.version));
        assert!(loader.contains(r#"["en","fr","ru","de","es"]"#), "{loader}");
    }

    #[test]
    fn the_widget_has_a_pack_for_each_language_and_no_other() {
        let mut packs: Vec<String> = Sources::iter()
            .filter_map(|f| Some(f.strip_prefix("lang/")?.strip_suffix(".json")?.to_owned()))
            .collect();
        packs.sort();
        let mut langs = Lang::ALL.map(|l| l.code().to_owned()).to_vec();
        langs.sort();
        assert_eq!(packs, langs);
    }

    #[test]
    fn the_script_is_every_module_once_after_its_imports() {
        let script = join().unwrap();
        assert!(!script.contains("\nimport ") && !script.contains("\nexport "));
        let at = |decl: &str| script.find(decl).unwrap_or_else(|| panic!("{decl}"));
        assert_eq!(script.matches("\nconst h = ").count(), 1, "dom.js once");
        assert!(
            at("\nconst h = ") < at("\nclass Widget"),
            "dom.js before widget.js"
        );
        assert!(
            at("\nclass Widget") < at("\nconst widgets = "),
            "main.js last"
        );
        // Every file in src/ is used.
        for file in Sources::iter().filter(|f| f.starts_with("src/")) {
            let first = source(&file).unwrap();
            let first = first
                .lines()
                .find(|l| l.starts_with("export const ") || l.starts_with("export class "))
                .map(|l| l.trim_start_matches("export "));
            if let Some(decl) = first {
                assert!(script.contains(decl), "{file} is not imported");
            }
        }
    }

    #[test]
    fn every_key_the_script_uses_exists_in_english() {
        // The script looks texts up as T("key"); a missing key would show raw...
        let script = join().unwrap();
        let english: serde_json::Value =
            serde_json::from_str(&source("lang/en.json").unwrap()).unwrap();
        let mut missing = Vec::new();
        let mut used = 0;
        for (at, _) in script.match_indices("T(\"") {
            if script[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &script[at + 3..];
            let Some(end) = rest.find('"') else { continue };
            used += 1;
            if english.get(&rest[..end]).is_none() {
                missing.push(rest[..end].to_owned());
            }
        }
        // ... and its markup names static texts as data-t="key" (those that markup.js's
        // helpers fill in, data-t="${key}", are checked in widget/test/tables.test.js).
        for part in script.split("data-t=\"").skip(1) {
            let Some(end) = part.find('"') else { continue };
            if part.starts_with("${") {
                continue;
            }
            used += 1;
            if english.get(&part[..end]).is_none() {
                missing.push(part[..end].to_owned());
            }
        }
        assert!(used > 20, "the script uses T(\"key\") for its texts");
        assert!(missing.is_empty(), "keys missing from en.json: {missing:?}");
    }
}
