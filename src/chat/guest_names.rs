//! Which names a guest may go by. Two people with one name cannot be told
//! apart, so a guest's name may not look like (by [`NameKey`]):
//!
//! - a name reserved for the site's staff or the site itself, nor hold one
//!   among its words (`nick_taken`, without a suggestion: see
//!   [`crate::input::names::reserved`]);
//! - a verified user's, member's or account's name, ever (`nick_taken`);
//! - another guest's who is present on the site now, on any instance, or said
//!   hello within the last [`RECENT_MS`] (`nick_in_use`): a name is free again
//!   once its guest has been gone that long.
//!
//! A refusal offers a free name like the refused one ("Alice 2").

use super::hub::Hub;
use super::protocol::ErrorCode;
use super::refusal::Refusal;
use crate::db::models::{name_key, ParticipantId, SiteId};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::names::reserved;
use crate::input::{NameKey, Nickname};

/// How long a guest's name stays theirs after their last hello.
pub const RECENT_MS: i64 = 60 * 60 * 1000;

/// How many numbered names ("Alice 2" ... "Alice 20") a refusal tries.
const SUGGESTIONS: usize = 19;

/// A name a guest asks for, with what can be checked of it without the
/// database done: outside the transaction that stores it, which hellos
/// share (see [`crate::db::Db::run_grouped`]).
pub struct Wanted {
    pub nick: Nickname,
    pub key: NameKey,
}

impl Wanted {
    /// Refuses a name reserved for the site's staff or the site itself, and
    /// computes the name's key.
    pub fn new(nick: Nickname, site_name: &str) -> Result<Self, Refusal> {
        let key = refuse_reserved(nick.as_str(), site_name)?;
        Ok(Wanted { nick, key })
    }
}

/// Refuses a reserved name; the key of one that is not.
fn refuse_reserved(nick: &str, site_name: &str) -> Result<NameKey, Refusal> {
    reserved::checked(nick, site_name)
        .map_err(|what| Refusal::new(ErrorCode::NickReserved, what.message(nick)))
}

/// Checks the name guest `me` keeps (asked for earlier) on the site `site`
/// called `site_name`.
pub fn check(
    conn: &mut DbConn,
    hub: &Hub,
    site: (SiteId, &str),
    nick: &str,
    me: Option<ParticipantId>,
) -> Result<(), Refusal> {
    let key = refuse_reserved(nick, site.1)?;
    check_free(conn, hub, site, nick, &key, me)
}

/// Checks that nobody else has, or had lately, a name like `nick` (its
/// `key`) on the site; guest `me` (`None`: a new guest) asks for it.
pub fn check_free(
    conn: &mut DbConn,
    hub: &Hub,
    (site, site_name): (SiteId, &str),
    nick: &str,
    key: &NameKey,
    me: Option<ParticipantId>,
) -> Result<(), Refusal> {
    let (code, message) = if name_key::taken(conn, site, key)? {
        (
            ErrorCode::NickTaken,
            format!("{nick:?} is, or looks like, the name of a signed-in user of this site. Choose another nickname."),
        )
    } else if in_use(conn, hub, site, key, me)? {
        (
            ErrorCode::NickInUse,
            format!("Someone in this chat already goes by {nick:?}, or a name that looks like it. Choose another nickname."),
        )
    } else {
        return Ok(());
    };
    Err(Refusal {
        code,
        message,
        retry_after_ms: None,
        suggestion: suggest(conn, hub, (site, site_name), nick, me)?,
        reason: None,
    })
}

/// Whether another guest with a name like this one is around.
fn in_use(
    conn: &mut DbConn,
    hub: &Hub,
    site: SiteId,
    key: &NameKey,
    me: Option<ParticipantId>,
) -> Result<bool, DbError> {
    let others = name_key::guests_named(conn, site, key, me)?;
    let since = now_ms() - RECENT_MS;
    if others.iter().any(|&(_, seen)| seen >= since) {
        return Ok(true);
    }
    if others.is_empty() {
        return Ok(false);
    }
    // Said hello long ago, and maybe still here (presence is not stored).
    let ids: Vec<i64> = others.iter().map(|(id, _)| id.0).collect();
    Ok(hub.any_present(site, &ids))
}

/// The first free name of "NAME 2" ... "NAME 20" (after "NAME 7": "NAME 8"
/// on), shortened to fit.
fn suggest(
    conn: &mut DbConn,
    hub: &Hub,
    (site, site_name): (SiteId, &str),
    nick: &str,
    me: Option<ParticipantId>,
) -> Result<Option<String>, DbError> {
    let (base, first) = match nick.rsplit_once(' ') {
        Some((base, n)) if n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base, n.parse::<usize>().unwrap_or(1) + 1)
        }
        _ => (nick, 2),
    };
    for n in first..first + SUGGESTIONS {
        let candidate = numbered(base, n);
        let key = NameKey::of(&candidate);
        if reserved::reserved(&candidate, site_name).is_none()
            && !name_key::taken(conn, site, &key)?
            && !in_use(conn, hub, site, &key, me)?
        {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// `nick` with ` n` after it, within the length limit.
fn numbered(nick: &str, n: usize) -> String {
    let suffix = format!(" {n}");
    let room = Nickname::MAX_CHARS - suffix.len();
    let base: String = nick.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_fit_the_limit() {
        assert_eq!(numbered("Alice", 2), "Alice 2");
        let long = "a".repeat(32);
        let two = numbered(&long, 12);
        assert_eq!(two.chars().count(), 32);
        assert!(two.ends_with("a 12"));
        assert_eq!(
            numbered(&format!("{} b", "x".repeat(29)), 2),
            format!("{} 2", "x".repeat(29))
        );
        assert!(Nickname::parse(&numbered("Zoë 🙂", 3)).is_ok());
    }
}
