//! Signals that fan out to others (issue 12, item 2): typing (on and off),
//! presence from join/leave, read receipts and reports are bounded per
//! connection and per participant, and a muted participant signals nobody.

use std::time::Duration;

use chatctl::db::models::ParticipantId;
use serde_json::{json, Value};

use crate::support::*;

/// Counts the frames of `kind` that arrive within `wait`.
async fn count(client: &mut Client, kind: &str, wait: Duration) -> usize {
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(frame) = tokio::time::timeout_at(deadline, client.recv()).await {
        n += usize::from(frame["type"] == kind);
    }
    n
}

/// Alice and Bob in `lobby`; Alice has seen Bob arrive.
async fn two_in_lobby(app: &TestApp, key: &str) -> (Client, Client, Value) {
    let (mut alice, _) = app.guest_in(key, "alice", "lobby").await;
    let (bob, bob_ready) = app.guest_in(key, "bob", "lobby").await;
    alice.recv_type("presence").await;
    (alice, bob, bob_ready)
}

#[tokio::test]
async fn typing_floods_on_and_off_reach_others_only_a_few_times() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, mut bob, _) = two_in_lobby(&app, &site.public_key).await;

    // Only "stopped": nothing changes, nothing is relayed.
    for _ in 0..300 {
        bob.send(json!({"type": "typing", "room": "lobby", "active": false}))
            .await;
    }
    assert_eq!(
        count(&mut alice, "typing", Duration::from_millis(500)).await,
        0
    );

    // On and off a thousand times: bounded by the connection's signal budget.
    for i in 0..1000 {
        bob.send(json!({"type": "typing", "room": "lobby", "active": i % 2 == 0}))
            .await;
    }
    let relayed = count(&mut alice, "typing", Duration::from_millis(1500)).await;
    assert!(
        (2..=45).contains(&relayed),
        "{relayed} of 1000 typing frames relayed"
    );
    // Bob's own connection stays usable: typing is dropped, not punished.
    bob.send(json!({"type": "ping"})).await;
    assert_eq!(bob.recv_type("pong").await["type"], "pong");
}

#[tokio::test]
async fn join_leave_loops_are_refused_past_the_budget() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, mut bob, _) = two_in_lobby(&app, &site.public_key).await;
    let mut refused = None;
    for _ in 0..200 {
        bob.send(json!({"type": "leave", "room": "lobby"})).await;
        bob.recv_type("left").await;
        bob.send(json!({"type": "join", "room": "lobby"})).await;
        let reply = bob.recv_type_any(&["welcome", "error"]).await;
        if reply["type"] == "error" {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("join/leave loop never refused");
    assert_eq!(refused["code"], "rate_limited");
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 0);
    let presence = count(&mut alice, "presence", Duration::from_millis(500)).await;
    assert!(presence <= 2 * 31, "{presence} presence frames");
}

#[tokio::test]
async fn several_connections_share_one_participant_budget() {
    let app = TestApp::builder()
        .limits(|l| {
            l.participant_signals_per_second = 1;
            l.participant_signal_burst = 10;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _, bob_ready) = two_in_lobby(&app, &site.public_key).await;
    let token = bob_ready["guest_token"].as_str().unwrap();
    // Five more connections of the same guest, each with a fresh per-connection budget.
    let mut tabs = Vec::new();
    for _ in 0..5 {
        let mut tab = app.connect(&site.public_key).await;
        tab.hello(json!({"guest_token": token})).await;
        tab.join("lobby", None).await;
        tabs.push(tab);
    }
    let _ = count(&mut alice, "presence", Duration::from_millis(300)).await;
    for tab in &mut tabs {
        for i in 0..20 {
            tab.send(json!({"type": "typing", "room": "lobby", "active": i % 2 == 0}))
                .await;
        }
    }
    let relayed = count(&mut alice, "typing", Duration::from_millis(1500)).await;
    assert!(
        relayed <= 14,
        "{relayed} typing frames from one participant"
    );
}

#[tokio::test]
async fn a_muted_participant_signals_nobody() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, mut bob, bob_ready) = two_in_lobby(&app, &site.public_key).await;
    alice.say("lobby", "a1", "hello").await;
    bob.recv_type("message").await;
    let bob_id = ParticipantId(bob_ready["me"]["id"].as_i64().unwrap());
    chatctl::moderation::mutes::mute(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        bob_id,
        10,
        "spam",
    )
    .await
    .unwrap();

    bob.send(json!({"type": "typing", "room": "lobby", "active": true}))
        .await;
    bob.send(json!({"type": "seen", "room": "lobby", "seq": 1}))
        .await;
    bob.send(json!({"type": "typing", "room": "lobby", "active": false}))
        .await;
    alice.expect_silence(Duration::from_millis(700)).await;
    // Reading is still allowed.
    alice.say("lobby", "a2", "still there?").await;
    assert_eq!(bob.recv_type("message").await["text"], "still there?");
}

#[tokio::test]
async fn reports_from_many_connections_share_one_budget() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _, bob_ready) = two_in_lobby(&app, &site.public_key).await;
    for i in 0..3 {
        alice.say("lobby", &format!("a{i}"), "spam?").await;
    }
    let token = bob_ready["guest_token"].as_str().unwrap();
    let mut accepted = 0;
    for _ in 0..4 {
        let mut tab = app.connect(&site.public_key).await;
        tab.hello(json!({"guest_token": token})).await;
        tab.join("lobby", None).await;
        for _ in 0..5 {
            tab.send(json!({"type": "report", "room": "lobby", "seq": 1, "reason": "x"}))
                .await;
            let reply = tab.recv_type_any(&["reported", "error"]).await;
            if reply["type"] == "reported" {
                accepted += 1;
            } else {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                assert!(reply["retry_after_ms"].as_u64().unwrap() > 0);
            }
        }
    }
    assert!(accepted <= 6, "{accepted} reports from one participant");
}
