//! Two visitors chat through the floating widget on a hostile host page: the
//! keyboard alone is enough, payloads stay text, reports and deletions reach
//! both widgets, and a reload, a server restart and a ban keep every message
//! once and in order.

use chatctl::db::models::audit::Actor;
use chatctl::db::models::{Report, Site};
use chatctl::moderation;
use serde_json::{json, Value};

use crate::support::browser::*;
use crate::support::widget_page::*;
use crate::support::*;

/// A host page that does its worst to everything on it.
const HOSTILE_CSS: &str = "<style>
* { margin: 0 !important; padding: 0 !important; font: italic 40px/3 serif !important; color: red !important;
    background: yellow !important; border: 5px dashed blue !important; box-sizing: content-box !important;
    letter-spacing: 4px !important; text-transform: uppercase !important; }
div, section, button, form, input, textarea, span { display: inline !important; position: static !important;
    width: 10px !important; height: 10px !important; opacity: .5 !important; visibility: hidden !important; }
button { display: none !important; }
</style>
<script>
// Records when the page opens WebSockets (to see the reconnection backoff).
window.__ws = []; const NativeWebSocket = WebSocket;
window.WebSocket = function (url, protocols) { __ws.push(performance.now()); return new NativeWebSocket(url, protocols); };
WebSocket.prototype = NativeWebSocket.prototype;
window.__globals = Object.getOwnPropertyNames(window);
</script>";

/// A message that would run script if it were ever shown as HTML.
const PAYLOAD: &str = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script> see https://example.org/a?b=1. or javascript:alert(1)";

