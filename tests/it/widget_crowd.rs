//! The widget in a crowd (issue 14): over 50 people present it shows the
//! count ("61 online") and a people list of one page at a time, with a button
//! for the next; when the room shrinks back under 50, the list is whole again.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::widget_page::{guest_at, lobby_scene, run, until, visitors};
use crate::support::*;

/// The names the widget's people list shows, and whether it offers more.
async fn people(browser: &fantoccini::Client) -> (BTreeSet<String>, bool) {
    let v: Value = run(
        browser,
        "return [[...W().querySelectorAll('.people li bdi')].map((e) => e.textContent), !!$('.more-people')];",
    )
    .await;
    let names = v[0]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect();
    (names, v[1] == json!(true))
}

#[tokio::test]
async fn widget_pages_through_a_crowd_and_mends_its_list_when_the_crowd_thins() {
    let test = "widget_pages_through_a_crowd_and_mends_its_list_when_the_crowd_thins";
    let app = TestApp::builder().crowd_from_one_address();
    let Some((chrome, app, host, site)) = lobby_scene(test, app).await else {
        return;
    };
    let alice = guest_at(&chrome, &host.url("/chat"), "alice").await;
    let mut crowd = visitors(&app, &host, &site, 60, "lobby").await;
    until(&alice, "the count", "$('.who').textContent === '61 online'").await;

    // Opening the list shows the first page and offers the next.
    run(&alice, "$('.who').click();").await;
    until(
        &alice,
        "the first page",
        "W().querySelectorAll('.people li bdi').length === 50 && !!$('.more-people')",
    )
    .await;
    run(&alice, "$('.more-people').click();").await;
    until(
        &alice,
        "the second page",
        "W().querySelectorAll('.people li bdi').length === 61",
    )
    .await;
    let (names, more) = people(&alice).await;
    let mut everyone: BTreeSet<String> = (1..=60).map(|i| format!("v{i}")).collect();
    everyone.insert("alice".into());
    assert_eq!(names, everyone, "each person present once");
    assert!(!more, "nobody left to page to");

    // Fifteen leave (their connections dropped): back under 50 the widget
    // hears each leave again, and its list is exactly who is here.
    for _ in 0..15 {
        drop(crowd.pop());
    }
    until(
        &alice,
        "the smaller count",
        "$('.who').textContent === '46 online'",
    )
    .await;
    until(
        &alice,
        "the mended list",
        "W().querySelectorAll('.people li bdi').length === 46",
    )
    .await;
    let (names, more) = people(&alice).await;
    let mut present: BTreeSet<String> = (1..=45).map(|i| format!("v{i}")).collect();
    present.insert("alice".into());
    assert_eq!(names, present);
    assert!(!more);
}
