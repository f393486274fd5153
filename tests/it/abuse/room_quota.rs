//! The site's quota of rooms in use (`max_rooms`) on every way a room comes
//! into use (found by the outside tester: it was checked only when a join
//! created a room, and a room counted only once it had a message, so one
//! guest entered six new rooms, then wrote in each, on a quota of 2). A room
//! someone is in counts; the writer checks again at a room's first message;
//! the server API's posts and room creation are bound too.

use chatctl::db::models::{Room, SiteId};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::*;

async fn try_join(client: &mut Client, room: &str) -> Value {
    client.send(json!({"type": "join", "room": room})).await;
    client.recv_type_any(&["welcome", "error"]).await
}

/// Sends and answers the `ack` or the error.
async fn try_say(client: &mut Client, room: &str, cid: &str) -> Value {
    client
        .send(json!({"type": "send", "room": room, "cid": cid, "text": "hi"}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

/// The site's rooms with messages, by name.
async fn rooms_with_messages(app: &TestApp, site: SiteId) -> Vec<String> {
    let rooms = app
        .db
        .run(move |conn| Room::list_for_site(conn, site))
        .await
        .unwrap();
    rooms
        .into_iter()
        .filter(|r| r.last_seq > 0)
        .map(|r| r.name)
        .collect()
}

async fn site_with_quota(app: &TestApp, max_rooms: i32) -> chatctl::db::models::Site {
    app.new_site()
        .settings(SiteSettings {
            max_rooms: Some(max_rooms),
            ..Default::default()
        })
        .create()
        .await
}

async fn set_quota(app: &TestApp, site: &chatctl::db::models::Site, max_rooms: i32) {
    let settings = SiteSettings {
        max_rooms: Some(max_rooms),
        ..Default::default()
    };
    app.configure_site(site, settings).await;
}

#[tokio::test]
async fn one_guest_cannot_enter_more_new_rooms_than_the_quota_and_write_in_each() {
    let app = TestApp::spawn().await;
    let site = site_with_quota(&app, 2).await;
    let (mut hoarder, _) = app.guest(&site.public_key, "hoarder").await;
    let mut entered = Vec::new();
    for i in 0..6 {
        let room = format!("r{i}");
        let reply = try_join(&mut hoarder, &room).await;
        if reply["type"] == "welcome" {
            entered.push(room);
        } else {
            assert_eq!(
                (reply["code"].as_str(), reply["room"].as_str()),
                (Some("too_many_rooms"), Some(room.as_str())),
                "{reply}"
            );
        }
    }
    assert_eq!(entered, ["r0", "r1"], "rooms someone is in count");
    for (i, room) in entered.iter().enumerate() {
        hoarder.say(room, &format!("c{i}"), "hi").await;
    }
    assert_eq!(rooms_with_messages(&app, site.id).await, ["r0", "r1"]);

    // Rooms in use stay open to others.
    let (mut other, _) = app.guest(&site.public_key, "other").await;
    assert_eq!(try_join(&mut other, "r1").await["type"], "welcome");
    assert_eq!(try_join(&mut other, "r9").await["code"], "too_many_rooms");
}

/// People in rooms nobody wrote in, when the quota is used up meanwhile
/// (here: lowered; in a cluster, other instances' first messages): the
/// writer refuses each room's first message beyond it, and its retry.
#[tokio::test]
async fn a_rooms_first_message_beyond_the_quota_is_refused_by_the_writer() {
    let app = TestApp::spawn().await;
    let site = site_with_quota(&app, 3).await;
    let (mut guest, _) = app.guest(&site.public_key, "guest").await;
    for room in ["a", "b", "c"] {
        assert_eq!(try_join(&mut guest, room).await["type"], "welcome");
    }
    set_quota(&app, &site, 1).await;

    assert_eq!(try_say(&mut guest, "a", "c1").await["type"], "ack");
    for cid in ["c2", "c2", "c3"] {
        let refused = try_say(&mut guest, "b", cid).await;
        assert_eq!(
            (
                refused["code"].as_str(),
                refused["ref"].as_str(),
                refused["room"].as_str()
            ),
            (Some("too_many_rooms"), Some(cid), Some("b")),
            "{refused}"
        );
    }
    // A room with messages takes more.
    assert_eq!(try_say(&mut guest, "a", "c4").await["seq"], 2);
    assert_eq!(rooms_with_messages(&app, site.id).await, ["a"]);
}

#[tokio::test]
async fn the_server_api_creates_and_brings_rooms_into_use_within_the_quota() {
    let app = TestApp::spawn().await;
    let site = site_with_quota(&app, 2).await;
    let api = Api::full(&app, &site).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "guest", "talk").await;
    guest.say("talk", "c1", "hi").await;
    // In a room nobody wrote in: it counts while they are there.
    assert_eq!(try_join(&mut guest, "quiet").await["type"], "welcome");

    let made = api.post("/rooms", json!({"name": "made"})).await;
    assert_eq!(made.status, StatusCode::CONFLICT, "{}", made.body);
    assert_eq!(made.body["error"], "too_many_rooms");

    set_quota(&app, &site, 1).await;
    let posted = api
        .post(
            "/rooms/quiet/messages",
            json!({"cid": "p1", "text": "from the site"}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CONFLICT, "{}", posted.body);
    assert_eq!(posted.body["error"], "too_many_rooms");
    let posted = api
        .post(
            "/rooms/talk/messages",
            json!({"cid": "p2", "text": "from the site"}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(rooms_with_messages(&app, site.id).await, ["talk"]);
}
