//! Two people present with one name are told apart by more than a colour
//! (issue 13, item 4): verified users' names are the host site's to give and
//! cannot be refused, so while two people in the room have the same name, or
//! look-alike ones, the widget shows each one's participant id after it
//! (`#12`), in the messages and the list of who is online, and only then.

use chatctl::db::models::Site;
use serde_json::json;

use crate::support::browser::*;
use crate::support::jwt;
use crate::support::widget_page::{
    desktop_at, one_widget_page, open_people_list, run, say, until, visitor, widget_scene, PEOPLE,
};
use crate::support::*;

/// Per message, its author's name and the text after it (`#id` or nothing).
const TAGS: &str = "return [...W().querySelectorAll('[data-chatctl=message]')].map((m) =>
  [m.querySelector('.text').textContent, m.querySelector('.author').textContent, m.querySelector('.tag').textContent]);";

#[tokio::test]
async fn two_verified_users_with_look_alike_names_are_told_apart_while_both_are_present() {
    let Some((chrome, app, host, site)) = widget_scene("widget_twins", TestApp::builder()).await
    else {
        return;
    };
    let _bob = visitor(&app, &host, &site, "bob", "lobby").await;
    let browser = alice_signed_in_says_hello(&chrome, &app, &host, &site).await;

    // Another verified user, "Аlice" with a Cyrillic А: the same name to the eye.
    let mut twin = app
        .try_connect(&site.public_key, Some(&host.origin()))
        .await
        .unwrap();
    let twin_token = jwt::user_token(&site.secret, "u-2", "\u{410}lice");
    let me = twin.hello(json!({"token": twin_token})).await;
    assert_eq!(me["me"]["kind"], "verified", "{me}");
    let twin_id = me["me"]["id"].as_i64().unwrap();
    twin.join("lobby", None).await;
    twin.say("lobby", "t1", "from the second").await;
    until(&browser, "the other's message", "msgs().length === 2").await;
    both_names_carry_their_ids(&browser, twin_id).await;

    // The other one leaves: the ids go, from the messages and the list.
    twin.close().await;
    until(
        &browser,
        "two people online",
        "W().querySelectorAll('.people li').length === 2",
    )
    .await;
    assert_eq!(
        run(&browser, TAGS).await,
        json!([
            ["from the first", "Alice", ""],
            ["from the second", "\u{410}lice", ""]
        ])
    );
    assert_eq!(
        run(&browser, PEOPLE).await,
        json!(["Alice ✓ verified", "bob (guest)"])
    );
}

/// The page's own user, "Alice", signed in by the host site, says something:
/// alone with her name, nothing after it.
async fn alice_signed_in_says_hello(
    chrome: &Browser,
    app: &TestApp,
    host: &HostSite,
    site: &Site,
) -> Session {
    let token = jwt::user_token(&site.secret, "u-1", "Alice");
    host.page(
        "/chat",
        one_widget_page(
            app,
            "en",
            site,
            &format!("data-room=\"lobby\" data-open=\"true\" data-user-token=\"{token}\""),
        ),
    );
    let browser = desktop_at(chrome, &host.url("/chat")).await;
    until(
        &browser,
        "signed in",
        "shown('[data-chatctl=composer]') && $('.me').textContent.length > 0",
    )
    .await;
    say(&browser, "from the first").await;
    until(
        &browser,
        "her message",
        "msgs().length === 1 && msgs()[0].seq !== ''",
    )
    .await;
    assert_eq!(
        run(&browser, TAGS).await,
        json!([["from the first", "Alice", ""]]),
        "alone with her name: nothing after it"
    );
    browser
}

/// With her twin present, each name shows its participant id, in the
/// messages and in the online list.
async fn both_names_carry_their_ids(browser: &Session, twin_id: i64) {
    let tags = run(browser, TAGS).await;
    let own = tags[0][2].as_str().unwrap().to_owned();
    assert!(
        own.starts_with('#') && own[1..].parse::<i64>().is_ok() && own != format!("#{twin_id}"),
        "her own name gets her id: {tags}"
    );
    assert_eq!(
        tags,
        json!([
            ["from the first", "Alice", own],
            ["from the second", "\u{410}lice", format!("#{twin_id}")]
        ])
    );
    open_people_list(browser, 3).await;
    assert_eq!(
        run(browser, PEOPLE).await,
        json!([
            format!("Alice{own} ✓ verified"),
            "bob (guest)",
            format!("\u{410}lice#{twin_id} ✓ verified")
        ])
    );
}
