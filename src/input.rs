//! Validated user input. Everything that crosses a trust boundary (a frame, a
//! CLI flag, a form) is parsed into one of these at the edge; past that point
//! the value is known to be well-formed.

use std::fmt;

use thiserror::Error;

mod address;
pub mod names;
pub mod strict;

pub use address::{ipv4_range, min_ban_prefix, AddressKey};
pub use names::NameKey;
pub use origin::Origin;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl InvalidInput {
    /// The message as a sentence for a page: capital first, full stop last.
    pub fn sentence(&self) -> String {
        let mut chars = self.0.chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
        format!("{}{}.", first.unwrap_or_default(), chars.as_str())
    }
}

fn invalid(msg: impl Into<String>) -> InvalidInput {
    InvalidInput(msg.into())
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

// After the macro, which it uses (macros are in scope from their definition down).
mod origin;

/// A room name: 1–64 characters from `A-Za-z0-9-_.:/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomName(String);
string_newtype!(RoomName);

impl RoomName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(invalid(format!(
                "room names are 1 to {} characters",
                Self::MAX_LEN
            )));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
        {
            return Err(invalid(
                "room names may contain only letters, digits and - _ . : /",
            ));
        }
        if Self::has_dot_segment(raw) {
            return Err(invalid(
                "room names may not have . or .. as a part between slashes",
            ));
        }
        Ok(RoomName(raw.to_owned()))
    }

    /// Whether `raw` has `.` or `..` as a part between slashes: such names
    /// would read as relative paths wherever a room name ends up in a URL or
    /// a path (the API's own paths among them).
    pub fn has_dot_segment(raw: &str) -> bool {
        raw.split('/')
            .any(|segment| segment == "." || segment == "..")
    }

    /// The name a room stored under `raw` before dot segments were refused
    /// takes: each `.` part becomes `_`, each `..` part `__` (`a/../b` is
    /// `a/__/b`, as long as before).
    pub fn without_dot_segments(raw: &str) -> String {
        raw.split('/')
            .map(|segment| match segment {
                "." => "_",
                ".." => "__",
                other => other,
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A participant's display name: 1–32 visible characters, normalized and
/// checked as [`names`] describes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nickname(String);
string_newtype!(Nickname);

impl Nickname {
    pub const MAX_CHARS: usize = 32;

    /// A name someone chose (a guest's nickname, a member's name): refused if
    /// it holds anything invisible.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        names::display_form(raw, "nicknames", Self::MAX_CHARS).map(Nickname)
    }

    /// A name vouched for by the host site: invisible characters are dropped
    /// instead, so the site's own users are never locked out by their names.
    pub fn from_host(raw: &str) -> Result<Self, InvalidInput> {
        names::cleaned_form(raw, "names", Self::MAX_CHARS).map(Nickname)
    }

    pub fn key(&self) -> NameKey {
        NameKey::of(&self.0)
    }
}

/// A name an operator gives an admin account or a site: 1–100 visible
/// characters, with the same rules as nicknames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    /// `what` names the field in errors, e.g. "site names".
    pub fn parse(raw: &str, what: &str) -> Result<Self, InvalidInput> {
        names::display_form(raw, what, Self::MAX_CHARS).map(DisplayName)
    }
}

/// A client message id: 1–64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);
string_newtype!(ClientId);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("cid must be 1 to 64 printable ASCII characters"));
        }
        Ok(ClientId(raw.to_owned()))
    }
}

/// Message text: control characters other than newline and tab are removed,
/// surrounding whitespace trimmed; must be non-empty and within `max_chars`.
pub fn message_text(raw: &str, max_chars: usize) -> Result<String, MessageTextError> {
    let cleaned: String = raw
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect();
    let text = cleaned.trim();
    if text.is_empty() {
        return Err(MessageTextError::Empty);
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(MessageTextError::TooLong {
            chars,
            max: max_chars,
        });
    }
    Ok(text.to_owned())
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MessageTextError {
    #[error("message is empty")]
    Empty,
    #[error("message is {chars} characters; the limit is {max}")]
    TooLong { chars: usize, max: usize },
}

/// A site's public key (`pk_` + 24 alphanumerics): goes in the script tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteKey(String);
string_newtype!(SiteKey);

impl SiteKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = raw.len() == 27
            && raw.starts_with("pk_")
            && raw[3..].bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(invalid(format!(
                "{raw:?} is not a site key (pk_ followed by 24 letters or digits)"
            )));
        }
        Ok(SiteKey(raw.to_owned()))
    }

    pub fn generate() -> Self {
        SiteKey(format!("pk_{}", random_token(24)))
    }
}

/// An email address we can send to, checked by the parser the mailer uses
/// (lettre's `Address`: dot-atom local part of at most 64 characters, valid
/// domain labels) plus what the mail server could refuse later: the local part
/// is ASCII (a non-ASCII one needs SMTPUTF8), the domain a host name with a
/// dot (IDN domains are kept in their ASCII form), 254 characters at most.
/// Trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email {
    text: String,
    address: lettre::Address,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let refused = || invalid(format!("{raw:?} is not a valid email address"));
        let lowered = raw.trim().to_lowercase();
        let (local, domain) = lowered.rsplit_once('@').ok_or_else(refused)?;
        if !local.is_ascii() || local.starts_with('"') {
            return Err(refused());
        }
        let domain = match url::Host::parse(domain) {
            Ok(url::Host::Domain(ascii))
                if ascii.contains('.') && ascii.split('.').all(is_host_label) =>
            {
                ascii
            }
            _ => return Err(refused()),
        };
        let text = format!("{local}@{domain}");
        if text.len() > Self::MAX_LEN {
            return Err(refused());
        }
        let address = text.parse::<lettre::Address>().map_err(|_| refused())?;
        Ok(Email { text, address })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_inner(self) -> String {
        self.text
    }

    /// The mailer's recipient for this address, under a display name.
    pub fn mailbox(&self, name: &str) -> lettre::message::Mailbox {
        lettre::message::Mailbox::new(Some(name.to_owned()), self.address.clone())
    }
}

