//! The widget as browsers get it, built once from the sources in `widget/`
//! (embedded in the binary) at first use:
//!
//! - the loader (`widget/loader.js`), served at `/widget.js`: the URL pasted in
//!   every page, so it is tiny and cached for minutes only;
//! - the script at `/widget/<version>.js`: `widget/src/main.js` and the files it
//!   imports, joined into one function scope (see [`join`]), and the language
//!   packs (`widget/lang/<lang>.json`, one per [`Lang`]) at
//!   `/widget/<version>/<lang>.json`, cached for a year: `<version>` is a hash of
//!   their content, so an upgrade changes the URL the loader asks for;
//! - the part the script loads on demand, `/widget/<version>/extra.js`
//!   (`widget/src/extra.js` and the files it imports that the script does not),
//!   and its texts, each pack's `"extra"` object, at
//!   `/widget/<version>/<lang>.extra.json`, cached likewise.
//!
//! Each file is minified ([`super::minify`]) and gzip-compressed once, with
//! Zopfli ([`super::asset`]): slower than zlib's best (a fraction of a
//! second, once per process) but about 5 % smaller, and every visitor's first
//! page view pays for those bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::asset::Asset;
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

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("widget/{0} is missing from the binary")]
    Missing(String),
    #[error("widget/{0} is not UTF-8")]
    NotUtf8(String),
    #[error("widget/{file} is not valid JSON: {cause}")]
    Json {
        file: String,
        cause: serde_json::Error,
    },
    #[error("widget/{0} has no \"extra\" object (the on-demand part's texts)")]
    NoExtraTexts(String),
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
    Gzip(std::io::Error),
}

