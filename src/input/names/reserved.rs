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

use std::sync::LazyLock;

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
    let name_words = words(name);
    for word in &name_words {
        let keys = [NameKey::of(word), NameKey::of(trim_digits(word))];
        let staff = RESERVED_KEYS
            .iter()
            .find(|(_, reserved)| keys.iter().any(|k| k.looks_like(reserved)));
        if let Some((listed, _)) = staff {
            return Some(Reserved::Staff(listed));
        }
    }
    let site_words = words(site);
    if site_words.is_empty() {
        return None;
    }
    let site_key = NameKey::of(&site_words.join(" "));
    name_words
        .windows(site_words.len())
        .any(|run| NameKey::of(&run.join(" ")).looks_like(&site_key))
        .then_some(Reserved::Site)
}

/// The words of `name` (NFKC), as the module's comment defines them.
fn words(name: &str) -> Vec<String> {
    let nfkc: String = name.nfkc().collect();
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
}
