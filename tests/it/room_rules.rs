//! A room's rules reach its visitors before a `send` is refused for them:
//! `welcome.rules` says what they are on joining, and a `room_rules` frame
//! tells everyone in the room when a moderator changes them or the site's
//! length limit changes (docs/PROTOCOL.md, "Room rules").

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::cli::{chatctl, stdout};
use crate::support::*;

fn rules(max: u64, slow: u64, locked: bool, approve: bool) -> Value {
    json!({
        "max_message_chars": max,
        "slow_mode_secs": slow,
        "locked": locked,
        "approve_first": approve,
    })
}

#[tokio::test]
async fn visitors_are_told_the_rooms_rules_on_joining_and_when_they_change() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = crate::support::api::Api::full(&app, &site).await;

    let (mut alice, _) = app.guest(&site.public_key, "alice").await;
    let welcome = alice.join("support", None).await;
    assert_eq!(welcome["rules"], rules(2000, 0, false, false), "{welcome}");

    // Nothing changed, nothing told (outside tester: an empty PATCH, or one
    // setting the same values, sent every member the same rules again).
    for same in [json!({}), json!({"locked": false, "slow_mode_secs": 0})] {
        let answer = api.patch("/rooms/support", same).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    alice.expect_silence(Duration::from_millis(300)).await;

    let set = api
        .patch(
            "/rooms/support",
            json!({"locked": true, "slow_mode_secs": 30, "max_message_chars": 140, "approve_first": true}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let told = alice.recv_type("room_rules").await;
    assert_eq!(
        (told["room"].clone(), told["rules"].clone()),
        (json!("support"), rules(140, 30, true, true))
    );
    // What the frame said is what the next send meets.
    alice
        .send(json!({"type": "send", "room": "support", "cid": "a1", "text": "x"}))
        .await;
    assert_eq!(alice.recv_type("error").await["code"], "room_locked");

    // Someone joining now is told in the welcome.
    let (mut bob, _) = app.guest(&site.public_key, "bob").await;
    let welcome = bob.join("support", None).await;
    assert_eq!(welcome["rules"], rules(140, 30, true, true));

    // The site's limit drops below the room's (`site set`, another process):
    // the smaller wins, and both are told (the server reads the change
    // from the database's event table).
    site_limit(&app, &site, "100");
    for client in [&mut alice, &mut bob] {
        let told = client.recv_type("room_rules").await;
        assert_eq!(told["rules"], rules(100, 30, true, true), "{told}");
    }
    // Raised over the room's own limit: the room's (140) is told, once;
    // raised further, nothing changes for this room and nothing is told.
    site_limit(&app, &site, "150");
    assert_eq!(
        alice.recv_type("room_rules").await["rules"],
        rules(140, 30, true, true)
    );
    site_limit(&app, &site, "160");
    alice.expect_silence(Duration::from_millis(1500)).await;

    // Rules of rooms one is not in are not one's business.
    let (mut carol, _) = app.guest(&site.public_key, "carol").await;
    carol.join("elsewhere", None).await;
    api.patch("/rooms/support", json!({"locked": false})).await;
    assert_eq!(
        alice.recv_type("room_rules").await["rules"]["locked"],
        false
    );
    carol.expect_silence(Duration::from_millis(300)).await;
}

/// `chatctl site set KEY --max-message-chars N`, on the server's database
/// from another process (the server reads the change from its event table).
fn site_limit(app: &TestApp, site: &chatctl::db::models::Site, chars: &str) {
    stdout(chatctl(&app.database).args([
        "site",
        "set",
        &site.public_key,
        "--max-message-chars",
        chars,
    ]));
}
