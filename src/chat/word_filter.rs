//! A site's word filter, compiled: whole words (any case) and regular
//! expressions, each either blocking the message or masking the match.
//! Rust's regex engine runs in linear time, so a moderator's pattern cannot
//! stall the send path; its compiled size is capped as well.
//!
//! The filter reads normalized text, so that what looks like a word is the
//! word: invisible characters (see `input::names`) are skipped and every
//! character is read in its compatibility decomposition (NFKD: `ｄａｒｎ` is
//! `darn`) without its nonspacing marks (`dárn` and `d̲a̲r̲n̲` are `darn`). Word entries go further and compare UTS #39 skeletons of the
//! case-folded text (Unicode default case folding, as names are folded:
//! `input::names::case_folded`), so `dаrn` with a Cyrillic а is `darn` too,
//! and so is `ꮟob` (lowercase Cherokee, folded to `Ꮟ`, which looks like `b`)
//! `bob`; `to_lowercase` left lowercase Cherokee unmapped. Pattern entries
//! are not folded or skeletoned (the regex matches case-insensitively). Masks
//! cover the characters of the original text the match came from.

use std::ops::Range;

use regex::{Regex, RegexBuilder};
use unicode_normalization::char::decompose_compatible;

pub use crate::db::models::word_filter::{FilterAction, FilterKind};
use crate::db::models::WordFilter;
use crate::input::names::{case_folded, is_invisible, is_nonspacing_mark};

/// Compiled patterns larger than this are refused.
const MAX_COMPILED_BYTES: usize = 256 * 1024;

/// Text as the filter reads it, with the original byte range each of its
/// bytes came from.
struct View {
    text: String,
    origin: Vec<Range<usize>>,
}

impl View {
    fn of(original: &str, kind: FilterKind) -> View {
        let mut view = View {
            text: String::with_capacity(original.len()),
            origin: Vec::with_capacity(original.len()),
        };
        for (at, c) in original.char_indices() {
            if is_invisible(c) && c != '\n' && c != '\t' {
                continue;
            }
            let from = at..at + c.len_utf8();
            let before = view.text.len();
            match kind {
                FilterKind::Pattern => decompose_compatible(c, |d| {
                    if !is_nonspacing_mark(d) {
                        view.text.push(d);
                    }
                }),
                FilterKind::Word => {
                    let mut utf8 = [0; 4];
                    for folded in case_folded(c.encode_utf8(&mut utf8)).chars() {
                        decompose_compatible(folded, |d| {
                            let mut one = [0; 4];
                            view.text.extend(
                                unicode_security::skeleton(d.encode_utf8(&mut one))
                                    .filter(|s| !is_nonspacing_mark(*s)),
                            );
                        });
                    }
                }
            }
            let added = view.text.len() - before;
            view.origin.extend(std::iter::repeat_n(from, added));
        }
        view
    }

    /// The original range a match in the view came from.
    fn original(&self, matched: Range<usize>) -> Option<Range<usize>> {
        let first = self.origin.get(matched.start)?;
        let last = self.origin.get(matched.end.checked_sub(1)?)?;
        (matched.start < matched.end).then_some(first.start..last.end)
    }
}

/// Compiles one entry; the error text is shown to the moderator who typed it.
pub fn compile(kind: FilterKind, pattern: &str) -> Result<Regex, String> {
    let source = match kind {
        FilterKind::Word => {
            let word = View::of(pattern.trim(), FilterKind::Word).text;
            if word.is_empty() {
                return Err("the word has no visible characters".into());
            }
            format!(r"\b{}\b", regex::escape(&word))
        }
        FilterKind::Pattern => View::of(pattern, FilterKind::Pattern).text,
    };
    RegexBuilder::new(&source)
        .case_insensitive(true)
        .size_limit(MAX_COMPILED_BYTES)
        .build()
        .map_err(|e| format!("invalid pattern: {e}"))
}

#[derive(Debug, Default)]
pub struct FilterSet {
    rules: Vec<(Regex, FilterKind, FilterAction)>,
}

/// What the filter made of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Post this text (masked where needed).
    Pass(String),
    Blocked,
}

