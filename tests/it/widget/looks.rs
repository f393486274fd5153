//! How the widget looks: languages (from the tag, the page, the browser),
//! two widgets on one page, themes (light, dark, auto) at AA contrast,
//! reduced motion, a strict Content-Security-Policy, and a phone. Saves the
//! README's screenshots with `CHATCTL_SCREENSHOTS=docs/screenshots`.

use chatctl::db::models::Site;
use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::*;
use crate::support::*;

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
    let Some((chrome, app, host, site)) = widget_scene("widget_looks", TestApp::builder()).await
    else {
        return;
    };
    let mut ann = ann_starts_a_conversation(&app, &site, &host).await;
    let desktop = chrome.session(Screen::Desktop).await;

    the_widget_speaks_the_page_language(&app, &site, &host, &desktop).await;
    two_widgets_on_one_page_are_independent(&app, &site, &host, &desktop, &mut ann).await;
    a_closed_widget_counts_and_join_moves_a_widget(&app, &site, &desktop, &mut ann).await;
    sound_is_remembered_and_colours_read_at_aa(&desktop).await;
    both_themes_for_the_readme(&app, &site, &host, &desktop, &mut ann).await;
    theme_auto_follows_the_system_live(&app, &site, &host, &desktop).await;
    calls_made_before_the_start_run_once_started(&app, &site, &host, &desktop).await;
    a_strict_content_security_policy_is_fine(&app, &site, &host, &desktop).await;
    without_a_language_the_browser_decides(&app, &site, &host, &chrome).await;
    let phone = chrome.session(Screen::Phone).await;
    a_phone_gets_the_whole_screen(&host, &phone).await;
    the_close_button_brings_the_launcher_back(&phone).await;
    desktop.close().await.unwrap();
    phone.close().await.unwrap();
}

/// Ann writes the conversation the pictures show.
async fn ann_starts_a_conversation(app: &TestApp, site: &Site, host: &HostSite) -> Client {
    let mut ann = visitor(app, host, site, "Ann Lee", "lobby").await;
    ann.say("lobby", "a1", "Hi! Is the meetup still on Friday?")
        .await;
    ann.say("lobby", "a2", "Slides are at https://example.org/slides")
        .await;
    ann
}

/// Languages: data-lang, else the page's <html lang>.
async fn the_widget_speaks_the_page_language(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
) {
    let lobby = "data-room=\"lobby\"";
    host.page("/fr", one_widget_page(app, "fr-FR", site, lobby));
    host.page(
        "/de",
        one_widget_page(app, "fr", site, &format!("{lobby} data-lang=\"de\"")),
    );
    host.page(
        "/ru",
        one_widget_page(
            app,
            "en",
            site,
            &format!("{lobby} data-lang=\"ru\" data-open=\"true\""),
        ),
    );
    host.page(
        "/es",
        one_widget_page(app, "es", site, &format!("{lobby} data-open=\"true\"")),
    );
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
        until(desktop, path, &format!("$('.launcher .lt').textContent === '{launcher}' && $('label[for=nick]').textContent === '{label}'")).await;
    }
}

/// Two widgets on one page, independent, driven through the one global.
async fn two_widgets_on_one_page_are_independent(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
    ann: &mut Client,
) {
    let two = [
        tag(site, "data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\" data-title=\"Lobby\""),
        tag(site, "data-room=\"side\" data-title=\"Side room\" data-position=\"left\" data-color=\"#ffd400\""),
    ];
    host.page(
        "/two",
        page(
            app,
            "en",
            "",
            "<div id=\"chat\" style=\"width:420px\"></div>",
            &two,
        ),
    );
    desktop.goto(&host.url("/two")).await.unwrap();
    until(desktop, "two widgets", "document.querySelectorAll('[data-chatctl-root]').length === 2 && W(0) && W(1) && Chatctl.widgets.length === 2").await;
    run(desktop, "window.events = []; for (const e of ['open', 'close', 'message', 'unread']) Chatctl.on(e, (d) => events.push([e, d.room]));").await;
    until(desktop, "the inline widget's form", "shown('#nick', 0)").await;
    run(
        desktop,
        "fill('#nick', 'Dana Kim', 0); $('[data-chatctl=nick]', 0).requestSubmit();",
    )
    .await;
    until(
        desktop,
        "the inline history",
        "texts(0).length === 2 && shown('[data-chatctl=composer]', 0)",
    )
    .await;
    run(desktop, "Chatctl.open();").await;
    until(
        desktop,
        "the floating one open",
        "shown('.panel', 1) && $('.me', 1).textContent === 'You are Dana Kim'",
    )
    .await;
    ann.say("lobby", "a3", "Dana, welcome!").await;
    until(
        desktop,
        "the message event",
        "events.some((e) => e[0] === 'message' && e[1] === 'lobby')",
    )
    .await;
    assert_eq!(
        run(desktop, "return texts(1);").await,
        json!([]),
        "the side room saw nothing"
    );
    run(desktop, "Chatctl.close();").await;
    until(desktop, "open and close events", "events.some((e) => e[0] === 'open' && e[1] === 'side') && events.some((e) => e[0] === 'close' && e[1] === 'side')").await;
    let left = run(
        desktop,
        "return $('.launcher', 1).getBoundingClientRect().left;",
    )
    .await;
    assert!(left.as_f64().unwrap() < 100.0, "data-position=left: {left}");
}

