//! The writer against a real SQLite file: what a commit of unknown outcome
//! stored reaches the room before anything newer.

use super::store::new_message;
use super::*;
use crate::chat::hub::tests::who;
use crate::chat::hub::{BatchFrame, Outbound, SeqRange};
use crate::db::models::{Message, Room};
use crate::db::models::{Participant, Site};
use crate::db::now_ms;

/// A real SQLite file with a site, its lobby and a guest author; a hub where a
/// receiver (participant 999) and the author's connection are in the lobby,
/// their queues emptied of what joining put there.
struct Lobby {
    _dir: tempfile::TempDir,
    db: Db,
    conn: crate::db::PooledConn,
    site: Site,
    room: Room,
    author: Participant,
    hub: Arc<Hub>,
    sender: crate::chat::hub::ConnHandle,
    queue: crate::chat::hub::ConnQueue,
    sender_queue: crate::chat::hub::ConnQueue,
}

fn lobby() -> Lobby {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let db = Db::connect(&url, 2).unwrap();
    let mut conn = db.get().unwrap();
    crate::db::migrate::run_pending(&mut conn).unwrap();
    let site = Site::create(&mut conn, "s", &[], false).unwrap();
    let room = Room::create(&mut conn, site.id, "lobby").unwrap();
    let author = Participant::create_guest(&mut conn, site.id, "ann", None).unwrap();
    let recent = crate::chat::hub::RecentSize {
        messages: 100,
        bytes: 1 << 20,
    };
    let hub = Hub::with_settings(std::time::Duration::ZERO, recent);
    let ip = "127.0.0.1".parse().unwrap();
    let (receiver, queue) = hub.connect(site.id, ip, 1 << 20);
    hub.join(room.id, "lobby", &receiver, &who(999), 0);
    let (sender, sender_queue) = hub.connect(site.id, ip, 1 << 20);
    hub.join(room.id, "lobby", &sender, &who(author.id.0), 0);
    while queue.try_recv().is_some() {}
    while sender_queue.try_recv().is_some() {}
    Lobby {
        _dir: dir,
        db,
        conn,
        site,
        room,
        author,
        hub,
        sender,
        queue,
        sender_queue,
    }
}

impl Lobby {
    /// The author's message `cid`, sent on their connection.
    fn post(&self, cid: &str, text: &str) -> Post {
        Post {
            site: self.site.id,
            room: self.room.id,
            room_name: "lobby".into(),
            author: who(self.author.id.0),
            participant: self.author.id,
            cid: cid.into(),
            text: text.into(),
            ip: None,
            slow_mode: None,
            reply: Reply::Connection(self.sender.clone()),
        }
    }
}

/// A writer on the lobby's database and hub (no broker, no webhooks), with the rooms a
/// failed commit left `unsure`.
fn writer(db: &Db, hub: &Arc<Hub>, unsure: HashMap<RoomId, String>) -> WriterLoop {
    WriterLoop {
        db: db.clone(),
        conn: None,
        hub: hub.clone(),
        metrics: Arc::new(Metrics::default()),
        outbox: None,
        webhooks: Default::default(),
        last_seq: HashMap::new(),
        unsure,
    }
}

/// Stores `post` as its room's seq 1 behind the writer's back, as a commit
/// the writer has not (yet) seen through leaves the database.
fn store_as_seq_1(conn: &mut DbConn, post: &Post) {
    Message::insert_new(conn, &new_message(post, 1, now_ms()))
        .unwrap()
        .unwrap();
    Room::set_last_seq(conn, post.room, 1).unwrap();
}

/// The seqs of the messages queued for a connection, emptying its queue of everything.
fn seqs_in(queue: &crate::chat::hub::ConnQueue) -> Vec<i64> {
    let mut seqs = Vec::new();
    while let Some(item) = queue.try_recv() {
        if let Outbound::Frame { seq: Some(seq), .. } = item {
            seqs.push(seq);
        }
    }
    seqs
}

