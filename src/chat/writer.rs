//! The single writer: group-commits posted messages, assigns per-room `seq`,
//! and only then broadcasts and acknowledges them.
//!
//! It runs on its own thread (diesel is blocking). Each round drains whatever is
//! queued into one transaction without waiting for a timer, so an idle server
//! commits a lone message at once and a busy one amortises each commit over many.
//! The SQL of storing a batch is in [`store`]; what follows a commit (the
//! broadcast, acks and answers) in [`broadcast`]; the rule for a reused cid
//! in [`reuse`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::catchup::catch_up;
use super::cluster::Outbox;
use super::hub::{ConnHandle, Hub};
use super::protocol::{ErrorCode, ErrorFrame, ServerFrame, Who};
use super::refusal;
use super::rules::SlowMarks;
use crate::db::checkpoint::{self, Checkpointer};
use crate::db::models::{MessageId, ParticipantId, Room, RoomId, SiteId};
use crate::db::{Db, DbConn, DbError};
use crate::metrics::Metrics;
use crate::webhooks::outbox::Doorbell;
use reuse::refuse_held_reuses;
pub use reuse::{is_retry, CidReused};
use store::{announce, open_writer_connection, store};

mod broadcast;
mod quota;
mod reuse;
mod slow;
mod store;

/// Most messages per transaction. Larger batches amortise the commit (and on
/// PostgreSQL the round trips) further; 4096 rows keep a PostgreSQL insert
/// under its 65,535 bind parameters (8 per row).
const MAX_BATCH: usize = 4096;

/// A message that passed validation and waits to be stored.
pub struct Post {
    pub site: SiteId,
    pub room: RoomId,
    pub room_name: String,
    pub author: Who,
    pub participant: ParticipantId,
    pub cid: String,
    pub text: String,
    pub ip: Option<String>,
    /// The room's slow mode, for a visitor's `send` (the server API and
    /// approvals are not bound by it): checked against the stored messages
    /// in the transaction that would store this one (see [`slow`]).
    pub slow_mode: Option<SlowMode>,
    pub reply: Reply,
}

/// A room's slow mode as a post is bound by it.
#[derive(Clone)]
pub struct SlowMode {
    /// One message per participant every this many seconds.
    pub secs: u32,
    /// The sending instance's marks, corrected when the writer refuses.
    pub marks: SlowMarks,
}

/// Who hears how a post went, after the broadcast.
pub enum Reply {
    /// A connection's `send`: the `ack` (or error) goes through its queue,
    /// in seq order; it gets no `message` frame for its own post.
    Connection(ConnHandle),
    /// A caller waiting for the outcome (the server API): every connection
    /// in the room gets the `message` frame.
    Caller(tokio::sync::oneshot::Sender<Result<Stored, NotPosted>>),
    /// A held message a moderator approved: everyone gets it as a `message`.
    Nobody,
}

/// What a caller learns of a stored post: what an `ack` says.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub seq: i64,
    pub id: MessageId,
    pub ts: i64,
    /// The cid had been stored already; nothing new was posted.
    pub duplicate: bool,
    /// Connections it was handed to (as `ack.delivered`).
    pub delivered: usize,
}

/// Nothing was stored (the database failed, or the server is stopping); a
/// retry with the same cid is safe.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotStored(pub &'static str);

