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
        with_backend!(conn, c => held_messages::table
            .filter(held_messages::participant_id.eq(participant))
            .filter(held_messages::cid.eq(cid))
            .select(HeldMessage::as_select())
            .first(c)
            .optional())
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

    /// The held messages among these `(participant, cid)` pairs: on
    /// PostgreSQL one query probing the unique `(participant_id, cid)` index
    /// per pair (as `Message::find_by_cids`), on SQLite a lookup per pair.
    pub fn find_by_cids(
        conn: &mut DbConn,
        keys: &[(ParticipantId, &str)],
    ) -> Result<Vec<HeldMessage>, DbError> {
        use diesel::sql_types::{Array, BigInt, Text};
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConn::Pg(c) => Ok(diesel::sql_query(
                "SELECT h.id, h.site_id, h.room_id, h.participant_id, h.cid, h.body, h.ip, \
                 h.created_at \
                 FROM unnest($1, $2) AS k(participant_id, cid) \
                 JOIN held_messages h ON h.participant_id = k.participant_id AND h.cid = k.cid",
            )
            .bind::<Array<BigInt>, _>(keys.iter().map(|k| k.0 .0).collect::<Vec<i64>>())
            .bind::<Array<Text>, _>(keys.iter().map(|k| k.1).collect::<Vec<&str>>())
            .load(c)?),
            DbConn::Sqlite(_) => {
                let mut found = Vec::new();
                for (participant, cid) in keys {
                    found.extend(Self::find_by_cid(conn, *participant, cid)?);
                }
                Ok(found)
            }
        }
    }

    pub fn find(conn: &mut DbConn, id: HeldMessageId) -> Result<Option<HeldMessage>, DbError> {
        with_backend!(conn, c => held_messages::table.find(id).select(HeldMessage::as_select()).first(c).optional())
    }

    /// Removes it; false when someone else already approved or rejected it.
    pub fn take(conn: &mut DbConn, id: HeldMessageId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::delete(held_messages::table.find(id)).execute(c))?;
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
            if let Some(sites) = sites {
                q = q.filter(held_messages::site_id.eq_any(sites.to_vec()));
            }
            q.order(held_messages::id).limit(limit).load(c)
        })
    }

    pub fn count(conn: &mut DbConn, site: SiteId) -> Result<i64, DbError> {
        with_backend!(conn, c => held_messages::table.filter(held_messages::site_id.eq(site)).count().get_result(c))
    }
}
