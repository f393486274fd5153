//! Rooms, history, resume, acks, presence and typing.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn sites_and_rooms_are_isolated() {
    let app = TestApp::spawn().await;
    let site_a = app.site(&[ORIGIN]).await;
    let site_b = app.site(&[ORIGIN]).await;
    let (mut a1, _) = app.guest(&site_a.public_key, "a1").await;
    let (mut a2, _) = app.guest(&site_a.public_key, "a2").await;
    let (mut a_other, _) = app.guest(&site_a.public_key, "a3").await;
    let (mut b, _) = app.guest(&site_b.public_key, "b").await;
    a1.join("lobby", None).await;
    a2.join("lobby", None).await;
    a_other.join("other", None).await;
    b.join("lobby", None).await;

    let ack = a1.say("lobby", "c1", "hello site A").await;
    assert_eq!(ack["seq"], 1);
    let msg = a2.recv_type("message").await;
    assert_eq!(
        (msg["text"].as_str(), msg["room"].as_str()),
        (Some("hello site A"), Some("lobby"))
    );
    b.expect_silence(QUIET).await;
    a_other.expect_silence(QUIET).await;

    // Same room name on site B is another room, with its own seq.
    let ack = b.say("lobby", "c1", "hello site B").await;
    assert_eq!(ack["seq"], 1);
    let welcome = a_other.join("lobby", None).await;
    assert_eq!(texts(&welcome), vec!["hello site A"]);
}

#[tokio::test]
async fn join_sends_history_and_online_list() {
    let app = TestApp::builder()
        .limits(|l| l.history_page = 3)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, ready) = app.guest(&site.public_key, "alice").await;
    let welcome = alice.join("lobby", None).await;
    assert_eq!(
        (
            welcome["mode"].as_str(),
            welcome["seq"].as_i64(),
            welcome["more"].as_bool()
        ),
        (Some("latest"), Some(0), Some(false))
    );
    for i in 1..=5 {
        alice
            .say("lobby", &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    let (mut bob, _) = app.guest(&site.public_key, "bob").await;
    let welcome = bob.join("lobby", None).await;
    assert_eq!(texts(&welcome), vec!["message 3", "message 4", "message 5"]);
    assert_eq!(welcome["more"], true);
    assert_eq!(welcome["seq"], 5);
    assert_eq!(welcome["messages"][0]["author"]["nick"], "alice");
    assert_eq!(welcome["messages"][0]["author"]["id"], ready["me"]["id"]);
    let online: Vec<_> = welcome["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["nick"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        online.contains(&"alice".to_owned()) && online.contains(&"bob".to_owned()),
        "{online:?}"
    );

    // Older pages on demand.
    bob.send(json!({"type": "history", "room": "lobby", "before": 3, "limit": 10}))
        .await;
    let page = bob.recv_type("history").await;
    assert_eq!(texts(&page), vec!["message 1", "message 2"]);
    assert_eq!(page["more"], false);
    bob.send(json!({"type": "history", "room": "lobby", "before": 3, "limit": 1}))
        .await;
    let page = bob.recv_type("history").await;
    assert_eq!(
        (texts(&page), page["more"].as_bool()),
        (vec!["message 2".to_owned()], Some(true))
    );
}

#[tokio::test]
async fn resume_returns_exactly_the_missed_messages() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;
    let (mut reader, ready) = app.guest(&site.public_key, "reader").await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    reader.join("lobby", None).await;
    sender.say("lobby", "1", "one").await;
    sender.say("lobby", "2", "two").await;
    assert_eq!(reader.recv_type("message").await["seq"], 1);
    assert_eq!(reader.recv_type("message").await["seq"], 2);
    reader.close().await;

    for i in 3..=5 {
        sender
            .say("lobby", &i.to_string(), &format!("missed {i}"))
            .await;
    }
    let mut reader = app.connect(&site.public_key).await;
    reader.hello(json!({"guest_token": token})).await;
    let welcome = reader.join("lobby", Some(2)).await;
    assert_eq!(welcome["mode"], "resumed");
    assert_eq!(texts(&welcome), vec!["missed 3", "missed 4", "missed 5"]);
    // Live messages continue right after, with no duplicate.
    sender.say("lobby", "6", "live 6").await;
    let live = reader.recv_type("message").await;
    assert_eq!(
        (live["seq"].as_i64(), live["text"].as_str()),
        (Some(6), Some("live 6"))
    );

    // Nothing missed: an empty resume.
    let welcome = reader.join("lobby", Some(6)).await;
    assert_eq!(
        (welcome["mode"].as_str(), texts(&welcome).len()),
        (Some("resumed"), 0)
    );
}