/// The closed widget counts what arrives in its room; `join(room)` moves a widget
/// to another room.
async fn a_closed_widget_counts_and_join_moves_a_widget(
    app: &TestApp,
    site: &Site,
    desktop: &Session,
    ann: &mut Client,
) {
    ann.join("side", None).await;
    ann.say("side", "s1", "Anyone on the side?").await;
    until(desktop, "the unread event", "events.some((e) => e[0] === 'unread' && e[1] === 'side') && $('.badge', 1).textContent === '1'").await;
    // join(room) moves a widget to another room.
    run(
        desktop,
        "Chatctl.widgets.find((w) => w.room === 'lobby').join('elsewhere');",
    )
    .await;
    until(
        desktop,
        "the other room",
        "texts(0).length === 0 && shown('.empty', 0)",
    )
    .await;
    run(
        desktop,
        "fill('#text', 'In the other room', 0); $('[data-chatctl=composer]', 0).requestSubmit();",
    )
    .await;
    until(
        desktop,
        "sent there",
        "msgs(0).some((m) => m.text === 'In the other room' && m.state === 'sent')",
    )
    .await;
    app.room(site, "elsewhere").await;
}

/// The sound switch is remembered; the host's yellow gets dark text, and
/// everything reads at AA contrast.
async fn sound_is_remembered_and_colours_read_at_aa(desktop: &Session) {
    run(desktop, "$('.snd', 1).click();").await;
    until(desktop, "sound on", "$('.snd', 1).textContent === 'Sound on' && JSON.parse(localStorage.getItem('chatctl:sound')).on === true").await;
    // The host's yellow gets dark text; everything reads at AA contrast.
    let header = run(
        desktop,
        "Chatctl.open(); return getComputedStyle($('header', 1)).color;",
    )
    .await;
    assert_eq!(header, "rgb(17, 17, 17)");
    assert_eq!(
        run(desktop, CONTRAST).await,
        json!([]),
        "light theme contrast"
    );
}

/// The picture for the README, light and dark, desktop and phone.
async fn both_themes_for_the_readme(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
    ann: &mut Client,
) {
    for theme in ["light", "dark"] {
        let attrs = format!("data-room=\"lobby\" data-theme=\"{theme}\" data-open=\"true\" data-title=\"Community chat\"");
        host.page(
            &format!("/{theme}"),
            page(
                app,
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
                &[tag(site, &attrs)],
            ),
        );
        desktop.goto(&host.url(&format!("/{theme}"))).await.unwrap();
        until(
            desktop,
            "the open widget",
            "shown('.panel') && texts().length >= 3 && shown('[data-chatctl=composer]')",
        )
        .await;
        assert_eq!(
            run(desktop, "return $('.root').classList.contains('dark');").await,
            json!(theme == "dark")
        );
        if theme == "light" {
            say(desktop, "Great, see you there! I'll bring snacks.").await;
        }
        until(
            desktop,
            "own message sent",
            "msgs().some((m) => m.text.includes('snacks') && m.seq !== '')",
        )
        .await;
        // (the server relays one "typing" per connection every 500 ms)
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        ann.send(json!({"type": "typing", "room": "lobby", "active": true}))
            .await;
        until(
            desktop,
            "ann typing",
            "$('.typing').textContent === 'Ann Lee is typing…'",
        )
        .await;
        assert_eq!(
            run(desktop, CONTRAST).await,
            json!([]),
            "{theme} theme contrast"
        );
        screenshot(desktop, &format!("widget-desktop-{theme}")).await;
    }
}

/// theme=auto follows the system setting, live; reduced motion stops the animation.
async fn theme_auto_follows_the_system_live(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
) {
    host.page(
        "/auto",
        one_widget_page(
            app,
            "en",
            site,
            "data-room=\"lobby\" data-theme=\"auto\" data-open=\"true\"",
        ),
    );
    emulate_media(
        desktop,
        &[
            ("prefers-color-scheme", "dark"),
            ("prefers-reduced-motion", "reduce"),
        ],
    )
    .await;
    desktop.goto(&host.url("/auto")).await.unwrap();
    until(
        desktop,
        "auto: dark",
        "shown('.panel') && $('.root').classList.contains('dark')",
    )
    .await;
    assert_eq!(
        run(
            desktop,
            "return getComputedStyle($('.panel')).animationName;"
        )
        .await,
        json!("none")
    );
    emulate_media(
        desktop,
        &[
            ("prefers-color-scheme", "light"),
            ("prefers-reduced-motion", "no-preference"),
        ],
    )
    .await;
    until(
        desktop,
        "auto: light",
        "!$('.root').classList.contains('dark')",
    )
    .await;
}