/// A commit reported as failed had in fact succeeded (message 1). Before the
/// next batch is stored, message 1 is found and broadcast, so a live
/// receiver gets 1 then 2: no gap.
#[test]
fn a_commit_that_failed_only_in_appearance_is_delivered_before_newer_messages() {
    let mut lobby = lobby();
    let (first, second) = (lobby.post("c1", "text c1"), lobby.post("c2", "text c2"));
    // What the database holds after the commit whose reply was lost.
    store_as_seq_1(&mut lobby.conn, &first);
    // What a failed commit leaves: the room's seq before it.
    let unsure = HashMap::from([(lobby.room.id, "lobby".to_owned())]);
    let mut writer = writer(&lobby.db, &lobby.hub, unsure);
    writer.commit(vec![second]);

    let seqs = seqs_in(&lobby.queue);
    assert_eq!(seqs, vec![1, 2], "message 1 reaches the room before 2");
    assert!(writer.unsure.is_empty());
    // The first sender was told to retry; its own message reached it as a
    // message, and the retry gets the original ack (duplicate).
    let mut sender_seqs = Vec::new();
    let mut acks = 0;
    while let Some(item) = lobby.sender_queue.try_recv() {
        match item {
            Outbound::Frame { seq: Some(seq), .. } => sender_seqs.push(seq),
            Outbound::Reply(text) if text.contains("\"type\":\"ack\"") => acks += 1,
            _ => {}
        }
    }
    assert_eq!((sender_seqs, acks), (vec![1], 1));
}

/// A commit whose outcome is unknown may have stored its messages, which
/// the room's members were not given: the room's history in memory is
/// dropped, so the next join reads the database instead of answering
/// without them (issue 14).
#[test]
fn a_failed_commit_drops_the_rooms_history_in_memory() {
    use crate::chat::hub::Lookup;
    use diesel::connection::SimpleConnection;
    let mut lobby = lobby();
    let post = lobby.post("c1", "text c1");
    let (room, hub) = (lobby.room.id, &lobby.hub);
    let Lookup::Fill(ticket) = hub.recent_lookup(room, None, 10, 10) else {
        panic!("two connections in the room: its history is kept");
    };
    let loaded = crate::chat::rooms::load_recent(&mut lobby.conn, room, 100).unwrap();
    hub.recent_fill(ticket, loaded, None, 10, 10);
    assert!(hub.keeps_recent(room));
    // The commit fails once its seqs are taken: what it stored is unknown.
    let fail = "CREATE TRIGGER unavailable BEFORE UPDATE OF last_seq ON rooms \
                BEGIN SELECT RAISE(ABORT, 'unavailable'); END;";
    match &mut *lobby.conn {
        crate::db::DbConn::Sqlite(c) => c.batch_execute(fail).unwrap(),
        crate::db::DbConn::Pg(_) => unreachable!("a SQLite file"),
    }
    let mut writer = writer(&lobby.db, hub, HashMap::new());
    writer.commit(vec![post]);
    assert!(writer.unsure.contains_key(&room), "the commit failed");
    assert!(!hub.keeps_recent(room));
    assert!(matches!(
        hub.recent_lookup(room, None, 10, 10),
        Lookup::Fill(_)
    ));
}

/// Issue 11: the once-a-second database check (broker down) on the sender's
/// own instance reads seq 1 after the writer's COMMIT but before its publish.
/// The check leaves seq 1 to the writer, so the sender gets its message once,
/// as its ack (not a plain `message` and then the ack), and the receiver once.
#[test]
fn a_database_check_between_commit_and_publish_leaves_the_message_to_the_writer() {
    let mut lobby = lobby();
    let post = lobby.post("c1", "hello");
    let (room, hub, conn) = (lobby.room.id, &lobby.hub, &mut lobby.conn);
    let metrics = Metrics::default();
    // The writer's transaction: seq 1 stored, held before the COMMIT.
    store_as_seq_1(conn, &post);
    hub.hold(room, 0);
    // The database check, between the COMMIT and the publish.
    let repaired = catch_up(conn, hub, &metrics, room, "lobby", 1).unwrap();
    assert_eq!(repaired, 0, "seq 1 is the local writer's to publish");
    // The writer's publish, then its release.
    let range = SeqRange { after: 0, upto: 1 };
    let frames = [BatchFrame {
        text: Arc::from("{\"type\":\"message\"}"),
        seq: 1,
        view: None,
        from: Some(lobby.sender.id),
    }];
    let queued = hub
        .publish_batch(room, range, &frames, |_, _| {
            Some(Arc::from("{\"type\":\"ack\"}"))
        })
        .unwrap();
    assert_eq!(
        queued,
        vec![true],
        "the ack goes out in the message's place"
    );
    hub.release([room]);
    // The next check finds nothing missing.
    assert_eq!(catch_up(conn, hub, &metrics, room, "lobby", 1).unwrap(), 0);

    let mut to_sender = Vec::new();
    while let Some(item) = lobby.sender_queue.try_recv() {
        match item {
            Outbound::Frame { seq, .. } => to_sender.push(format!("message {seq:?}")),
            Outbound::Reply(text) => to_sender.push(text.to_string()),
            _ => {}
        }
    }
    assert_eq!(to_sender, vec!["{\"type\":\"ack\"}".to_owned()]);
    assert_eq!(seqs_in(&lobby.queue), vec![1]);
}
