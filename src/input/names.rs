//! Names shown to people: guest nicknames, member and host-verified names,
//! admin and site names. They are checked and compared with Unicode's own
//! definitions, never with a hand-made list:
//!
//! - **Refused**: Default_Ignorable_Code_Point (zero-width characters, the soft
//!   hyphen, variation selectors, Hangul fillers, ...), Bidi_Control, and the
//!   general categories Cc, Cf, Co, Cs, Cn, Zl and Zp (controls, format
//!   characters, private use, unassigned code points, line and paragraph
//!   separators). They draw nothing, or something else than they say.
//! - **Normalized**: NFC; every space separator (Zs) becomes one ASCII space,
//!   runs of them collapse, and the ends are trimmed. A combining mark may not
//!   start a word, and at most four may stack on one letter (no text that spills
//!   over the lines around it).
//! - **Refused in a chosen name** (not in one a host site vouches for): a
//!   character whose UTS #39 Identifier_Type (section 3.1, Table 1) is
//!   Technical, Obsolete or Deprecated and that confusables.txt (section 4)
//!   maps to nothing, or only to another such character, once NFKC and case
//!   folded: small capitals (`ᴀᴅᴍɪɴ`; `ᴍ` is mapped to `ʍ` only), turned
//!   and phonetic letters. Such a letter is in no living language's everyday
//!   writing, and the keys cannot tell what it looks like. Letters of those
//!   types that the table maps to a letter in use (the click `ǃ`, `ɑ`, `ᴄ`)
//!   are compared through it and allowed; so are all letters of the other
//!   types, scripts of living communities included (Cherokee, Mongolian,
//!   Adlam, rare Han ideographs), and conjoining Hangul jamo (`ㅋㅋ`, typed
//!   Obsolete because syllables are the recommended form). IPA letters a few
//!   orthographies borrow and UTS #39 types Technical without a mapping
//!   (`ʊ`, `ʃ`) are refused with the rest.
//! - **Compared** by [`NameKey`]: UTS #39 confusable skeletons of the NFKC
//!   name, folded for case by Unicode default case folding (CaseFolding.txt
//!   C+F, Unicode section 3.13; not lowercase-of-uppercase, which leaves
//!   lowercase Cherokee unmapped) and without nonspacing marks, until neither
//!   changes it, so `ALICE`, `аlice` (Cyrillic а), `ａｌｉｃｅ`, `álice`, `ali̇ce`
//!   (a dot above the i) and `alice` are one name, and so are
//!   `My bl0g` and `My blog`. The skeleton keeps marks, and some draw nothing new on
//!   their letter: at name size, a mark is too small to tell two people apart.

use std::borrow::Cow;

use icu_casemap::CaseMapper;
use icu_properties::props::{
    BidiControl, DefaultIgnorableCodePoint, GeneralCategory as Gc, GeneralCategory,
    HangulSyllableType,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::GeneralSecurityProfile;

use super::{invalid, InvalidInput};

pub mod reserved;

/// Most combining marks allowed on one base character.
const MAX_STACKED_MARKS: usize = 4;

/// Characters that draw nothing or rearrange the text around them.
pub fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointSetData::new::<BidiControl>().contains(c)
        || matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            Gc::Control
                | Gc::Format
                | Gc::PrivateUse
                | Gc::Surrogate
                | Gc::Unassigned
                | Gc::LineSeparator
                | Gc::ParagraphSeparator
        )
}

fn is_space(c: char) -> bool {
    // U+2800 BRAILLE PATTERN BLANK is a symbol, not a space, yet draws nothing.
    CodePointMapData::<GeneralCategory>::new().get(c) == Gc::SpaceSeparator || c == '\u{2800}'
}

/// Marks drawn on (over, under, through, around) the letter before them.
pub fn is_nonspacing_mark(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        Gc::NonspacingMark | Gc::EnclosingMark
    )
}

fn is_mark(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark
    )
}

