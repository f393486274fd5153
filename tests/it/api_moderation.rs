//! Moderation through the server API has the panel's live effects: a ban
//! closes the chats it covers and refuses them after, a mute refuses sends,
//! and the audit log names the key.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::api::Api;
use crate::support::*;

#[tokio::test]
async fn a_ban_closes_the_chat_at_once_and_an_unban_lets_them_back() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let (mut alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let id = ready["me"]["id"].as_i64().unwrap();

    let banned = api
        .post(
            "/bans",
            json!({"participant": id, "reason": "spam", "minutes": 30}),
        )
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    assert_eq!(banned.body["closed"], 1);
    let closed = alice.closed().await;
    assert_eq!(closed.code, close::BANNED);
    assert!(closed.notice.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("spam"));
    let state = api.get(&format!("/participants/{id}")).await;
    assert_eq!(state.body["banned"]["reason"], "spam");
    let list = api.get("/bans").await;
    assert_eq!(list.body["bans"][0]["id"], banned.body["ban"]["id"]);

    let ban = banned.body["ban"]["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/bans/{ban}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(&format!("/bans/{ban}")).await.body["error"],
        "ban_not_found"
    );
    assert!(api.get(&format!("/participants/{id}")).await.body["banned"].is_null());

    let mut panel = crate::support::panel::Panel::owner(&app).await;
    let audit = panel.get("/admin/audit?action=ban").await;
    assert!(
        audit.body.contains("API key backend (ck_"),
        "{}",
        audit.body
    );
    assert!(audit.body.contains("ban.create") && audit.body.contains("ban.revoke"));
}

#[tokio::test]
async fn bans_by_sub_and_by_address_are_checked_like_the_panels() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let user = json!({"sub": "u-9", "name": "Spammer"});
    api.post("/rooms", json!({"name": "lobby"})).await;
    api.post(
        "/rooms/lobby/messages",
        json!({"cid": "1", "text": "buy", "user": user}),
    )
    .await;
    let banned = api
        .post("/bans", json!({"sub": "u-9", "reason": "spam"}))
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    assert!(banned.body["ban"]["until"].is_null());
    // The site cannot post for a user it banned.
    let refused = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "2", "text": "again", "user": user}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("banned"))
    );

    let range = api
        .post("/bans", json!({"ip": "203.0.113.0/24", "reason": "abuse"}))
        .await;
    assert_eq!(range.body["ban"]["ip"], "203.0.113.0/24");
    for (body, code) in [
        (json!({"ip": "10.0.0.0/4", "reason": "x"}), "bad_request"),
        (json!({"ip": "nonsense", "reason": "x"}), "bad_request"),
        (json!({"reason": "nobody"}), "bad_request"),
        (
            json!({"participant": 1, "sub": "u-9", "reason": "x"}),
            "bad_request",
        ),
        (json!({"sub": "u-9", "reason": "  "}), "bad_request"),
        (
            json!({"sub": "u-9", "reason": "x", "minutes": 0}),
            "bad_request",
        ),
        (
            json!({"sub": "nobody", "reason": "x"}),
            "participant_not_found",
        ),
        (
            json!({"participant": 999_999, "reason": "x"}),
            "participant_not_found",
        ),
    ] {
        let answer = api.post("/bans", body.clone()).await;
        assert_eq!(answer.body["error"], code, "{body}: {}", answer.body);
    }

    // Another site's participants and bans do not exist for this key.
    let other = app.new_site().origins(&[ORIGIN]).create().await;
    let (_bob, ready) = app.guest_in(&other.public_key, "bob", "lobby").await;
    let bob = ready["me"]["id"].as_i64().unwrap();
    let answer = api
        .post("/bans", json!({"participant": bob, "reason": "x"}))
        .await;
    assert_eq!(answer.body["error"], "participant_not_found");
    let theirs = Api::full(&app, &other).await;
    let their_ban = theirs
        .post("/bans", json!({"participant": bob, "reason": "x"}))
        .await;
    let id = their_ban.body["ban"]["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/bans/{id}")).await.body["error"],
        "ban_not_found"
    );
}

#[tokio::test]
async fn a_mute_refuses_the_next_send_and_is_lifted() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let (mut alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let id = ready["me"]["id"].as_i64().unwrap();
    let muted = api
        .post(
            &format!("/participants/{id}/mute"),
            json!({"minutes": 10, "reason": "calm down"}),
        )
        .await;
    assert_eq!(muted.status, StatusCode::CREATED, "{}", muted.body);
    alice
        .send(json!({"type": "send", "room": "lobby", "cid": "m1", "text": "x"}))
        .await;
    let refused = alice.recv_type("error").await;
    assert_eq!(refused["code"], "muted");
    assert!(
        api.get(&format!("/participants/{id}")).await.body["muted"]["until"]
            .as_i64()
            .is_some()
    );
    let too_long = api
        .post(
            &format!("/participants/{id}/mute"),
            json!({"minutes": 100_000}),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        api.delete(&format!("/participants/{id}/mute")).await.status,
        StatusCode::NO_CONTENT
    );
    alice.say("lobby", "m2", "back").await;
}
