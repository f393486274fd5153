//! Messages a site's backend posts (the server API): as the site itself or
//! on behalf of a user it names. They take the visitors' path from the writer
//! on: the same group commit, `seq`, idempotency by `cid` and fan-out, so
//! live widgets get them like any message. The visitors' own checks (rate
//! limits, slow mode, a locked room, the word filter, approval) are theirs:
//! the site is the room's operator. What still applies: the length limit,
//! and a ban or mute of the user it posts for.

use thiserror::Error;
use tokio::sync::oneshot;

use super::cluster::control::{self, Control};
use super::protocol::Who;
use super::writer::{is_retry, CidReused, NotPosted, NotStored, Post, Reply, Stored};
use super::{who, Chat};
use crate::db::models::{
    Ban, Message, Participant, ParticipantId, ParticipantKind, Room, Site, SiteId,
};
use crate::db::DbError;
use crate::identity::host::{HostTokenError, HostUser};
use crate::input::{self, ClientId, MessageTextError, Nickname, RoomName};

/// Who a post is by.
#[derive(Debug, Clone)]
pub enum Author {
    /// The site itself: a participant of kind `system` named after the site.
    Site,
    /// A user of the site, as its JWT would name them (kind `verified`).
    User {
        sub: String,
        name: String,
        avatar: Option<String>,
    },
}

