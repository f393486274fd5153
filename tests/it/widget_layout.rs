//! The newest message is shown whole (issue 13, item 8): when the panel
//! opens by itself (`data-open="true"`) on a room with older history, the
//! "Load older messages" button appeared above the list after it had been
//! scrolled to the bottom, and cut the newest message off by ~33 px.

use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::{one_widget_page, run, until, widget_scene, WidgetScene};
use crate::support::*;

/// How far the list is from its bottom, and how far the newest message's
/// bottom edge is below the list's visible bottom (px).
const HIDDEN: &str = "const l = $('[data-chatctl=messages]');
  const items = l.querySelectorAll('[data-chatctl=message]');
  const last = items[items.length - 1].getBoundingClientRect();
  return [l.scrollHeight - l.scrollTop - l.clientHeight, last.bottom - l.getBoundingClientRect().bottom];";

#[tokio::test]
async fn a_panel_that_opens_by_itself_shows_the_newest_message_whole() {
    let app = TestApp::builder().messages_unthrottled(1000);
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene("widget_open_newest_whole", app).await
    else {
        return;
    };
    let mut dan = app
        .try_connect(&site.public_key, Some(&host.origin()))
        .await
        .unwrap();
    dan.hello(json!({"nick": "dan"})).await;
    dan.join("help", None).await;
    // More than one page of history, so that older messages can be loaded.
    for i in 1..=80 {
        dan.say("help", &format!("d{i}"), &format!("Line {i}"))
            .await;
    }
    host.page(
        "/",
        one_widget_page(&app, "en", &site, "data-room=\"help\" data-open=\"true\""),
    );
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/")).await.unwrap();
    until(&browser, "the open panel", "shown('[data-chatctl=nick]')").await;
    run(
        &browser,
        "fill('#nick', 'carol'); $('[data-chatctl=nick]').requestSubmit();",
    )
    .await;
    until(
        &browser,
        "the latest page and the older-messages button",
        "texts().includes('Line 80') && shown('.more')",
    )
    .await;
    let hidden = run(&browser, HIDDEN).await;
    let hidden: Vec<f64> = serde_json::from_value(hidden).unwrap();
    assert!(
        hidden[0] <= 1.0 && hidden[1] <= 1.0,
        "the list is {} px above its bottom; the newest message is cut by {} px",
        hidden[0],
        hidden[1]
    );

    // Someone typing (a line under the list) does not cut it off either.
    dan.send(json!({"type": "typing", "room": "help", "active": true}))
        .await;
    until(
        &browser,
        "the typing line",
        "$('.typing').textContent.length > 0",
    )
    .await;
    let hidden: Vec<f64> = serde_json::from_value(run(&browser, HIDDEN).await).unwrap();
    assert!(
        hidden[1] <= 1.0,
        "cut by {} px while someone types",
        hidden[1]
    );
}
