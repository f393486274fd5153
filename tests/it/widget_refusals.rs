//! What a visitor reads when the chat refuses them, and how it comes back
//! (issue 13 item 7): plain sentences in the visitor's language with a next
//! step, no "Offline" before a nickname is chosen, no "Say hi!" under a ban,
//! and a widget that recovers by itself after an unban or `site enable`.

use chatctl::db::models::audit::Actor;
use chatctl::moderation::bans::{self, BanRequest};
use serde_json::json;

use crate::support::browser::*;
use crate::support::jwt;
use crate::support::widget_page::{
    desktop_at, lobby_scene, one_widget_page, open_launcher, open_nick_form, pick_nick, run,
    say_and_see_it_sent, until, until_within, widget_scene,
};
use crate::support::*;

const BANNED: &str = "A moderator has banned you from this chat. If you think this is a mistake, contact the site's owner. Reason: Flooding the chat";

/// Opens the floating widget and joins as `nick`, checking the status line on the way.
async fn open_and_join(browser: &Session, nick: &str) {
    open_nick_form(browser).await;
    // Nothing is offline yet: no status line at all.
    assert_eq!(
        run(
            browser,
            "return [shown('.status'), $('.status').textContent];"
        )
        .await,
        json!([false, ""])
    );
    pick_nick(browser, nick).await;
    until(
        browser,
        "connected, as nick",
        &format!("shown('[data-chatctl=composer]') && shown('.status') && $('.status').textContent === 'Connected' && $('.me').textContent === 'You are {nick}'"),
    )
    .await;
}

/// The stopped widget is back in the chat, as `nick`, without a reload
/// (it looks again 15 s after the stop, then less often).
async fn comes_back_by_itself(browser: &Session, nick: &str) {
    let back = format!("shown('[data-chatctl=composer]') && !shown('[data-chatctl=notice]') && $('.status').textContent === 'Connected' && $('.me').textContent === 'You are {nick}'");
    until_within(browser, 45, "back in the chat without a reload", &back).await;
}

#[tokio::test]
async fn widget_says_plainly_why_a_ban_stopped_it_and_comes_back_after_the_unban() {
    let test = "widget_says_plainly_why_a_ban_stopped_it_and_comes_back_after_the_unban";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let browser = desktop_at(&chrome, &host.url("/chat")).await;
    open_and_join(&browser, "bob").await;

    let banned = app.ban_named(&site, "bob", "Flooding the chat").await;
    let said = format!(
        "$('[data-chatctl=notice]').textContent === {} && !shown('.status') && !shown('[data-chatctl=composer]') && !shown('.empty')",
        json!(BANNED)
    );
    until(&browser, "the ban, said plainly", &said).await;

    // Reloaded: the same sentence, and no "No messages yet. Say hi!" under it.
    browser.goto(&host.url("/chat")).await.unwrap();
    open_launcher(&browser).await;
    until(&browser, "the ban, after a reload", &said).await;
    assert_eq!(
        run(
            &browser,
            "return W().textContent.includes('banned:') || W().textContent.includes('Say hi');"
        )
        .await,
        false
    );

    // Lifted: the open widget comes back by itself, as bob.
    bans::unban(&app.state.chat, Actor::CommandLine, banned.ban.id)
        .await
        .unwrap();
    comes_back_by_itself(&browser, "bob").await;
    say_and_see_it_sent(&browser, "back again").await;
}

#[tokio::test]
async fn widget_comes_back_when_its_site_is_turned_on_again() {
    let test = "widget_comes_back_when_its_site_is_turned_on_again";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let browser = desktop_at(&chrome, &host.url("/chat")).await;
    open_and_join(&browser, "ann").await;

    let chat = &app.state.chat;
    chatctl::manage::sites::set_enabled(chat, Actor::CommandLine, site.id, false)
        .await
        .unwrap();
    until(
        &browser,
        "the site turned off, said plainly",
        "$('[data-chatctl=notice]').textContent === 'This chat is turned off for now. It will come back here by itself when it is on again.' && !shown('.status') && !shown('[data-chatctl=composer]')",
    )
    .await;
    chatctl::manage::sites::set_enabled(chat, Actor::CommandLine, site.id, true)
        .await
        .unwrap();
    comes_back_by_itself(&browser, "ann").await;
    say_and_see_it_sent(&browser, "still here").await;
}

#[tokio::test]
async fn widget_refusals_read_plainly_in_the_visitors_language() {
    let test = "widget_refusals_read_plainly_in_the_visitors_language";
    let Some((chrome, app, host, site)) = widget_scene(test, TestApp::builder()).await else {
        return;
    };
    // A token the host site signed with a secret that is no longer the site's.
    let stale = jwt::user_token("the-secret-before-rotation", "u-7", "Léa");
    host.page(
        "/signed-in",
        one_widget_page(
            &app,
            "fr",
            &site,
            &format!("data-room=\"lobby\" data-open=\"true\" data-user-token=\"{stale}\""),
        ),
    );
    host.page(
        "/guest",
        one_widget_page(&app, "fr", &site, "data-room=\"lobby\" data-open=\"true\""),
    );
    let browser = desktop_at(&chrome, &host.url("/signed-in")).await;
    until(
        &browser,
        "the stale sign-in, said plainly in French",
        "$('[data-chatctl=notice]').textContent === \"Nous n'avons pas pu confirmer votre connexion à cette discussion. Rechargez la page ; si cela se reproduit, déconnectez-vous puis reconnectez-vous sur ce site, ou prévenez son responsable.\" && !shown('[data-chatctl=composer]') && !shown('[data-chatctl=nick]')",
    )
    .await;
    assert_eq!(
        run(
            &browser,
            "return /signature|token|Reload/i.test(W().textContent);"
        )
        .await,
        false
    );

    // Banned by address for an hour and a half: until when, and why, in French.
    bans::ban(
        &app.state.chat,
        Actor::CommandLine,
        BanRequest {
            site: Some(site.id),
            participant: None,
            cidr: Some("127.0.0.1".into()),
            reason: "spam".into(),
            minutes: Some(90),
        },
    )
    .await
    .unwrap();
    browser.goto(&host.url("/guest")).await.unwrap();
    until(
        &browser,
        "the ban, with its end and reason",
        "$('[data-chatctl=notice]').textContent.startsWith(\"Un modérateur vous a exclu·e de cette discussion jusqu'au \") && $('[data-chatctl=notice]').textContent.endsWith('Motif : spam') && !shown('.empty') && !shown('.status') && !shown('[data-chatctl=nick]')",
    )
    .await;
}
