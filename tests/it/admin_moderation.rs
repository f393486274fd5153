//! Moderation takes effect live: bans close connections and refuse reconnects,
//! deletions reach open clients, reports reach the panel. (Room settings,
//! mutes and filters: `admin_rules.rs`.)

use chatctl::db::models::Site;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::close;
use crate::support::panel::*;
use crate::support::*;

/// Skips frames until a message with this text arrives.
pub(crate) async fn message_with(client: &mut Client, text: &str) -> serde_json::Value {
    loop {
        let frame = client.recv_type("message").await;
        if frame["text"] == text {
            return frame;
        }
    }
}

/// Sends and returns the answer (`ack` or `error`).
pub(crate) async fn attempt(client: &mut Client, cid: &str, text: &str) -> serde_json::Value {
    client
        .send(json!({"type": "send", "room": "lobby", "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

#[tokio::test]
async fn a_ban_kicks_the_participant_at_once_and_refuses_them_afterwards() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;

    let (mut alice, ready) = app.guest(&site.public_key, "alice").await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    let alice_id = ready["me"]["id"].as_i64().unwrap();
    alice.join("lobby", None).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;

    panel.get(&format!("/admin/participants/{alice_id}")).await;
    let page = panel
        .post_and_follow(
            &format!("/admin/participants/{alice_id}/ban"),
            &[
                ("reason", "spamming links"),
                ("duration", "2"),
                ("unit", "hours"),
            ],
        )
        .await;
    assert!(page.body.contains("alice is banned until"), "{}", page.body);

    let closed = alice.closed().await;
    assert_eq!(closed.code, close::BANNED);
    let notice = closed.notice.expect("notice before close");
    assert_eq!(notice["code"], "banned");
    assert!(notice["message"]
        .as_str()
        .unwrap()
        .contains("spamming links"));
    let until = notice["until"].as_i64().expect("until");
    assert!(until > chatctl::db::now_ms() + 3_500_000);

    // Bob is untouched.
    bob.say("lobby", "b1", "still here").await;

    // Reloading (same guest token) does not get alice back in.
    let closed = app.returning_guest_closed(&site.public_key, &token).await;
    assert_eq!(closed.code, close::BANNED);

    let list = panel.get("/admin/bans").await;
    assert!(list.body.contains("spamming links"), "{}", list.body);
}

#[tokio::test]
async fn an_address_ban_is_refused_at_the_upgrade_until_lifted() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;

    // An address ban is refused at the upgrade, whatever the identity.
    panel.get("/admin/bans").await;
    let scope = site.id.to_string();
    panel
        .post_and_follow(
            "/admin/bans",
            &[
                ("scope", &scope),
                ("cidr", "127.0.0.0/8"),
                ("reason", "flood"),
                ("unit", "permanent"),
            ],
        )
        .await;
    assert_eq!(
        bob.closed().await.code,
        close::BANNED,
        "bob's address is covered"
    );
    let (status, body) = app.refusal(&site.public_key, Some(ORIGIN)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("banned")));
    assert!(body["message"].as_str().unwrap().contains("flood"));

    // The ban is listed; lifting it lets new guests in again.
    let list = panel.get("/admin/bans").await;
    assert!(list.body.contains("127.0.0.0/8"), "{}", list.body);
    let ban_id = app
        .db
        .run(move |conn| {
            chatctl::db::models::Ban::active_for_site(
                conn,
                chatctl::db::models::SiteId(scope.parse().unwrap()),
            )
        })
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.cidr.is_some())
        .unwrap()
        .id;
    panel
        .post_and_follow(&format!("/admin/bans/{ban_id}/revoke"), &[])
        .await;
    assert!(app
        .try_connect(&site.public_key, Some(ORIGIN))
        .await
        .is_ok());
    let ended = panel.get("/admin/bans?state=ended").await;
    assert!(ended.body.contains("127.0.0.0/8") && ended.body.contains("lifted"));
}

#[tokio::test]
async fn a_guest_banned_with_their_address_cannot_come_back_as_someone_new() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let (mut troll, ready) = app.guest(&site.public_key, "troll").await;
    let id = ready["me"]["id"].as_i64().unwrap();
    panel.get(&format!("/admin/participants/{id}")).await;
    panel
        .post_and_follow(
            &format!("/admin/participants/{id}/ban"),
            &[
                ("reason", "trolling"),
                ("unit", "permanent"),
                ("with_ip", "on"),
            ],
        )
        .await;
    assert_eq!(troll.closed().await.code, close::BANNED);
    // A cleared nickname and token: a new guest, same address.
    let (status, body) = app.refusal(&site.public_key, Some(ORIGIN)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("banned")));
}

/// An owner signed in to the panel, and two guests in the lobby: alice, whom
/// the panel acts on, and bob, who watches.
pub(crate) struct Lobby {
    pub(crate) app: TestApp,
    pub(crate) site: Site,
    pub(crate) panel: Panel,
    pub(crate) alice: Client,
    pub(crate) alice_id: i64,
    pub(crate) bob: Client,
}

