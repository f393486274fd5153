//! Host pages that change under the widget (issue 17, item 4): a single-page
//! app's router (the README's example, run as written), joins superseded within
//! one task and by 25 quick route changes, frameworks that re-render the body or
//! run the tag again, and the back/forward cache. Always one widget, one
//! connection, the right room, and no ghost presence in the rooms passed through.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::browser::*;
use crate::support::widget_page::{guest_at, page, run, say, tag, until, widget_scene};
use crate::support::*;

/// The README's history-API router example, as the README has it.
fn readme_router() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- spa-example -->\n```html\n")
        .expect("the SPA example")
        + "<!-- spa-example -->\n```html\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

/// A watcher: a client of its own, in `room`.
async fn watcher(app: &TestApp, site_key: &str, origin: &str, nick: &str, room: &str) -> Client {
    let mut c = app.try_connect(site_key, Some(origin)).await.unwrap();
    c.hello(json!({"nick": nick})).await;
    c.join(room, None).await;
    c
}

fn nicks(online: &Value) -> Vec<String> {
    online
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["nick"].as_str().unwrap().to_owned())
        .collect()
}

/// Who is online in `room`, as a newcomer sees it (then leaves it).
async fn online_in(checker: &mut Client, room: &str) -> Vec<String> {
    let welcome = checker.join(room, None).await;
    checker.send(json!({"type": "leave", "room": room})).await;
    checker.recv_type("left").await;
    nicks(&welcome["online"])
}

/// What the steps of the single-page-app scenario share: the server, the
/// visitor's browser on the host's app, and the watchers kept connected.
struct Spa<'a> {
    app: &'a TestApp,
    host: &'a HostSite,
    browser: &'a Session,
    key: String,
    origin: String,
    /// Watchers done with, kept connected (each is a connection the server counts).
    kept: Vec<Client>,
}

impl Spa<'_> {
    async fn watcher(&self, nick: &str, room: &str) -> Client {
        watcher(self.app, &self.key, &self.origin, nick, room).await
    }

    /// The watchers' connections, with `at_last` (held by the test).
    fn watchers(&self) -> usize {
        self.kept.len() + 1
    }
}

/// Three route changes in one task: only the last room is joined.
async fn route_changes_in_one_task_join_only_the_last(spa: &mut Spa<'_>, mut at_docs: Client) {
    let mut at_one = spa.watcher("w-one", "/one").await;
    let mut at_two = spa.watcher("w-two", "/two").await;
    let mut at_three = spa.watcher("w-three", "/three").await;
    run(
        spa.browser,
        "['/one', '/two', '/three'].forEach((p) => { history.pushState(null, '', p); render(); });",
    )
    .await;
    let came = at_three.recv_type("presence").await;
    assert_eq!(
        (came["event"].as_str(), came["who"]["nick"].as_str()),
        (Some("join"), Some("spa"))
    );
    let left = at_docs.recv_type("presence").await;
    assert_eq!(left["event"], "leave", "{left}");
    at_one.expect_silence(Duration::from_millis(1500)).await;
    at_two.expect_silence(Duration::from_millis(100)).await;
    at_three.say("/three", "t1", "Welcome to three").await;
    until(
        spa.browser,
        "the message of /three",
        "texts().includes('Welcome to three')",
    )
    .await;
    spa.kept.extend([at_docs, at_one, at_two, at_three]);
}

/// 25 quick route changes through the router's links: the last room is
/// joined, no error shows, and none of the rooms passed through shows the
/// visitor online. Returns a watcher in the last room.
async fn quick_route_changes_leave_no_ghost(spa: &mut Spa<'_>) -> Client {
    let mut at_last = spa.watcher("w-last", "/r/24").await;
    run(
        spa.browser,
        "const nav = document.querySelector('nav');
         for (let i = 0; i < 25; i++) { const a = document.createElement('a'); a.href = '/r/' + i; a.dataset.route = ''; a.id = 'r' + i; nav.append(a); }
         let i = 0; const tick = () => { document.getElementById('r' + i).click(); if (++i < 25) setTimeout(tick, 15); }; tick();",
    )
    .await;
    let came = at_last.recv_type("presence").await;
    assert_eq!(
        (came["event"].as_str(), came["who"]["nick"].as_str()),
        (Some("join"), Some("spa"))
    );
    at_last.say("/r/24", "l1", "Last stop").await;
    until(
        spa.browser,
        "the last room's message, no error",
        "location.pathname === '/r/24' && texts().includes('Last stop') && !shown('[data-chatctl=notice]')",
    )
    .await;
    let mut checker = spa.watcher("checker", "lobby").await;
    for room in (0..24).map(|i| format!("/r/{i}")).chain([
        "/one".into(),
        "/two".into(),
        "/three".into(),
        "/docs".into(),
    ]) {
        let online = online_in(&mut checker, &room).await;
        assert!(
            !online.contains(&"spa".to_owned()),
            "ghost presence in {room}: {online:?}"
        );
    }
    spa.kept.push(checker);
    at_last
}

