//! Names that look like something they are not (issue 12, items 6 and 7):
//! invisible and formatting characters are refused, names are compared by
//! UTS #39 skeleton, and guests and members cannot take a name that looks like
//! a verified user's or member's. The word filter reads normalized text.

use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::jwt;
use crate::support::MEMBER_PASSWORD as PASSWORD;
use crate::support::*;

/// A host-site token for user `sub` called `name`.
fn token(site: &Site, sub: &str, name: &str) -> String {
    jwt::user_token(&site.secret, sub, name)
}

async fn hello(app: &TestApp, site: &Site, fields: Value) -> Value {
    app.connect(&site.public_key).await.hello(fields).await
}

async fn register(app: &TestApp, site: &Site, name: &str, email: &str) -> Value {
    let mut client = app.connect(&site.public_key).await;
    client
        .send(json!({"type": "register", "name": name, "email": email, "password": PASSWORD}))
        .await;
    client.recv().await
}

/// Adds a word filter entry to the site, as `chatctl filter add` would.
async fn filter(app: &TestApp, site: &Site, kind: &str, pattern: &str, action: &str) {
    chatctl::moderation::word_filters::add(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        site.id,
        kind,
        pattern,
        action,
    )
    .await
    .unwrap();
}

/// Sends each of `texts` and checks that the word filter refuses it.
async fn assert_blocked(writer: &mut Client, texts: &[&str]) {
    for (n, sent) in texts.iter().enumerate() {
        writer
            .send(json!({"type": "send", "room": "lobby", "cid": format!("b{n}"), "text": sent}))
            .await;
        let reply = writer.recv_type_any(&["ack", "error"]).await;
        assert_eq!(reply["code"], "message_blocked", "{sent:?}: {reply}");
    }
}

/// Names a guest might try in order to pass for the verified `alice`.
const INVISIBLE: [&str; 14] = [
    "ali\u{00AD}ce",    // soft hyphen
    "ali\u{200B}ce",    // zero-width space
    "ali\u{200C}ce",    // zero-width non-joiner
    "alice\u{200D}",    // zero-width joiner
    "\u{2067}\u{2069}", // bidi isolates: an empty author
    "\u{202E}ecila",    // right-to-left override
    "alice\u{200E}",    // left-to-right mark
    "\u{FEFF}alice",    // byte order mark
    "ali\u{2063}ce",    // invisible separator
    "\u{3164}",         // Hangul filler: a blank name
    "alice\u{FE0F}",    // variation selector
    "alice\u{E0020}",   // tag space
    "al\u{034F}ice",    // combining grapheme joiner
    "ali\u{061C}ce",    // Arabic letter mark
];

const LOOK_ALIKES: [&str; 10] = [
    "ALICE",
    "Alice",
    " alice  ",
    "\u{0430}lice",          // Cyrillic а
    "al\u{0456}ce",          // Cyrillic і
    "ａｌｉｃｅ",            // fullwidth
    "aIice",                 // capital I for l
    "a1ice",                 // digit one for l
    "al\u{0131}ce",          // dotless i
    "\u{1D41A}\u{1D425}ice", // mathematical bold a, l
];

/// Marks drawn on a letter: some draw nothing new (a dot above the i), the
/// others are too small to tell two people apart.
const MARKED: [&str; 5] = [
    "ali\u{0307}ce", // combining dot above, on the i
    "a\u{0301}lice", // combining acute
    "alíce",         // precomposed í
    "alice\u{0332}", // combining low line
    "alic\u{20DD}e", // combining enclosing circle
];

#[tokio::test]
async fn guests_cannot_pass_for_a_verified_user() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let ready = hello(&app, &site, json!({"token": token(&site, "1", "alice")})).await;
    assert_eq!(ready["me"]["kind"], "verified", "{ready}");

    for nick in INVISIBLE {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "invalid_nick", "{nick:?}: {reply}");
    }
    for nick in LOOK_ALIKES.into_iter().chain(MARKED) {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "nick_taken", "{nick:?}: {reply}");
    }
    for nick in ["alicia", "Ali Ce", "bob", "Ангелина", "李小龍"] {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(
            (reply["type"].as_str(), reply["me"]["kind"].as_str()),
            (Some("ready"), Some("guest")),
            "{nick:?}: {reply}"
        );
    }
    // Names are stored normalized: runs of spaces collapse, NFC.
    let reply = hello(
        &app,
        &site,
        json!({"nick": "  Zoe\u{0308}\u{3000}\u{3000}Q "}),
    )
    .await;
    assert_eq!(reply["me"]["nick"], "Zoë Q", "{reply}");
}

