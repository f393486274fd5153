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

#[tokio::test]
async fn the_sites_own_author_cannot_be_muted_or_banned() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    let posted = api
        .post("/rooms/lobby/messages", json!({"cid": "1", "text": "hi"}))
        .await;
    let me = posted.body["author"]["id"].as_i64().unwrap();
    let muted = api
        .post(
            &format!("/participants/{me}/mute"),
            json!({"minutes": 10, "reason": "x"}),
        )
        .await;
    muted.assert_refused(StatusCode::BAD_REQUEST, "bad_request", "");
    let banned = api
        .post("/bans", json!({"participant": me, "reason": "x"}))
        .await;
    assert_eq!(banned.status, StatusCode::BAD_REQUEST, "{}", banned.body);
    assert_eq!(api.get("/bans").await.body["bans"], json!([]));
    // The site still posts.
    let again = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "2", "text": "still here"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[tokio::test]
async fn durations_and_ipv4_ranges_in_ipv6_form_are_checked() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let (_alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let id = ready["me"]["id"].as_i64().unwrap();
    for minutes in [
        json!(i64::MAX),
        json!(1_000_000_000_000_i64),
        json!(0),
        json!(-5),
    ] {
        let ban = api
            .post(
                "/bans",
                json!({"participant": id, "reason": "spam", "minutes": minutes}),
            )
            .await;
        ban.assert_refused(StatusCode::BAD_REQUEST, "bad_request", &minutes);
        let mute = api
            .post(
                &format!("/participants/{id}/mute"),
                json!({"reason": "spam", "minutes": minutes}),
            )
            .await;
        assert_eq!(
            mute.status,
            StatusCode::BAD_REQUEST,
            "{minutes}: {}",
            mute.body
        );
    }
    // Mapped IPv6 ranges are stored as the IPv4 range they are, and the /8
    // minimum applies to that.
    let mapped = api
        .post(
            "/bans",
            json!({"ip": "::ffff:127.0.0.0/104", "reason": "loopback"}),
        )
        .await;
    assert_eq!(mapped.status, StatusCode::CREATED, "{}", mapped.body);
    assert_eq!(mapped.body["ban"]["ip"], "127.0.0.0/8");
    // It matches: the guests of this test come from 127.0.0.1.
    let refused = app.try_connect(&site.public_key, Some(ORIGIN)).await;
    assert!(refused.is_err(), "a banned address still connects");
    for wide in ["::ffff:0.0.0.0/96", "::0.0.0.0/96", "::ffff:0:0/80"] {
        let ban = api
            .post("/bans", json!({"ip": wide, "reason": "all"}))
            .await;
        assert_eq!(ban.status, StatusCode::BAD_REQUEST, "{wide}: {}", ban.body);
    }
}
