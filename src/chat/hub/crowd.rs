//! Presence that scales with the room: a join costs the same in a room of
//! ten or of ten thousand. Above [`CROWD`] people present, joins and leaves
//! are not told one by one but as a count (`presence_count`), at most every
//! [`COUNT_EVERY`] and only when it changed; a joiner's welcome lists one
//! page of who is there (the same page, encoded once, for every joiner until
//! someone on it comes or goes), and `who` pages through the rest in
//! participant-id order, so someone present throughout is listed exactly once.

use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;
use std::time::Instant;

use super::{lock, Hub, RoomMembers, COUNT_EVERY, CROWD};
use crate::chat::protocol::{ServerFrame, Who, WhoPage};
use crate::db::models::RoomId;

/// Whether a room must be told its count now: it is a crowd (below, every
/// join and leave carries the count), the count changed since it was last
/// told, and that was at least [`COUNT_EVERY`] ago.
pub(super) fn count_due(
    online: usize,
    told: usize,
    told_at: Option<Instant>,
    now: Instant,
) -> bool {
    online > CROWD
        && online != told
        && told_at.is_none_or(|at| now.saturating_duration_since(at) >= COUNT_EVERY)
}

impl RoomMembers {
    /// Keeps the room's name (for frames sent by the periodic flush).
    pub(super) fn name_once(&mut self, name: &str) {
        if self.name.is_empty() {
            self.name = name.to_owned();
        }
    }

    /// Up to `limit` participants present (on any instance) with ids above
    /// `after`, in id order, and the cursor of the next page when there is
    /// more. Walks only the page: `present` and `remote` are merged in step.
    pub(super) fn online_page(&self, after: Option<i64>, limit: usize) -> (Vec<Who>, Option<i64>) {
        let from = (after.map_or(Unbounded, Excluded), Unbounded);
        let mut here = self
            .present
            .range(from)
            .map(|(&id, (w, _))| (id, w))
            .peekable();
        let mut there = self
            .remote
            .range(from)
            .map(|(&id, r)| (id, &r.who))
            .peekable();
        let mut page: Vec<Who> = Vec::with_capacity(limit.min(CROWD));
        loop {
            let next = match (here.peek(), there.peek()) {
                (Some(h), Some(t)) if h.0 == t.0 => {
                    there.next();
                    here.next()
                }
                (Some(h), Some(t)) if h.0 > t.0 => there.next(),
                (Some(_), _) => here.next(),
                (None, _) => there.next(),
            };
            let Some((_, who)) = next else {
                return (page, None);
            };
            if page.len() == limit {
                // Someone is past the page: the next one starts after its last.
                let next = page.last().map(|w| w.id);
                return (page, next);
            }
            page.push(who.clone());
        }
    }

    /// The first page of who is present, as [`RoomMembers::online_page`]
    /// gives it, made once for all the welcomes until it changes.
    pub(super) fn first_page(&mut self) -> Arc<WhoPage> {
        if let Some(page) = &self.first_page {
            return page.clone();
        }
        let page = Arc::new(WhoPage::new(self.online_page(None, CROWD).0));
        self.first_page = Some(page.clone());
        page
    }

    /// Participant `id` came, went or changed how they are shown (on any
    /// instance): the first page is made again if it may list them, that is
    /// when it is not full or `id` is not past its last.
    pub(super) fn online_changed(&mut self, id: i64) {
        let stale = self
            .first_page
            .as_ref()
            .is_some_and(|page| page.len() < CROWD || page.last().is_none_or(|last| id <= last.id));
        if stale {
            self.first_page = None;
        }
    }

    /// Tells a crowd its count when [`count_due`].
    pub(super) fn flush_count(&mut self, room: RoomId, now: Instant) {
        if !count_due(self.online, self.told, self.told_at, now) {
            return;
        }
        let frame = ServerFrame::PresenceCount {
            room: self.name.clone(),
            online: self.online,
        }
        .encode();
        self.told = self.online;
        self.told_at = Some(now);
        self.send_all(&frame, room, None, None);
    }
}

impl Hub {
    /// How many participants are present in the room, on any instance.
    pub fn online_count(&self, room: RoomId) -> usize {
        self.room(room).map_or(0, |m| lock(&m).online)
    }

    /// One page of who is present (see [`RoomMembers::online_page`]) and
    /// how many are.
    pub fn who_page(
        &self,
        room: RoomId,
        after: Option<i64>,
        limit: usize,
    ) -> (Vec<Who>, Option<i64>, usize) {
        match self.room(room) {
            Some(members) => {
                let members = lock(&members);
                let (page, next) = members.online_page(after, limit);
                (page, next, members.online)
            }
            None => (Vec::new(), None, 0),
        }
    }
}
