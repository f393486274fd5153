//! One room written on several instances: every message gets one seq, and
//! every receiver, on any instance, gets every message once, in seq order
//! (through the broker, or without one through the database).

use std::collections::BTreeSet;

use serde_json::json;

use super::{cluster_db, health, instance, pair, receive, receive_seqs, Pair, SETTLE};
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::*;

/// The room's `last_seq` as stored.
fn last_seq(database: &TestDb, room: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        last_seq: i64,
    }
    let mut conn = diesel::PgConnection::establish(&database.url).expect("connect");
    let rows: Vec<Row> = diesel::sql_query("SELECT last_seq FROM rooms WHERE name = $1")
        .bind::<diesel::sql_types::Text, _>(room)
        .load(&mut conn)
        .expect("read last_seq");
    rows[0].last_seq
}

/// A [`Pair`] with a receiver in the lobby on each instance ("ra" on A,
/// "rb" on B), or `None` when skipped.
async fn pair_with_receivers(test: &str) -> Option<(Pair, Client, Client)> {
    let two = pair(test).await?;
    let (on_a, _, _) = two
        .a
        .joined(&two.key, json!({"nick": "ra"}), "lobby", None)
        .await;
    let (on_b, _, _) = two
        .b
        .joined(&two.key, json!({"nick": "rb"}), "lobby", None)
        .await;
    Some((two, on_a, on_b))
}

/// `senders` clients on `server`, each sending `each` messages pipelined;
/// returns the seqs of their acks. Any refusal fails the test.
async fn send_from(
    server: &ServerProcess,
    key: &str,
    tag: &str,
    senders: usize,
    each: usize,
) -> Vec<tokio::task::JoinHandle<Vec<i64>>> {
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (mut client, _, _) = server
            .joined(key, json!({"nick": format!("{tag}{s}")}), "lobby", None)
            .await;
        let tag = format!("{tag}{s}");
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                client
                    .send(json!({"type": "send", "room": "lobby", "cid": format!("{tag}-{i}"), "text": format!("{tag} {i}")}))
                    .await;
            }
            let mut seqs = Vec::new();
            while seqs.len() < each {
                let reply = client.recv_type_any(&["ack", "error"]).await;
                assert_eq!(reply["type"], "ack", "send refused: {reply}");
                seqs.push(reply["seq"].as_i64().unwrap());
            }
            client.close().await;
            seqs
        }));
    }
    tasks
}

/// Two instances write one room at once: every message gets its own seq,
/// the seqs are gapless, no batch fails, and the room's `last_seq` is the
/// highest seq. (Before the row lock, both writers took the same seqs and
/// whole batches failed with `storage_unavailable`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_room_share_one_gapless_seq() {
    let Some(database) = cluster_db("two_instances_writing_one_room_share_one_gapless_seq") else {
        return;
    };
    let key = create_site(&database.url);
    let a = ServerProcess::start(&database.url, FAST).await;
    let b = ServerProcess::start(&database.url, FAST).await;
    let (senders, each) = (20, 25);
    let mut tasks = send_from(&a, &key, "a", senders, each).await;
    tasks.extend(send_from(&b, &key, "b", senders, each).await);
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("sender"));
    }
    let total = 2 * senders * each;
    let distinct: BTreeSet<i64> = acked.iter().copied().collect();
    assert_eq!(distinct.len(), total, "every ack has its own seq");
    assert_eq!(
        distinct.iter().copied().collect::<Vec<_>>(),
        (1..=total as i64).collect::<Vec<_>>(),
        "seqs 1..={total}, no gap"
    );
    let stored = a.stored_seqs(&key, "lobby").await;
    assert_eq!(stored, (1..=total as i64).collect::<Vec<_>>());
    assert_eq!(last_seq(&database, "lobby"), total as i64);
    for server in [&a, &b] {
        assert_eq!(
            server.metric("chatctl_commit_failures_total").await,
            Some(0.0)
        );
    }
}

/// Another instance stores a visitor's cid (in another room, with another
/// text) while this instance's writer is numbering a message with the same
/// cid: the writer waits for that commit, finds the cid taken, and must not
/// leave the seq it had given the message as a hole. (It did: the tester saw
/// acks 1, 2, 4, 6, then 8 for a plain send, with one guest sending each cid
/// on two instances at once.) The other instance is played by this test's
/// own transaction, held open until the writer is waiting on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cid_stored_by_another_instance_meanwhile_leaves_no_gap() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let Some(database) = cluster_db("a_cid_stored_by_another_instance_meanwhile_leaves_no_gap")
    else {
        return;
    };
    let key = create_site(&database.url);
    let a = ServerProcess::start(&database.url, FAST).await;
    let (mut client, ready, _) = a
        .joined(&key, json!({"nick": "twice"}), "lobby", None)
        .await;
    client.join("elsewhere", None).await;
    client.say("lobby", "first", "first").await;
    let me = ready["me"]["id"].as_i64().unwrap();

    let mut other = diesel::PgConnection::establish(&database.url).expect("connect");
    other
        .batch_execute(&format!(
            "BEGIN; INSERT INTO messages (site_id, room_id, seq, participant_id, cid, body, created_at) \
             SELECT site_id, id, last_seq + 1, {me}, 'race', 'stored elsewhere', 0 FROM rooms WHERE name = 'elsewhere';"
        ))
        .expect("the other instance's insert");
    client
        .send(json!({"type": "send", "room": "lobby", "cid": "race", "text": "here"}))
        .await;
    // Long enough for the writer to number the message and wait on our row.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    other.batch_execute("COMMIT").expect("commit");
    let reply = client.recv_type_any(&["ack", "error"]).await;
    assert_eq!(reply["code"], "cid_reused", "{reply}");

    let next = client.say("lobby", "after", "after the race").await;
    assert_eq!(next["seq"], 2, "no seq left as a hole: {next}");
    assert_eq!(a.stored_seqs(&key, "lobby").await, [1, 2]);
    assert_eq!(last_seq(&database, "lobby"), 2);
}

