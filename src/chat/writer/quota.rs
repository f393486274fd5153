//! The site's room quota at a room's first message. A join counts the rooms
//! in use (`chat::rooms`), but people may join rooms while the quota has room
//! and write in them later, on any instance: the writer decides, in the
//! transaction that would store it, whether a room's first message may bring
//! the room into use. Rooms that count are those with messages and those an
//! admin created. The site's row is locked (after the rooms', as every writer
//! does) so that writers of several instances count in turn.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::store::Plan;
use super::{Post, Reply};
use crate::db::models::room::LockedRoom;
use crate::db::models::{Room, RoomId, Site, SiteId};
use crate::db::{DbConn, DbError};

/// One batch's view of the quota of the sites it opens rooms in.
#[derive(Default)]
pub(super) struct Quota {
    /// Per site: rooms that count (this batch's new ones included), and the quota.
    sites: HashMap<SiteId, (i64, i64)>,
    /// Rooms this batch brings into use.
    opened: HashSet<RoomId>,
}

impl Quota {
    /// Whether `post` may be stored in `room` (as read or locked before the
    /// batch's own messages).
    pub fn admits(
        &mut self,
        conn: &mut DbConn,
        room: &LockedRoom,
        post: &Post,
    ) -> Result<bool, DbError> {
        if room.last_seq > 0 || !room.visitor_created || self.opened.contains(&room.id) {
            return Ok(true);
        }
        let (used, quota) = match self.sites.entry(room.site_id) {
            Entry::Occupied(site) => site.into_mut(),
            Entry::Vacant(site) => {
                let quota = Site::lock_room_quota(conn, room.site_id)?;
                let used = Room::count_used(conn, room.site_id)?;
                site.insert((used, quota.into()))
            }
        };
        // A moderator approving a held message acts for the site, like an
        // admin creating a room: not bound by the quota.
        let approved = matches!(post.reply, Reply::Nobody);
        if *used < *quota || approved {
            *used += 1;
            self.opened.insert(room.id);
            return Ok(true);
        }
        Ok(false)
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
