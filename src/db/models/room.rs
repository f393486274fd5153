//! Rooms: a site's named conversations, with their settings (lock, slow mode,
//! approve-first, length) and `last_seq`, the counter the writer locks.

use diesel::prelude::*;
use serde::Serialize;

use super::{RoomId, SiteId};
use crate::db::schema::{room_holds, rooms};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: RoomId,
    pub site_id: SiteId,
    pub name: String,
    /// Highest committed seq; the writer advances it in the same transaction as the messages.
    pub last_seq: i64,
    pub slow_mode_secs: i32,
    pub locked: bool,
    pub approve_first: bool,
    pub max_message_chars: Option<i32>,
    pub created_at: i64,
    /// Opened by a visitor's `join` rather than created by an admin.
    pub visitor_created: bool,
}

/// What the writer reads of a room it writes in (see [`Room::lock_last_seqs`]).
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = rooms)]
pub struct LockedRoom {
    pub id: RoomId,
    pub site_id: SiteId,
    pub last_seq: i64,
    pub visitor_created: bool,
}

impl From<&Room> for LockedRoom {
    fn from(room: &Room) -> Self {
        LockedRoom {
            id: room.id,
            site_id: room.site_id,
            last_seq: room.last_seq,
            visitor_created: room.visitor_created,
        }
    }
}

impl Room {
    pub fn find_by_name(
        conn: &mut DbConn,
        site_id: SiteId,
        name: &str,
    ) -> Result<Option<Room>, DbError> {
        with_backend!(conn, c => rooms::table
            .filter(rooms::site_id.eq(site_id))
            .filter(rooms::name.eq(name))
            .select(Room::as_select())
            .first(c)
            .optional())
    }

    /// Rooms named with a `.` or `..` part between slashes (and maybe a few
    /// more: the caller checks), named so before such names were refused.
    pub fn with_dot_segments(conn: &mut DbConn) -> Result<Vec<Room>, DbError> {
        with_backend!(conn, c => rooms::table
            .filter(
                rooms::name
                    .eq(".")
                    .or(rooms::name.eq(".."))
                    .or(rooms::name.like("./%"))
                    .or(rooms::name.like("../%"))
                    .or(rooms::name.like("%/."))
                    .or(rooms::name.like("%/.."))
                    .or(rooms::name.like("%/./%"))
                    .or(rooms::name.like("%/../%")),
            )
            .select(Room::as_select())
            .order(rooms::id)
            .load(c))
    }

