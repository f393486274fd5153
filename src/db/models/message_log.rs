//! The admin message log: filtered, newest first, keyset-paginated on
//! `(created_at, id)` so that page N costs the same as page 1 on any size of table.

use diesel::prelude::*;

use super::participant::{like_pattern, lower};
use super::{Message, MessageId, Participant, ParticipantId, RoomId, SiteId};
use crate::db::schema::{messages, participants, rooms};
use crate::db::{DbConn, DbError};
use crate::with_backend;

/// Where a page starts: strictly older than this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: MessageId,
}

impl Cursor {
    pub fn of(message: &Message) -> Cursor {
        Cursor {
            created_at: message.created_at,
            id: message.id,
        }
    }

    /// `created_at.id`, as carried in page links.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id.0)
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let (at, id) = raw.split_once('.')?;
        Some(Cursor {
            created_at: at.parse().ok()?,
            id: MessageId(id.parse().ok()?),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Sites the viewer may see; `None` means all.
    pub visible_sites: Option<Vec<SiteId>>,
    pub site: Option<SiteId>,
    pub room: Option<RoomId>,
    pub participant: Option<ParticipantId>,
    /// Substring of the text, any case.
    pub text: Option<String>,
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
}

/// A message with its author and room name.
pub type LogEntry = (Message, Participant, String);

/// Up to `limit` messages matching `filter`, newest first, older than `after`.
pub fn page(
    conn: &mut DbConn,
    filter: &LogFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<LogEntry>, DbError> {
    with_backend!(conn, c => {
        let mut q = messages::table
            .inner_join(participants::table)
            .inner_join(rooms::table)
            .select((Message::as_select(), Participant::as_select(), rooms::name))
            .into_boxed();
        if let Some(sites) = &filter.visible_sites {
            q = q.filter(messages::site_id.eq_any(sites.clone()));
        }
        if let Some(site) = filter.site {
            q = q.filter(messages::site_id.eq(site));
        }
        if let Some(room) = filter.room {
            q = q.filter(messages::room_id.eq(room));
        }
        if let Some(p) = filter.participant {
            q = q.filter(messages::participant_id.eq(p));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            q = q.filter(lower(messages::body).like(like_pattern(text)).escape('\\'));
        }
        if let Some(from) = filter.from {
            q = q.filter(messages::created_at.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(messages::created_at.lt(to));
        }
        if let Some(cursor) = after {
            // `created_at <= c` alone lets the index seek straight to the page;
            // the second condition then only drops the few rows tied at `c`.
            q = q
                .filter(messages::created_at.le(cursor.created_at))
                .filter(
                    messages::created_at
                        .lt(cursor.created_at)
                        .or(messages::id.lt(cursor.id)),
                );
        }
        q.order((messages::created_at.desc(), messages::id.desc()))
            .limit(limit)
            .load(c)
    })
}
