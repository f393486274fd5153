//! Ban forms say what they will do: an address is banned only when asked, and
//! not without a confirmation when other people used it; a report's "Ban
//! author" has a duration and a labelled reason; every confirmation says how
//! many chats the ban closed.

use chatctl::db::models::{Ban, ParticipantId};
use chatctl::db::now_ms;

use crate::support::panel::*;
use crate::support::*;

/// The bans on this participant, as stored.
async fn bans_of(app: &TestApp, id: i64) -> Vec<Ban> {
    app.db
        .run(move |conn| Ban::for_participant(conn, ParticipantId(id)))
        .await
        .unwrap()
}

/// Two guests from one address (every test client is 127.0.0.1), both in the lobby.
async fn troll_and_neighbour(app: &TestApp, key: &str) -> ((Client, i64), Client) {
    let (troll, ready) = app.guest_in(key, "troll", "lobby").await;
    let (ann, _) = app.guest_in(key, "ann", "lobby").await;
    ((troll, ready["me"]["id"].as_i64().unwrap()), ann)
}

#[tokio::test]
async fn a_ban_leaves_the_address_alone_unless_asked_and_says_what_it_closed() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let ((mut troll, id), mut ann) = troll_and_neighbour(&app, &site.public_key).await;

    let page = panel.get(&format!("/admin/participants/{id}")).await;
    let checkbox = page
        .body
        .split("name=\"with_ip\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the address box is offered");
    assert!(
        !checkbox.contains("checked"),
        "ticked by default: {checkbox}"
    );
    assert!(
        page.body
            .contains("1 other participant</strong> used this address"),
        "{}",
        page.body
    );

    let done = panel
        .post_and_follow(
            &format!("/admin/participants/{id}/ban"),
            &[("reason", "spam"), ("duration", "2"), ("unit", "hours")],
        )
        .await;
    assert!(
        done.body.contains("troll is banned until") && done.body.contains("1 open chat was closed"),
        "{}",
        done.body
    );
    assert_eq!(troll.closed().await.code, Some(4003));
    // The neighbour on the same address chats on.
    ann.say("lobby", "a1", "still here").await;
    let bans = bans_of(&app, id).await;
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].cidr, None);
    let hours = (bans[0].expires_at.unwrap() - now_ms()) as f64 / 3_600_000.0;
    assert!((1.9..=2.0).contains(&hours), "{hours} h");
}

#[tokio::test]
async fn an_address_ban_that_shuts_out_others_needs_a_confirmation() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let ((mut troll, id), mut ann) = troll_and_neighbour(&app, &site.public_key).await;
    panel.get(&format!("/admin/participants/{id}")).await;

    let ban = [("reason", "spam"), ("unit", "permanent"), ("with_ip", "on")];
    let refused = panel
        .post_and_follow(&format!("/admin/participants/{id}/ban"), &ban)
        .await;
    assert!(
        refused
            .body
            .contains("1 other participant used 127.0.0.1 in the last 30 days"),
        "{}",
        refused.body
    );
    assert!(
        bans_of(&app, id).await.is_empty(),
        "banned without confirmation"
    );
    ann.say("lobby", "a1", "still here").await;

    let mut confirmed = ban.to_vec();
    confirmed.push(("shared_ok", "on"));
    let done = panel
        .post_and_follow(&format!("/admin/participants/{id}/ban"), &confirmed)
        .await;
    assert!(
        done.body.contains("troll and their address is banned")
            && done.body.contains("2 open chats were closed"),
        "{}",
        done.body
    );
    assert_eq!(troll.closed().await.code, Some(4003));
    assert_eq!(ann.closed().await.code, Some(4003));
    assert_eq!(
        bans_of(&app, id).await[0].cidr.as_deref(),
        Some("127.0.0.1/32")
    );
}

#[tokio::test]
async fn ban_author_on_a_report_asks_for_a_reason_and_a_duration() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let ((mut troll, troll_id), mut ann) = troll_and_neighbour(&app, &site.public_key).await;
    let ack = troll.say("lobby", "t1", "offensive thing").await;
    ann.send(serde_json::json!({"type": "report", "room": "lobby", "seq": ack["seq"]}))
        .await;
    ann.recv_type("reported").await;

    let page = panel.get("/admin/reports").await;
    let form = page
        .body
        .split("/ban\"")
        .nth(1)
        .and_then(|rest| rest.split("</form>").next())
        .expect("a ban form on the report");
    assert!(
        form.contains("Reason (shown to troll) <input name=\"reason\" required"),
        "{form}"
    );
    assert!(!form.contains("value=\"Reported message\""), "{form}");
    assert!(
        form.contains("name=\"duration\"") && form.contains("name=\"unit\""),
        "{form}"
    );
    assert!(form.contains("<option value=\"days\" selected>"), "{form}");

    let report = app.first_open_report().await;
    let path = format!("/admin/reports/{report}/ban");
    let empty = panel
        .post_and_follow(
            &path,
            &[("reason", " "), ("duration", "1"), ("unit", "days")],
        )
        .await;
    assert!(
        empty.body.contains("Give the reason the author will read."),
        "{}",
        empty.body
    );
    assert!(bans_of(&app, troll_id).await.is_empty());

    let done = panel
        .post_and_follow(
            &path,
            &[("reason", "Insults"), ("duration", "3"), ("unit", "days")],
        )
        .await;
    assert!(
        done.body.contains("Author banned until") && done.body.contains("1 open chat was closed"),
        "{}",
        done.body
    );
    assert_eq!(troll.closed().await.code, Some(4003));
    let bans = bans_of(&app, troll_id).await;
    assert_eq!(bans[0].reason, "Insults");
    let days = (bans[0].expires_at.unwrap() - now_ms()) as f64 / 86_400_000.0;
    assert!((2.9..=3.0).contains(&days), "{days} days");
}
