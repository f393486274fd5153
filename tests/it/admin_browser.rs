//! The panel in a real browser: headless Chromium driven through chromedriver
//! (Debian `chromium` and `chromium-driver`). A visitor chats in the demo
//! page's widget; a moderator logs in, bans them from the participant page,
//! and the widget shows the ban notice.
//!
//! Without chromedriver the test prints SKIPPED and passes, except under
//! `CI=true` where it fails. With `CHATCTL_SCREENSHOTS=DIR` it saves PNGs of
//! the main pages there (the README's come from `docs/screenshots`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatctl::db::models::participant::ParticipantQuery;
use chatctl::db::models::{Participant, Role};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::common::*;
use crate::panel::*;

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Ends chromedriver when the test ends, even on failure, then removes the
/// browser profile.
struct Driver(Child, Option<tempfile::TempDir>);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        drop(self.1.take());
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_browser() -> Option<(Driver, Client)> {
    let Some(binary) = chromedriver() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromedriver is missing on CI: apt-get install chromium chromium-driver");
        }
        eprintln!("\n*** SKIPPED admin_browser: chromedriver not found (apt-get install chromium chromium-driver) ***\n");
        return None;
    };
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let profile_path = profile.path().to_owned();
    let driver = Driver(child, Some(profile));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", format!("--user-data-dir={}", profile_path.display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return Some((driver, client)),
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(err) => panic!("cannot start a browser session: {err}"),
        }
    }
}

/// Polls a script until it returns `true`.
async fn wait_for(browser: &Client, what: &str, script: &str) {
    let started = Instant::now();
    loop {
        let value = browser.execute(script, vec![]).await.unwrap();
        if value == json!(true) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The widget's shadow root, in page scripts.
const WIDGET: &str =
    "const root = [...document.querySelectorAll('*')].find((e) => e.shadowRoot).shadowRoot;";

async fn screenshot(browser: &Client, name: &str) {
    let Ok(dir) = std::env::var("CHATCTL_SCREENSHOTS") else {
        return;
    };
    let png = browser.screenshot().await.unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn a_moderator_bans_a_visitor_and_their_widget_is_kicked() {
    let Some((_driver, browser)) = start_browser().await else {
        return;
    };
    let app = spawn_app().await;
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
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_for(
        &browser,
        "the widget",
        &format!("{WIDGET} return !!root.querySelector('#nick');"),
    )
    .await;
    wait_for(
        &browser,
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
        &browser,
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
    wait_for(&browser, "the message sent", &format!("{WIDGET} return [...root.querySelectorAll('[data-chatctl=message]')].some((m) => m.textContent.includes('FOLLOWERS') && m.dataset.state !== 'sending');")).await;
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
    screenshot(&browser, "login").await;
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
    screenshot(&browser, "dashboard").await;
    browser
        .goto(&format!("{base}/admin/messages"))
        .await
        .unwrap();
    screenshot(&browser, "messages").await;

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
    // Everyone here shares 127.0.0.1: ban the participant only, so that ann stays.
    browser
        .find(Locator::Css("#ban-form input[name=with_ip]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&browser, "participant").await;
    browser
        .find(Locator::Css("#ban-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let flash = browser
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert!(flash.text().await.unwrap().contains("troll is banned"));

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
    // Readable on a phone.
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
