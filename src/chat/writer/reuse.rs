//! A post whose cid its author already used: a retry of that message (the
//! same room and text) gets the original's answer, anything else is refused
//! with `cid_reused` and stores nothing. The writer judges every post by this
//! rule, whichever way it came (WebSocket `send`, server API); approve-first
//! holds apply it too.

use super::{Post, Reply};
use crate::chat::protocol::{ErrorCode, ErrorFrame, ServerFrame};
use crate::db::models::{Room, RoomId};
use crate::db::DbConn;

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

/// Tells the sender of a post whose cid names another message (stored as
/// seq `seq` of `its_room`) that nothing was stored.
pub(super) fn refuse_reused(conn: &mut DbConn, post: Post, its_room: RoomId, seq: i64) {
    let room = if its_room == post.room {
        Some(post.room_name.clone())
    } else {
        // Rare (a client that breaks the protocol): a lookup is fine here.
        Room::find(conn, its_room)
            .inspect_err(|err| tracing::warn!(error = %err, room = %its_room, "cannot name a room"))
            .ok()
            .map(|r| r.name)
    };
    let reused = CidReused {
        room,
        seq: Some(seq),
    };
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
