//! Write-through: while the connection's task sleeps with nothing of its
//! own to write, the socket is *idle* and a room's messages are written to it
//! straight from the publisher ([`ConnHandle::write_through`]): in a room of
//! 10,000 a message then costs one system call per member, without waking
//! 10,000 tasks to make them. Whoever writes holds the queue's lock and
//! writes only what is first in line, so frames never interleave or overtake
//! each other; anything else (an ack, a close, a socket that would block)
//! hands the rest back to the task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{ConnHandle, Line, Outbound};
use crate::db::models::RoomId;

/// The socket's write side as the publisher sees it: a non-blocking attempt
/// to send text frames, at most [`THROUGH_MAX`] of them in one system call
/// (WebSocket framing is the HTTP layer's business).
pub trait SocketWrite: Send + Sync {
    fn try_texts(&self, texts: &[&str]) -> TryWrite;
}

/// What one non-blocking write did.
#[derive(Debug, PartialEq, Eq)]
pub enum TryWrite {
    Sent,
    /// The first `whole` frames went out, and the start of the next: `rest`
    /// must follow before anything else.
    Partly {
        whole: usize,
        rest: Box<[u8]>,
    },
    /// Nothing went out (the socket's buffer is full, or it failed: the
    /// connection's task finds out when it writes).
    Nothing,
}

/// Frames written through in one system call, at most: a connection behind
/// by several messages (a busy machine) catches up in one write.
pub const THROUGH_MAX: usize = 16;

/// A room frame taken for a write: its text, room and seq.
type Taken = (Arc<str>, RoomId, Option<i64>);

impl Line {
    /// The room frames first in line that the connection is to get, up to
    /// [`THROUGH_MAX`]; those it is not to get are dropped on the way, their
    /// bytes taken off `queued`. Floors move only for what goes out.
    fn take_through(&mut self, queued: &AtomicUsize) -> Vec<Taken> {
        let mut batch = Vec::new();
        while batch.len() < THROUGH_MAX
            && matches!(self.items.front(), Some(Outbound::Frame { .. }))
        {
            if let Some(Outbound::Frame { text, room, seq }) = self.items.pop_front() {
                // Seqs rise within a room in line, so the floor before the
                // batch decides for all of it.
                if self.admits(room, seq) {
                    batch.push((text, room, seq));
                } else {
                    queued.fetch_sub(text.len(), Ordering::Relaxed);
                }
            }
        }
        batch
    }

    /// Frames taken for a write that did not go out, back first in line as
    /// they were (a join meanwhile may raise their room's floor past them).
    fn put_back(&mut self, frames: &[Taken]) {
        for (text, room, seq) in frames.iter().rev() {
            self.items.push_front(Outbound::Frame {
                text: text.clone(),
                room: *room,
                seq: *seq,
            });
        }
    }
}

impl ConnHandle {
    /// Writes what is first in line straight to an idle socket, from the
    /// caller's thread: room frames, up to [`THROUGH_MAX`] per non-blocking
    /// system call. Stops at anything else, or when the socket would block,
    /// and wakes the connection's task to take over.
    pub(crate) fn write_through(&self) {
        let s = &self.shared;
        let mut line = s.line();
        let socket = match &line.socket {
            Some(socket) if line.idle => socket.clone(),
            _ => {
                drop(line);
                s.ready.notify_one();
                return;
            }
        };
        loop {
            let batch = line.take_through(&s.queued);
            if batch.is_empty() {
                break;
            }
            let mut texts = [""; THROUGH_MAX];
            for (slot, (text, _, _)) in texts.iter_mut().zip(&batch) {
                *slot = text;
            }
            let whole = match socket.try_texts(&texts[..batch.len()]) {
                TryWrite::Sent => batch.len(),
                TryWrite::Partly { whole, rest } => {
                    line.put_back(&batch[whole + 1..]);
                    line.items.push_front(Outbound::Rest(rest));
                    whole + 1
                }
                TryWrite::Nothing => {
                    line.put_back(&batch);
                    0
                }
            };
            for (text, room, seq) in &batch[..whole] {
                line.advance(*room, *seq);
                s.queued.fetch_sub(text.len(), Ordering::Relaxed);
            }
            if whole < batch.len() {
                break;
            }
        }
        if line.items.is_empty() {
            line.release_if_drained();
            return;
        }
        line.idle = false;
        drop(line);
        s.ready.notify_one();
    }
}
