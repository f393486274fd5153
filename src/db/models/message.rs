//! Messages: stored with their room's `seq`, looked up by seq range for
//! history and resume, by client id (`cid`) for idempotent sends. A deleted message keeps its
//! row and seq, marked by `deleted_at`, and history skips it.

use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde::Serialize;

use super::{MessageId, Participant, ParticipantId, RoomId, SiteId};
use crate::db::schema::{messages, participants, rooms};
use crate::db::{DbConn, DbError};
use crate::with_backend;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub site_id: SiteId,
    pub room_id: RoomId,
    pub seq: i64,
    pub participant_id: ParticipantId,
    pub cid: Option<String>,
    pub body: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage {
    pub site_id: SiteId,
    pub room_id: RoomId,
    pub seq: i64,
    pub participant_id: ParticipantId,
    pub cid: Option<String>,
    pub body: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// A visible message with its author, as history pages need it.
pub type WithAuthor = (Message, Participant);

impl Message {
    /// The newest `limit` visible messages, oldest first.
    pub fn latest(conn: &mut DbConn, room: RoomId, limit: i64) -> Result<Vec<WithAuthor>, DbError> {
        Self::newest_below(conn, room, i64::MAX, false, limit)
    }

    /// The newest `limit` messages with seq below `below`, oldest first; deleted ones too when
    /// `with_deleted`. One query (and one cached statement) for the pages that end at a seq.
    fn newest_below(
        conn: &mut DbConn,
        room: RoomId,
        below: i64,
        with_deleted: bool,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        let mut page: Vec<WithAuthor> = with_backend!(conn, c => messages::table
            .inner_join(participants::table)
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.lt(below))
            .filter(messages::deleted_at.is_null().or(with_deleted.into_sql::<Bool>()))
            .order(messages::seq.desc())
            .limit(limit)
            .select((Message::as_select(), Participant::as_select()))
            .load(c))?;
        page.reverse();
        Ok(page)
    }

    /// When each room of the site last got a message (deleted ones count: the
    /// room was active).
    pub fn last_activity(
        conn: &mut DbConn,
        site: SiteId,
    ) -> Result<std::collections::HashMap<RoomId, i64>, DbError> {
        let rows: Vec<(RoomId, Option<i64>)> = with_backend!(conn, c => messages::table
            .filter(messages::site_id.eq(site))
            .group_by(messages::room_id)
            .select((messages::room_id, diesel::dsl::max(messages::created_at)))
            .load(c))?;
        Ok(rows
            .into_iter()
            .filter_map(|(room, at)| at.map(|at| (room, at)))
            .collect())
    }

    /// Visible messages with seq above `after`, oldest first, at most `limit`.
    pub fn after(
        conn: &mut DbConn,
        room: RoomId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        Self::between(conn, room, after, i64::MAX, limit)
    }

    /// The seqs at or below `upto` of messages deleted after `since` (Unix
    /// ms), ascending; the `limit` most recently deleted.
    pub fn deleted_after(
        conn: &mut DbConn,
        room: RoomId,
        upto: i64,
        since: i64,
        limit: i64,
    ) -> Result<Vec<i64>, DbError> {
        let mut seqs: Vec<i64> = with_backend!(conn, c => messages::table
            .filter(messages::room_id.eq(room))
            .filter(messages::deleted_at.gt(since))
            .filter(messages::seq.le(upto))
            .order(messages::deleted_at.desc())
            .limit(limit)
            .select(messages::seq)
            .load(c))?;
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The newest `limit` rows at or below `upto`, deleted ones included,
    /// oldest first (what the in-memory history of a room starts from).
    pub fn last_rows(
        conn: &mut DbConn,
        room: RoomId,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        Self::newest_below(conn, room, upto.saturating_add(1), true, limit)
    }

    /// `(seq, deleted_at)` of the room's messages deleted after `since`
    /// (Unix ms), the `limit` most recently deleted first.
    pub fn deletions_after(
        conn: &mut DbConn,
        room: RoomId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>, DbError> {
        let rows: Vec<(i64, Option<i64>)> = with_backend!(conn, c => messages::table
            .filter(messages::room_id.eq(room))
            .filter(messages::deleted_at.gt(since))
            .order(messages::deleted_at.desc())
            .limit(limit)
            .select((messages::seq, messages::deleted_at))
            .load(c))?;
        Ok(rows
            .into_iter()
            .filter_map(|(seq, at)| Some((seq, at?)))
            .collect())
    }

    /// When the last message at or below `seq` was written (deleted or not).
    pub fn written_at(conn: &mut DbConn, room: RoomId, seq: i64) -> Result<Option<i64>, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.le(seq))
            .order(messages::seq.desc())
            .select(messages::created_at)
            .first(c)
            .optional())
    }

    /// Visible messages with seq in (`after`, `upto`], oldest first, at most `limit`.
    pub fn between(
        conn: &mut DbConn,
        room: RoomId,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        with_backend!(conn, c => messages::table
            .inner_join(participants::table)
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.gt(after))
            .filter(messages::seq.le(upto))
            .filter(messages::deleted_at.is_null())
            .order(messages::seq.asc())
            .limit(limit)
            .select((Message::as_select(), Participant::as_select()))
            .load(c))
    }

    /// Up to `limit` visible messages older than `before`, oldest first.
    pub fn before(
        conn: &mut DbConn,
        room: RoomId,
        before: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        Self::newest_below(conn, room, before, false, limit)
    }

    /// Whether any visible message is older than `seq`.
    pub fn exists_before(conn: &mut DbConn, room: RoomId, seq: i64) -> Result<bool, DbError> {
        let found = with_backend!(conn, c => messages::table
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.lt(seq))
            .filter(messages::deleted_at.is_null())
            .select(messages::id)
            .first::<MessageId>(c)
            .optional())?;
        Ok(found.is_some())
    }

    pub fn find_by_cid(
        conn: &mut DbConn,
        participant: ParticipantId,
        cid: &str,
    ) -> Result<Option<Message>, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::participant_id.eq(participant))
            .filter(messages::cid.eq(cid))
            .select(Message::as_select())
            .first(c)
            .optional())
    }

    /// When (`created_at`, ms) the participant's last message in the room
    /// stored after `since` (ms) and after the room's slow mode was turned on
    /// (`rooms.slow_mode_since`) was, if any; deleted ones count (they were
    /// posted). Uses the `(participant_id, created_at)` index.
    pub fn last_in_room_by(
        conn: &mut DbConn,
        room: RoomId,
        participant: ParticipantId,
        since: i64,
    ) -> Result<Option<i64>, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::participant_id.eq(participant))
            .filter(messages::created_at.gt(since))
            .filter(messages::room_id.eq(room))
            .filter(messages::created_at.nullable().gt(rooms::table
                .find(room)
                .select(rooms::slow_mode_since)
                .single_value()))
            .select(diesel::dsl::max(messages::created_at))
            .first::<Option<i64>>(c))
    }

    pub fn find(conn: &mut DbConn, id: MessageId) -> Result<Option<Message>, DbError> {
        with_backend!(conn, c => messages::table.find(id).select(Message::as_select()).first(c).optional())
    }

    /// The visible message with this seq in the room.
    pub fn find_by_seq(
        conn: &mut DbConn,
        room: RoomId,
        seq: i64,
    ) -> Result<Option<Message>, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.eq(seq))
            .filter(messages::deleted_at.is_null())
            .select(Message::as_select())
            .first(c)
            .optional())
    }

    /// Marks the message deleted at `at` (Unix ms); false when it already was.
    pub fn mark_deleted(conn: &mut DbConn, id: MessageId, at: i64) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(messages::table.find(id).filter(messages::deleted_at.is_null()))
            .set(messages::deleted_at.eq(Some(at)))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Marks every visible message of the participant deleted at `at` (Unix
    /// ms); returns their rooms, seqs and ids.
    pub fn mark_deleted_by_participant(
        conn: &mut DbConn,
        participant: ParticipantId,
        at: i64,
    ) -> Result<Vec<(RoomId, i64, MessageId)>, DbError> {
        with_backend!(conn, c => diesel::update(
            messages::table
                .filter(messages::participant_id.eq(participant))
                .filter(messages::deleted_at.is_null()),
        )
        .set(messages::deleted_at.eq(Some(at)))
        .returning((messages::room_id, messages::seq, messages::id))
        .get_results(c))
    }

    /// Messages stored on the site since `since` (Unix ms), deleted ones included.
    pub fn count_since(conn: &mut DbConn, site: SiteId, since: i64) -> Result<i64, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::site_id.eq(site))
            .filter(messages::created_at.ge(since))
            .count()
            .get_result(c))
    }

    /// Messages of `site` in each of `hours` consecutive hours starting at
    /// `from` (epoch ms), oldest first: one indexed count per hour.
    pub fn per_hour(
        conn: &mut DbConn,
        site: SiteId,
        from: i64,
        hours: usize,
    ) -> Result<Vec<i64>, DbError> {
        (0..hours as i64)
            .map(|h| {
                let start = from + h * 3_600_000;
                with_backend!(conn, c => messages::table
                    .filter(messages::site_id.eq(site))
                    .filter(messages::created_at.ge(start))
                    .filter(messages::created_at.lt(start + 3_600_000))
                    .count()
                    .get_result(c))
            })
            .collect()
    }

    pub fn insert(conn: &mut DbConn, new: &NewMessage) -> Result<MessageId, DbError> {
        with_backend!(conn, c => diesel::insert_into(messages::table)
            .values(new)
            .returning(messages::id)
            .get_result(c))
    }

    /// Inserts unless a uniqueness constraint (the participant's `cid`, or the
    /// room's `seq`) already holds such a row; `None` then. One statement
    /// instead of a lookup before every insert, since duplicates are rare.
    ///
    /// On SQLite the id comes from `last_insert_rowid()`, not `RETURNING`:
    /// SQLite runs a `RETURNING` statement to completion into a temporary
    /// table before handing back the row, which costs more than the insert
    /// itself on the writer's path.
    pub fn insert_new(conn: &mut DbConn, new: &NewMessage) -> Result<Option<MessageId>, DbError> {
        match conn {
            DbConn::Sqlite(c) => {
                let inserted = diesel::insert_into(messages::table)
                    .values(new)
                    .on_conflict_do_nothing()
                    .execute(c)?;
                if inserted == 0 {
                    return Ok(None);
                }
                let id: i64 = diesel::select(last_insert_rowid()).get_result(c)?;
                Ok(Some(MessageId(id)))
            }
            DbConn::Pg(c) => Ok(diesel::insert_into(messages::table)
                .values(new)
                .on_conflict_do_nothing()
                .returning(messages::id)
                .get_result(c)
                .optional()?),
        }
    }

    /// Inserts all rows in one statement (one round trip on PostgreSQL) and
    /// returns `(id, room, seq)` of those inserted; rows that hit a uniqueness
    /// constraint are skipped, so a shorter answer means a conflict.
    pub fn insert_many(
        conn: &mut DbConn,
        rows: &[NewMessage],
    ) -> Result<Vec<(MessageId, RoomId, i64)>, DbError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConn::Pg(c) => Ok(diesel::insert_into(messages::table)
                .values(rows)
                .on_conflict_do_nothing()
                .returning((messages::id, messages::room_id, messages::seq))
                .get_results(c)?),
            DbConn::Sqlite(_) => {
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    if let Some(id) = Self::insert_new(conn, row)? {
                        out.push((id, row.room_id, row.seq));
                    }
                }
                Ok(out)
            }
        }
    }

    /// The stored messages among these `(participant, cid)` pairs (one
    /// query on PostgreSQL: `by_cid`).
    pub fn find_by_cids(
        conn: &mut DbConn,
        keys: &[(ParticipantId, &str)],
    ) -> Result<Vec<Message>, DbError> {
        let columns = "t.id, t.site_id, t.room_id, t.seq, t.participant_id, t.cid, t.body, t.ip, \
                       t.created_at, t.deleted_at";
        super::by_cid::find_by_cids(conn, keys, "messages", columns, Self::find_by_cid)
    }
}

diesel::define_sql_function!(fn last_insert_rowid() -> diesel::sql_types::BigInt);
