//! A connection's outbound queue: bounded in bytes, shared frames, a kill switch.
//!
//! One allocation per connection holds everything. The queue is a `VecDeque`
//! that is released whenever it drains, so an idle connection costs a few
//! dozen bytes here (a channel would keep a block of slots per connection).
//! While the connection's task sleeps, room messages may be written straight
//! to its socket by the publisher (`queue/write_through.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

mod write_through;
pub use write_through::{SocketWrite, TryWrite, THROUGH_MAX};

use super::protocol::{CloseReason, MessageView};
use crate::db::models::RoomId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Why and how the hub wants a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    pub reason: CloseReason,
    /// What the notice says; for a ban, the moderator's reason alone (the
    /// notice frames it, and carries it apart for clients to translate around).
    pub message: String,
    pub until: Option<i64>,
}

/// What the hub hands to a connection's writer task.
#[derive(Debug)]
pub enum Outbound {
    Frame {
        text: Arc<str>,
        room: RoomId,
        /// Set on `message` frames so a joining connection can drop what its welcome already had.
        seq: Option<i64>,
    },
    /// The answer (`ack` or error) to one of this connection's sends. It travels
    /// the same queue as room frames so it never overtakes a lower-seq message.
    Reply(Arc<str>),
    // Boxed: rare, and it would otherwise size every queued item.
    Close(Box<CloseRequest>),
    /// The unsent end of a frame written through in part: raw bytes, first
    /// in line, since the frame has begun on the wire.
    Rest(Box<[u8]>),
}

/// One committed message of a batch published to a room at once.
pub struct BatchFrame {
    pub text: Arc<str>,
    pub seq: i64,
    /// The message itself, for the room's recent history (`hub::recent`);
    /// `None` when it could not be read (the history is then dropped).
    pub view: Option<Arc<MessageView>>,
    /// The sending connection, which gets an `ack` instead.
    pub from: Option<ConnId>,
}

/// A drained queue keeps at most this many slots allocated.
const KEEP_SLOTS: usize = 8;

/// What the queue's lock guards.
#[derive(Default)]
struct Line {
    items: VecDeque<Outbound>,
    /// Per joined room, the highest seq given to the connection (its welcome's,
    /// then each message's): a frame at or below it is dropped, and so is a
    /// frame for a room it has not joined.
    floors: Vec<(RoomId, i64)>,
    /// The task sleeps with nothing of its own half-written: the publisher
    /// may write through (see the module's docs).
    idle: bool,
    socket: Option<Arc<dyn SocketWrite>>,
}

impl Line {
    /// Whether a room frame is one the connection is to get; advances the floor.
    fn accepts(&mut self, room: RoomId, seq: Option<i64>) -> bool {
        let admitted = self.admits(room, seq);
        if admitted {
            self.advance(room, seq);
        }
        admitted
    }

    /// Whether a room frame is one the connection is to get (the floor stays).
    fn admits(&self, room: RoomId, seq: Option<i64>) -> bool {
        let floor = self.floors.iter().find(|(id, _)| *id == room);
        match (floor, seq) {
            (None, _) => false,
            (Some((_, floor)), Some(seq)) => seq > *floor,
            (Some(_), None) => true,
        }
    }

    /// The connection has been given `room` up to `seq`.
    fn advance(&mut self, room: RoomId, seq: Option<i64>) {
        let floor = self.floors.iter_mut().find(|(id, _)| *id == room);
        if let (Some((_, floor)), Some(seq)) = (floor, seq) {
            *floor = seq;
        }
    }

    fn release_if_drained(&mut self) {
        if self.items.is_empty() && self.items.capacity() > KEEP_SLOTS {
            self.items = VecDeque::new();
        }
    }
}

struct Shared {
    line: Mutex<Line>,
    /// Bytes queued and not yet written to the socket.
    queued: AtomicUsize,
    closing: AtomicBool,
    /// Wakes the connection task when items arrive.
    ready: Notify,
    /// Wakes the connection task when it must close, even mid-write.
    kill: Notify,
    max_queued: usize,
}

impl Shared {
    fn line(&self) -> MutexGuard<'_, Line> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.line.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, item: Outbound) {
        self.line().items.push_back(item);
        self.ready.notify_one();
    }
}

/// The hub's handle on one connection.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle").field("id", &self.id).finish()
    }
}

/// The connection's side of its queue.
pub struct ConnQueue {
    shared: Arc<Shared>,
}

