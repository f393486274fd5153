//! How the writer stores a batch: per-room seqs, idempotent cids, one
//! transaction; a statement per message on SQLite, a few per batch on PostgreSQL.

use std::collections::HashMap;

use super::Post;
use crate::db::models::{Message, MessageId, NewMessage, ParticipantId, Room, RoomId};
use crate::db::{checkpoint, now_ms, Db, DbConn, DbError};

/// What storing one post came to.
pub(super) enum Outcome {
    New(NewMessage, MessageId),
    Duplicate(Message),
}

/// The writer's connection. On SQLite it gets a larger page cache than the
/// default 2 MiB (every insert descends five B-trees: the table and its
/// indexes, and pages that fall out of the cache are read back from the OS on
/// the next commit), keeps temporary data in memory, and leaves checkpoints to the checkpoint thread.
pub(super) fn open_writer_connection(db: &Db) -> Result<DbConn, DbError> {
    let mut conn = db.url().connect()?;
    if let DbConn::Sqlite(c) = &mut conn {
        use diesel::connection::SimpleConnection;
        // Statement journals and sorts stay in memory instead of temp files.
        c.batch_execute("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")?;
    }
    checkpoint::disable_auto(&mut conn)?;
    Ok(conn)
}

pub(super) fn store(
    conn: &mut DbConn,
    batch: &[Post],
    last_seq: &mut HashMap<RoomId, i64>,
    base: &mut HashMap<RoomId, i64>,
) -> Result<Vec<Outcome>, DbError> {
    match conn {
        DbConn::Sqlite(_) => store_each(conn, batch, last_seq, base),
        DbConn::Pg(_) => store_batched(conn, batch, last_seq, base),
    }
}

/// The seq the next message in `room` gets (read once, then cached).
fn next_seq(
    conn: &mut DbConn,
    room: RoomId,
    last_seq: &HashMap<RoomId, i64>,
    base: &mut HashMap<RoomId, i64>,
) -> Result<i64, DbError> {
    Ok(match last_seq.get(&room) {
        Some(seq) => seq + 1,
        None => {
            let seq = Room::find(conn, room)?.last_seq;
            base.insert(room, seq);
            seq + 1
        }
    })
}

pub(super) fn new_message(post: &Post, seq: i64, now: i64) -> NewMessage {
    NewMessage {
        site_id: post.site,
        room_id: post.room,
        seq,
        participant_id: post.participant,
        cid: Some(post.cid.clone()),
        body: post.text.clone(),
        ip: post.ip.clone(),
        created_at: now,
    }
}

fn save_last_seqs(
    conn: &mut DbConn,
    touched: &[RoomId],
    last_seq: &HashMap<RoomId, i64>,
) -> Result<(), DbError> {
    for room in touched {
        if let Some(&seq) = last_seq.get(room) {
            Room::set_last_seq(conn, *room, seq)?;
        }
    }
    Ok(())
}

/// SQLite: one insert per message. Statements are cheap in-process; a
/// duplicate cid is found by the insert itself, so no lookup runs before it.
fn store_each(
    conn: &mut DbConn,
    batch: &[Post],
    last_seq: &mut HashMap<RoomId, i64>,
    base: &mut HashMap<RoomId, i64>,
) -> Result<Vec<Outcome>, DbError> {
    let now = now_ms();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
    // A retry can arrive in the same batch as its original.
    let mut in_batch: HashMap<(ParticipantId, &str), usize> = HashMap::new();
    let mut touched: Vec<RoomId> = Vec::new();
    for post in batch {
        if let Some(&earlier) = in_batch.get(&(post.participant, post.cid.as_str())) {
            outcomes.push(Outcome::Duplicate(as_stored(&outcomes[earlier])));
            continue;
        }
        in_batch.insert((post.participant, post.cid.as_str()), outcomes.len());
        let seq = next_seq(conn, post.room, last_seq, base)?;
        let new = new_message(post, seq, now);
        let Some(id) = Message::insert_new(conn, &new)? else {
            // Not inserted: this cid was stored before (a retry). Anything else
            // means our idea of the room's seq is wrong; fail the batch.
            let existing = Message::find_by_cid(conn, post.participant, &post.cid)?
                .ok_or_else(|| DbError::Conflict(format!("seq {seq} already taken")))?;
            outcomes.push(Outcome::Duplicate(existing));
            continue;
        };
        last_seq.insert(post.room, seq);
        if !touched.contains(&post.room) {
            touched.push(post.room);
        }
        outcomes.push(Outcome::New(new, id));
    }
    save_last_seqs(conn, &touched, last_seq)?;
    Ok(outcomes)
}

