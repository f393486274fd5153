//! `welcome.more` says whether older visible messages exist before the page,
//! in every mode (issue 12, item 12): a resumed page used to say `false` always.
//! A resumed page also lists the messages deleted while the client was away.

use chatctl::db::models::audit::Actor;
use chatctl::db::models::MessageId;
use chatctl::moderation::messages::delete_message;
use serde_json::{json, Value};

use crate::support::*;

/// Deletes messages (by id) as a moderator would, live.
async fn delete(app: &TestApp, ids: &[i64]) {
    for &id in ids {
        delete_message(&app.state.chat, Actor::CommandLine, MessageId(id))
            .await
            .unwrap();
    }
}

fn mode_and_more(welcome: &Value) -> (Option<&str>, Vec<String>, Option<bool>) {
    (
        welcome["mode"].as_str(),
        texts(welcome),
        welcome["more"].as_bool(),
    )
}

#[tokio::test]
async fn more_is_true_to_its_definition_in_every_mode() {
    let app = TestApp::builder()
        .limits(|l| {
            l.history_page = 2;
            l.resume_cap = 3;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        let ack = sender.say("lobby", &i.to_string(), &format!("m{i}")).await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    let (mut reader, _) = app.guest(&site.public_key, "reader").await;
    let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();

    // (since, expected mode, texts, more)
    let cases: [(Option<i64>, &str, Vec<String>, bool); 6] = [
        (None, "latest", s(&["m4", "m5"]), true),
        // Resumed with older messages before the page (the PROTOCOL.md example).
        (Some(3), "resumed", s(&["m4", "m5"]), true),
        (Some(2), "resumed", s(&["m3", "m4", "m5"]), true),
        // Nothing missed: the client's own messages are older.
        (Some(5), "resumed", s(&[]), true),
        // Beyond the resume cap: a reset page, with older messages.
        (Some(1), "reset", s(&["m4", "m5"]), true),
        // A future `since` resets too.
        (Some(99), "reset", s(&["m4", "m5"]), true),
    ];
    for (since, mode, texts, more) in cases {
        let welcome = reader.join("lobby", since).await;
        assert_eq!(
            mode_and_more(&welcome),
            (Some(mode), texts, Some(more)),
            "since {since:?}: {welcome}"
        );
    }

    // Deleted messages do not count: with m1 and m2 gone, a resume from 2 has
    // nothing older to offer, and neither has a page starting at m3.
    delete(&app, &ids[..2]).await;
    let welcome = reader.join("lobby", Some(2)).await;
    assert_eq!(
        mode_and_more(&welcome),
        (Some("resumed"), s(&["m3", "m4", "m5"]), Some(false)),
        "{welcome}"
    );
    // An empty resume in a room whose every message was deleted.
    delete(&app, &ids[2..]).await;
    let welcome = reader.join("lobby", Some(5)).await;
    assert_eq!(
        mode_and_more(&welcome),
        (Some("resumed"), s(&[]), Some(false)),
        "{welcome}"
    );
    // And `history` agrees with the flag.
    reader
        .send(json!({"type": "history", "room": "lobby", "before": 6}))
        .await;
    assert_eq!(reader.recv_type("history").await["messages"], json!([]));
}

#[tokio::test]
async fn a_resume_from_the_start_has_nothing_older() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;
    sender.say("lobby", "1", "first").await;
    sender.say("lobby", "2", "second").await;
    let (mut reader, _) = app.guest(&site.public_key, "reader").await;
    let welcome = reader.join("lobby", Some(0)).await;
    assert_eq!(
        mode_and_more(&welcome),
        (
            Some("resumed"),
            vec!["first".to_owned(), "second".to_owned()],
            Some(false)
        ),
        "{welcome}"
    );
    let welcome = reader.join("lobby", Some(1)).await;
    assert_eq!(welcome["more"], true, "{welcome}");
}

fn seqs(welcome: &Value, field: &str) -> Vec<i64> {
    let items = welcome[field].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_i64().or_else(|| v["seq"].as_i64()).unwrap())
        .collect()
}

/// Bob had messages 1 to 3 and left. Meanwhile 2 is deleted, 4 and 5 are
/// written and 4 is deleted. His resume from 3 brings 5, and tells him to
/// remove 2 (4 he never had, and does not get).
#[tokio::test]
async fn a_resume_lists_the_messages_deleted_while_away() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let mut ids = vec![0];
    for i in 1..=3 {
        let ack = alice.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    let (mut bob, ready) = app.guest(&site.public_key, "bob").await;
    let bob_token = ready["guest_token"].as_str().unwrap().to_owned();
    let welcome = bob.join("lobby", None).await;
    assert_eq!(seqs(&welcome, "messages"), [1, 2, 3]);
    assert!(welcome.get("deleted").is_none(), "{welcome}");
    bob.close().await;

    delete(&app, &ids[2..3]).await;
    for i in 4..=5 {
        let ack = alice.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    delete(&app, &ids[4..5]).await;

    // Bob comes back (his token: a new guest could not take his name so soon).
    let mut bob = app.connect(&site.public_key).await;
    bob.hello(serde_json::json!({ "guest_token": bob_token }))
        .await;
    let welcome = bob.join("lobby", Some(3)).await;
    assert_eq!(welcome["mode"], "resumed");
    assert_eq!(seqs(&welcome, "messages"), [5]);
    assert_eq!(seqs(&welcome, "deleted"), [2], "{welcome}");
    // A client that resumes from before the deletion gets neither message.
    let welcome = bob.join("lobby", Some(1)).await;
    assert_eq!(seqs(&welcome, "messages"), [3, 5]);
    // Deletions at or below the resume point made around the time of its
    // message are listed (clocks of instances may differ; removing twice is
    // harmless).
    let welcome = bob.join("lobby", Some(5)).await;
    assert_eq!(seqs(&welcome, "deleted"), [2, 4], "{welcome}");
}
