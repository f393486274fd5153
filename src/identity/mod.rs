//! Who is who: signed guest tokens for chat participants and bcrypt passwords
//! for accounts.

pub mod guest;
pub mod password;

pub use guest::{GuestTokens, TokenError};