#[derive(Debug, Error)]
pub enum PublishError {
    #[error("there is no room {0:?} on this site")]
    RoomNotFound(String),
    #[error("{0}")]
    InvalidCid(String),
    #[error("{0}")]
    InvalidAuthor(String),
    #[error("the message is empty")]
    Empty,
    #[error("{0}")]
    TooLong(String),
    #[error("{name} is banned from this site: {reason}")]
    Banned { name: String, reason: String },
    #[error("{name} is muted until {until}: {reason}")]
    Muted {
        name: String,
        reason: String,
        until: i64,
    },
    /// The author used this cid for another message (another room or text).
    #[error(transparent)]
    CidReused(#[from] CidReused),
    #[error("{0}")]
    NotStored(#[from] NotStored),
    /// The room's first message, and the site has all the rooms in use its
    /// quota allows.
    #[error("{}", super::writer::ROOM_LIMIT)]
    TooManyRooms,
    /// Its cid names a held message a moderator rejected.
    #[error("{}", super::writer::REJECTED)]
    Rejected,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A message posted and stored: what an `ack` says, and the message.
#[derive(Debug, Clone)]
pub struct Published {
    pub stored: Stored,
    pub room: String,
    pub author: Who,
    pub text: String,
}

/// The participant behind `author` on `site`, created or refreshed, and
/// whether the name or picture others see changed.
fn participant(
    conn: &mut crate::db::DbConn,
    site: &Site,
    author: &Author,
) -> Result<(Participant, bool), PublishError> {
    Ok(match author {
        Author::Site => {
            // The site's name, as long as a name may be.
            let short: String = site.name.chars().take(Nickname::MAX_CHARS).collect();
            let name =
                Nickname::from_host(&short).map_or_else(|_| "Site".to_owned(), |n| n.into_inner());
            Participant::upsert_external(
                conn,
                site.id,
                ParticipantKind::System,
                "site",
                &name,
                None,
                None,
            )?
        }
        Author::User { sub, name, avatar } => {
            let user = HostUser::named(sub, name, avatar.as_deref()).map_err(|e| match e {
                HostTokenError::Malformed(why) => PublishError::InvalidAuthor(why),
                other => PublishError::InvalidAuthor(other.to_string()),
            })?;
            Participant::upsert_external(
                conn,
                site.id,
                ParticipantKind::Verified,
                &user.subject,
                user.name.as_str(),
                user.avatar.as_deref(),
                None,
            )?
        }
    })
}

/// Posts `text` into `room` of `site` and waits until it is stored and
/// broadcast. A `cid` is the author's, across rooms, and the writer judges it
/// as for a WebSocket `send`: one already stored for the same room and text
/// answers with the original message (`duplicate`); one stored for another
/// room or text is refused ([`PublishError::CidReused`]).
pub async fn publish(
    chat: &Chat,
    site: Site,
    room: RoomName,
    cid: &str,
    text: &str,
    author: Author,
) -> Result<Published, PublishError> {
    let cid = ClientId::parse(cid).map_err(|e| PublishError::InvalidCid(e.0))?;
    let site_id = site.id;
    let (found, participant) = room_and_author(chat, site, room, author).await?;
    let text = allowed_text(chat, site_id, &found, &participant, &cid, text).await?;
    let author = who(&participant);
    let (tx, rx) = oneshot::channel();
    chat.writer.post(Post {
        site: site_id,
        room: found.id,
        room_name: found.name.clone(),
        author: author.clone(),
        participant: participant.id,
        cid: cid.into_inner(),
        text: text.clone(),
        ip: None,
        slow_mode: None,
        reply: Reply::Caller(tx),
    });
    let stored = rx
        .await
        .map_err(|_| NotStored("The server is restarting; post again with the same cid."))??;
    // A retry is the same room and text: the original's, as stored.
    Ok(Published {
        stored,
        room: found.name,
        author,
        text,
    })
}

/// The room (it must exist) and the participant `author` names, created or renamed as
/// the site says (other instances are told of a new name); refused if banned.
async fn room_and_author(
    chat: &Chat,
    site: Site,
    room: RoomName,
    author: Author,
) -> Result<(Room, Participant), PublishError> {
    let name = room.as_str().to_owned();
    let instance = chat.instance;
    let (found, participant, renamed) = chat
        .db
        .run(move |conn| -> Result<_, PublishError> {
            let room = Room::find_by_name(conn, site.id, &name)?
                .ok_or_else(|| PublishError::RoomNotFound(name.clone()))?;
            let (participant, renamed) = participant(conn, &site, &author)?;
            if renamed {
                let change = Control::ParticipantChanged {
                    participant: participant.id,
                };
                control::record(conn, Some(instance), &change)?;
            }
            if participant.kind != ParticipantKind::System {
                if let Some(ban) = Ban::find_active(conn, site.id, Some(participant.id), None)? {
                    return Err(PublishError::Banned {
                        name: participant.nick,
                        reason: ban.reason,
                    });
                }
            }
            Ok((room, participant, renamed))
        })
        .await?;
    if renamed {
        super::identify::renamed_here(chat, &participant);
    }
    Ok((found, participant))
}

/// The text to post: `text` as the room's rules leave it, unless the author is muted or
/// it is too long; then only a retry of a message already stored gets through.
async fn allowed_text(
    chat: &Chat,
    site_id: SiteId,
    found: &Room,
    participant: &Participant,
    cid: &ClientId,
    text: &str,
) -> Result<String, PublishError> {
    let checked = match chat.rules.mute(site_id, participant.id).await? {
        Some(mute) => Err(PublishError::Muted {
            name: participant.nick.clone(),
            reason: mute.reason.to_string(),
            until: mute.until,
        }),
        None => checked_text(chat, site_id, found, text).await,
    };
    match checked {
        Ok(text) => Ok(text),
        // A retry of a message stored before a mute or a lower limit: the
        // writer answers with the original (as for a WebSocket `send`).
        Err(refused @ (PublishError::Muted { .. } | PublishError::TooLong(_))) => {
            stored_retry(chat, found, participant.id, cid, text)
                .await?
                .ok_or(refused)
        }
        Err(refused) => Err(refused),
    }
}

impl From<NotPosted> for PublishError {
    fn from(err: NotPosted) -> Self {
        match err {
            NotPosted::NotStored(err) => err.into(),
            NotPosted::CidReused(err) => err.into(),
            NotPosted::TooManyRooms => PublishError::TooManyRooms,
            NotPosted::Rejected => PublishError::Rejected,
        }
    }
}

/// The stored text of the message `cid` names, when `text` posted into
/// `room` is a retry of it.
async fn stored_retry(
    chat: &Chat,
    room: &Room,
    participant: ParticipantId,
    cid: &ClientId,
    text: &str,
) -> Result<Option<String>, PublishError> {
    let Ok(sent) = input::message_text(text, usize::MAX) else {
        return Ok(None);
    };
    let (room, cid) = (room.id, cid.as_str().to_owned());
    let stored = chat
        .db
        .run(move |conn| Message::find_by_cid(conn, participant, &cid))
        .await?;
    Ok(stored
        .filter(|m| is_retry(room, &sent, m.room_id, &m.body))
        .map(|m| m.body))
}

/// The text as it will be stored: the site's and the room's length limits
/// (under the server's cap), control characters removed, trimmed.
async fn checked_text(
    chat: &Chat,
    site: SiteId,
    room: &Room,
    text: &str,
) -> Result<String, PublishError> {
    let site = chat.rules.site(site).await?;
    let room_max = super::rules::RoomRules::from(room).max_message_chars;
    let max = super::rules::max_message_chars(chat.limits.max_message_chars, &site, room_max);
    input::message_text(text, max).map_err(|e| match e {
        MessageTextError::Empty => PublishError::Empty,
        MessageTextError::TooLong { .. } => {
            PublishError::TooLong(super::identify::capitalized(&e.to_string()))
        }
    })
}
