//! Which room a page joins when its tag names none (issue 13 item 10): a
//! site setting, one room for the whole site (`lobby`, the default of new
//! sites) or a room per page; `ready.default_room` tells the widget, and the
//! tags printed by `site create` work for both.

use serde_json::{json, Value};

use crate::support::cli::{chatctl, created_site, stdout};
use crate::support::panel::Panel;
use crate::support::widget_page::{guest_at, one_widget_page, run, until, widget_scene_with};
use crate::support::*;

/// What `ready` says of the default room, for a new guest of `key`.
async fn default_room(app: &TestApp, key: &str) -> Value {
    let (_, ready) = app.guest(key, "reader").await;
    ready["default_room"].clone()
}

#[tokio::test]
async fn a_new_site_has_one_room_and_the_setting_reaches_the_next_hello() {
    let app = TestApp::spawn().await;
    let site = created_site(&app.database, "Blog", ORIGIN);
    let key = site["public_key"].as_str().unwrap();
    assert_eq!(site["room_scope"], "site");
    assert_eq!(default_room(&app, key).await, "lobby");

    stdout(chatctl(&app.database).args(["site", "set", key, "--room-scope", "page"]));
    let shown = stdout(chatctl(&app.database).args(["site", "show", key]));
    assert!(shown.contains("room scope:           page"), "{shown}");
    assert_eq!(default_room(&app, key).await, Value::Null);

    let refused = chatctl(&app.database)
        .args(["site", "set", key, "--room-scope", "everywhere"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert_eq!(default_room(&app, key).await, Value::Null, "left as it was");
}

#[test]
fn site_create_says_where_pages_chat_and_how_to_change_it() {
    let db = test_db();
    let out = stdout(chatctl(&db).args(["site", "create", "--name", "Blog", "--origin", ORIGIN]));
    assert!(out.contains("every page shares one room, lobby"), "{out}");
    assert!(out.contains("--room-scope page"), "{out}");
}

/// Two pages of a one-room site, with paths of their own: a visitor on
/// each, in the widget, and both chat in `lobby`.
#[tokio::test]
async fn every_page_of_a_one_room_site_chats_in_the_same_room() {
    let test = "every_page_of_a_one_room_site_chats_in_the_same_room";
    let Some((chrome, app, host, site)) =
        widget_scene_with(test, TestApp::builder(), |site| site.one_room()).await
    else {
        return;
    };
    for path in ["/blog/one", "/blog/two"] {
        host.page(path, one_widget_page(&app, "en", &site, ""));
    }
    let mut in_lobby = app
        .try_connect(&site.public_key, Some(&host.origin()))
        .await
        .unwrap();
    in_lobby.hello(json!({"nick": "watcher"})).await;
    in_lobby.join("lobby", None).await;

    let ann = guest_at(&chrome, &host.url("/blog/one"), "ann").await;
    let bob = guest_at(&chrome, &host.url("/blog/two"), "bob").await;

    run(
        &ann,
        "fill('#text', 'hello from page one'); $('[data-chatctl=composer]').requestSubmit();",
    )
    .await;
    until(
        &bob,
        "page two shows page one's message",
        "texts().includes('hello from page one')",
    )
    .await;
    let message = in_lobby.recv_type("message").await;
    assert_eq!(message["room"], "lobby");

    // A returning visitor's closed widget connects by itself to count what
    // is unread in its room: it knows that room before the server says it.
    bob.goto(&host.url("/blog/one")).await.unwrap();
    until(
        &bob,
        "the closed widget back in lobby",
        "Chatctl.widgets[0].room === 'lobby' && Chatctl.widgets[0].ready",
    )
    .await;
}

/// The panel's site settings change the scope; an unknown one is refused
/// and changes nothing.
#[tokio::test]
async fn the_panel_sets_the_room_scope_and_refuses_an_unknown_one() {
    let app = TestApp::spawn().await;
    let site = app.new_site().one_room().create().await;
    let mut panel = Panel::owner(&app).await;
    let page = panel.get(&format!("/admin/sites/{}", site.id)).await;
    assert!(
        page.body.contains("chats in one room, <code>lobby</code>"),
        "{}",
        page.body
    );

    let settings = format!("/admin/sites/{}/settings", site.id);
    let bad = panel
        .post_and_follow(
            &settings,
            &[("name", "Test site"), ("room_scope", "everywhere")],
        )
        .await;
    assert!(
        bad.body
            .contains("Choose the room of pages without data-room."),
        "{}",
        bad.body
    );
    assert_eq!(default_room(&app, &site.public_key).await, "lobby");

    let page = panel
        .post_and_follow(&settings, &[("name", "Test site"), ("room_scope", "page")])
        .await;
    assert!(
        page.body
            .contains("gets its own room, named after its path"),
        "{}",
        page.body
    );
    assert_eq!(default_room(&app, &site.public_key).await, Value::Null);
}
