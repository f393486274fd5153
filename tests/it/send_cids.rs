//! A WebSocket `send`'s `cid` follows the API's rule (`api_cids`): a retry of
//! the same message (room and text) gets the original's ack; a cid reused for
//! another message is refused with `cid_reused` and stores nothing, and the
//! connection goes on. Approve-first rooms, which hold messages by cid, too.

use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::*;

/// The answer to a send: its ack or error.
async fn attempt(client: &mut Client, room: &str, cid: &str, text: &str) -> Value {
    client
        .send(json!({"type": "send", "room": room, "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

fn assert_reused(reply: &Value, cid: &str, room: &str, names: &str) {
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("cid_reused")),
        "{reply}"
    );
    assert_eq!(
        (reply["ref"].as_str(), reply["room"].as_str()),
        (Some(cid), Some(room))
    );
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains(names), "{message:?} names {names:?}");
}

#[tokio::test]
async fn a_cid_reused_over_websocket_is_refused_and_a_retry_gets_the_original() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.join("support", None).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "support").await;

    let first = alice.say("lobby", "c1", "Maintenance tonight.").await;
    assert_eq!(
        (first["room"].as_str(), first["seq"].as_i64()),
        (Some("lobby"), Some(1))
    );

    // Another room, same text: refused, naming where the cid went.
    let elsewhere = attempt(&mut alice, "support", "c1", "Maintenance tonight.").await;
    assert_reused(&elsewhere, "c1", "support", "\"lobby\"");
    // Same room, another text.
    let other = attempt(&mut alice, "lobby", "c1", "Something else.").await;
    assert_reused(&other, "c1", "lobby", "seq 1");

    // A true retry (the text as typed, before trimming) gets the original's ack.
    let retry = attempt(&mut alice, "lobby", "c1", " Maintenance tonight.  ").await;
    assert_eq!(retry["type"], "ack", "{retry}");
    assert_eq!(
        (
            &retry["room"],
            &retry["seq"],
            &retry["id"],
            &retry["duplicate"]
        ),
        (&first["room"], &first["seq"], &first["id"], &json!(true))
    );

    // Back to back (likely one commit of the writer): the second is refused.
    for (room, text) in [("lobby", "one"), ("support", "two")] {
        alice
            .send(json!({"type": "send", "room": room, "cid": "c2", "text": text}))
            .await;
    }
    let ack = alice.recv_type_any(&["ack", "error"]).await;
    assert_eq!(
        (ack["type"].as_str(), ack["room"].as_str()),
        (Some("ack"), Some("lobby")),
        "{ack}"
    );
    assert_reused(
        &alice.recv_type_any(&["ack", "error"]).await,
        "c2",
        "support",
        "\"lobby\"",
    );

    // The connection goes on, and nothing reached the support room.
    let fresh = alice.say("support", "c3", "Fresh cid.").await;
    assert_eq!(
        fresh["seq"], 1,
        "nothing else was stored in support: {fresh}"
    );
    assert_eq!(bob.recv_type("message").await["text"], "Fresh cid.");
    let (mut carol, _) = app.guest(&site.public_key, "carol").await;
    assert_eq!(
        texts(&carol.join("support", None).await),
        vec!["Fresh cid."]
    );
    assert_eq!(
        texts(&carol.join("lobby", None).await),
        vec!["Maintenance tonight.", "one"]
    );
}

#[tokio::test]
async fn approve_first_rooms_hold_a_cid_once_and_refuse_its_reuse() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    for room in ["lobby", "review", "other"] {
        api.post("/rooms", json!({"name": room})).await;
    }
    for room in ["review", "other"] {
        let patched = api
            .patch(&format!("/rooms/{room}"), json!({"approve_first": true}))
            .await;
        assert!(patched.status.is_success(), "{}", patched.body);
    }
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "review").await;
    alice.join("lobby", None).await;
    alice.join("other", None).await;

    let held = attempt(&mut alice, "review", "h1", "Please approve me.").await;
    assert_eq!(held["code"], "held_for_review", "{held}");
    // A retry is held once.
    let again = attempt(&mut alice, "review", "h1", "Please approve me.").await;
    assert_eq!(again["code"], "held_for_review", "{again}");
    // Another text, or another room, under the held cid: refused.
    let other_text = attempt(&mut alice, "review", "h1", "Another thing.").await;
    assert_reused(
        &other_text,
        "h1",
        "review",
        "waiting for approval in room \"review\"",
    );
    let other_room = attempt(&mut alice, "other", "h1", "Please approve me.").await;
    assert_reused(&other_room, "h1", "other", "\"review\"");
    let queue = app
        .db
        .run(|conn| chatctl::db::models::HeldMessage::queue(conn, None, 10))
        .await
        .unwrap();
    let bodies: Vec<&str> = queue.iter().map(|(m, ..)| m.body.as_str()).collect();
    assert_eq!(bodies, ["Please approve me."]);

    // A cid already posted elsewhere is not held for another message.
    let posted = alice.say("lobby", "p1", "Posted in the lobby.").await;
    let reused = attempt(&mut alice, "review", "p1", "Held?").await;
    assert_reused(&reused, "p1", "review", "\"lobby\"");
    let retry = attempt(&mut alice, "lobby", "p1", "Posted in the lobby.").await;
    assert_eq!(
        (&retry["type"], &retry["seq"]),
        (&json!("ack"), &posted["seq"])
    );
    let queue = app
        .db
        .run(|conn| chatctl::db::models::HeldMessage::queue(conn, None, 10))
        .await
        .unwrap();
    assert_eq!(queue.len(), 1, "nothing more was held");
}