/// A new connection's handle (for the hub) and queue (for its task).
pub fn new(id: ConnId, max_queued: usize) -> (ConnHandle, ConnQueue) {
    let shared = Arc::new(Shared {
        line: Mutex::new(Line::default()),
        queued: AtomicUsize::new(0),
        closing: AtomicBool::new(false),
        ready: Notify::new(),
        kill: Notify::new(),
        max_queued,
    });
    (
        ConnHandle {
            id,
            shared: shared.clone(),
        },
        ConnQueue { shared },
    )
}

impl ConnHandle {
    /// Queues a room frame; false if the connection is closing or just fell too far behind.
    pub(super) fn push(&self, text: &Arc<str>, room: RoomId, seq: Option<i64>) -> bool {
        if !self.reserve(text.len()) {
            return false;
        }
        self.shared.push(Outbound::Frame {
            text: text.clone(),
            room,
            seq,
        });
        true
    }

    /// Reserves `len` bytes of the queue for frames about to be pushed; when
    /// that would put the connection too far behind, asks it to close instead.
    pub(crate) fn reserve(&self, len: usize) -> bool {
        let s = &self.shared;
        if s.closing.load(Ordering::Relaxed) {
            return false;
        }
        if s.queued.fetch_add(len, Ordering::Relaxed) + len > s.max_queued {
            s.queued.fetch_sub(len, Ordering::Relaxed);
            self.close(
                CloseReason::SlowConsumer,
                "Too many messages are waiting for this connection. Reconnect to resume.",
                None,
            );
            return false;
        }
        true
    }

    /// Queues items under one lock with one wake-up, so that the connection
    /// writes them with one system call. Frames must have been reserved;
    /// replies are counted here, like [`ConnHandle::reply`].
    ///
    /// Returns true when the socket is idle: nobody was woken, and the caller
    /// is to call [`ConnHandle::write_through`] (outside any room's lock).
    pub(crate) fn push_reserved(&self, items: impl Iterator<Item = Outbound>) -> bool {
        let s = &self.shared;
        if s.closing.load(Ordering::Relaxed) {
            return false;
        }
        let mut line = s.line();
        let before = line.items.len();
        for item in items {
            if let Outbound::Reply(text) = &item {
                s.queued.fetch_add(text.len(), Ordering::Relaxed);
            }
            line.items.push_back(item);
        }
        if line.items.len() == before {
            return false;
        }
        let idle = line.idle && line.socket.is_some();
        drop(line);
        if !idle {
            s.ready.notify_one();
        }
        idle
    }

    /// Wakes the connection's task to write what is queued.
    pub(super) fn wake(&self) {
        self.shared.ready.notify_one();
    }

    /// The connection has been given `room` up to `seq` (its welcome): room
    /// frames at or below it are dropped from now on, later ones go out.
    pub fn set_floor(&self, room: RoomId, seq: i64) {
        let mut line = self.shared.line();
        line.floors.retain(|(id, _)| *id != room);
        line.floors.push((room, seq));
    }

    /// The connection left `room`: its frames are dropped from now on.
    pub fn forget_room(&self, room: RoomId) {
        self.shared.line().floors.retain(|(id, _)| *id != room);
    }

    /// The highest seq of `room` the connection has been given; 0 if not in it.
    pub fn floor(&self, room: RoomId) -> i64 {
        let line = self.shared.line();
        let floor = line.floors.iter().find(|(id, _)| *id == room);
        floor.map_or(0, |(_, seq)| *seq)
    }

    /// Queues the answer to a send. Counted against the queue like any frame.
    pub fn reply(&self, text: Arc<str>) {
        let s = &self.shared;
        if !s.closing.load(Ordering::Relaxed) {
            s.queued.fetch_add(text.len(), Ordering::Relaxed);
            s.push(Outbound::Reply(text));
        }
    }

    /// Asks the connection to send a notice and close; only the first request counts.
    pub fn close(&self, reason: CloseReason, message: &str, until: Option<i64>) {
        let s = &self.shared;
        if !s.closing.swap(true, Ordering::Relaxed) {
            s.push(Outbound::Close(Box::new(CloseRequest {
                reason,
                message: message.to_owned(),
                until,
            })));
            s.kill.notify_waiters();
        }
    }
}

impl ConnQueue {
    /// Waits for the next item.
    pub async fn recv(&self) -> Outbound {
        loop {
            if let Some(item) = self.try_recv() {
                return item;
            }
            self.shared.ready.notified().await;
        }
    }