#[tokio::test]
async fn widget_two_visitors_chat_on_a_hostile_page_through_reloads_restarts_and_bans() {
    let Some((chrome, app, host, site)) =
        widget_scene("widget_two_visitors_chat", TestApp::builder()).await
    else {
        return;
    };
    host.page(
        "/blog/post-1",
        page(
            &app,
            "en",
            HOSTILE_CSS,
            "<p id=\"host-text\">The host's article.</p><a href=\"#top\" id=\"first-link\">A link on the host page</a>",
            &[tag(&site, "")],
        ),
    );
    let alice = desktop_at(&chrome, &host.url("/blog/post-1")).await;
    let bob = chrome.session(Screen::Desktop).await;

    styles_stay_on_their_own_side(&alice).await;
    // A new visitor's page view opens no socket and starts no chat.
    assert_eq!(app.state.chat.hub.connection_count(), 0);
    alice_joins_with_the_mouse(&alice).await;
    bob_joins_with_the_keyboard_and_answers(&host, &alice, &bob).await;
    // Without data-room, the page's path names the room.
    app.room(&site, "/blog/post-1").await;
    alice_is_told_who_came_and_who_is_a_guest(&alice).await;
    messages_are_text_and_only_safe_links_are_links(&alice, &bob).await;
    bob_reports_the_payload(&app, &site, &bob).await;
    a_deletion_leaves_both_widgets_at_once(&app, &alice, &bob).await;
    a_reload_keeps_alice_and_counts_what_she_missed(&alice, &bob).await;
    nothing_comes_from_third_parties(&app, &host, &alice).await;
    let (stopped, stopped_at) = the_server_stops_while_alice_types(app, &alice).await;
    reconnection_attempts_back_off(&alice, &stopped_at).await;
    let app = restarted_it_delivers_the_queued_message_once(stopped, &alice, &bob).await;
    banned_bob_stops_and_alice_chats_on(&app, &site, &alice, &bob).await;
    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

/// The hostile CSS reaches neither the launcher nor the panel; ours does not touch the page.
async fn styles_stay_on_their_own_side(alice: &Session) {
    until(alice, "the launcher", "shown('.launcher')").await;
    let looks = run(
        alice,
        "const l = $('.launcher').getBoundingClientRect(); const s = getComputedStyle($('.launcher'));
         return {w: l.width, h: l.height, font: s.fontSize, color: s.color, transform: s.textTransform,
                 host: getComputedStyle(document.getElementById('host-text')).color,
                 // (ret_nodes is chromedriver's own helper)
                 globals: Object.getOwnPropertyNames(window).filter((n) => !window.__globals.includes(n) && !['__globals', 'ret_nodes'].includes(n))};",
    )
    .await;
    assert!(
        looks["w"].as_f64().unwrap() > 40.0 && looks["h"].as_f64().unwrap() > 30.0,
        "{looks}"
    );
    assert_eq!(looks["font"], "14px", "{looks}");
    assert_eq!(looks["color"], "rgb(255, 255, 255)", "{looks}");
    assert_eq!(looks["transform"], "none", "{looks}");
    assert_eq!(
        looks["host"], "rgb(255, 0, 0)",
        "the page keeps its own styles: {looks}"
    );
    assert_eq!(looks["globals"], json!(["Chatctl"]), "one global: {looks}");
}

/// Alice opens the launcher with the mouse, picks a nickname and says hello.
async fn alice_joins_with_the_mouse(alice: &Session) {
    join_as_guest(alice, "alice").await;
    let panel = run(
        alice,
        "const r = $('.panel').getBoundingClientRect(); return [r.width, r.height];",
    )
    .await;
    assert!(
        panel[0].as_f64().unwrap() >= 300.0 && panel[1].as_f64().unwrap() >= 300.0,
        "{panel}"
    );
    say_and_see_it_sent(alice, "Hello from alice").await;
}

/// Bob uses the keyboard only: Tab to the launcher, Enter, type a nickname, Enter, type, Enter.
async fn bob_joins_with_the_keyboard_and_answers(host: &HostSite, alice: &Session, bob: &Session) {
    bob.goto(&host.url("/blog/post-1")).await.unwrap();
    until(bob, "the launcher", "shown('.launcher')").await;
    press(bob, "\u{e004}").await; // the host's link
    press(bob, "\u{e004}").await; // the launcher
    until(
        bob,
        "the launcher focused",
        "W().activeElement === $('.launcher')",
    )
    .await;
    let ring = run(
        bob,
        "const s = getComputedStyle($('.launcher')); return [s.outlineStyle, s.outlineWidth];",
    )
    .await;
    assert_eq!(ring, json!(["solid", "2px"]), "a visible focus ring");
    press(bob, "\u{e007}").await;
    until(
        bob,
        "the nickname field focused",
        "W().activeElement === $('#nick')",
    )
    .await;
    press(bob, "bob\u{e007}").await;
    until(
        bob,
        "the message field focused",
        "W().activeElement === $('#text') && $('.me').textContent.includes('bob')",
    )
    .await;
    until(bob, "the history", "texts().includes('Hello from alice')").await;
    press(bob, "Hi alice").await;
    until(
        alice,
        "bob typing",
        "$('.typing').textContent.includes('bob')",
    )
    .await;
    press(bob, "\u{e007}").await;
    until(alice, "bob's message", "texts().includes('Hi alice')").await;
    // Alice's open chat received it, and she has seen it: a read receipt.
    until(
        bob,
        "bob's read receipt",
        "[...W().querySelectorAll('.msg.own')].some((m) => m.textContent.includes('Hi alice') && m.querySelector('.state').textContent === 'seen by 1')",
    )
    .await;
    until(
        alice,
        "the typing indicator gone",
        "$('.typing').textContent === ''",
    )
    .await;
    until(
        alice,
        "who is online",
        "$('.who').textContent === '2 online'",
    )
    .await;
}

/// Alice hears bob arrive (on screen and in the live region); guests are marked as
/// guests; avatars are initials on a colour from the identity.
async fn alice_is_told_who_came_and_who_is_a_guest(alice: &Session) {
    until(
        alice,
        "the join notice",
        "[...W().querySelectorAll('.sys')].some((e) => e.textContent === 'bob joined')",
    )
    .await;
    until(
        alice,
        "the live region",
        "$('[data-chatctl=live]').textContent === 'bob: Hi alice'",
    )
    .await;
    // Guests are marked as guests; avatars are initials on a colour from the identity.
    let marks = run(alice, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('Hi alice'));
        return [m.querySelector('.guest').textContent, m.querySelector('.av').textContent, m.querySelector('.av').style.background];").await;
    assert_eq!(marks[0], "(guest)");
    assert_eq!(marks[1], "B");
    assert!(marks[2].as_str().unwrap().starts_with("rgb("), "{marks}");
}

/// Payloads are shown as text; only http(s) links become links, and safe ones.
async fn messages_are_text_and_only_safe_links_are_links(alice: &Session, bob: &Session) {
    say(alice, PAYLOAD).await;
    until(
        bob,
        "the PAYLOAD",
        &format!("texts().includes({})", json!(PAYLOAD)),
    )
    .await;
    let safety = run(bob, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('onerror'));
        const links = [...m.querySelectorAll('a')];
        return {pwned: window.pwned === undefined, imgs: m.querySelectorAll('img:not(.av img)').length, scripts: m.querySelectorAll('script').length,
                links: links.map((a) => [a.getAttribute('href'), a.rel, a.target])};").await;
    assert_eq!(
        safety,
        json!({"pwned": true, "imgs": 0, "scripts": 0, "links": [["https://example.org/a?b=1", "nofollow noopener ugc", "_blank"]]})
    );
}

/// Bob reports the payload; the moderators get it.
async fn bob_reports_the_payload(app: &TestApp, site: &Site, bob: &Session) {
    run(bob, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('onerror')); m.querySelector('.rep').click();").await;
    until(
        bob,
        "the report form",
        "W().activeElement && W().activeElement.closest('.repform')",
    )
    .await;
    press(bob, "looks like an attack\u{e007}").await;
    until(
        bob,
        "the report confirmed",
        "W().textContent.includes('Thanks, the moderators will have a look.')",
    )
    .await;
    let site_id = site.id;
    let open = app
        .db
        .run(move |conn| Report::open_count(conn, site_id))
        .await
        .unwrap();
    assert_eq!(open, 1);
}

/// A moderator deletes it: it disappears from both widgets at once.
async fn a_deletion_leaves_both_widgets_at_once(app: &TestApp, alice: &Session, bob: &Session) {
    let id: i64 = run(
        alice,
        &format!(
            "return +msgs().find((m) => m.text === {}).id;",
            json!(PAYLOAD)
        ),
    )
    .await
    .as_i64()
    .unwrap();
    moderation::messages::delete_message(&app.state.chat, Actor::CommandLine, id.into())
        .await
        .unwrap();
    for browser in [&alice, &bob] {
        until(
            browser,
            "the deletion",
            "!texts().some((t) => t.includes('onerror'))",
        )
        .await;
    }
}

/// Reload: same identity, history back, no nickname asked. The closed widget of a
/// returning visitor counts what arrives meanwhile.
async fn a_reload_keeps_alice_and_counts_what_she_missed(alice: &Session, bob: &Session) {
    alice.refresh().await.unwrap();
    until(
        alice,
        "alice back (closed)",
        "shown('.launcher') && $('.me').textContent === 'You are alice'",
    )
    .await;
    say(bob, "Are you still there?").await;
    until(
        alice,
        "the unread badge",
        "shown('.badge') && $('.badge').textContent === '1'",
    )
    .await;
    // Delivered to alice's closed widget, but not seen until she opens it.
    let still_there = "[...W().querySelectorAll('.msg.own')].find((m) => m.textContent.includes('Are you still there?')).querySelector('.state').textContent";
    until(
        bob,
        "delivered, not seen",
        &format!("{still_there} === 'delivered to 1'"),
    )
    .await;
    run(alice, "$('.launcher').click();").await;
    until(
        bob,
        "seen once alice opens",
        &format!("{still_there} === 'seen by 1'"),
    )
    .await;
    until(
        alice,
        "the history after reload",
        "texts().join('|') === 'Hello from alice|Hi alice|Are you still there?'",
    )
    .await;
    assert_eq!(
        run(
            alice,
            "return shown('.badge') || shown('[data-chatctl=nick]');"
        )
        .await,
        json!(false)
    );
}

/// Everything came from the host page or the chat server: no third-party requests.
async fn nothing_comes_from_third_parties(app: &TestApp, host: &HostSite, alice: &Session) {
    let foreign = run(
        alice,
        &format!(
            "return performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith('{}') && !u.startsWith('http://{}'));",
            host.origin(),
            app.addr
        ),
    )
    .await;
    assert_eq!(foreign, json!([]));
}

/// The server stops; a message alice types meanwhile waits. Returns the
/// database and address to restart on, and when (page time) it stopped.
async fn the_server_stops_while_alice_types(
    app: TestApp,
    alice: &Session,
) -> ((TestDb, std::net::SocketAddr), Value) {
    let addr = app.addr;
    let stopped_at = run(alice, "return performance.now();").await;
    let database = app.stop().await;
    // Meanwhile a moderator deletes a message (as on another instance): the
    // widgets, away when it happened, remove it when they resume.
    delete_by_text(&database.url, "Hello from alice");
    until(
        alice,
        "alice reconnecting",
        "$('.status').className.includes('reconnecting')",
    )
    .await;
    say(alice, "Typed while the server was down").await;
    until(
        alice,
        "the message queued",
        "msgs().some((m) => m.text === 'Typed while the server was down' && m.state === 'sending')",
    )
    .await;
    ((database, addr), stopped_at)
}

/// Reconnection attempts back off: each wait about twice the one before (up to 30 %
/// jitter, plus the time a refused attempt takes to fail, hence the margin).
async fn reconnection_attempts_back_off(alice: &Session, stopped_at: &Value) {
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let attempts = run(
        alice,
        &format!("return __ws.filter((t) => t > {stopped_at});"),
    )
    .await;
    let attempts: Vec<f64> = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    assert!(
        (2..=4).contains(&attempts.len()),
        "attempts at {attempts:?}"
    );
    let gaps: Vec<f64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0] * 1.2),
        "waits grow: {gaps:?}"
    );
    assert!(
        gaps[0] >= 900.0,
        "the second wait is at least 1 s: {gaps:?}"
    );
}

