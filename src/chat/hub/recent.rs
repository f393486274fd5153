//! The recent history of rooms, kept in memory while they have connections
//! here (see `chat::recent` for what a [`Window`] knows and answers).
//!
//! A room's window lives in its [`RoomMembers`], under the room's lock, and
//! follows what the room's connections get: every batch queued by
//! [`Hub::publish_batch`] (the local writer's commits, other instances'
//! messages, catch-ups from the database, all in seq order) is appended to
//! it, deletions are applied to it ([`Hub::recent_deleted`]). A gap before a
//! batch (another instance's messages not here yet) makes it answer nothing
//! until the catch-up that follows has filled it. Whatever could leave it
//! behind the database for good drops it, and the next join reads the
//! database again: a commit of unknown outcome ([`Hub::recent_forget`]), the
//! room emptying here (nothing reaches a room without connections), a
//! deletion it cannot place, a batch message it cannot read, a new name or
//! picture of someone it shows ([`Hub::recent_author_changed`]: the database
//! path shows people as they are now).
//!
//! A window is filled by a join that missed ([`Hub::recent_lookup`]): one
//! join per room reads the database while the others wait for it, and what
//! it read is kept only if nothing that could make it stale happened
//! meanwhile (the `epoch`) and it reaches as far as the room has had.
//! The windows of all rooms together are bounded in bytes; the least
//! recently used go first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{lock, BatchFrame, Hub, RoomMembers, SeqRange};
use crate::chat::recent::{Loaded, WelcomePage, Window};
use crate::db::models::{ParticipantId, RoomId};

/// How much history is kept (`--recent-messages`, `--recent-cache-mb`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentSize {
    /// Rows per room; 0 keeps none (every join reads the database).
    pub messages: usize,
    /// Bytes for all rooms together, about.
    pub bytes: usize,
}

/// The windows' bookkeeping across rooms.
#[derive(Default)]
pub(super) struct Recent {
    size: RecentSize,
    /// Bumped by anything that may make a window being filled stale.
    epoch: AtomicU64,
    clock: AtomicU64,
    used: Mutex<Used>,
    /// Rooms whose window a join is reading from the database; the others wait.
    fills: Mutex<HashMap<RoomId, watch::Receiver<()>>>,
}

/// Rooms with a window: when it last answered, and its bytes; their total.
#[derive(Default)]
struct Used {
    rooms: HashMap<RoomId, (u64, usize)>,
    total: usize,
}

impl Recent {
    pub(super) fn new(size: RecentSize) -> Self {
        Recent {
            size,
            ..Recent::default()
        }
    }

    /// Records the bytes of the room's window (`None`: it has none).
    fn account(&self, room: RoomId, bytes: Option<usize>) {
        let mut used = lock(&self.used);
        let old = match bytes {
            Some(bytes) => {
                let tick = self.clock.fetch_add(1, Ordering::Relaxed);
                let entry = used.rooms.entry(room).or_insert((tick, 0));
                std::mem::replace(&mut entry.1, bytes)
            }
            None => used.rooms.remove(&room).map_or(0, |(_, bytes)| bytes),
        };
        used.total = used.total - old + bytes.unwrap_or(0);
    }

    fn touch(&self, room: RoomId) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(entry) = lock(&self.used).rooms.get_mut(&room) {
            entry.0 = tick;
        }
    }

    /// Rooms to evict, least recently used first, to get under 90% of the bound.
    fn over_budget(&self) -> Vec<RoomId> {
        let used = lock(&self.used);
        if used.total <= self.size.bytes {
            return Vec::new();
        }
        let mut rooms: Vec<(u64, usize, RoomId)> = used
            .rooms
            .iter()
            .map(|(room, (t, b))| (*t, *b, *room))
            .collect();
        rooms.sort_unstable();
        let mut excess = used.total - self.size.bytes * 9 / 10;
        let mut victims = Vec::new();
        for (_, bytes, room) in rooms {
            if excess == 0 {
                break;
            }
            excess = excess.saturating_sub(bytes);
            victims.push(room);
        }
        victims
    }
}

/// What the hub's memory can do for a join (see [`Hub::recent_lookup`]).
pub enum Lookup {
    /// Answered from memory.
    Hit(WelcomePage),
    /// Nobody is reading the room's window: read it (with the ticket) and
    /// answer from it.
    Fill(FillTicket),
    /// Another join is reading the room's window: wait for it, and ask again.
    Wait(watch::Receiver<()>),
    /// Read the database (history off, a room with one connection, or a
    /// resume from before the window).
    Database,
}

/// The right to fill a room's window; its end (drop) wakes the joins waiting.
pub struct FillTicket {
    hub: Arc<Hub>,
    room: RoomId,
    epoch: u64,
    _done: watch::Sender<()>,
}

impl Drop for FillTicket {
    fn drop(&mut self) {
        lock(&self.hub.recent.fills).remove(&self.room);
    }
}

impl FillTicket {
    /// How many rows to read.
    pub fn rows(&self) -> usize {
        self.hub.recent.size.messages
    }
}

impl RoomMembers {
    /// Drops the room's window (its bytes are no longer counted).
    fn drop_recent(&mut self, recent: &Recent, room: RoomId) {
        if self.recent.take().is_some() {
            recent.account(room, None);
        }
    }
}

impl Hub {
    /// Rows kept per room (0: history is not kept in memory).
    pub fn recent_rows(&self) -> usize {
        self.recent.size.messages
    }

    /// Whether the room has a window here now (so that batches from other
    /// instances are worth parsing for it).
    pub fn keeps_recent(&self, room: RoomId) -> bool {
        self.room(room)
            .is_some_and(|members| lock(&members).recent.is_some())
    }

