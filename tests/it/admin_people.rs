//! The participants page shows people before anyone searches, and a
//! participant's page says whether they are banned or muted now.

use std::time::Duration;

use crate::support::panel::*;
use crate::support::*;

/// The part of a page from the element with this id to the end of its section.
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let from = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[from..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_participants_page_lists_who_is_online_and_who_was_recently_active() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let other = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;

    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.join("help", None).await;
    let (carol, _) = app.guest_in(&site.public_key, "carol", "lobby").await;
    carol.close().await;
    let (_stranger, _) = app.guest_in(&other.public_key, "stranger", "lobby").await;

    // Carol's leave reaches the hub.
    let mut page = panel.get("/admin/participants").await;
    for _ in 0..50 {
        if !section(&page.body, "online-now").contains(">carol<") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = panel.get("/admin/participants").await;
    }
    let online = section(&page.body, "online-now");
    assert!(online.contains("(1)"), "{online}");
    assert!(online.contains(">alice</a>"), "{online}");
    assert!(
        online.contains("<span class=\"badge kind-guest\">guest</span></td><td>2</td>"),
        "alice is a guest in two rooms: {online}"
    );
    assert!(!online.contains("carol"), "{online}");
    let recent = section(&page.body, "recently-active");
    assert!(recent.contains(">carol</a>"), "{recent}");
    assert!(
        !recent.contains(">alice</a>"),
        "online people are listed once: {recent}"
    );
    // Another site's visitors are not this moderator's business.
    assert!(!page.body.contains("stranger"), "{}", page.body);

    let searched = panel.get("/admin/participants?q=car").await;
    assert!(searched.body.contains(">carol</a>") && !searched.body.contains("online-now"));
}

#[tokio::test]
async fn a_participant_page_says_they_are_banned_until_when_and_offers_to_lift_it() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let (_troll, ready) = app.guest_in(&site.public_key, "troll", "lobby").await;
    let id = ready["me"]["id"].as_i64().unwrap();
    let path = format!("/admin/participants/{id}");

    let before = panel.get(&path).await;
    assert!(before.body.contains("id=\"ban-form\"") && !before.body.contains("ban-state"));
    let after = panel
        .post_and_follow(
            &format!("{path}/ban"),
            &[("reason", "spam"), ("duration", "3"), ("unit", "days")],
        )
        .await;
    assert!(
        after.body.contains("id=\"ban-state\">banned until"),
        "{}",
        after.body
    );
    assert!(!after.body.contains("id=\"ban-form\""), "{}", after.body);
    assert!(after.body.contains("They read: “spam”"), "{}", after.body);
    let ban = after
        .body
        .split("action=\"/admin/bans/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a lift button")
        .to_owned();
    panel.get(&path).await;
    let lifted = panel
        .post_and_follow(&format!("/admin/bans/{ban}/revoke"), &[])
        .await;
    assert!(lifted.body.contains("Ban lifted."), "{}", lifted.body);
    let again = panel.get(&path).await;
    assert!(again.body.contains("id=\"ban-form\"") && !again.body.contains("ban-state"));

    panel
        .post_and_follow(&format!("{path}/mute"), &[("minutes", "10")])
        .await;
    let muted = panel.get(&path).await;
    assert!(
        muted.body.contains("id=\"mute-state\">muted until"),
        "{}",
        muted.body
    );
}
