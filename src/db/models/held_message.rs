//! Messages held for approval in approve-first rooms, until a moderator
//! approves (they are posted) or rejects them.

use diesel::prelude::*;
use serde::Serialize;

use super::{HeldMessageId, Participant, ParticipantId, RoomId, SiteId};
use crate::db::schema::{held_messages, participants, rooms};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// A message waiting for a moderator in an approve-first room. It has no seq:
/// nobody sees it until it is approved and goes through the writer.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = held_messages)]
pub struct HeldMessage {
    pub id: HeldMessageId,
    pub site_id: SiteId,
    pub room_id: RoomId,
    pub participant_id: ParticipantId,
    pub cid: String,
    pub body: String,
    pub ip: Option<String>,
    pub created_at: i64,
    /// Rejected by a moderator: out of the queue, kept so that its cid stays
    /// its author's and a retry is refused rather than queued again.
    pub rejected_at: Option<i64>,
}

/// A held message with its author and room name, for the moderation queue.
pub type HeldWithContext = (HeldMessage, Participant, String);

impl HeldMessage {
    /// Holds a message; `None` when it is new, else the message its author
    /// held before under this `cid` (stored once; the caller tells a retry
    /// from a reuse).
    pub fn hold(
        conn: &mut DbConn,
        site: SiteId,
        room: RoomId,
        participant: ParticipantId,
        cid: &str,
        body: &str,
        ip: Option<&str>,
    ) -> Result<Option<HeldMessage>, DbError> {
        let inserted = with_backend!(conn, c => diesel::insert_into(held_messages::table)
            .values((
                held_messages::site_id.eq(site),
                held_messages::room_id.eq(room),
                held_messages::participant_id.eq(participant),
                held_messages::cid.eq(cid),
                held_messages::body.eq(body),
                held_messages::ip.eq(ip),
                held_messages::created_at.eq(now_ms()),
            ))
            // A cid sent again is held once (and on PostgreSQL a caught
            // unique violation would abort the caller's transaction).
            .on_conflict_do_nothing()
            .execute(c))?;
        if inserted > 0 {
            return Ok(None);
        }
        Self::find_by_cid(conn, participant, cid)
    }

    /// The message its author holds under this cid, if any.
    pub fn find_by_cid(
        conn: &mut DbConn,
        participant: ParticipantId,
        cid: &str,
    ) -> Result<Option<HeldMessage>, DbError> {
        with_backend!(conn, c => held_messages::table
            .filter(held_messages::participant_id.eq(participant))
            .filter(held_messages::cid.eq(cid))
            .select(HeldMessage::as_select())
            .first(c)
            .optional())
    }

    /// The held messages among these `(participant, cid)` pairs (one query
    /// on PostgreSQL: `by_cid`).
    pub fn find_by_cids(
        conn: &mut DbConn,
        keys: &[(ParticipantId, &str)],
    ) -> Result<Vec<HeldMessage>, DbError> {
        let columns =
            "t.id, t.site_id, t.room_id, t.participant_id, t.cid, t.body, t.ip, t.created_at, \
             t.rejected_at";
        super::by_cid::find_by_cids(conn, keys, "held_messages", columns, Self::find_by_cid)
    }

    /// A message waiting in the queue (not rejected).
    pub fn find(conn: &mut DbConn, id: HeldMessageId) -> Result<Option<HeldMessage>, DbError> {
        with_backend!(conn, c => held_messages::table
            .find(id)
            .filter(held_messages::rejected_at.is_null())
            .select(HeldMessage::as_select())
            .first(c)
            .optional())
    }

    /// Removes it from the queue to post it; false when someone else
    /// already approved or rejected it.
    pub fn take(conn: &mut DbConn, id: HeldMessageId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::delete(held_messages::table
            .find(id)
            .filter(held_messages::rejected_at.is_null()))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Marks it rejected (out of the queue, its cid still its author's);
    /// false when someone else already approved or rejected it.
    pub fn reject(conn: &mut DbConn, id: HeldMessageId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(held_messages::table
            .find(id)
            .filter(held_messages::rejected_at.is_null()))
            .set(held_messages::rejected_at.eq(now_ms()))
            .execute(c))?;
        Ok(n > 0)
    }

    /// The queue on these sites (`None`: all), oldest first.
    pub fn queue(
        conn: &mut DbConn,
        sites: Option<&[SiteId]>,
        limit: i64,
    ) -> Result<Vec<HeldWithContext>, DbError> {
        with_backend!(conn, c => {
            let mut q = held_messages::table
                .inner_join(participants::table)
                .inner_join(rooms::table)
                .select((HeldMessage::as_select(), Participant::as_select(), rooms::name))
                .into_boxed();
            q = q.filter(held_messages::rejected_at.is_null());
            if let Some(sites) = sites {
                q = q.filter(held_messages::site_id.eq_any(sites.to_vec()));
            }
            q.order(held_messages::id).limit(limit).load(c)
        })
    }

    pub fn count(conn: &mut DbConn, site: SiteId) -> Result<i64, DbError> {
        with_backend!(conn, c => held_messages::table
            .filter(held_messages::site_id.eq(site))
            .filter(held_messages::rejected_at.is_null())
            .count()
            .get_result(c))
    }
}