/// Why a post with a reply channel was not posted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotPosted {
    #[error(transparent)]
    NotStored(#[from] NotStored),
    #[error(transparent)]
    CidReused(#[from] CidReused),
    /// The room's first message, and the site has all the rooms in use its
    /// quota allows (see `writer::quota`): nothing was stored.
    #[error("{ROOM_LIMIT}")]
    TooManyRooms,
    /// Its cid names a held message a moderator rejected: nothing was stored.
    #[error("{REJECTED}")]
    Rejected,
}

/// Why a retry of a held message a moderator rejected is refused.
pub const REJECTED: &str =
    "A moderator rejected this message: it will not be posted. Use a new cid for a new message.";

/// Why a room's first message over the site's room quota is refused.
pub const ROOM_LIMIT: &str =
    "This site has reached its room limit: this room cannot take messages.";

impl Post {
    /// Tells the sender nothing was stored; a retry with the same cid is safe.
    fn refuse(self, message: &'static str) {
        match self.reply {
            Reply::Connection(sender) => {
                let frame = ErrorFrame::new(ErrorCode::StorageUnavailable, message)
                    .reference(self.cid)
                    .room(self.room_name)
                    .retry_after_ms(1000);
                sender.reply(ServerFrame::from(frame).encode());
            }
            Reply::Caller(caller) => {
                let _ = caller.send(Err(NotStored(message).into()));
            }
            Reply::Nobody => {
                tracing::warn!(room = %self.room, "an approved message could not be stored");
            }
        }
    }

    /// Tells the sender the room's first message is over the site's room
    /// quota; nothing was stored, and a retry will not be either.
    fn refuse_over_quota(self) {
        match self.reply {
            Reply::Connection(sender) => {
                let frame = ErrorFrame::new(ErrorCode::TooManyRooms, ROOM_LIMIT)
                    .reference(self.cid)
                    .room(self.room_name);
                sender.reply(ServerFrame::from(frame).encode());
            }
            Reply::Caller(caller) => {
                let _ = caller.send(Err(NotPosted::TooManyRooms));
            }
            // Approvals are not bound by the quota (`quota::Quota::admits`).
            Reply::Nobody => {}
        }
    }

    /// Tells the sender its author's last message in the room was stored less
    /// than the room's slow-mode gap ago (`wait_ms` before the next may be):
    /// nothing was stored, and a retry with the same cid after the wait may be.
    fn refuse_slow_mode(self, wait_ms: u64) {
        let Some(slow) = &self.slow_mode else { return };
        let wait = Duration::from_millis(wait_ms);
        let gap = Duration::from_secs(u64::from(slow.secs));
        slow.marks
            .posted(self.room, self.participant, gap.saturating_sub(wait));
        let refusal = refusal::slow_mode(slow.secs, wait);
        match self.reply {
            Reply::Connection(sender) => {
                let frame = ErrorFrame::new(refusal.code, refusal.message)
                    .reference(self.cid)
                    .room(self.room_name)
                    .retry_after_ms(refusal.retry_after_ms);
                sender.reply(ServerFrame::from(frame).encode());
            }
            // Only visitors' sends are bound by slow mode (`Post::slow_mode`).
            Reply::Caller(_) | Reply::Nobody => {
                tracing::warn!(room = %self.room, "a post without a connection was refused for slow mode");
            }
        }
    }

    /// The connection that sent it, if any.
    fn sender(&self) -> Option<&ConnHandle> {
        match &self.reply {
            Reply::Connection(sender) => Some(sender),
            Reply::Caller(_) | Reply::Nobody => None,
        }
    }
}

const NOT_STORED: &str = "The message could not be stored. Send it again with the same cid.";
const STOPPING: &str =
    "The server is restarting. Send the message again with the same cid after reconnecting.";

// `Stop` is sent once; boxing every `Post` would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Command {
    Post(Post),
    Stop,
}

pub struct Writer {
    tx: mpsc::UnboundedSender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Checkpoints the SQLite WAL behind the writer; stopped after it.
    checkpointer: Mutex<Option<Checkpointer>>,
}

impl Writer {
    /// Starts the writer thread; with an `outbox`, each commit's messages
    /// also go to the other instances. `webhooks` is rung when a commit
    /// stored `message.created` deliveries.
    pub fn start(
        db: Db,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        outbox: Option<Outbox>,
        webhooks: Doorbell,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let checkpointer = checkpoint::start(db.url());
        // Publishing hands the writes to idle sockets to the runtime's tasks.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let thread = std::thread::Builder::new()
            .name("chatctl-writer".into())
            .spawn(move || {
                let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
                WriterLoop {
                    db,
                    conn: None,
                    hub,
                    metrics,
                    outbox,
                    webhooks,
                    last_seq: HashMap::new(),
                    unsure: HashMap::new(),
                }
                .run(rx)
            })
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the writer thread; messages will be refused");
        }
        Writer {
            tx,
            thread: Mutex::new(thread),
            checkpointer: Mutex::new(checkpointer),
        }
    }

    pub fn post(&self, post: Post) {
        if let Err(mpsc::error::SendError(Command::Post(post))) = self.tx.send(Command::Post(post))
        {
            post.refuse(STOPPING);
        }
    }

    /// Commits everything queued so far, then stops the thread. Blocking.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        drop(
            self.checkpointer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
    }
}

