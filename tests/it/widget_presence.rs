//! Join/leave noise in the widget (issue 13 item 5): a visitor's reload
//! within the grace period shows no "left" / "joined" line to another
//! visitor, and a site with `presence_lines` off shows none at all while the
//! online count still follows.

use std::time::Duration;

use crate::support::browser::*;
use crate::support::widget_page::{
    join_as_guest, one_widget_page, run, until, visitor, widget_scene, WidgetScene,
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
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene(
        "widget_a_reload_shows_no_left_or_joined_line_to_another_visitor",
        TestApp::builder().config(|c| c.presence_grace_ms = 3000),
    )
    .await
    else {
        return;
    };
    host.page(
        "/chat",
        one_widget_page(&app, "en", &site, "data-room=\"lobby\""),
    );
    let alice = chrome.session(Screen::Desktop).await;
    alice.goto(&host.url("/chat")).await.unwrap();
    join_as_guest(&alice, "alice").await;
    let bob = chrome.session(Screen::Desktop).await;
    bob.goto(&host.url("/chat")).await.unwrap();
    join_as_guest(&bob, "bob").await;
    until(
        &alice,
        "bob's arrival",
        "$('.who').textContent === '2 online'",
    )
    .await;
    assert_eq!(lines(&alice).await, serde_json::json!(["bob joined"]));

    bob.refresh().await.unwrap();
    until(&bob, "the launcher", "shown('.launcher')").await;
    run(&bob, "$('.launcher').click();").await;
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
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene(
        "widget_shows_no_presence_lines_where_the_site_turned_them_off",
        TestApp::builder(),
    )
    .await
    else {
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
    host.page(
        "/chat",
        one_widget_page(&app, "en", &site, "data-room=\"lobby\""),
    );
    let alice = chrome.session(Screen::Desktop).await;
    alice.goto(&host.url("/chat")).await.unwrap();
    join_as_guest(&alice, "alice").await;
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
