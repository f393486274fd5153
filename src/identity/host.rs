//! Users verified by the host site: its backend signs a JWT (HS256 with the
//! site secret) and hands it to the widget. We accept HS256 only, so `alg: none`
//! and algorithm-confusion tokens (RS256 with the secret as a "public key")
//! are refused; `exp` is mandatory, and `nbf` and `iat` are enforced when
//! present (RFC 7519 §4.1.4-6), all with the same leeway for clock skew.
//!
//! We read the three times ourselves: jsonwebtoken skips an `nbf` it cannot
//! hold in a u64 (`1e20` would be accepted at once) and ignores `iat`.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use thiserror::Error;

use crate::input::{InvalidInput, Nickname, RoomName};

/// Clock skew tolerated between the host site and us, for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;

/// Longest accepted `sub`; ids are opaque to us but must stay reasonable.
const MAX_SUBJECT_LEN: usize = 128;
const MAX_AVATAR_LEN: usize = 512;

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    #[serde(default)]
    avatar: Option<String>,
    /// Restricts the rooms the user may join; absent means all rooms.
    #[serde(default)]
    rooms: Option<Vec<String>>,
    /// Optional guard: the public key of the site the token is meant for.
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
}

/// RFC 7519's NumericDate: seconds since 1970, whole or not, of any size
/// JSON can write. Anything else (a string, a boolean) makes the token malformed.
#[derive(Debug, Clone, Copy)]
struct NumericDate(f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seconds;
        impl Visitor<'_> for Seconds {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a NumericDate (a number of seconds since 1970)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
        }
        deserializer.deserialize_any(Seconds)
    }
}

/// A verified identity, ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub subject: String,
    pub name: Nickname,
    pub avatar: Option<String>,
    pub rooms: Option<Vec<RoomName>>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HostTokenError {
    #[error("the user token has expired")]
    Expired,
    #[error("the user token is not valid yet (its nbf is in the future)")]
    NotYetValid,
    #[error("the user token is not valid yet (its iat, the time it was issued, is in the future)")]
    IssuedInFuture,
    #[error(
        "the user token's signature is invalid (signed with another site's secret, or an old one)"
    )]
    BadSignature,
    #[error("the user token must be signed with HS256")]
    WrongAlgorithm,
    #[error("the user token was issued for another site")]
    WrongSite,
    #[error("the user token is malformed: {0}")]
    Malformed(String),
}

