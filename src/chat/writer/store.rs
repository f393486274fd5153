//! How the writer stores a batch: per-room seqs, idempotent cids, one
//! transaction; a statement per message on SQLite, a few per batch on PostgreSQL.

use std::collections::HashMap;

use super::quota::Quota;
use super::slow::Slow;
use super::Post;
use crate::chat::hub::SeqRange;
use crate::db::models::room::LockedRoom;
use crate::db::models::webhook::{Delivery, EventType};
use crate::db::models::{Message, MessageId, NewMessage, ParticipantId, Room, RoomId};
use crate::db::models::{Participant, SiteId};
use crate::db::{checkpoint, now_ms, Db, DbConn, DbError};
use crate::webhooks::outbox::{participant, Event, Subscribers};
use crate::with_backend;
use diesel::connection::SimpleConnection;

/// How long the writer waits for another instance's writer to release a
/// room's row (it holds it for one commit: milliseconds).
pub const LOCK_TIMEOUT_MS: u64 = 2_000;
/// Bounds any one statement of the writer's.
const STATEMENT_TIMEOUT_MS: u64 = 10_000;
/// A writer transaction left idle this long (its instance cut off from the
/// database, or stopped) is ended by the server, releasing its row locks.
pub const IDLE_IN_TRANSACTION_MS: u64 = 3_000;

/// What storing one post came to.
pub(super) enum Outcome {
    New(NewMessage, MessageId),
    Duplicate(Message),
    /// The room's first message, beyond the site's room quota: not stored.
    OverQuota,
    /// Its author's last message in the room is too recent for the room's
    /// slow mode: not stored; the wait in ms.
    SlowMode(u64),
}

/// The writer's connection. On SQLite it gets a larger page cache than the
/// default 2 MiB (every insert descends five B-trees: the table and its
/// indexes, and pages that fall out of the cache are read back from the OS on
/// the next commit), keeps temporary data in memory, and leaves checkpoints to the checkpoint thread.
///
/// On PostgreSQL, where other instances' writers wait for the rooms this one
/// has locked, nothing may hold those locks for long: waiting for a lock,
/// a statement, and a transaction left idle (an instance cut off from the
/// database mid-transaction) are all bounded, and the server ends the
/// session, releasing its locks, when one is exceeded.
pub(super) fn open_writer_connection(db: &Db) -> Result<DbConn, DbError> {
    let mut conn = db.url().connect()?;
    match &mut conn {
        // Statement journals and sorts stay in memory instead of temp files.
        DbConn::Sqlite(c) => {
            c.batch_execute("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")?
        }
        DbConn::Pg(c) => c.batch_execute(&format!(
            "SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'; \
             SET statement_timeout = '{STATEMENT_TIMEOUT_MS}ms'; \
             SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_MS}ms';"
        ))?,
    }
    checkpoint::disable_auto(&mut conn)?;
    Ok(conn)
}

/// Stores the batch; `ranges` gets, per room with new messages, the seqs the
/// batch took there (it is filled before the commit, so a failed commit
/// still tells which rooms it may have written).
pub(super) fn store(
    conn: &mut DbConn,
    batch: &[Post],
    last_seq: &mut HashMap<RoomId, i64>,
    ranges: &mut HashMap<RoomId, SeqRange>,
) -> Result<Vec<Outcome>, DbError> {
    let mut quota = Quota::default();
    match conn {
        DbConn::Sqlite(_) => store_each(conn, batch, last_seq, ranges, &mut quota),
        DbConn::Pg(_) => store_batched(conn, batch, ranges, &mut quota),
    }
}

/// The seq the next message in the post's room gets (read once, then
/// cached), or `None` when the room's first message is over the quota.
fn next_seq(
    conn: &mut DbConn,
    post: &Post,
    last_seq: &HashMap<RoomId, i64>,
    quota: &mut Quota,
) -> Result<Option<i64>, DbError> {
    if let Some(seq) = last_seq.get(&post.room) {
        return Ok(Some(seq + 1));
    }
    let room = Room::find(conn, post.room)?;
    let admitted = quota.admits(conn, &LockedRoom::from(&room), post)?;
    Ok(admitted.then_some(room.last_seq + 1))
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
    ranges: &mut HashMap<RoomId, SeqRange>,
    quota: &mut Quota,
) -> Result<Vec<Outcome>, DbError> {
    let now = now_ms();
    let mut slow = Slow::default();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
    // A retry can arrive in the same batch as its original.
    let mut in_batch: HashMap<(ParticipantId, &str), usize> = HashMap::new();
    let mut touched: Vec<RoomId> = Vec::new();
    for post in batch {
        if let Some(&earlier) = in_batch.get(&(post.participant, post.cid.as_str())) {
            outcomes.push(same_as(&outcomes[earlier]));
            continue;
        }
        in_batch.insert((post.participant, post.cid.as_str()), outcomes.len());
        // The single writer's `BEGIN IMMEDIATE` serializes this with every
        // other write; a retry of a stored cid still gets its ack.
        if let Some(wait) = slow.refuses(conn, post, now)? {
            outcomes.push(
                match Message::find_by_cid(conn, post.participant, &post.cid)? {
                    Some(existing) => Outcome::Duplicate(existing),
                    None => Outcome::SlowMode(wait),
                },
            );
            continue;
        }
        let Some(seq) = next_seq(conn, post, last_seq, quota)? else {
            outcomes.push(Outcome::OverQuota);
            continue;
        };
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
        ranges
            .entry(post.room)
            .or_insert(SeqRange {
                after: seq - 1,
                upto: seq,
            })
            .upto = seq;
        if !touched.contains(&post.room) {
            touched.push(post.room);
        }
        outcomes.push(Outcome::New(new, id));
    }
    save_last_seqs(conn, &touched, last_seq)?;
    Ok(outcomes)
}