/// The server is back on the same address: the queued message goes out, and both
/// widgets hold every message once, in order (the one deleted meanwhile gone).
async fn restarted_it_delivers_the_queued_message_once(
    (database, addr): (TestDb, std::net::SocketAddr),
    alice: &Session,
    bob: &Session,
) -> TestApp {
    let app = TestApp::builder()
        .database(database)
        .config(move |config| config.bind = addr)
        .spawn()
        .await;
    until(
        alice,
        "the queued message sent",
        "msgs().some((m) => m.text === 'Typed while the server was down' && m.state === 'sent')",
    )
    .await;
    until(
        bob,
        "the queued message",
        "texts().includes('Typed while the server was down')",
    )
    .await;
    say(bob, "Welcome back").await;
    until(
        alice,
        "bob after the restart",
        "texts().includes('Welcome back')",
    )
    .await;
    let expected = json!([
        "Hi alice",
        "Are you still there?",
        "Typed while the server was down",
        "Welcome back"
    ]);
    for browser in [&alice, &bob] {
        assert_eq!(
            run(browser, "return texts();").await,
            expected,
            "nothing lost, nothing twice"
        );
        let seqs = run(browser, "const s = msgs().map((m) => +m.seq); return s.every((x, i) => i === 0 || x > s[i - 1]);").await;
        assert_eq!(seqs, json!(true));
    }
    app
}

