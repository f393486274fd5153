//! Unit tests of name parsing, comparison keys and the character rules.

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

/// Outside tester: NFC folded a mark into its letter before marks were
/// counted (`a` and five acute accents passed as `á` and four), and line and
/// paragraph separators at the ends were trimmed instead of refused.
#[test]
fn marks_are_counted_as_written_and_separators_are_refused_at_the_ends() {
    for raw in [
        "a\u{301}\u{301}\u{301}\u{301}\u{301}",
        "a\u{302}\u{303}\u{301}\u{304}\u{306}\u{308}",
        "\u{1D6}\u{301}\u{301}\u{301}\u{301}", // ǖ (two marks) and four more
        "q\u{301}\u{301}\u{301}\u{301}\u{301}",
        "ab1234\u{2028}",
        "\u{2029}Plain",
        "alice\n",
        "\talice",
    ] {
        assert!(nick(raw).is_err(), "{raw:?} accepted as {:?}", nick(raw));
    }
    for (raw, kept) in [
        ("\u{1D6}\u{301}\u{301}", "\u{1D6}\u{301}\u{301}"), // four marks in all
        ("Nguy\u{1EC5}n", "Nguyễn"),
        ("  alice  ", "alice"),
    ] {
        assert_eq!(nick(raw).as_deref(), Ok(kept), "{raw:?}");
    }
}