    /// The next item; the task has something to write, so the socket is no
    /// longer idle.
    pub fn try_recv(&self) -> Option<Outbound> {
        let mut line = self.shared.line();
        let item = line.items.pop_front();
        if item.is_some() {
            line.idle = false;
            line.release_if_drained();
        }
        item
    }

    /// Moves up to `max` more queued items into `out`, under one lock, and
    /// drops from `out` the room frames the connection is not to get (see
    /// [`ConnHandle::set_floor`]), counting them as written.
    pub fn drain_writable(&self, out: &mut Vec<Outbound>, max: usize) {
        let mut line = self.shared.line();
        line.idle = false;
        let n = line.items.len().min(max);
        out.extend(line.items.drain(..n));
        line.release_if_drained();
        out.retain(|item| match item {
            Outbound::Frame { text, room, seq } => {
                let keep = line.accepts(*room, *seq);
                if !keep {
                    self.shared.queued.fetch_sub(text.len(), Ordering::Relaxed);
                }
                keep
            }
            _ => true,
        });
    }

    #[cfg(test)]
    pub(crate) fn queued_items(&self) -> usize {
        self.shared.line().items.len()
    }

    /// Gives the publisher the socket's write side, for write-through.
    pub fn attach(&self, socket: Arc<dyn SocketWrite>) {
        self.shared.line().socket = Some(socket);
    }

    /// Takes it back for good: the connection is ending.
    pub fn detach(&self) {
        let mut line = self.shared.line();
        line.idle = false;
        line.socket = None;
    }

    /// The task is about to sleep with nothing half-written: the socket is
    /// idle, unless something is queued (the task is to write that first).
    pub fn idle(&self) {
        let mut line = self.shared.line();
        line.idle = line.items.is_empty();
    }

    /// The task is awake and may write: nobody else writes now. Returns the
    /// end of a frame that write-through began, if one is first in line: it
    /// must go out before anything the task writes.
    #[must_use = "the end of a frame begun must be written first"]
    pub fn busy(&self) -> Option<Box<[u8]>> {
        let mut line = self.shared.line();
        line.idle = false;
        match line.items.front() {
            Some(Outbound::Rest(_)) => match line.items.pop_front() {
                Some(Outbound::Rest(rest)) => Some(rest),
                _ => None,
            },
            _ => None,
        }
    }

    /// Call once a frame has been written to the socket.
    pub fn written(&self, bytes: usize) {
        self.shared.queued.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Resolves once the hub has asked this connection to close.
    pub async fn killed(&self) {
        let s = &self.shared;
        loop {
            // Registered before the check, so a close in between still wakes us.
            let notified = s.kill.notified();
            if s.closing.load(Ordering::Relaxed) {
                return;
            }
            notified.await;
        }
    }

    /// The close request among the queued items, if any; the frames before
    /// it are dropped, but not the end of a frame already begun (see
    /// [`ConnQueue::busy`]).
    pub fn take_close(&self) -> Option<CloseRequest> {
        let mut line = self.shared.line();
        line.idle = false;
        let rest = match line.items.front() {
            Some(Outbound::Rest(_)) => line.items.pop_front(),
            _ => None,
        };
        let mut close = None;
        while let Some(item) = line.items.pop_front() {
            if let Outbound::Close(request) = item {
                close = Some(*request);
                break;
            }
        }
        if let Some(rest) = rest {
            line.items.push_front(rest);
        }
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_close_wakes_a_waiting_task_and_is_found_behind_frames() {
        let (handle, queue) = new(ConnId(1), 1 << 20);
        let waiter = tokio::spawn(async move {
            queue.killed().await;
            queue
        });
        tokio::task::yield_now().await;
        assert!(handle.push(&Arc::from("a"), RoomId(1), Some(1)));
        handle.close(CloseReason::Restarting, "bye", None);
        let queue = waiter.await.unwrap();
        assert_eq!(queue.take_close().unwrap().reason, CloseReason::Restarting);
        assert!(!handle.push(&Arc::from("b"), RoomId(1), Some(2)), "closing");
    }

    #[test]
    fn a_drained_queue_releases_its_slots() {
        let (handle, queue) = new(ConnId(1), 1 << 20);
        for seq in 0..100 {
            handle.push(&Arc::from("x"), RoomId(1), Some(seq));
        }
        let mut out = Vec::new();
        handle.set_floor(RoomId(1), -1);
        queue.drain_writable(&mut out, 1000);
        assert_eq!(out.len(), 100);
        assert_eq!(queue.shared.line().items.capacity(), 0);
    }
}