#[tokio::test]
async fn resume_beyond_the_cap_asks_for_a_reset() {
    let app = TestApp::builder()
        .limits(|l| {
            l.resume_cap = 3;
            l.history_page = 2;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "s", "lobby").await;
    for i in 1..=6 {
        sender.say("lobby", &i.to_string(), &format!("m{i}")).await;
    }
    let (mut reader, _) = app.guest(&site.public_key, "r").await;
    let welcome = reader.join("lobby", Some(1)).await;
    assert_eq!(welcome["mode"], "reset");
    assert_eq!(texts(&welcome), vec!["m5", "m6"]);
    // A `since` from the future (e.g. a restored database) also resets.
    let welcome = reader.join("lobby", Some(99)).await;
    assert_eq!(welcome["mode"], "reset");
    let welcome = reader.join("lobby", Some(3)).await;
    assert_eq!(
        (welcome["mode"].as_str(), texts(&welcome)),
        (
            Some("resumed"),
            vec!["m4".to_owned(), "m5".into(), "m6".into()]
        )
    );
}

#[tokio::test]
async fn duplicate_client_ids_are_stored_once() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, ready) = app.guest(&site.public_key, "alice").await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    alice.join("lobby", None).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;

    let first = alice.say("lobby", "same-cid", "hello").await;
    assert_eq!(first["duplicate"], false);
    let retry = alice.say("lobby", "same-cid", "hello").await;
    assert_eq!(retry["duplicate"], true);
    assert_eq!(
        (retry["seq"].clone(), retry["id"].clone()),
        (first["seq"].clone(), first["id"].clone())
    );

    // A retry after reconnecting (new connection, same identity) is also recognised.
    alice.close().await;
    let mut alice = app.connect(&site.public_key).await;
    alice.hello(json!({"guest_token": token})).await;
    alice.join("lobby", None).await;
    let retry = alice.say("lobby", "same-cid", "hello").await;
    assert_eq!(
        (retry["duplicate"].as_bool(), retry["seq"].clone()),
        (Some(true), first["seq"].clone())
    );

    // Bob saw it exactly once.
    assert_eq!(bob.recv_type("message").await["text"], "hello");
    let (mut carol, _) = app.guest(&site.public_key, "carol").await;
    assert_eq!(texts(&carol.join("lobby", None).await), vec!["hello"]);
    bob.send(json!({"type": "ping"})).await;
    let next = bob.recv_type_any(&["message", "pong"]).await;
    assert_eq!(next["type"], "pong", "no second copy reached bob");
}

#[tokio::test]
async fn ack_reports_seq_and_delivery_count_after_broadcast() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let ack = alice.say("lobby", "a", "alone").await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["delivered"].as_u64()),
        (Some(1), Some(0))
    );

    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    let (mut carol, _) = app.guest_in(&site.public_key, "carol", "lobby").await;
    let ack = alice
        .say("lobby", "b", "<script>alert(1)</script> {{x}}")
        .await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["delivered"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(ack["ts"].as_i64().unwrap() > 0 && ack["id"].as_i64().is_some());
    for client in [&mut bob, &mut carol] {
        let msg = client.recv_type("message").await;
        assert_eq!(
            msg["text"], "<script>alert(1)</script> {{x}}",
            "text is carried verbatim, never interpreted"
        );
        assert_eq!(msg["author"]["nick"], "alice");
        assert_eq!(msg["seq"], 2);
    }
    // The sender gets the ack, not its own message back.
    alice.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(
        alice.recv_type_any(&["message", "pong"]).await["type"],
        "pong"
    );
}

