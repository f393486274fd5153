//! A site's word filter, compiled: whole words (any case) and regular
//! expressions, each either blocking the message or masking the match.
//! Rust's regex engine runs in linear time, so a moderator's pattern cannot
//! stall the send path; its compiled size is capped as well.

use regex::{Regex, RegexBuilder};

use crate::db::models::WordFilter;

/// Compiled patterns larger than this are refused.
const MAX_COMPILED_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAction {
    Block,
    Mask,
}

impl FilterAction {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "block" => Some(FilterAction::Block),
            "mask" => Some(FilterAction::Mask),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Word,
    Pattern,
}

impl FilterKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "word" => Some(FilterKind::Word),
            "pattern" => Some(FilterKind::Pattern),
            _ => None,
        }
    }
}

/// Compiles one entry; the error text is shown to the moderator who typed it.
pub fn compile(kind: FilterKind, pattern: &str) -> Result<Regex, String> {
    let source = match kind {
        FilterKind::Word => format!(r"\b{}\b", regex::escape(pattern.trim())),
        FilterKind::Pattern => pattern.to_owned(),
    };
    RegexBuilder::new(&source)
        .case_insensitive(true)
        .size_limit(MAX_COMPILED_BYTES)
        .build()
        .map_err(|e| format!("invalid pattern: {e}"))
}

#[derive(Debug, Default)]
pub struct FilterSet {
    rules: Vec<(Regex, FilterAction)>,
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
                let kind = FilterKind::parse(&e.kind)?;
                let action = FilterAction::parse(&e.action)?;
                compile(kind, &e.pattern).ok().map(|re| (re, action))
            })
            .collect();
        FilterSet { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn apply(&self, text: &str) -> Verdict {
        if self
            .rules
            .iter()
            .any(|(re, action)| *action == FilterAction::Block && re.is_match(text))
        {
            return Verdict::Blocked;
        }
        let mut out = text.to_owned();
        for (re, _) in self.rules.iter().filter(|(_, a)| *a == FilterAction::Mask) {
            out = re
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    "*".repeat(caps[0].chars().count())
                })
                .into_owned();
        }
        Verdict::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::{SiteId, WordFilterId};

    fn entry(kind: &str, pattern: &str, action: &str) -> WordFilter {
        WordFilter {
            id: WordFilterId(1),
            site_id: SiteId(1),
            kind: kind.into(),
            pattern: pattern.into(),
            action: action.into(),
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
}