/// The name someone chose, as it is stored and shown, or why it cannot be
/// one. `what` names the field in the error ("nicknames", "names").
pub fn display_form(raw: &str, what: &str, max_chars: usize) -> Result<String, InvalidInput> {
    let name = visible_form(raw, what, max_chars)?;
    match name.chars().find(|&c| is_unmapped_restricted(c)) {
        Some(c) => Err(invalid(format!(
            "{what} may not contain {c} (U+{:04X}): Unicode marks it technical or obsolete (UTS #39), and it could pass for another letter",
            u32::from(c)
        ))),
        None => Ok(name),
    }
}

/// Whether `c`, once NFKC and case folded, holds a letter of a restricted
/// Identifier_Type whose UTS #39 prototype (its skeleton) is restricted too:
/// one confusables.txt maps to nothing (`ᴀ`), or only to another such letter
/// (`ᴍ` to `ʍ`). See the module's comment.
fn is_unmapped_restricted(c: char) -> bool {
    let nfkc: String = c.nfkc().collect();
    let folded = case_folded(&nfkc);
    // Composed: a Hangul syllable's conjoining jamo have types of their own.
    folded.nfc().any(|d| {
        is_restricted(d) && {
            let mut one = [0; 4];
            let prototype: String = unicode_security::skeleton(d.encode_utf8(&mut one)).collect();
            prototype.nfc().any(is_restricted)
        }
    })
}

/// A letter or number of the Identifier_Types that mean "not in everyday
/// writing" (UTS #39 Table 1): Technical, Obsolete, Deprecated. Marks are left
/// to the keys, which drop them; conjoining Hangul jamo are typed Obsolete
/// (syllables are the recommended form), yet Koreans write `ㅋㅋ` alone.
fn is_restricted(c: char) -> bool {
    matches!(
        c.identifier_type(),
        Some(IdentifierType::Technical | IdentifierType::Obsolete | IdentifierType::Deprecated)
    ) && !is_mark(c)
        && CodePointMapData::<HangulSyllableType>::new().get(c) == HangulSyllableType::NotApplicable
}

