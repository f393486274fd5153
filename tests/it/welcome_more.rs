//! `welcome.more` says whether older visible messages exist before the page,
//! in every mode (issue 12, item 12): a resumed page used to say `false` always.

use chatctl::db::models::MessageId;
use chatctl::moderation::messages::delete_message;
use serde_json::{json, Value};

use crate::common::*;

fn mode_and_more(welcome: &Value) -> (Option<&str>, Vec<String>, Option<bool>) {
    (
        welcome["mode"].as_str(),
        texts(welcome),
        welcome["more"].as_bool(),
    )
}

#[tokio::test]
async fn more_is_true_to_its_definition_in_every_mode() {
    let app = spawn_app_with(|l| {
        l.history_page = 2;
        l.resume_cap = 3;
    })
    .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest(&site.public_key, "sender").await;
    sender.join("lobby", None).await;
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
    for id in &ids[..2] {
        delete_message(&app.state.chat, None, MessageId(*id))
            .await
            .unwrap();
    }
    let welcome = reader.join("lobby", Some(2)).await;
    assert_eq!(
        mode_and_more(&welcome),
        (Some("resumed"), s(&["m3", "m4", "m5"]), Some(false)),
        "{welcome}"
    );
    // An empty resume in a room whose every message was deleted.
    for id in &ids[2..] {
        delete_message(&app.state.chat, None, MessageId(*id))
            .await
            .unwrap();
    }
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
    let app = spawn_app().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut sender, _) = app.guest(&site.public_key, "sender").await;
    sender.join("lobby", None).await;
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