/// A message sent on A reaches receivers on A and on B: the same frames,
/// in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_on_one_instance_reaches_receivers_on_both() {
    let test = "a_message_sent_on_one_instance_reaches_receivers_on_both";
    let Some((two, mut on_a, mut on_b)) = pair_with_receivers(test).await else {
        return;
    };
    let (a, b) = (&two.a, &two.b);
    let (mut sender, _, _) = a
        .joined(&two.key, json!({"nick": "s"}), "lobby", None)
        .await;
    for i in 1..=20 {
        sender
            .say("lobby", &format!("c{i}"), &format!("hello {i}"))
            .await;
    }
    let expected: Vec<(i64, String)> = (1..=20).map(|i| (i, format!("hello {i}"))).collect();
    assert_eq!(receive(&mut on_a, 20, SETTLE).await, expected);
    assert_eq!(receive(&mut on_b, 20, SETTLE).await, expected);
    // Through the broker, not the periodic check: nothing was repaired.
    assert_eq!(
        b.metric("chatctl_broker_gaps_repaired_total").await,
        Some(0.0)
    );
    assert!(b.metric("chatctl_broker_received_total").await.unwrap() > 0.0);
}

/// Senders on both instances write one room at once, pipelined; receivers
/// on both see every message once, in seq order, with no gap: on each
/// instance a commit of its own (seq 12) never goes out before one of the
/// other's (11) that it had not yet received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_instances_give_every_receiver_the_same_contiguous_order() {
    let test = "concurrent_writers_on_two_instances_give_every_receiver_the_same_contiguous_order";
    let Some(two) = pair(test).await else {
        return;
    };
    let Pair { key, a, b, .. } = &two;
    let mut receivers = Vec::new();
    for (server, nick) in [(&a, "ra1"), (&a, "ra2"), (&b, "rb1"), (&b, "rb2")] {
        receivers.push(
            server
                .joined(key, json!({"nick": nick}), "lobby", None)
                .await
                .0,
        );
    }
    let (senders, each) = (10, 20);
    let total = 2 * senders * each;
    let mut tasks = send_from(a, key, "a", senders, each).await;
    tasks.extend(send_from(b, key, "b", senders, each).await);
    for task in tasks {
        task.await.expect("sender");
    }
    let expected: Vec<i64> = (1..=total as i64).collect();
    for mut receiver in receivers {
        let got: Vec<i64> = receive_seqs(&mut receiver, total, SETTLE * 2).await;
        assert_eq!(got, expected, "contiguous, in order, once");
    }
}

/// Commits alternate between A and B in one room; receivers on both get a
/// strictly contiguous sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_commits_reach_both_instances_contiguously() {
    let test = "alternating_commits_reach_both_instances_contiguously";
    let Some((two, mut on_a, mut on_b)) = pair_with_receivers(test).await else {
        return;
    };
    let key = &two.key;
    let (mut sa, _, _) = two
        .a
        .joined(key, json!({"nick": "sa"}), "lobby", None)
        .await;
    let (mut sb, _, _) = two
        .b
        .joined(key, json!({"nick": "sb"}), "lobby", None)
        .await;
    for i in 0..30 {
        let (sender, tag) = if i % 2 == 0 {
            (&mut sa, "a")
        } else {
            (&mut sb, "b")
        };
        let ack = sender
            .say("lobby", &format!("c{i}"), &format!("{tag} {i}"))
            .await;
        assert_eq!(ack["seq"], i + 1);
    }
    let expected: Vec<(i64, String)> = (0..30)
        .map(|i| (i + 1, format!("{} {i}", if i % 2 == 0 { "a" } else { "b" })))
        .collect();
    assert_eq!(receive(&mut on_a, 30, SETTLE).await, expected);
    assert_eq!(receive(&mut on_b, 30, SETTLE).await, expected);
}

/// Without a broker, instances on one database still deliver each other's
/// messages (through the database, about every second), in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_instances_deliver_each_others_messages_through_the_database() {
    let Some(database) =
        cluster_db("without_a_broker_instances_deliver_each_others_messages_through_the_database")
    else {
        return;
    };
    let key = create_site(&database.url);
    let a = instance(&database, None, "a").await;
    let b = instance(&database, None, "b").await;
    assert_eq!(health(&b).await["broker"], "none");
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (mut sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    for i in 1..=10 {
        sender
            .say("lobby", &format!("c{i}"), &format!("m{i}"))
            .await;
    }
    let expected: Vec<(i64, String)> = (1..=10).map(|i| (i, format!("m{i}"))).collect();
    assert_eq!(receive(&mut on_b, 10, SETTLE).await, expected);
}
