//! The recent history of busy rooms is kept in memory (issue 14): joins and
//! resumes answered from it get exactly the `welcome` the database gives.
//!
//! Two servers share one database: `memory` keeps the history, `database`
//! (`--recent-messages 0`) reads every welcome from the database. The same
//! join on both must give the same seq, mode, messages, more and deleted,
//! whatever happened in the room; `memory`'s metrics say which answers came
//! from memory, so a test cannot pass by always reading the database.

use chatctl::chat::publish::{publish, Author};
use chatctl::db::models::audit::Actor;
use chatctl::db::models::{MessageId, ParticipantId, Site};
use chatctl::input::RoomName;
use chatctl::metrics::OutcomeLabel;
use chatctl::moderation::messages::{delete_all_by, delete_message};
use serde_json::{json, Value};

use crate::support::client::history;
use crate::support::*;

/// A history page of 3, resumes of at most 5 and windows of 8 rows, so that
/// every edge shows with few messages.
async fn pair() -> (TestApp, TestApp) {
    let tune = |l: &mut chatctl::config::Limits| {
        l.history_page = 3;
        l.resume_cap = 5;
        l.messages_per_second = 1000;
        l.message_burst = 1000;
        l.ip_messages_per_second = 1000;
        l.ip_message_burst = 1000;
        l.participant_messages_per_second = 1000;
        l.participant_message_burst = 1000;
        l.new_guests_per_ip_per_minute = 10_000;
    };
    let memory = TestApp::builder()
        .limits(move |l| {
            tune(l);
            l.recent_messages = 8;
        })
        .spawn()
        .await;
    let database = TestApp::builder()
        .database(memory.database.alias())
        .limits(move |l| {
            tune(l);
            l.recent_messages = 0;
        })
        .spawn()
        .await;
    (memory, database)
}

fn count(app: &TestApp, outcome: &'static str) -> u64 {
    (app.state.chat.metrics.history_cache)
        .get_or_create(&OutcomeLabel { outcome })
        .get()
}

/// A new guest's welcome in `room` on `app`, with `since`.
async fn welcome(app: &TestApp, key: &str, room: &str, since: Option<i64>) -> Value {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static READERS: AtomicUsize = AtomicUsize::new(0);
    let nick = format!("reader{}", READERS.fetch_add(1, Ordering::Relaxed));
    let (mut client, _) = app.guest(key, &nick).await;
    let welcome = client.join(room, since).await;
    client.close().await;
    welcome
}

/// Where `memory` found the answer.
#[derive(Debug, PartialEq)]
enum From {
    Memory,
    Database,
}

/// The same join on both servers gives the same history; returns it and
/// where `memory` found it.
async fn same(
    (memory, database): &(TestApp, TestApp),
    key: &str,
    room: &str,
    since: Option<i64>,
) -> (Value, From) {
    let hits = count(memory, "hit");
    let got = history(&welcome(memory, key, room, since).await);
    let from = if count(memory, "hit") > hits {
        From::Memory
    } else {
        From::Database
    };
    let truth = history(&welcome(database, key, room, since).await);
    assert_eq!(
        got, truth,
        "since {since:?}: from memory ({from:?}) vs the database"
    );
    (got, from)
}

fn seqs(history: &Value, field: &str) -> Vec<i64> {
    let items = history[field].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_i64().or_else(|| v["seq"].as_i64()).unwrap())
        .collect()
}

