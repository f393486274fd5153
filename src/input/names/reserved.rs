//! Names only the chat's own people go by. A guest or member called `Admin`,
//! `Моderator` (Cyrillic М) or `the admin` would pass for the site's staff, so
//! a chosen name (a guest's nickname, a member's name) may not look like one
//! of [`RESERVED_NAMES`] or the site's own name, nor hold one among its
//! words. Names a host site's token gives (and admin accounts) are not
//! checked: the site vouches for them.
//!
//! The rule, word by word:
//! - **Words** are the runs of the NFKC name between spaces, punctuation and
//!   symbols (`admin 2`, `the-admin`, `[admin]` and `admin_bot` hold `admin`).
//!   A character that looks like a letter (UTS #39 confusables.txt maps it to
//!   another: `|` is `l`) joins its word rather than splitting it.
//! - A word is compared as written and without the digits at its ends
//!   (`admin2`, `2admin`), by [`NameKey`]: case, look-alikes and marks do not
//!   matter (`ADMIN`, `Аdmin` with a Cyrillic А, `ADM1N`, `ádmin`).
//! - The site's name, when it is several words, must appear as those words in
//!   a row (`My blog fan` holds `My blog`; `blog` alone does not).
//! - Letters inside a longer word do not count: `Madmina`, `Modesto`,
//!   `Systematic` and `Supporter` are names like any other.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use unicode_normalization::UnicodeNormalization;

use super::{is_nonspacing_mark, NameKey};

/// Words that say a name speaks for the site: its staff's roles and the chat
/// itself (in English, the words chat staff go by). A guest or member may
/// not go by one (see the module's comment); plurals are listed too
/// (`Admins`), since a word is compared whole, not by its stem.
pub const RESERVED_NAMES: &[&str] = &[
    "admin",
    "admins",
    "administrator",
    "administrators",
    "moderator",
    "moderators",
    "mod",
    "mods",
    "staff",
    "support",
    "system",
    "owner",
    "root",
    "sysop",
    "chatctl",
];

/// The keys of [`RESERVED_NAMES`], computed once.
static RESERVED_KEYS: LazyLock<Vec<(&'static str, NameKey)>> = LazyLock::new(|| {
    RESERVED_NAMES
        .iter()
        .map(|name| (*name, NameKey::of(name)))
        .collect()
});

/// What a chosen name looks like, or holds, that it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// One of [`RESERVED_NAMES`] (the word as listed).
    Staff(&'static str),
    /// The site's own name.
    Site,
}

impl Reserved {
    /// Why `name` is refused, as the client shows it.
    pub fn message(&self, name: &str) -> String {
        match self {
            Reserved::Staff(word) => format!(
                "{name:?} looks like, or has among its words, {word:?}: a name kept for the chat's staff. Choose another name."
            ),
            Reserved::Site => format!(
                "{name:?} looks like, or has among its words, this site's name. Choose another name."
            ),
        }
    }
}

/// The reserved name `name` looks like or holds among its words, if any;
/// `site` is the name of the site it is chosen on. See the module's comment.
pub fn reserved(name: &str, site: &str) -> Option<Reserved> {
    checked(name, site).err()
}

/// [`reserved`], giving the name's [`NameKey`] when it is free to use: a
/// name of one word has the key its word was checked with (a key costs
/// normalizations and confusable skeletons, and every new guest's hello
/// needs both).
pub fn checked(name: &str, site: &str) -> Result<NameKey, Reserved> {
    let nfkc: String = name.nfkc().collect();
    let name_words = words(&nfkc);
    let mut whole = None;
    for word in &name_words {
        let key = NameKey::of(word);
        let trimmed = trim_digits(word);
        let trimmed_key = (trimmed != word.as_str()).then(|| NameKey::of(trimmed));
        let staff = RESERVED_KEYS.iter().find(|(_, reserved)| {
            key.looks_like(reserved) || trimmed_key.as_ref().is_some_and(|k| k.looks_like(reserved))
        });
        if let Some((listed, _)) = staff {
            return Err(Reserved::Staff(listed));
        }
        if name_words.len() == 1 && *word == nfkc {
            whole = Some(key);
        }
    }
    if let Some((length, site_key)) = site_name_key(site) {
        let holds_site = name_words
            .windows(length)
            .any(|run| NameKey::of(&run.join(" ")).looks_like(&site_key));
        if holds_site {
            return Err(Reserved::Site);
        }
    }
    Ok(whole.unwrap_or_else(|| NameKey::of(name)))
}

