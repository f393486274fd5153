//! The widget as browsers get it, built once from the sources in `widget/`
//! (embedded in the binary) at first use:
//!
//! - the loader (`widget/loader.js`), served at `/widget.js`: the URL pasted in
//!   every page, so it is tiny and cached for minutes only;
//! - the script (`widget/chatctl.js`) at `/widget/<version>.js` and the language
//!   packs (`widget/lang/<lang>.json`) at `/widget/<version>/<lang>.json`, cached
//!   for a year: `<version>` is a hash of their content, so an upgrade changes
//!   the URL the loader asks for.
//!
//! Each file is minified ([`super::minify`]) and gzip-compressed here, once,
//! with Zopfli: slower than zlib's best (a fraction of a second, once per
//! process) but about 5 % smaller, and every visitor's first page view pays
//! for those bytes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::minify;

#[derive(RustEmbed)]
#[folder = "widget/"]
pub struct Sources;

/// Languages the widget speaks; English is the fallback.
pub const LANGS: [&str; 5] = ["en", "fr", "ru", "de", "es"];

/// Where the loader's source names the script version.
const VERSION_PLACEHOLDER: &str = "__CHATCTL_VERSION__";

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
    #[error("widget/loader.js does not contain {VERSION_PLACEHOLDER}")]
    NoPlaceholder,
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
    let script = minify::javascript(&source("chatctl.js")?);
    let mut hash = Sha256::new();
    hash.update(script.as_bytes());
    let mut packs = Vec::new();
    for lang in LANGS {
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
    if !loader.contains(VERSION_PLACEHOLDER) {
        return Err(BundleError::NoPlaceholder);
    }
    let loader = minify::javascript(&loader).replace(VERSION_PLACEHOLDER, &version);
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
        for lang in LANGS {
            assert_eq!(keys(lang), english, "keys of {lang}.json");
        }
        let loader = std::str::from_utf8(&bundle.loader.body).unwrap();
        assert!(loader.contains(&bundle.version));
    }

    #[test]
    fn every_key_the_script_uses_exists_in_english() {
        // The script looks texts up as T("key"); a missing key would show raw...
        let script = source("chatctl.js").unwrap();
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
        // ... and its markup names static texts as data-t="key".
        for part in script.split("data-t=\"").skip(1) {
            let Some(end) = part.find('"') else { continue };
            used += 1;
            if english.get(&part[..end]).is_none() {
                missing.push(part[..end].to_owned());
            }
        }
        assert!(used > 20, "the script uses T(\"key\") for its texts");
        assert!(missing.is_empty(), "keys missing from en.json: {missing:?}");
    }
}
