//! The widget shows a room's rules before a message is refused for them:
//! a locked room is read-only, the placeholder says when slow mode applies,
//! and the room's own length limit is checked before sending; a moderator's
//! change shows at once (`room_rules`).

use serde_json::json;

use crate::support::api::Api;
use crate::support::widget_page::{guest_at, lobby_scene, run, say, until};
use crate::support::*;

#[tokio::test]
async fn widget_follows_the_rooms_rules_as_moderators_change_them() {
    let test = "widget_follows_the_rooms_rules_as_moderators_change_them";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    api.patch("/rooms/lobby", json!({"max_message_chars": 10}))
        .await;

    let browser = guest_at(&chrome, &host.url("/chat"), "alice").await;
    // The room's limit (10), not the site's (2000), is checked before sending.
    say(&browser, "eleven chars").await;
    until(
        &browser,
        "the length refusal",
        "$('#text').validationMessage === 'Message is too long (12 of 10 characters).'",
    )
    .await;
    assert_eq!(run(&browser, "return msgs().length;").await, json!(0));

    api.patch("/rooms/lobby", json!({"locked": true})).await;
    until(
        &browser,
        "a read-only composer",
        "$('#text').disabled && $('#text').placeholder === 'This room is read-only.'",
    )
    .await;

    api.patch(
        "/rooms/lobby",
        json!({"locked": false, "slow_mode_secs": 30}),
    )
    .await;
    until(
        &browser,
        "slow mode in the placeholder",
        "!$('#text').disabled && $('#text').placeholder === 'Slow mode: one message every 30 s'",
    )
    .await;

    api.patch("/rooms/lobby", json!({"slow_mode_secs": 0}))
        .await;
    until(
        &browser,
        "the usual placeholder",
        "$('#text').placeholder === 'Write a message…'",
    )
    .await;
}
