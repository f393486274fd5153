//! What the widget says when moderation holds a message back: slow mode
//! counts down, a mute says for how long, a locked room is read-only, an
//! approve-first room holds a message until a moderator approves it. Also
//! the history's pages, dates and scrolling, and an origin the site refuses.

use chatctl::db::models::audit::Actor;
use chatctl::db::models::room::RoomSettings;
use chatctl::db::models::{Room, Site};
use chatctl::moderation;

use crate::support::browser::*;
use crate::support::widget_page::*;
use crate::support::*;

/// Sets the room's slow mode (seconds), lock and approve-first, as the panel would.
async fn set_room(app: &TestApp, room: &Room, slow: i32, locked: bool, approve: bool) {
    let settings = RoomSettings {
        slow_mode_secs: slow,
        locked,
        approve_first: approve,
        max_message_chars: None,
    };
    moderation::rooms::update(&app.state.chat, Actor::CommandLine, room.id, settings)
        .await
        .unwrap();
}

#[tokio::test]
async fn widget_moderation_feedback_slow_mode_mute_lock_and_approval() {
    // Small history pages, so that scrolling up has something to load.
    let app = TestApp::builder()
        .limits(|limits| limits.history_page = 20)
        .messages_unthrottled(1000);
    let Some((chrome, app, host, site)) = widget_scene("widget_moderation_feedback", app).await
    else {
        return;
    };
    host.page(
        "/",
        one_widget_page(&app, "en", &site, "data-room=\"help\" data-open=\"true\""),
    );
    let mut dan = dan_tells_a_long_story(&app, &site, &host).await;
    let browser = chrome.session(Screen::Desktop).await;
    browser.goto(&host.url("/")).await.unwrap();

    carol_joins_the_panel_that_opened_by_itself(&browser).await;
    scrolling_up_loads_older_pages_in_place(&browser).await;
    old_messages_show_their_day(&browser).await;
    new_messages_follow_only_a_reader_at_the_bottom(&browser, &mut dan).await;
    let help = app.room(&site, "help").await;
    slow_mode_counts_down_and_sends_by_itself(&app, &help, &browser).await;
    a_mute_says_for_how_long(&app, &browser).await;
    a_locked_room_is_read_only(&app, &help, &browser).await;
    approve_first_holds_a_message_until_approved(&app, &site, &help, &browser).await;
    escape_closes_the_floating_panel(&browser).await;
    a_page_on_a_refused_origin_is_told_why(&app, &site, &browser).await;
    browser.close().await.unwrap();
}

/// Dan writes 80 lines in the help room, the first of them three days ago.
async fn dan_tells_a_long_story(app: &TestApp, site: &Site, host: &HostSite) -> Client {
    let mut dan = visitor(app, host, site, "dan", "help").await;
    for i in 1..=80 {
        dan.say(
            "help",
            &format!("d{i}"),
            &format!("Line {i} of a long story"),
        )
        .await;
    }
    // The first line was written three days ago.
    app.db
        .run(|conn| {
            let sql = "UPDATE messages SET created_at = created_at - 259200000 WHERE seq = 1";
            chatctl::with_backend!(conn, c => diesel::RunQueryDsl::execute(diesel::sql_query(sql), c))
        })
        .await
        .unwrap();
    dan
}

/// The panel opens by itself (`data-open`) without taking the focus; carol joins.
async fn carol_joins_the_panel_that_opened_by_itself(browser: &Session) {
    until(
        browser,
        "the open panel",
        "shown('[data-chatctl=nick]') && W().activeElement !== $('#nick')",
    )
    .await;
    run(
        browser,
        "fill('#nick', 'carol'); $('[data-chatctl=nick]').requestSubmit();",
    )
    .await;
    until(
        browser,
        "carol in",
        "$('.me').textContent === 'You are carol'",
    )
    .await;
}

