//! A host page embedding the widget, and page scripts that look inside it:
//! the prelude of helpers every widget browser test runs its scripts with.

use chatctl::db::models::Site;
use fantoccini::Client;
use serde_json::{json, Value};

use super::app::{TestApp, TestAppBuilder};
use super::browser::{js, Browser, HostSite, Screen};
use super::fixtures::{SiteBuilder, MEMBER_PASSWORD};
use super::mailbox::Mailbox;

/// Where a widget test starts, as `let Some((chrome, app, host, site)) = ...`:
/// chromedriver (for the test's browser sessions), the chat server, the host
/// site's web server (on another origin) and a chat site allowed for the
/// host's origin. Bound in this order, they drop in reverse: the browser last.
pub type WidgetScene = (Browser, TestApp, HostSite, Site);

/// A [`WidgetScene`]: `None` when chromedriver is missing outside CI (see
/// [`Browser::start`]).
pub async fn widget_scene(test: &str, app: TestAppBuilder<'_>) -> Option<WidgetScene> {
    widget_scene_with(test, app, |site| site).await
}

/// Like [`widget_scene`], with the chat site shaped by `site` (e.g.
/// `|site| site.registration()`).
pub async fn widget_scene_with(
    test: &str,
    app: TestAppBuilder<'_>,
    site: impl FnOnce(SiteBuilder<'_>) -> SiteBuilder<'_>,
) -> Option<WidgetScene> {
    let chrome = Browser::start(test)?;
    let app = app.spawn().await;
    let host = HostSite::start().await;
    let site = site(app.new_site().origins(&[&host.origin()]))
        .create()
        .await;
    Some((chrome, app, host, site))
}

/// A [`WidgetScene`] whose site takes registrations, on a server that mails
/// through `mailbox`.
pub async fn registration_scene(test: &str, mailbox: &Mailbox) -> Option<WidgetScene> {
    let app = TestApp::builder().smtp(mailbox.url());
    widget_scene_with(test, app, |site| site.registration()).await
}

/// Another visitor of the host's pages, on a plain WebSocket from the host's
/// origin: said hello as `nick` and joined `room`.
pub async fn visitor(
    app: &TestApp,
    host: &HostSite,
    site: &Site,
    nick: &str,
    room: &str,
) -> super::Client {
    let mut client = app
        .try_connect(&site.public_key, Some(&host.origin()))
        .await
        .unwrap();
    client.hello(json!({ "nick": nick })).await;
    client.join(room, None).await;
    client
}

/// Visitors `v1` to `v<n>` ([`visitor`]s of the host's origin) in `room`.
pub async fn visitors(
    app: &TestApp,
    host: &HostSite,
    site: &Site,
    n: usize,
    room: &str,
) -> Vec<super::Client> {
    let mut crowd = Vec::new();
    for i in 1..=n {
        crowd.push(visitor(app, host, site, &format!("v{i}"), room).await);
    }
    crowd
}

/// With [`NETWORK_SWITCH`] on the page: the network goes down and the widget's
/// socket closes; returns once the widget says it is reconnecting.
pub async fn cut_network(browser: &Client) {
    run(
        browser,
        "__offline = true; __sockets[__sockets.length - 1].close();",
    )
    .await;
    until(
        browser,
        "reconnecting",
        "$('.status').classList.contains('reconnecting')",
    )
    .await;
}

/// Helpers for page scripts: `W(i)` is the shadow root of the i-th widget, `$`
/// queries it, `msgs(i)` lists its messages.
pub const PRELUDE: &str = r#"
const W = (i = 0) => document.querySelectorAll('[data-chatctl-root]')[i].shadowRoot;
const $ = (sel, i = 0) => W(i).querySelector(sel);
const shown = (sel, i = 0) => { const e = W(i) && $(sel, i); return !!e && e.getClientRects().length > 0; };
const msgs = (i = 0) => [...W(i).querySelectorAll('[data-chatctl=message]')].map((m) => ({
  text: m.querySelector('.text').textContent, state: m.dataset.state || '', seq: m.dataset.seq || '',
  author: m.querySelector('.author').textContent, id: m.dataset.id || '' }));
const texts = (i = 0) => msgs(i).map((m) => m.text);
const fill = (sel, value, i = 0) => { const e = $(sel, i); e.value = value; e.dispatchEvent(new Event('input', {bubbles: true})); };
"#;

/// A page script (for `page`'s head) that can cut the network: while
/// `__offline` is set, new WebSockets go nowhere, so the widget keeps
/// retrying; `__sockets` holds every socket made, to close the current one.
pub const NETWORK_SWITCH: &str = "<script>
window.__offline = false; window.__sockets = [];
const NativeWebSocket = WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = new NativeWebSocket(__offline ? 'ws://127.0.0.1:9/' : url, protocols);
  __sockets.push(ws);
  return ws;
};
WebSocket.prototype = NativeWebSocket.prototype;
</script>";

pub async fn run(browser: &Client, script: &str) -> Value {
    js(browser, &format!("{PRELUDE}\n{script}")).await
}

/// Waits until the page expression is true; on timeout, shows what the widgets show.
pub async fn until(browser: &Client, what: &str, expr: &str) {
    until_within(browser, 20, what, expr).await;
}