/// Every shape of join, before and after deletions (here, in bulk, and on
/// the other server), a window that slid, a post by the site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_the_database_give_the_same_welcomes() {
    let servers = pair().await;
    let (memory, database) = &servers;
    let site = memory.site(&[ORIGIN]).await;
    let key = site.public_key.clone();
    // Two people stay in the room, so its history is kept.
    let (mut keeper, _) = memory.guest_in(&key, "keeper", "lobby").await;
    let (mut sender, _) = memory.guest_in(&key, "sender", "lobby").await;

    // An empty room.
    same(&servers, &key, "lobby", None).await;
    let (_, from) = same(&servers, &key, "lobby", Some(0)).await;
    assert_eq!(from, From::Memory);

    let mut ids = vec![0];
    for i in 1..=6 {
        let ack = sender
            .say("lobby", &format!("c{i}"), &format!("m{i}"))
            .await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    let shapes = [None, Some(6), Some(4), Some(1), Some(0), Some(99), Some(-1)];
    for since in shapes {
        let (_, from) = same(&servers, &key, "lobby", since).await;
        assert_eq!(from, From::Memory, "since {since:?}");
    }

    // Deleted here: 2 (old) and 6 (the newest).
    for id in [ids[2], ids[6]] {
        delete_message(&memory.state.chat, Actor::CommandLine, MessageId(id))
            .await
            .unwrap();
    }
    for since in [None, Some(6), Some(5), Some(3), Some(1)] {
        let (got, from) = same(&servers, &key, "lobby", since).await;
        assert_eq!(from, From::Memory, "since {since:?}");
        assert!(!seqs(&got, "messages").contains(&6), "{got}");
    }
    let (got, _) = same(&servers, &key, "lobby", Some(5)).await;
    assert_eq!(seqs(&got, "deleted"), [2], "{got}");

    // Deleted on the other server: this one hears of it through the event log.
    delete_message(&database.state.chat, Actor::CommandLine, MessageId(ids[4]))
        .await
        .unwrap();
    while keeper.recv_type("deleted").await["seq"] != 4 {}
    let (got, from) = same(&servers, &key, "lobby", Some(5)).await;
    assert_eq!(from, From::Memory);
    assert_eq!(seqs(&got, "deleted"), [2, 4], "{got}");

    // The window slides: 8 rows of 14 are kept.
    for i in 7..=14 {
        sender
            .say("lobby", &format!("c{i}"), &format!("m{i}"))
            .await;
    }
    post_as_site(memory, &site, "s15", "from the site").await;
    for since in [None, Some(15), Some(12), Some(10), Some(9)] {
        let (_, from) = same(&servers, &key, "lobby", since).await;
        assert_eq!(from, From::Memory, "since {since:?}");
    }

    sender.say("lobby", "c16", "m16").await;
    let author = author_of(memory, ids[1]).await;
    deleted_in_bulk(&servers, &key, author).await;
    drop((keeper, sender));
}

/// Everything `author` wrote (the newest message too, not 15, the site's),
/// deleted in bulk. That reaches below the window (message 1, while visible
/// ones are there): it is read again, then answers again.
async fn deleted_in_bulk(servers: &(TestApp, TestApp), key: &str, author: ParticipantId) {
    delete_all_by(&servers.0.state.chat, Actor::CommandLine, author)
        .await
        .unwrap();
    let (got, from) = same(servers, key, "lobby", None).await;
    assert_eq!((seqs(&got, "messages"), from), (vec![15], From::Database));
    for since in [Some(16), Some(14), Some(11), Some(10)] {
        let (got, from) = same(servers, key, "lobby", since).await;
        assert_eq!(from, From::Memory, "since {since:?}");
        if since == Some(16) {
            assert!(seqs(&got, "deleted").contains(&16), "{got}");
        }
    }
}

async fn post_as_site(app: &TestApp, site: &Site, cid: &str, text: &str) {
    let room = RoomName::parse("lobby").unwrap();
    publish(&app.state.chat, site.clone(), room, cid, text, Author::Site)
        .await
        .unwrap();
}

async fn author_of(app: &TestApp, id: i64) -> ParticipantId {
    app.db
        .run(move |conn| chatctl::db::models::Message::find(conn, MessageId(id)))
        .await
        .unwrap()
        .unwrap()
        .participant_id
}

/// A room of which this server knows nothing (a restart): the first joins
/// read the database, the crowd after them is answered from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_resuming_after_a_restart_reads_the_database_once() {
    let servers = pair().await;
    let (memory, _) = &servers;
    let site = memory.site(&[ORIGIN]).await;
    let key = site.public_key.clone();
    let site_id = site.id;
    memory
        .db
        .run(move |conn| chatctl::db::models::Room::create(conn, site_id, "lobby"))
        .await
        .unwrap();
    for i in 1..=5 {
        post_as_site(memory, &site, &format!("c{i}"), &format!("m{i}")).await;
    }
    let misses = count(memory, "miss");
    let mut crowd = Vec::new();
    for i in 0..20 {
        let (mut client, _) = memory.guest(&key, &format!("crowd{i}")).await;
        let welcome = client.join("lobby", Some(3)).await;
        assert_eq!(seqs(&history(&welcome), "messages"), [4, 5], "{welcome}");
        crowd.push(client);
    }
    // The first is alone (read, not kept); the second reads and keeps it.
    assert_eq!(count(memory, "miss") - misses, 2);
    assert_eq!(count(memory, "hit"), 18);
    same(&servers, &key, "lobby", Some(3)).await;
}