struct WriterLoop {
    db: Db,
    /// Its own connection, outside the pool: no check-out (and validity query)
    /// per batch. Dropped after a failed commit and opened again.
    conn: Option<DbConn>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    /// To the other instances (PostgreSQL with a broker).
    outbox: Option<Outbox>,
    /// Rung after a commit that stored webhook deliveries.
    webhooks: Doorbell,
    /// SQLite only (one writer): last committed seq per room; dropped after
    /// a failed commit so it is re-read. On PostgreSQL seqs come from the
    /// rooms' locked rows, since other instances write too.
    last_seq: HashMap<RoomId, i64>,
    /// Rooms (with their names) where a commit failed without our knowing
    /// whether it went through (the connection dropped during `COMMIT`).
    /// Whatever was stored is broadcast before the next batch, so that live
    /// receivers do not silently miss it.
    unsure: HashMap<RoomId, String>,
}

impl WriterLoop {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut stopping = false;
        while !stopping {
            let Some(first) = rx.blocking_recv() else {
                break;
            };
            for command in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match command {
                    Command::Post(post) => batch.push(post),
                    Command::Stop => stopping = true,
                }
                if batch.len() >= MAX_BATCH || stopping {
                    break;
                }
            }
            if !batch.is_empty() {
                self.commit(std::mem::take(&mut batch));
            }
        }
        // Refuse anything that raced with the stop.
        rx.close();
        while let Ok(Command::Post(post)) = rx.try_recv() {
            post.refuse(STOPPING);
        }
        tracing::info!("writer stopped");
    }

    fn commit(&mut self, mut batch: Vec<Post>) {
        self.metrics.commit_batch_size.observe(batch.len() as f64);
        let mut cache = self.last_seq.clone();
        let mut ranges = HashMap::new();
        let conn = match self.conn.take() {
            Some(conn) => Ok(conn),
            None => open_writer_connection(&self.db),
        };
        // Cids held for approval are their authors' too (reuse.rs).
        let conn = conn.and_then(|mut conn| {
            refuse_held_reuses(&mut conn, &mut batch)?;
            Ok(conn)
        });
        if conn.is_ok() && batch.is_empty() {
            self.conn = conn.ok();
            return;
        }
        let hub = self.hub.clone();
        let mut hooks = 0;
        let result = conn.and_then(|mut conn| {
            let stored = self.publish_unsure(&mut conn).and_then(|()| {
                conn.write_transaction(|conn| {
                    let outcomes = store(conn, &batch, &mut cache, &mut ranges)?;
                    // In the same transaction: a stored message is always announced.
                    hooks = announce(conn, &batch, &outcomes)?;
                    // Before the COMMIT makes them readable: the database
                    // checks must not send the senders their own messages.
                    for (&room, range) in &ranges {
                        hub.hold(room, range.after);
                    }
                    Ok(outcomes)
                })
            });
            match stored {
                Ok(outcomes) => Ok((conn, outcomes)),
                // The connection is opened again next time.
                Err(err) => Err(err),
            }
        });
        match result {
            Ok((mut conn, outcomes)) => {
                if hooks > 0 {
                    self.webhooks.ring();
                }
                self.last_seq = cache;
                self.publish(&mut conn, batch, outcomes, &ranges);
                self.hub.release(ranges.keys().copied());
                self.conn = Some(conn);
            }
            Err(err) => {
                self.metrics.commit_failures.inc();
                self.hub.release(ranges.keys().copied());
                tracing::error!(error = %err, messages = batch.len(), "commit failed; senders may retry");
                // Its seqs may be stored: the rooms' history in memory is read again.
                for room in ranges.keys() {
                    self.hub.recent_forget(*room);
                }
                for post in &batch {
                    if ranges.contains_key(&post.room) {
                        self.unsure
                            .entry(post.room)
                            .or_insert_with(|| post.room_name.clone());
                    }
                }
                self.last_seq.clear();
                for post in batch {
                    post.refuse(NOT_STORED);
                }
            }
        }
    }

    /// Broadcasts what a commit of uncertain outcome did store (see `unsure`).
    fn publish_unsure(&mut self, conn: &mut DbConn) -> Result<(), DbError> {
        let rooms: Vec<(RoomId, String)> = self.unsure.drain().collect();
        for (i, (room, name)) in rooms.iter().enumerate() {
            let caught_up = Room::find(conn, *room)
                .and_then(|r| catch_up(conn, &self.hub, &self.metrics, *room, name, r.last_seq));
            match caught_up {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(room = %room, messages = n, "broadcast messages stored by a commit whose outcome was unknown");
                }
                Err(err) => {
                    self.unsure.extend(rooms[i..].iter().cloned());
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