/// Site names whose keys [`site_name_key`] keeps, at most; beyond, it
/// starts again (an install has a handful of sites).
const SITE_KEYS_KEPT: usize = 1024;

/// How many words the site's name has and the key of those words joined
/// by spaces (`None`: it has none), kept per name: every guest's hello is
/// checked against its site's name.
fn site_name_key(site: &str) -> Option<(usize, NameKey)> {
    type Keys = HashMap<String, Option<(usize, NameKey)>>;
    static SITE_KEYS: LazyLock<Mutex<Keys>> = LazyLock::new(Mutex::default);
    let mut keys = SITE_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = keys.get(site) {
        return known.clone();
    }
    let nfkc: String = site.nfkc().collect();
    let site_words = words(&nfkc);
    let key =
        (!site_words.is_empty()).then(|| (site_words.len(), NameKey::of(&site_words.join(" "))));
    if keys.len() >= SITE_KEYS_KEPT {
        keys.clear();
    }
    keys.insert(site.to_owned(), key.clone());
    key
}

/// The words of `nfkc` (a name in NFKC), as the module's comment defines them.
fn words(nfkc: &str) -> Vec<String> {
    nfkc.split(is_separator)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Spaces, and punctuation and symbols that look like no letter.
fn is_separator(c: char) -> bool {
    if c.is_whitespace() {
        return true;
    }
    if c.is_alphanumeric() || is_nonspacing_mark(c) {
        return false;
    }
    let mut one = [0; 4];
    let looks_like: String = unicode_security::skeleton(c.encode_utf8(&mut one)).collect();
    !looks_like.chars().any(char::is_alphanumeric)
}

/// `word` without the digits at its start and end (`admin2` is `admin`).
fn trim_digits(word: &str) -> &str {
    word.trim_matches(|c: char| c.is_numeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_names_and_look_alikes_are_reserved_as_words() {
        for name in [
            "Admin",
            "ADMIN",
            "\u{0410}dmin", // Cyrillic А
            "Adm1n",
            "ADM1N",
            "Adm|n",
            "ádmin",
            "Moderator",
            "M0DERAT0R",
            "mod",
            "Staff",
            "Support",
            "SYSTEM",
            "owner",
            "chatctl",
            "admin 2",
            "admin2",
            "2admin",
            "the admin",
            "the-admin",
            "[admin]",
            "admin_bot",
            "Site Admins",
            "ａｄｍｉｎ", // fullwidth
        ] {
            assert!(
                matches!(reserved(name, "Test site"), Some(Reserved::Staff(_))),
                "{name:?}"
            );
        }
        assert_eq!(
            reserved("the m0d", "x"),
            Some(Reserved::Staff("mod")),
            "names the listed word"
        );
    }

    #[test]
    fn the_sites_name_is_reserved_as_a_run_of_words() {
        for name in [
            "My blog",
            "MY BL0G",
            "My blog fan",
            "the my-blog",
            "Мy blog",
        ] {
            assert_eq!(reserved(name, "My blog"), Some(Reserved::Site), "{name:?}");
        }
        for name in ["blog", "My blogs", "My own blog", "Myblog"] {
            assert_eq!(reserved(name, "My blog"), None, "{name:?}");
        }
        assert_eq!(reserved("anything", "!!!"), None);
    }

    #[test]
    fn words_that_merely_hold_the_letters_are_names() {
        for name in [
            "Madmina",
            "Modesto",
            "Systematic",
            "Supporter",
            "Adam",
            "Admiral",
            "Mo",
            "Rooty",
            "alice",
            "李小龍",
        ] {
            assert_eq!(reserved(name, "Test site"), None, "{name:?}");
        }
    }

    #[test]
    fn a_free_name_comes_with_its_own_key() {
        for name in [
            "v123",
            "Alice",
            "ａｌｉｃｅ",
            "Zoë 🙂",
            "Mary Jane",
            "ｖ 1",
            "1234",
            "x-y",
        ] {
            assert_eq!(
                checked(name, "Test site"),
                Ok(NameKey::of(name)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn each_site_is_checked_against_its_own_name() {
        // The site keys are kept per name: one site's must never answer for another's.
        assert_eq!(reserved("Green tea", "Green tea"), Some(Reserved::Site));
        assert_eq!(reserved("Green tea", "Black tea"), None);
        assert_eq!(reserved("Black tea", "Black tea"), Some(Reserved::Site));
        assert_eq!(reserved("Green tea", "Green tea"), Some(Reserved::Site));
    }
}
