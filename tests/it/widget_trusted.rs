//! The widget on a page that enforces Trusted Types (issue 17, item 1): no
//! markup strings, and script URLs only through its named policy `chatctl`,
//! which the page's `trusted-types` allow-list names next to its own, under a
//! strict CSP as well.

use chatctl::db::models::Site;
use serde_json::json;

use crate::support::browser::*;
use crate::support::widget_page::{page, run, tag, until, visitor, widget_scene};
use crate::support::*;

/// A page under a strict CSP that enforces Trusted Types, with its own
/// policy (`app`) and a record of every violation, holding two widgets.
fn trusted_types_page(app: &TestApp, site: &Site) -> String {
    let chat = format!("http://{}", app.addr);
    let csp = format!(
        "require-trusted-types-for 'script'; trusted-types app chatctl; default-src 'none'; \
         script-src {chat} 'nonce-host'; connect-src {chat} ws://{}; style-src 'none'; img-src 'none'",
        app.addr
    );
    // The page's own script: its own policy, and a record of every violation.
    let head = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">
<script nonce=\"host\">
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => __violations.push(e.violatedDirective + ' ' + e.sample));
trustedTypes.createPolicy('app', {{}});
</script>"
    );
    // Two tags (two widgets): the loader runs twice, the policy is made once.
    page(
        app,
        "en",
        &head,
        "<div id=\"chat\"></div>",
        &[
            tag(
                site,
                "data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\"",
            ),
            tag(site, "data-room=\"side\""),
        ],
    )
}

/// The on-demand part (the report and login forms) loads through the same
/// policy; the floating widget opens too, styled by constructed stylesheets.
async fn on_demand_parts_load_through_the_policy(browser: &Session) {
    run(browser, "$('[data-chatctl=message] .rep').click();").await;
    until(
        browser,
        "the report form",
        "Chatctl.core.loaded && shown('.repform')",
    )
    .await;
    assert_eq!(
        run(
            browser,
            "return !!$('form.login') && $('label[for=le]').textContent;"
        )
        .await,
        json!("Email")
    );
    // The floating one opens too, styled (constructed stylesheets, no inline style).
    run(browser, "$('.launcher', 1).click();").await;
    until(
        browser,
        "the floating widget",
        "shown('.panel', 1) && getComputedStyle($('header', 1)).backgroundColor === 'rgb(37, 99, 235)'",
    )
    .await;
}

#[tokio::test]
async fn widget_works_on_a_page_that_enforces_trusted_types() {
    let test = "widget_works_on_a_page_that_enforces_trusted_types";
    let Some((chrome, app, host, site)) = widget_scene(test, TestApp::builder()).await else {
        return;
    };
    host.page("/tt", trusted_types_page(&app, &site));
    let mut bob = visitor(&app, &host, &site, "bob", "lobby").await;
    bob.say("lobby", "b1", "Hello from bob").await;

    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/tt")).await.unwrap();
    // The page does enforce them: markup into innerHTML throws.
    let enforced = run(
        &browser,
        "try { document.createElement('div').innerHTML = '<b>x</b>'; return false; } catch (e) { return e instanceof TypeError; }",
    )
    .await;
    assert_eq!(enforced, json!(true), "the page enforces Trusted Types");

    // Both widgets appear; the inline one (first in the page) chats.
    until(
        &browser,
        "both widgets",
        "document.querySelectorAll('[data-chatctl-root]').length === 2 && shown('[data-chatctl=nick]') && shown('.launcher', 1)",
    )
    .await;
    run(
        &browser,
        "fill('#nick', 'tina'); $('[data-chatctl=nick]').requestSubmit();",
    )
    .await;
    until(
        &browser,
        "bob's message",
        "shown('[data-chatctl=composer]') && texts().includes('Hello from bob')",
    )
    .await;
    run(
        &browser,
        "fill('#text', 'Hi under Trusted Types'); $('[data-chatctl=composer]').requestSubmit();",
    )
    .await;
    let got = bob.recv_type("message").await;
    assert_eq!(got["text"], "Hi under Trusted Types");
    bob.say("lobby", "b2", "Read you").await;
    until(&browser, "bob's answer", "texts().includes('Read you')").await;

    on_demand_parts_load_through_the_policy(&browser).await;
    assert_eq!(
        run(
            &browser,
            "return __violations.filter((v) => !v.endsWith('<b>x</b>'));"
        )
        .await,
        json!([]),
        "no Trusted Types or CSP violation"
    );
    browser.close().await.unwrap();
}