impl HostUser {
    /// Verifies `token` for the site with this secret and public key.
    pub fn verify(token: &str, secret: &str, site_key: &str) -> Result<HostUser, HostTokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // The times are checked below, by their value (see the module comment).
        validation.set_required_spec_claims(&["sub"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = decode::<Claims>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => HostTokenError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                HostTokenError::WrongAlgorithm
            }
            ErrorKind::MissingRequiredClaim(claim) => {
                HostTokenError::Malformed(format!("the {claim:?} claim is required"))
            }
            ErrorKind::Json(err) => HostTokenError::Malformed(err.to_string()),
            _ => HostTokenError::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        check_times(&claims, jsonwebtoken::get_current_timestamp() as f64)?;
        if claims.site.as_deref().is_some_and(|site| site != site_key) {
            return Err(HostTokenError::WrongSite);
        }
        let malformed = |e: InvalidInput| HostTokenError::Malformed(e.0);
        if claims.sub.is_empty() || claims.sub.len() > MAX_SUBJECT_LEN {
            return Err(HostTokenError::Malformed(format!(
                "sub must be 1 to {MAX_SUBJECT_LEN} bytes"
            )));
        }
        let name = Nickname::from_host(&claims.name).map_err(malformed)?;
        let avatar = claims.avatar.map(|a| check_avatar(&a)).transpose()?;
        let rooms = claims
            .rooms
            .map(|rooms| {
                rooms
                    .iter()
                    .map(|r| RoomName::parse(r))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(malformed)?;
        Ok(HostUser {
            subject: claims.sub,
            name,
            avatar,
            rooms,
        })
    }

    /// A user the site names directly (the server API's `sub`, `name` and
    /// `avatar`), checked like the claims of a token.
    pub fn named(sub: &str, name: &str, avatar: Option<&str>) -> Result<HostUser, HostTokenError> {
        if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN {
            return Err(HostTokenError::Malformed(format!(
                "sub must be 1 to {MAX_SUBJECT_LEN} bytes"
            )));
        }
        Ok(HostUser {
            subject: sub.to_owned(),
            name: Nickname::from_host(name).map_err(|e| HostTokenError::Malformed(e.0))?,
            avatar: avatar.map(check_avatar).transpose()?,
            rooms: None,
        })
    }

    pub fn may_join(&self, room: &RoomName) -> bool {
        self.rooms.as_ref().is_none_or(|rooms| rooms.contains(room))
    }
}

/// `exp` is required and past it (with the leeway) the token is expired;
/// before its `nbf` or `iat` (with the leeway) it is not valid yet.
fn check_times(claims: &Claims, now: f64) -> Result<(), HostTokenError> {
    let leeway = LEEWAY_SECS as f64;
    let exp = claims
        .exp
        .ok_or_else(|| HostTokenError::Malformed("the \"exp\" claim is required".into()))?;
    if exp.0 < now - leeway {
        return Err(HostTokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf.0 > now + leeway) {
        return Err(HostTokenError::NotYetValid);
    }
    if claims.iat.is_some_and(|iat| iat.0 > now + leeway) {
        return Err(HostTokenError::IssuedInFuture);
    }
    Ok(())
}

/// Avatars are shown by browsers: only absolute http(s) URLs, nothing else.
fn check_avatar(raw: &str) -> Result<String, HostTokenError> {
    let bad = || HostTokenError::Malformed("avatar must be an http or https URL".into());
    if raw.len() > MAX_AVATAR_LEN {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "sk_test_secret";
    const KEY: &str = "pk_aaaaaaaaaaaaaaaaaaaaaaaa";

    fn sign(claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn exp() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64 + 600
    }

    #[test]
    fn valid_tokens_give_the_user() {
        let token = sign(
            json!({"sub": "42", "name": "Ann", "avatar": "https://img.example/a.png", "exp": exp(), "rooms": ["support"]}),
        );
        let user = HostUser::verify(&token, SECRET, KEY).unwrap();
        assert_eq!((user.subject.as_str(), user.name.as_str()), ("42", "Ann"));
        assert_eq!(user.avatar.as_deref(), Some("https://img.example/a.png"));
        assert!(user.may_join(&RoomName::parse("support").unwrap()));
        assert!(!user.may_join(&RoomName::parse("lobby").unwrap()));
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let expired = sign(json!({"sub": "1", "name": "A", "exp": 1_000_000}));
        assert_eq!(
            HostUser::verify(&expired, SECRET, KEY),
            Err(HostTokenError::Expired)
        );
        let other = encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "1", "name": "A", "exp": exp()}),
            &EncodingKey::from_secret(b"other"),
        )
        .unwrap();
        assert_eq!(
            HostUser::verify(&other, SECRET, KEY),
            Err(HostTokenError::BadSignature)
        );
        let wrong_site = sign(
            json!({"sub": "1", "name": "A", "exp": exp(), "site": "pk_bbbbbbbbbbbbbbbbbbbbbbbb"}),
        );
        assert_eq!(
            HostUser::verify(&wrong_site, SECRET, KEY),
            Err(HostTokenError::WrongSite)
        );
        let no_exp = sign(json!({"sub": "1", "name": "A"}));
        assert!(
            matches!(HostUser::verify(&no_exp, SECRET, KEY), Err(HostTokenError::Malformed(m)) if m.contains("exp"))
        );
        let no_name = sign(json!({"sub": "1", "exp": exp()}));
        assert!(matches!(
            HostUser::verify(&no_name, SECRET, KEY),
            Err(HostTokenError::Malformed(_))
        ));
        let js_avatar =
            sign(json!({"sub": "1", "name": "A", "exp": exp(), "avatar": "javascript:alert(1)"}));
        assert!(matches!(
            HostUser::verify(&js_avatar, SECRET, KEY),
            Err(HostTokenError::Malformed(_))
        ));
        assert!(matches!(
            HostUser::verify("not.a.jwt", SECRET, KEY),
            Err(HostTokenError::Malformed(_))
        ));
    }

    #[test]
    fn alg_none_and_algorithm_confusion_are_refused() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let payload = b64(&json!({"sub": "1", "name": "A", "exp": exp()}).to_string());
        let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(HostUser::verify(&none, SECRET, KEY).is_err());
        // RS256 header, HMAC-signed with the secret: the classic confusion attack.
        let header = b64(r#"{"alg":"RS256","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.{}", b64("sig"));
        assert_eq!(
            HostUser::verify(&forged, SECRET, KEY),
            Err(HostTokenError::WrongAlgorithm)
        );
    }
}
