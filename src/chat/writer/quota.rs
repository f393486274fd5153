//! The site's room quota at a room's first message. A join counts the rooms
//! in use (`chat::rooms`), but people may join rooms while the quota has room
//! and write in them later, on any instance, and the server API posts into
//! rooms nobody is in: the writer decides, in the transaction that would
//! store it, whether a room's first message may bring the room into use.
//! The site's row is locked (after the rooms', as every writer does) and the
//! rooms in use are read after that lock, so that writers of several
//! instances and joins count in turn.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::store::Plan;
use super::{Post, Reply};
use crate::db::models::room::LockedRoom;
use crate::db::models::{Room, RoomId, Site, SiteId};
use crate::db::{now_ms, DbConn, DbError};

/// What one batch knows of a site's quota.
struct SiteCount {
    /// Rooms that count for good: with messages, or an admin's.
    used: i64,
    /// Rooms in use: those, and those someone is in on any server.
    in_use: i64,
    quota: i64,
}

/// One batch's view of the quota of the sites it opens rooms in.
#[derive(Default)]
pub(super) struct Quota {
    /// Per site, this batch's new rooms included.
    sites: HashMap<SiteId, SiteCount>,
    /// Rooms this batch brings into use.
    opened: HashSet<RoomId>,
}

impl Quota {
    /// Whether `post` may be stored in `room` (as read or locked before the
    /// batch's own messages). A room someone is in counts already (its
    /// join asked): its first message is refused only when the rooms that
    /// count for good fill the quota (it was lowered meanwhile). A room
    /// nobody is in (a post of the server API) comes into use with it:
    /// refused when the rooms in use fill the quota.
    pub fn admits(
        &mut self,
        conn: &mut DbConn,
        room: &LockedRoom,
        post: &Post,
    ) -> Result<bool, DbError> {
        if room.last_seq > 0 || !room.visitor_created || self.opened.contains(&room.id) {
            return Ok(true);
        }
        let now = now_ms();
        let site = match self.sites.entry(room.site_id) {
            Entry::Occupied(site) => site.into_mut(),
            Entry::Vacant(site) => {
                let quota = Site::lock_room_quota(conn, room.site_id)?;
                site.insert(SiteCount {
                    used: Room::count_used(conn, room.site_id)?,
                    in_use: Room::count_in_use(conn, room.site_id, now, None)?,
                    quota: quota.into(),
                })
            }
        };
        let held = Room::is_held(conn, room.id, now, None)?;
        let full = if held {
            site.used >= site.quota
        } else {
            site.in_use >= site.quota
        };
        // A moderator approving a held message acts for the site, like an
        // admin creating a room: not bound by the quota.
        let approved = matches!(post.reply, Reply::Nobody);
        if full && !approved {
            return Ok(false);
        }
        site.used += 1;
        if !held {
            site.in_use += 1;
        }
        self.opened.insert(room.id);
        Ok(true)
    }

    /// PostgreSQL: marks the posts to insert that the quota refuses
    /// ([`Plan::OverQuota`]) and returns the others, renumbering the plans.
    pub fn filter<'a>(
        &mut self,
        conn: &mut DbConn,
        plans: &mut [Plan],
        to_insert: Vec<&'a Post>,
        locked: &HashMap<RoomId, LockedRoom>,
    ) -> Result<Vec<&'a Post>, DbError> {
        let mut kept = Vec::with_capacity(to_insert.len());
        for plan in plans.iter_mut() {
            let Plan::Insert(k) = *plan else { continue };
            let post = to_insert[k];
            let room = locked
                .get(&post.room)
                .ok_or_else(|| DbError::Internal(format!("room {} has no row", post.room)))?;
            *plan = if self.admits(conn, room, post)? {
                kept.push(post);
                Plan::Insert(kept.len() - 1)
            } else {
                Plan::OverQuota
            };
        }
        Ok(kept)
    }
}