#[tokio::test]
async fn presence_and_typing_reach_the_room() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (mut bob, bob_ready) = app.guest_in(&site.public_key, "bob", "lobby").await;
    let joined = alice.recv_type("presence").await;
    assert_eq!(
        (
            joined["event"].as_str(),
            joined["who"]["nick"].as_str(),
            joined["online"].as_u64()
        ),
        (Some("join"), Some("bob"), Some(2))
    );

    // A second tab of bob's is not a new arrival.
    let mut bob_tab = app.connect(&site.public_key).await;
    bob_tab
        .hello(json!({"guest_token": bob_ready["guest_token"]}))
        .await;
    bob_tab.join("lobby", None).await;
    bob.send(json!({"type": "typing", "room": "lobby", "active": true}))
        .await;
    let typing = alice.recv().await;
    assert_eq!(
        (
            typing["type"].as_str(),
            typing["who"]["nick"].as_str(),
            typing["active"].as_bool()
        ),
        (Some("typing"), Some("bob"), Some(true))
    );
    bob_tab.close().await;
    alice.expect_silence(QUIET).await;

    bob.send(json!({"type": "leave", "room": "lobby"})).await;
    assert_eq!(bob.recv().await, json!({"type": "left", "room": "lobby"}));
    let left = alice.recv_type("presence").await;
    assert_eq!(
        (left["event"].as_str(), left["online"].as_u64()),
        (Some("leave"), Some(1))
    );

    bob.join("lobby", None).await;
    alice.recv_type("presence").await;
    bob.close().await;
    let left = alice.recv_type("presence").await;
    assert_eq!(
        (left["event"].as_str(), left["who"]["nick"].as_str()),
        (Some("leave"), Some("bob")),
        "disconnect counts as leaving"
    );
}

#[tokio::test]
async fn rooms_per_site_and_precreated_policy() {
    let app = TestApp::spawn().await;
    let site = app
        .new_site()
        .settings(SiteSettings {
            max_rooms: Some(2),
            ..Default::default()
        })
        .create()
        .await;
    let (mut client, _) = app.guest(&site.public_key, "x").await;
    // Rooms in use count: those with messages (see abuse::rooms for empty ones).
    client.join("one", None).await;
    client.say("one", "c1", "first").await;
    client.join("two", None).await;
    client.say("two", "c2", "second").await;
    client.send(json!({"type": "join", "room": "three"})).await;
    let err = client.recv().await;
    assert_eq!(
        (err["code"].as_str(), err["room"].as_str()),
        (Some("too_many_rooms"), Some("three"))
    );
    // Existing rooms stay joinable.
    client.join("one", None).await;

    app.configure_site(
        &site,
        SiteSettings {
            room_policy: Some(chatctl::db::models::RoomPolicy::Precreated),
            max_rooms: Some(100),
            ..Default::default()
        },
    )
    .await;
    let (mut late, _) = app.guest(&site.public_key, "y").await;
    late.send(json!({"type": "join", "room": "new-room"})).await;
    assert_eq!(late.recv().await["code"], "room_not_found");
    late.join("two", None).await;
}