impl FilterSet {
    /// Entries that no longer compile are skipped (they were checked when added).
    pub fn new(entries: &[WordFilter]) -> Self {
        let rules = entries
            .iter()
            .filter_map(|e| {
                compile(e.kind, &e.pattern)
                    .ok()
                    .map(|re| (re, e.kind, e.action))
            })
            .collect();
        FilterSet { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn apply(&self, text: &str) -> Verdict {
        let views = [FilterKind::Word, FilterKind::Pattern].map(|kind| {
            self.rules
                .iter()
                .any(|(_, k, _)| *k == kind)
                .then(|| View::of(text, kind))
        });
        let view = |kind: FilterKind| views[usize::from(kind == FilterKind::Pattern)].as_ref();
        let mut masked: Vec<Range<usize>> = Vec::new();
        for (re, kind, action) in &self.rules {
            let Some(view) = view(*kind) else { continue };
            if *action == FilterAction::Block {
                if re.is_match(&view.text) {
                    return Verdict::Blocked;
                }
                continue;
            }
            masked.extend(
                re.find_iter(&view.text)
                    .filter_map(|m| view.original(m.range())),
            );
        }
        Verdict::Pass(mask(text, masked))
    }
}

/// `text` with every visible character in `ranges` replaced by `*`.
fn mask(text: &str, mut ranges: Vec<Range<usize>>) -> String {
    if ranges.is_empty() {
        return text.to_owned();
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for mut range in ranges {
        // Marks on the match's last letter belong to it.
        range.end += text[range.end..]
            .chars()
            .take_while(|c| is_nonspacing_mark(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        let start = range.start.max(at);
        if start >= range.end {
            continue;
        }
        out.push_str(&text[at..start]);
        out.extend(
            text[start..range.end]
                .chars()
                .filter(|c| !is_invisible(*c) && !is_nonspacing_mark(*c))
                .map(|_| '*'),
        );
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::{SiteId, WordFilterId};

    fn entry(kind: &str, pattern: &str, action: &str) -> WordFilter {
        WordFilter {
            id: WordFilterId(1),
            site_id: SiteId(1),
            kind: kind.parse().unwrap(),
            pattern: pattern.into(),
            action: action.parse().unwrap(),
            created_by: None,
            created_at: 0,
        }
    }

    #[test]
    fn words_match_whole_words_in_any_case() {
        let set = FilterSet::new(&[entry("word", "darn", "mask")]);
        assert_eq!(set.apply("Darn it"), Verdict::Pass("**** it".into()));
        assert_eq!(set.apply("darnit"), Verdict::Pass("darnit".into()));
    }

    #[test]
    fn block_wins_over_mask_and_patterns_work() {
        let set = FilterSet::new(&[
            entry("word", "darn", "mask"),
            entry("pattern", r"buy\s+now", "block"),
        ]);
        assert_eq!(set.apply("darn, BUY   now!"), Verdict::Blocked);
        assert!(compile(FilterKind::Pattern, "(unclosed").is_err());
        // Word entries are literal, not patterns.
        let set = FilterSet::new(&[entry("word", "a.c", "block")]);
        assert_eq!(set.apply("abc"), Verdict::Pass("abc".into()));
        assert_eq!(set.apply("a.c"), Verdict::Blocked);
    }

    #[test]
    fn invisible_and_look_alike_characters_do_not_hide_a_word() {
        let set = FilterSet::new(&[entry("word", "darn", "mask")]);
        for (sent, stored) in [
            ("da\u{200B}rn it", "**** it"),
            ("d\u{00AD}a\u{200D}r\u{2060}n", "****"),
            ("\u{0501}arn", "****"),
            ("d\u{0430}rn!", "****!"),
            ("ｄａｒｎ", "****"),
            ("DA\u{FEFF}RN", "****"),
            ("da\u{202E}rn", "****"),
            ("𝐝𝐚𝐫𝐧 x", "**** x"),
            ("d\u{00E1}rn", "****"),
            ("da\u{0301}rn", "****"),
            ("d\u{0332}a\u{0332}r\u{0332}n\u{0332}!", "****!"),
            ("dar\u{0303}n\u{0303}\u{0304} x", "**** x"),
            ("DA\u{0336}RN", "****"),
            ("\u{ABB7}arn", "****"), // ꮷ: lowercase Cherokee, folded to Ꮷ (d)
        ] {
            assert_eq!(set.apply(sent), Verdict::Pass(stored.into()), "{sent:?}");
        }
        // Still whole words only, and other text is left as it was sent.
        assert_eq!(
            set.apply("darnit ❤\u{FE0F}"),
            Verdict::Pass("darnit ❤\u{FE0F}".into())
        );
        let block = FilterSet::new(&[entry("pattern", r"buy\s+now", "block")]);
        assert_eq!(block.apply("b\u{200B}uy ｎｏｗ"), Verdict::Blocked);
        assert_eq!(block.apply("buy later"), Verdict::Pass("buy later".into()));
    }
}
