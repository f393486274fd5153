//! The `Chatctl-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`,
//! the MAC of `"<t>.<body>"` keyed with the endpoint's secret (the form
//! Stripe made common). The timestamp is signed too, so a receiver that
//! refuses old timestamps also refuses replayed deliveries.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Chatctl-Signature";

/// The header's value for `body` sent at `timestamp` (Unix seconds).
/// (HMAC takes keys of any length; the error is the crate's general type.)
pub fn sign(
    secret: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // python3: hmac.new(b'whsec_test', b'1764547200.{"id":"evt_1"}', hashlib.sha256).hexdigest()
        assert_eq!(
            sign("whsec_test", 1_764_547_200, br#"{"id":"evt_1"}"#).unwrap(),
            "t=1764547200,v1=0a07a2cf0a347bae9dd33585a92096a2b79f52f34d76a69c560e5d2e48932a4d"
        );
    }
}
