//! Messages reach each room in seq order, whoever committed them.

use std::sync::Arc;

use super::{lock, BatchFrame, ConnHandle, Gap, Hub, Outbound, SeqRange};
use crate::db::models::RoomId;

impl Hub {
    /// The highest seq queued to the room's members; `None` without members here.
    pub fn high(&self, room: RoomId) -> Option<i64> {
        let members = self.room(room)?;
        let members = lock(&members);
        (!members.conns.is_empty()).then_some(members.high)
    }

    /// Rooms with connections here, with the highest seq queued in each.
    pub fn highs(&self) -> Vec<(RoomId, i64)> {
        self.rooms_by_id()
            .into_iter()
            .filter_map(|(id, m)| {
                let m = lock(&m);
                (!m.conns.is_empty()).then_some((id, m.high))
            })
            .collect()
    }

    /// The local writer is about to commit messages after `after` in the
    /// room (set before its COMMIT, so that whoever reads them from the
    /// database can see the hold): until [`Hub::release`], catch-ups leave
    /// them to the writer, whose publish gives each sender its ack in
    /// place of its own message (a catch-up would give it a plain
    /// `message`, and the ack after it).
    pub fn hold(&self, room: RoomId, after: i64) {
        lock(&self.held).insert(room, after);
    }

    /// The writer has published (or given up on) what it held in `rooms`.
    pub fn release(&self, rooms: impl IntoIterator<Item = RoomId>) {
        let mut held = lock(&self.held);
        for room in rooms {
            held.remove(&room);
        }
    }

    /// The seq after which the local writer holds messages in the room.
    pub fn held(&self, room: RoomId) -> Option<i64> {
        lock(&self.held).get(&room).copied()
    }

    /// Sends the messages `range` covers (one commit, or a catch-up read from
    /// the database) to every connection in the room, each connection getting
    /// all of them in one queue operation (one wake-up, one socket write).
    ///
    /// Messages go out strictly in seq order: when the room has not had every
    /// message up to `range.after` yet, nothing is queued and the caller gets
    /// [`Gap`] (it must send what lies between first); frames at or below
    /// what the room already had are skipped.
    ///
    /// Once the recipients of frame `k` are counted, and before anything is
    /// queued, `counted(k, delivered)` is called; the ack it returns goes to
    /// the frame's sender in place of its own message, so that on every
    /// connection messages and acks stay in seq order. Returns, per frame,
    /// whether its ack was queued here (not when the sender is no longer in
    /// the room, or the frame had already gone out).
    pub fn publish_batch(
        &self,
        room: RoomId,
        range: SeqRange,
        frames: &[BatchFrame],
        mut counted: impl FnMut(usize, usize) -> Option<Arc<str>>,
    ) -> Result<Vec<bool>, Gap> {
        let mut queued = vec![false; frames.len()];
        let members = self.room(room);
        let mut members = match &members {
            Some(members) => lock(members),
            None => return Ok(nobody(frames, counted)),
        };
        // Known only for the people on other instances: their joins here
        // start from the database.
        if members.conns.is_empty() {
            return Ok(nobody(frames, counted));
        }
        if range.after > members.high {
            Hub::recent_gap(&mut members, range.upto);
            return Err(Gap { high: members.high });
        }
        let high = members.high;
        members.high = high.max(range.upto);
        self.recent_append(&mut members, room, range, frames);
        let fresh = |f: &BatchFrame| f.seq > high;
        // Reserve queue space first, so that delivery counts are known before
        // anything is queued.
        let accepted: Vec<(&ConnHandle, bool)> = members
            .conns
            .values()
            .map(|m| {
                let len: usize = frames
                    .iter()
                    .filter(|f| fresh(f) && f.from != Some(m.handle.id))
                    .map(|f| f.text.len())
                    .sum();
                (&m.handle, len == 0 || m.handle.reserve(len))
            })
            .collect();
        let acks: Vec<Option<Arc<str>>> = frames
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let delivered = accepted
                    .iter()
                    .filter(|(h, ok)| *ok && fresh(f) && f.from != Some(h.id))
                    .count();
                counted(k, delivered).filter(|_| fresh(f))
            })
            .collect();
        let mut idle = Vec::new();
        for (handle, ok) in accepted {
            let items = frames.iter().enumerate().filter_map(|(k, f)| {
                if !fresh(f) {
                    None
                } else if f.from == Some(handle.id) {
                    let ack = acks[k].clone()?;
                    queued[k] = true;
                    Some(Outbound::Reply(ack))
                } else if ok {
                    Some(Outbound::Frame {
                        text: f.text.clone(),
                        room,
                        seq: Some(f.seq),
                    })
                } else {
                    None
                }
            });
            if handle.push_reserved(items) {
                idle.push(handle.clone());
            }
        }
        drop(members);
        write_through(idle);
        self.evict_over_budget();
        Ok(queued)
    }
}

/// Connections written through by one task: a few milliseconds of system
/// calls, so that a big room's message goes out on every core at once.
const WRITE_THROUGH_CHUNK: usize = 256;

/// Writes the batch to the idle sockets (see [`ConnHandle::write_through`]),
/// on the runtime's tasks, out of the caller's way (the writer thread's next
/// commit, a room's lock). Without a runtime (unit tests), the connections'
/// tasks are woken to write it themselves.
fn write_through(mut idle: Vec<ConnHandle>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        idle.iter().for_each(ConnHandle::wake);
        return;
    };
    while !idle.is_empty() {
        let chunk = idle.split_off(idle.len().saturating_sub(WRITE_THROUGH_CHUNK));
        runtime.spawn(async move { chunk.iter().for_each(ConnHandle::write_through) });
    }
}

/// No connection here: every frame is counted as delivered to nobody.
fn nobody(
    frames: &[BatchFrame],
    mut counted: impl FnMut(usize, usize) -> Option<Arc<str>>,
) -> Vec<bool> {
    for k in 0..frames.len() {
        counted(k, 0);
    }
    vec![false; frames.len()]
}
