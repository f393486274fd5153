//! Two guests cannot go by one name (issue 13 item 4): a guest's name (or one
//! that looks like it) is refused to others while they are present or for an
//! hour after their last hello, with a free name offered instead.

use serde_json::json;

use crate::support::*;

/// Makes the participant's last hello two hours old.
async fn age(app: &TestApp, id: i64) {
    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            use chatctl::db::schema::participants;
            use diesel::prelude::*;
            let old = chatctl::db::now_ms() - 2 * 3_600_000;
            chatctl::with_backend!(conn, c => diesel::update(participants::table.find(id))
                .set(participants::last_seen_at.eq(old))
                .execute(c))?;
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_name_in_use_is_refused_with_a_free_one_offered() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = &site.public_key;
    let (mut alice, ready) = app.guest_in(key, "Alice", "lobby").await;
    assert_eq!(ready["type"], "ready", "{ready}");
    let alice_token = ready["guest_token"].as_str().unwrap().to_owned();

    // The same name, a look-alike (Cyrillic а), another case: all Alice's.
    for nick in ["Alice", "\u{0430}lice", "ALICE"] {
        let mut other = app.connect(key).await;
        let refused = other.hello(json!({ "nick": nick })).await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["code"], "nick_in_use", "{refused}");
        assert_eq!(refused["ref"], "hello");
        assert_eq!(refused["suggestion"], format!("{nick} 2"), "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("already goes by"),
            "{refused}"
        );
    }

    // The offered name is free: the second person takes it on the same socket.
    let mut bob = app.connect(key).await;
    let refused = bob.hello(json!({"nick": "alice"})).await;
    let offered = refused["suggestion"].as_str().unwrap().to_owned();
    let ready = bob.hello(json!({ "nick": offered })).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["me"]["nick"], "alice 2");
    // ... and is now taken in turn: the next offer skips it.
    let mut carol = app.connect(key).await;
    let refused = carol.hello(json!({"nick": "alice 2"})).await;
    assert_eq!(refused["code"], "nick_in_use");
    assert_eq!(refused["suggestion"], "alice 3", "{refused}");

    // Alice herself keeps her name in another tab (her token), named or not.
    for hello in [
        json!({ "guest_token": alice_token }),
        json!({"guest_token": alice_token, "nick": "Alice"}),
    ] {
        let mut tab = app.connect(key).await;
        let again = tab.hello(hello).await;
        assert_eq!(again["type"], "ready", "{again}");
        assert_eq!(again["me"]["nick"], "Alice");
    }
    alice.send(json!({"type": "ping"})).await;
    alice.recv_type("pong").await;
}

#[tokio::test]
async fn a_name_is_free_again_an_hour_after_its_guest_left_unless_they_are_still_here() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = &site.public_key;

    // Gone for two hours: the name is free, on this site and on others anyway.
    let (gone, ready) = app.guest(key, "Dora").await;
    gone.close().await;
    let dora = ready["me"]["id"].as_i64().unwrap();
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    age(&app, dora).await;
    let (_new_dora, ready) = app.guest(key, "dora").await;
    assert_eq!(ready["type"], "ready", "{ready}");

    // The first Dora comes back: her name is the other's now; she renames
    // with her token and stays the same participant.
    let mut back = app.connect(key).await;
    let refused = back.hello(json!({ "guest_token": token })).await;
    assert_eq!(refused["code"], "nick_in_use", "{refused}");
    assert_eq!(refused["suggestion"], "Dora 2", "{refused}");
    let ready = back
        .hello(json!({"guest_token": token, "nick": "Dora 2"}))
        .await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["me"]["id"], dora);

    // Said hello long ago but still in a room: still theirs.
    let (mut eve, ready) = app.guest_in(key, "Eve", "lobby").await;
    age(&app, ready["me"]["id"].as_i64().unwrap()).await;
    let mut other = app.connect(key).await;
    let refused = other.hello(json!({"nick": "Eve"})).await;
    assert_eq!(refused["code"], "nick_in_use", "{refused}");
    eve.send(json!({"type": "ping"})).await;
    eve.recv_type("pong").await;
}

#[tokio::test]
async fn a_guest_still_cannot_take_a_members_name_and_is_offered_another() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = &site.public_key;
    let token = crate::support::jwt::user_token(&site.secret, "u1", "Frank");
    let mut verified = app.connect(key).await;
    let ready = verified.hello(json!({ "token": token })).await;
    assert_eq!(ready["type"], "ready", "{ready}");

    let mut guest = app.connect(key).await;
    let refused = guest.hello(json!({"nick": "frank"})).await;
    assert_eq!(refused["code"], "nick_taken", "{refused}");
    assert_eq!(refused["suggestion"], "frank 2", "{refused}");
}
