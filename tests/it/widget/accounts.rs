//! Accounts in the widget: registering, confirming by mail, signing in and
//! out, a forgotten password, users the host site signs in (with avatars,
//! switched by `identify()`, forged tokens refused), and sites that close
//! registration or admit signed-in users only.

use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::browser::*;
use crate::support::jwt;
use crate::support::mailbox::Mailbox;
use crate::support::widget_page::*;
use crate::support::MEMBER_PASSWORD as PASSWORD;
use crate::support::*;

/// The tag of an inline widget in the lobby, in `#chat`, with `extra` attributes.
fn inline(site: &Site, extra: &str) -> String {
    tag(
        site,
        &format!("data-room=\"lobby\" data-mode=\"inline\" data-target=\"#chat\" {extra}"),
    )
}

/// A page with the widget of `tag` in its `#chat`.
fn chat_page(app: &TestApp, tag: String) -> String {
    page(app, "en", "", "<div id=\"chat\"></div>", &[tag])
}

#[tokio::test]
async fn widget_accounts_register_confirm_log_in_and_identify() {
    let mailbox = Mailbox::start();
    let Some((chrome, app, host, site)) = registration_scene("widget_accounts", &mailbox).await
    else {
        return;
    };
    host.page("/", chat_page(&app, inline(&site, "")));
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/")).await.unwrap();

    registers_in_the_widget(&browser).await;
    an_unconfirmed_account_cannot_sign_in_nor_ask_again_at_once(&browser).await;
    the_mailed_link_confirms_the_address(&browser, &mailbox).await;
    signs_in_after_a_wrong_password(&host, &browser).await;
    the_session_survives_a_reload_until_signing_out(&site, &browser).await;
    a_forgotten_password_gets_a_reset_mail(&browser, &mailbox).await;
    the_host_site_signs_its_user_in(&app, &site, &host, &browser).await;
    identify_brings_an_avatar_and_switches_users(&site, &host, &browser).await;
    a_forged_token_is_refused(&browser).await;
    closed_registration_leaves_sign_in_to_members(&app, &site, &host, &browser).await;
    a_members_only_site_without_members_says_so(&app, &host, &browser).await;
    browser.close().await.unwrap();
}

/// Register: the site allows it, so the widget offers it.
async fn registers_in_the_widget(browser: &Session) {
    click_register_link(browser).await;
    until(
        browser,
        "the register form",
        "shown('[data-chatctl=register]') && W().activeElement === $('#rn')",
    )
    .await;
    register(browser, "Alice", "alice@example.com").await;
}

/// Signing in before confirming is refused with a clear message.
async fn an_unconfirmed_account_cannot_sign_in_nor_ask_again_at_once(browser: &Session) {
    run(
        browser,
        &format!("fill('#lp', '{PASSWORD}'); $('[data-chatctl=login]').requestSubmit();"),
    )
    .await;
    until(
        browser,
        "not verified",
        "$('[data-chatctl=login] .msgbox').textContent.includes('confirm your email')",
    )
    .await;
    // Asking for the mail again right away: the widget says when to retry.
    run(
        browser,
        "$('[data-chatctl=login] [data-to=resend]').click();",
    )
    .await;
    until(browser, "the resend form", "shown('[data-chatctl=mail]') && $('[data-chatctl=mail] .go').textContent === 'Send the link again'").await;
    run(
        browser,
        "fill('#me', 'alice@example.com'); $('[data-chatctl=mail]').requestSubmit();",
    )
    .await;
    until(browser, "too soon", "(/^Too many attempts\\. Try again in [1-9][0-9]* s\\.$/).test($('[data-chatctl=mail] .msgbox').textContent)").await;
}

/// The link in the mail confirms the address.
async fn the_mailed_link_confirms_the_address(browser: &Session, mailbox: &Mailbox) {
    let mail = mailbox.nth("alice@example.com", 1).await;
    browser.goto(&mail.link("/account/verify")).await.unwrap();
    wait_for(
        browser,
        "the confirmation page",
        "return document.body.innerText.length > 0;",
    )
    .await;
}

/// Back on the page: a wrong password is refused; the right one signs alice in,
/// and she speaks as a member (not a guest).
async fn signs_in_after_a_wrong_password(host: &HostSite, browser: &Session) {
    browser.goto(&host.url("/")).await.unwrap();
    until(
        browser,
        "the sign-in link",
        "shown('[data-chatctl=nick] [data-to=login]')",
    )
    .await;
    run(browser, "$('[data-chatctl=nick] [data-to=login]').click();").await;
    // The form comes with the part of the widget loaded on first need.
    until(browser, "the sign-in form", "shown('#le') && shown('#lp')").await;
    run(browser, "fill('#le', 'alice@example.com'); fill('#lp', 'wrong Password 1'); $('[data-chatctl=login]').requestSubmit();").await;
    until(
        browser,
        "wrong password",
        "$('[data-chatctl=login] .msgbox').textContent === 'Wrong email or password.'",
    )
    .await;
    run(
        browser,
        &format!("fill('#lp', '{PASSWORD}'); $('[data-chatctl=login]').requestSubmit();"),
    )
    .await;
    until(browser, "signed in", "shown('[data-chatctl=composer]') && $('.me').textContent === 'You are Alice' && shown('.out')").await;
    say(browser, "A member speaks").await;
    until(browser, "sent as a member", "msgs().some((m) => m.text === 'A member speaks' && m.state === 'sent' && m.author === 'Alice')").await;
    assert_eq!(
        run(
            browser,
            "return W().querySelectorAll('.own .guest').length;"
        )
        .await,
        json!(0)
    );
}

