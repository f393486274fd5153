//! A retry of a stored (or held) message is answered from what was stored,
//! whatever the rules became since: a word filter added, a lower length
//! limit, a lock, slow mode or a mute do not turn the original's ack into a
//! refusal (nothing new is stored). New messages still meet every rule.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::panel::Panel;
use crate::support::*;

async fn attempt(client: &mut Client, room: &str, cid: &str, text: &str) -> Value {
    client
        .send(json!({"type": "send", "room": room, "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

/// The answer is `original`'s ack again.
fn assert_original(retry: &Value, original: &Value, after: &str) {
    assert_eq!(retry["type"], "ack", "after {after}: {retry}");
    assert_eq!(
        (&retry["seq"], &retry["id"], &retry["duplicate"]),
        (&original["seq"], &original["id"], &json!(true)),
        "after {after}: {retry}"
    );
}

async fn add_filter(panel: &mut Panel, site: i64, pattern: &str, action: &str) {
    let path = format!("/admin/sites/{site}/filters");
    panel.get(&path).await;
    panel
        .post_and_follow(
            &path,
            &[("kind", "word"), ("pattern", pattern), ("action", action)],
        )
        .await;
}

#[tokio::test]
async fn a_retry_gets_the_original_ack_whatever_the_rules_became() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let mut panel = Panel::owner(&app).await;
    let (mut alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let alice_id = ready["me"]["id"].as_i64().unwrap();
    let original = alice.say("lobby", "f-1", "oh heck").await;

    add_filter(&mut panel, site.id.0, "heck", "mask").await;
    let retry = attempt(&mut alice, "lobby", "f-1", "oh heck").await;
    assert_original(&retry, &original, "a mask filter");
    let masked = attempt(&mut alice, "lobby", "f-2", "oh heck").await;
    assert_eq!(masked["type"], "ack", "a new message is masked: {masked}");

    add_filter(&mut panel, site.id.0, "oh", "block").await;
    let retry = attempt(&mut alice, "lobby", "f-1", "oh heck").await;
    assert_original(&retry, &original, "a block filter");
    let blocked = attempt(&mut alice, "lobby", "f-3", "oh no").await;
    assert_eq!(blocked["code"], "message_blocked", "{blocked}");

    let changes = [
        (
            "a lower length limit",
            json!({"max_message_chars": 3}),
            "message_too_long",
        ),
        (
            "a lock",
            json!({"max_message_chars": null, "locked": true}),
            "room_locked",
        ),
        (
            "slow mode",
            json!({"locked": false, "slow_mode_secs": 600}),
            "slow_mode",
        ),
    ];
    for (n, (what, patch, refusal)) in changes.into_iter().enumerate() {
        let patched = api.patch("/rooms/lobby", patch).await;
        assert!(patched.status.is_success(), "{}", patched.body);
        if refusal == "slow_mode" {
            // The first message under slow mode goes through; the next waits.
            assert_eq!(
                attempt(&mut alice, "lobby", "s-1", "ok").await["type"],
                "ack"
            );
        }
        let retry = attempt(&mut alice, "lobby", "f-1", "oh heck").await;
        assert_original(&retry, &original, what);
        let new = attempt(&mut alice, "lobby", &format!("n-{n}"), "a new one").await;
        assert_eq!(new["code"], refusal, "{what}: {new}");
    }

    let muted = api
        .post(
            &format!("/participants/{alice_id}/mute"),
            json!({"minutes": 10}),
        )
        .await;
    assert_eq!(muted.status, StatusCode::CREATED, "{}", muted.body);
    let retry = attempt(&mut alice, "lobby", "f-1", "oh heck").await;
    assert_original(&retry, &original, "a mute");
    // Not a retry: another text under the cid is still refused (the mute first).
    let other = attempt(&mut alice, "lobby", "f-1", "oh").await;
    assert_eq!(other["code"], "muted", "{other}");

    let texts: Vec<Value> = api.get("/rooms/lobby/messages").await.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("oh heck"), json!("oh ****"), json!("ok")]);
}

#[tokio::test]
async fn a_retry_of_a_held_message_is_held_for_review_again_after_a_block_filter() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let mut panel = Panel::owner(&app).await;
    api.post("/rooms", json!({"name": "held"})).await;
    api.patch("/rooms/held", json!({"approve_first": true}))
        .await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "held").await;
    let held = attempt(&mut alice, "held", "h-1", "oh heck").await;
    assert_eq!(held["code"], "held_for_review", "{held}");
    add_filter(&mut panel, site.id.0, "heck", "block").await;
    let retry = attempt(&mut alice, "held", "h-1", "oh heck").await;
    assert_eq!(retry["code"], "held_for_review", "{retry}");
    let new = attempt(&mut alice, "held", "h-2", "oh heck").await;
    assert_eq!(new["code"], "message_blocked", "{new}");
}

#[tokio::test]
async fn a_retry_over_websocket_of_an_api_post_gets_its_ack_although_a_filter_would_mask_it() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let mut panel = Panel::owner(&app).await;
    api.post("/rooms", json!({"name": "r1"})).await;
    add_filter(&mut panel, site.id.0, "heck", "mask").await;
    let user = json!({"sub": "u42", "name": "Sam"});
    let posted = api
        .post(
            "/rooms/r1/messages",
            json!({"cid": "api-heck-1", "text": "oh heck", "user": user}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["text"], "oh heck", "the API is not filtered");

    let mut sam = app
        .try_connect(&site.public_key, Some(ORIGIN))
        .await
        .unwrap();
    let jwt = jwt::user_token(&site.secret, "u42", "Sam");
    assert_eq!(
        sam.hello(json!({"token": jwt})).await["me"]["kind"],
        "verified"
    );
    sam.join("r1", None).await;
    let retry = attempt(&mut sam, "r1", "api-heck-1", "oh heck").await;
    assert_original(&retry, &posted.body, "an API post");
}

#[tokio::test]
async fn an_api_retry_gets_the_original_after_a_lower_limit_or_a_mute() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "r1"})).await;
    let post = |cid: &'static str| json!({"cid": cid, "text": "a longer text", "user": {"sub": "u7", "name": "Ann"}});
    let first = api.post("/rooms/r1/messages", post("a-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);

    api.patch("/rooms/r1", json!({"max_message_chars": 3}))
        .await;
    let retry = api.post("/rooms/r1/messages", post("a-1")).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(
        (&retry.body["seq"], &retry.body["duplicate"]),
        (&first.body["seq"], &json!(true))
    );
    let new = api.post("/rooms/r1/messages", post("a-2")).await;
    assert_eq!(new.status, StatusCode::BAD_REQUEST, "{}", new.body);

    api.patch("/rooms/r1", json!({"max_message_chars": null}))
        .await;
    let id = first.body["author"]["id"].as_i64().unwrap();
    let muted = api
        .post(&format!("/participants/{id}/mute"), json!({"minutes": 10}))
        .await;
    assert_eq!(muted.status, StatusCode::CREATED, "{}", muted.body);
    let retry = api.post("/rooms/r1/messages", post("a-1")).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.body["duplicate"], true);
    let new = api.post("/rooms/r1/messages", post("a-3")).await;
    assert_ne!(
        new.status.as_u16() / 100,
        2,
        "a new one is muted: {}",
        new.body
    );
}
