//! Guest tokens: the server signs (HS256, server secret) the participant id and
//! site so a guest keeps the same identity across reloads and can be banned.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::db::models::{ParticipantId, SiteId};

const GUEST_TOKEN_DAYS: i64 = 365;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: i64,
    site: i64,
    kind: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the guest token is malformed, expired or not signed by this server")]
    Invalid,
    #[error("the guest token belongs to another site")]
    WrongSite,
}

#[derive(Clone)]
pub struct GuestTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl GuestTokens {
    pub fn new(secret: &[u8]) -> Self {
        GuestTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, participant: ParticipantId, site: SiteId) -> String {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = Claims {
            sub: participant.0,
            site: site.0,
            kind: "guest".into(),
            iat: now,
            exp: now + GUEST_TOKEN_DAYS * 86_400,
        };
        // HS256 over a plain struct cannot fail.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    pub fn verify(&self, token: &str, site: SiteId) -> Result<ParticipantId, TokenError> {
        // Only HS256 is accepted: `alg: none` and other algorithms are rejected by the validation.
        let validation = Validation::new(Algorithm::HS256);
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.kind != "guest" {
            return Err(TokenError::Invalid);
        }
        if data.claims.site != site.0 {
            return Err(TokenError::WrongSite);
        }
        Ok(ParticipantId(data.claims.sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let tokens = GuestTokens::new(b"server secret");
        let token = tokens.issue(ParticipantId(7), SiteId(1));
        assert_eq!(tokens.verify(&token, SiteId(1)), Ok(ParticipantId(7)));
        assert_eq!(tokens.verify(&token, SiteId(2)), Err(TokenError::WrongSite));
        assert_eq!(
            GuestTokens::new(b"other").verify(&token, SiteId(1)),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            tokens.verify("garbage", SiteId(1)),
            Err(TokenError::Invalid)
        );
        // An unsigned token with `alg: none` claiming the same identity.
        let unsigned = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(
            tokens.verify(&unsigned, SiteId(1)),
            Err(TokenError::Invalid)
        );
    }
}