#[tokio::test]
async fn a_returning_guest_loses_a_name_a_verified_user_took_since() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let guest = hello(&app, &site, json!({"nick": "carol"})).await;
    let guest_token = guest["guest_token"].as_str().unwrap().to_owned();
    hello(&app, &site, json!({"token": token(&site, "7", "Сarol")})).await; // Cyrillic С
    let back = hello(&app, &site, json!({"guest_token": guest_token})).await;
    assert_eq!(back["code"], "nick_taken", "{back}");
    let renamed = hello(
        &app,
        &site,
        json!({"guest_token": guest_token, "nick": "carol the guest"}),
    )
    .await;
    assert_eq!(renamed["me"]["id"], guest["me"]["id"], "{renamed}");
    assert_eq!(renamed["me"]["nick"], "carol the guest");
}

#[tokio::test]
async fn members_cannot_take_a_verified_or_member_name() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    hello(&app, &site, json!({"token": token(&site, "1", "alice")})).await;
    // Every registration costs a bcrypt hash: a sample of each table is enough.
    for (n, name) in LOOK_ALIKES.iter().step_by(2).enumerate() {
        let reply = register(&app, &site, name, &format!("a{n}@example.com")).await;
        assert_eq!(reply["code"], "nick_taken", "{name:?}: {reply}");
    }
    for (n, name) in INVISIBLE.iter().step_by(2).enumerate() {
        let reply = register(&app, &site, name, &format!("i{n}@example.com")).await;
        assert_eq!(reply["code"], "invalid_nick", "{name:?}: {reply}");
    }
    let bob = register(&app, &site, "Bob", "bob@example.com").await;
    assert_eq!(bob["type"], "registered", "{bob}");
    // A second member, and a guest, cannot look like the first member.
    for name in ["BOB", "Вob", "bob"] {
        let reply = register(&app, &site, name, "other@example.com").await;
        assert_eq!(reply["code"], "nick_taken", "{name:?}: {reply}");
        let reply = hello(&app, &site, json!({"nick": name})).await;
        assert_eq!(reply["code"], "nick_taken", "{name:?}: {reply}");
    }
    // Another site is another namespace.
    let other = app.new_site().registration().create().await;
    assert_eq!(
        register(&app, &other, "Bob", "bob@example.com").await["type"],
        "registered"
    );
}

#[tokio::test]
async fn verified_names_belong_to_the_host_site() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    assert_eq!(
        register(&app, &site, "Dana", "dana@example.com").await["type"],
        "registered"
    );
    hello(&app, &site, json!({"nick": "erin"})).await;
    // A verified user is never refused for a name, even one a member or guest has...
    let dana = hello(&app, &site, json!({"token": token(&site, "d", "Dana")})).await;
    assert_eq!(
        (dana["type"].as_str(), dana["me"]["kind"].as_str()),
        (Some("ready"), Some("verified"))
    );
    let erin = hello(&app, &site, json!({"token": token(&site, "e", "Erin")})).await;
    assert_eq!(erin["type"], "ready", "{erin}");
    // ...and what cannot be shown is dropped from it, not kept.
    let cleaned = hello(
        &app,
        &site,
        json!({"token": token(&site, "f", "Fr\u{00AD}ank\u{200F}")}),
    )
    .await;
    assert_eq!(cleaned["me"]["nick"], "Frank", "{cleaned}");
    let empty = hello(
        &app,
        &site,
        json!({"token": token(&site, "g", "\u{2067}\u{2069}")}),
    )
    .await;
    assert_eq!(empty["code"], "invalid_token", "{empty}");
    // The cleaned name is reserved like any other.
    let guest = hello(&app, &site, json!({"nick": "FRANK"})).await;
    assert_eq!(guest["code"], "nick_taken", "{guest}");
}

#[tokio::test]
async fn the_word_filter_reads_through_invisible_and_look_alike_characters() {
    let app = TestApp::builder()
        .limits(|l| l.message_burst = 50)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    filter(&app, &site, "word", "darn", "mask").await;
    filter(&app, &site, "pattern", r"buy\s+now", "block").await;
    let (mut writer, _) = app.guest_in(&site.public_key, "writer", "lobby").await;
    let (mut reader, _) = app.guest_in(&site.public_key, "reader", "lobby").await;
    let masked = [
        ("da\u{200B}rn it", "**** it"),
        ("d\u{00AD}arn", "****"),
        ("DA\u{200D}RN!", "****!"),
        ("d\u{0430}rn", "****"),
        ("ｄａｒｎ", "****"),
        ("da\u{2060}\u{2060}rn, darn", "****, ****"),
        ("d\u{00E1}rn", "****"),
        ("da\u{0301}rn", "****"),
        ("d\u{0332}a\u{0332}r\u{0332}n\u{0332} it", "**** it"),
    ];
    for (n, (sent, seen)) in masked.into_iter().enumerate() {
        writer.say("lobby", &format!("m{n}"), sent).await;
        let message = reader.recv_type("message").await;
        assert_eq!(message["text"], seen, "{sent:?}");
    }
    let blocked = ["b\u{200B}uy now", "buy\u{00A0}ｎｏｗ", "BUY \u{FEFF}NOW"];
    assert_blocked(&mut writer, &blocked).await;
    // Other text is stored as sent, invisible joiners included (emoji need them).
    writer.say("lobby", "ok", "darnit 👩\u{200D}💻").await;
    assert_eq!(
        reader.recv_type("message").await["text"],
        "darnit 👩\u{200D}💻"
    );
}

