//! After a commit: each room gets the batch's new messages, and their senders
//! their acks in seq order, in one go; the other instances get them through
//! the outbox; callers (the server API) get what was stored.

use std::collections::HashMap;
use std::sync::Arc;

use super::reuse::refuse_reused;
use super::store::Outcome;
use super::{is_retry, Post, Reply, Stored, WriterLoop};
use crate::chat::catchup::catch_up;
use crate::chat::cluster::envelope::{Body, RoomBatch};
use crate::chat::hub::{BatchFrame, SeqRange};
use crate::chat::protocol::{MessageView, ServerFrame};
use crate::db::models::{MessageId, RoomId};
use crate::db::DbConn;

impl WriterLoop {
    /// After commit: broadcast and acknowledge. Each room gets the batch's
    /// messages (and their senders their acks, in seq order) in one go: every
    /// connection is woken once and writes them all with one system call, so
    /// the busier the server (the bigger the batches), the fewer writes per
    /// delivered message. The other instances get them through the outbox.
    pub(super) fn publish(
        &mut self,
        conn: &mut DbConn,
        batch: Vec<Post>,
        outcomes: Vec<Outcome>,
        ranges: &HashMap<RoomId, SeqRange>,
    ) {
        let (mut answers, rooms) = frames_of(&batch, outcomes);
        let rooms: Vec<_> = (rooms.into_iter())
            .filter_map(|room| match ranges.get(&room.room) {
                Some(&range) => Some((room, range)),
                None => {
                    tracing::error!(room = %room.room, "stored messages without a seq range");
                    None
                }
            })
            .collect();
        // To the other instances first: they fan out on their own cores while
        // this one fans out here, instead of waiting for it.
        if let (Some(outbox), false) = (&self.outbox, rooms.is_empty()) {
            let published = (rooms.iter())
                .map(|(room, range)| RoomBatch {
                    room: room.room,
                    name: batch[room.posts[0]].room_name.clone(),
                    after: range.after,
                    upto: range.upto,
                    frames: (room.frames.iter())
                        .map(|f| (f.seq, f.text.clone()))
                        .collect(),
                })
                .collect();
            outbox.send(Body::Messages { rooms: published });
        }
        let mut acked = vec![false; batch.len()];
        for (room, range) in rooms {
            let queued = self.publish_room(conn, &batch, &mut answers, &room, range);
            for (&i, q) in room.posts.iter().zip(queued) {
                acked[i] = q;
            }
        }
        // Duplicates, senders that left the room since they sent, and callers.
        for ((post, answer), acked) in batch.into_iter().zip(&answers).zip(acked) {
            if answer.over_quota {
                post.refuse_over_quota();
                continue;
            }
            if let Some(wait) = answer.slow_mode {
                post.refuse_slow_mode(wait);
                continue;
            }
            if let Some(its_room) = answer.reused_in {
                refuse_reused(conn, post, its_room, Some(answer.seq));
                continue;
            }
            match post.reply {
                Reply::Connection(ref sender) if !acked => sender.reply(ack(&post, answer)),
                Reply::Caller(caller) => {
                    let _ = caller.send(Ok(Stored {
                        seq: answer.seq,
                        id: answer.id,
                        ts: answer.ts,
                        duplicate: answer.duplicate,
                        delivered: answer.delivered,
                    }));
                }
                Reply::Connection(_) | Reply::Nobody => {}
            }
        }
    }

