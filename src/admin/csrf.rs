//! CSRF protection. Every state-changing form carries a `csrf` field that must
//! equal the token stored with the session (synchronizer token). The login
//! form, which has no session yet, uses a double-submit cookie instead. On top
//! of that, cookies are `SameSite=Strict`.

use serde::Deserialize;

use super::error::{AdminError, Result};
use super::request::Request;

pub const LOGIN_COOKIE: &str = "chatctl_login";

/// Constant-time comparison, so the token cannot be guessed byte by byte.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The one field every posted form carries; the handler reads the rest.
#[derive(Deserialize)]
struct Token {
    csrf: Option<String>,
}

/// Checks the form's `csrf` field against `expected`. A body that is not a
/// form at all fails the same way: it cannot carry the token.
pub fn verify(req: &Request, expected: &str) -> Result<()> {
    match req.form::<Token>().ok().and_then(|t| t.csrf) {
        Some(sent) if !expected.is_empty() && same(&sent, expected) => Ok(()),
        _ => Err(AdminError::Csrf),
    }
}

/// The login form: the field must match the cookie set with the form.
pub fn verify_login(req: &Request) -> Result<()> {
    match req.cookie(LOGIN_COOKIE) {
        Some(cookie) if cookie.len() >= 32 => verify(req, cookie),
        _ => Err(AdminError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("abc", "ab"));
    }
}
