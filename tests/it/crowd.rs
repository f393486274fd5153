//! Presence that scales with the room (issue 14): above 50 people present
//! joins and leaves give way to a `presence_count` frame (at most every 2 s,
//! only when the count changed), `welcome.online` carries one page plus
//! `online_total`, and `who` pages through everyone present.

use std::time::{Duration, Instant};

use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::*;

/// The widget's and the server's crowd threshold.
const CROWD: usize = 50;

async fn crowd_app() -> TestApp {
    TestApp::builder().crowd_from_one_address().spawn().await
}

/// Reads `client`'s frames until a `presence_count` or `presence` says
/// `online` is `n`; returns the presence-related frames read on the way.
async fn until_count(client: &mut Client, n: usize) -> Vec<(Instant, Value)> {
    let mut seen = Vec::new();
    loop {
        let frame = client.recv_type_any(&["presence", "presence_count"]).await;
        let done = frame["online"] == n;
        seen.push((Instant::now(), frame));
        if done {
            return seen;
        }
    }
}

/// Every participant id present, by `who` pages of `limit`.
async fn who_all(client: &mut Client, limit: u32) -> (Vec<i64>, u64) {
    let (mut ids, mut after) = (Vec::new(), Value::Null);
    loop {
        client
            .send(json!({"type": "who", "room": "lobby", "after": after, "limit": limit}))
            .await;
        let page = client.recv_type_any(&["who", "error"]).await;
        assert_eq!(page["type"], "who", "{page}");
        let online = page["online"].as_array().expect("online");
        assert!(online.len() <= limit as usize, "{page}");
        ids.extend(online.iter().map(|w| w["id"].as_i64().expect("id")));
        let total = page["online_total"].as_u64().expect("online_total");
        after = page["next"].clone();
        if after.is_null() {
            return (ids, total);
        }
    }
}

fn id_of(ready: &Value) -> i64 {
    ready["me"]["id"].as_i64().expect("me.id")
}

/// 52 people join: the first 50 arrive one by one, then the room hears
/// counts; a newcomer's welcome is one page with the right total; `who`
/// pages list everyone once; killed connections count out, individual
/// leaves resume below the threshold, and reconnections count in again.
#[tokio::test]
async fn presence_becomes_a_count_above_fifty_and_back() {
    let app = crowd_app().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, alice_ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let mut ids = vec![id_of(&alice_ready)];
    let mut crowd = Vec::new();
    for i in 2..=CROWD + 1 {
        let (client, ready) = app
            .guest_in(&site.public_key, &format!("v{i}"), "lobby")
            .await;
        ids.push(id_of(&ready));
        crowd.push((client, ready));
    }
    let heard = until_count(&mut alice, CROWD + 1).await;
    let joins: Vec<_> = heard
        .iter()
        .filter(|(_, f)| f["type"] == "presence")
        .collect();
    assert_eq!(joins.len(), CROWD - 1, "joins up to 50 one by one");
    assert_eq!(joins.last().unwrap().1["online"], CROWD);
    assert_eq!(heard.last().unwrap().1["type"], "presence_count");

    let mut zed = the_52nd_gets_one_page_and_the_rest_by_who(&app, &site, &mut ids).await;
    let heard = until_count(&mut alice, CROWD + 2).await;
    assert!(
        heard.iter().all(|(_, f)| f["type"] == "presence_count"),
        "{heard:?}"
    );

    // Two connections killed (dropped without a close): 52 -> 50, the last
    // leave told one by one again.
    let (gone1, ready1) = crowd.pop().unwrap();
    let (gone2, ready2) = crowd.pop().unwrap();
    drop(gone1);
    drop(gone2);
    let heard = until_count(&mut alice, CROWD).await;
    let last = &heard.last().unwrap().1;
    assert_eq!(
        (last["type"].as_str(), last["event"].as_str()),
        (Some("presence"), Some("leave")),
        "{heard:?}"
    );
    assert_eq!(who_all(&mut zed, 100).await.1 as usize, CROWD);

    // Both come back: 52 again, as counts no more often than every 2 s.
    for ready in [ready1, ready2] {
        let mut back = app.connect(&site.public_key).await;
        back.hello(json!({"guest_token": ready["guest_token"]}))
            .await;
        let welcome = back.join("lobby", None).await;
        assert!(welcome["online_total"].as_u64().unwrap() as usize > CROWD - 1);
        crowd.push((back, ready));
    }
    let heard = until_count(&mut alice, CROWD + 2).await;
    let counts: Vec<_> = heard
        .iter()
        .filter(|(_, f)| f["type"] == "presence_count")
        .collect();
    for pair in counts.windows(2) {
        let apart = pair[1].0 - pair[0].0;
        assert!(
            apart > Duration::from_millis(1700),
            "counts {apart:?} apart: {heard:?}"
        );
    }
    let (paged, total) = who_all(&mut zed, 50).await;
    assert_eq!((paged, total as usize), (ids, CROWD + 2));
    // Unchanged: no more counts.
    alice.expect_silence(Duration::from_millis(2500)).await;
}

