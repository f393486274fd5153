//! Moderation in a crowd (issue 14): with more than 50 people present, so
//! that joins and leaves are counted rather than told, a deletion still
//! reaches everyone, a ban closes its target and the count follows, and slow
//! mode and a lock refuse what they should.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::*;

const PEOPLE: usize = 60;

/// Reads `client`'s frames until a count (`presence_count` or `presence`) of `n`.
async fn until_online(client: &mut Client, n: usize) {
    while client.recv_type_any(&["presence", "presence_count"]).await["online"] != n {}
}

async fn refusal(client: &mut Client, cid: &str, text: &str) -> Value {
    client
        .send(json!({"type": "send", "room": "lobby", "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

#[tokio::test]
async fn deletions_bans_slow_mode_and_locks_work_in_a_crowd() {
    let app = TestApp::builder().crowd_from_one_address().spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let mut crowd = Vec::new();
    for i in 0..PEOPLE {
        let (client, ready) = app
            .guest_in(&site.public_key, &format!("v{i}"), "lobby")
            .await;
        crowd.push((client, ready["me"]["id"].as_i64().expect("id")));
    }
    until_online(&mut crowd[0].0, PEOPLE).await;

    // A message, then its deletion: every one of the 60 hears of both.
    let ack = crowd[1].0.say("lobby", "c1", "buy my stuff").await;
    let seq = ack["seq"].as_i64().expect("seq");
    let deleted = api.delete(&format!("/rooms/lobby/messages/{seq}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for (i, (client, _)) in crowd.iter_mut().enumerate() {
        if i != 1 {
            // (Its author had the ack instead.)
            assert_eq!(client.recv_type("message").await["seq"], seq);
        }
        assert_eq!(client.recv_type("deleted").await["seq"], seq);
    }

    // A ban closes its target; the crowd's count follows.
    let (mut banned, id) = crowd.remove(1);
    let ban = api
        .post(
            "/bans",
            json!({"participant": id, "reason": "spam", "minutes": 30}),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{}", ban.body);
    assert_eq!(banned.closed().await.code, close::BANNED);
    until_online(&mut crowd[0].0, PEOPLE - 1).await;

    // Slow mode: one message, then a wait.
    let set = api
        .patch("/rooms/lobby", json!({"slow_mode_secs": 60}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    crowd[2].0.say("lobby", "c2", "first").await;
    let slowed = refusal(&mut crowd[2].0, "c3", "second").await;
    assert_eq!(slowed["code"], "slow_mode", "{slowed}");

    // A lock: nobody writes.
    let set = api.patch("/rooms/lobby", json!({"locked": true})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let locked = refusal(&mut crowd[3].0, "c4", "hello?").await;
    assert_eq!(locked["code"], "room_locked", "{locked}");
}
