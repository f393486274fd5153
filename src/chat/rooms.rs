//! Finding or creating the room a client joins, and the history it gets.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::holds::Holds;
use super::protocol::{ErrorCode, MessageView, WelcomeMode, Who};
use super::recent::{Loaded, Row, WelcomePage, CLOCK_MARGIN_MS, DELETED_MAX, DELETIONS_KEPT};
use super::refusal::Refusal;
use crate::db::models::message::WithAuthor;
use crate::db::models::{Message, Participant, Room, RoomId, SiteId};
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
    MessageView::new(
        message.seq,
        message.id.0,
        who(&author),
        message.body,
        message.created_at,
    )
}

/// Opens a room for a visitor (or returns it, if someone opened it
/// meanwhile), within the site's quota of rooms in use (see
/// [`within_quota`]): rooms opened and abandoned do not lock the site. A
/// room this opens is held for this server (`holds`) in the transaction that
/// creates it: it is never in the database without being in use, and a
/// refusal leaves nothing behind. A room someone else opened is returned
/// without a hold (the caller holds it, see `Holds::wanted`).
pub fn open_room(
    conn: &mut DbConn,
    holds: &Holds,
    site: SiteId,
    name: &str,
) -> Result<Room, Refusal> {
    if let Some(room) = Room::find_by_name(conn, site, name)? {
        return Ok(room);
    }
    let (room, new) = conn.write_transaction(|conn| {
        let (room, new) = Room::open_for_visitor(conn, site, name)?;
        if new {
            holds.hold_in(conn, &room)?;
            enqueue(conn, Some(site), &room_created(&room, "visitor"))?;
        }
        Ok::<_, Refusal>((room, new))
    })?;
    if new {
        holds.mark(room.id);
    }
    Ok(room)
}

/// Refuses with `too_many_rooms` when the site has as many rooms in use as
/// its quota allows, `room` aside: rooms with messages, rooms an admin
/// created, and rooms someone is in on any server (`chat::holds`). Every
/// way into a room not in use yet asks here or in the writer, under the
/// site's quota lock ([`Room::quota_full`]) and in the transaction that
/// brings the room into use, so that they count in turn and the quota is
/// never exceeded: a visitor's join (`Holds::hold_in`, which also holds a
/// room it opens, in the transaction that creates it), the server API
/// creating a room (`moderation::rooms`), and a room's first message
/// (`writer::quota`, which counts a room nobody is in as coming into use).
pub fn within_quota(conn: &mut DbConn, site: SiteId, room: RoomId) -> Result<(), Refusal> {
    if Room::quota_full(conn, site, room)? {
        return Err(Refusal::new(
            ErrorCode::TooManyRooms,
            "This site has reached its room limit.",
        ));
    }
    Ok(())
}

/// Messages the client may still show (at or below `since`) that were
/// deleted after it got message `since`: it was not there to be told.
fn deleted_while_away(conn: &mut DbConn, room: RoomId, since: i64) -> Result<Vec<i64>, DbError> {
    match Message::written_at(conn, room, since)? {
        Some(at) => {
            Message::deleted_after(conn, room, since, at - CLOCK_MARGIN_MS, DELETED_MAX as i64)
        }
        None => Ok(Vec::new()),
    }
}

fn shared(messages: Vec<WithAuthor>) -> Vec<Arc<MessageView>> {
    messages.into_iter().map(|m| Arc::new(view(m))).collect()
}

/// The history a joining client needs: latest page, exact resume, or a reset.
/// [`Window::answer`](super::recent::Window::answer) gives the same from memory.
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
            messages: shared(messages),
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
        messages: shared(messages),
        more,
        deleted: Vec::new(),
    })
}

/// The room's last `rows` rows (deleted ones too) and what a [`Window`](super::recent::Window)
/// must know of the rest, to answer joins from memory.
pub fn load_recent(conn: &mut DbConn, room: RoomId, rows: usize) -> Result<Loaded, DbError> {
    let upto = Room::find(conn, room)?.last_seq;
    let read = Message::last_rows(conn, room, upto, rows as i64)?;
    let whole = read.len() < rows;
    let rows: Vec<Row> = read
        .into_iter()
        .map(|(m, author)| Row {
            seq: m.seq,
            created_at: m.created_at,
            message: m.deleted_at.is_none().then(|| Arc::new(view((m, author)))),
        })
        .collect();
    let (floor_at, older_visible) = match rows.first() {
        Some(first) if !whole => (
            Message::written_at(conn, room, first.seq - 1)?,
            Message::exists_before(conn, room, first.seq)?,
        ),
        _ => (None, false),
    };
    // Complete for every `deleted_while_away` the window may answer: those
    // after its oldest row's time (or the one below), less the margin.
    let oldest = rows.iter().map(|r| r.created_at).chain(floor_at).min();
    let floor = oldest.map_or(i64::MIN, |at| at - CLOCK_MARGIN_MS);
    let mut deletions = Message::deletions_after(conn, room, floor, DELETIONS_KEPT as i64 + 1)?;
    let deletions_floor = match deletions.get(DELETIONS_KEPT) {
        // Too many to keep: complete above the oldest one left out.
        Some(&(_, at)) => {
            deletions.retain(|(_, t)| *t > at);
            at
        }
        None => floor,
    };
    Ok(Loaded {
        upto,
        rows,
        whole,
        floor_at,
        older_visible,
        deletions,
        deletions_floor,
    })
}
