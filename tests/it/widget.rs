//! The widget in a real browser (headless Chromium, see [`crate::support::browser`]),
//! embedded by pages of another origin ([`HostSite`]) as on a real site.
//! A few long scenarios rather than many short ones: each browser start costs
//! seconds. `CHATCTL_SCREENSHOTS=docs/screenshots cargo test --test it widget_looks`
//! refreshes the README's pictures.

use chatctl::db::models::participant::ParticipantQuery;
use chatctl::db::models::room::RoomSettings;
use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::{Participant, Report, Room, Site};
use chatctl::moderation;
use serde_json::{json, Value};

use crate::support::browser::*;
use crate::support::jwt;
use crate::support::mailbox::Mailbox;
use crate::support::widget_page::*;
use crate::support::MEMBER_PASSWORD as PASSWORD;
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

async fn participant(app: &TestApp, nick: &str) -> Participant {
    let nick = nick.to_owned();
    app.db
        .run(move |conn| Participant::search(conn, None, &ParticipantQuery::Nick(nick), 1))
        .await
        .unwrap()
        .remove(0)
}

async fn room(app: &TestApp, site: &Site, name: &str) -> Room {
    let (id, name) = (site.id, name.to_owned());
    app.db
        .run(move |conn| Room::find_by_name(conn, id, &name))
        .await
        .unwrap()
        .expect("the room exists")
}