#[tokio::test]
async fn acks_and_messages_arrive_in_seq_order_on_every_connection() {
    let app = TestApp::builder()
        .messages_unthrottled(10_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut clients = Vec::new();
    for nick in ["a", "b", "c"] {
        let (client, _) = app.guest_in(&site.public_key, nick, "lobby").await;
        clients.push(client);
    }
    // a and b fire 30 sends each without waiting; c only reads.
    for i in 0..30 {
        for (n, client) in clients.iter_mut().take(2).enumerate() {
            client.send(json!({"type": "send", "room": "lobby", "cid": format!("{n}-{i}"), "text": "x"})).await;
        }
    }
    for (n, client) in clients.iter_mut().enumerate() {
        let mut last = 0;
        let mut acks = 0;
        // Senders see 30 acks and 30 messages of the other sender; the reader 60 messages.
        for _ in 0..60 {
            let frame = client.recv_type_any(&["message", "ack"]).await;
            let seq = frame["seq"].as_i64().unwrap();
            assert!(seq > last, "client {n}: seq {seq} after {last}");
            last = seq;
            acks += usize::from(frame["type"] == "ack");
        }
        assert_eq!((last, acks), (60, if n < 2 { 30 } else { 0 }));
    }
}

#[tokio::test]
async fn typing_repeats_are_throttled_but_changes_are_not() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    alice.recv_type("presence").await;
    for active in [true, true, true, false, true] {
        bob.send(json!({"type": "typing", "room": "lobby", "active": active}))
            .await;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(alice.recv_type("typing").await["active"].as_bool().unwrap());
    }
    assert_eq!(
        seen,
        vec![true, false, true],
        "repeats dropped, the stop and the restart relayed"
    );
    alice.expect_silence(QUIET).await;
}

/// Receipts refused: not in the room, not a message number, too many of them.
async fn assert_bad_and_flooded_receipts_are_refused(client: &mut Client) {
    for (frame, code) in [
        (
            json!({"type": "seen", "room": "elsewhere", "seq": 1}),
            "not_joined",
        ),
        (
            json!({"type": "seen", "room": "lobby", "seq": 0}),
            "bad_frame",
        ),
        (
            json!({"type": "seen", "room": "lobby", "seq": "2"}),
            "bad_frame",
        ),
        (json!({"type": "seen", "room": "lobby"}), "bad_frame"),
    ] {
        client.send(frame.clone()).await;
        let error = client.recv_type("error").await;
        assert_eq!(error["code"], code, "{frame} -> {error}");
    }
    let mut limited = None;
    for _ in 0..10 {
        client
            .send(json!({"type": "seen", "room": "lobby", "seq": 2}))
            .await;
    }
    for _ in 0..10 {
        match tokio::time::timeout(QUIET, client.recv_type("error")).await {
            Ok(error) => limited = Some(error),
            Err(_) => break,
        }
    }
    let limited = limited.expect("a flood of receipts is limited");
    assert_eq!(limited["code"], "rate_limited");
    assert!(limited["retry_after_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn read_receipts_reach_the_room_and_only_move_forward() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (mut bob, bob_ready) = app.guest_in(&site.public_key, "bob", "lobby").await;
    alice.recv_type("presence").await;
    let bob_id = bob_ready["me"]["id"].as_i64().unwrap();

    alice.say("lobby", "a1", "one").await;
    alice.say("lobby", "a2", "two").await;
    bob.recv_type("message").await;
    bob.recv_type("message").await;

    bob.send(json!({"type": "seen", "room": "lobby", "seq": 2}))
        .await;
    assert_eq!(
        alice.recv_type("seen").await,
        json!({"type": "seen", "room": "lobby", "id": bob_id, "seq": 2})
    );
    // Going back, repeating, or claiming messages never given changes nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    bob.send(json!({"type": "seen", "room": "lobby", "seq": 1}))
        .await;
    bob.send(json!({"type": "seen", "room": "lobby", "seq": 99}))
        .await;
    alice.expect_silence(QUIET).await;

    // Someone joining later learns how far everyone present has read.
    let (mut carol, carol_ready) = app.guest(&site.public_key, "carol").await;
    let carol_id = carol_ready["me"]["id"].as_i64().unwrap();
    let welcome = carol.join("lobby", None).await;
    assert_eq!(welcome["seen"], json!([{"id": bob_id, "seq": 2}]));

    assert_bad_and_flooded_receipts_are_refused(&mut carol).await;

    // A receipt leaves with its reader.
    bob.close().await;
    alice.recv_type("presence").await;
    let (mut dan, _) = app.guest(&site.public_key, "dan").await;
    let seen = dan.join("lobby", None).await["seen"].clone();
    assert_eq!(
        seen,
        json!([{"id": carol_id, "seq": 2}]),
        "bob's receipt is gone"
    );
}
