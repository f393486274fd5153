//! Catching up after a reconnect is like live (issue 17, item 3): messages a
//! resume delivers count in the unread badge, fire the `message` event and are
//! announced to screen readers; history pages loaded by scrolling do none of it.

use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::{
    cut_network, guest_at, page, run, tag, until, visitor, widget_scene, NETWORK_SWITCH,
};
use crate::support::*;

/// The page records the widget's `message` events (and can cut the network:
/// [`NETWORK_SWITCH`]).
const RECORDER: &str = "<script>
window.__events = [];
addEventListener('load', () => Chatctl.on('message', (m) => __events.push(m.text)));
</script>";

const SAID: &str = "return [...$('[data-chatctl=live]').children].map((p) => p.textContent);";

#[tokio::test]
async fn widget_counts_and_announces_what_a_resume_delivers_like_live_messages() {
    let app = TestApp::builder().messages_unthrottled(200);
    let Some((chrome, app, host, site)) =
        widget_scene("widget_counts_and_announces_what_a_resume_delivers", app).await
    else {
        return;
    };
    let mut bob = visitor(&app, &host, &site, "bob", "lobby").await;
    // More than one page of history.
    for i in 0..60 {
        bob.say("lobby", &format!("old{i}"), &format!("old {i}"))
            .await;
    }
    host.page(
        "/",
        page(
            &app,
            "en",
            &format!("{NETWORK_SWITCH}{RECORDER}"),
            "",
            &[tag(&site, "data-room=\"lobby\"")],
        ),
    );
    let browser = guest_at(&chrome, &host.url("/"), "alice").await;
    until(&browser, "the latest page", "texts().includes('old 59')").await;
    run(&browser, "$('.x').click();").await;
    until(&browser, "closed", "!shown('.panel')").await;

    // Live: the badge, the event, the announcement.
    bob.say("lobby", "live", "live one").await;
    until(
        &browser,
        "the live message counted",
        "$('.badge').textContent === '1' && __events.length === 1",
    )
    .await;

    resumed_messages_count_like_live_ones(&browser, &mut bob).await;
    older_pages_are_neither_new_nor_announced(&browser).await;
    browser.close().await.unwrap();
}

/// The connection drops; two messages come meanwhile; the widget resumes:
/// they are counted, fired as events and announced like the live one.
async fn resumed_messages_count_like_live_ones(browser: &Session, bob: &mut Client) {
    cut_network(browser).await;
    bob.say("lobby", "m2", "two").await;
    bob.say("lobby", "m3", "three").await;
    run(browser, "__offline = false;").await;
    until(
        browser,
        "the resumed messages shown",
        "texts().includes('three') && $('.status').classList.contains('online')",
    )
    .await;
    let state = run(
        browser,
        &format!(
            "return {{badge: $('.badge').textContent, label: $('.launcher').getAttribute('aria-label'), events: __events,
                     said: (() => {{ {SAID} }})()}};"
        ),
    )
    .await;
    assert_eq!(state["badge"], "3", "{state}");
    assert_eq!(state["label"], "Chat (3 unread)", "{state}");
    assert_eq!(
        state["events"],
        json!(["live one", "two", "three"]),
        "{state}"
    );
    assert_eq!(
        state["said"],
        json!(["bob: live one", "bob: two", "bob: three"]),
        "{state}"
    );
}

/// Opening reads them; older pages loaded by scrolling are neither new nor
/// announced.
async fn older_pages_are_neither_new_nor_announced(browser: &Session) {
    run(browser, "$('.launcher').click();").await;
    until(browser, "read", "shown('.panel') && $('.badge').hidden").await;
    run(browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    until(browser, "the older page", "texts().includes('old 0')").await;
    let after = run(
        browser,
        &format!(
            "return {{events: __events, said: (() => {{ {SAID} }})(), badge: $('.badge').hidden}};"
        ),
    )
    .await;
    assert_eq!(
        after["events"],
        json!(["live one", "two", "three"]),
        "{after}"
    );
    assert_eq!(
        after["said"],
        json!(["bob: live one", "bob: two", "bob: three"]),
        "{after}"
    );
    assert_eq!(after["badge"], json!(true), "{after}");
}