/// PostgreSQL: a few round trips per batch instead of one per message, and
/// safe with several writers (instances) on one database. One query finds
/// retried cids; the touched rooms' rows are locked (`FOR UPDATE`) and seqs
/// assigned from the locked values, so another instance's writer waits for
/// this commit instead of taking the same seqs; one multi-row insert stores
/// the messages and one update moves every room's seq.
fn store_batched(
    conn: &mut DbConn,
    batch: &[Post],
    ranges: &mut HashMap<RoomId, SeqRange>,
    quota: &mut Quota,
) -> Result<Vec<Outcome>, DbError> {
    let now = now_ms();
    let mut attempt = 1;
    let (plans, to_insert, rows, last_seqs, inserted) = loop {
        let (mut plans, to_insert) = plan(conn, batch)?;
        let locked = lock_rooms(conn, &to_insert)?;
        // After the lock: other instances' messages in these rooms are committed.
        let to_insert = Slow::default().filter(conn, &mut plans, to_insert, now)?;
        let to_insert = quota.filter(conn, &mut plans, to_insert, &locked)?;
        let (rows, last_seqs) = number(&to_insert, &locked, now)?;
        with_backend!(conn, c => c.batch_execute("SAVEPOINT numbered"))?;
        let inserted = Message::insert_many(conn, &rows)?;
        // A row skipped means another instance stored the same cid after the
        // lookup (it waited for that commit): numbered as it is, the batch
        // would leave a hole in the room's seqs. Undo the insert (the rooms
        // stay locked) and plan again, now seeing that cid as stored.
        if inserted.len() < rows.len() && attempt < RENUMBER_ATTEMPTS {
            with_backend!(conn, c => c.batch_execute("ROLLBACK TO SAVEPOINT numbered"))?;
            attempt += 1;
            continue;
        }
        break (plans, to_insert, rows, last_seqs, inserted);
    };
    let ids: HashMap<(RoomId, i64), MessageId> = inserted
        .into_iter()
        .map(|(id, room, seq)| ((room, seq), id))
        .collect();
    for &(room, upto) in &last_seqs {
        let count = to_insert.iter().filter(|p| p.room == room).count() as i64;
        let after = upto - count;
        ranges.insert(room, SeqRange { after, upto });
    }
    Room::set_last_seqs(conn, &last_seqs)?;
    outcomes(conn, plans, rows, ids)
}

/// Times a PostgreSQL batch is numbered before a cid stored meanwhile by
/// another instance is left as a hole (each retry sees every cid committed
/// before it, so a second attempt is all a race needs).
const RENUMBER_ATTEMPTS: u32 = 3;

/// What becomes of one post of a batch.
pub(super) enum Plan {
    /// Stored now, as the given row of the insert.
    Insert(usize),
    /// Its cid was stored by an earlier batch: a retry.
    Stored(Message),
    /// Its cid came earlier in this batch, at the given index.
    SameAs(usize),
    /// Its room's first message, over the site's room quota.
    OverQuota,
    /// Too soon for its room's slow mode: the wait in ms.
    SlowMode(u64),
}

/// Plans each post (one query finds the cids stored before) and lists the
/// posts to insert.
fn plan<'a>(conn: &mut DbConn, batch: &'a [Post]) -> Result<(Vec<Plan>, Vec<&'a Post>), DbError> {
    let keys: Vec<(ParticipantId, &str)> = batch
        .iter()
        .map(|p| (p.participant, p.cid.as_str()))
        .collect();
    let mut stored: HashMap<(ParticipantId, String), Message> = Message::find_by_cids(conn, &keys)?
        .into_iter()
        .filter_map(|m| Some(((m.participant_id, m.cid.clone()?), m)))
        .collect();
    let mut plans = Vec::with_capacity(batch.len());
    let mut to_insert: Vec<&Post> = Vec::new();
    let mut in_batch: HashMap<(ParticipantId, &str), usize> = HashMap::new();
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
        plans.push(Plan::Insert(to_insert.len()));
        to_insert.push(post);
    }
    Ok((plans, to_insert))
}

/// Locks the touched rooms' rows (in id order, so two writers never wait on
/// each other in a cycle).
fn lock_rooms(
    conn: &mut DbConn,
    to_insert: &[&Post],
) -> Result<HashMap<RoomId, LockedRoom>, DbError> {
    let mut touched: Vec<RoomId> = to_insert.iter().map(|p| p.room).collect();
    touched.sort_unstable();
    touched.dedup();
    Ok(Room::lock_last_seqs(conn, &touched)?
        .into_iter()
        .map(|room| (room.id, room))
        .collect())
}