/// Calls made before the widget has started are kept and run once it has.
async fn calls_made_before_the_start_run_once_started(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
) {
    host.page("/early", format!("<!doctype html><html lang=\"en\"><body><script src=\"http://{}/widget.js\" {}></script><script>Chatctl.open();</script></body></html>", app.addr, tag(site, "data-room=\"lobby\"")));
    desktop.goto(&host.url("/early")).await.unwrap();
    until(
        desktop,
        "opened by the early call",
        "shown('.panel') && $('.launcher').getAttribute('aria-expanded') === 'true'",
    )
    .await;
}

/// A strict Content-Security-Policy: no inline styles, only the chat server allowed.
async fn a_strict_content_security_policy_is_fine(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    desktop: &Session,
) {
    let chat = format!("http://{}", app.addr);
    let csp = format!("default-src 'none'; script-src {chat}; connect-src {chat} ws://{}; style-src 'none'; img-src 'none'", app.addr);
    host.page(
        "/csp",
        page(
            app,
            "en",
            &format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"),
            "",
            &[tag(site, "data-room=\"lobby\" data-open=\"true\"")],
        ),
    );
    desktop.goto(&host.url("/csp")).await.unwrap();
    until(desktop, "styled under a strict CSP", "shown('.panel') && texts().length >= 3 && getComputedStyle($('header')).backgroundColor === 'rgb(37, 99, 235)' && getComputedStyle($('.launcher')).fontSize === '14px'").await;
    // The part loaded on demand too (the chat is open), from the same server.
    until(
        desktop,
        "the on-demand part under a strict CSP",
        "Chatctl.core.loaded && !!$('form.login') && $('label[for=le]').textContent === 'Email'",
    )
    .await;
}

/// Without data-lang or <html lang>: the browser's languages.
async fn without_a_language_the_browser_decides(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    chrome: &Browser,
) {
    host.page(
        "/nolang",
        one_widget_page(app, "", site, "data-room=\"lobby\""),
    );
    let german = chrome.session_in(Screen::Desktop, Some("de-DE,de")).await;
    german.goto(&host.url("/nolang")).await.unwrap();
    until(&german, "German from the browser", "navigator.languages[0] === 'de-DE' && $('label[for=nick]').textContent === 'Wähle einen Spitznamen, um dem Chat beizutreten'").await;
    german.close().await.unwrap();
}

/// On a phone the open panel takes the whole screen, in both themes.
async fn a_phone_gets_the_whole_screen(host: &HostSite, phone: &Session) {
    for theme in ["light", "dark"] {
        phone.goto(&host.url(&format!("/{theme}"))).await.unwrap();
        if theme == "light" {
            until(
                phone,
                "the first-time form",
                "shown('.panel') && shown('#nick')",
            )
            .await;
            run(
                phone,
                "fill('#nick', 'Eve'); $('[data-chatctl=nick]').requestSubmit();",
            )
            .await;
        }
        until(
            phone,
            "the conversation",
            "texts().length >= 3 && shown('[data-chatctl=composer]')",
        )
        .await;
        // (after the opening animation)
        until(
            phone,
            "the panel in place",
            "$('.panel').getBoundingClientRect().top === 0",
        )
        .await;
        let fit = run(phone, "const r = $('.panel').getBoundingClientRect(); return [r.left, r.top, r.width, r.height, innerWidth, innerHeight, document.documentElement.scrollWidth, shown('.launcher')];").await;
        let f = |i: usize| fit[i].as_f64().unwrap();
        assert_eq!((f(0), f(1)), (0.0, 0.0), "full screen on a phone: {fit}");
        assert_eq!((f(2), f(3)), (f(4), f(5)), "full screen on a phone: {fit}");
        assert!(f(6) <= f(4), "no horizontal scrolling: {fit}");
        assert_eq!(fit[7], json!(false), "the panel covers the launcher: {fit}");
        screenshot(phone, &format!("widget-mobile-{theme}")).await;
    }
}

/// The close button brings the launcher back.
async fn the_close_button_brings_the_launcher_back(phone: &Session) {
    run(phone, "$('.x').click();").await;
    until(
        phone,
        "the launcher",
        "shown('.launcher') && !shown('.panel')",
    )
    .await;
}
