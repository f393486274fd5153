//! Rooms someone is in on this server, held in the database while a prune
//! could take them (opened by a visitor, nothing written yet): a prune made
//! anywhere (this server's panel, another instance's, or the command line, a
//! separate process) leaves held rooms alone. A hold is written when the first
//! person here joins, renewed while anyone is here, and dropped when the room
//! empties here; a server that dies leaves holds that expire after [`HOLD_MS`]
//! (and one that could not renew them for that long holds their rooms again
//! only within the quota). A held room is in use: it counts toward the site's
//! room quota (`chat::rooms::within_quota`), so one visitor cannot enter more
//! new rooms than the quota and then write in each. A room a visitor opens
//! is held in the transaction that creates it.

use std::collections::HashSet;
use std::sync::Mutex;

use super::protocol::ErrorCode;
use super::refusal::Refusal;
use super::rooms::within_quota;
use crate::db::models::room_hold::RoomHold;
use crate::db::models::{Room, RoomId, Site};
use crate::db::{now_ms, Db, DbConn, DbError};

/// How long a hold lasts unless renewed.
const HOLD_MS: i64 = 60_000;
/// Holds ending sooner than this are renewed (housekeeping runs every 5 s).
const RENEW_WHEN_LEFT_MS: i64 = 30_000;
/// Expired holds (of servers gone) are deleted after this long.
const FORGET_AFTER_MS: i64 = 3_600_000;

pub struct Holds {
    /// This server among the instances (`Chat::instance`).
    instance: i64,
    held: Mutex<HashSet<RoomId>>,
}

impl Holds {
    pub fn new(instance: u64) -> Self {
        Holds {
            // Stored as the same 64 bits.
            instance: instance as i64,
            held: Mutex::default(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<RoomId>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether joining `room` must write a hold first.
    pub fn wanted(&self, room: &Room) -> bool {
        room.visitor_created && room.last_seq == 0 && !self.held().contains(&room.id)
    }

    /// Holds `room` for this server; call before the joiner's welcome. A
    /// room someone is in counts toward the site's quota of rooms in use:
    /// when nobody is in it on any server and nobody wrote in it, the hold
    /// is refused (`too_many_rooms`) if the quota is used up.
    pub fn hold(&self, conn: &mut DbConn, room: &Room) -> Result<(), Refusal> {
        conn.write_transaction(|conn| self.hold_in(conn, room))?;
        self.mark(room.id);
        Ok(())
    }

    /// [`Holds::hold`]'s database part, in the caller's write transaction
    /// (opening a room holds it in the transaction that creates it, so that
    /// a refusal leaves no room behind); [`Holds::mark`] the room once it
    /// commits.
    pub fn hold_in(&self, conn: &mut DbConn, room: &Room) -> Result<(), Refusal> {
        hold_within_quota(conn, self.instance, room)
    }

    /// Notes that this server holds `room` (its hold committed).
    pub fn mark(&self, room: RoomId) {
        self.held().insert(room);
    }

    /// Drops the holds of those `rooms` nobody is in here any more
    /// (`is_live` says who is), in the background.
    pub fn release_empty(&self, db: &Db, rooms: &[RoomId], is_live: impl Fn(RoomId) -> bool) {
        let released: Vec<RoomId> = {
            let mut held = self.held();
            rooms
                .iter()
                .copied()
                .filter(|room| !is_live(*room) && held.remove(room))
                .collect()
        };
        if released.is_empty() {
            return;
        }
        let (db, instance) = (db.clone(), self.instance);
        tokio::spawn(async move {
            let done = db
                .run(move |conn| RoomHold::release(conn, &released, instance))
                .await;
            if let Err(err) = done {
                tracing::warn!(error = %err, "cannot release room holds; they expire");
            }
        });
    }

    /// Housekeeping: renews this server's holds, drops those of rooms
    /// nobody is in here any more, and forgets long-expired ones. A hold
    /// that lapsed (this server could not renew it for [`HOLD_MS`]) is not
    /// renewed blindly: its room stopped counting and its place in the
    /// site's quota may be taken, so it is held again within the quota only.
    pub async fn maintain(&self, db: &Db, live: &[RoomId], forget: bool) -> Result<(), DbError> {
        let live: HashSet<RoomId> = live.iter().copied().collect();
        let (gone, holding): (Vec<RoomId>, bool) = {
            let mut held = self.held();
            let gone = held.iter().copied().filter(|r| !live.contains(r)).collect();
            held.retain(|r| live.contains(r));
            (gone, !held.is_empty())
        };
        if gone.is_empty() && !holding && !forget {
            return Ok(());
        }
        let instance = self.instance;
        let lapsed = db
            .run(move |conn| {
                if !gone.is_empty() {
                    RoomHold::release(conn, &gone, instance)?;
                }
                let now = now_ms();
                RoomHold::renew(conn, instance, now, now + RENEW_WHEN_LEFT_MS, now + HOLD_MS)?;
                if forget {
                    RoomHold::forget_ended(conn, now - FORGET_AFTER_MS)?;
                }
                RoomHold::lapsed(conn, instance, now)
            })
            .await?;
        for room in lapsed {
            self.hold_again(db, room).await;
        }
        Ok(())
    }

    /// Holds `room` again after its hold lapsed, if this server still holds
    /// it and the quota allows; else forgets it here: the next join asks
    /// again, and the first message goes through the writer's check.
    async fn hold_again(&self, db: &Db, room: RoomId) {
        if !self.held().contains(&room) {
            return;
        }
        let instance = self.instance;
        let again = db
            .run(move |conn| {
                let found = Room::find(conn, room)?;
                conn.write_transaction(|conn| hold_within_quota(conn, instance, &found))
            })
            .await;
        match again {
            Ok(()) => {}
            Err(refused) if refused.code == ErrorCode::TooManyRooms => {
                tracing::info!(room = %room, "a lapsed room hold is not renewed: the site's room quota is used up");
                self.held().remove(&room);
            }
            // Logged as the database error it is; tried again next time.
            Err(_) => {}
        }
    }
}

/// Writes `instance`'s hold on `room`, refused (`too_many_rooms`; the
/// caller's transaction rolls back) when nobody is in the room on any other
/// server, nobody wrote in it, and the site's quota of rooms in use is used
/// up.
fn hold_within_quota(conn: &mut DbConn, instance: i64, room: &Room) -> Result<(), Refusal> {
    let now = now_ms();
    RoomHold::hold(conn, room.id, instance, now + HOLD_MS)?;
    // The site's quota is locked after the hold's row is written (rows
    // first, as the writer locks rooms, then the site), and whether the
    // room is in use already is read after that lock, so that what another
    // join or a first message committed meanwhile counts.
    Site::lock_room_quota(conn, room.site_id)?;
    let found = Room::find(conn, room.id)?;
    let in_use = found.last_seq > 0
        || !found.visitor_created
        || Room::is_held(conn, room.id, now, Some(instance))?;
    if !in_use {
        within_quota(conn, room.site_id, room.id)?;
    }
    Ok(())
}
