//! Catching a room up from the database: the messages committed (by this
//! instance or another) that its members have not had yet, in seq order.
//!
//! PostgreSQL is the log. Whatever the reason a room is behind (another
//! instance's message still on its way, a broker that dropped it, a commit
//! whose outcome was unknown), the missing range is read by seq and queued
//! through [`Hub::publish_batch`], which keeps every room in seq order.

use std::sync::Arc;

use super::hub::{BatchFrame, Hub, SeqRange};
use super::protocol::ServerFrame;
use super::rooms::view;
use crate::db::models::{Message, RoomId};
use crate::db::{DbConn, DbError};
use crate::metrics::Metrics;

/// Messages read per query.
const PAGE: i64 = 1000;

/// Queues to the room's members every message up to `upto` they have not
/// had. Everything up to `upto` must be committed (it is: `upto` comes from
/// a room's `last_seq`, or a commit's range, and seqs are assigned under the
/// room's row lock). Seqs the local writer holds (see [`Hub::hold`]) are
/// left to it. Returns how many messages it queued.
pub fn catch_up(
    conn: &mut DbConn,
    hub: &Hub,
    metrics: &Metrics,
    room: RoomId,
    name: &str,
    upto: i64,
) -> Result<usize, DbError> {
    let mut sent = 0;
    loop {
        let Some(high) = hub.high(room) else {
            return Ok(sent); // nobody here any more
        };
        if high >= upto {
            return Ok(sent);
        }
        let page = Message::between(conn, room, high, upto, PAGE)?;
        let mut end = match page.last() {
            Some(last) if page.len() as i64 == PAGE => last.0.seq,
            _ => upto,
        };
        // Checked after the read: the local writer holds its seqs from
        // before its COMMIT until it has published them, so whatever it
        // committed that we just read is either held or already published.
        if let Some(held) = hub.held(room) {
            end = end.min(held);
        }
        if end <= high {
            return Ok(sent); // the rest is the local writer's to publish
        }
        let frames: Vec<BatchFrame> = page
            .into_iter()
            .filter(|m| m.0.seq <= end)
            .map(|m| {
                let view = Arc::new(view(m));
                BatchFrame {
                    seq: view.seq,
                    text: ServerFrame::Message {
                        room: name.to_owned(),
                        message: view.clone(),
                    }
                    .encode(),
                    view: Some(view),
                    from: None,
                }
            })
            .collect();
        let range = SeqRange {
            after: high,
            upto: end,
        };
        // Refused only if the room's `high` moved below ours, which it never
        // does; the loop then reads again from where the room is.
        let _ = hub.publish_batch(room, range, &frames, |_, delivered| {
            metrics.deliveries.inc_by(delivered as u64);
            sent += 1;
            None
        });
    }
}