/// Bob is banned: his widget says so and stops; alice chats on.
async fn banned_bob_stops_and_alice_chats_on(
    app: &TestApp,
    site: &Site,
    alice: &Session,
    bob: &Session,
) {
    app.ban_named(site, "bob", "Flooding the chat").await;
    until(bob, "the ban notice", "shown('[data-chatctl=notice]') && $('[data-chatctl=notice]').textContent.includes('Flooding the chat') && !shown('[data-chatctl=composer]')").await;
    until(
        bob,
        "no status line: the notice says why",
        "!shown('.status') && $('[data-chatctl=notice]').textContent.startsWith('A moderator has banned you from this chat.')",
    )
    .await;
    say_and_see_it_sent(alice, "Still here").await;
}

/// Marks a message deleted straight in the database, while no server runs.
fn delete_by_text(database_url: &str, text: &str) {
    use diesel::RunQueryDsl;
    let db = chatctl::db::Db::connect(database_url, 1).unwrap();
    let mut pooled = db.get().unwrap();
    let conn: &mut chatctl::db::DbConn = &mut pooled;
    let sql = format!(
        "UPDATE messages SET deleted_at = {} WHERE body = '{text}'",
        chatctl::db::now_ms()
    );
    let n = chatctl::with_backend!(conn, c => diesel::sql_query(&sql).execute(c)).unwrap();
    assert_eq!(n, 1, "{text:?} deleted");
}
