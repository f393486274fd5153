//! Join/leave noise in the widget (issue 13 item 5): a visitor's reload
//! within the grace period shows no "left" / "joined" line to another
//! visitor, and a site with `presence_lines` off shows none at all while the
//! online count still follows.

use std::time::Duration;

use crate::support::widget_page::{
    guest_at, lobby_scene, open_launcher, run, until, visitor, visitors,
};
use crate::support::*;

/// The "joined" / "left" lines a widget shows.
async fn lines(browser: &fantoccini::Client) -> serde_json::Value {
    run(
        browser,
        "return [...W().querySelectorAll('.sys')].map((e) => e.textContent);",
    )
    .await
}

#[tokio::test]
async fn widget_a_reload_shows_no_left_or_joined_line_to_another_visitor() {
    let Some((chrome, _app, host, _site)) = lobby_scene(
        "widget_a_reload_shows_no_left_or_joined_line_to_another_visitor",
        TestApp::builder().config(|c| c.presence_grace_ms = 3000),
    )
    .await
    else {
        return;
    };
    let alice = guest_at(&chrome, &host.url("/chat"), "alice").await;
    let bob = guest_at(&chrome, &host.url("/chat"), "bob").await;
    until(
        &alice,
        "bob's arrival",
        "$('.who').textContent === '2 online'",
    )
    .await;
    assert_eq!(lines(&alice).await, serde_json::json!(["bob joined"]));

    bob.refresh().await.unwrap();
    open_launcher(&bob).await;
    until(
        &bob,
        "bob back in the room",
        "shown('[data-chatctl=composer]') && $('.who').textContent === '2 online'",
    )
    .await;
    // Past the grace period: nothing to alice, and bob is still counted.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(lines(&alice).await, serde_json::json!(["bob joined"]));
    until(
        &alice,
        "bob still there",
        "$('.who').textContent === '2 online'",
    )
    .await;
}

#[tokio::test]
async fn widget_shows_no_presence_lines_where_the_site_turned_them_off() {
    let test = "widget_shows_no_presence_lines_where_the_site_turned_them_off";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    app.configure_site(
        &site,
        SiteSettings {
            presence_lines: Some(false),
            ..SiteSettings::default()
        },
    )
    .await;
    let alice = guest_at(&chrome, &host.url("/chat"), "alice").await;
    let bob = visitor(&app, &host, &site, "bob", "lobby").await;
    until(
        &alice,
        "bob's arrival",
        "$('.who').textContent === '2 online'",
    )
    .await;
    bob.close().await;
    until(&alice, "bob gone", "$('.who').textContent === '1 online'").await;
    assert_eq!(lines(&alice).await, serde_json::json!([]));
}

/// In a crowd the lines stop by themselves: with 50 people present the
/// widget prints arrivals, and the 51st arrives without a line (the count
/// still says 51).
#[tokio::test]
async fn widget_prints_no_presence_lines_in_a_room_of_more_than_50() {
    let test = "widget_prints_no_presence_lines_in_a_room_of_more_than_50";
    let app = TestApp::builder().crowd_from_one_address();
    let Some((chrome, app, host, site)) = lobby_scene(test, app).await else {
        return;
    };
    let alice = guest_at(&chrome, &host.url("/chat"), "alice").await;
    let mut crowd = visitors(&app, &host, &site, 49, "lobby").await;
    until(
        &alice,
        "50 present",
        "$('.who').textContent === '50 online'",
    )
    .await;
    crowd.push(visitor(&app, &host, &site, "v50", "lobby").await);
    until(
        &alice,
        "51 present",
        "$('.who').textContent === '51 online'",
    )
    .await;
    let shown = lines(&alice).await;
    let shown = shown.as_array().expect("lines");
    assert_eq!(shown.len(), 49, "{shown:?}");
    assert_eq!(shown[48], "v49 joined");
}