/// [`until`], waiting up to `secs` seconds (for what the widget does on a timer).
pub async fn until_within(browser: &Client, secs: u64, what: &str, expr: &str) {
    let check = format!("{PRELUDE}\ntry {{ return !!({expr}); }} catch (e) {{ return false; }}");
    let started = std::time::Instant::now();
    while js(browser, &check).await != json!(true) {
        if started.elapsed() > std::time::Duration::from_secs(secs) {
            let seen = run(browser, "return [...document.querySelectorAll('[data-chatctl-root]')].map((h, i) => ({messages: msgs(i), notice: $('[data-chatctl=notice]', i).textContent, status: $('.status', i).className}));").await;
            panic!("timed out waiting for {what}\nwidgets: {seen}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A page embedding the widget(s) of `tags` (each the attributes of one script tag).
pub fn page(app: &TestApp, html_lang: &str, head: &str, body: &str, tags: &[String]) -> String {
    let scripts: String = tags
        .iter()
        .map(|attrs| {
            format!(
                "<script src=\"http://{}/widget.js\" {attrs} async></script>\n",
                app.addr
            )
        })
        .collect();
    format!("<!doctype html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Host</title>{head}</head><body>{body}{scripts}</body></html>")
}

/// A page in `html_lang` with nothing but one widget of `site` (`attrs` as in [`tag`]).
pub fn one_widget_page(app: &TestApp, html_lang: &str, site: &Site, attrs: &str) -> String {
    page(app, html_lang, "", "", &[tag(site, attrs)])
}

pub fn tag(site: &Site, extra: &str) -> String {
    format!("data-site=\"{}\" {extra}", site.public_key)
}

/// `/chat` on the host: one widget, in English, in room `lobby`.
pub fn lobby_page(app: &TestApp, host: &HostSite, site: &Site) {
    host.page(
        "/chat",
        one_widget_page(app, "en", site, "data-room=\"lobby\""),
    );
}

/// A [`WidgetScene`] whose host serves `/chat` with one widget in room
/// `lobby` ([`lobby_page`]).
pub async fn lobby_scene(test: &str, builder: TestAppBuilder<'_>) -> Option<WidgetScene> {
    let (chrome, app, host, site) = widget_scene(test, builder).await?;
    lobby_page(&app, &host, &site);
    Some((chrome, app, host, site))
}

/// A desktop browser at `url`.
pub async fn desktop_at(chrome: &Browser, url: &str) -> Client {
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(url).await.unwrap();
    browser
}

/// A visitor in a desktop browser at `url`, joined there as the guest `nick`.
pub async fn guest_at(chrome: &Browser, url: &str, nick: &str) -> Client {
    let browser = desktop_at(chrome, url).await;
    join_as_guest(&browser, nick).await;
    browser
}

/// Clicks the floating widget's launcher once it shows.
pub async fn open_launcher(browser: &Client) {
    until(browser, "the launcher", "shown('.launcher')").await;
    run(browser, "$('.launcher').click();").await;
}

/// Opens the floating widget with the mouse, up to its nickname form.
pub async fn open_nick_form(browser: &Client) {
    open_launcher(browser).await;
    until(browser, "the nickname form", "shown('[data-chatctl=nick]')").await;
}

/// Sends the open nickname form with `nick`.
pub async fn pick_nick(browser: &Client, nick: &str) {
    run(
        browser,
        &format!("fill('#nick', '{nick}'); $('[data-chatctl=nick]').requestSubmit();"),
    )
    .await;
}

/// Opens the floating widget with the mouse and joins as a guest.
pub async fn join_as_guest(browser: &Client, nick: &str) {
    open_nick_form(browser).await;
    pick_nick(browser, nick).await;
    until(
        browser,
        "the composer",
        "shown('[data-chatctl=composer]') && $('.me').textContent.length > 0",
    )
    .await;
}

/// A page script: the online list's lines, sorted (by UTF-16 code units:
/// Cyrillic after Latin).
pub const PEOPLE: &str =
    "return [...W().querySelectorAll('.people li')].map((li) => li.textContent).sort();";

/// Opens the online list (a click on the count) and waits until it has `n` lines.
pub async fn open_people_list(browser: &Client, n: usize) {
    run(browser, "$('.who').click();").await;
    let lines = format!("W().querySelectorAll('.people li').length === {n}");
    until(browser, "the online list", &lines).await;
}

pub async fn say(browser: &Client, text: &str) {
    run(
        browser,
        &format!(
            "fill('#text', {}); $('[data-chatctl=composer]').requestSubmit();",
            json!(text)
        ),
    )
    .await;
}

/// Says `text` and waits until the widget marks it sent.
pub async fn say_and_see_it_sent(browser: &Client, text: &str) {
    say(browser, text).await;
    let sent = format!(
        "msgs().some((m) => m.text === {} && m.state === 'sent')",
        json!(text)
    );
    until(browser, &format!("{text:?} sent"), &sent).await;
}

/// Clicks the "register" link of the nickname form, once it shows.
pub async fn click_register_link(browser: &Client) {
    until(
        browser,
        "the register link",
        "shown('[data-chatctl=nick] [data-to=register]')",
    )
    .await;
    run(
        browser,
        "$('[data-chatctl=nick] [data-to=register]').click();",
    )
    .await;
}

/// Fills the open registration form (password [`MEMBER_PASSWORD`]), sends it,
/// and waits for the check-your-mail message.
pub async fn register(browser: &Client, name: &str, email: &str) {
    let form =
        format!("fill('#rn', '{name}'); fill('#re', '{email}'); fill('#rp', '{MEMBER_PASSWORD}');");
    run(
        browser,
        &format!("{form} $('[data-chatctl=register]').requestSubmit();"),
    )
    .await;
    let told = format!("shown('[data-chatctl=login]') && $('[data-chatctl=login] .msgbox').textContent.includes('{email}') && $('#le').value === '{email}'");
    until(browser, "the check-your-mail message", &told).await;
}