/// The 52nd: a bounded welcome with the total, and the complete list by
/// pages. Adds its id to `ids` and sorts them.
async fn the_52nd_gets_one_page_and_the_rest_by_who(
    app: &TestApp,
    site: &Site,
    ids: &mut Vec<i64>,
) -> Client {
    let (mut zed, zed_ready) = app.guest(&site.public_key, "zed").await;
    let welcome = zed.join("lobby", None).await;
    ids.push(id_of(&zed_ready));
    assert_eq!(
        welcome["online"].as_array().unwrap().len(),
        CROWD,
        "{welcome}"
    );
    assert_eq!(welcome["online_total"], CROWD + 2);
    let (paged, total) = who_all(&mut zed, 7).await;
    ids.sort();
    assert_eq!(paged, *ids, "each present participant once, in id order");
    assert_eq!(total as usize, CROWD + 2);
    let (paged, _) = who_all(&mut zed, 100).await;
    assert_eq!(paged, *ids);
    zed
}

/// `who` is refused outside the room and with a limit out of 1..=100.
#[tokio::test]
async fn who_is_validated() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest(&site.public_key, "alice").await;
    alice.send(json!({"type": "who", "room": "lobby"})).await;
    let refused = alice.recv_type("error").await;
    // The error names the frame and its room (PROTOCOL.md §11).
    assert_eq!(
        (&refused["code"], &refused["ref"], &refused["room"]),
        (&json!("not_joined"), &json!("who"), &json!("lobby")),
        "{refused}"
    );
    alice.join("lobby", None).await;
    for limit in [0, 101] {
        alice
            .send(json!({"type": "who", "room": "lobby", "limit": limit}))
            .await;
        let refused = alice.recv_type("error").await;
        assert_eq!(refused["code"], "bad_frame");
        assert_eq!(refused["room"], "lobby", "{refused}");
    }
    alice.send(json!({"type": "who", "room": "lobby"})).await;
    let page = alice.recv_type("who").await;
    assert_eq!(
        (
            page["online"].as_array().unwrap().len(),
            &page["next"],
            &page["online_total"]
        ),
        (1, &Value::Null, &json!(1))
    );
}

/// Someone present who says hello again under a new name (a second tab, or
/// a tab that never joins the room) is listed under it: in a newcomer's
/// `welcome.online` and in `who`, once their first tab is gone too.
#[tokio::test]
async fn the_list_of_who_is_here_follows_a_rename() {
    let app = TestApp::spawn().await;
    let key = app.site(&[ORIGIN]).await.public_key;
    let nick_of = |online: &Value, id: i64| -> String {
        let online = online.as_array().expect("online");
        let me = online.iter().find(|w| w["id"] == id).expect("listed");
        me["nick"].as_str().expect("nick").to_owned()
    };
    // A second tab, renamed, joins; then the first tab closes.
    let (mut first, ready) = app.guest(&key, "Oldname").await;
    first.join("lobby", None).await;
    let (id, token) = (id_of(&ready), ready["guest_token"].clone());
    let mut second = app.connect(&key).await;
    let renamed = second
        .hello(json!({"guest_token": token, "nick": "Newname"}))
        .await;
    assert_eq!(renamed["me"]["nick"], "Newname", "{renamed}");
    second.join("lobby", None).await;
    drop(first);
    let (mut probe, _) = app.guest(&key, "Probe").await;
    let welcome = probe.join("lobby", None).await;
    assert_eq!(nick_of(&welcome["online"], id), "Newname", "{welcome}");
    // A third tab renames without joining: the room lists the new name too.
    let mut third = app.connect(&key).await;
    third
        .hello(json!({"guest_token": token, "nick": "Thirdname"}))
        .await;
    probe
        .send(json!({"type": "who", "room": "lobby", "after": null, "limit": 50}))
        .await;
    let page = probe.recv_type_any(&["who"]).await;
    assert_eq!(nick_of(&page["online"], id), "Thirdname", "{page}");
    let (mut late, _) = app.guest(&key, "Late").await;
    let welcome = late.join("lobby", None).await;
    assert_eq!(nick_of(&welcome["online"], id), "Thirdname", "{welcome}");
}
