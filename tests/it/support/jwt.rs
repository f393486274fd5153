//! Tokens a host site signs for its users (JWT HS256 with the site secret).

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// Ten minutes from now, as a JWT `exp`.
pub fn exp() -> u64 {
    jsonwebtoken::get_current_timestamp() + 600
}

/// Signs `claims` exactly as given (tests of bad tokens leave fields out).
pub fn sign(secret: &str, claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid token for user `sub` called `name`.
pub fn user_token(secret: &str, sub: &str, name: &str) -> String {
    sign(secret, json!({"sub": sub, "name": name, "exp": exp()}))
}