    /// Renames the room if it is still called `from`; false if it is not.
    pub fn rename(conn: &mut DbConn, id: RoomId, from: &str, to: &str) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(
            rooms::table.find(id).filter(rooms::name.eq(from)),
        )
        .set(rooms::name.eq(to))
        .execute(c))?;
        Ok(n > 0)
    }

    pub fn find(conn: &mut DbConn, id: RoomId) -> Result<Room, DbError> {
        with_backend!(conn, c => rooms::table.find(id).select(Room::as_select()).first(c))
    }

    /// Rooms that count toward the site's quota for good: those with
    /// messages, and those an admin created. A room a visitor opened counts
    /// from its first message (the writer checks the quota then, see
    /// `chat::writer::quota`).
    pub fn count_used(conn: &mut DbConn, site_id: SiteId) -> Result<i64, DbError> {
        with_backend!(conn, c => rooms::table
            .filter(rooms::site_id.eq(site_id))
            .filter(rooms::last_seq.gt(0).or(rooms::visitor_created.eq(false)))
            .count()
            .get_result(c))
    }

    /// Rooms in use, as a join or a room's creation counts them: those that
    /// count for good ([`Room::count_used`]) and those someone is in on any
    /// server (a hold lasting past `now`, see `chat::holds`), but `except`.
    /// A room opened and abandoned does not lock the site.
    pub fn count_in_use(
        conn: &mut DbConn,
        site_id: SiteId,
        now: i64,
        except: Option<RoomId>,
    ) -> Result<i64, DbError> {
        let held = room_holds::table
            .filter(room_holds::until.gt(now))
            .select(room_holds::room_id);
        let except = except.unwrap_or(RoomId(0));
        with_backend!(conn, c => rooms::table
            .filter(rooms::site_id.eq(site_id))
            .filter(rooms::id.ne(except))
            .filter(
                rooms::last_seq
                    .gt(0)
                    .or(rooms::visitor_created.eq(false))
                    .or(rooms::id.eq_any(held)),
            )
            .count()
            .get_result(c))
    }

    /// Whether the site has as many rooms in use ([`Room::count_in_use`])
    /// as its quota allows, `except` aside. Locks the quota until the
    /// transaction ends ([`Site::lock_room_quota`]): call it after the
    /// transaction's own row writes, as the writer locks rooms, then sites.
    pub fn quota_full(conn: &mut DbConn, site: SiteId, except: RoomId) -> Result<bool, DbError> {
        let quota = super::Site::lock_room_quota(conn, site)?;
        Ok(Self::count_in_use(conn, site, now_ms(), Some(except))? >= i64::from(quota))
    }

    /// Whether someone is in `room` on a server (a hold lasting past `now`,
    /// see `chat::holds`), the hold of instance `besides` aside.
    pub fn is_held(
        conn: &mut DbConn,
        room: RoomId,
        now: i64,
        besides: Option<i64>,
    ) -> Result<bool, DbError> {
        let holds: i64 = with_backend!(conn, c => {
            let mut holds = room_holds::table
                .filter(room_holds::room_id.eq(room))
                .filter(room_holds::until.gt(now))
                .into_boxed();
            if let Some(instance) = besides {
                holds = holds.filter(room_holds::instance.ne(instance));
            }
            holds.count().get_result(c)
        })?;
        Ok(holds > 0)
    }

    /// The rooms with these ids (those that exist).
    pub fn find_many(conn: &mut DbConn, ids: &[RoomId]) -> Result<Vec<Room>, DbError> {
        with_backend!(conn, c => rooms::table
            .filter(rooms::id.eq_any(ids))
            .select(Room::as_select())
            .load(c))
    }

    pub fn list_for_site(conn: &mut DbConn, site_id: SiteId) -> Result<Vec<Room>, DbError> {
        with_backend!(conn, c => rooms::table
            .filter(rooms::site_id.eq(site_id))
            .select(Room::as_select())
            .order(rooms::name)
            .load(c))
    }

    /// Replaces the moderation settings; they apply from the next message on.
    /// Turning slow mode on also sets `slow_mode_since` (now).
    pub fn update_settings(
        conn: &mut DbConn,
        id: RoomId,
        settings: &RoomSettings,
    ) -> Result<(), DbError> {
        // Turned on: messages stored before do not count against it.
        if settings.slow_mode_secs > 0 {
            let off = rooms::table.find(id).filter(rooms::slow_mode_secs.eq(0));
            let now = crate::db::now_ms();
            with_backend!(conn, c => diesel::update(off).set(rooms::slow_mode_since.eq(now)).execute(c))?;
        }
        with_backend!(conn, c => diesel::update(rooms::table.find(id)).set(settings).execute(c))?;
        Ok(())
    }

    pub fn set_last_seq(conn: &mut DbConn, id: RoomId, seq: i64) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(rooms::table.find(id)).set(rooms::last_seq.eq(seq)).execute(c))?;
        Ok(())
    }

    /// PostgreSQL: locks the rooms' rows until the transaction ends and
    /// returns them. Rows are locked in id order (the lock sits above the
    /// sort), so two writers locking overlapping sets cannot deadlock; a
    /// writer on another instance waits here for the commit of the one
    /// before it, so commit order per room is seq order.
    pub fn lock_last_seqs(conn: &mut DbConn, ids: &[RoomId]) -> Result<Vec<LockedRoom>, DbError> {
        let rows = rooms::table.filter(rooms::id.eq_any(ids)).order(rooms::id);
        match conn {
            DbConn::Pg(c) => rows
                .select(LockedRoom::as_select())
                .for_update()
                .load(c)
                .map_err(DbError::from),
            DbConn::Sqlite(c) => rows
                .select(LockedRoom::as_select())
                .load(c)
                .map_err(DbError::from),
        }
    }

    /// Moves several rooms' `last_seq` in one statement on PostgreSQL.
    pub fn set_last_seqs(conn: &mut DbConn, seqs: &[(RoomId, i64)]) -> Result<(), DbError> {
        use diesel::sql_types::{Array, BigInt};
        match conn {
            DbConn::Pg(c) => {
                diesel::sql_query(
                    "UPDATE rooms SET last_seq = v.s FROM unnest($1, $2) AS v(id, s) WHERE rooms.id = v.id",
                )
                .bind::<Array<BigInt>, _>(seqs.iter().map(|s| s.0 .0).collect::<Vec<i64>>())
                .bind::<Array<BigInt>, _>(seqs.iter().map(|s| s.1).collect::<Vec<i64>>())
                .execute(c)?;
            }
            DbConn::Sqlite(_) => {
                for &(id, seq) in seqs {
                    Self::set_last_seq(conn, id, seq)?;
                }
            }
        }
        Ok(())
    }

    /// Creates the room (an admin's); when it exists already, returns that one.
    pub fn create(conn: &mut DbConn, site_id: SiteId, name: &str) -> Result<Room, DbError> {
        Self::insert(conn, site_id, name, false).map(|(room, _)| room)
    }

    /// Creates the room (an admin's); when it exists already, returns that
    /// one and false.
    pub fn create_new(
        conn: &mut DbConn,
        site_id: SiteId,
        name: &str,
    ) -> Result<(Room, bool), DbError> {
        Self::insert(conn, site_id, name, false)
    }

    /// Opens the room for a visitor who joined it; when another connection
    /// opened it first, returns that one (and false).
    pub fn open_for_visitor(
        conn: &mut DbConn,
        site_id: SiteId,
        name: &str,
    ) -> Result<(Room, bool), DbError> {
        Self::insert(conn, site_id, name, true)
    }

    fn insert(
        conn: &mut DbConn,
        site_id: SiteId,
        name: &str,
        visitor: bool,
    ) -> Result<(Room, bool), DbError> {
        let inserted = with_backend!(conn, c => diesel::insert_into(rooms::table)
            .values((
                rooms::site_id.eq(site_id),
                rooms::name.eq(name),
                rooms::created_at.eq(now_ms()),
                rooms::visitor_created.eq(visitor),
            ))
            // DO NOTHING, not a caught unique violation: on PostgreSQL a
            // failed statement aborts the caller's whole transaction.
            .on_conflict_do_nothing()
            .returning(Room::as_returning())
            .get_result(c)
            .optional())?;
        match inserted {
            Some(room) => Ok((room, true)),
            None => Self::find_by_name(conn, site_id, name)?
                .ok_or(DbError::NotFound)
                .map(|room| (room, false)),
        }
    }

    /// Deletes the room with its messages, reports and held messages.
    pub fn delete(conn: &mut DbConn, id: RoomId) -> Result<(), DbError> {
        let deleted = with_backend!(conn, c => diesel::delete(rooms::table.find(id)).execute(c))?;
        if deleted == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// Rooms of a site that visitors opened before `created_before` and
    /// nobody ever wrote in (no message, none held for review), and that no
    /// running server holds for someone in them.
    pub fn unused(
        conn: &mut DbConn,
        site_id: SiteId,
        created_before: i64,
    ) -> Result<Vec<Room>, DbError> {
        use crate::db::schema::{held_messages, room_holds};
        let now = now_ms();
        with_backend!(conn, c => rooms::table
            .filter(rooms::site_id.eq(site_id))
            .filter(rooms::visitor_created.eq(true))
            .filter(rooms::last_seq.eq(0))
            .filter(rooms::created_at.le(created_before))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                held_messages::table.filter(held_messages::room_id.eq(rooms::id)),
            )))
            // Someone is in it on a running server (see `chat::holds`).
            .filter(diesel::dsl::not(diesel::dsl::exists(
                room_holds::table
                    .filter(room_holds::room_id.eq(rooms::id))
                    .filter(room_holds::until.gt(now)),
            )))
            .select(Room::as_select())
            .order(rooms::id)
            .load(c))
    }
}

/// The settings a moderator changes on a room.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = rooms, treat_none_as_null = true)]
pub struct RoomSettings {
    pub slow_mode_secs: i32,
    pub locked: bool,
    pub approve_first: bool,
    /// `None`: the site's limit applies.
    pub max_message_chars: Option<i32>,
}