/// Look-alikes the comparison keys missed (outside tester): lowercase Cherokee
/// is folded by Unicode case folding to the uppercase letters the confusables
/// table maps (`ꮟ` to `Ꮟ`, which looks like `b`), and small capitals, which no
/// mapping covers, are refused with the character named; through `hello`, a
/// returning guest's rename and a registration.
#[tokio::test]
async fn cherokee_and_small_capitals_cannot_pass_for_a_taken_name() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    for (sub, name) in [("1", "Admin"), ("2", "bob")] {
        let ready = hello(&app, &site, json!({"token": token(&site, sub, name)})).await;
        assert_eq!(ready["me"]["nick"], name, "{ready}");
    }
    for (nick, code) in [
        ("\u{AB9F}ob", "nick_taken"),        // ꮟob: Cherokee small si
        ("\u{AB9F}o\u{AB9F}", "nick_taken"), // ꮟoꮟ
        ("BO\u{AB9F}", "nick_taken"),        // BOꮟ
        // ꭺꭰꮇꭵn: Admin's, and a staff name besides (reserved comes first).
        ("\u{AB7A}\u{AB70}\u{AB87}\u{AB75}n", "nick_reserved"),
    ] {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], code, "{nick:?}: {reply}");
    }
    for (nick, named) in [
        ("\u{1D00}\u{1D05}\u{1D0D}\u{026A}\u{0274}", "U+1D00"), // ᴀᴅᴍɪɴ
        ("Ad\u{1D0D}in", "U+1D0D"),                             // small capital M
        ("\u{0299}ob", "U+0299"),                               // ʙob
    ] {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "invalid_nick", "{nick:?}: {reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{nick:?}: {reply}");
    }

    // A guest renaming itself meets the same rules.
    let carol = hello(&app, &site, json!({"nick": "carol"})).await;
    let carol_token = carol["guest_token"].as_str().unwrap().to_owned();
    for (nick, code) in [
        ("\u{AB9F}ob", "nick_taken"),
        ("\u{1D00}\u{1D05}\u{1D0D}\u{026A}\u{0274}", "invalid_nick"),
    ] {
        let reply = hello(
            &app,
            &site,
            json!({"guest_token": carol_token, "nick": nick}),
        )
        .await;
        assert_eq!(reply["code"], code, "{nick:?}: {reply}");
    }
    // So does a new member.
    let reply = register(&app, &site, "\u{AB9F}o\u{AB9F}", "b@example.com").await;
    assert_eq!(reply["code"], "nick_taken", "{reply}");

    // Cherokee names, in either case, are still names.
    let reply = hello(
        &app,
        &site,
        json!({"guest_token": carol_token, "nick": "\u{AB73}\u{AB83}\u{AB79}"}),
    )
    .await;
    assert_eq!(reply["me"]["nick"], "\u{AB73}\u{AB83}\u{AB79}", "{reply}");
    let reply = hello(&app, &site, json!({"nick": "\u{13A0}\u{13B3}\u{13A9}"})).await;
    assert_eq!(reply["type"], "ready", "{reply}");
}

/// A guest whose kept name holds a character refused since (stored by an
/// earlier version) is asked for a new name when they come back.
#[tokio::test]
async fn a_returning_guest_keeps_no_name_refused_since() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let dave = hello(&app, &site, json!({"nick": "dave"})).await;
    let dave_token = dave["guest_token"].as_str().unwrap().to_owned();
    let id = dave["me"]["id"].as_i64().unwrap();
    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            use chatctl::db::schema::participants;
            use diesel::prelude::*;
            chatctl::with_backend!(conn, c => diesel::update(participants::table.find(id))
                .set(participants::nick.eq("\u{1D05}ave"))
                .execute(c))?;
            Ok(())
        })
        .await
        .unwrap();
    let back = hello(&app, &site, json!({"guest_token": dave_token})).await;
    assert_eq!(back["code"], "invalid_nick", "{back}");
    assert!(
        back["message"]
            .as_str()
            .unwrap_or_default()
            .contains("U+1D05"),
        "{back}"
    );
    let renamed = hello(
        &app,
        &site,
        json!({"guest_token": dave_token, "nick": "dave"}),
    )
    .await;
    assert_eq!(renamed["me"]["id"], id, "{renamed}");
}