/// The latest page first; scrolling up loads the older ones, keeping the reader's place.
async fn scrolling_up_loads_older_pages_in_place(browser: &Session) {
    until(
        browser,
        "the latest page",
        "texts().length === 20 && texts()[19] === 'Line 80 of a long story' && shown('.more')",
    )
    .await;
    run(browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    until(
        browser,
        "a page of older messages",
        "texts().length === 70 && texts()[0] === 'Line 11 of a long story'",
    )
    .await;
    let kept = run(browser, "return $('[data-chatctl=messages]').scrollTop;").await;
    assert!(
        kept.as_f64().unwrap() > 1000.0,
        "the reader stays where they were: {kept}"
    );
    run(browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    until(
        browser,
        "the oldest messages",
        "texts().length === 80 && texts()[0] === 'Line 1 of a long story' && !shown('.more')",
    )
    .await;
}

/// Today's messages show the time; older ones the day too.
async fn old_messages_show_their_day(browser: &Session) {
    let times = run(browser, "return [...W().querySelectorAll('[data-chatctl=message] time')].map((t) => t.textContent);").await;
    let times: Vec<&str> = times
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(times[0].len() > 8, "a date on the old message: {times:?}");
    assert!(
        times[1..].iter().all(|t| t.len() <= 8),
        "only the time on today's: {times:?}"
    );
}

/// Scrolled up, a new message does not move the list; a marker counts it.
async fn new_messages_follow_only_a_reader_at_the_bottom(browser: &Session, dan: &mut Client) {
    run(browser, "$('[data-chatctl=messages]').scrollTop = 0;").await;
    dan.say("help", "new1", "Something new").await;
    until(browser, "the new-message marker", "shown('.jump') && $('.jump').textContent === '1 new ↓' && $('[data-chatctl=messages]').scrollTop < 50").await;
    run(browser, "$('.jump').click();").await;
    until(browser, "at the bottom", "!shown('.jump') && (() => { const l = $('[data-chatctl=messages]'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5; })()").await;
    // At the bottom, new messages scroll into view by themselves.
    dan.say("help", "new2", "And more").await;
    until(browser, "followed", "texts().includes('And more') && !shown('.jump') && (() => { const l = $('[data-chatctl=messages]'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5; })()").await;
}

/// Slow mode: the widget counts down and sends by itself.
async fn slow_mode_counts_down_and_sends_by_itself(app: &TestApp, help: &Room, browser: &Session) {
    say_and_see_it_sent(browser, "first").await;
    set_room(app, help, 3, false, false).await;
    say(browser, "second").await;
    say(browser, "third").await;
    until(
        browser,
        "the slow-mode countdown",
        "W().textContent.includes('Slow mode: sending in')",
    )
    .await;
    until(
        browser,
        "sent after the wait",
        "msgs().filter((m) => m.state === 'sent').length === 3",
    )
    .await;
    set_room(app, help, 0, false, false).await;
}

/// A mute: the message is not sent and the notice says for how long.
async fn a_mute_says_for_how_long(app: &TestApp, browser: &Session) {
    let carol = app.participant_named("carol").await;
    moderation::mutes::mute(
        &app.state.chat,
        Actor::CommandLine,
        carol.id,
        5,
        "calm down",
    )
    .await
    .unwrap();
    say(browser, "muted words").await;
    until(browser, "the mute", "msgs().some((m) => m.text === 'muted words' && m.state === 'failed') && $('[data-chatctl=notice]').textContent.includes('muted for 5 more min')").await;
    moderation::mutes::unmute(&app.state.chat, Actor::CommandLine, carol.id)
        .await
        .unwrap();
}

/// A locked room.
async fn a_locked_room_is_read_only(app: &TestApp, help: &Room, browser: &Session) {
    set_room(app, help, 0, true, false).await;
    say(browser, "locked out").await;
    until(browser, "the lock", "msgs().some((m) => m.text === 'locked out' && m.state === 'failed') && $('[data-chatctl=notice]').textContent.includes('read-only')").await;
}

/// Approve-first: the message waits for a moderator, then arrives once.
async fn approve_first_holds_a_message_until_approved(
    app: &TestApp,
    site: &Site,
    help: &Room,
    browser: &Session,
) {
    set_room(app, help, 0, false, true).await;
    say(browser, "please approve").await;
    until(
        browser,
        "waiting for approval",
        "msgs().some((m) => m.text === 'please approve' && m.state === 'held')",
    )
    .await;
    let site_id = site.id;
    let held = app
        .db
        .run(move |conn| chatctl::db::models::HeldMessage::queue(conn, Some(&[site_id]), 10))
        .await
        .unwrap();
    moderation::messages::approve(&app.state.chat, Actor::CommandLine, held[0].0.id)
        .await
        .unwrap();
    until(browser, "approved", "msgs().filter((m) => m.text === 'please approve').length === 1 && msgs().some((m) => m.text === 'please approve' && m.seq !== '')").await;
}

/// Escape closes the floating panel and gives the focus back to the launcher.
async fn escape_closes_the_floating_panel(browser: &Session) {
    run(browser, "$('#text').focus();").await;
    press(browser, "\u{e00c}").await;
    until(browser, "closed by Escape", "!shown('.panel') && W().activeElement === $('.launcher') && $('.launcher').getAttribute('aria-expanded') === 'false'").await;
}

/// A page on an origin the site does not allow: the widget says why and stops trying.
async fn a_page_on_a_refused_origin_is_told_why(app: &TestApp, site: &Site, browser: &Session) {
    let stranger = HostSite::start().await;
    stranger.page("/", one_widget_page(app, "en", site, "data-open=\"true\""));
    browser.goto(&stranger.url("/")).await.unwrap();
    until(browser, "the refusal explained", "$('[data-chatctl=notice]').textContent === \"This chat is not available on this page. Please let the site's owner know.\" && !shown('.status') && !shown('.empty') && !shown('[data-chatctl=composer]') && !shown('[data-chatctl=nick]')").await;
}