/// Numbers the new rows from their locked rooms' `last_seq`; returns the
/// rows and the new `last_seq` of each room they go to.
fn number(
    to_insert: &[&Post],
    locked: &HashMap<RoomId, LockedRoom>,
    now: i64,
) -> Result<(Vec<NewMessage>, LastSeqs), DbError> {
    let mut seqs: HashMap<RoomId, i64> = HashMap::new();
    let mut rows: Vec<NewMessage> = Vec::with_capacity(to_insert.len());
    for post in to_insert {
        let room = locked
            .get(&post.room)
            .ok_or_else(|| DbError::Internal(format!("room {} has no row", post.room)))?;
        let seq = seqs.entry(post.room).or_insert(room.last_seq);
        *seq += 1;
        rows.push(new_message(post, *seq, now));
    }
    Ok((rows, seqs.into_iter().collect()))
}

/// Each touched room with its `last_seq` after the batch.
type LastSeqs = Vec<(RoomId, i64)>;

/// Each post's outcome, in batch order, from its plan and what was inserted.
fn outcomes(
    conn: &mut DbConn,
    plans: Vec<Plan>,
    rows: Vec<NewMessage>,
    mut ids: HashMap<(RoomId, i64), MessageId>,
) -> Result<Vec<Outcome>, DbError> {
    let mut rows: Vec<Option<NewMessage>> = rows.into_iter().map(Some).collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(plans.len());
    for plan in plans {
        let outcome = match plan {
            Plan::Insert(row) => {
                let new = rows[row]
                    .take()
                    .ok_or_else(|| DbError::Internal("row planned twice".into()))?;
                match ids.remove(&(new.room_id, new.seq)) {
                    Some(id) => Outcome::New(new, id),
                    // Not inserted: the same cid was stored by another
                    // instance since the lookup, in every attempt (see
                    // RENUMBER_ATTEMPTS). Its seq stays a hole, which the
                    // protocol allows; the sender gets the stored original.
                    None => Outcome::Duplicate(
                        Message::find_by_cid(
                            conn,
                            new.participant_id,
                            new.cid.as_deref().unwrap_or(""),
                        )?
                        .ok_or_else(|| {
                            DbError::Conflict(format!("seq {} already taken", new.seq))
                        })?,
                    ),
                }
            }
            Plan::Stored(message) => Outcome::Duplicate(message),
            Plan::SameAs(earlier) => same_as(&outcomes[earlier]),
            Plan::OverQuota => Outcome::OverQuota,
            Plan::SlowMode(wait) => Outcome::SlowMode(wait),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Stores a `message.created` delivery for each new message of the batch and
/// each endpoint of its site that takes them, in the batch's transaction;
/// returns how many. Costs one indexed query per batch when no site in it
/// has webhooks.
pub(super) fn announce(
    conn: &mut DbConn,
    batch: &[Post],
    outcomes: &[Outcome],
) -> Result<usize, DbError> {
    let new = || {
        batch
            .iter()
            .zip(outcomes)
            .filter_map(|(post, outcome)| match outcome {
                Outcome::New(msg, id) => Some((post, msg, id)),
                Outcome::Duplicate(_) | Outcome::OverQuota | Outcome::SlowMode(_) => None,
            })
    };
    let mut sites: Vec<SiteId> = new().map(|(post, ..)| post.site).collect();
    sites.sort_unstable();
    sites.dedup();
    let subscribers = Subscribers::load(conn, Some(&sites))?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    let wanted =
        || new().filter(|(post, ..)| subscribers.wants(post.site, EventType::MessageCreated));
    let mut authors: Vec<ParticipantId> = wanted().map(|(post, ..)| post.participant).collect();
    authors.sort_unstable();
    authors.dedup();
    let authors: HashMap<ParticipantId, serde_json::Value> =
        Participant::find_many(conn, &authors)?
            .iter()
            .map(|p| (p.id, participant(p)))
            .collect();
    let now = now_ms();
    let mut rows = Vec::new();
    for (post, msg, id) in wanted() {
        let data = serde_json::json!({
            "room": post.room_name,
            "message": {
                "id": id.0,
                "seq": msg.seq,
                "author": authors.get(&post.participant),
                "text": msg.body,
                "ts": msg.created_at,
            },
        });
        let event = Event::in_room(EventType::MessageCreated, post.room, data);
        rows.extend(subscribers.deliveries(Some(post.site), &event, now));
    }
    Delivery::insert_many(conn, &rows)?;
    Ok(rows.len())
}

/// The outcome of a post whose cid came earlier in the same batch.
fn same_as(earlier: &Outcome) -> Outcome {
    match earlier {
        Outcome::New(msg, id) => Outcome::Duplicate(stored(msg, *id)),
        Outcome::Duplicate(msg) => Outcome::Duplicate(msg.clone()),
        Outcome::OverQuota => Outcome::OverQuota,
        Outcome::SlowMode(wait) => Outcome::SlowMode(*wait),
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