/// The name normalized, with nothing invisible, or why it cannot be one.
fn visible_form(raw: &str, what: &str, max_chars: usize) -> Result<String, InvalidInput> {
    let mut out = String::with_capacity(raw.len());
    let (mut space, mut marks) = (false, 0);
    // Not `trim()`: it would drop line and paragraph separators and control
    // characters at the ends that are refused anywhere else; spaces at the
    // ends are dropped below.
    for c in raw.nfc() {
        if is_space(c) {
            space = true;
            continue;
        }
        if is_invisible(c) {
            return Err(invalid(format!(
                "{what} may not contain invisible, formatting or control characters (U+{:04X})",
                u32::from(c)
            )));
        }
        if is_mark(c) {
            marks += 1;
            if out.is_empty() || space || marks > MAX_STACKED_MARKS {
                return Err(stacked_marks(what));
            }
        } else {
            // Counted as written: NFC folds a mark into its letter (`á`).
            marks = composed_marks(c);
            if marks > MAX_STACKED_MARKS {
                return Err(stacked_marks(what));
            }
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    let chars = out.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(invalid(format!(
            "{what} are 1 to {max_chars} visible characters"
        )));
    }
    Ok(out)
}

fn stacked_marks(what: &str) -> InvalidInput {
    invalid(format!(
        "{what} may not start a word with a combining mark or stack more than {MAX_STACKED_MARKS} on a letter"
    ))
}

/// The marks a precomposed character holds (`ǖ`: two), by its canonical
/// decomposition (UAX #15).
fn composed_marks(c: char) -> usize {
    let mut marks = 0;
    unicode_normalization::char::decompose_canonical(c, |d| marks += usize::from(is_mark(d)));
    marks
}

/// A name from an authority we do not second-guess (a host site's signed
/// token): what cannot be shown is dropped rather than refused.
pub fn cleaned_form(raw: &str, what: &str, max_chars: usize) -> Result<String, InvalidInput> {
    let visible: String = raw
        .nfc()
        .filter(|&c| is_space(c) || !is_invisible(c))
        .collect();
    // Marks that lost their letter with the invisible characters go too.
    let mut kept = String::with_capacity(visible.len());
    let (mut marks, mut base) = (0, false);
    for c in visible.chars() {
        if is_mark(c) {
            marks += 1;
            if !base || marks > MAX_STACKED_MARKS {
                continue;
            }
        } else {
            marks = composed_marks(c);
            base = !is_space(c);
        }
        kept.push(c);
    }
    visible_form(&kept, what, max_chars)
}

/// What names are compared by: three keys, each closed under letter case and
/// UTS #39 confusables, so two names look alike when any key matches. The
/// skeleton's table pairs characters within one case: `I` and `1` look like
/// `l`, `0` like `O`, `rn` like `m`; folding case first loses what a capital
/// looks like, so the keys differ in where they start:
/// - `folded`: the lowercase name (`My bI0g` is `my bi0g`), whose look-alikes
///   are lowercase ones (`rn`, Cyrillic `а`);
/// - `exact`: the name as written, where a capital among lowercase letters
///   looks like what it looks like (`My bIog` is `My blog`);
/// - `upper`: the uppercase name, where capitals' look-alikes are (`ADM1N` is
///   `ADMIN`, as `Admin` is).
///
/// The skeleton maps some characters to capitals (`0` to `O`), which folding
/// then lowercases, so `folded` and `exact` alternate the two until neither
/// changes anything (`upper` is uppercase throughout).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameKey {
    /// From the case-folded name (NFKC, without nonspacing marks).
    pub folded: String,
    /// From the skeleton of the name as written (NFKC, capitals kept).
    pub exact: String,
    /// The skeleton of the uppercased name (NFKC, without nonspacing marks).
    pub upper: String,
}

/// Skeleton and fold alternate at most this often: each round only maps
/// characters to others the table knows, two rounds settle every name tried.
const MAX_ROUNDS: usize = 8;

impl NameKey {
    pub fn of(name: &str) -> NameKey {
        let nfkc: String = name.nfkc().collect();
        NameKey {
            folded: settled(skeleton(&fold(&nfkc))),
            exact: settled(skeleton(&nfkc)),
            upper: skeleton(&unmarked(&nfkc.to_uppercase())),
        }
    }

    pub fn looks_like(&self, other: &NameKey) -> bool {
        self.folded == other.folded || self.exact == other.exact || self.upper == other.upper
    }
}

/// `text` folded by Unicode default case folding (CaseFolding.txt, statuses
/// C and F; The Unicode Standard, section 3.13): full, so `ß` and `ẞ` are
/// `ss`, and lowercase Cherokee (`ꮟ`) is its uppercase (`Ꮟ`), which
/// `to_lowercase` leaves as it is. The fold of a text is the folds of its
/// characters, one by one. Names and the word filter fold with this.
pub fn case_folded(text: &str) -> Cow<'_, str> {
    CaseMapper::new().fold_string(text)
}

/// [`case_folded`], without nonspacing marks.
fn fold(text: &str) -> String {
    unmarked(&case_folded(text))
}

/// `text` without nonspacing marks (of its NFKD form), in NFKC again: case
/// mappings can leave text unnormalized.
fn unmarked(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_nonspacing_mark(*c))
        .nfkc()
        .collect()
}

/// Folds and skeletons `key` (a skeleton) until it stops changing.
fn settled(mut key: String) -> String {
    for _ in 0..MAX_ROUNDS {
        let next = skeleton(&fold(&key));
        if next == key {
            break;
        }
        key = next;
    }
    key
}

fn skeleton(text: &str) -> String {
    let skeleton: String = unicode_security::skeleton(text).collect();
    skeleton.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
