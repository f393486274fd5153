//! The server API (docs/API.md): keys and scopes, posting through the writer
//! to live widgets, idempotent retries, history pages, rooms.

use chatctl::db::models::Scope;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::api::{key, Api};
use crate::support::cli::{chatctl, stdout};
use crate::support::*;

#[tokio::test]
async fn keys_are_checked_missing_unknown_revoked_and_under_scoped() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let reader = key(&app, &site, "reader", &[Scope::Read]).await;

    let none = Api::new(&app, None).get("/rooms").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["error"], "unauthorized");
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    for bad in [
        "ck_nope",
        "ck_0000000000000000000000000000000000000000",
        "",
        "Basic x",
    ] {
        let answer = Api::new(&app, Some(bad)).get("/rooms").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    let scheme = Api::new(&app, None)
        .raw(Method::GET, "/rooms")
        .header("Authorization", format!("Token {reader}"));
    assert_eq!(Api::read(scheme).await.status, StatusCode::UNAUTHORIZED);

    let api = Api::new(&app, Some(&reader));
    let ok = api.get("/rooms").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // For backends only: no CORS header lets a page on another origin read it.
    assert!(!ok.headers.contains_key("access-control-allow-origin"));
    // Its last use is recorded (and listed); a key never used has none.
    let unused = key(&app, &site, "unused", &[Scope::Read]).await;
    let site_id = site.id;
    let keys = app
        .db
        .run(move |conn| chatctl::db::models::ApiKey::list(conn, site_id))
        .await
        .unwrap();
    let used_at = |prefix: &str| {
        keys.iter()
            .find(|k| k.prefix == prefix)
            .unwrap()
            .last_used_at
    };
    assert!(used_at(&reader[..11]).is_some());
    assert!(used_at(&unused[..11]).is_none());
    let list = stdout(chatctl(&app.database).args(["site", "api-key", "list", &site.public_key]));
    assert!(
        list.lines()
            .any(|l| l.starts_with(&reader[..11]) && !l.contains("never")),
        "{list}"
    );
    let refused = api.post("/rooms", json!({"name": "news"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"], "insufficient_scope");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("publish"));
    let refused = api.delete("/rooms/lobby").await;
    assert_eq!(refused.body["error"], "insufficient_scope");

    // The key of another site does not reach this one's rooms.
    let other = app
        .new_site()
        .origins(&["https://b.example"])
        .create()
        .await;
    let theirs = Api::full(&app, &other).await;
    theirs.post("/rooms", json!({"name": "theirs"})).await;
    let mine = api.get("/rooms").await;
    assert!(!mine.body.to_string().contains("theirs"), "{}", mine.body);

    let prefix = &reader[..11];
    stdout(chatctl(&app.database).args(["site", "api-key", "revoke", &site.public_key, prefix]));
    let revoked = api.get("/rooms").await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.body["error"], "unauthorized");
}

#[tokio::test]
async fn a_key_is_rate_limited_with_retry_after() {
    let app = TestApp::builder()
        .api(|a| {
            a.api_requests_per_second = 1;
            a.api_request_burst = 3;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    for _ in 0..3 {
        assert_eq!(api.get("/rooms").await.status, StatusCode::OK);
    }
    let limited = api.get("/rooms").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], "rate_limited");
    assert!(limited.body["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(limited.headers.contains_key("retry-after"));
    // Another key has its own budget.
    let other = key(&app, &site, "other", &[Scope::Read]).await;
    assert_eq!(
        Api::new(&app, Some(&other)).get("/rooms").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_posted_message_reaches_live_widgets_with_a_seq_once_per_cid() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.say("lobby", "a1", "hi").await;

    let posted = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "n-1", "text": "  Maintenance at noon \u{7} "}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["seq"], 2);
    assert_eq!(posted.body["duplicate"], false);
    assert_eq!(posted.body["delivered"], 1);
    assert_eq!(posted.body["text"], "Maintenance at noon");
    assert_eq!(posted.body["author"]["kind"], "system");
    assert_eq!(posted.body["author"]["nick"], "Test site");
    let live = alice.recv_type("message").await;
    assert_eq!(live["seq"], 2);
    assert_eq!(live["author"]["kind"], "system");
    assert_eq!(live["text"], "Maintenance at noon");

    // A retry of the same cid stores nothing new and answers the original.
    let again = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "n-1", "text": "Maintenance at noon"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        (again.body["seq"].clone(), again.body["duplicate"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(again.body["id"], posted.body["id"]);
    alice
        .expect_silence(std::time::Duration::from_millis(300))
        .await;

    // On behalf of a user the site names, as its JWT would.
    let user = json!({"sub": "42", "name": "Ann", "avatar": "https://img.example/a.png"});
    let ann = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "u-1", "text": "hello", "user": user}),
        )
        .await;
    assert_eq!(ann.status, StatusCode::CREATED, "{}", ann.body);
    let live = alice.recv_type("message").await;
    assert_eq!(live["seq"], 3);
    assert_eq!(
        (
            live["author"]["kind"].clone(),
            live["author"]["nick"].clone()
        ),
        (json!("verified"), json!("Ann"))
    );
    let found = api.get("/participants?sub=42").await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["id"], live["author"]["id"]);
    assert_eq!(found.body["sub"], "42");

    // The history has them all, in seq order.
    let history = api.get("/rooms/lobby/messages").await;
    let seqs: Vec<i64> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(history.body["more"], false);
}

#[tokio::test]
async fn no_guest_goes_by_the_sites_name_and_no_post_opens_a_room() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    // The site's own author exists once it has posted.
    api.post("/rooms", json!({"name": "lobby"})).await;
    let posted = api
        .post("/rooms/lobby/messages", json!({"cid": "n-1", "text": "hi"}))
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    // A guest may not go by the site's name (nor one that looks like it).
    let mut impostor = app
        .try_connect(&site.public_key, Some(ORIGIN))
        .await
        .unwrap();
    let refused = impostor.hello(json!({"nick": "TEST SITE"})).await;
    assert_eq!(refused["code"], "nick_reserved", "{refused}");

    let missing = api
        .post("/rooms/nowhere/messages", json!({"cid": "x", "text": "x"}))
        .await;
    assert_eq!(
        (missing.status, missing.body["error"].clone()),
        (StatusCode::NOT_FOUND, json!("room_not_found"))
    );
}

