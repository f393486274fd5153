//! One guest filling the site's room quota (issue 12, item 1): opening rooms
//! is bounded per participant and per address, rooms nobody wrote in do not
//! count toward the quota, and owners can list, delete and prune rooms from
//! the CLI and the panel.

use std::time::Duration;

use assert_cmd::Command;
use chatctl::db::models::{Role, Room};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::connect_from;
use crate::support::cli::chatctl;
use crate::support::panel::{account, Panel};
use crate::support::*;

/// Joins `room` and answers `welcome` or the error.
async fn try_join(client: &mut Client, room: &str) -> Value {
    client.send(json!({"type": "join", "room": room})).await;
    client.recv_type_any(&["welcome", "error"]).await
}

async fn join_and_leave(client: &mut Client, room: &str) -> Value {
    let reply = try_join(client, room).await;
    if reply["type"] == "welcome" {
        client.send(json!({"type": "leave", "room": room})).await;
        client.recv_type("left").await;
    }
    reply
}

async fn room_names(app: &TestApp, site: chatctl::db::models::SiteId) -> Vec<String> {
    app.db
        .run(move |conn| Room::list_for_site(conn, site))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[tokio::test]
async fn a_guest_looping_over_new_rooms_is_stopped_and_cannot_fill_the_quota() {
    let app = TestApp::builder()
        .limits(|l| {
            l.new_rooms_per_participant_per_hour = 10;
            l.new_rooms_per_ip_per_hour = 15;
        })
        .spawn()
        .await;
    let site = app
        .new_site()
        .settings(SiteSettings {
            max_rooms: Some(3),
            ..Default::default()
        })
        .create()
        .await;

    let (mut spammer, _) = app.guest(&site.public_key, "spammer").await;
    let mut opened = 0;
    let mut refusal = Value::Null;
    for i in 0..40 {
        let reply = join_and_leave(&mut spammer, &format!("spam-{i}")).await;
        if reply["type"] == "welcome" {
            opened += 1;
        } else {
            refusal = reply;
            break;
        }
    }
    assert_eq!(opened, 10, "per-participant limit: {refusal}");
    assert_eq!(refusal["code"], "rate_limited");
    assert_eq!(refusal["ref"], "join");
    assert!(refusal["retry_after_ms"].as_u64().unwrap() > 60_000);
    // Rooms that exist stay open to the spammer: only new ones are counted.
    assert_eq!(
        join_and_leave(&mut spammer, "spam-0").await["type"],
        "welcome"
    );

    // A second guest from the same address meets the per-address limit.
    let (mut accomplice, _) = app.guest(&site.public_key, "accomplice").await;
    let mut more = 0;
    while join_and_leave(&mut accomplice, &format!("more-{more}")).await["type"] == "welcome" {
        more += 1;
        assert!(more <= 20, "no per-address limit");
    }
    assert_eq!(more, 5);

    // The 15 empty rooms do not count toward the site's quota of 3: a
    // visitor from elsewhere still opens rooms and talks in them.
    for (n, room) in ["real-1", "real-2", "real-3"].iter().enumerate() {
        let mut visitor = connect_from(&app, "127.0.0.2", &site.public_key).await;
        visitor.hello(json!({"nick": format!("visitor{n}")})).await;
        let welcome = try_join(&mut visitor, room).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        visitor.say(room, "c1", "hello").await;
    }
    // Rooms with messages do count.
    let mut late = connect_from(&app, "127.0.0.3", &site.public_key).await;
    late.hello(json!({"nick": "late"})).await;
    assert_eq!(
        try_join(&mut late, "real-4").await["code"],
        "too_many_rooms"
    );
    assert_eq!(try_join(&mut late, "real-1").await["type"], "welcome");
}

#[tokio::test]
async fn hostile_room_names_are_refused_without_creating_rooms() {
    let app = TestApp::builder()
        .limits(|l| l.new_rooms_per_participant_per_hour = 3)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut guest, _) = app.guest(&site.public_key, "mallory").await;
    let long = "x".repeat(500);
    for bad in [
        "",
        " ",
        "a b",
        "<script>",
        "lobby\n",
        "\u{202e}lobby",
        long.as_str(),
    ] {
        let reply = try_join(&mut guest, bad).await;
        assert_eq!(reply["code"], "invalid_room", "{bad:?}: {reply}");
    }
    // Invalid names cost nothing: all three new rooms are still allowed.
    for room in ["one", "two", "three"] {
        assert_eq!(try_join(&mut guest, room).await["type"], "welcome");
    }
    assert_eq!(try_join(&mut guest, "four").await["code"], "rate_limited");
    assert_eq!(room_names(&app, site.id).await.len(), 3);
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `chatctl site rooms prune KEY --older-than-minutes 0`: every unused room,
/// however new. Returns (success, stdout, stderr).
fn prune_unused_rooms(app: &TestApp, key: &str) -> (bool, String, String) {
    let prune = ["site", "rooms", "prune", key, "--older-than-minutes", "0"];
    run(chatctl(&app.database).args(prune))
}

#[tokio::test]
async fn owners_list_delete_and_prune_rooms_from_the_cli() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    guest.say("lobby", "c1", "hi").await;
    for room in ["empty-1", "empty-2", "doomed"] {
        join_and_leave(&mut guest, room).await;
    }
    guest.close().await;
    let key = site.public_key.as_str();

    let (ok, out, err) = run(chatctl(&app.database).args(["site", "rooms", "list", key, "--json"]));
    assert!(ok, "{err}");
    let rooms: Value = serde_json::from_str(&out).unwrap();
    let lobby = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "lobby")
        .unwrap();
    assert_eq!(lobby["messages"], 1);
    assert_eq!(rooms.as_array().unwrap().len(), 4);
    let (ok, table, _) = run(chatctl(&app.database).args(["site", "rooms", "list", key]));
    assert!(
        ok && table.contains("empty-1") && table.contains("lobby"),
        "{table}"
    );

    let (ok, _, err) = run(chatctl(&app.database).args(["site", "rooms", "delete", key, "doomed"]));
    assert!(ok, "{err}");
    let (ok, _, err) =
        run(chatctl(&app.database).args(["site", "rooms", "delete", key, "no-such-room"]));
    assert!(
        !ok && err.starts_with("error: ") && err.contains("no-such-room"),
        "{err}"
    );
    let (ok, _, err) =
        run(chatctl(&app.database).args(["site", "rooms", "delete", "pk_unknown", "lobby"]));
    assert!(!ok && err.starts_with("error: "), "{err}");

    // Pruning removes rooms visitors opened and never wrote in, old enough.
    let (ok, out, _) = run(chatctl(&app.database).args(["site", "rooms", "prune", key]));
    assert!(ok && out.contains("0 "), "too recent to prune: {out}");
    let (ok, out, err) = prune_unused_rooms(&app, key);
    assert!(ok && out.contains("2 "), "{out}{err}");
    assert_eq!(room_names(&app, site.id).await, vec!["lobby".to_owned()]);
}

