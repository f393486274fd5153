//! A visitor's messages are stored in the order they were written (issue 13,
//! item 1): under a rate limit, and when typed while the connection is down.
//! The widget keeps one send in flight; each example failed with a send per
//! message and a retry timer each (`0…9, 24, 14, 22, …`).

use chatctl::db::models::{Message, Room, Site};
use fantoccini::Client;

use crate::support::widget_page::{
    cut_network, guest_at, page, run, tag, until, widget_scene, NETWORK_SWITCH,
};
use crate::support::*;

/// The texts stored in the lobby, in seq order.
async fn stored(app: &TestApp, site: &Site) -> Vec<String> {
    let site = site.id;
    app.db
        .run(move |conn| {
            let room = Room::find_by_name(conn, site, "lobby")?.expect("the lobby");
            Message::latest(conn, room.id, 1000)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(m, _)| m.body)
        .collect()
}

/// Types `texts` into the composer one after the other, as fast as a script can.
async fn type_all(browser: &Client, texts: &[String]) {
    let texts = serde_json::to_string(texts).unwrap();
    run(
        browser,
        &format!("for (const t of {texts}) {{ fill('#text', t); $('[data-chatctl=composer]').requestSubmit(); }}"),
    )
    .await;
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix} {i}")).collect()
}

#[tokio::test]
async fn a_senders_messages_keep_their_order_under_a_rate_limit_and_a_reconnect() {
    // Five at once, then five a second: most of 25 quick messages wait their turn.
    let app = TestApp::builder().limits(|l| {
        l.messages_per_second = 5;
        l.message_burst = 5;
    });
    let Some((chrome, app, host, site)) = widget_scene("widget_send_order", app).await else {
        return;
    };
    host.page(
        "/",
        page(
            &app,
            "en",
            NETWORK_SWITCH,
            "",
            &[tag(&site, "data-room=\"lobby\"")],
        ),
    );
    let browser = guest_at(&chrome, &host.url("/"), "alice").await;

    let quick = numbered("quick", 25);
    type_all(&browser, &quick).await;
    until(
        &browser,
        "all 25 sent",
        "msgs().filter((m) => m.state === 'sent').length === 25",
    )
    .await;
    assert_eq!(stored(&app, &site).await, quick);
    let shown = run(&browser, "return texts();").await;
    assert_eq!(shown, serde_json::json!(quick));

    // Typed while the connection is down: sent on reconnect, in the order typed.
    cut_network(&browser).await;
    let offline = numbered("offline", 14);
    type_all(&browser, &offline).await;
    run(&browser, "__offline = false;").await;
    until(
        &browser,
        "all 39 sent",
        "msgs().filter((m) => m.state === 'sent').length === 39",
    )
    .await;
    let expected: Vec<String> = quick.iter().chain(&offline).cloned().collect();
    assert_eq!(stored(&app, &site).await, expected);
}
