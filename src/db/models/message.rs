use diesel::prelude::*;
use serde::Serialize;

use super::{MessageId, Participant, ParticipantId, RoomId, SiteId};
use crate::db::schema::{messages, participants};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
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
        let mut page: Vec<WithAuthor> = with_backend!(conn, c => messages::table
            .inner_join(participants::table)
            .filter(messages::room_id.eq(room))
            .filter(messages::deleted_at.is_null())
            .order(messages::seq.desc())
            .limit(limit)
            .select((Message::as_select(), Participant::as_select()))
            .load(c))?;
        page.reverse();
        Ok(page)
    }

    /// Visible messages with seq in (`after`, `up_to`], oldest first, at most `limit`.
    pub fn after(
        conn: &mut DbConn,
        room: RoomId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        with_backend!(conn, c => messages::table
            .inner_join(participants::table)
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.gt(after))
            .filter(messages::deleted_at.is_null())
            .order(messages::seq.asc())
            .limit(limit)
            .select((Message::as_select(), Participant::as_select()))
            .load(c))
        .map_err(DbError::from)
    }

    /// Up to `limit` visible messages older than `before`, oldest first.
    pub fn before(
        conn: &mut DbConn,
        room: RoomId,
        before: i64,
        limit: i64,
    ) -> Result<Vec<WithAuthor>, DbError> {
        let mut page: Vec<WithAuthor> = with_backend!(conn, c => messages::table
            .inner_join(participants::table)
            .filter(messages::room_id.eq(room))
            .filter(messages::seq.lt(before))
            .filter(messages::deleted_at.is_null())
            .order(messages::seq.desc())
            .limit(limit)
            .select((Message::as_select(), Participant::as_select()))
            .load(c))?;
        page.reverse();
        Ok(page)
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
        .map_err(DbError::from)
    }

    pub fn find(conn: &mut DbConn, id: MessageId) -> Result<Option<Message>, DbError> {
        with_backend!(conn, c => messages::table.find(id).select(Message::as_select()).first(c).optional())
            .map_err(DbError::from)
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
        .map_err(DbError::from)
    }

    /// Marks the message deleted; false when it already was.
    pub fn mark_deleted(conn: &mut DbConn, id: MessageId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(messages::table.find(id).filter(messages::deleted_at.is_null()))
            .set(messages::deleted_at.eq(Some(now_ms())))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Marks every visible message of the participant deleted; returns their rooms and seqs.
    pub fn mark_deleted_by_participant(
        conn: &mut DbConn,
        participant: ParticipantId,
    ) -> Result<Vec<(RoomId, i64)>, DbError> {
        with_backend!(conn, c => diesel::update(
            messages::table
                .filter(messages::participant_id.eq(participant))
                .filter(messages::deleted_at.is_null()),
        )
        .set(messages::deleted_at.eq(Some(now_ms())))
        .returning((messages::room_id, messages::seq))
        .get_results(c))
        .map_err(DbError::from)
    }

    /// Messages stored on the site since `since` (Unix ms), deleted ones included.
    pub fn count_since(conn: &mut DbConn, site: SiteId, since: i64) -> Result<i64, DbError> {
        with_backend!(conn, c => messages::table
            .filter(messages::site_id.eq(site))
            .filter(messages::created_at.ge(since))
            .count()
            .get_result(c))
        .map_err(DbError::from)
    }

    pub fn insert(conn: &mut DbConn, new: &NewMessage) -> Result<MessageId, DbError> {
        with_backend!(conn, c => diesel::insert_into(messages::table)
            .values(new)
            .returning(messages::id)
            .get_result(c))
        .map_err(DbError::from)
    }

    /// Inserts unless a uniqueness constraint (the participant's `cid`, or the
    /// room's `seq`) already holds such a row; `None` then. One statement
    /// instead of a lookup before every insert, since duplicates are rare.
    pub fn insert_new(conn: &mut DbConn, new: &NewMessage) -> Result<Option<MessageId>, DbError> {
        with_backend!(conn, c => diesel::insert_into(messages::table)
            .values(new)
            .on_conflict_do_nothing()
            .returning(messages::id)
            .get_result(c)
            .optional())
        .map_err(DbError::from)
    }
}