/// The authors' names of a history.
fn nicks(history: &Value) -> Vec<String> {
    let messages = history["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .map(|m| m["author"]["nick"].as_str().unwrap().to_owned())
        .collect()
}

/// The database shows people as they are now: a guest who comes back under
/// another name (here, or on the other server) is shown under it on their
/// old messages, from memory too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_name_shows_on_old_messages_from_memory_too() {
    let servers = pair().await;
    let (memory, database) = &servers;
    let key = memory.site(&[ORIGIN]).await.public_key;
    let (_keeper, _) = memory.guest_in(&key, "keeper", "lobby").await;
    let (mut ann, ready) = memory.guest_in(&key, "ann", "lobby").await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    for i in 1..=3 {
        ann.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
    }
    same(&servers, &key, "lobby", None).await;
    let (got, from) = same(&servers, &key, "lobby", Some(0)).await;
    assert_eq!(
        (nicks(&got), from),
        (vec!["ann".to_owned(); 3], From::Memory)
    );

    // Back here as "anna".
    let mut anna = memory.connect(&key).await;
    let ready = anna
        .hello(json!({"guest_token": token, "nick": "anna"}))
        .await;
    assert_eq!(ready["me"]["nick"], "anna", "{ready}");
    let (got, _) = same(&servers, &key, "lobby", Some(0)).await;
    assert_eq!(nicks(&got), vec!["anna".to_owned(); 3]);

    // Then on the other server as "annie": this one hears of it through the
    // event log.
    let mut annie = database.connect(&key).await;
    let ready = annie
        .hello(json!({"guest_token": token, "nick": "annie"}))
        .await;
    assert_eq!(ready["me"]["nick"], "annie", "{ready}");
    crate::support::wait::poll(
        "the new name to show from memory",
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(100),
        || async {
            let got = history(&welcome(memory, &key, "lobby", Some(0)).await);
            match nicks(&got) == vec!["annie".to_owned(); 3] {
                true => Ok(()),
                false => Err(got),
            }
        },
    )
    .await;
    let (_, from) = same(&servers, &key, "lobby", Some(0)).await;
    assert_eq!(from, From::Memory);
}

/// Runs `sql` on the SQLite file of `app` (a fault to inject).
async fn sqlite(app: &TestApp, sql: &'static str) {
    use diesel::connection::SimpleConnection;
    app.db
        .run(move |conn| match conn {
            chatctl::db::DbConn::Sqlite(c) => c
                .batch_execute(sql)
                .map_err(|e| chatctl::db::DbError::Internal(e.to_string())),
            chatctl::db::DbConn::Pg(_) => unreachable!("a SQLite run"),
        })
        .await
        .unwrap();
}

/// A commit whose outcome is unknown (here it failed once its seq was taken,
/// and the message is then found stored, as after a connection lost during
/// COMMIT): the next join reads the database, which has it, instead of the
/// history in memory, which does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_commit_of_unknown_outcome_the_database_answers() {
    if postgres_base_url().is_some() {
        return; // the fault is injected with a SQLite trigger
    }
    use chatctl::db::models::message::NewMessage;
    use chatctl::db::models::{Message, Room};
    let servers = pair().await;
    let (memory, _) = &servers;
    let key = memory.site(&[ORIGIN]).await.public_key;
    let (_keeper, _) = memory.guest_in(&key, "keeper", "lobby").await;
    let (mut sender, _) = memory.guest_in(&key, "sender", "lobby").await;
    let first = sender.say("lobby", "c1", "m1").await["id"]
        .as_i64()
        .unwrap();
    same(&servers, &key, "lobby", None).await;
    assert_eq!(same(&servers, &key, "lobby", Some(0)).await.1, From::Memory);

    sqlite(
        memory,
        "CREATE TRIGGER unavailable BEFORE UPDATE OF last_seq ON rooms \
         BEGIN SELECT RAISE(ABORT, 'unavailable'); END;",
    )
    .await;
    sender
        .send(json!({"type": "send", "room": "lobby", "cid": "c2", "text": "m2"}))
        .await;
    let refused = sender.recv_type_any(&["ack", "error"]).await;
    assert_eq!(refused["code"], "storage_unavailable", "{refused}");
    sqlite(memory, "DROP TRIGGER unavailable").await;
    // What the database holds had that commit gone through.
    memory
        .db
        .run(move |conn| {
            let m = Message::find(conn, MessageId(first))?.unwrap();
            let new = NewMessage {
                site_id: m.site_id,
                room_id: m.room_id,
                seq: 2,
                participant_id: m.participant_id,
                cid: Some("c2".into()),
                body: "m2".into(),
                ip: None,
                created_at: m.created_at + 1,
            };
            Message::insert_new(conn, &new)?;
            Room::set_last_seq(conn, m.room_id, 2)
        })
        .await
        .unwrap();
    for since in [None, Some(0), Some(1)] {
        let (got, _) = same(&servers, &key, "lobby", since).await;
        assert_eq!(got["seq"], 2, "{got}");
    }
    // The retry is answered as the stored message, and memory follows.
    let retried = sender.say("lobby", "c2", "m2").await;
    assert_eq!(
        (retried["seq"].as_i64(), retried["duplicate"].as_bool()),
        (Some(2), Some(true))
    );
    sender.say("lobby", "c3", "m3").await;
    for since in [None, Some(1), Some(2)] {
        assert_eq!(same(&servers, &key, "lobby", since).await.1, From::Memory);
    }
}
