//! Two ways into rooms not in use at the same moment, with one place left in
//! the site's quota (found by the outside tester: a WebSocket join of a new
//! room and the server API's first message into an empty room both got in,
//! six rooms in use on a quota of five; and joins refused at the quota left
//! their new rooms behind, listed by the API and `chatctl site show`, and
//! open to the API's posts). Each pair races many times: exactly one gets
//! the place, and the other leaves nothing behind.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::cli::{chatctl, stdout};
use chatctl::db::models::room_hold::RoomHold;
use chatctl::db::models::Room;
use chatctl::db::now_ms;

use crate::support::room_quota::{check_round, site_with_one_place, Way, QUOTA};
use crate::support::*;

/// Rounds per pair: enough that both orders (and the overlap between them)
/// come up.
const ROUNDS: usize = 20;

/// A server that lets one address make the guests, rooms and API calls of
/// many rounds.
async fn server() -> TestApp {
    TestApp::builder()
        .limits(|l| {
            l.max_connections_per_ip = 1_000;
            l.new_guests_per_ip_per_minute = 10_000;
            l.new_rooms_per_ip_per_hour = 10_000;
        })
        .spawn()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ways_into_rooms_not_in_use_never_exceed_the_quota() {
    use Way::*;
    let app = server().await;
    let pairs = [
        [JoinNew, ApiFirst],
        [JoinQuiet, ApiFirst],
        [ApiCreate, ApiFirst],
        [ApiFirst, ApiFirst],
        [JoinNew, JoinNew],
        [JoinNew, JoinQuiet],
        [JoinQuiet, JoinQuiet],
        [JoinNew, ApiCreate],
        [JoinQuiet, ApiCreate],
        [ApiCreate, ApiCreate],
    ];
    for ways in pairs {
        for round in 0..ROUNDS {
            let site = site_with_one_place(&app).await;
            let api = Api::full(&app, &site).await;
            // Connected beforehand, so that both start at once.
            api.get("/rooms").await;
            let (mut a, _) = app.guest(&site.public_key, "side-a").await;
            let (mut b, _) = app.guest(&site.public_key, "side-b").await;
            let outcomes = tokio::join!(
                ways[0].attempt("a", &mut a, &api),
                ways[1].attempt("b", &mut b, &api)
            );
            let what = format!("round {round}");
            check_round(&app, site.id, ways, outcomes.into(), &what).await;
        }
    }
}

async fn try_join(client: &mut Client, room: String) -> Value {
    client.send(json!({"type": "join", "room": room})).await;
    client.recv_type_any(&["welcome", "error"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_refused_at_the_quota_leave_no_room_behind() {
    let app = server().await;
    let site = site_with_one_place(&app).await;
    let key = site.public_key.clone();
    let mut guests = Vec::new();
    for i in 0..20 {
        guests.push(app.guest(&key, &format!("g{i}")).await.0);
    }
    let joins = guests
        .iter_mut()
        .enumerate()
        .map(|(i, guest)| try_join(guest, format!("r{i}")));
    let replies = join_all(joins).await;
    let entered: Vec<String> = replies
        .iter()
        .filter(|r| r["type"] == "welcome")
        .map(|r| r["room"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(entered.len(), 1, "one place was left: {replies:?}");
    for reply in replies.iter().filter(|r| r["type"] != "welcome") {
        assert_eq!(reply["code"], "too_many_rooms", "{reply}");
    }

    let mut expected = vec!["a1", "a2", "a3", "a4", "quiet-a", "quiet-b", &entered[0]];
    expected.sort();
    let api = Api::full(&app, &site).await;
    let listed = api.get("/rooms").await;
    let names: Vec<&str> = listed.body["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected, "the API lists no refused room");
    let shown: Value = serde_json::from_str(&stdout(
        chatctl(&app.database).args(["site", "show", &key, "--json"]),
    ))
    .unwrap();
    assert_eq!(shown["rooms"], json!(expected), "chatctl site show neither");
    for i in 0..20 {
        let room = format!("r{i}");
        if room == entered[0] {
            continue;
        }
        let posted = api
            .post(
                &format!("/rooms/{room}/messages"),
                json!({"cid": room, "text": "into a refused room"}),
            )
            .await;
        assert_eq!(
            (posted.status, posted.body["error"].clone()),
            (StatusCode::NOT_FOUND, json!("room_not_found")),
            "{room}: {}",
            posted.body
        );
    }
}

/// A server that could not renew its holds for a while (stalled, or cut off
/// from the database for a minute) does not bring their rooms back into use
/// beyond the quota: a room whose hold lapsed stopped counting, and its place
/// may have been taken meanwhile; housekeeping holds it again only within
/// the quota (it renewed every hold of this server, lapsed or not).
#[tokio::test]
async fn a_room_whose_hold_lapsed_is_held_again_only_within_the_quota() {
    let app = server().await;
    let site = site_with_one_place(&app).await;
    let (mut early, _) = app.guest(&site.public_key, "early").await;
    assert_eq!(try_join(&mut early, "r1".into()).await["type"], "welcome");
    let chat = app.state.chat.clone();
    let (room, instance) = (app.room(&site, "r1").await.id, chat.instance as i64);
    app.db
        .run(move |conn| RoomHold::hold(conn, room, instance, now_ms() - 1))
        .await
        .unwrap();
    let (mut late, _) = app.guest(&site.public_key, "late").await;
    assert_eq!(try_join(&mut late, "r2".into()).await["type"], "welcome");

    // The housekeeping round (every 5 s) that follows.
    chat.holds
        .maintain(&app.db, &chat.hub.live_rooms(), false)
        .await
        .unwrap();
    let id = site.id;
    let in_use = app
        .db
        .run(move |conn| Room::count_in_use(conn, id, now_ms(), None))
        .await
        .unwrap();
    assert_eq!(in_use, QUOTA);
    early
        .send(json!({"type": "send", "room": "r1", "cid": "e1", "text": "hi"}))
        .await;
    let refused = early.recv_type_any(&["ack", "error"]).await;
    assert_eq!(refused["code"], "too_many_rooms", "{refused}");
    assert_eq!(late.say("r2", "l1", "hi").await["seq"], 1);
}
