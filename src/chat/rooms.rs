//! Finding or creating the room a client joins, and the history it gets.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::protocol::{ErrorCode, MessageView, WelcomeMode, Who};
use super::refusal::Refusal;
use crate::db::models::message::WithAuthor;
use crate::db::models::{Message, Participant, Room, RoomId, Site};
use crate::db::{DbConn, DbError};
use crate::input::NameKey;
use crate::webhooks::outbox::{enqueue, room_created};

/// How clients see a participant.
pub fn who(p: &Participant) -> Who {
    Who {
        id: p.id.0,
        nick: p.nick.as_str().into(),
        kind: p.kind.as_str().into(),
        avatar: p.avatar_url.as_deref().map(Into::into),
        look: Some(look(p)),
    }
}

/// Eight hex digits shared by look-alike names: a hash of the name's folded
/// key (`input::names`), so that clients compare names as the server does
/// without the Unicode tables, and without the key's length on every message.
fn look(p: &Participant) -> Arc<str> {
    let key = match &p.name_key {
        Some(key) => Sha256::digest(key),
        // A guest last seen before keys were stored.
        None => Sha256::digest(NameKey::of(&p.nick).folded),
    };
    hex::encode(&key[..4]).into()
}

pub fn view((message, author): WithAuthor) -> MessageView {
    MessageView {
        seq: message.seq,
        id: message.id.0,
        author: who(&author),
        text: message.body,
        ts: message.created_at,
    }
}

/// Opens a room for a visitor (or returns it, if someone opened it
/// meanwhile). The quota counts rooms in use — with messages, or created by
/// an admin — so rooms opened and abandoned do not lock the site.
pub fn open_room(conn: &mut DbConn, site: &Site, name: &str) -> Result<Room, Refusal> {
    if let Some(room) = Room::find_by_name(conn, site.id, name)? {
        return Ok(room);
    }
    if Room::count_in_use(conn, site.id)? >= i64::from(site.max_rooms) {
        return Err(Refusal::new(
            ErrorCode::TooManyRooms,
            "This site has reached its room limit.",
        ));
    }
    let site = site.id;
    conn.write_transaction(|conn| {
        let (room, new) = Room::open_for_visitor(conn, site, name)?;
        if new {
            enqueue(conn, Some(site), &room_created(&room, "visitor"))?;
        }
        Ok(room)
    })
}

pub struct WelcomePage {
    /// The room's last committed seq when the page was read.
    pub seq: i64,
    pub mode: WelcomeMode,
    pub messages: Vec<WithAuthor>,
    pub more: bool,
    /// Resumed only: messages at or below `since` deleted while the client
    /// may have been away.
    pub deleted: Vec<i64>,
}

/// Most deletions a resumed `welcome` lists (the most recent ones).
const DELETED_MAX: i64 = 1000;
/// Clocks of the instances that wrote and deleted may differ: deletions
/// this much older than the client's last message are listed too (a
/// repeated deletion is harmless, a missed one is not).
const CLOCK_MARGIN_MS: i64 = 5 * 60 * 1000;

/// Messages the client may still show (at or below `since`) that were
/// deleted after it got message `since`: it was not there to be told.
fn deleted_while_away(conn: &mut DbConn, room: RoomId, since: i64) -> Result<Vec<i64>, DbError> {
    match Message::written_at(conn, room, since)? {
        Some(at) => Message::deleted_after(conn, room, since, at - CLOCK_MARGIN_MS, DELETED_MAX),
        None => Ok(Vec::new()),
    }
}

/// The history a joining client needs: latest page, exact resume, or a reset.
pub fn load_welcome(
    conn: &mut DbConn,
    room: RoomId,
    since: Option<i64>,
    page: i64,
    cap: i64,
) -> Result<WelcomePage, DbError> {
    let seq = Room::find(conn, room)?.last_seq;
    if let Some(since) = since.filter(|s| *s >= 0 && *s <= seq && seq - s <= cap) {
        let messages = Message::after(conn, room, since, cap)?;
        // Older than the page's first message; for an empty page, older than the
        // page's range (the client's `since` included): what `history` would find.
        let first = messages.first().map_or(since + 1, |(m, _)| m.seq);
        let more = Message::exists_before(conn, room, first)?;
        return Ok(WelcomePage {
            seq,
            mode: WelcomeMode::Resumed,
            messages,
            more,
            deleted: deleted_while_away(conn, room, since)?,
        });
    }
    let mut messages = Message::latest(conn, room, page + 1)?;
    let more = messages.len() as i64 > page;
    if more {
        messages.remove(0);
    }
    let mode = if since.is_some() {
        WelcomeMode::Reset
    } else {
        WelcomeMode::Latest
    };
    Ok(WelcomePage {
        seq,
        mode,
        messages,
        more,
        deleted: Vec::new(),
    })
}
