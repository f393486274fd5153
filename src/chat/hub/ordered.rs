//! Messages reach each room in seq order, whoever committed them.

use std::sync::Arc;

use super::{lock, BatchFrame, ConnHandle, Gap, Hub, Outbound, SeqRange};
use crate::db::models::RoomId;

impl Hub {
    /// The highest seq queued to the room's members; `None` without members.
    pub fn high(&self, room: RoomId) -> Option<i64> {
        self.room(room).map(|m| lock(&m).high)
    }

    /// Rooms with members here, with the highest seq queued in each.
    pub fn highs(&self) -> Vec<(RoomId, i64)> {
        let rooms: Vec<_> = self
            .rooms
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, m)| (*id, m.clone()))
            .collect();
        rooms
            .into_iter()
            .map(|(id, m)| (id, lock(&m).high))
            .collect()
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
        let Some(members) = self.room(room) else {
            for k in 0..frames.len() {
                counted(k, 0);
            }
            return Ok(queued);
        };
        let mut members = lock(&members);
        if range.after > members.high {
            return Err(Gap { high: members.high });
        }
        let high = members.high;
        members.high = high.max(range.upto);
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
            handle.push_reserved(items);
        }
        Ok(queued)
    }
}