/// A DNS host name label (RFC 1123): letters, digits and inner hyphens.
fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A password that is hard to guess: at least 10 characters, at most 72 bytes
/// (bcrypt ignores the rest), and a guessability score of at least 3 of 4 by
/// zxcvbn (Wheeler, "zxcvbn: Low-Budget Password Strength Estimation", USENIX
/// Security 2016): common passwords, names, keyboard walks, dates and
/// `Password12`-style variations of them are refused whatever their classes
/// of character. The error says why, in zxcvbn's words.
pub fn check_password(password: &str) -> Result<(), InvalidInput> {
    if password.chars().count() < 10 {
        return Err(invalid("password must be at least 10 characters"));
    }
    if password.len() > 72 {
        return Err(invalid("password must be at most 72 bytes"));
    }
    let estimate = zxcvbn::zxcvbn(password, &[]);
    if estimate.score() < zxcvbn::Score::Three {
        let feedback = estimate.feedback();
        let why = feedback
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .or_else(|| feedback.and_then(|f| f.suggestions().first().map(|s| s.to_string())));
        return Err(InvalidInput(match why {
            Some(why) => format!(
                "password is too easy to guess ({})",
                why.trim_end_matches('.').to_lowercase()
            ),
            None => "password is too easy to guess: add another word or two".to_owned(),
        }));
    }
    Ok(())
}

/// Random alphanumeric string from the OS-seeded CSPRNG.
pub fn random_token(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(RoomName::parse("lobby").is_ok());
        assert!(RoomName::parse("/blog/post-1.html").is_ok());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse(&"a".repeat(65)).is_err());
        assert!(RoomName::parse("a b").is_err());
        assert!(RoomName::parse("<script>").is_err());
        for dots in ["..", ".", "../x", "a/../b", "a/.", "/./"] {
            assert!(RoomName::parse(dots).is_err(), "{dots}");
        }
        assert!(RoomName::parse("...").is_ok());
        for (dots, safe) in [
            (".", "_"),
            ("..", "__"),
            ("a/../b", "a/__/b"),
            ("/./x/.", "/_/x/_"),
        ] {
            assert_eq!(RoomName::without_dot_segments(dots), safe);
            assert!(RoomName::parse(safe).is_ok(), "{safe}");
        }
        assert!(RoomName::parse("v1.2/notes..txt").is_ok());
    }

    #[test]
    fn nicknames() {
        assert_eq!(Nickname::parse("  alice ").unwrap().as_str(), "alice");
        assert!(Nickname::parse("Ангелина").is_ok());
        assert!(Nickname::parse("   ").is_err());
        assert!(Nickname::parse(&"é".repeat(33)).is_err());
        assert!(Nickname::parse("ad\u{202E}min").is_err());
        assert!(Nickname::parse("a\u{0}b").is_err());
        assert_eq!(
            Nickname::from_host("ali\u{00AD}ce").unwrap().as_str(),
            "alice"
        );
        assert!(DisplayName::parse("Blog\u{200B}", "site names").is_err());
        assert_eq!(
            DisplayName::parse(" My  blog ", "site names")
                .unwrap()
                .as_str(),
            "My blog"
        );
    }

    #[test]
    fn message_texts() {
        assert_eq!(message_text(" hi\u{7}\n", 10).unwrap(), "hi");
        assert_eq!(message_text("a\nb", 10).unwrap(), "a\nb");
        assert_eq!(message_text(" \n ", 10), Err(MessageTextError::Empty));
        assert_eq!(
            message_text("abcdef", 5),
            Err(MessageTextError::TooLong { chars: 6, max: 5 })
        );
    }

    #[test]
    fn site_keys_and_emails() {
        let key = SiteKey::generate();
        assert_eq!(SiteKey::parse(key.as_str()).unwrap(), key);
        assert!(SiteKey::parse("pk_short").is_err());
        assert_eq!(
            Email::parse(" Bob@Example.COM ").unwrap().as_str(),
            "bob@example.com"
        );
        assert_eq!(
            Email::parse("ann@Bücher.Example").unwrap().as_str(),
            "ann@xn--bcher-kva.example"
        );
        assert!(Email::parse("o'brien+chat@example.co.uk").is_ok());
        for bad in [
            "bob",
            "bob@localhost",
            "a b@c.d",
            "a..b@example.com",
            ".ab@example.com",
            "ab.@example.com",
            &format!("{}@example.com", "a".repeat(65)),
            "user@-example.com",
            "user@example-.com",
            "user@exa_mple.com",
            "user@example..com",
            "user@[127.0.0.1]",
            "user@127.0.0.1",
            "jörg@example.com",
            "\"a b\"@example.com",
            "a@b@example.com",
            "user@example.com.",
            &format!("a@{}.com", "b".repeat(250)),
            "user@exam ple.com",
            "user\u{200B}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
    }

    #[test]
    fn passwords() {
        assert!(check_password("correct horse 9").is_ok());
        assert!(check_password("Brand new 77 staple").is_ok());
        assert!(check_password("short1").is_err());
        assert!(check_password(&"aA1".repeat(30)).is_err());
        // Every class of character, yet guessed at once.
        for guessable in [
            "Password12",
            "Passw0rd!!",
            "qwertyuiop1",
            "1234567890",
            "iloveyou2024",
        ] {
            let err = check_password(guessable).expect_err(guessable);
            assert!(err.0.starts_with("password is too easy to guess"), "{err}");
        }
    }
}