/// The session survives a reload; signing out forgets it.
async fn the_session_survives_a_reload_until_signing_out(site: &Site, browser: &Session) {
    browser.refresh().await.unwrap();
    until(
        browser,
        "still signed in",
        "$('.me').textContent === 'You are Alice'",
    )
    .await;
    run(browser, "$('.out').click();").await;
    until(
        browser,
        "signed out",
        "shown('[data-chatctl=nick]') && !shown('.out')",
    )
    .await;
    let stored = run(
        browser,
        &format!(
            "return localStorage.getItem('chatctl:{}:account');",
            site.public_key
        ),
    )
    .await;
    assert_eq!(stored, Value::Null);
}

/// Forgotten password: the widget asks for the reset mail.
async fn a_forgotten_password_gets_a_reset_mail(browser: &Session, mailbox: &Mailbox) {
    run(browser, "$('[data-chatctl=nick] [data-to=login]').click(); $('[data-chatctl=login] [data-to=forgot]').click();").await;
    until(
        browser,
        "the reset form",
        "shown('[data-chatctl=mail]') && W().activeElement === $('#me')",
    )
    .await;
    run(
        browser,
        "fill('#me', 'alice@example.com'); $('[data-chatctl=mail]').requestSubmit();",
    )
    .await;
    until(
        browser,
        "the reset answer",
        "$('[data-chatctl=mail] .msgbox').textContent.includes('an email is on its way')",
    )
    .await;
    let reset = mailbox.nth("alice@example.com", 2).await;
    assert!(reset.text.contains("/account/reset"), "{}", reset.text);
}

/// A user signed in by the host site: the token in the tag, then identify(token).
async fn the_host_site_signs_its_user_in(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    browser: &Session,
) {
    let token = jwt::user_token(&site.secret, "u-42", "Host User");
    let tag = inline(site, &format!("data-user-token=\"{token}\""));
    host.page("/member", chat_page(app, tag));
    browser.goto(&host.url("/member")).await.unwrap();
    until(
        browser,
        "the verified user",
        "$('.me').textContent === 'You are Host User' && shown('[data-chatctl=composer]')",
    )
    .await;
    say(browser, "Verified by the host").await;
    until(browser, "sent as verified", "msgs().some((m) => m.text === 'Verified by the host' && m.state === 'sent' && m.author === 'Host User')").await;
}

/// A verified user's avatar (http/https) replaces the initials.
async fn identify_brings_an_avatar_and_switches_users(
    site: &Site,
    host: &HostSite,
    browser: &Session,
) {
    let png = std::fs::read("docs/screenshots/widget-banned.png").unwrap();
    host.file("/avatar.png", "image/png", png);
    let avatar = host.url("/avatar.png");
    let with_avatar = jwt::sign(
        &site.secret,
        json!({"sub": "u-42", "name": "Host User", "avatar": avatar, "exp": jwt::exp()}),
    );
    run(browser, &format!("Chatctl.identify('{with_avatar}');")).await;
    // (the online count comes back with the room's welcome, after `ready`)
    until(
        browser,
        "in the room again",
        "shown('[data-chatctl=composer]') && shown('.who')",
    )
    .await;
    say(browser, "With a face").await;
    until(browser, "the avatar", &format!("(() => {{ const m = [...W().querySelectorAll('[data-chatctl=message]')].find((m) => m.textContent.includes('With a face')); const img = m && m.querySelector('.av img'); return !!img && img.getAttribute('src') === '{avatar}' && img.complete && img.naturalWidth > 0; }})()")).await;
    let other = jwt::user_token(&site.secret, "u-43", "Second User");
    run(browser, &format!("Chatctl.identify('{other}');")).await;
    until(
        browser,
        "identify() switched the user",
        "$('.me').textContent === 'You are Second User'",
    )
    .await;
}

/// A forged token is refused, never turned into a guest.
async fn a_forged_token_is_refused(browser: &Session) {
    run(
        browser,
        &format!(
            "Chatctl.identify('{}');",
            jwt::user_token("not-the-secret", "u-44", "Forger")
        ),
    )
    .await;
    until(browser, "the forged token refused", "shown('[data-chatctl=notice]') && $('[data-chatctl=notice]').textContent.startsWith('We could not confirm your sign-in for this chat.') && !shown('[data-chatctl=composer]') && !shown('[data-chatctl=nick]')").await;
}

/// Registration closes: the site's members can still sign in; nobody new can register.
async fn closed_registration_leaves_sign_in_to_members(
    app: &TestApp,
    site: &Site,
    host: &HostSite,
    browser: &Session,
) {
    app.configure_site(
        site,
        SiteSettings {
            registration_allowed: Some(false),
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    run(browser, "localStorage.clear();").await;
    browser.goto(&host.url("/")).await.unwrap();
    until(browser, "sign-in for members only", "shown('[data-chatctl=login]') && !shown('[data-chatctl=login] [data-to=register]') && !shown('[data-chatctl=nick]')").await;
}

/// A site that only admits signed-in users, with no members and no registration, says so.
async fn a_members_only_site_without_members_says_so(
    app: &TestApp,
    host: &HostSite,
    browser: &Session,
) {
    let closed = app.site(&[&host.origin()]).await;
    app.configure_site(
        &closed,
        SiteSettings {
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    host.page("/closed", chat_page(app, inline(&closed, "")));
    browser.goto(&host.url("/closed")).await.unwrap();
    until(browser, "the signed-in-only notice", "$('[data-chatctl=notice]').textContent.includes('for signed-in users') && !shown('[data-chatctl=nick]') && !shown('[data-chatctl=login]')").await;
}
