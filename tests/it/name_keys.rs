//! Names compared with case and confusables folded together: the UTS #39
//! skeleton maps the digit 0 to a capital O, which a key folded only before
//! the skeleton never meets, so `My bl0g` passed for the site's own
//! `My blog`. Keys stored by earlier versions are computed again.

use chatctl::db::models::{Account, Participant, ParticipantKind, Site};
use chatctl::db::schema::{accounts, participants};
use chatctl::input::{NameKey, Origin};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::support::api::Api;
use crate::support::*;

/// Names that look like `My blog`: case, digits for letters, other scripts.
const LIKE_MY_BLOG: [&str; 9] = [
    "My bl0g",
    "MY BI0G", // capital I for L, zero for O
    "MY BLOG",
    "My bIog",        // capital I for l
    "\u{041C}y blog", // Cyrillic М
    "MY BL0G",
    "my b1og",        // digit one for l
    "My bl\u{03BF}g", // Greek omicron
    "ＭＹ ＢＬ０Ｇ",  // fullwidth, zero for O
];

async fn hello(app: &TestApp, site: &Site, fields: Value) -> Value {
    app.connect(&site.public_key).await.hello(fields).await
}

#[tokio::test]
async fn guests_cannot_pass_for_the_site_by_case_and_look_alikes() {
    let app = TestApp::spawn().await;
    let origins = vec![Origin::parse(ORIGIN).unwrap()];
    let site = app
        .db
        .run(move |conn| Site::create(conn, "My blog", &origins, false))
        .await
        .unwrap();
    // The site's own author (what it posts through the API) is `My blog`.
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    let posted = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "n1", "text": "Welcome!"}),
        )
        .await;
    assert_eq!(posted.body["author"]["nick"], "My blog", "{}", posted.body);

    // The site's name is reserved: `nick_reserved`, not `nick_taken`.
    for nick in LIKE_MY_BLOG {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "nick_reserved", "{nick:?}: {reply}");
    }
    let reply = hello(&app, &site, json!({"nick": "My vlog"})).await;
    assert_eq!(reply["type"], "ready", "{reply}");
}

/// Look-alikes among capitals (`1` for `I`) meet a name written in lowercase
/// once both are uppercased.
#[tokio::test]
async fn capitals_look_alike_too() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    for (sub, name) in [("1", "Admin"), ("2", "alice")] {
        let token = crate::support::jwt::user_token(&site.secret, sub, name);
        let ready = hello(&app, &site, json!({"token": token})).await;
        assert_eq!(ready["me"]["nick"], name, "{ready}");
    }
    // Admin is a staff name besides: reserved comes first.
    for (nick, code) in [
        ("ADM1N", "nick_reserved"),
        ("ADMIN", "nick_reserved"),
        ("Adm1n", "nick_reserved"),
        ("AL1CE", "nick_taken"),
        ("ALICE", "nick_taken"),
        ("A|ice", "nick_taken"),
        ("\u{0391}DMIN", "nick_reserved"),
    ] {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], code, "{nick:?}: {reply}");
    }
}

/// A name and its three stored keys.
type Keys = (String, Option<String>, Option<String>, Option<String>);

/// Keys as an earlier version stored them: not what this one computes.
fn make_stale(conn: &mut chatctl::db::DbConn) -> Result<(), chatctl::db::DbError> {
    let stale = "stale key";
    chatctl::with_backend!(conn, c => diesel::update(participants::table)
        .set((
            participants::name_key.eq(stale),
            participants::name_key_exact.eq(stale),
            participants::name_key_upper.eq(stale),
        ))
        .execute(c))?;
    chatctl::with_backend!(conn, c => diesel::update(accounts::table)
        .set((
            accounts::name_key.eq(stale),
            accounts::name_key_exact.eq(stale),
            accounts::name_key_upper.eq(stale),
        ))
        .execute(c))?;
    Ok(())
}

#[tokio::test]
async fn stored_name_keys_are_computed_again_and_colliding_names_are_kept() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let site_id = site.id;
    // Two names that collide under the new keys, stored before them: a
    // verified user and a member. Neither is lost, renamed or refused.
    let (user, member) = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let (user, _) = Participant::upsert_external(
                conn,
                site_id,
                ParticipantKind::Verified,
                "1",
                "My blog",
                None,
                None,
            )?;
            let member = Account::create(conn, site_id, "m@example.com", "My bl0g", "x")?;
            make_stale(conn)?;
            chatctl::with_backend!(conn, c => diesel::sql_query(
                "DELETE FROM __diesel_schema_migrations WHERE version = '20261201041700'"
            ).execute(c))?;
            chatctl::db::migrate::run_pending(conn)?;
            Ok((user.id, member.id))
        })
        .await
        .unwrap();
    let (keys, account_keys) = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let keys: Keys = chatctl::with_backend!(conn, c => participants::table
                .find(user)
                .select((
                    participants::nick,
                    participants::name_key,
                    participants::name_key_exact,
                    participants::name_key_upper,
                ))
                .first(c))?;
            let account_keys: Keys = chatctl::with_backend!(conn, c => accounts::table
                .find(member)
                .select((
                    accounts::name,
                    accounts::name_key,
                    accounts::name_key_exact,
                    accounts::name_key_upper,
                ))
                .first(c))?;
            Ok((keys, account_keys))
        })
        .await
        .unwrap();
    for (name, folded, exact, upper) in [keys, account_keys] {
        let key = NameKey::of(&name);
        assert_eq!(
            (folded, exact, upper),
            (Some(key.folded), Some(key.exact), Some(key.upper)),
            "{name}"
        );
    }
    assert!(NameKey::of("My blog").looks_like(&NameKey::of("My bl0g")));

    // The recomputed keys are what guests and new members are compared with.
    for nick in LIKE_MY_BLOG {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "nick_taken", "{nick:?}: {reply}");
    }
    // Both still sign in under their names.
    let token = crate::support::jwt::user_token(&site.secret, "1", "My blog");
    let ready = hello(&app, &site, json!({"token": token})).await;
    assert_eq!(ready["me"]["nick"], "My blog", "{ready}");
}

/// Keys stored before names were folded by Unicode case folding are computed
/// again when the server starts: a member registered as `ꮟoꮟ` (lowercase
/// Cherokee si, whose uppercase looks like `b`) holds `Bob` from then on, and
/// keeps the name.
#[tokio::test]
async fn keys_stored_before_unicode_case_folding_are_computed_again() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let site_id = site.id;
    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            Account::create(conn, site_id, "b@example.com", "\u{AB9F}o\u{AB9F}", "x")?;
            make_stale(conn)?;
            chatctl::with_backend!(conn, c => diesel::sql_query(
                "DELETE FROM __diesel_schema_migrations WHERE version = '20261201103000'"
            ).execute(c))?;
            chatctl::db::migrate::run_pending(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    for nick in ["Bob", "bob", "\u{AB9F}o\u{AB9F}"] {
        let reply = hello(&app, &site, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "nick_taken", "{nick:?}: {reply}");
    }
}
