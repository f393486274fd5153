//! The languages chatctl speaks to visitors: the widget's language packs
//! (`widget/lang/<code>.json`, served by [`crate::http::widget::bundle`], which also gives
//! the loader this list), and the emails and account pages ([`crate::mail`]).
//! This enum is the one list: a test checks that every language has a widget
//! pack and mail strings, and that no pack is left over.

/// A language the visitor-facing text is translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
    Ru,
    De,
    Es,
    /// Arabic, written right to left (the widget mirrors its layout).
    Ar,
}

impl Lang {
    /// Every language, English (the fallback) first.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::Fr, Lang::Ru, Lang::De, Lang::Es, Lang::Ar];

    /// The best match for a language tag (`fr`, `fr-CA`) or an Accept-Language
    /// header; English when nothing matches.
    pub fn pick(tags: Option<&str>) -> Lang {
        let tags = tags.unwrap_or_default();
        tags.split(',')
            .map(|tag| {
                tag.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or_default().to_owned();
                Lang::ALL.into_iter().find(|lang| lang.code() == primary)
            })
            .unwrap_or(Lang::En)
    }

    /// The ISO 639-1 code: file names and the widget's `lang`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Ru => "ru",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::Ar => "ar",
        }
    }

    /// The writing direction, for `dir` on pages and mails (`rtl` for
    /// Arabic, `ltr` otherwise).
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            _ => "ltr",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_picked_from_tags_and_headers() {
        assert_eq!(Lang::pick(None), Lang::En);
        assert_eq!(Lang::pick(Some("fr-CA")), Lang::Fr);
        assert_eq!(Lang::pick(Some("RU")), Lang::Ru);
        assert_eq!(Lang::pick(Some("nl, de;q=0.8, en;q=0.5")), Lang::De);
        assert_eq!(Lang::pick(Some("ar-EG,ar;q=0.9")), Lang::Ar);
        assert_eq!(Lang::pick(Some("zz")), Lang::En);
        for lang in Lang::ALL {
            assert_eq!(Lang::pick(Some(lang.code())), lang);
        }
    }
}