/// PostgreSQL: a few round trips per batch instead of one per message. One
/// query finds retried cids, one multi-row insert stores the rest, one update
/// per room moves its seq.
fn store_batched(
    conn: &mut DbConn,
    batch: &[Post],
    last_seq: &mut HashMap<RoomId, i64>,
    base: &mut HashMap<RoomId, i64>,
) -> Result<Vec<Outcome>, DbError> {
    let now = now_ms();
    let keys: Vec<(ParticipantId, &str)> = batch
        .iter()
        .map(|p| (p.participant, p.cid.as_str()))
        .collect();
    let mut stored: HashMap<(ParticipantId, String), Message> = Message::find_by_cids(conn, &keys)?
        .into_iter()
        .filter_map(|m| Some(((m.participant_id, m.cid.clone()?), m)))
        .collect();

    enum Plan {
        Insert(usize),
        Stored(Message),
        SameAs(usize),
    }
    let mut plans = Vec::with_capacity(batch.len());
    let mut rows: Vec<NewMessage> = Vec::new();
    let mut in_batch: HashMap<(ParticipantId, &str), usize> = HashMap::new();
    let mut touched: Vec<RoomId> = Vec::new();
    for (i, post) in batch.iter().enumerate() {
        let key = (post.participant, post.cid.as_str());
        if let Some(&earlier) = in_batch.get(&key) {
            plans.push(Plan::SameAs(earlier));
            continue;
        }
        in_batch.insert(key, i);
        if let Some(existing) = stored.remove(&(post.participant, post.cid.clone())) {
            plans.push(Plan::Stored(existing));
            continue;
        }
        let seq = next_seq(conn, post.room, last_seq, base)?;
        last_seq.insert(post.room, seq);
        if !touched.contains(&post.room) {
            touched.push(post.room);
        }
        plans.push(Plan::Insert(rows.len()));
        rows.push(new_message(post, seq, now));
    }
    let inserted = Message::insert_many(conn, &rows)?;
    if inserted.len() != rows.len() {
        // Another writer took a cid or seq since the lookup; fail the batch and
        // let senders retry (the retry finds the stored cid, or a fresh seq).
        return Err(DbError::Conflict(format!(
            "{} of {} messages conflicted",
            rows.len() - inserted.len(),
            rows.len()
        )));
    }
    let ids: HashMap<(RoomId, i64), MessageId> = inserted
        .into_iter()
        .map(|(id, room, seq)| ((room, seq), id))
        .collect();
    save_last_seqs(conn, &touched, last_seq)?;

    let mut rows: Vec<Option<NewMessage>> = rows.into_iter().map(Some).collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
    for plan in plans {
        let outcome = match plan {
            Plan::Insert(row) => {
                let new = rows[row]
                    .take()
                    .ok_or_else(|| DbError::Internal("row planned twice".into()))?;
                let id = *ids
                    .get(&(new.room_id, new.seq))
                    .ok_or_else(|| DbError::Internal("inserted row without id".into()))?;
                Outcome::New(new, id)
            }
            Plan::Stored(message) => Outcome::Duplicate(message),
            Plan::SameAs(earlier) => Outcome::Duplicate(as_stored(&outcomes[earlier])),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The stored form of an earlier outcome in the same batch.
fn as_stored(outcome: &Outcome) -> Message {
    match outcome {
        Outcome::New(msg, id) => stored(msg, *id),
        Outcome::Duplicate(msg) => msg.clone(),
    }
}

fn stored(new: &NewMessage, id: MessageId) -> Message {
    Message {
        id,
        site_id: new.site_id,
        room_id: new.room_id,
        seq: new.seq,
        participant_id: new.participant_id,
        cid: new.cid.clone(),
        body: new.body.clone(),
        ip: new.ip.clone(),
        created_at: new.created_at,
        deleted_at: None,
    }
}
