//! The widget marks every kind of participant (issue 12, item 7): a verified
//! user, a member and a guest with look-alike names stay told apart, in the
//! messages and in the list of who is online.

use chatctl::db::models::{Site, TokenPurpose};
use serde_json::json;

use crate::support::jwt;
use crate::support::widget_page::{
    guest_at, lobby_scene, open_people_list, run, say, say_and_see_it_sent, until, PEOPLE,
};
use crate::support::*;

/// In the lobby, a user signed in by the host site ("Sam") and a member
/// (account "Mia", made directly) have each said something.
async fn verified_and_member_said_hello(
    app: &TestApp,
    site: &Site,
    origin: &str,
) -> (Client, Client) {
    let jwt = jwt::user_token(&site.secret, "1", "Sam");
    let mut verified = app
        .try_connect(&site.public_key, Some(origin))
        .await
        .unwrap();
    assert_eq!(
        verified.hello(json!({"token": jwt})).await["me"]["kind"],
        "verified"
    );
    let hash = bcrypt::hash(MEMBER_PASSWORD, 4).unwrap();
    let mia = app.member(site, "mia@example.com", "Mia", hash).await;
    let session = app
        .db
        .run(move |conn| mia.issue_token(conn, TokenPurpose::Session, 3_600_000))
        .await
        .unwrap();
    let mut member = app
        .try_connect(&site.public_key, Some(origin))
        .await
        .unwrap();
    assert_eq!(
        member.hello(json!({"account_token": session})).await["me"]["kind"],
        "member"
    );
    verified.join("lobby", None).await;
    member.join("lobby", None).await;
    verified.say("lobby", "v1", "from the verified user").await;
    member.say("lobby", "m1", "from the member").await;
    (verified, member)
}

#[tokio::test]
async fn widget_marks_verified_users_members_and_guests() {
    let test = "widget_marks_verified_users_members_and_guests";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    // A user signed in by the host site, and a member (account made directly).
    let (_verified, _member) = verified_and_member_said_hello(&app, &site, &host.origin()).await;

    let browser = guest_at(&chrome, &host.url("/chat"), "Sam the guest").await;
    say(&browser, "from the guest").await;
    until(&browser, "three messages", "msgs().length === 3").await;
    let marks = run(
        &browser,
        "return [...W().querySelectorAll('[data-chatctl=message]')].map((m) =>
           [m.querySelector('.author').textContent, m.querySelector('.kind').className, m.querySelector('.kind').textContent]);",
    )
    .await;
    assert_eq!(
        marks,
        json!([
            ["Sam", "kind verified", "✓ verified"],
            ["Mia", "kind member", "member"],
            ["Sam the guest", "kind guest", "(guest)"]
        ])
    );
    open_people_list(&browser, 3).await;
    assert_eq!(
        run(&browser, PEOPLE).await,
        json!(["Mia member", "Sam the guest (guest)", "Sam ✓ verified"])
    );
}

/// A message the site's backend posts through the server API reaches the open
/// widget live, marked as the site's own.
#[tokio::test]
async fn widget_shows_a_message_posted_by_the_site_as_the_sites() {
    let test = "widget_shows_a_message_posted_by_the_site_as_the_sites";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let browser = guest_at(&chrome, &host.url("/chat"), "Zoe").await;
    // Stored before the site posts: the site's message comes second.
    say_and_see_it_sent(&browser, "hello").await;
    until(&browser, "her message", "msgs().length === 1").await;

    let api = crate::support::api::Api::full(&app, &site).await;
    let posted = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "notice-1", "text": "We are live!"}),
        )
        .await;
    assert_eq!(posted.body["seq"], 2, "{}", posted.body);
    until(&browser, "the site's message", "msgs().length === 2").await;
    let mark = run(
        &browser,
        "const m = W().querySelectorAll('[data-chatctl=message]')[1]; return [m.querySelector('.author').textContent, m.querySelector('.kind').className, m.querySelector('.kind').textContent, m.querySelector('.text').textContent];",
    )
    .await;
    assert_eq!(
        mark,
        json!([site.name, "kind system", "site", "We are live!"])
    );
}