#[tokio::test]
async fn history_is_read_in_keyset_pages_both_ways() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "/blog/post-1"})).await;
    for i in 1..=7 {
        let answer = api
            .post(
                "/rooms/%2Fblog%2Fpost-1/messages",
                json!({"cid": format!("c{i}"), "text": format!("m{i}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let seqs = |answer: &crate::support::api::Answer| -> Vec<i64> {
        answer.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };
    let room = "/rooms/%2Fblog%2Fpost-1/messages";
    let latest = api.get(&format!("{room}?limit=3")).await;
    assert_eq!(
        (seqs(&latest), latest.body["more"].clone()),
        (vec![5, 6, 7], json!(true))
    );
    let older = api.get(&format!("{room}?limit=3&before=5")).await;
    assert_eq!(
        (seqs(&older), older.body["more"].clone()),
        (vec![2, 3, 4], json!(true))
    );
    let oldest = api.get(&format!("{room}?limit=3&before=2")).await;
    assert_eq!(
        (seqs(&oldest), oldest.body["more"].clone()),
        (vec![1], json!(false))
    );
    let newer = api.get(&format!("{room}?limit=4&after=2")).await;
    assert_eq!(
        (seqs(&newer), newer.body["more"].clone()),
        (vec![3, 4, 5, 6], json!(true))
    );
    let newest = api.get(&format!("{room}?limit=4&after=6")).await;
    assert_eq!(
        (seqs(&newest), newest.body["more"].clone()),
        (vec![7], json!(false))
    );

    // A deleted message is gone from the pages.
    assert_eq!(
        api.delete(&format!("{room}/4")).await.status,
        StatusCode::NO_CONTENT
    );
    let page = api.get(&format!("{room}?after=2&limit=3")).await;
    assert_eq!(seqs(&page), vec![3, 5, 6]);
    let gone = api.delete(&format!("{room}/4")).await;
    assert_eq!(
        (gone.status, gone.body["error"].clone()),
        (StatusCode::NOT_FOUND, json!("message_not_found"))
    );

    for bad in ["limit=0", "limit=101", "before=x", "before=3&after=1"] {
        let answer = api.get(&format!("{room}?{bad}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn rooms_are_listed_created_set_and_deleted() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    let made = api.post("/rooms", json!({"name": "support"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["name"], "support");
    let twice = api.post("/rooms", json!({"name": "support"})).await;
    assert_eq!(
        (twice.status, twice.body["error"].clone()),
        (StatusCode::CONFLICT, json!("room_exists"))
    );
    let invalid = api.post("/rooms", json!({"name": "no spaces"})).await;
    assert_eq!(invalid.body["error"], "invalid_room");

    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "support").await;
    alice.say("support", "a1", "hello").await;
    let list = api.get("/rooms").await;
    let room = &list.body["rooms"][0];
    assert_eq!(
        (
            room["name"].clone(),
            room["online"].clone(),
            room["last_seq"].clone()
        ),
        (json!("support"), json!(1), json!(1))
    );
    assert!(room["last_activity"].as_i64().unwrap() > 0);
    let online = api.get("/rooms/support/online").await;
    assert_eq!(online.body["online"][0]["nick"], "alice");

    let set = api
        .patch(
            "/rooms/support",
            json!({"locked": true, "slow_mode_secs": 5}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (
            set.body["locked"].clone(),
            set.body["slow_mode_secs"].clone()
        ),
        (json!(true), json!(5))
    );
    // The lock applies to the next send at once, as the panel's does.
    alice
        .send(json!({"type": "send", "room": "support", "cid": "a2", "text": "x"}))
        .await;
    assert_eq!(alice.recv_type("error").await["code"], "room_locked");
    let wrong = api
        .patch("/rooms/support", json!({"slow_mode_secs": 99999}))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let unknown = api.patch("/rooms/support", json!({"colour": "red"})).await;
    assert_eq!(unknown.body["error"], "bad_request");

    assert_eq!(
        api.delete("/rooms/support").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(alice.closed().await.code, close::RESTARTING);
    assert_eq!(
        api.get("/rooms/support").await.body["error"],
        "room_not_found"
    );

    let mut panel = crate::support::panel::Panel::owner(&app).await;
    let audit = panel.get("/admin/audit").await;
    assert!(
        audit.body.contains("API key backend (ck_"),
        "{}",
        audit.body
    );
    assert!(audit.body.contains("room.delete") && audit.body.contains("room.update"));
}

/// A room deleted and made again under its name starts afresh on a server
/// that stayed up: its first message is seq 1, and nobody sees the deleted
/// room's messages (SQLite gave a new room the id of a deleted one that had
/// the highest, and the writer's seqs and the history kept in memory are
/// both by room id).
#[tokio::test]
async fn a_room_made_again_after_its_deletion_starts_afresh() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    for round in 0..2 {
        let made = api.post("/rooms", json!({"name": "support"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{round}: {}", made.body);
        let (mut alice, _) = app.guest(&site.public_key, &format!("alice{round}")).await;
        let welcome = alice.join("support", None).await;
        assert_eq!(
            (welcome["seq"].clone(), welcome["messages"].clone()),
            (json!(0), json!([])),
            "{round}: a new room has no history"
        );
        let ack = alice.say("support", "a1", "hello").await;
        assert_eq!(ack["seq"], 1, "{round}: {ack}");
        let posted = api
            .post(
                "/rooms/support/messages",
                json!({"cid": format!("s{round}"), "text": "from the site"}),
            )
            .await;
        assert_eq!(posted.body["seq"], 2, "{round}: {}", posted.body);
        let history = api.get("/rooms/support/messages").await;
        assert_eq!(
            history.body["messages"].as_array().map(Vec::len),
            Some(2),
            "{round}: {}",
            history.body
        );

        let deleted = api.delete("/rooms/support").await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(alice.closed().await.code, close::RESTARTING);
    }
}

/// Requests racing to create one room: one makes it, the others are told it
/// exists (`409 room_exists`, as one after the other), never `400`
/// (outside tester: `[201,400,400,400]`).
#[tokio::test]
async fn racing_creations_of_a_room_get_one_201_and_room_exists() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    for round in 0..5 {
        let path = format!("r{round}");
        let tries = (0..4).map(|_| api.post("/rooms", json!({"name": path})));
        let answers = futures_util::future::join_all(tries).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409, 409, 409], "round {round}");
        for refused in answers.iter().filter(|a| a.status == StatusCode::CONFLICT) {
            assert_eq!(refused.body["error"], "room_exists", "{}", refused.body);
        }
    }
}
