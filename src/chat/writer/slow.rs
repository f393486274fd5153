//! Slow mode where messages are stored. A room's slow mode allows one message
//! per participant every N seconds, all their connections on every instance
//! together; each instance's `rules::SlowMarks` only see its own sends, so the
//! writer decides, in the transaction that would store a visitor's message,
//! from the stored messages: refused when the same participant has a message
//! in that room stored less than N seconds ago (or earlier in the batch).
//! The room's row is locked first (PostgreSQL: `FOR UPDATE`, as for seqs;
//! SQLite: the single writer's `BEGIN IMMEDIATE`), so writers of several
//! instances decide in turn, each seeing the other's committed messages.

use std::collections::HashMap;

use super::store::Plan;
use super::Post;
use crate::db::models::{Message, ParticipantId, RoomId};
use crate::db::{DbConn, DbError};

/// One batch's view of its authors' last messages in slow-mode rooms.
#[derive(Default)]
pub(super) struct Slow {
    /// `created_at` (ms) of the last message stored or admitted in this batch.
    last: HashMap<(RoomId, ParticipantId), i64>,
}

impl Slow {
    /// `Some(wait_ms)` when `post` comes less than its room's slow-mode gap
    /// after its author's last stored message there, `now` being the batch's
    /// time (ms since the epoch); otherwise `None`, and `post` counts as the
    /// author's last message from `now`. Call it only once the post's room
    /// is locked.
    pub fn refuses(
        &mut self,
        conn: &mut DbConn,
        post: &Post,
        now: i64,
    ) -> Result<Option<u64>, DbError> {
        let Some(secs) = post.slow_mode.as_ref().map(|s| s.secs).filter(|&s| s > 0) else {
            return Ok(None);
        };
        let gap = i64::from(secs) * 1000;
        let key = (post.room, post.participant);
        let last = match self.last.get(&key) {
            Some(&at) => Some(at),
            None => Message::last_in_room_by(conn, post.room, post.participant, now - gap)?,
        };
        if let Some(at) = last {
            let since = now - at;
            if since < gap {
                // Another instance's clock may be ahead: never more than the gap.
                return Ok(Some((gap - since).clamp(1, gap) as u64));
            }
        }
        self.last.insert(key, now);
        Ok(None)
    }

    /// PostgreSQL: marks the posts to insert that slow mode refuses
    /// ([`Plan::SlowMode`]) and returns the others, renumbering the plans.
    pub fn filter<'a>(
        &mut self,
        conn: &mut DbConn,
        plans: &mut [Plan],
        to_insert: Vec<&'a Post>,
        now: i64,
    ) -> Result<Vec<&'a Post>, DbError> {
        let mut kept = Vec::with_capacity(to_insert.len());
        for plan in plans.iter_mut() {
            let Plan::Insert(k) = *plan else { continue };
            let post = to_insert[k];
            *plan = match self.refuses(conn, post, now)? {
                Some(wait) => Plan::SlowMode(wait),
                None => {
                    kept.push(post);
                    Plan::Insert(kept.len() - 1)
                }
            };
        }
        Ok(kept)
    }
}
