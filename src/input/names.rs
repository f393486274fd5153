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
    for c in raw.trim().nfc() {
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
                return Err(invalid(format!(
                    "{what} may not start a word with a combining mark or stack more than {MAX_STACKED_MARKS} on a letter"
                )));
            }
        } else {
            marks = 0;
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
            marks = 0;
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
mod tests {
    use super::*;

    fn nick(raw: &str) -> Result<String, InvalidInput> {
        display_form(raw, "nicknames", 32)
    }

    #[test]
    fn invisible_and_formatting_characters_are_refused() {
        for raw in [
            "ali\u{00AD}ce",    // soft hyphen
            "ali\u{200B}ce",    // zero-width space
            "ali\u{200D}ce",    // zero-width joiner
            "ali\u{2060}ce",    // word joiner
            "\u{2067}\u{2069}", // bidi isolates only
            "ad\u{202E}nim",    // right-to-left override
            "alice\u{200F}",    // right-to-left mark
            "ali\u{FEFF}ce",    // byte order mark
            "alice\u{E0041}",   // tag character
            "ali\u{034F}ce",    // combining grapheme joiner
            "\u{3164}",         // Hangul filler
            "a\u{115F}b",       // Hangul choseong filler
            "ali\u{FE0F}ce",    // variation selector
            "ali\u{180E}ce",    // Mongolian vowel separator
            "ali\u{061C}ce",    // Arabic letter mark
            "a\u{0}b",          // control
            "a\nb",             // newline inside
            "ali\u{2028}ce",    // line separator
            "\u{E000}lice",     // private use
            "ali\u{0378}ce",    // unassigned
        ] {
            assert!(nick(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn names_are_normalized_for_display() {
        assert_eq!(nick("  alice ").unwrap(), "alice");
        assert_eq!(nick("Ann\u{00A0}\u{3000} Lee").unwrap(), "Ann Lee");
        assert_eq!(nick("Ange\u{0301}le").unwrap(), "Angèle".replace('è', "é"));
        assert_eq!(nick("Ангелина").unwrap(), "Ангелина");
        assert_eq!(nick("李小龍").unwrap(), "李小龍");
        assert_eq!(nick("محمد").unwrap(), "محمد");
        assert_eq!(nick("Zoë 🙂").unwrap(), "Zoë 🙂");
        assert!(nick("   ").is_err());
        assert!(
            nick("\u{2800}\u{2800}").is_err(),
            "braille blanks draw nothing"
        );
        assert!(nick(&"é".repeat(33)).is_err());
        assert!(nick("\u{0301}alice").is_err(), "a mark cannot start a name");
        assert!(nick("a\u{0301}\u{0302}\u{0303}\u{0304}\u{0305}\u{0306}").is_err());
        assert!(nick("a\u{0301}\u{0302}").is_ok());
    }

    #[test]
    fn look_alike_names_collide() {
        let alice = NameKey::of("alice");
        for same in [
            "ALICE",
            "Alice",
            "\u{0430}lice",          // Cyrillic а
            "ａｌｉｃｅ",            // fullwidth
            "alıce",                 // dotless i
            "al\u{0456}ce",          // Cyrillic і
            "aIice",                 // capital I for l
            "a1ice",                 // digit one for l
            "\u{1D41A}\u{1D425}ice", // mathematical bold
        ] {
            assert!(NameKey::of(same).looks_like(&alice), "{same:?}");
        }
        for marked in [
            "ali\u{0307}ce", // dot above on the i: draws nothing new
            "álice",
            "alice\u{0332}", // combining low line
            "a\u{0335}lice", // short stroke overlay
            "alic\u{20DD}e", // enclosing circle
        ] {
            assert!(NameKey::of(marked).looks_like(&alice), "{marked:?}");
        }
        for other in ["alicia", "ali ce", "bob", "allce"] {
            assert!(!NameKey::of(other).looks_like(&alice), "{other:?}");
        }
        assert!(NameKey::of("Straße").looks_like(&NameKey::of("STRASSE")));
        assert!(NameKey::of("rn").looks_like(&NameKey::of("m")));
    }

    /// The skeleton maps some characters to capitals (digit zero to `O`),
    /// which the folded key meets only if it folds again after the skeleton.
    #[test]
    fn case_and_look_alikes_fold_together() {
        let blog = NameKey::of("My blog");
        for same in [
            "My bl0g",
            "MY BLOG",
            "my blog",
            "My bIog",        // capital I for l
            "\u{041C}y blog", // Cyrillic М
            "My bl\u{043E}g", // Cyrillic о
            "MY BL0G",
            "my b1og", // digit one for l
            "My BL0G",
            "ＭＹ ＢＬＯＧ",   // fullwidth
            "My bl\u{1D7CE}g", // mathematical bold zero
            "My bl\u{03BF}g",  // Greek omicron
            "Mу blog",         // Cyrillic у for y
            "My blóg",
        ] {
            assert!(NameKey::of(same).looks_like(&blog), "{same:?}");
            assert!(blog.looks_like(&NameKey::of(same)), "{same:?}");
        }
        for other in ["My blogs", "My bog", "My b log", "Your blog"] {
            assert!(!NameKey::of(other).looks_like(&blog), "{other:?}");
        }
        for (a, b) in [
            ("B0B", "bob"),
            ("0SCAR", "oscar"),
            ("J0HN", "john"),
            ("ADM1N", "Admin"),
            ("ADM1N", "admin"),
            ("AL1CE", "alice"),
            ("MY BIOG", "My blog"),
            ("M0DERAT0R", "Moderator"),
        ] {
            assert!(NameKey::of(a).looks_like(&NameKey::of(b)), "{a:?} {b:?}");
        }
        for (a, b) in [("ADMIN", "ADMINS"), ("B0B", "B0BBY"), ("Admin", "Adam")] {
            assert!(!NameKey::of(a).looks_like(&NameKey::of(b)), "{a:?} {b:?}");
        }
        // Each key is its own fixed point: computing it again changes nothing.
        let key = NameKey::of("My bl0g");
        assert_eq!(settled(key.folded.clone()), key.folded);
        assert_eq!(settled(key.exact.clone()), key.exact);
    }

    /// Unicode case folding (CaseFolding.txt) folds lowercase Cherokee to the
    /// uppercase letters confusables.txt maps (`ꮟ` to `Ꮟ`, which looks like
    /// `b`); lowercase-of-uppercase went back to the unmapped lowercase.
    #[test]
    fn case_is_folded_by_unicode_case_folding() {
        for (a, b) in [
            ("\u{AB9F}ob", "bob"),                                    // Cherokee small si
            ("\u{AB9F}o\u{AB9F}", "Bob"),                             // twice
            ("\u{AB7A}\u{AB70}\u{AB87}\u{AB75}n", "admin"),           // small go, a, lu, v
            ("\u{AB87}\u{AB7C}\u{AB83}", "MEW"),                      // small lu, gv, la
            ("\u{13A0}\u{13B3}\u{13A9}", "\u{AB70}\u{AB83}\u{AB79}"), // ᎠᎳᎩ, ꭰꮃꭹ: one name
            ("STRA\u{1E9E}E", "strasse"),                             // capital sharp s
            ("\u{A7CE}", "\u{A7CF}"),                                 // Unicode 17 case pair
        ] {
            assert!(NameKey::of(a).looks_like(&NameKey::of(b)), "{a:?} {b:?}");
        }
        for (a, b) in [("\u{AB9F}ob", "bo"), ("\u{AB9F}ob", "dob")] {
            assert!(!NameKey::of(a).looks_like(&NameKey::of(b)), "{a:?} {b:?}");
        }
    }

    /// Letters UTS #39 types Technical, Obsolete or Deprecated that
    /// confusables.txt maps to nothing: the keys cannot see what they look
    /// like, so a chosen name may not hold them.
    #[test]
    fn technical_and_obsolete_letters_without_a_look_alike_mapping_are_refused() {
        for (raw, named) in [
            ("\u{1D00}\u{1D05}\u{1D0D}\u{026A}\u{0274}", "U+1D00"), // ᴀᴅᴍɪɴ, small capitals
            ("\u{0299}ob", "U+0299"),                               // ʙ small capital B
            ("Ann\u{A730}", "U+A730"),                              // ꜰ small capital F (Obsolete)
            ("\u{1D43}\u{1D44}", "U+1D44"),                         // ᵄ: NFKC is ɐ, Technical
            ("\u{2C6F}lex", "U+2C6F"),                              // Ɐ turned A (Obsolete)
            ("Ad\u{1D0D}in", "U+1D0D"), // ᴍ: mapped only to ʍ, itself Technical
        ] {
            let err = nick(raw).expect_err(raw);
            assert!(err.0.contains(named), "{raw:?}: {err:?}");
        }
        // A host site's name for its user is not second-guessed.
        assert!(cleaned_form("\u{1D00}\u{1D05}\u{1D0D}\u{026A}\u{0274}", "names", 32).is_ok());
    }

    /// Names of real people, in the scripts they write them in: the rules
    /// above must refuse none of them.
    #[test]
    fn names_in_many_scripts_are_accepted() {
        for name in [
            "José Álvarez",
            "François Lefèvre",
            "Łukasz Wójcik",
            "Nguyễn Thị Minh Khai",
            "Søren Ørsted",
            "Straße",
            "Ayşe Yılmaz",
            "İlker",
            "Đorđe",
            "Hawaiʻi",
            "O'Brien",
            "Anne-Marie",
            "Dr. Who",
            "R2-D2",
            "Agent 007",
            "Ɛfua Ŋkansah",
            "Ɗanjuma",
            "\u{01C3}Xóõ", // click letter (Technical, mapped to `!`)
            "Ангелина",
            "Ђорђе",
            "Σωκράτης",
            "محمد",
            "شیرین",
            "דוד",
            "李小龍",
            "山田 太郎",
            "さくら",
            "カタカナ",
            "김민준",
            "ㅋㅋ 민준", // compatibility jamo: NFKC makes them conjoining ones
            "अर्जुन",
            "தமிழ்",
            "বাংলা",
            "ქართული",
            "Հայերեն",
            "አማርኛ",
            "ไทย",
            "ᏣᎳᎩ",
            "\u{AB73}\u{AB83}\u{AB79}", // lowercase Cherokee
            "ᠮᠣᠩᠭᠣᠯ",
            "ߒߞߏ",
            "𞤀𞤣𞤤𞤢𞤥",
            "Zoë 🙂",
            "Ada 👩\u{1F3FD}", // emoji with a skin tone
        ] {
            let shown = nick(name);
            assert!(shown.is_ok(), "{name:?}: {shown:?}");
        }
    }

    #[test]
    fn verified_names_are_cleaned_not_refused() {
        let clean = |raw: &str| cleaned_form(raw, "names", 32);
        assert_eq!(clean("ali\u{00AD}ce").unwrap(), "alice");
        assert_eq!(clean("\u{202E}Ann\u{202C} Lee").unwrap(), "Ann Lee");
        assert_eq!(clean("❤\u{FE0F} Bo").unwrap(), "❤ Bo");
        assert!(
            clean("\u{2067}\u{2069}").is_err(),
            "nothing visible is left"
        );
    }
}
