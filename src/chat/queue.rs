//! A connection's outbound queue: bounded in bytes, shared frames, a kill switch.
//!
//! One allocation per connection holds everything. The queue is a `VecDeque`
//! that is released whenever it drains, so an idle connection costs a few
//! dozen bytes here (a channel would keep a block of slots per connection).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

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

struct Shared {
    items: Mutex<VecDeque<Outbound>>,
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
    fn items(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, item: Outbound) {
        self.items().push_back(item);
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
        items: Mutex::new(VecDeque::new()),
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
    pub(super) fn reserve(&self, len: usize) -> bool {
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
    pub(super) fn push_reserved(&self, items: impl Iterator<Item = Outbound>) {
        let s = &self.shared;
        if s.closing.load(Ordering::Relaxed) {
            return;
        }
        let mut queue = s.items();
        let before = queue.len();
        for item in items {
            if let Outbound::Reply(text) = &item {
                s.queued.fetch_add(text.len(), Ordering::Relaxed);
            }
            queue.push_back(item);
        }
        let pushed = queue.len() > before;
        drop(queue);
        if pushed {
            s.ready.notify_one();
        }
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

    pub fn try_recv(&self) -> Option<Outbound> {
        let mut items = self.shared.items();
        let item = items.pop_front();
        if items.is_empty() && items.capacity() > KEEP_SLOTS {
            *items = VecDeque::new();
        }
        item
    }

    /// Moves up to `max` queued items into `out`, under one lock.
    pub fn drain_into(&self, out: &mut Vec<Outbound>, max: usize) {
        let mut items = self.shared.items();
        let n = items.len().min(max);
        out.extend(items.drain(..n));
        if items.is_empty() && items.capacity() > KEEP_SLOTS {
            *items = VecDeque::new();
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

    /// The close request among the queued items, if any; the frames before it are dropped.
    pub fn take_close(&self) -> Option<CloseRequest> {
        while let Some(item) = self.try_recv() {
            if let Outbound::Close(request) = item {
                return Some(*request);
            }
        }
        None
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
        queue.drain_into(&mut out, 1000);
        assert_eq!(out.len(), 100);
        assert_eq!(queue.shared.items().capacity(), 0);
    }
}