/// `chatctl site rooms prune` (a separate process) while a running server
/// has someone in an unused room: the room stays, as it does for the panel.
/// (The command line used to prune with an empty keep-list, deleting the room
/// and closing the visitor's connection.) Once they leave, it goes.
#[tokio::test]
async fn a_prune_from_the_cli_keeps_rooms_someone_is_in() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "alice", "waiting").await;
    let key = site.public_key.as_str();
    let prune = || prune_unused_rooms(&app, key);

    let (ok, out, err) = prune();
    assert!(ok && out.starts_with("deleted 0 "), "{out}{err}");
    assert_eq!(room_names(&app, site.id).await, vec!["waiting".to_owned()]);
    guest.expect_silence(Duration::from_millis(300)).await;

    guest
        .send(json!({"type": "leave", "room": "waiting"}))
        .await;
    guest.recv_type("left").await;
    let started = std::time::Instant::now();
    loop {
        let (ok, out, err) = prune();
        assert!(ok, "{err}");
        if out.starts_with("deleted 1 ") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still kept: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(room_names(&app, site.id).await.is_empty());
}

#[tokio::test]
async fn owners_delete_rooms_from_the_panel_and_people_inside_are_told() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    let (mut guest, _) = app.guest(&site.public_key, "alice").await;
    for room in ["spam-a", "spam-b"] {
        join_and_leave(&mut guest, room).await;
    }
    guest.join("doomed", None).await;
    guest.say("doomed", "c1", "bye").await;
    let mut panel = Panel::login(&app, "owner@example.com").await;

    let page = panel.get(&format!("/admin/sites/{}/rooms", site.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("spam-a") && page.body.contains("doomed"));
    let doomed = app.room(&site, "doomed").await;

    // Without the CSRF token nothing happens.
    let forged = panel
        .send_form(&format!("/admin/rooms/{}/delete", doomed.id), &[("x", "1")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done = panel
        .post_and_follow(&format!("/admin/rooms/{}/delete", doomed.id), &[])
        .await;
    assert!(done.body.contains("deleted"), "{}", done.body);
    let closed = guest.closed().await;
    assert!(closed.notice.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("removed"));

    let pruned = panel
        .post_and_follow(
            &format!("/admin/sites/{}/rooms/prune", site.id),
            &[("older_than_minutes", "0")],
        )
        .await;
    assert!(pruned.body.contains("2 empty rooms"), "{}", pruned.body);
    assert!(room_names(&app, site.id).await.is_empty());

    // A room of a site a moderator cannot see does not exist for them.
    let other = app.site(&["https://other.example"]).await;
    account(&app, "mod@example.com", Role::Moderator, &[other.id]).await;
    let moderator = Panel::login(&app, "mod@example.com").await;
    let (_g2, _) = app.guest_in(&site.public_key, "bob", "kept").await;
    let kept = app.room(&site, "kept").await;
    let refused = moderator
        .post(&format!("/admin/rooms/{}/delete", kept.id), &[])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}
