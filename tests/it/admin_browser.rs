//! The panel in a real browser: headless Chromium driven through chromedriver
//! (Debian `chromium` and `chromium-driver`). A visitor chats in the demo
//! page's widget; a moderator logs in, bans them from the participant page,
//! and the widget shows the ban notice.
//!
//! Without chromedriver the test prints SKIPPED and passes, except under
//! `CI=true` where it fails. With `CHATCTL_SCREENSHOTS=DIR` it saves PNGs of
//! the main pages there (the README's come from `docs/screenshots`).

use chatctl::db::models::participant::ParticipantQuery;
use chatctl::db::models::{Participant, Role};
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::support::browser::*;
use crate::support::panel::*;
use crate::support::*;

/// The widget's shadow root, in page scripts.
const WIDGET: &str = "const root = document.querySelector('[data-chatctl-root]').shadowRoot;";

#[tokio::test]
async fn a_moderator_bans_a_visitor_and_their_widget_is_kicked() {
    let Some(chrome) = Browser::start("admin_browser") else {
        return;
    };
    let browser = chrome.session(Screen::Desktop).await;
    let app = TestApp::spawn().await;
    let base = format!("http://127.0.0.1:{}", app.addr.port());
    let demo = app.state.demo_site_key.clone().unwrap();
    account(&app, "mod@example.com", Role::Owner, &[]).await;

    // Some conversation for the pages to show.
    let origin = base.clone();
    let mut ann = app.try_connect(&demo, Some(&origin)).await.unwrap();
    ann.hello(json!({"nick": "ann"})).await;
    ann.join("lobby", None).await;
    ann.say("lobby", "a1", "Hello! Is the meetup still on Friday?")
        .await;
    ann.say("lobby", "a2", "I can bring the projector.").await;

    // The visitor chats in the widget.
    visitor_sends_spam(&browser, &base).await;
    let spam = ann.recv_type("message").await;
    ann.send(json!({"type": "report", "room": "lobby", "seq": spam["seq"], "reason": "spam"}))
        .await;
    ann.recv_type("reported").await;
    let widget_window = browser.window().await.unwrap();
    let troll = app
        .db
        .run(|conn| Participant::search(conn, None, &ParticipantQuery::Nick("troll".into()), 1))
        .await
        .unwrap()
        .remove(0);

    // The moderator, in another tab.
    let admin_window = browser.new_window(true).await.unwrap();
    browser.switch_to_window(admin_window.handle).await.unwrap();
    log_in(&browser, &base).await;
    messages_read_in_local_time(&browser, &base).await;

    ban_from_the_participant_page(&browser, &base, &troll).await;

    // The widget was kicked and says why.
    browser.switch_to_window(widget_window).await.unwrap();
    wait_for(&browser, "the ban notice", &format!("{WIDGET} const n = root.querySelector('[data-chatctl=notice]'); return !n.hidden && n.textContent.includes('Spam links');")).await;
    screenshot(&browser, "widget-banned").await;
    // The other visitor saw nothing of it and stays.
    ann.say("lobby", "a3", "Sorry about that spam.").await;

    browser
        .switch_to_window(admin_window_handle(&browser).await)
        .await
        .unwrap();
    for (page, name) in [
        ("bans", "bans"),
        ("reports", "reports"),
        ("audit", "audit"),
        ("sites/1", "site"),
    ] {
        browser.goto(&format!("{base}/admin/{page}")).await.unwrap();
        screenshot(&browser, name).await;
    }
    readable_on_a_phone(&browser, &base, &troll).await;
    screenshot(&browser, "phone-participant").await;
    browser.close().await.unwrap();
}

/// The window that is not the current one.
async fn admin_window_handle(browser: &Client) -> fantoccini::wd::WindowHandle {
    let current = browser.window().await.unwrap();
    browser
        .windows()
        .await
        .unwrap()
        .into_iter()
        .find(|w| *w != current)
        .unwrap()
}

