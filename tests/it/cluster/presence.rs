//! Presence, typing and read receipts across instances: who is in a room is
//! the same on every instance, and the people of an instance that dies or
//! stops leave the others' rooms (within seconds, or at once on SIGTERM).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{
    broker_becomes, cluster_env, instance, pair, receive, receive_seqs, ClusterEnv, Pair, SETTLE,
};
use crate::support::process::{create_site, ServerProcess};
use crate::support::Client;

/// Reads frames until a `presence` frame for `nick` with `event`; fails
/// after `within`. Returns it, with how long it took.
async fn presence(
    client: &mut Client,
    event: &str,
    nick: &str,
    within: Duration,
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let left = within.saturating_sub(started.elapsed());
        let frame = tokio::time::timeout(left, client.recv_type("presence"))
            .await
            .unwrap_or_else(|_| panic!("no presence {event} of {nick} within {within:?}"));
        if frame["event"] == event && frame["who"]["nick"] == nick {
            return (frame, started.elapsed());
        }
    }
}

fn nicks(welcome: &Value) -> Vec<String> {
    let mut nicks: Vec<String> = welcome["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["nick"].as_str().unwrap().to_owned())
        .collect();
    nicks.sort();
    nicks
}

/// A joiner on B sees who is on A in its welcome, and A's people see it
/// come; typing and read receipts cross over; the sender's `delivered`
/// counts the receiver on the other instance; leaving is seen across.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_typing_and_receipts_reach_the_other_instance() {
    let Some(two) = pair("presence_typing_and_receipts_reach_the_other_instance").await else {
        return;
    };
    let Pair { key, a, b, .. } = &two;
    let (mut ann, _, welcome) = a.joined(key, json!({"nick": "ann"}), "lobby", None).await;
    assert_eq!(nicks(&welcome), ["ann"]);
    let (mut bob, _, welcome) = b.joined(key, json!({"nick": "bob"}), "lobby", None).await;
    assert_eq!(nicks(&welcome), ["ann", "bob"], "{welcome}");
    let (frame, _) = presence(&mut ann, "join", "bob", SETTLE).await;
    assert_eq!(frame["online"], 2);

    bob.send(json!({"type": "typing", "room": "lobby", "active": true}))
        .await;
    let typing = tokio::time::timeout(SETTLE, ann.recv_type("typing"))
        .await
        .expect("typing crosses");
    assert_eq!(
        (typing["who"]["nick"].clone(), typing["active"].clone()),
        (json!("bob"), json!(true))
    );

    let ack = ann.say("lobby", "c1", "hello bob").await;
    assert_eq!(ack["delivered"], 1, "bob, on the other instance: {ack}");
    assert_eq!(
        receive(&mut bob, 1, SETTLE).await,
        [(1, "hello bob".to_owned())]
    );
    bob.send(json!({"type": "seen", "room": "lobby", "seq": 1}))
        .await;
    let seen = tokio::time::timeout(SETTLE, ann.recv_type("seen"))
        .await
        .expect("receipt crosses");
    assert_eq!(
        (seen["seq"].clone(), seen["id"].clone()),
        (json!(1), frame["who"]["id"].clone())
    );
    // A third person joining on A gets bob's receipt in its welcome.
    let (carol, _, welcome) = a.joined(key, json!({"nick": "carol"}), "lobby", None).await;
    assert_eq!(
        welcome["seen"],
        json!([{"id": frame["who"]["id"], "seq": 1}]),
        "{welcome}"
    );
    carol.close().await;
    presence(&mut ann, "leave", "carol", SETTLE).await;

    bob.close().await;
    let (frame, _) = presence(&mut ann, "leave", "bob", SETTLE).await;
    assert_eq!(frame["online"], 1);
}