    /// The `welcome` history for a connection that joined `room` (it is a
    /// member already: whatever is committed after this answer reaches it live).
    pub fn recent_lookup(
        self: &Arc<Self>,
        room: RoomId,
        since: Option<i64>,
        page: usize,
        cap: usize,
    ) -> Lookup {
        if self.recent.size.messages == 0 {
            return Lookup::Database;
        }
        let Some(members) = self.room(room) else {
            return Lookup::Database;
        };
        let members = lock(&members);
        if let Some(window) = &members.recent {
            return match window.answer(since, page, cap) {
                Some(answer) => {
                    self.recent.touch(room);
                    Lookup::Hit(answer)
                }
                None => Lookup::Database,
            };
        }
        // Alone here: nobody would share what a fill reads.
        if members.conns.len() < 2 {
            return Lookup::Database;
        }
        let epoch = self.recent.epoch.load(Ordering::SeqCst);
        drop(members);
        let mut fills = lock(&self.recent.fills);
        if let Some(filling) = fills.get(&room) {
            return Lookup::Wait(filling.clone());
        }
        let (done, waiting) = watch::channel(());
        fills.insert(room, waiting);
        Lookup::Fill(FillTicket {
            hub: self.clone(),
            room,
            epoch,
            _done: done,
        })
    }

    /// Keeps what a fill read as the room's window, unless the room moved
    /// on meanwhile (see the module's notes), and answers the join from it
    /// (`None`: the database must answer, e.g. a resume from before it).
    pub fn recent_fill(
        &self,
        ticket: FillTicket,
        loaded: Loaded,
        since: Option<i64>,
        page: usize,
        cap: usize,
    ) -> Option<WelcomePage> {
        let window = Window::new(loaded, ticket.rows());
        let answer = window.answer(since, page, cap);
        let room = ticket.room;
        if let Some(members) = self.room(room) {
            let mut members = lock(&members);
            let fresh = self.recent.epoch.load(Ordering::SeqCst) == ticket.epoch;
            if fresh
                && !members.conns.is_empty()
                && members.recent.is_none()
                && window.upto() >= members.high
            {
                self.recent.account(room, Some(window.bytes()));
                members.recent = Some(window);
            }
        }
        drop(ticket);
        self.evict_over_budget();
        answer
    }

    /// Messages `seqs` of the room were deleted at `at` (`None`: unknown,
    /// the window is dropped).
    pub fn recent_deleted(&self, room: RoomId, seqs: &[i64], at: Option<i64>) {
        self.recent.epoch.fetch_add(1, Ordering::SeqCst);
        let Some(members) = self.room(room) else {
            return;
        };
        let mut members = lock(&members);
        let kept = match (&mut members.recent, at) {
            (Some(window), Some(at)) => window.delete(seqs, at).then(|| window.bytes()),
            (Some(_), None) => None,
            (None, _) => return,
        };
        match kept {
            Some(bytes) => self.recent.account(room, Some(bytes)),
            None => members.drop_recent(&self.recent, room),
        }
    }

    /// Participant `id` is shown differently now (a new name or picture):
    /// the windows listing their messages are read again.
    pub fn recent_author_changed(&self, participant: ParticipantId) {
        self.recent.epoch.fetch_add(1, Ordering::SeqCst);
        for (room, members) in self.rooms_by_id() {
            let mut members = lock(&members);
            if (members.recent.as_ref()).is_some_and(|w| w.shows(participant.0)) {
                members.drop_recent(&self.recent, room);
            }
        }
    }

    /// The room's history in memory may be behind the database (a commit of
    /// unknown outcome): it is dropped, and read again by the next join.
    pub fn recent_forget(&self, room: RoomId) {
        self.recent.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(members) = self.room(room) {
            lock(&members).drop_recent(&self.recent, room);
        }
    }

    /// Appends a batch the room's members were given (called by
    /// `publish_batch` under the room's lock, `range.after` at most the
    /// room's `high`); a window that cannot follow is dropped.
    pub(super) fn recent_append(
        &self,
        members: &mut RoomMembers,
        room: RoomId,
        range: SeqRange,
        frames: &[BatchFrame],
    ) {
        let Some(window) = &mut members.recent else {
            return;
        };
        let messages = frames.iter().map(|f| (f.seq, f.view.clone()));
        if window.append(range.after, range.upto, messages) {
            self.recent.account(room, Some(window.bytes()));
        } else {
            self.recent.epoch.fetch_add(1, Ordering::SeqCst);
            members.drop_recent(&self.recent, room);
        }
    }

    /// A batch up to `upto` could not be queued (a gap before it): the
    /// window answers no join until the catch-up has brought it that far.
    pub(super) fn recent_gap(members: &mut RoomMembers, upto: i64) {
        if let Some(window) = &mut members.recent {
            window.behind(upto);
        }
    }

    /// Nobody is in the room here any more: nothing reaches it, so its
    /// window cannot follow it.
    pub(super) fn recent_empty(&self, members: &mut RoomMembers, room: RoomId) {
        members.drop_recent(&self.recent, room);
    }

    /// Evicts the least recently used windows while over the bound. Called
    /// without any room's lock held (it takes them).
    pub(super) fn evict_over_budget(&self) {
        for room in self.recent.over_budget() {
            if let Some(members) = self.room(room) {
                lock(&members).drop_recent(&self.recent, room);
            } else {
                self.recent.account(room, None);
            }
        }
    }
}

#[cfg(test)]
mod tests;
