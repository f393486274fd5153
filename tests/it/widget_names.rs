//! What a visitor sees when the name they pick is someone else's (issue 13
//! item 4): a plain sentence, a free name offered in the field, and once in,
//! an avatar colour of their own next to the other person's.

use crate::support::widget_page::{
    desktop_at, lobby_scene, open_nick_form, pick_nick, run, say, until, visitor,
};
use crate::support::*;

#[tokio::test]
async fn widget_offers_a_free_name_when_the_chosen_one_is_in_use() {
    let test = "widget_offers_a_free_name_when_the_chosen_one_is_in_use";
    let Some((chrome, app, host, site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let mut alice = visitor(&app, &host, &site, "Alice", "lobby").await;
    alice.say("lobby", "a1", "hi, I am Alice").await;

    let browser = desktop_at(&chrome, &host.url("/chat")).await;
    open_nick_form(&browser).await;
    pick_nick(&browser, "alice").await;
    until(
        &browser,
        "the refusal, with a free name offered",
        "shown('[data-chatctl=notice]') && $('#nick').value === 'alice 2' && shown('[data-chatctl=nick]')",
    )
    .await;
    let notice = run(&browser, "return $('[data-chatctl=notice]').textContent;").await;
    assert_eq!(
        notice,
        "Someone in this chat is already called alice. Please choose another nickname."
    );

    // Taking the offer.
    run(&browser, "$('[data-chatctl=nick]').requestSubmit();").await;
    until(
        &browser,
        "the composer",
        "shown('[data-chatctl=composer]') && $('.me').textContent === 'You are alice 2'",
    )
    .await;
    assert_eq!(
        run(&browser, "return shown('[data-chatctl=notice]');").await,
        false
    );
    say(&browser, "hi, I am the other one").await;
    until(
        &browser,
        "both messages, sent",
        "msgs().length === 2 && msgs()[1].state === 'sent'",
    )
    .await;
    // Two people, two colours: the avatars' backgrounds differ clearly.
    let hues = run(
        &browser,
        "return [...W().querySelectorAll('.av')].map((a) => getComputedStyle(a).backgroundColor);",
    )
    .await;
    let hues = hues.as_array().unwrap();
    assert_eq!(hues.len(), 2, "{hues:?}");
    assert_ne!(hues[0], hues[1], "the same avatar colour for two people");
    let authors = run(&browser, "return msgs().map((m) => m.author);").await;
    assert_eq!(authors, serde_json::json!(["Alice", "alice 2"]));
}

/// A name kept for the chat's staff is refused in words that say so, not as
/// someone else's name (`nick_reserved`).
#[tokio::test]
async fn widget_says_a_staff_name_is_kept_for_the_staff() {
    let test = "widget_says_a_staff_name_is_kept_for_the_staff";
    let Some((chrome, _app, host, _site)) = lobby_scene(test, TestApp::builder()).await else {
        return;
    };
    let browser = desktop_at(&chrome, &host.url("/chat")).await;
    open_nick_form(&browser).await;
    pick_nick(&browser, "Admin").await;
    until(
        &browser,
        "the refusal",
        "shown('[data-chatctl=notice]') && shown('[data-chatctl=nick]')",
    )
    .await;
    let notice = run(&browser, "return $('[data-chatctl=notice]').textContent;").await;
    assert_eq!(
        notice,
        "This name is kept for the chat's staff. Please choose another nickname."
    );
}
