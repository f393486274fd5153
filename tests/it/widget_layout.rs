//! The list's ends are shown whole (issue 13, item 8): when the panel opens
//! by itself (`data-open="true"`) on a room with older history, the "Load
//! older messages" button appeared above the list after it had been scrolled
//! to the bottom, and cut the newest message off by ~33 px; and the button
//! must never cover the oldest message shown, on a desktop or a phone.

use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::{
    join_as_guest, lobby_page, one_widget_page, run, until, visitor, widget_scene,
};
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
    let Some((chrome, app, host, site)) = widget_scene("widget_open_newest_whole", app).await
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

/// With the list scrolled to its top: whether the older-messages button is
/// shown, the oldest message's text, whether the button's box overlaps that
/// message's, whether the message's top is inside the list's visible part,
/// and whether a tap on the message's top strip reaches the message (nothing
/// drawn over it), with both boxes for the failure message.
const AT_TOP: &str = "const l = $('[data-chatctl=messages]'); l.scrollTop = 0;
  const first = l.querySelector('[data-chatctl=message]');
  const b = $('.more').getBoundingClientRect(), f = first.getBoundingClientRect();
  const lt = l.getBoundingClientRect().top;
  const overlap = shown('.more') && b.bottom > f.top && b.top < f.bottom && b.right > f.left && b.left < f.right;
  const hit = W().elementFromPoint((f.left + f.right) / 2, f.top + 3);
  const box = (r) => [r.left, r.top, r.right, r.bottom].map(Math.round).join(',');
  return {more: shown('.more'), text: first.querySelector('.text').textContent, overlap,
    inside: f.top >= lt, reached: first.contains(hit), button: box(b), message: box(f)};";

/// Scrolls the list to its top and checks that the oldest message shown is
/// `oldest`, uncovered; returns whether the older-messages button shows.
async fn top_is_uncovered(browser: &Session, screen: &str, oldest: &str) -> bool {
    let top = run(browser, AT_TOP).await;
    assert_eq!(top["text"], oldest, "{screen}: the oldest message shown");
    assert!(
        top["overlap"] == false && top["inside"] == true && top["reached"] == true,
        "{screen}: the older-messages button covers the oldest message: {top}"
    );
    top["more"] == true
}

#[tokio::test]
async fn the_older_messages_button_never_covers_the_oldest_message() {
    let app = TestApp::builder().messages_unthrottled(1000);
    let Some((chrome, app, host, site)) = widget_scene("widget_older_button_clear", app).await
    else {
        return;
    };
    let mut dan = visitor(&app, &host, &site, "dan", "lobby").await;
    // Four pages of history: the latest page and three older ones.
    for i in 1..=200 {
        dan.say("lobby", &format!("d{i}"), &format!("Line {i}"))
            .await;
    }
    lobby_page(&app, &host, &site);
    for (screen, size) in [("desktop", Screen::Desktop), ("phone", Screen::SmallPhone)] {
        let browser = chrome.session(size).await;
        browser.goto(&host.url("/chat")).await.unwrap();
        join_as_guest(&browser, &format!("carol_{screen}")).await;
        until(
            &browser,
            "the latest page and the older-messages button",
            "texts().includes('Line 200') && shown('.more')",
        )
        .await;
        assert!(top_is_uncovered(&browser, screen, "Line 151").await);
        // Scrolled to its top, the list loads the next page by itself and keeps
        // the reader's place (away from the top): then the button is clicked.
        until(
            &browser,
            "the second page",
            "texts().includes('Line 101') && !$('.more').disabled",
        )
        .await;
        run(&browser, "$('.more').click();").await;
        until(&browser, "the third page", "texts().includes('Line 51')").await;
        assert!(
            top_is_uncovered(&browser, screen, "Line 51").await,
            "{screen}: a page is left, the button stays"
        );
        until(
            &browser,
            "the last page",
            "texts().includes('Line 1') && !shown('.more')",
        )
        .await;
        assert!(!top_is_uncovered(&browser, screen, "Line 1").await);
        assert_eq!(
            run(&browser, "return texts().length").await,
            json!(200),
            "{screen}: every message once"
        );
        browser.close().await.unwrap();
    }
}
