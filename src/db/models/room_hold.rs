//! Rooms a running server has someone in (see `chat::holds`): a prune, from
//! any process, leaves them alone until the hold ends or expires.

use diesel::prelude::*;

use super::RoomId;
use crate::db::schema::room_holds;
use crate::db::{DbConn, DbError};
use crate::with_backend;

pub struct RoomHold;

impl RoomHold {
    /// `instance` holds `room` until `until` (ms).
    pub fn hold(conn: &mut DbConn, room: RoomId, instance: i64, until: i64) -> Result<(), DbError> {
        let row = (
            room_holds::room_id.eq(room),
            room_holds::instance.eq(instance),
            room_holds::until.eq(until),
        );
        with_backend!(conn, c => diesel::insert_into(room_holds::table)
            .values(row)
            .on_conflict((room_holds::room_id, room_holds::instance))
            .do_update()
            .set(room_holds::until.eq(until))
            .execute(c))
        .map(drop)
    }

    /// Extends `instance`'s holds that end before `renew_before`, and have
    /// not ended by `now`, to `until` (a lapsed hold is held again only
    /// within the site's quota, see `chat::holds`).
    pub fn renew(
        conn: &mut DbConn,
        instance: i64,
        now: i64,
        renew_before: i64,
        until: i64,
    ) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::update(room_holds::table
            .filter(room_holds::instance.eq(instance))
            .filter(room_holds::until.gt(now))
            .filter(room_holds::until.lt(renew_before)))
            .set(room_holds::until.eq(until))
            .execute(c))
    }

    /// The rooms whose hold by `instance` ended by `now`.
    pub fn lapsed(conn: &mut DbConn, instance: i64, now: i64) -> Result<Vec<RoomId>, DbError> {
        with_backend!(conn, c => room_holds::table
            .filter(room_holds::instance.eq(instance))
            .filter(room_holds::until.le(now))
            .select(room_holds::room_id)
            .load(c))
    }

    pub fn release(conn: &mut DbConn, rooms: &[RoomId], instance: i64) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::delete(room_holds::table
            .filter(room_holds::room_id.eq_any(rooms))
            .filter(room_holds::instance.eq(instance)))
            .execute(c))
    }

    /// Forgets holds that ended before `before` (their servers are gone).
    pub fn forget_ended(conn: &mut DbConn, before: i64) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::delete(room_holds::table
            .filter(room_holds::until.lt(before)))
            .execute(c))
    }
}