/// B is killed (SIGKILL): within a few seconds its people leave the room on
/// A, except someone also connected through A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_people_leave_the_others_within_seconds() {
    let Some(mut two) = pair("a_killed_instance_people_leave_the_others_within_seconds").await
    else {
        return;
    };
    let Pair { key, a, b, .. } = &mut two;
    let (mut ann, _, _) = a.joined(key, json!({"nick": "ann"}), "lobby", None).await;
    let (_bob, _, _) = b.joined(key, json!({"nick": "bob"}), "lobby", None).await;
    presence(&mut ann, "join", "bob", SETTLE).await;
    // Dee has a tab on each instance.
    let (_dee_b, ready, _) = b.joined(key, json!({"nick": "dee"}), "lobby", None).await;
    presence(&mut ann, "join", "dee", SETTLE).await;
    let (_dee_a, _, welcome) = a
        .joined(
            key,
            json!({"guest_token": ready["guest_token"]}),
            "lobby",
            None,
        )
        .await;
    assert_eq!(nicks(&welcome), ["ann", "bob", "dee"]);

    b.kill9();
    let (frame, took) = presence(&mut ann, "leave", "bob", Duration::from_secs(6)).await;
    assert_eq!(frame["online"], 2, "ann and dee remain: {frame}");
    eprintln!("leave seen {took:?} after the kill");
    // Dee is still here through A: no leave.
    ann.expect_silence(Duration::from_millis(500)).await;
    let (_, _, welcome) = a.joined(key, json!({"nick": "eve"}), "lobby", None).await;
    assert_eq!(nicks(&welcome), ["ann", "dee", "eve"]);
}

/// B stops (SIGTERM): its people leave the room on A at once, well before
/// a silent instance would be taken for dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_people_leave_the_others_at_once() {
    let Some(two) = pair("a_stopping_instance_people_leave_the_others_at_once").await else {
        return;
    };
    // B moves into the task that stops it; the broker stays in `two`.
    let (key, a, mut b) = (&two.key, &two.a, two.b);
    let (mut ann, _, _) = a.joined(key, json!({"nick": "ann"}), "lobby", None).await;
    let (_bob, _, _) = b.joined(key, json!({"nick": "bob"}), "lobby", None).await;
    presence(&mut ann, "join", "bob", SETTLE).await;
    let stopping = tokio::spawn(async move { b.terminate(Duration::from_secs(15)).await });
    // Silence is taken for death after 3 s; a stop is announced.
    let (_, took) = presence(&mut ann, "leave", "bob", Duration::from_millis(2500)).await;
    eprintln!("leave seen {took:?} after SIGTERM");
    assert!(stopping.await.unwrap().is_some(), "B exits");
}

