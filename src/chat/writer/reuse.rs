//! A post whose cid its author already used: a retry of that message (the
//! same room and text) gets the original's answer, anything else is refused
//! with `cid_reused` and stores nothing. The writer judges every post by this
//! rule, whichever way it came (WebSocket `send`, server API), against the
//! author's stored messages and those held for approval; approve-first holds
//! and approvals apply it too.

use super::{Post, Reply};
use crate::chat::protocol::{ErrorCode, ErrorFrame, ServerFrame};
use crate::db::models::{HeldMessage, Room, RoomId};
use crate::db::{DbConn, DbError};

/// The author used this cid for another message: nothing was stored. A cid
/// names one message, in one room, with one text; a post with a cid stored
/// before is a retry only when it is that message ([`is_retry`]). Answering
/// anything else with the original would tell the sender that a message it
/// never sent was posted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("This cid was used for another message{}; use a new cid for a new message.", location(.room, .seq))]
pub struct CidReused {
    /// Where the original is, when known.
    pub room: Option<String>,
    /// The original's seq; `None` while it waits for a moderator.
    pub seq: Option<i64>,
}

fn location(room: &Option<String>, seq: &Option<i64>) -> String {
    match (room, seq) {
        (Some(room), Some(seq)) => format!(" (seq {seq} in room {room:?})"),
        (Some(room), None) => format!(" (waiting for approval in room {room:?})"),
        (None, _) => String::new(),
    }
}

/// Whether a post into `room` of `text` is the message its cid already names
/// (stored in `its_room` with `its_text`): the one rule every path that
/// takes a cid applies (WebSocket `send`, API posts, approve-first holds).
pub fn is_retry(room: RoomId, text: &str, its_room: RoomId, its_text: &str) -> bool {
    room == its_room && text == its_text
}

/// Refuses the posts whose cid names a message their author holds for
/// approval in another room or with another text, and returns the others.
/// (A post of the held message itself, say once its room stopped holding,
/// goes on: approving the held one later finds it posted.)
pub(super) fn refuse_held_reuses(conn: &mut DbConn, batch: &mut Vec<Post>) -> Result<(), DbError> {
    let keys: Vec<_> = batch
        .iter()
        .map(|p| (p.participant, p.cid.as_str()))
        .collect();
    let held = HeldMessage::find_by_cids(conn, &keys)?;
    if held.is_empty() {
        return Ok(());
    }
    for post in std::mem::take(batch) {
        let its = held
            .iter()
            .find(|h| h.participant_id == post.participant && h.cid == post.cid);
        match its {
            Some(h) if !is_retry(post.room, &post.text, h.room_id, &h.body) => {
                refuse_reused(conn, post, h.room_id, None)
            }
            // A moderator rejected it: never posted, whichever way it comes.
            Some(h) if h.rejected_at.is_some() => refuse_rejected(post),
            _ => batch.push(post),
        }
    }
    Ok(())
}

/// Tells the sender of a retry of a rejected held message that it is not posted.
fn refuse_rejected(post: Post) {
    match post.reply {
        Reply::Connection(sender) => {
            let frame = ErrorFrame::new(ErrorCode::MessageBlocked, super::REJECTED)
                .reference(post.cid)
                .room(post.room_name);
            sender.reply(ServerFrame::from(frame).encode())
        }
        Reply::Caller(caller) => {
            let _ = caller.send(Err(super::NotPosted::Rejected));
        }
        Reply::Nobody => {}
    }
}

/// Tells the sender of a post whose cid names another message (stored as
/// seq `seq` of `its_room`, or held there for approval: no seq) that nothing
/// was stored.
pub(super) fn refuse_reused(conn: &mut DbConn, post: Post, its_room: RoomId, seq: Option<i64>) {
    let room = if its_room == post.room {
        Some(post.room_name.clone())
    } else {
        // Rare (a client that breaks the protocol): a lookup is fine here.
        Room::find(conn, its_room)
            .inspect_err(|err| tracing::warn!(error = %err, room = %its_room, "cannot name a room"))
            .ok()
            .map(|r| r.name)
    };
    let reused = CidReused { room, seq };
    match post.reply {
        Reply::Connection(sender) => {
            let frame = ErrorFrame::new(ErrorCode::CidReused, reused.to_string())
                .reference(post.cid)
                .room(post.room_name);
            sender.reply(ServerFrame::from(frame).encode())
        }
        Reply::Caller(caller) => {
            let _ = caller.send(Err(reused.into()));
        }
        Reply::Nobody => {
            tracing::warn!(room = %post.room, cid = %post.cid, "an approved message was not posted: its author used its cid for another message meanwhile");
        }
    }
}
