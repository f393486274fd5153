//! Room settings, mutes and word filters changed in the panel apply to the
//! next message, although the send path had them cached.

use chatctl::db::models::Site;

use crate::admin_moderation::{attempt, lobby, message_with};
use crate::support::panel::*;
use crate::support::*;

/// The form fields of a room's settings.
fn room_settings(
    slow: &'static str,
    locked: bool,
    approve: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut fields = vec![("slow_mode_secs", slow)];
    if locked {
        fields.push(("locked", "on"));
    }
    if approve {
        fields.push(("approve_first", "on"));
    }
    fields
}

/// A lobby ([`lobby`]) where alice has sent a message (which fills the send path's
/// caches: a change must reach the next send anyway), in parts: the app,
/// the site, the panel, alice, her id, bob, and the room's id.
async fn warmed() -> (TestApp, Site, Panel, Client, i64, Client, i64) {
    let mut lobby = lobby().await;
    lobby.alice.say("lobby", "warmup", "hi").await;
    let room = lobby.app.room(&lobby.site, "lobby").await.id.0;
    (
        lobby.app,
        lobby.site,
        lobby.panel,
        lobby.alice,
        lobby.alice_id,
        lobby.bob,
        room,
    )
}

#[tokio::test]
async fn a_mute_applies_to_the_next_message() {
    let (_app, _site, mut panel, mut alice, alice_id, _bob, _room) = warmed().await;
    panel.get(&format!("/admin/participants/{alice_id}")).await;
    panel
        .post_and_follow(
            &format!("/admin/participants/{alice_id}/mute"),
            &[("minutes", "10"), ("reason", "cool down")],
        )
        .await;
    let refused = attempt(&mut alice, "m1", "let me talk").await;
    assert_eq!(refused["code"], "muted");
    assert!(
        refused["message"].as_str().unwrap().contains("10 minutes")
            && refused["message"].as_str().unwrap().contains("cool down")
    );
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 500_000);
    assert_eq!(refused["ref"], "m1");
    // The reason apart, for the widget to say in the visitor's language.
    assert_eq!(refused["reason"], "cool down");
    panel
        .post_and_follow(&format!("/admin/participants/{alice_id}/unmute"), &[])
        .await;
    assert_eq!(attempt(&mut alice, "m1", "thanks").await["type"], "ack");
}

#[tokio::test]
async fn a_lock_and_slow_mode_apply_to_the_next_message() {
    let (_app, site, mut panel, mut alice, _alice_id, mut bob, room) = warmed().await;
    // Lock.
    panel.get(&format!("/admin/sites/{}/rooms", site.id)).await;
    panel
        .post_and_follow(
            &format!("/admin/rooms/{room}"),
            &room_settings("0", true, false),
        )
        .await;
    assert_eq!(
        attempt(&mut alice, "l1", "locked?").await["code"],
        "room_locked"
    );

    // Slow mode: one message per 60 s per participant.
    panel
        .post_and_follow(
            &format!("/admin/rooms/{room}"),
            &room_settings("60", false, false),
        )
        .await;
    assert_eq!(attempt(&mut alice, "s1", "first").await["type"], "ack");
    let slow = attempt(&mut alice, "s2", "second").await;
    assert_eq!(slow["code"], "slow_mode");
    assert!(slow["retry_after_ms"].as_u64().unwrap() > 50_000);
    assert_eq!(
        attempt(&mut bob, "bs1", "bob is separate").await["type"],
        "ack"
    );
}

#[tokio::test]
async fn approve_first_holds_the_next_message_until_approved() {
    let (app, _site, mut panel, mut alice, _alice_id, mut bob, room) = warmed().await;
    // Approve first: held, then posted for everyone when approved.
    panel
        .post_and_follow(
            &format!("/admin/rooms/{room}"),
            &room_settings("0", false, true),
        )
        .await;
    let held = attempt(&mut alice, "h1", "please approve me").await;
    assert_eq!(held["code"], "held_for_review");
    let reports = panel.get("/admin/reports").await;
    assert!(reports.body.contains("please approve me"));
    let held_id = app
        .db
        .run(|conn| chatctl::db::models::HeldMessage::queue(conn, None, 10))
        .await
        .unwrap()[0]
        .0
        .id;
    panel
        .post_and_follow(&format!("/admin/held/{held_id}/approve"), &[])
        .await;
    let approved = message_with(&mut bob, "please approve me").await;
    assert_eq!(approved["author"]["nick"], "alice");
    message_with(&mut alice, "please approve me").await;
}

#[tokio::test]
async fn word_filters_apply_to_the_next_message() {
    let (_app, site, mut panel, mut alice, _alice_id, mut bob, _room) = warmed().await;
    // Word filter: masks and blocks.
    panel
        .get(&format!("/admin/sites/{}/filters", site.id))
        .await;
    panel
        .post_and_follow(
            &format!("/admin/sites/{}/filters", site.id),
            &[("kind", "word"), ("pattern", "darn"), ("action", "mask")],
        )
        .await;
    panel
        .post_and_follow(
            &format!("/admin/sites/{}/filters", site.id),
            &[
                ("kind", "pattern"),
                ("pattern", r"buy\s+now"),
                ("action", "block"),
            ],
        )
        .await;
    let bad = panel
        .post_and_follow(
            &format!("/admin/sites/{}/filters", site.id),
            &[
                ("kind", "pattern"),
                ("pattern", "(unclosed"),
                ("action", "block"),
            ],
        )
        .await;
    assert!(bad.body.contains("invalid pattern"), "{}", bad.body);
    assert_eq!(attempt(&mut alice, "f1", "Darn it").await["type"], "ack");
    message_with(&mut bob, "**** it").await;
    assert_eq!(
        attempt(&mut alice, "f2", "BUY   NOW cheap").await["code"],
        "message_blocked"
    );
}
