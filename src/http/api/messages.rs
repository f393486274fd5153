//! `/api/v1/rooms/{room}/messages`: history in pages by `seq` (keyset:
//! `before` for older, `after` for newer), posting (through the writer, like
//! a visitor's `send`: a `seq`, live widgets get it, a repeated `cid` is
//! answered with the original), deleting.

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::rooms::{find, name};
use super::{done, id_in_path, reply, Answer, Api, ApiError, Call, Caller};
use crate::chat::protocol::{MessageView, Who};
use crate::chat::publish::{publish, Author};
use crate::db::models::message::WithAuthor;
use crate::db::models::{Message, Scope};
use crate::moderation;

/// Page size when `limit` is not given, and the largest allowed.
const PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;

fn view((message, author): WithAuthor) -> MessageView {
    MessageView::new(
        message.seq,
        message.id.0,
        crate::chat::who(&author),
        message.body,
        message.created_at,
    )
}

#[derive(Serialize)]
struct Page {
    room: String,
    /// Ascending `seq`.
    messages: Vec<MessageView>,
    /// More messages exist beyond this page in the direction it was read
    /// (older for the latest page and `before`, newer for `after`).
    more: bool,
}

/// GET /api/v1/rooms/{room}/messages?before=&after=&limit=
pub async fn history(api: &Api, caller: &Caller, room: &str, call: &Call) -> Answer {
    caller.require(Scope::Read)?;
    let limit = call.query_int("limit")?.unwrap_or(PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}."
        )));
    }
    let (before, after) = (call.query_int("before")?, call.query_int("after")?);
    // Seqs start at 1: `after=0` reads from the first message.
    if before.is_some_and(|n| n < 1) || after.is_some_and(|n| n < 0) {
        return Err(ApiError::BadRequest(
            "before must be at least 1, and after at least 0.".into(),
        ));
    }
    if before.is_some() && after.is_some() {
        return Err(ApiError::BadRequest(
            "Give before or after, not both.".into(),
        ));
    }
    let room = find(api, caller, room).await?;
    let id = room.id;
    let (messages, more) = api
        .run(move |conn| -> Result<_, crate::db::DbError> {
            Ok(match after {
                Some(after) => {
                    let mut page = Message::after(conn, id, after, limit + 1)?;
                    let more = page.len() as i64 > limit;
                    page.truncate(limit as usize);
                    (page, more)
                }
                None => {
                    let mut page = match before {
                        Some(before) => Message::before(conn, id, before, limit + 1)?,
                        None => Message::latest(conn, id, limit + 1)?,
                    };
                    let more = page.len() as i64 > limit;
                    if more {
                        page.remove(0);
                    }
                    (page, more)
                }
            })
        })
        .await?;
    reply(
        StatusCode::OK,
        &Page {
            room: room.name,
            messages: messages.into_iter().map(view).collect(),
            more,
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    cid: String,
    text: String,
    /// Post on behalf of this user of the site; without it, as the site.
    user: Option<User>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct User {
    sub: String,
    name: String,
    avatar: Option<String>,
}

#[derive(Serialize)]
struct Posted {
    room: String,
    seq: i64,
    id: i64,
    ts: i64,
    author: Who,
    text: String,
    /// The cid had been posted already: nothing new was stored.
    duplicate: bool,
    /// Connections it was handed to.
    delivered: usize,
}

/// POST /api/v1/rooms/{room}/messages
pub async fn post(api: &Api, caller: &Caller, room: &str, call: &Call) -> Answer {
    caller.require(Scope::Publish)?;
    let room = name(room)?;
    let body: NewMessage = call.json()?;
    let author = match body.user {
        None => Author::Site,
        Some(user) => Author::User {
            sub: user.sub,
            name: user.name,
            avatar: user.avatar,
        },
    };
    let posted = publish(
        &api.chat,
        caller.site.clone(),
        room,
        &body.cid,
        &body.text,
        author,
    )
    .await?;
    let status = if posted.stored.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    reply(
        status,
        &Posted {
            room: posted.room,
            seq: posted.stored.seq,
            id: posted.stored.id.0,
            ts: posted.stored.ts,
            author: posted.author,
            text: posted.text,
            duplicate: posted.stored.duplicate,
            delivered: posted.stored.delivered,
        },
    )
}

/// DELETE /api/v1/rooms/{room}/messages/{seq} — it disappears from every
/// open widget at once.
pub async fn delete(api: &Api, caller: &Caller, room: &str, seq: &str) -> Answer {
    caller.require(Scope::Moderate)?;
    let room = find(api, caller, room).await?;
    let missing = || {
        ApiError::MessageNotFound(format!(
            "There is no message {seq} in this room (it may have been deleted)."
        ))
    };
    let seq = id_in_path(seq, missing)?;
    let id = room.id;
    let message = api
        .run(move |conn| Message::find_by_seq(conn, id, seq))
        .await?
        .ok_or_else(missing)?;
    match moderation::messages::delete_message(&api.chat, caller.actor(), message.id).await {
        // Deleted meanwhile by someone else.
        Err(moderation::ModerationError::NotFound) => Err(missing()),
        other => other.map_err(ApiError::from).and_then(|()| done()),
    }
}