/// In the demo page's widget, a visitor joins as "troll" and sends spam.
async fn visitor_sends_spam(browser: &Client, base: &str) {
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_for(
        browser,
        "the widget",
        &format!("{WIDGET} return !!root.querySelector('#nick');"),
    )
    .await;
    wait_for(
        browser,
        "the nickname form",
        &format!("{WIDGET} return !root.querySelector('[data-chatctl=nick]').hidden;"),
    )
    .await;
    browser
        .execute(
            &format!("{WIDGET} root.querySelector('#nick').value = 'troll'; root.querySelector('[data-chatctl=nick]').requestSubmit(); return true;"),
            vec![],
        )
        .await
        .unwrap();
    wait_for(
        browser,
        "the composer",
        &format!("{WIDGET} return !root.querySelector('[data-chatctl=composer]').hidden;"),
    )
    .await;
    browser
        .execute(
            &format!("{WIDGET} root.querySelector('#text').value = 'BUY CHEAP FOLLOWERS at spam.example'; root.querySelector('[data-chatctl=composer]').requestSubmit(); return true;"),
            vec![],
        )
        .await
        .unwrap();
    wait_for(browser, "the message sent", &format!("{WIDGET} return [...root.querySelectorAll('[data-chatctl=message]')].some((m) => m.textContent.includes('FOLLOWERS') && m.dataset.state !== 'sending');")).await;
}

/// The moderator logs in to the panel (on the dashboard after).
async fn log_in(browser: &Client, base: &str) {
    browser.goto(&format!("{base}/admin")).await.unwrap();
    browser
        .find(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys("mod@example.com")
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    screenshot(browser, "login").await;
    browser
        .find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("[data-refresh]"))
        .await
        .unwrap();
    screenshot(browser, "dashboard").await;
}

/// The message log shows times in the reader's own zone and format, with the
/// UTC time as the tooltip.
async fn messages_read_in_local_time(browser: &Client, base: &str) {
    browser
        .goto(&format!("{base}/admin/messages"))
        .await
        .unwrap();
    let times = browser
        .execute(
            "const f = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
             return [...document.querySelectorAll('time[datetime]')].map((t) =>
               [t.textContent === f.format(new Date(t.dateTime)), t.title.endsWith(' UTC')]);",
            vec![],
        )
        .await
        .unwrap();
    let times = times.as_array().unwrap();
    assert!(
        !times.is_empty() && times.iter().all(|t| t == &json!([true, true])),
        "{times:?}"
    );
    screenshot(browser, "messages").await;
}

/// Bans `troll` for the default day from their page, confirming the question.
async fn ban_from_the_participant_page(browser: &Client, base: &str, troll: &Participant) {
    browser
        .goto(&format!("{base}/admin/participants/{}", troll.id))
        .await
        .unwrap();
    browser
        .find(Locator::Css("#ban-form input[name=reason]"))
        .await
        .unwrap()
        .send_keys("Spam links")
        .await
        .unwrap();
    // Everyone here shares 127.0.0.1: the address is left alone unless asked, so ann stays.
    let address_box = browser
        .find(Locator::Css("#ban-form input[name=with_ip]"))
        .await
        .unwrap();
    assert!(!address_box.is_selected().await.unwrap());
    screenshot(browser, "participant").await;
    browser
        .find(Locator::Css("#ban-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The confirmation names the length chosen (the default: one day).
    let question = browser.get_alert_text().await.unwrap();
    assert!(question.contains("Ban troll for 1 day?"), "{question}");
    browser.accept_alert().await.unwrap();
    let flash = browser
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert!(flash.text().await.unwrap().contains("troll is banned"));
}

/// The participant page fits a phone's width, and the navigation leaves the
/// screen to the page (it took a quarter of it).
async fn readable_on_a_phone(browser: &Client, base: &str, troll: &Participant) {
    browser.set_window_size(390, 844).await.unwrap();
    browser
        .goto(&format!("{base}/admin/participants/{}", troll.id))
        .await
        .unwrap();
    let width: serde_json::Value = browser
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_i64().unwrap() <= 400,
        "no horizontal scrolling on a phone: {width}"
    );
    let header: serde_json::Value = browser
        .execute(
            "return document.querySelector('header.top').getBoundingClientRect().height / window.innerHeight;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        header.as_f64().unwrap() < 0.12,
        "the header takes {header} of a phone's screen"
    );
}