pub(crate) async fn lobby() -> Lobby {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let panel = Panel::owner(&app).await;
    let (mut alice, ready) = app.guest(&site.public_key, "alice").await;
    let alice_id = ready["me"]["id"].as_i64().unwrap();
    alice.join("lobby", None).await;
    let (bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    Lobby {
        app,
        site,
        panel,
        alice,
        alice_id,
        bob,
    }
}

#[tokio::test]
async fn deletions_reach_open_clients_and_leave_history() {
    let Lobby {
        app,
        site,
        mut panel,
        mut alice,
        alice_id,
        mut bob,
    } = lobby().await;
    let first = alice.say("lobby", "a1", "rude words").await;
    alice.say("lobby", "a2", "more rude words").await;
    bob.say("lobby", "b1", "polite").await;

    panel.get("/admin/messages").await;
    let id = first["id"].as_i64().unwrap();
    panel
        .post_and_follow(&format!("/admin/messages/{id}/delete"), &[])
        .await;
    let deleted = bob.recv_type("deleted").await;
    assert_eq!(
        deleted,
        json!({"type": "deleted", "room": "lobby", "seq": first["seq"]})
    );
    assert_eq!(alice.recv_type("deleted").await["seq"], first["seq"]);

    panel
        .post_and_follow(
            &format!("/admin/participants/{alice_id}/delete-messages"),
            &[],
        )
        .await;
    assert_eq!(bob.recv_type("deleted").await["seq"], 2);

    let (mut carol, _) = app.guest(&site.public_key, "carol").await;
    let welcome = carol.join("lobby", None).await;
    assert_eq!(texts(&welcome), vec!["polite"]);
    let log = panel.get("/admin/messages").await;
    assert!(
        log.body.contains("deleted"),
        "the log still shows deleted messages, marked"
    );
}

#[tokio::test]
async fn visitors_report_messages_and_moderators_act_on_reports() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    let ack = alice.say("lobby", "a1", "offensive thing").await;
    bob.recv_type("message").await;

    bob.send(json!({"type": "report", "room": "lobby", "seq": ack["seq"], "reason": "insulting"}))
        .await;
    assert_eq!(
        bob.recv_type_any(&["reported", "error"]).await,
        json!({"type": "reported", "room": "lobby", "seq": ack["seq"]})
    );
    bob.send(json!({"type": "report", "room": "lobby", "seq": 999}))
        .await;
    assert_eq!(bob.recv_type("error").await["code"], "message_not_found");
    bob.send(json!({"type": "report", "room": "elsewhere", "seq": 1}))
        .await;
    assert_eq!(bob.recv_type("error").await["code"], "not_joined");
    // Reports are rate limited per connection.
    let mut codes = Vec::new();
    for _ in 0..6 {
        bob.send(json!({"type": "report", "room": "lobby", "seq": ack["seq"]}))
            .await;
        let reply = bob.recv_type_any(&["reported", "error"]).await;
        codes.push(reply["code"].as_str().unwrap_or("reported").to_owned());
    }
    assert!(codes.contains(&"rate_limited".to_owned()), "{codes:?}");

    let page = panel.get("/admin/reports").await;
    assert!(
        page.body.contains("offensive thing") && page.body.contains("insulting"),
        "{}",
        page.body
    );
    let report = app.first_open_report().await;
    panel
        .post_and_follow(
            &format!("/admin/reports/{report}/ban"),
            &[("reason", "Reported message"), ("unit", "permanent")],
        )
        .await;
    assert_eq!(alice.closed().await.code, close::BANNED);
    assert_eq!(bob.recv_type("deleted").await["seq"], ack["seq"]);
    let open = panel.get("/admin/reports").await;
    assert!(!open.body.contains("offensive thing"));
    let resolved = panel.get("/admin/reports?state=resolved").await;
    assert!(resolved.body.contains("offensive thing"));
    let audit = panel.get("/admin/audit").await;
    for action in ["ban.create", "message.delete"] {
        assert!(audit.body.contains(action), "audit lacks {action}");
    }
    assert_eq!(
        panel.get("/admin/audit?action=ban").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bans_written_by_another_process_reach_live_connections_within_seconds() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let id = chatctl::db::models::ParticipantId(ready["me"]["id"].as_i64().unwrap());
    let site_id = site.id;
    // As another chatctl server on the same database would.
    app.db
        .run(move |conn| {
            chatctl::db::models::Ban::create(
                conn,
                &chatctl::db::models::NewBan {
                    site_id: Some(site_id),
                    participant_id: Some(id),
                    cidr: None,
                    reason: "from elsewhere".into(),
                    created_by: None,
                    created_at: chatctl::db::now_ms(),
                    expires_at: None,
                },
            )
        })
        .await
        .unwrap();
    let closed = alice.closed().await;
    assert_eq!(closed.code, close::BANNED);
    assert!(closed.notice.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("from elsewhere"));
}

#[tokio::test]
async fn the_dashboard_counts_live_connections_rooms_and_reports() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.join("help", None).await;
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    let ack = alice.say("lobby", "a1", "hello").await;
    bob.send(json!({"type": "report", "room": "lobby", "seq": ack["seq"]}))
        .await;
    bob.recv_type("reported").await;
    let numbers: serde_json::Value =
        serde_json::from_str(&panel.get("/admin/dashboard.json").await.body).unwrap();
    let ours = numbers["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == site.id.0)
        .unwrap()
        .clone();
    assert_eq!(
        (
            &ours["connections"],
            &ours["active_rooms"],
            &ours["messages_hour"],
            &ours["messages_day"],
            &ours["open_reports"]
        ),
        (&json!(2), &json!(2), &json!(1), &json!(1), &json!(1))
    );
    let page = panel.get("/admin").await;
    assert!(
        page.body.contains("data-stat=\"open_reports\">1<"),
        "the page has the numbers without JavaScript"
    );
}
