//! A cid held for approval is its author's as much as a posted one: the same
//! cid sent to another room (or with another text), over the WebSocket or the
//! API, is refused with `cid_reused`, and the held message can still be
//! approved. Approving a held message whose cid was used since is refused
//! with a plain explanation instead of a false "approved".

use chatctl::db::models::HeldMessage;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::admin_moderation::message_with;
use crate::support::api::Api;
use crate::support::panel::{Page, Panel};
use crate::support::*;

async fn attempt(client: &mut Client, room: &str, cid: &str, text: &str) -> Value {
    client
        .send(json!({"type": "send", "room": room, "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

/// Rooms `held` (approve first) and `open-room` on a new site.
async fn rooms(app: &TestApp) -> (chatctl::db::models::Site, Api) {
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(app, &site).await;
    for room in ["held", "open-room"] {
        api.post("/rooms", json!({"name": room})).await;
    }
    let patched = api
        .patch("/rooms/held", json!({"approve_first": true}))
        .await;
    assert!(patched.status.is_success(), "{}", patched.body);
    (site, api)
}

async fn queue(app: &TestApp) -> Vec<HeldMessage> {
    app.db
        .run(|conn| HeldMessage::queue(conn, None, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|(m, ..)| m)
        .collect()
}

/// An owner approves the oldest held message in the panel; the page after.
async fn approve_the_first_held(app: &TestApp) -> Page {
    let mut panel = Panel::owner(app).await;
    let id = queue(app).await[0].id;
    panel.get("/admin/reports").await;
    let path = format!("/admin/held/{id}/approve");
    panel.post_and_follow(&path, &[]).await
}

#[tokio::test]
async fn a_held_cid_sent_to_another_room_is_refused_and_approval_posts_the_held_one() {
    let app = TestApp::spawn().await;
    let (site, api) = rooms(&app).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "guest", "held").await;
    guest.join("open-room", None).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "held").await;

    let held = attempt(&mut guest, "held", "hx-1", "same text").await;
    assert_eq!(held["code"], "held_for_review", "{held}");
    for text in ["same text", "other text"] {
        let elsewhere = attempt(&mut guest, "open-room", "hx-1", text).await;
        assert_eq!(elsewhere["code"], "cid_reused", "{elsewhere}");
        let message = elsewhere["message"].as_str().unwrap();
        assert!(
            message.contains("waiting for approval in room \"held\""),
            "{message}"
        );
    }
    let open = api.get("/rooms/open-room/messages").await;
    assert_eq!(open.body["messages"], json!([]), "nothing stored");

    // The moderator's approval posts it, as the panel says.
    let page = approve_the_first_held(&app).await;
    assert!(
        page.body
            .contains("Message approved: it is now in the room."),
        "{}",
        page.body
    );
    let approved = message_with(&mut bob, "same text").await;
    assert_eq!(
        (&approved["room"], &approved["seq"]),
        (&json!("held"), &json!(1))
    );
    assert_eq!(
        api.get("/rooms/held/messages").await.body["messages"][0]["text"],
        "same text"
    );
}

#[tokio::test]
async fn a_cid_held_for_a_verified_user_is_refused_over_the_api() {
    let app = TestApp::spawn().await;
    let (site, api) = rooms(&app).await;
    let mut user = app
        .try_connect(&site.public_key, Some(ORIGIN))
        .await
        .unwrap();
    let jwt = jwt::user_token(&site.secret, "u42", "Sam");
    assert_eq!(
        user.hello(json!({"token": jwt})).await["me"]["kind"],
        "verified"
    );
    user.join("held", None).await;
    let held = attempt(&mut user, "held", "hx-1", "same text").await;
    assert_eq!(held["code"], "held_for_review", "{held}");

    let posted = api
        .post(
            "/rooms/open-room/messages",
            json!({"cid": "hx-1", "text": "same text", "user": {"sub": "u42", "name": "Sam"}}),
        )
        .await;
    posted.assert_refused(StatusCode::CONFLICT, "cid_reused", "");
    assert!(posted.body["message"]
        .as_str()
        .unwrap()
        .contains("\"held\""));
    assert_eq!(
        api.get("/rooms/open-room/messages").await.body["messages"],
        json!([])
    );
    assert_eq!(queue(&app).await.len(), 1, "still waiting");
}

#[tokio::test]
async fn approving_a_held_message_whose_cid_was_used_since_says_so_and_keeps_it() {
    let app = TestApp::spawn().await;
    let (site, api) = rooms(&app).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "guest", "open-room").await;
    let posted = guest.say("open-room", "hx-1", "posted text").await;
    assert_eq!(posted["seq"], 1);
    // A hold that raced the post (both saw the cid free): written directly.
    let held_room = app.room(&site, "held").await.id;
    let (site_id, author) = (site.id, app.participant_named("guest").await.id);
    app.db
        .run(move |conn| {
            HeldMessage::hold(conn, site_id, held_room, author, "hx-1", "held text", None)
        })
        .await
        .unwrap();

    let page = approve_the_first_held(&app).await;
    assert!(
        !page.body.contains("it is now in the room"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Not approved") && page.body.contains("seq 1 in room"),
        "{}",
        page.body
    );
    assert_eq!(
        queue(&app).await.len(),
        1,
        "left for the moderator to reject"
    );
    assert_eq!(
        api.get("/rooms/held/messages").await.body["messages"],
        json!([])
    );
}

/// A held message a moderator rejected stays rejected: its retry is refused
/// with a plain explanation, not queued again for approval (found by the
/// outside tester: the retried cid came back into the queue), and not posted
/// either once the room no longer holds messages.
#[tokio::test]
async fn a_retry_of_a_rejected_held_message_is_refused_not_queued_again() {
    let app = TestApp::spawn().await;
    let (site, api) = rooms(&app).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "guest", "held").await;
    let held = attempt(&mut guest, "held", "rj-1", "buy my stuff").await;
    assert_eq!(held["code"], "held_for_review", "{held}");

    let mut panel = Panel::owner(&app).await;
    let id = queue(&app).await[0].id;
    panel.get("/admin/reports").await;
    panel
        .post_and_follow(&format!("/admin/held/{id}/reject"), &[])
        .await;
    assert!(queue(&app).await.is_empty());

    for _ in 0..2 {
        let again = attempt(&mut guest, "held", "rj-1", "buy my stuff").await;
        assert_eq!(
            (again["code"].as_str(), again["ref"].as_str()),
            (Some("message_blocked"), Some("rj-1")),
            "{again}"
        );
        assert!(
            again["message"].as_str().unwrap().contains("rejected"),
            "{again}"
        );
        assert!(queue(&app).await.is_empty(), "queued again");
    }
    // Nor is it posted once the room stops holding messages.
    let patched = api
        .patch("/rooms/held", json!({"approve_first": false}))
        .await;
    assert!(patched.status.is_success(), "{}", patched.body);
    let again = attempt(&mut guest, "held", "rj-1", "buy my stuff").await;
    assert_eq!(again["code"], "message_blocked", "{again}");
    let page = api.get("/rooms/held/messages").await;
    assert_eq!(page.body["messages"], json!([]));
    // A new cid is a new message.
    let ack = attempt(&mut guest, "held", "rj-2", "sorry").await;
    assert_eq!(ack["type"], "ack", "{ack}");
}