pub struct Bundle {
    /// Content hash of both scripts and every language pack.
    pub version: String,
    pub loader: Asset,
    /// What a page loads at once (with the loader and one language pack).
    pub script: Asset,
    /// What it loads when the visitor first needs it (`extra.js`).
    pub extra: Asset,
    /// Language -> the texts of the core script.
    pub langs: BTreeMap<&'static str, Asset>,
    /// Language -> the texts only the extra script uses (each pack's `"extra"` object).
    pub extra_langs: BTreeMap<&'static str, Asset>,
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

/// A language's pack, split: the core's texts, and its `"extra"` object's.
fn pack(lang: &str) -> Result<(String, String), BundleError> {
    let file = format!("lang/{lang}.json");
    // Parsing checks the pack and re-serializing drops its whitespace.
    let mut value: serde_json::Value =
        serde_json::from_str(&source(&file)?).map_err(|cause| BundleError::Json {
            file: file.clone(),
            cause,
        })?;
    let extra = value
        .as_object_mut()
        .and_then(|texts| texts.remove("extra"))
        .filter(serde_json::Value::is_object)
        .ok_or(BundleError::NoExtraTexts(file))?;
    Ok((value.to_string(), extra.to_string()))
}

fn build() -> Result<Bundle, BundleError> {
    const JS: &str = "text/javascript; charset=utf-8";
    const JSON: &str = "application/json; charset=utf-8";
    let joined = join()?;
    let (script, extra) = (
        minify::javascript(&joined.core),
        minify::javascript(&joined.extra),
    );
    let mut hash = Sha256::new();
    hash.update(script.as_bytes());
    hash.update(extra.as_bytes());
    let mut packs = Vec::new();
    for lang in Lang::ALL.map(Lang::code) {
        let (core, extra) = pack(lang)?;
        hash.update(lang.as_bytes());
        hash.update(core.as_bytes());
        hash.update(extra.as_bytes());
        packs.push((lang, core, extra));
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
    let mut extra_langs = BTreeMap::new();
    for (lang, core, extra) in packs {
        langs.insert(lang, Asset::new(core, JSON)?);
        extra_langs.insert(lang, Asset::new(extra, JSON)?);
    }
    Ok(Bundle {
        loader: Asset::new(loader, JS)?,
        script: Asset::new(script.replace(VERSION_PLACEHOLDER, &version), JS)?,
        extra: Asset::new(extra.replace(VERSION_PLACEHOLDER, &version), JS)?,
        langs,
        extra_langs,
        version,
    })
}

/// The script's two entry points: what a page loads at once, and the part it
/// loads on demand (docs/WIDGET.md, "Two scripts").
const ENTRY: &str = "main.js";
const EXTRA_ENTRY: &str = "extra.js";
/// What the core script publishes for the on-demand part, on `window.Chatctl`.
const SHARED: &str = "window.Chatctl.core";

/// The widget's ES modules as two classic scripts, with no build step.
pub struct Joined {
    /// `main.js` and every file it imports.
    pub core: String,
    /// `extra.js` and every file it imports that the core does not.
    pub extra: String,
}

/// One script being joined: its files' text, and what they import from where.
#[derive(Default)]
struct Part {
    out: String,
    /// File -> the names it exports (`export const NAME`...).
    files: BTreeMap<String, Vec<String>>,
    /// (file imported from, names), for every import line of this part's files.
    imports: Vec<(String, Vec<String>)>,
}

/// Joins both scripts.
///
/// Each file comes once, after the files it imports (depth first from the
/// entry), with its `import` lines dropped and `export` taken off its
/// declarations; a script's files share one strict function scope, so names at
/// the top of a file must be unique across files. Node runs the same files as
/// modules for their unit tests (`widget/test/`). Only the forms those two rules
/// can handle are allowed: one-line `import {..} from "./file.js";` (no `as`)
/// and `export` before a `const`, `let`, `function` or `class` declaration.
///
/// A file reachable from [`ENTRY`] is in the core script, any other file
/// reachable from [`EXTRA_ENTRY`] in the extra script: each file is in exactly
/// one. The names the extra's files import from the core's reach it through one
/// object: the core ends by publishing them (with its version) on [`SHARED`];
/// the extra starts by taking them from there, after checking that the core it
/// runs with has its own version (a page open across an upgrade gets the new
/// extra script, which must not run with the old core), and ends by saying it
/// ran to the end (`loaded`): the core's loader (`lazy.js`) checks that flag.
pub fn join() -> Result<Joined, BundleError> {
    let mut core = Part::default();
    add_module(ENTRY, &mut Vec::new(), &BTreeMap::new(), &mut core)?;
    let mut extra = Part::default();
    add_module(EXTRA_ENTRY, &mut Vec::new(), &core.files, &mut extra)?;
    let mut shared = BTreeSet::new();
    for (from, names) in &extra.imports {
        let Some(exported) = core.files.get(from) else {
            continue;
        };
        for name in names {
            if !exported.contains(name) {
                return Err(BundleError::Module {
                    file: from.clone(),
                    problem: "does not export a name the extra script imports",
                    line: name.clone(),
                });
            }
            shared.insert(name.as_str());
        }
    }
    let shared = shared.into_iter().collect::<Vec<_>>().join(", ");
    let open = "(() => {\n\"use strict\";\n";
    let core = format!(
        "{open}{}{SHARED} = {{ v: \"{VERSION_PLACEHOLDER}\", {shared} }};\n}})();\n",
        core.out
    );
    let extra = format!(
        "{open}const core = {SHARED};\nif (core.v !== \"{VERSION_PLACEHOLDER}\") return void (core.stale = true);\n\
         const {{ {shared} }} = core;\n{}core.loaded = true;\n}})();\n",
        extra.out
    );
    Ok(Joined { core, extra })
}

fn add_module(
    file: &str,
    path: &mut Vec<String>,
    core: &BTreeMap<String, Vec<String>>,
    part: &mut Part,
) -> Result<(), BundleError> {
    if part.files.contains_key(file) || core.contains_key(file) {
        return Ok(());
    }
    if path.iter().any(|f| f == file) {
        return Err(BundleError::ImportCycle(file.to_owned()));
    }
    path.push(file.to_owned());
    let text = source(&format!("src/{file}"))?;
    let mut body = String::new();
    let mut exports = Vec::new();
    for line in text.lines() {
        let problem = |problem| BundleError::Module {
            file: file.to_owned(),
            problem,
            line: line.to_owned(),
        };
        if line.starts_with("import ") {
            let (names, from) = line
                .strip_suffix("\";")
                .and_then(|l| l.strip_prefix("import {"))
                .and_then(|l| l.rsplit_once("} from \"./"))
                .filter(|(names, from)| !from.contains('/') && !names.contains(" as "))
                .ok_or_else(|| problem("not `import { .. } from \"./file.js\";`"))?;
            let names = names.split(',').map(|n| n.trim().to_owned());
            part.imports.push((from.to_owned(), names.collect()));
            add_module(from, path, core, part)?;
        } else if let Some(declaration) = line.strip_prefix("export ") {
            let name = ["const ", "let ", "function ", "class "]
                .iter()
                .find_map(|kind| declaration.strip_prefix(kind))
                .ok_or_else(|| problem("only declarations can be exported"))?;
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(name.len());
            exports.push(name[..end].to_owned());
            body.push_str(declaration);
            body.push('\n');
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    path.pop();
    part.files.insert(file.to_owned(), exports);
    part.out.push_str(&body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_every_language_has_every_english_key() {
        let bundle = get().expect("the widget bundle builds");
        let keys = |packs: &BTreeMap<&str, Asset>, lang: &str| -> Vec<String> {
            let value: serde_json::Value = serde_json::from_slice(&packs[lang].body).unwrap();
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        for packs in [&bundle.langs, &bundle.extra_langs] {
            let english = keys(packs, "en");
            assert!(english.len() > 20);
            assert!(!english.contains(&"extra".to_owned()));
            for lang in Lang::ALL.map(Lang::code) {
                assert_eq!(keys(packs, lang), english, "keys of {lang}.json");
            }
        }
        for script in [&bundle.script, &bundle.extra] {
            let script = std::str::from_utf8(&script.body).unwrap();
            assert!(script.contains(&format!("\"{}\"", bundle.version)));
            assert!(!script.contains(VERSION_PLACEHOLDER));
        }
        let loader = std::str::from_utf8(&bundle.loader.body).unwrap();
        assert!(loader.contains(&bundle.version));
        assert!(
            loader.contains(r#"["en","fr","ru","de","es","ar"]"#),
            "{loader}"
        );
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
    fn each_file_is_in_one_script_once_after_its_imports() {
        let Joined { core, extra } = join().unwrap();
        for script in [&core, &extra] {
            assert!(!script.contains("\nimport ") && !script.contains("\nexport "));
        }
        let at = |decl: &str| core.find(decl).unwrap_or_else(|| panic!("{decl}"));
        assert_eq!(core.matches("\nconst h = ").count(), 1, "dom.js once");
        assert!(!extra.contains("\nconst h = "), "dom.js is the core's");
        assert!(
            at("\nconst h = ") < at("\nclass Widget"),
            "dom.js before widget.js"
        );
        assert!(
            at("\nclass Widget") < at("\nconst widgets = "),
            "main.js last"
        );
        // The account forms and reports are the extra's; what it uses of the core is shared.
        assert!(extra.contains("\nconst accountMethods = ") && !core.contains("accountMethods"));
        assert!(
            extra.contains("\nconst reportMethods = ") && !core.contains("reportForm(el, seq) {")
        );
        assert!(core.contains("window.Chatctl.core = { v: "), "{core}");
        let shared = extra
            .lines()
            .find(|l| l.ends_with("} = core;"))
            .expect("the extra takes the core's names");
        for name in ["Widget", "FRAMES", "h", "save", "SEND_WAITS"] {
            assert!(
                shared.contains(&format!(" {name},")) || shared.contains(&format!(" {name} ")),
                "{name}: {shared}"
            );
        }
        // Every file in src/ is used, in one script.
        for file in Sources::iter().filter(|f| f.starts_with("src/")) {
            let first = source(&file).unwrap();
            let first = first
                .lines()
                .find(|l| l.starts_with("export const ") || l.starts_with("export class "))
                .map(|l| l.trim_start_matches("export "));
            if let Some(decl) = first {
                let count = core.matches(decl).count() + extra.matches(decl).count();
                assert_eq!(count, 1, "{file} is in {count} scripts");
            }
        }
    }

    /// The keys a script looks up as T("key"), and those its markup names as data-t="key".
    fn keys_used(script: &str) -> Vec<String> {
        let mut used = Vec::new();
        for (at, _) in script.match_indices("T(\"") {
            if script[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &script[at + 3..];
            let Some(end) = rest.find('"') else { continue };
            used.push(rest[..end].to_owned());
        }
        // (markup.js's specs name them as "data-t": "key")
        for part in script.split("\"data-t\": \"").skip(1) {
            let Some(end) = part.find('"') else { continue };
            used.push(part[..end].to_owned());
        }
        used
    }

    #[test]
    fn every_key_a_script_uses_exists_in_english_in_its_part() {
        // A missing key would show raw. The core has only its own texts; the extra
        // script has its own and the core's.
        let Joined { core, extra } = join().unwrap();
        let (english, english_extra) = pack("en").unwrap();
        let english: serde_json::Value = serde_json::from_str(&english).unwrap();
        let english_extra: serde_json::Value = serde_json::from_str(&english_extra).unwrap();
        let core_keys = keys_used(&core);
        assert!(
            core_keys.len() > 20,
            "the script uses T(\"key\") for its texts"
        );
        let missing: Vec<_> = core_keys
            .iter()
            .filter(|k| english.get(k).is_none())
            .collect();
        assert!(missing.is_empty(), "keys missing from en.json: {missing:?}");
        let extra_keys = keys_used(&extra);
        assert!(
            extra_keys.len() > 10,
            "the extra script uses T(\"key\") for its texts"
        );
        let missing: Vec<_> = extra_keys
            .iter()
            .filter(|k| english.get(k).is_none() && english_extra.get(k).is_none())
            .collect();
        assert!(missing.is_empty(), "keys missing from en.json: {missing:?}");
    }
}