    /// Queues one room's messages, and their senders' acks in their place.
    /// Messages another instance committed in the room before ours (its seqs
    /// below our range) may not have reached this instance yet; they are
    /// read from the database and queued first, so the room stays in seq order.
    /// Returns, per frame, whether its ack was queued.
    fn publish_room(
        &mut self,
        conn: &mut DbConn,
        batch: &[Post],
        answers: &mut [Answer],
        room: &RoomFrames,
        range: SeqRange,
    ) -> Vec<bool> {
        let (hub, metrics) = (self.hub.clone(), self.metrics.clone());
        let name = batch[room.posts[0]].room_name.as_str();
        // The connections on other instances get it through the broker (or,
        // failing that, the database): counted as the presence says.
        let remote = hub.remote_connections(room.room);
        let mut counted = |k: usize, delivered: usize| {
            let i = room.posts[k];
            answers[i].delivered = delivered + remote;
            // Counted before the ack is queued: whoever has the ack sees it in /metrics.
            metrics.messages_committed.inc();
            metrics.deliveries.inc_by(delivered as u64);
            let post = &batch[i];
            post.sender().map(|_| ack(post, &answers[i]))
        };
        if let Ok(queued) = hub.publish_batch(room.room, range, &room.frames, &mut counted) {
            return queued;
        }
        let caught_up = catch_up(conn, &hub, &metrics, room.room, name, range.after);
        match caught_up.map(|_| hub.publish_batch(room.room, range, &room.frames, &mut counted)) {
            Ok(Ok(queued)) => queued,
            failed => {
                if let Err(err) = failed {
                    tracing::error!(error = %err, room = %room.room, "could not read the messages before a commit");
                }
                // Held back rather than sent out of order: the room gets
                // them with the next catch-up (its history in memory is read again).
                self.unsure.insert(room.room, name.to_owned());
                hub.recent_forget(room.room);
                (0..room.frames.len()).for_each(|k| drop(counted(k, 0)));
                vec![false; room.frames.len()]
            }
        }
    }
}

/// What a sender's ack says.
struct Answer {
    seq: i64,
    id: MessageId,
    ts: i64,
    duplicate: bool,
    delivered: usize,
    /// The cid names another message, in this room: refused, not acked.
    reused_in: Option<RoomId>,
    /// The room's first message, over the site's room quota: refused.
    over_quota: bool,
    /// Too soon for the room's slow mode: refused, with the wait in ms.
    slow_mode: Option<u64>,
}

/// One room's new messages in a batch.
struct RoomFrames {
    room: RoomId,
    frames: Vec<BatchFrame>,
    /// The index in the batch of each frame's post.
    posts: Vec<usize>,
}

/// The answer to every post, and the frames of the new messages per room
/// (each serialized once).
fn frames_of(batch: &[Post], outcomes: Vec<Outcome>) -> (Vec<Answer>, Vec<RoomFrames>) {
    let mut answers = Vec::with_capacity(batch.len());
    let mut rooms: Vec<RoomFrames> = Vec::new();
    let mut slot_of: HashMap<RoomId, usize> = HashMap::new();
    for (i, (post, outcome)) in batch.iter().zip(outcomes).enumerate() {
        let mut reused_in = None;
        let mut over_quota = false;
        let mut slow_mode = None;
        let (msg_seq, id, ts, duplicate) = match outcome {
            Outcome::New(msg, id) => {
                let view = Arc::new(MessageView::new(
                    msg.seq,
                    id.0,
                    post.author.clone(),
                    msg.body,
                    msg.created_at,
                ));
                let text = ServerFrame::Message {
                    room: post.room_name.clone(),
                    message: view.clone(),
                }
                .encode();
                let slot = *slot_of.entry(post.room).or_insert_with(|| {
                    rooms.push(RoomFrames {
                        room: post.room,
                        frames: Vec::new(),
                        posts: Vec::new(),
                    });
                    rooms.len() - 1
                });
                rooms[slot].frames.push(BatchFrame {
                    text,
                    seq: msg.seq,
                    view: Some(view),
                    from: post.sender().map(|s| s.id),
                });
                rooms[slot].posts.push(i);
                (msg.seq, id, msg.created_at, false)
            }
            Outcome::Duplicate(msg) => {
                if !is_retry(post.room, &post.text, msg.room_id, &msg.body) {
                    reused_in = Some(msg.room_id);
                }
                (msg.seq, msg.id, msg.created_at, true)
            }
            Outcome::OverQuota => {
                over_quota = true;
                (0, MessageId(0), 0, false)
            }
            Outcome::SlowMode(wait) => {
                slow_mode = Some(wait);
                (0, MessageId(0), 0, false)
            }
        };
        answers.push(Answer {
            seq: msg_seq,
            id,
            ts,
            duplicate,
            delivered: 0,
            reused_in,
            over_quota,
            slow_mode,
        });
    }
    (answers, rooms)
}

fn ack(post: &Post, answer: &Answer) -> Arc<str> {
    ServerFrame::Ack {
        cid: post.cid.clone(),
        room: post.room_name.clone(),
        seq: answer.seq,
        id: answer.id.0,
        ts: answer.ts,
        delivered: answer.delivered,
        duplicate: answer.duplicate,
    }
    .encode()
}