#[tokio::test]
async fn widget_two_visitors_chat_on_a_hostile_page_through_reloads_restarts_and_bans() {
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene("widget_two_visitors_chat", TestApp::builder()).await
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
    let alice = chrome.session(Screen::Desktop).await;
    let bob = chrome.session(Screen::Desktop).await;
    alice.goto(&host.url("/blog/post-1")).await.unwrap();

    // The hostile CSS reaches neither the launcher nor the panel; ours does not touch the page.
    until(&alice, "the launcher", "shown('.launcher')").await;
    let looks = run(
        &alice,
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
    // A new visitor's page view opens no socket and starts no chat.
    assert_eq!(app.state.chat.hub.connection_count(), 0);

    join_as_guest(&alice, "alice").await;
    let panel = run(
        &alice,
        "const r = $('.panel').getBoundingClientRect(); return [r.width, r.height];",
    )
    .await;
    assert!(
        panel[0].as_f64().unwrap() >= 300.0 && panel[1].as_f64().unwrap() >= 300.0,
        "{panel}"
    );
    say(&alice, "Hello from alice").await;
    until(
        &alice,
        "alice's message sent",
        "msgs().some((m) => m.text === 'Hello from alice' && m.state === 'sent')",
    )
    .await;

    // Bob uses the keyboard only: Tab to the launcher, Enter, type a nickname, Enter, type, Enter.
    bob.goto(&host.url("/blog/post-1")).await.unwrap();
    until(&bob, "the launcher", "shown('.launcher')").await;
    press(&bob, "\u{e004}").await; // the host's link
    press(&bob, "\u{e004}").await; // the launcher
    until(
        &bob,
        "the launcher focused",
        "W().activeElement === $('.launcher')",
    )
    .await;
    let ring = run(
        &bob,
        "const s = getComputedStyle($('.launcher')); return [s.outlineStyle, s.outlineWidth];",
    )
    .await;
    assert_eq!(ring, json!(["solid", "2px"]), "a visible focus ring");
    press(&bob, "\u{e007}").await;
    until(
        &bob,
        "the nickname field focused",
        "W().activeElement === $('#nick')",
    )
    .await;
    press(&bob, "bob\u{e007}").await;
    until(
        &bob,
        "the message field focused",
        "W().activeElement === $('#text') && $('.me').textContent.includes('bob')",
    )
    .await;
    until(&bob, "the history", "texts().includes('Hello from alice')").await;
    press(&bob, "Hi alice").await;
    until(
        &alice,
        "bob typing",
        "$('.typing').textContent.includes('bob')",
    )
    .await;
    press(&bob, "\u{e007}").await;
    until(&alice, "bob's message", "texts().includes('Hi alice')").await;
    // Alice's open chat received it, and she has seen it: a read receipt.
    until(
        &bob,
        "bob's read receipt",
        "[...W().querySelectorAll('.msg.own')].some((m) => m.textContent.includes('Hi alice') && m.querySelector('.state').textContent === 'seen by 1')",
    )
    .await;
    until(
        &alice,
        "the typing indicator gone",
        "$('.typing').textContent === ''",
    )
    .await;
    until(
        &alice,
        "who is online",
        "$('.who').textContent === '2 online'",
    )
    .await;
    // Without data-room, the page's path names the room.
    room(&app, &site, "/blog/post-1").await;
    until(
        &alice,
        "the join notice",
        "[...W().querySelectorAll('.sys')].some((e) => e.textContent === 'bob joined')",
    )
    .await;
    until(
        &alice,
        "the live region",
        "$('[data-chatctl=live]').textContent === 'bob: Hi alice'",
    )
    .await;
    // Guests are marked as guests; avatars are initials on a colour from the identity.
    let marks = run(&alice, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('Hi alice'));
        return [m.querySelector('.guest').textContent, m.querySelector('.av').textContent, m.querySelector('.av').style.background];").await;
    assert_eq!(marks[0], "(guest)");
    assert_eq!(marks[1], "B");
    assert!(marks[2].as_str().unwrap().starts_with("rgb("), "{marks}");

    // Payloads are shown as text; only http(s) links become links, and safe ones.
    let payload = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script> see https://example.org/a?b=1. or javascript:alert(1)";
    say(&alice, payload).await;
    until(
        &bob,
        "the payload",
        &format!("texts().includes({})", json!(payload)),
    )
    .await;
    let safety = run(&bob, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('onerror'));
        const links = [...m.querySelectorAll('a')];
        return {pwned: window.pwned === undefined, imgs: m.querySelectorAll('img:not(.av img)').length, scripts: m.querySelectorAll('script').length,
                links: links.map((a) => [a.getAttribute('href'), a.rel, a.target])};").await;
    assert_eq!(
        safety,
        json!({"pwned": true, "imgs": 0, "scripts": 0, "links": [["https://example.org/a?b=1", "nofollow noopener ugc", "_blank"]]})
    );

    // Bob reports the payload; the moderators get it.
    run(&bob, "const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('onerror')); m.querySelector('.rep').click();").await;
    until(
        &bob,
        "the report form",
        "W().activeElement && W().activeElement.closest('.repform')",
    )
    .await;
    press(&bob, "looks like an attack\u{e007}").await;
    until(
        &bob,
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

    // A moderator deletes it: it disappears from both widgets at once.
    let id: i64 = run(
        &alice,
        &format!(
            "return +msgs().find((m) => m.text === {}).id;",
            json!(payload)
        ),
    )
    .await
    .as_i64()
    .unwrap();
    moderation::messages::delete_message(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        id.into(),
    )
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

    // Reload: same identity, history back, no nickname asked. The closed widget of a
    // returning visitor counts what arrives meanwhile.
    alice.refresh().await.unwrap();
    until(
        &alice,
        "alice back (closed)",
        "shown('.launcher') && $('.me').textContent === 'You are alice'",
    )
    .await;
    say(&bob, "Are you still there?").await;
    until(
        &alice,
        "the unread badge",
        "shown('.badge') && $('.badge').textContent === '1'",
    )
    .await;
    // Delivered to alice's closed widget, but not seen until she opens it.
    let still_there = "[...W().querySelectorAll('.msg.own')].find((m) => m.textContent.includes('Are you still there?')).querySelector('.state').textContent";
    until(
        &bob,
        "delivered, not seen",
        &format!("{still_there} === 'delivered to 1'"),
    )
    .await;
    run(&alice, "$('.launcher').click();").await;
    until(
        &bob,
        "seen once alice opens",
        &format!("{still_there} === 'seen by 1'"),
    )
    .await;
    until(
        &alice,
        "the history after reload",
        "texts().join('|') === 'Hello from alice|Hi alice|Are you still there?'",
    )
    .await;
    assert_eq!(
        run(
            &alice,
            "return shown('.badge') || shown('[data-chatctl=nick]');"
        )
        .await,
        json!(false)
    );

    // Everything came from the host page or the chat server: no third-party requests.
    let foreign = run(
        &alice,
        &format!(
            "return performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith('{}') && !u.startsWith('http://{}'));",
            host.origin(),
            app.addr
        ),
    )
    .await;
    assert_eq!(foreign, json!([]));

    // The server restarts; a message typed meanwhile waits and goes out after the reconnect.
    let addr = app.addr;
    let stopped_at = run(&alice, "return performance.now();").await;
    let database = app.stop().await;
    // Meanwhile a moderator deletes a message (as on another instance): the
    // widgets, away when it happened, remove it when they resume.
    delete_by_text(&database.url, "Hello from alice");
    until(
        &alice,
        "alice reconnecting",
        "$('.status').className.includes('reconnecting')",
    )
    .await;
    say(&alice, "Typed while the server was down").await;
    until(
        &alice,
        "the message queued",
        "msgs().some((m) => m.text === 'Typed while the server was down' && m.state === 'sending')",
    )
    .await;
    // Reconnection attempts back off: each wait about twice the one before (up to 30 %
    // jitter, plus the time a refused attempt takes to fail, hence the margin).
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let attempts = run(
        &alice,
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
    let app = TestApp::builder()
        .database(database)
        .config(move |config| config.bind = addr)
        .spawn()
        .await;
    until(
        &alice,
        "the queued message sent",
        "msgs().some((m) => m.text === 'Typed while the server was down' && m.state === 'sent')",
    )
    .await;
    until(
        &bob,
        "the queued message",
        "texts().includes('Typed while the server was down')",
    )
    .await;
    say(&bob, "Welcome back").await;
    until(
        &alice,
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

    // Bob is banned: his widget says so and stops; alice chats on.
    let bob_id = participant(&app, "bob").await.id;
    moderation::bans::ban(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        moderation::bans::BanRequest {
            site: Some(site.id),
            participant: Some(bob_id),
            cidr: None,
            reason: "Flooding the chat".into(),
            minutes: None,
        },
    )
    .await
    .unwrap();
    until(&bob, "the ban notice", "shown('[data-chatctl=notice]') && $('[data-chatctl=notice]').textContent.includes('Flooding the chat') && !shown('[data-chatctl=composer]')").await;
    until(
        &bob,
        "bob offline",
        "$('.status').className.includes('offline')",
    )
    .await;
    say(&alice, "Still here").await;
    until(
        &alice,
        "alice still chats",
        "msgs().some((m) => m.text === 'Still here' && m.state === 'sent')",
    )
    .await;
    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

#[tokio::test]
async fn widget_accounts_register_confirm_log_in_and_identify() {
    let mailbox = Mailbox::start();
    let smtp = mailbox.url();
    let app = TestApp::builder().smtp(smtp);
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene_with("widget_accounts", app, |site| site.registration()).await
    else {
        return;
    };
    let inline = |extra: &str| {
        tag(
            &site,
            &format!("data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\" {extra}"),
        )
    };
    host.page(
        "/",
        page(&app, "en", "", "<div id=\"chat\"></div>", &[inline("")]),
    );
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/")).await.unwrap();

    // Register: the site allows it, so the widget offers it.
    click_register_link(&browser).await;
    until(
        &browser,
        "the register form",
        "shown('[data-chatctl=register]') && W().activeElement === $('#rn')",
    )
    .await;
    register(&browser, "Alice", "alice@example.com").await;

    // Signing in before confirming is refused with a clear message.
    run(
        &browser,
        &format!("fill('#lp', '{PASSWORD}'); $('[data-chatctl=login]').requestSubmit();"),
    )
    .await;
    until(
        &browser,
        "not verified",
        "$('[data-chatctl=login] .msgbox').textContent.includes('confirm your email')",
    )
    .await;
    // Asking for the mail again right away: the widget says when to retry.
    run(
        &browser,
        "$('[data-chatctl=login] [data-to=resend]').click();",
    )
    .await;
    until(&browser, "the resend form", "shown('[data-chatctl=mail]') && $('[data-chatctl=mail] .go').textContent === 'Send the link again'").await;
    run(
        &browser,
        "fill('#me', 'alice@example.com'); $('[data-chatctl=mail]').requestSubmit();",
    )
    .await;
    until(&browser, "too soon", "(/^Too many attempts\\. Try again in [1-9][0-9]* s\\.$/).test($('[data-chatctl=mail] .msgbox').textContent)").await;

    // The link in the mail confirms the address.
    let mail = mailbox.nth("alice@example.com", 1).await;
    browser.goto(&mail.link("/account/verify")).await.unwrap();
    wait_for(
        &browser,
        "the confirmation page",
        "return document.body.innerText.length > 0;",
    )
    .await;

    browser.goto(&host.url("/")).await.unwrap();
    until(
        &browser,
        "the sign-in link",
        "shown('[data-chatctl=nick] [data-to=login]')",
    )
    .await;
    run(
        &browser,
        "$('[data-chatctl=nick] [data-to=login]').click();",
    )
    .await;
    run(&browser, "fill('#le', 'alice@example.com'); fill('#lp', 'wrong Password 1'); $('[data-chatctl=login]').requestSubmit();").await;
    until(
        &browser,
        "wrong password",
        "$('[data-chatctl=login] .msgbox').textContent === 'Wrong email or password.'",
    )
    .await;
    run(
        &browser,
        &format!("fill('#lp', '{PASSWORD}'); $('[data-chatctl=login]').requestSubmit();"),
    )
    .await;
    until(&browser, "signed in", "shown('[data-chatctl=composer]') && $('.me').textContent === 'You are Alice' && shown('.out')").await;
    say(&browser, "A member speaks").await;
    until(&browser, "sent as a member", "msgs().some((m) => m.text === 'A member speaks' && m.state === 'sent' && m.author === 'Alice')").await;
    assert_eq!(
        run(
            &browser,
            "return W().querySelectorAll('.own .guest').length;"
        )
        .await,
        json!(0)
    );

    // The session survives a reload; signing out forgets it.
    browser.refresh().await.unwrap();
    until(
        &browser,
        "still signed in",
        "$('.me').textContent === 'You are Alice'",
    )
    .await;
    run(&browser, "$('.out').click();").await;
    until(
        &browser,
        "signed out",
        "shown('[data-chatctl=nick]') && !shown('.out')",
    )
    .await;
    let stored = run(
        &browser,
        &format!(
            "return localStorage.getItem('chatctl:{}:account');",
            site.public_key
        ),
    )
    .await;
    assert_eq!(stored, Value::Null);

    // Forgotten password: the widget asks for the reset mail.
    run(&browser, "$('[data-chatctl=nick] [data-to=login]').click(); $('[data-chatctl=login] [data-to=forgot]').click();").await;
    until(
        &browser,
        "the reset form",
        "shown('[data-chatctl=mail]') && W().activeElement === $('#me')",
    )
    .await;
    run(
        &browser,
        "fill('#me', 'alice@example.com'); $('[data-chatctl=mail]').requestSubmit();",
    )
    .await;
    until(
        &browser,
        "the reset answer",
        "$('[data-chatctl=mail] .msgbox').textContent.includes('an email is on its way')",
    )
    .await;
    let reset = mailbox.nth("alice@example.com", 2).await;
    assert!(reset.text.contains("/account/reset"), "{}", reset.text);

    // A user signed in by the host site: the token in the tag, then identify(token).
    let token = jwt::user_token(&site.secret, "u-42", "Host User");
    host.page(
        "/member",
        page(
            &app,
            "en",
            "",
            "<div id=\"chat\"></div>",
            &[inline(&format!("data-user-token=\"{token}\""))],
        ),
    );
    browser.goto(&host.url("/member")).await.unwrap();
    until(
        &browser,
        "the verified user",
        "$('.me').textContent === 'You are Host User' && shown('[data-chatctl=composer]')",
    )
    .await;
    say(&browser, "Verified by the host").await;
    until(&browser, "sent as verified", "msgs().some((m) => m.text === 'Verified by the host' && m.state === 'sent' && m.author === 'Host User')").await;
    // A verified user's avatar (http/https) replaces the initials.
    let png = std::fs::read("docs/screenshots/widget-banned.png").unwrap();
    host.file("/avatar.png", "image/png", png);
    let avatar = host.url("/avatar.png");
    let with_avatar = jwt::sign(
        &site.secret,
        json!({"sub": "u-42", "name": "Host User", "avatar": avatar, "exp": jwt::exp()}),
    );
    run(&browser, &format!("Chatctl.identify('{with_avatar}');")).await;
    // (the online count comes back with the room's welcome, after `ready`)
    until(
        &browser,
        "in the room again",
        "shown('[data-chatctl=composer]') && shown('.who')",
    )
    .await;
    say(&browser, "With a face").await;
    until(&browser, "the avatar", &format!("(() => {{ const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('With a face')); const img = m && m.querySelector('.av img'); return !!img && img.getAttribute('src') === '{avatar}' && img.complete && img.naturalWidth > 0; }})()")).await;
    let other = jwt::user_token(&site.secret, "u-43", "Second User");
    run(&browser, &format!("Chatctl.identify('{other}');")).await;
    until(
        &browser,
        "identify() switched the user",
        "$('.me').textContent === 'You are Second User'",
    )
    .await;
    // A forged token is refused, never turned into a guest.
    run(
        &browser,
        &format!(
            "Chatctl.identify('{}');",
            jwt::user_token("not-the-secret", "u-44", "Forger")
        ),
    )
    .await;
    until(&browser, "the forged token refused", "shown('[data-chatctl=notice]') && $('[data-chatctl=notice]').textContent.includes('no longer valid') && !shown('[data-chatctl=composer]') && !shown('[data-chatctl=nick]')").await;

    // Registration closes: the site's members can still sign in; nobody new can register.
    app.configure_site(
        &site,
        SiteSettings {
            registration_allowed: Some(false),
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    run(&browser, "localStorage.clear();").await;
    browser.goto(&host.url("/")).await.unwrap();
    until(&browser, "sign-in for members only", "shown('[data-chatctl=login]') && !shown('[data-chatctl=login] [data-to=register]') && !shown('[data-chatctl=nick]')").await;

    // A site that only admits signed-in users, with no members and no registration, says so.
    let closed = app.site(&[&host.origin()]).await;
    app.configure_site(
        &closed,
        SiteSettings {
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    host.page(
        "/closed",
        page(
            &app,
            "en",
            "",
            "<div id=\"chat\"></div>",
            &[tag(
                &closed,
                "data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\"",
            )],
        ),
    );
    browser.goto(&host.url("/closed")).await.unwrap();
    until(&browser, "the signed-in-only notice", "$('[data-chatctl=notice]').textContent.includes('for signed-in users') && !shown('[data-chatctl=nick]') && !shown('[data-chatctl=login]')").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn widget_moderation_feedback_slow_mode_mute_lock_and_approval() {
    // Small history pages, so that scrolling up has something to load.
    let app = TestApp::builder()
        .limits(|limits| limits.history_page = 20)
        .messages_unthrottled(1000);
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene("widget_moderation_feedback", app).await
    else {
        return;
    };
    host.page(
        "/",
        page(
            &app,
            "en",
            "",
            "",
            &[tag(&site, "data-room=\"help\" data-open=\"true\"")],
        ),
    );
    let origin = host.origin();
    let mut dan = app
        .try_connect(&site.public_key, Some(&origin))
        .await
        .unwrap();
    dan.hello(json!({"nick": "dan"})).await;
    dan.join("help", None).await;
    for i in 1..=80 {
        dan.say(
            "help",
            &format!("d{i}"),
            &format!("Line {i} of a long story"),
        )
        .await;
    }
    // The first line was written three days ago.
    app.db
        .run(|conn| {
            let sql = "UPDATE messages SET created_at = created_at - 259200000 WHERE seq = 1";
            chatctl::with_backend!(conn, c => diesel::RunQueryDsl::execute(diesel::sql_query(sql), c))
        })
        .await
        .unwrap();
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/")).await.unwrap();
    until(
        &browser,
        "the open panel",
        "shown('[data-chatctl=nick]') && W().activeElement !== $('#nick')",
    )
    .await;
    run(
        &browser,
        "fill('#nick', 'carol'); $('[data-chatctl=nick]').requestSubmit();",
    )
    .await;
    until(
        &browser,
        "carol in",
        "$('.me').textContent === 'You are carol'",
    )
    .await;

    // The latest page first; scrolling up loads the older ones, keeping the reader's place.
    until(
        &browser,
        "the latest page",
        "texts().length === 20 && texts()[19] === 'Line 80 of a long story' && shown('.more')",
    )
    .await;
    run(&browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    until(
        &browser,
        "a page of older messages",
        "texts().length === 70 && texts()[0] === 'Line 11 of a long story'",
    )
    .await;
    let kept = run(&browser, "return $('[data-chatctl=messages]').scrollTop;").await;
    assert!(
        kept.as_f64().unwrap() > 1000.0,
        "the reader stays where they were: {kept}"
    );
    run(&browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    until(
        &browser,
        "the oldest messages",
        "texts().length === 80 && texts()[0] === 'Line 1 of a long story' && !shown('.more')",
    )
    .await;
    // Today's messages show the time; older ones the day too.
    let times = run(&browser, "return [...W().querySelectorAll('[data-chatctl=message] time')].map((t) => t.textContent);").await;
    let times: Vec<&str> = times
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(times[0].len() > 8, "a date on the old message: {times:?}");
    assert!(
        times[1..].iter().all(|t| t.len() <= 8),
        "only the time on today's: {times:?}"
    );
    // Scrolled up, a new message does not move the list; a marker counts it.
    run(&browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    dan.say("help", "new1", "Something new").await;
    until(&browser, "the new-message marker", "shown('.jump') && $('.jump').textContent === '1 new ↓' && $('[data-chatctl=messages]').scrollTop < 50").await;
    run(&browser, "$('.jump').click();").await;
    until(&browser, "at the bottom", "!shown('.jump') && (() => { const l = $('[data-chatctl=messages]'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5; })()").await;
    // At the bottom, new messages scroll into view by themselves.
    dan.say("help", "new2", "And more").await;
    until(&browser, "followed", "texts().includes('And more') && !shown('.jump') && (() => { const l = $('[data-chatctl=messages]'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5; })()").await;
    say(&browser, "first").await;
    until(
        &browser,
        "first sent",
        "msgs().some((m) => m.text === 'first' && m.state === 'sent')",
    )
    .await;
    let help = room(&app, &site, "help").await;
    let settings = |slow: i32, locked: bool, approve: bool| RoomSettings {
        slow_mode_secs: slow,
        locked,
        approve_first: approve,
        max_message_chars: None,
    };

    // Slow mode: the widget counts down and sends by itself.
    moderation::rooms::update(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        help.id,
        settings(3, false, false),
    )
    .await
    .unwrap();
    say(&browser, "second").await;
    say(&browser, "third").await;
    until(
        &browser,
        "the slow-mode countdown",
        "W().textContent.includes('Slow mode: sending in')",
    )
    .await;
    until(
        &browser,
        "sent after the wait",
        "msgs().filter((m) => m.state === 'sent').length === 3",
    )
    .await;
    moderation::rooms::update(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        help.id,
        settings(0, false, false),
    )
    .await
    .unwrap();

    // A mute: the message is not sent and the notice says for how long.
    let carol = participant(&app, "carol").await;
    moderation::mutes::mute(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        carol.id,
        5,
        "calm down",
    )
    .await
    .unwrap();
    say(&browser, "muted words").await;
    until(&browser, "the mute", "msgs().some((m) => m.text === 'muted words' && m.state === 'failed') && $('[data-chatctl=notice]').textContent.includes('muted for 5 more min')").await;
    moderation::mutes::unmute(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        carol.id,
    )
    .await
    .unwrap();

    // A locked room.
    moderation::rooms::update(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        help.id,
        settings(0, true, false),
    )
    .await
    .unwrap();
    say(&browser, "locked out").await;
    until(&browser, "the lock", "msgs().some((m) => m.text === 'locked out' && m.state === 'failed') && $('[data-chatctl=notice]').textContent.includes('read-only')").await;

    // Approve-first: the message waits for a moderator, then arrives once.
    moderation::rooms::update(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        help.id,
        settings(0, false, true),
    )
    .await
    .unwrap();
    say(&browser, "please approve").await;
    until(
        &browser,
        "waiting for approval",
        "msgs().some((m) => m.text === 'please approve' && m.state === 'held')",
    )
    .await;
    let site_id = site.id;
    let held = app
        .db
        .run(move |conn| chatctl::db::models::HeldMessage::queue(conn, Some(&[site_id]), 10))
        .await
        .unwrap();
    moderation::messages::approve(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        held[0].0.id,
    )
    .await
    .unwrap();
    until(&browser, "approved", "msgs().filter((m) => m.text === 'please approve').length === 1 && msgs().some((m) => m.text === 'please approve' && m.seq !== '')").await;

    // Escape closes the floating panel and gives the focus back to the launcher.
    run(&browser, "$('#text').focus();").await;
    press(&browser, "\u{e00c}").await;
    until(&browser, "closed by Escape", "!shown('.panel') && W().activeElement === $('.launcher') && $('.launcher').getAttribute('aria-expanded') === 'false'").await;

    // A page on an origin the site does not allow: the widget says why and stops trying.
    let stranger = HostSite::start().await;
    stranger.page(
        "/",
        page(&app, "en", "", "", &[tag(&site, "data-open=\"true\"")]),
    );
    browser.goto(&stranger.url("/")).await.unwrap();
    until(&browser, "the refusal explained", "$('[data-chatctl=notice]').textContent.includes('not allowed') && $('.status').className === 'status offline' && !shown('[data-chatctl=composer]') && !shown('[data-chatctl=nick]')").await;
    browser.close().await.unwrap();
}

/// Every visible text in the widget against its background: WCAG AA (4.5:1).
const CONTRAST: &str = r#"
const rgba = (c) => { const v = (c.match(/[\d.]+/g) || []).map(Number); return [v[0] || 0, v[1] || 0, v[2] || 0, v.length > 3 ? v[3] : 1]; };
const lum = ([r, g, b]) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const parent = (e) => e.parentElement || (e.getRootNode() && e.getRootNode().host) || null;
const background = (e) => { for (; e; e = parent(e)) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0.5) return c; } return [255, 255, 255, 1]; };
const visible = (e) => { for (let x = e; x; x = parent(x)) { const s = getComputedStyle(x); if (s.opacity === '0' || s.visibility === 'hidden' || s.display === 'none') return false; } return e.getClientRects().length > 0; };
const failures = [];
for (let i = 0; i < document.querySelectorAll('[data-chatctl-root]').length; i++) {
  W(i).querySelectorAll('*').forEach((e) => {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) || !visible(e)) return;
    const fg = lum(rgba(getComputedStyle(e).color)), bg = lum(background(e));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) failures.push(`${e.className || e.tagName} "${e.textContent.slice(0, 30)}" ${ratio.toFixed(2)}`);
  });
}
return failures;
"#;

#[tokio::test]
async fn widget_looks_right_in_every_language_theme_and_on_a_phone() {
    let Some(WidgetScene {
        chrome,
        app,
        host,
        site,
    }) = widget_scene("widget_looks", TestApp::builder()).await
    else {
        return;
    };

    // Some conversation to look at.
    let origin = host.origin();
    let mut ann = app
        .try_connect(&site.public_key, Some(&origin))
        .await
        .unwrap();
    ann.hello(json!({"nick": "Ann Lee"})).await;
    ann.join("lobby", None).await;
    ann.say("lobby", "a1", "Hi! Is the meetup still on Friday?")
        .await;
    ann.say("lobby", "a2", "Slides are at https://example.org/slides")
        .await;

    // Languages: data-lang, else the page's <html lang>.
    let lobby = "data-room=\"lobby\"";
    host.page("/fr", page(&app, "fr-FR", "", "", &[tag(&site, lobby)]));
    host.page(
        "/de",
        page(
            &app,
            "fr",
            "",
            "",
            &[tag(&site, &format!("{lobby} data-lang=\"de\""))],
        ),
    );
    host.page(
        "/ru",
        page(
            &app,
            "en",
            "",
            "",
            &[tag(
                &site,
                &format!("{lobby} data-lang=\"ru\" data-open=\"true\""),
            )],
        ),
    );
    host.page(
        "/es",
        page(
            &app,
            "es",
            "",
            "",
            &[tag(&site, &format!("{lobby} data-open=\"true\""))],
        ),
    );
    let desktop = chrome.session(Screen::Desktop).await;
    for (path, launcher, label) in [
        (
            "/fr",
            "Discussion",
            "Choisissez un pseudo pour rejoindre la discussion",
        ),
        (
            "/de",
            "Chat",
            "Wähle einen Spitznamen, um dem Chat beizutreten",
        ),
        ("/ru", "Чат", "Выберите имя, чтобы войти в чат"),
        ("/es", "Chat", "Elige un apodo para unirte al chat"),
    ] {
        desktop.goto(&host.url(path)).await.unwrap();
        until(&desktop, path, &format!("$('.launcher .lt').textContent === '{launcher}' && $('label[for=nick]').textContent === '{label}'")).await;
    }

    // Two widgets on one page, independent, driven through the one global.
    let two = [
        tag(&site, "data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\" data-title=\"Lobby\""),
        tag(&site, "data-room=\"side\" data-title=\"Side room\" data-position=\"left\" data-color=\"#ffd400\""),
    ];
    host.page(
        "/two",
        page(
            &app,
            "en",
            "",
            "<div id=\"chat\" style=\"width:420px\"></div>",
            &two,
        ),
    );
    desktop.goto(&host.url("/two")).await.unwrap();
    until(&desktop, "two widgets", "document.querySelectorAll('[data-chatctl-root]').length === 2 && W(0) && W(1) && Chatctl.widgets.length === 2").await;
    run(&desktop, "window.events = []; for (const e of ['open', 'close', 'message', 'unread']) Chatctl.on(e, (d) => events.push([e, d.room]));").await;
    until(&desktop, "the inline widget's form", "shown('#nick', 0)").await;
    run(
        &desktop,
        "fill('#nick', 'Dana Kim', 0); $('[data-chatctl=nick]', 0).requestSubmit();",
    )
    .await;
    until(
        &desktop,
        "the inline history",
        "texts(0).length === 2 && shown('[data-chatctl=composer]', 0)",
    )
    .await;
    run(&desktop, "Chatctl.open();").await;
    until(
        &desktop,
        "the floating one open",
        "shown('.panel', 1) && $('.me', 1).textContent === 'You are Dana Kim'",
    )
    .await;
    ann.say("lobby", "a3", "Dana, welcome!").await;
    until(
        &desktop,
        "the message event",
        "events.some((e) => e[0] === 'message' && e[1] === 'lobby')",
    )
    .await;
    assert_eq!(
        run(&desktop, "return texts(1);").await,
        json!([]),
        "the side room saw nothing"
    );
    run(&desktop, "Chatctl.close();").await;
    until(&desktop, "open and close events", "events.some((e) => e[0] === 'open' && e[1] === 'side') && events.some((e) => e[0] === 'close' && e[1] === 'side')").await;
    let left = run(
        &desktop,
        "return $('.launcher', 1).getBoundingClientRect().left;",
    )
    .await;
    assert!(left.as_f64().unwrap() < 100.0, "data-position=left: {left}");
    // The closed widget counts what arrives in its room.
    ann.join("side", None).await;
    ann.say("side", "s1", "Anyone on the side?").await;
    until(&desktop, "the unread event", "events.some((e) => e[0] === 'unread' && e[1] === 'side') && $('.badge', 1).textContent === '1'").await;
    // join(room) moves a widget to another room.
    run(
        &desktop,
        "Chatctl.widgets.find((w) => w.room === 'lobby').join('elsewhere');",
    )
    .await;
    until(
        &desktop,
        "the other room",
        "texts(0).length === 0 && shown('.empty', 0)",
    )
    .await;
    run(
        &desktop,
        "fill('#text', 'In the other room', 0); $('[data-chatctl=composer]', 0).requestSubmit();",
    )
    .await;
    until(
        &desktop,
        "sent there",
        "msgs(0).some((m) => m.text === 'In the other room' && m.state === 'sent')",
    )
    .await;
    room(&app, &site, "elsewhere").await;
    // The sound switch is remembered.
    run(&desktop, "$('.snd', 1).click();").await;
    until(&desktop, "sound on", "$('.snd', 1).textContent === 'Sound on' && JSON.parse(localStorage.getItem('chatctl:sound')).on === true").await;
    // The host's yellow gets dark text; everything reads at AA contrast.
    let header = run(
        &desktop,
        "Chatctl.open(); return getComputedStyle($('header', 1)).color;",
    )
    .await;
    assert_eq!(header, "rgb(17, 17, 17)");
    assert_eq!(
        run(&desktop, CONTRAST).await,
        json!([]),
        "light theme contrast"
    );

    // The picture for the README, light and dark, desktop and phone.
    for theme in ["light", "dark"] {
        let attrs = format!("data-room=\"lobby\" data-theme=\"{theme}\" data-open=\"true\" data-title=\"Community chat\"");
        host.page(
            &format!("/{theme}"),
            page(
                &app,
                "en",
                &format!(
                    "<style>body{{font:16px system-ui;margin:40px;{}}}</style>",
                    if theme == "dark" {
                        "background:#0d1117;color:#e6edf3"
                    } else {
                        ""
                    }
                ),
                "<h1>Our blog</h1><p>An article with a chat.</p>",
                &[tag(&site, &attrs)],
            ),
        );
        desktop.goto(&host.url(&format!("/{theme}"))).await.unwrap();
        until(
            &desktop,
            "the open widget",
            "shown('.panel') && texts().length >= 3 && shown('[data-chatctl=composer]')",
        )
        .await;
        assert_eq!(
            run(&desktop, "return $('.root').classList.contains('dark');").await,
            json!(theme == "dark")
        );
        if theme == "light" {
            say(&desktop, "Great, see you there! I'll bring snacks.").await;
        }
        until(
            &desktop,
            "own message sent",
            "msgs().some((m) => m.text.includes('snacks') && m.seq !== '')",
        )
        .await;
        // (the server relays one "typing" per connection every 500 ms)
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        ann.send(json!({"type": "typing", "room": "lobby", "active": true}))
            .await;
        until(
            &desktop,
            "ann typing",
            "$('.typing').textContent === 'Ann Lee is typing…'",
        )
        .await;
        assert_eq!(
            run(&desktop, CONTRAST).await,
            json!([]),
            "{theme} theme contrast"
        );
        screenshot(&desktop, &format!("widget-desktop-{theme}")).await;
    }

    // theme=auto follows the system setting, live; reduced motion stops the animation.
    host.page(
        "/auto",
        page(
            &app,
            "en",
            "",
            "",
            &[tag(
                &site,
                "data-room=\"lobby\" data-theme=\"auto\" data-open=\"true\"",
            )],
        ),
    );
    emulate_media(
        &desktop,
        &[
            ("prefers-color-scheme", "dark"),
            ("prefers-reduced-motion", "reduce"),
        ],
    )
    .await;
    desktop.goto(&host.url("/auto")).await.unwrap();
    until(
        &desktop,
        "auto: dark",
        "shown('.panel') && $('.root').classList.contains('dark')",
    )
    .await;
    assert_eq!(
        run(
            &desktop,
            "return getComputedStyle($('.panel')).animationName;"
        )
        .await,
        json!("none")
    );
    emulate_media(
        &desktop,
        &[
            ("prefers-color-scheme", "light"),
            ("prefers-reduced-motion", "no-preference"),
        ],
    )
    .await;
    until(
        &desktop,
        "auto: light",
        "!$('.root').classList.contains('dark')",
    )
    .await;

    // Calls made before the widget has started are kept and run once it has.
    host.page("/early", format!("<!doctype html><html lang=\"en\"><body><script src=\"http://{}/widget.js\" {}></script><script>Chatctl.open();</script></body></html>", app.addr, tag(&site, "data-room=\"lobby\"")));
    desktop.goto(&host.url("/early")).await.unwrap();
    until(
        &desktop,
        "opened by the early call",
        "shown('.panel') && $('.launcher').getAttribute('aria-expanded') === 'true'",
    )
    .await;

    // A strict Content-Security-Policy: no inline styles, only the chat server allowed.
    let chat = format!("http://{}", app.addr);
    let csp = format!("default-src 'none'; script-src {chat}; connect-src {chat} ws://{}; style-src 'none'; img-src 'none'", app.addr);
    host.page(
        "/csp",
        page(
            &app,
            "en",
            &format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"),
            "",
            &[tag(&site, "data-room=\"lobby\" data-open=\"true\"")],
        ),
    );
    desktop.goto(&host.url("/csp")).await.unwrap();
    until(&desktop, "styled under a strict CSP", "shown('.panel') && texts().length >= 3 && getComputedStyle($('header')).backgroundColor === 'rgb(37, 99, 235)' && getComputedStyle($('.launcher')).fontSize === '14px'").await;
    // The part loaded on demand too (the chat is open), from the same server.
    until(
        &desktop,
        "the on-demand part under a strict CSP",
        "Chatctl.core.loaded && !!$('form.login') && $('label[for=le]').textContent === 'Email'",
    )
    .await;

    // Without data-lang or <html lang>: the browser's languages.
    host.page(
        "/nolang",
        page(&app, "", "", "", &[tag(&site, "data-room=\"lobby\"")]),
    );
    let german = chrome.session_in(Screen::Desktop, Some("de-DE,de")).await;
    german.goto(&host.url("/nolang")).await.unwrap();
    until(&german, "German from the browser", "navigator.languages[0] === 'de-DE' && $('label[for=nick]').textContent === 'Wähle einen Spitznamen, um dem Chat beizutreten'").await;
    german.close().await.unwrap();

    let phone = chrome.session(Screen::Phone).await;
    for theme in ["light", "dark"] {
        phone.goto(&host.url(&format!("/{theme}"))).await.unwrap();
        if theme == "light" {
            until(
                &phone,
                "the first-time form",
                "shown('.panel') && shown('#nick')",
            )
            .await;
            run(
                &phone,
                "fill('#nick', 'Eve'); $('[data-chatctl=nick]').requestSubmit();",
            )
            .await;
        }
        until(
            &phone,
            "the conversation",
            "texts().length >= 3 && shown('[data-chatctl=composer]')",
        )
        .await;
        // (after the opening animation)
        until(
            &phone,
            "the panel in place",
            "$('.panel').getBoundingClientRect().top === 0",
        )
        .await;
        let fit = run(&phone, "const r = $('.panel').getBoundingClientRect(); return [r.left, r.top, r.width, r.height, innerWidth, innerHeight, document.documentElement.scrollWidth, shown('.launcher')];").await;
        let f = |i: usize| fit[i].as_f64().unwrap();
        assert_eq!((f(0), f(1)), (0.0, 0.0), "full screen on a phone: {fit}");
        assert_eq!((f(2), f(3)), (f(4), f(5)), "full screen on a phone: {fit}");
        assert!(f(6) <= f(4), "no horizontal scrolling: {fit}");
        assert_eq!(fit[7], json!(false), "the panel covers the launcher: {fit}");
        screenshot(&phone, &format!("widget-mobile-{theme}")).await;
    }
    // The close button brings the launcher back.
    run(&phone, "$('.x').click();").await;
    until(
        &phone,
        "the launcher",
        "shown('.launcher') && !shown('.panel')",
    )
    .await;
    desktop.close().await.unwrap();
    phone.close().await.unwrap();
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