/// A stops (SIGTERM) while its sender's messages are in flight: what A
/// commits while draining reaches the receiver on B right away, not only
/// when B takes A's silence for death (3 s) and reads the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stopping_instance_commits_while_draining_reaches_the_others_at_once() {
    use futures_util::{SinkExt, StreamExt};
    let Some(mut two) =
        pair("what_a_stopping_instance_commits_while_draining_reaches_the_others_at_once").await
    else {
        return;
    };
    let Pair { key, a, b, .. } = &mut two;
    let (mut on_b, _, _) = b.joined(key, json!({"nick": "rb"}), "lobby", None).await;
    let (sender, _, _) = a.joined(key, json!({"nick": "s"}), "lobby", None).await;
    let (mut sink, mut stream) = sender.ws.split();
    let (first_acks, mut acks_seen) = tokio::sync::watch::channel(0usize);
    let acking = tokio::spawn(async move {
        let mut acked = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).unwrap_or_default();
            if frame["type"] == "ack" {
                acked.push(frame["seq"].as_i64().unwrap());
                let _ = first_acks.send(acked.len());
            }
        }
        acked
    });
    // Sends keep coming until A closes the connection.
    let sending = tokio::spawn(async move {
        for i in 0..100_000 {
            let frame = json!({"type": "send", "room": "lobby", "cid": format!("c{i}"), "text": format!("m{i}")});
            let message = tokio_tungstenite::tungstenite::Message::text(frame.to_string());
            if sink.send(message).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    acks_seen.wait_for(|n| *n >= 50).await.unwrap();
    assert!(
        a.terminate(Duration::from_secs(15)).await.is_some(),
        "A exits"
    );
    let _ = sending.await;
    let exited = Instant::now();
    let acked = acking.await.unwrap();
    assert!(!acked.is_empty());
    let got = receive_seqs(&mut on_b, acked.len(), Duration::from_millis(1500)).await;
    assert_eq!(got, acked, "every acknowledged message, in order");
    eprintln!(
        "all {} on B {:?} after A exited",
        acked.len(),
        exited.elapsed()
    );
}

/// `--presence-down-secs` sets how long a silent instance is waited for:
/// with 8 s on A, B's people are still there 5 s after B was killed, and
/// leave within the 8 s (plus a heartbeat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_down_secs_sets_how_long_a_silent_instance_is_waited_for() {
    let test = "presence_down_secs_sets_how_long_a_silent_instance_is_waited_for";
    let Some(ClusterEnv { database, redis }) = cluster_env(test).await else {
        return;
    };
    let key = create_site(&database.url);
    let mut args: Vec<&str> = crate::support::process::FAST.to_vec();
    let url = redis.url();
    args.extend(["--broker-url", &url, "--presence-down-secs", "8"]);
    let a = ServerProcess::start(&database.url, &args).await;
    let mut b = instance(&database, Some(&url), "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let (mut ann, _, _) = a.joined(&key, json!({"nick": "ann"}), "lobby", None).await;
    let (_bob, _, _) = b.joined(&key, json!({"nick": "bob"}), "lobby", None).await;
    presence(&mut ann, "join", "bob", SETTLE).await;

    b.kill9();
    let killed = Instant::now();
    ann.expect_silence(Duration::from_secs(5)).await;
    let (_, _) = presence(&mut ann, "leave", "bob", Duration::from_secs(6)).await;
    let took = killed.elapsed();
    eprintln!("leave seen {took:?} after the kill");
    assert!(took >= Duration::from_secs(7), "left after {took:?}");
}

/// With a grace period (1.5 s here), bob moving from B to A (a reload that
/// lands on the other instance) is neither a leave nor a join for ann, on
/// either instance; his leave from A comes after the grace period; and a
/// killed instance's people still leave within seconds (the grace period is
/// the departed instance's to keep, and it is gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_onto_the_other_instance_within_the_grace_period_is_silent() {
    let test = "a_reload_onto_the_other_instance_within_the_grace_period_is_silent";
    let Some(ClusterEnv { database, redis }) = cluster_env(test).await else {
        return;
    };
    let key = create_site(&database.url);
    let url = redis.url();
    let mut args = crate::support::process::with_grace("1500");
    args.extend(["--broker-url", &url]);
    let a = ServerProcess::start(&database.url, &args).await;
    let mut b = ServerProcess::start(&database.url, &args).await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let (mut ann, _, _) = a.joined(&key, json!({"nick": "ann"}), "lobby", None).await;
    let (bob, ready, _) = b.joined(&key, json!({"nick": "bob"}), "lobby", None).await;
    presence(&mut ann, "join", "bob", SETTLE).await;
    let (mut cy, _, _) = b.joined(&key, json!({"nick": "cy"}), "lobby", None).await;
    presence(&mut ann, "join", "cy", SETTLE).await;

    bob.close().await;
    let token = json!({"guest_token": ready["guest_token"]});
    let (bob, _, welcome) = a.joined(&key, token, "lobby", None).await;
    assert_eq!(nicks(&welcome), ["ann", "bob", "cy"], "{welcome}");
    ann.expect_silence(Duration::from_millis(2500)).await;
    cy.expect_silence(Duration::from_millis(100)).await;

    bob.close().await;
    let closed = Instant::now();
    let (frame, _) = presence(&mut cy, "leave", "bob", Duration::from_secs(5)).await;
    assert_eq!(frame["online"], 2);
    let took = closed.elapsed();
    assert!(took >= Duration::from_millis(1500), "left after {took:?}");
    presence(&mut ann, "leave", "bob", SETTLE).await;

    b.kill9();
    presence(&mut ann, "leave", "cy", Duration::from_secs(6)).await;
}
