//! Who is who: signed guest tokens, users verified by the host site (JWT),
//! and bcrypt passwords.

pub mod accounts;
pub mod budget;
pub mod guest;
pub mod host;
pub mod login_throttle;
pub mod password;

pub use guest::{GuestTokens, TokenError};
