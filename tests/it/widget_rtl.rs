//! Right-to-left text and pages (issue 17, item 2): each message, name and the
//! composer take their own direction, the panel mirrors on right-to-left pages,
//! and the Arabic pack.

use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::{one_widget_page, page, run, tag, until, visitor, widget_scene};
use crate::support::*;

/// How far right the last character of a message is drawn from its first:
/// positive when the text reads left to right (its final `!` at the right end).
const LAST_MINUS_FIRST: &str = r#"
const x = (text) => {
  const el = [...W().querySelectorAll('.text')].find((e) => e.textContent === text);
  const node = el.firstChild, r = document.createRange();
  const at = (i) => { r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
  return at(text.length - 1) - at(0);
};"#;

const ENGLISH: &str = "hello world!";
const ARABIC: &str = "مرحبا بالعالم!";

#[tokio::test]
async fn widget_reads_right_to_left_messages_and_mirrors_on_rtl_pages() {
    let Some((chrome, app, host, site)) =
        widget_scene("widget_reads_right_to_left", TestApp::builder()).await
    else {
        return;
    };
    let mut sara = visitor(&app, &host, &site, "سارة", "lobby").await;
    sara.say("lobby", "s1", ENGLISH).await;
    sara.say("lobby", "s2", ARABIC).await;

    let open = "data-room=\"lobby\" data-open=\"true\"";
    let rtl = page(&app, "ar", "", "<p>صفحة</p>", &[tag(&site, open)])
        .replace("<html lang=\"ar\">", "<html lang=\"ar\" dir=\"rtl\">");
    host.page("/rtl", rtl);
    host.page("/ltr", one_widget_page(&app, "en", &site, open));
    host.page(
        "/ltr-ar",
        one_widget_page(&app, "en", &site, &format!("{open} data-lang=\"ar\"")),
    );
    let browser = chrome.session(Screen::Desktop).await;

    on_a_right_to_left_page(&browser, &host).await;
    on_a_left_to_right_page(&browser, &host).await;
    // The Arabic pack on a left-to-right page: the panel is right to left.
    browser.goto(&host.url("/ltr-ar")).await.unwrap();
    until(
        &browser,
        "the Arabic panel",
        "shown('.panel') && $('.launcher .lt').textContent === 'الدردشة' && getComputedStyle($('.root')).direction === 'rtl'",
    )
    .await;
    browser.close().await.unwrap();
}

/// A right-to-left page: Arabic texts (from `<html lang>`), the panel
/// mirrored, each message and name in its own direction, and the composer
/// in the direction of what is typed.
async fn on_a_right_to_left_page(browser: &Session, host: &HostSite) {
    browser.goto(&host.url("/rtl")).await.unwrap();
    until(
        browser,
        "the Arabic nickname form",
        "shown('#nick') && $('label[for=nick]').textContent === 'اختر اسمًا مستعارًا للانضمام إلى الدردشة' && $('.launcher .lt').textContent === 'الدردشة'",
    )
    .await;
    run(
        browser,
        "fill('#nick', 'Bob'); $('[data-chatctl=nick]').requestSubmit();",
    )
    .await;
    until(
        browser,
        "the messages",
        &format!(
            "texts().includes({}) && texts().includes({})",
            json!(ENGLISH),
            json!(ARABIC)
        ),
    )
    .await;
    let looks = run(
        browser,
        &format!(
            "{LAST_MINUS_FIRST}
             const p = $('.panel').getBoundingClientRect(), l = $('.launcher').getBoundingClientRect();
             return {{ dir: getComputedStyle($('.root')).direction, panelLeft: p.left, panelRight: innerWidth - p.right,
                      launcherLeft: l.left, closeLeftOfTitle: $('.x').getBoundingClientRect().right <= $('h2').getBoundingClientRect().left,
                      english: x({}), arabic: x({}), name: $('.author').matches(':dir(rtl)'),
                      me: $('.me').textContent }};",
            json!(ENGLISH),
            json!(ARABIC)
        ),
    )
    .await;
    assert_eq!(looks["dir"], "rtl", "{looks}");
    assert!(
        looks["panelLeft"].as_f64().unwrap() < looks["panelRight"].as_f64().unwrap(),
        "the panel on the left: {looks}"
    );
    assert!(looks["launcherLeft"].as_f64().unwrap() < 100.0, "{looks}");
    assert_eq!(looks["closeLeftOfTitle"], json!(true), "{looks}");
    assert!(
        looks["english"].as_f64().unwrap() > 0.0,
        "`hello world!` ends on the right in a right-to-left page: {looks}"
    );
    assert!(looks["arabic"].as_f64().unwrap() < 0.0, "{looks}");
    assert_eq!(
        looks["name"],
        json!(true),
        "an Arabic name reads right to left: {looks}"
    );
    assert_eq!(looks["me"], "أنت Bob", "{looks}");
    // The composer takes the direction of what is typed.
    let typed = run(
        browser,
        "fill('#text', 'hello'); const ltr = $('#text').matches(':dir(ltr)'); fill('#text', 'مرحبا'); return [ltr, $('#text').matches(':dir(rtl)')];",
    )
    .await;
    assert_eq!(typed, json!([true, true]), "composer on the RTL page");
    screenshot(browser, "widget-rtl").await;
}

/// A left-to-right page: Arabic messages, names and typing still read right
/// to left.
async fn on_a_left_to_right_page(browser: &Session, host: &HostSite) {
    browser.goto(&host.url("/ltr")).await.unwrap();
    until(
        browser,
        "the messages",
        &format!("texts().includes({})", json!(ARABIC)),
    )
    .await;
    let looks = run(
        browser,
        &format!(
            "{LAST_MINUS_FIRST}
             const p = $('.panel').getBoundingClientRect();
             fill('#text', 'مرحبا');
             return {{ dir: getComputedStyle($('.root')).direction, panelRight: innerWidth - p.right, english: x({}),
                      arabic: x({}), name: $('.author').matches(':dir(rtl)'), composer: $('#text').matches(':dir(rtl)') }};",
            json!(ENGLISH),
            json!(ARABIC)
        ),
    )
    .await;
    assert_eq!(looks["dir"], "ltr", "{looks}");
    assert!(looks["panelRight"].as_f64().unwrap() < 100.0, "{looks}");
    assert!(looks["english"].as_f64().unwrap() > 0.0, "{looks}");
    assert!(
        looks["arabic"].as_f64().unwrap() < 0.0,
        "an Arabic message ends with its `!` on the left: {looks}"
    );
    assert_eq!(looks["name"], json!(true), "{looks}");
    assert_eq!(looks["composer"], json!(true), "{looks}");
}
