//! Messages are stored and sent to everyone in the room: besides the
//! connection's and the address's budgets, one participant has one budget
//! across all their connections and addresses (issue 12, the rule of item 2).
//! Older pages are database reads: a connection asks for them at a bounded rate.

use std::time::Instant;

use serde_json::json;

use super::connect_from;
use crate::support::*;

#[tokio::test]
async fn one_participant_on_many_addresses_shares_one_message_budget() {
    let app = TestApp::builder()
        .limits(|l| {
            l.participant_messages_per_second = 1;
            l.participant_message_burst = 6;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (_, ready) = app.guest(&site.public_key, "chatty").await;
    let token = ready["guest_token"].as_str().unwrap();
    let started = Instant::now();
    let mut acked = 0;
    // Four addresses, each with fresh connection and address budgets.
    for i in 0..4 {
        let mut tab = connect_from(&app, &format!("127.0.0.{}", 40 + i), &site.public_key).await;
        tab.hello(json!({"guest_token": token})).await;
        tab.join("lobby", None).await;
        for j in 0..5 {
            tab.send(
                json!({"type": "send", "room": "lobby", "cid": format!("c{i}-{j}"), "text": "hi"}),
            )
            .await;
            let reply = tab.recv_type_any(&["ack", "error"]).await;
            if reply["type"] == "ack" {
                acked += 1;
            } else {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                assert!(reply["retry_after_ms"].as_u64().unwrap() > 0);
            }
        }
    }
    // The burst, plus one a second while the test ran.
    let allowed = 6 + started.elapsed().as_secs() as usize + 1;
    assert!(
        acked <= allowed,
        "{acked} of 20 messages from one participant"
    );
    // Another participant is not affected.
    let (mut other, _) = app.guest_in(&site.public_key, "quiet", "lobby").await;
    other.say("lobby", "q1", "my turn").await;
}

#[tokio::test]
async fn history_pages_are_bounded_per_connection() {
    let app = TestApp::builder()
        .limits(|l| {
            l.history_per_second = 1;
            l.history_burst = 5;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut reader, _) = app.guest_in(&site.public_key, "reader", "lobby").await;
    reader.say("lobby", "m1", "something to page through").await;
    for _ in 0..20 {
        reader
            .send(json!({"type": "history", "room": "lobby", "before": 1_000_000, "limit": 100}))
            .await;
    }
    let (mut pages, mut refused) = (0, 0);
    for _ in 0..20 {
        let reply = reader.recv_type_any(&["history", "error"]).await;
        if reply["type"] == "history" {
            pages += 1;
        } else {
            assert_eq!(reply["code"], "rate_limited", "{reply}");
            assert!(reply["retry_after_ms"].as_u64().unwrap() > 0);
            refused += 1;
        }
    }
    assert!(pages <= 7, "{pages} of 20 history pages answered");
    assert_eq!(pages + refused, 20);
    // The connection stays usable.
    reader.say("lobby", "m2", "still here").await;
}
