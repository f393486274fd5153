//! Join/leave noise (issue 13 item 5). The presence grace period
//! (`--presence-grace-ms`): a participant whose last connection in a room
//! goes stays present for it; a reload or reconnection within it is neither
//! a leave nor a join for the others, and a real leave is announced once it
//! is over. The site setting `presence_lines` reaches `welcome`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::cli::{chatctl, stdout};
use crate::support::*;

const GRACE: Duration = Duration::from_millis(1500);

async fn app_with_grace() -> TestApp {
    TestApp::builder()
        .config(|c| c.presence_grace_ms = GRACE.as_millis() as u64)
        .spawn()
        .await
}

fn nicks(welcome: &Value) -> Vec<String> {
    let mut nicks: Vec<String> = (welcome["online"].as_array().expect("online"))
        .iter()
        .map(|w| w["nick"].as_str().expect("nick").to_owned())
        .collect();
    nicks.sort();
    nicks
}

/// Bob reloads (his connection closes, the same guest comes back and joins):
/// alice, already there, hears nothing, then or after the grace period;
/// bob's new connection gets its welcome with both of them.
#[tokio::test]
async fn a_reload_within_the_grace_period_is_neither_a_leave_nor_a_join() {
    let app = app_with_grace().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (bob, ready) = app.guest_in(&site.public_key, "bob", "lobby").await;
    assert_eq!(alice.recv_type("presence").await["event"], "join");

    bob.close().await;
    let mut bob = app.connect(&site.public_key).await;
    bob.hello(json!({"guest_token": ready["guest_token"]}))
        .await;
    let welcome = bob.join("lobby", None).await;
    assert_eq!(nicks(&welcome), ["alice", "bob"], "{welcome}");

    alice.expect_silence(GRACE + Duration::from_secs(1)).await;
    // Still one bob, and he is really gone only when he goes for good.
    bob.close().await;
    let left = alice.recv_type("presence").await;
    assert_eq!(
        (left["event"].as_str(), left["who"]["nick"].as_str()),
        (Some("leave"), Some("bob"))
    );
    assert_eq!(left["online"], 1);
}

/// A participant who goes for good leaves after the grace period, not
/// before; meanwhile they count as present (a newcomer's `welcome.online`
/// lists them, and the leave's `online` counts them out).
#[tokio::test]
async fn a_real_leave_is_announced_after_the_grace_period() {
    let app = app_with_grace().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    alice.recv_type("presence").await;

    bob.close().await;
    let closed = Instant::now();
    let (mut carol, _) = app.guest(&site.public_key, "carol").await;
    let welcome = carol.join("lobby", None).await;
    assert_eq!(nicks(&welcome), ["alice", "bob", "carol"], "{welcome}");
    let joined = alice.recv_type("presence").await;
    assert_eq!(
        (joined["event"].as_str(), joined["who"]["nick"].as_str()),
        (Some("join"), Some("carol"))
    );
    assert_eq!(joined["online"], 3, "bob is still counted: {joined}");

    let left = alice.recv_type("presence").await;
    let took = closed.elapsed();
    assert_eq!(
        (left["event"].as_str(), left["who"]["nick"].as_str()),
        (Some("leave"), Some("bob"))
    );
    assert_eq!(left["online"], 2);
    assert!(took >= GRACE, "left after {took:?}");
    assert!(took < GRACE + Duration::from_secs(2), "left after {took:?}");
    // carol heard the same leave, and nobody rejoins.
    let left = carol.recv_type("presence").await;
    assert_eq!(left["who"]["nick"], "bob");
    let welcome = app
        .guest(&site.public_key, "dan")
        .await
        .0
        .join("lobby", None)
        .await;
    assert_eq!(nicks(&welcome), ["alice", "carol", "dan"], "{welcome}");
}

/// A `leave` frame and a join back within the grace period (a single-page
/// site moving between rooms and back) are silent too; the leaver gets `left`.
#[tokio::test]
async fn leaving_a_room_and_coming_back_within_the_grace_period_is_silent() {
    let app = app_with_grace().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    alice.recv_type("presence").await;

    bob.send(json!({"type": "leave", "room": "lobby"})).await;
    assert_eq!(bob.recv().await, json!({"type": "left", "room": "lobby"}));
    bob.join("other", None).await;
    bob.join("lobby", None).await;
    alice.expect_silence(GRACE + Duration::from_secs(1)).await;
}

/// `presence_lines` is on for a new site, and `chatctl site set
/// --presence-lines off` turns it off in the next `welcome`; `site show` says
/// so, and `on` turns it back on.
#[tokio::test]
async fn the_presence_lines_setting_reaches_welcome() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = site.public_key.as_str();
    let (mut alice, _) = app.guest(key, "alice").await;
    assert_eq!(alice.join("lobby", None).await["presence_lines"], true);

    let out = stdout(chatctl(&app.database).args(["site", "set", key, "--presence-lines", "off"]));
    assert!(out.contains("join and leave lines: true → false"), "{out}");
    let show = stdout(chatctl(&app.database).args(["site", "show", key]));
    assert!(show.contains("presence lines:       off"), "{show}");
    let json = stdout(chatctl(&app.database).args(["site", "show", key, "--json"]));
    let json: Value = serde_json::from_str(&json).expect("site JSON");
    assert_eq!(json["presence_lines"], false, "{json}");

    // The running server reads the change within a second (a cluster event).
    let mut latest = Value::Null;
    for i in 0..30 {
        let (mut bob, _) = app.guest(key, &format!("bob{i}")).await;
        latest = bob.join("lobby", None).await;
        if latest["presence_lines"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(latest["presence_lines"], false, "{latest}");

    stdout(chatctl(&app.database).args(["site", "set", key, "--presence-lines", "on"]));
    let show = stdout(chatctl(&app.database).args(["site", "show", key]));
    assert!(show.contains("presence lines:       on"), "{show}");
}
