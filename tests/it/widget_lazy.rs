//! The widget's part loaded on demand (`widget/src/extra.js`, docs/WIDGET.md "How
//! the files become two scripts") in headless Chromium: a page whose visitor never
//! opens the chat never fetches it; opening the chat does, and the account forms it
//! brings work (a registration, mailed through real SMTP). A failed load says so and
//! tries again; a core left behind by an upgrade is told to reload.

use serde_json::json;

use crate::support::browser::*;
use crate::support::mailbox::Mailbox;
use crate::support::widget_page::{
    click_register_link, page, register, registration_scene, run, tag, until,
};
use crate::support::TestApp;

/// What the page fetched of the on-demand part (its script and its texts).
const EXTRA_REQUESTS: &str = "return performance.getEntriesByType('resource').map((e) => e.name).filter((u) => u.includes('extra'));";

/// A flaky network for the on-demand script: while `__fail` is set, the widget's
/// `<script>` for it asks for a file the server does not have (a 404: the script's
/// `error` event, as when the network fails).
const FLAKY: &str = "<script>
window.__fail = false;
const append = HTMLHeadElement.prototype.appendChild;
HTMLHeadElement.prototype.appendChild = function (e) {
  if (__fail && e.src && e.src.endsWith('/extra.js')) e.src = e.src.replace('/extra.js', '/missing.js');
  return append.call(this, e);
};
</script>";

/// Opens the page; returns once the widget's core runs, the chat still closed.
async fn open_closed(browser: &Session, host: &HostSite) {
    browser.goto(&host.url("/")).await.unwrap();
    until(
        browser,
        "the launcher",
        "shown('.launcher') && window.Chatctl.core",
    )
    .await;
}

/// The on-demand part came from the chat server, at `version`: the script
/// (after the failed tries) and English texts once.
async fn fetched_from_the_chat_server_once(browser: &Session, app: &TestApp, version: &str) {
    let fetched = run(browser, EXTRA_REQUESTS).await;
    let chat = format!("http://{}/widget/{version}", app.addr);
    let fetched: Vec<&str> = fetched
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        fetched.contains(&format!("{chat}/extra.js").as_str()),
        "{fetched:?}"
    );
    assert_eq!(
        fetched
            .iter()
            .filter(|u| **u == format!("{chat}/en.extra.json"))
            .count(),
        1,
        "{fetched:?}"
    );
}

#[tokio::test]
async fn widget_loads_its_account_forms_on_demand_once_the_chat_is_opened() {
    let mailbox = Mailbox::start();
    let Some((chrome, app, host, site)) = registration_scene("widget_lazy", &mailbox).await else {
        return;
    };
    let version = chatctl::http::widget::bundle::get()
        .unwrap()
        .version
        .clone();
    host.page(
        "/",
        page(&app, "en", FLAKY, "", &[tag(&site, "data-room=\"lobby\"")]),
    );
    let browser = chrome.session(Screen::Desktop).await;
    open_closed(&browser, &host).await;

    // The chat stays closed: the page never fetches the on-demand part, even when idle.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(run(&browser, EXTRA_REQUESTS).await, json!([]));
    let state = run(
        &browser,
        "return [Chatctl.core.v, !!Chatctl.core.loaded, !!$('form.login'), !!$('form.register')];",
    )
    .await;
    assert_eq!(state, json!([version, false, false, false]));

    // The visitor opens the chat and asks for the registration form while the network
    // fails: the widget says so, and keeps trying.
    run(&browser, "window.__fail = true; $('.launcher').click();").await;
    click_register_link(&browser).await;
    until(&browser, "the failure said", "shown('[data-chatctl=notice]') && $('[data-chatctl=notice]').textContent === 'This part of the chat could not load. Trying again…'").await;
    assert_eq!(
        run(&browser, "return !!$('form.register');").await,
        json!(false)
    );

    // The network is back: the next try brings the form, focused, with its texts.
    run(&browser, "window.__fail = false;").await;
    until(&browser, "the register form", "shown('[data-chatctl=register]') && W().activeElement === $('#rn') && $('[data-chatctl=register] .go').textContent === 'Create account' && !shown('[data-chatctl=notice]')").await;
    register(&browser, "Carol", "carol@example.com").await;
    let mail = mailbox.nth("carol@example.com", 1).await;
    assert!(!mail.link("/account/verify").is_empty());

    fetched_from_the_chat_server_once(&browser, &app, &version).await;

    // A page left open across an upgrade: its core is not the version the server now
    // serves the on-demand part for. That part does not run; the visitor is told to reload.
    open_closed(&browser, &host).await;
    run(
        &browser,
        "Chatctl.core.v = '0123456789ab'; $('.launcher').click();",
    )
    .await;
    click_register_link(&browser).await;
    until(&browser, "asked to reload", "$('[data-chatctl=notice]').textContent === 'The chat was updated. Reload the page to continue.' && !$('form.register') && Chatctl.core.stale").await;
    browser.close().await.unwrap();
}