/// A framework replaces the body, then re-renders its children, then runs
/// the tag again: still one widget, one connection, chatting.
async fn re_renders_keep_one_widget(spa: &Spa<'_>, at_last: &mut Client) {
    let count = run(spa.browser, "return texts().length;").await;
    run(
        spa.browser,
        "const b = document.createElement('body'); b.innerHTML = '<main id=\"app\">new body</main>'; document.documentElement.replaceChild(b, document.body);",
    )
    .await;
    until(
        spa.browser,
        "the widget back in the new body",
        &format!("document.body.querySelectorAll('[data-chatctl-root]').length === 1 && texts().length === {count}"),
    )
    .await;
    run(
        spa.browser,
        "document.body.innerHTML = '<main id=\"app\">re-rendered</main>';",
    )
    .await;
    until(
        spa.browser,
        "the widget back after innerHTML",
        &format!("document.querySelectorAll('[data-chatctl-root]').length === 1 && texts().length === {count}"),
    )
    .await;
    run(
        spa.browser,
        &format!(
            "const s = document.createElement('script'); s.src = 'http://{}/widget.js'; s.dataset.site = '{}'; s.async = true;
             s.onload = () => (window.__again = true); document.body.append(s);",
            spa.app.addr, spa.key
        ),
    )
    .await;
    until(spa.browser, "the tag run again", "window.__again === true").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        run(
            spa.browser,
            "return document.querySelectorAll('[data-chatctl-root]').length;"
        )
        .await,
        json!(1)
    );
    assert_eq!(
        spa.app.state.chat.hub.connection_count(),
        1 + spa.watchers()
    );
    say(spa.browser, "Still here").await;
    assert_eq!(at_last.recv_type("message").await["text"], "Still here");
}

/// The back/forward cache: away without a socket (not online), back with the
/// draft and what was said meanwhile.
async fn the_back_forward_cache_keeps_the_draft_and_catches_up(
    spa: &Spa<'_>,
    at_last: &mut Client,
) {
    run(spa.browser, "fill('#text', 'a draft');").await;
    spa.browser.goto(&spa.host.url("/away")).await.unwrap();
    let gone = at_last.recv_type("presence").await;
    assert_eq!(
        (gone["event"].as_str(), gone["who"]["nick"].as_str()),
        (Some("leave"), Some("spa"))
    );
    at_last.say("/r/24", "l2", "While you were away").await;
    spa.browser.back().await.unwrap();
    until(
        spa.browser,
        "restored from the back/forward cache, caught up",
        "__shows.includes(true) && texts().includes('While you were away') && $('#text').value === 'a draft'",
    )
    .await;
    let back = at_last.recv_type("presence").await;
    assert_eq!(
        (back["event"].as_str(), back["who"]["nick"].as_str()),
        (Some("join"), Some("spa"))
    );
    assert_eq!(
        spa.app.state.chat.hub.connection_count(),
        1 + spa.watchers()
    );
}

#[tokio::test]
async fn widget_follows_a_single_page_app_through_routes_re_renders_and_the_back_forward_cache() {
    let Some((chrome, app, host, site)) =
        widget_scene("widget_follows_a_single_page_app", TestApp::builder()).await
    else {
        return;
    };
    let origin = host.origin();
    let key = site.public_key.clone();
    let head = "<script>window.__shows = []; addEventListener('pageshow', (e) => __shows.push(e.persisted));</script>";
    // (Cacheable: a `no-store` page never enters the back/forward cache.)
    host.cacheable_page(
        "/docs",
        page(&app, "en", head, &readme_router(), &[tag(&site, "")]),
    );
    host.cacheable_page(
        "/away",
        "<!doctype html><title>Away</title><p>elsewhere</p>".into(),
    );

    let mut at_docs = watcher(&app, &key, &origin, "w-docs", "/docs").await;
    let browser = guest_at(&chrome, &host.url("/docs"), "spa").await;
    assert_eq!(at_docs.recv_type("presence").await["event"], "join");

    let mut spa = Spa {
        app: &app,
        host: &host,
        browser: &browser,
        key,
        origin,
        kept: Vec::new(),
    };
    route_changes_in_one_task_join_only_the_last(&mut spa, at_docs).await;
    let mut at_last = quick_route_changes_leave_no_ghost(&mut spa).await;
    // The visitor's one connection, and the six watchers' (the checker is one).
    assert_eq!(spa.watchers(), 6);
    assert_eq!(app.state.chat.hub.connection_count(), 1 + spa.watchers());
    re_renders_keep_one_widget(&spa, &mut at_last).await;
    the_back_forward_cache_keeps_the_draft_and_catches_up(&spa, &mut at_last).await;

    // The browser's back button within the app (popstate): the previous route's room.
    let mut before_last = spa.watcher("w-23", "/r/23").await;
    run(spa.browser, "history.back();").await;
    let came = before_last.recv_type("presence").await;
    assert_eq!(
        (came["event"].as_str(), came["who"]["nick"].as_str()),
        (Some("join"), Some("spa"))
    );
    let gone = at_last.recv_type("presence").await;
    assert_eq!(
        (gone["event"].as_str(), gone["who"]["nick"].as_str()),
        (Some("leave"), Some("spa"))
    );
    until(
        spa.browser,
        "back at /r/23",
        "location.pathname === '/r/23' && !shown('[data-chatctl=notice]')",
    )
    .await;
    assert_eq!(
        spa.app.state.chat.hub.connection_count(),
        2 + spa.watchers()
    );
    browser.close().await.unwrap();
}