/// Names that would pass for the chat's staff or the site (outside tester:
/// "a name that looks like a staff name gets through"), with the code each
/// gets: `nick_reserved` for a reserved name, its look-alikes and names holding
/// one among their words; `invalid_nick` for small capitals, which no
/// look-alike mapping covers (refused as such before reserved names were).
const STAFF_NAMES: [(&str, &str); 16] = [
    ("Admin", "nick_reserved"),
    ("Moderator", "nick_reserved"),
    ("\u{0410}dmin", "nick_reserved"), // Cyrillic А
    ("ADMIN", "nick_reserved"),
    ("Adm1n", "nick_reserved"),
    ("admin 2", "nick_reserved"),
    ("the admin", "nick_reserved"),
    ("mod", "nick_reserved"),
    ("Staff", "nick_reserved"),
    ("support team", "nick_reserved"),
    ("SYSTEM", "nick_reserved"),
    ("owner", "nick_reserved"),
    ("chatctl", "nick_reserved"),
    ("TEST SITE", "nick_reserved"), // the site's own name ("Test site")
    ("\u{1D0D}oderator", "invalid_nick"), // ᴍ, small capital M
    ("\u{1D00}dmin", "invalid_nick"), // ᴀ, small capital A
];

/// The refusal of `name` is `code`, and a reserved one says why without
/// offering a name like it (`Admin 2` is reserved too).
fn assert_refused(reply: &Value, name: &str, code: &str) {
    assert_eq!(reply["code"], code, "{name:?}: {reply}");
    if code == "nick_reserved" {
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains("among its words"), "{name:?}: {reply}");
        assert!(reply.get("suggestion").is_none(), "{name:?}: {reply}");
    }
}

#[tokio::test]
async fn nobody_chooses_a_name_that_passes_for_the_staff_or_the_site() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let carol = hello(&app, &site, json!({"nick": "carol"})).await;
    let carol_token = carol["guest_token"].as_str().unwrap().to_owned();
    for (n, (name, code)) in STAFF_NAMES.into_iter().enumerate() {
        let reply = hello(&app, &site, json!({"nick": name})).await;
        assert_refused(&reply, name, code);
        let rename = json!({"guest_token": carol_token, "nick": name});
        assert_refused(&hello(&app, &site, rename).await, name, code);
        let reply = register(&app, &site, name, &format!("s{n}@example.com")).await;
        assert_refused(&reply, name, code);
    }
    // Carol is still carol.
    let back = hello(&app, &site, json!({"guest_token": carol_token})).await;
    assert_eq!(back["me"]["nick"], "carol", "{back}");
}

#[tokio::test]
async fn names_that_merely_hold_the_letters_are_accepted() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let carol = hello(&app, &site, json!({"nick": "carol"})).await;
    let carol_token = carol["guest_token"].as_str().unwrap().to_owned();
    for (n, name) in ["Madmina", "Modesto"].into_iter().enumerate() {
        let guest = hello(&app, &site, json!({"nick": name})).await;
        assert_eq!(guest["me"]["nick"], name, "{name:?}: {guest}");
        let rename = json!({"guest_token": carol_token, "nick": format!("{name} too")});
        let renamed = hello(&app, &site, rename).await;
        assert_eq!(
            renamed["me"]["id"], carol["me"]["id"],
            "{name:?}: {renamed}"
        );
        let member = register(&app, &site, name, &format!("m{n}@example.com")).await;
        assert_eq!(member["type"], "registered", "{name:?}: {member}");
    }
}

/// The host site vouches for its users' names: its `Admin` is the admin.
#[tokio::test]
async fn a_verified_user_may_be_called_admin() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    for (sub, name) in [("1", "Admin"), ("2", "Moderator"), ("3", "Test site")] {
        let ready = hello(&app, &site, json!({"token": token(&site, sub, name)})).await;
        assert_eq!(
            (ready["me"]["kind"].as_str(), ready["me"]["nick"].as_str()),
            (Some("verified"), Some(name)),
            "{ready}"
        );
    }
}

/// The word filter folds case as names do (Unicode case folding): lowercase
/// Cherokee `ꮟ` is `Ꮟ`, which looks like `b` (outside tester: `to_lowercase`
/// left it as it was, and the word went through).
#[tokio::test]
async fn the_word_filter_folds_lowercase_cherokee() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    filter(&app, &site, "word", "bollocks", "block").await;
    let (mut writer, _) = app.guest_in(&site.public_key, "writer", "lobby").await;
    let blocked = ["\u{AB9F}ollocks", "BOLLOCKS", "\u{AB9F}OLLOCKS!"];
    assert_blocked(&mut writer, &blocked).await;
    let ack = writer.say("lobby", "ok", "\u{AB9F}ob, follow").await;
    assert_eq!(ack["type"], "ack", "{ack}");
}
