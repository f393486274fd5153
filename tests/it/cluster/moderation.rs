//! Moderation made on one instance (deletions, room settings, bans, word
//! filters, mutes) takes effect on the others' connections within a second.

use std::time::{Duration, Instant};

use serde_json::json;

use chatctl::db::models::audit::Actor;

use super::{in_process_pair, InProcessPair};
use crate::support::close;
use crate::support::*;

/// Asserts that less than a second has passed since `started`.
fn within_a_second(started: Instant) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// A deletion, a room lock (told to B's visitors) and a ban made on instance A (through the same
/// moderation service the panel and the CLI use) take effect on B's
/// connections within a second: well before B's own polls (5 s for bans)
/// and rule cache (30 s) would notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_on_one_instance_takes_effect_on_the_others_at_once() {
    use chatctl::db::models::room::RoomSettings;
    use chatctl::db::models::{Room, Site};
    use chatctl::moderation::{bans, messages, rooms};
    let test = "moderation_on_one_instance_takes_effect_on_the_others_at_once";
    let Some(InProcessPair { _redis, key, a, b }) = in_process_pair(test).await else {
        return;
    };
    let chat = a.state.chat.clone();

    let (mut watcher, _, _) = b
        .joined(&key, json!({"nick": "watcher"}), "lobby", None)
        .await;
    let (mut target, target_ready, _) = b
        .joined(&key, json!({"nick": "target"}), "lobby", None)
        .await;
    let token = target_ready["guest_token"].as_str().unwrap().to_owned();
    let ack = target.say("lobby", "t1", "first").await;
    let frame = watcher.recv_type("message").await;
    let participant = chatctl::db::models::ParticipantId(frame["author"]["id"].as_i64().unwrap());
    let id = chatctl::db::models::MessageId(ack["id"].as_i64().unwrap());

    // Deletion on A: B's widgets drop the message.
    let started = Instant::now();
    messages::delete_message(&chat, Actor::CommandLine, id)
        .await
        .unwrap();
    let deleted = watcher.recv_type("deleted").await;
    assert_eq!(deleted["seq"], ack["seq"]);
    within_a_second(started);

    // Room locked on A: the next send on B is refused (B had the room's
    // rules cached as unlocked from the send above).
    let site_key = key.clone();
    let (site, room) =
        a.db.run(move |conn| -> Result<_, chatctl::db::DbError> {
            let site = Site::find_by_key(conn, &site_key)?.unwrap();
            let room = Room::find_by_name(conn, site.id, "lobby")?.unwrap();
            Ok((site, room))
        })
        .await
        .unwrap();
    let locked = RoomSettings {
        slow_mode_secs: 0,
        locked: true,
        approve_first: false,
        max_message_chars: None,
    };
    let started = Instant::now();
    rooms::update(&chat, Actor::CommandLine, room.id, locked)
        .await
        .unwrap();
    // B's visitors are told (`room_rules`), then the send is refused.
    let told = target.recv_type("room_rules").await;
    assert_eq!(told["rules"]["locked"], true, "{told}");
    within_a_second(started);
    target
        .send(json!({"type": "send", "room": "lobby", "cid": "t2", "text": "after the lock"}))
        .await;
    let refused = target.recv_type_any(&["ack", "error"]).await;
    assert_eq!(refused["type"], "error", "{refused}");

    // Ban on A: the target's connection on B closes (4003).
    let started = Instant::now();
    let made = bans::ban(
        &chat,
        Actor::CommandLine,
        bans::BanRequest {
            site: Some(site.id),
            participant: Some(participant),
            cidr: None,
            reason: "spam".into(),
            minutes: None,
        },
    )
    .await
    .unwrap();
    let closed = target.closed().await;
    assert_eq!(closed.code, close::BANNED);
    within_a_second(started);
    // Coming back through B is refused (B keeps the bans in memory)...
    let mut again = b.connect(&key).await;
    again
        .send(json!({"type": "hello", "v": 1, "guest_token": token}))
        .await;
    assert_eq!(again.closed().await.code, close::BANNED);

    // ... until the ban is lifted on A: B lets the target in again at once.
    let started = Instant::now();
    bans::unban(&chat, Actor::CommandLine, made.ban.id)
        .await
        .unwrap();
    loop {
        let mut back = b.connect(&key).await;
        let ready = back.hello(json!({"guest_token": token})).await;
        if ready["type"] == "ready" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still refused: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A word filter and a mute made on instance A apply to the next send on B
/// (within a second), although B had cached the site's filters and mutes as
/// empty from an earlier send: the changes travel as cluster events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn word_filters_and_mutes_on_one_instance_apply_on_the_others_at_once() {
    use chatctl::db::models::Site;
    use chatctl::moderation::{mutes, word_filters};
    let test = "word_filters_and_mutes_on_one_instance_apply_on_the_others_at_once";
    let Some(InProcessPair { _redis, key, a, b }) = in_process_pair(test).await else {
        return;
    };
    let chat = a.state.chat.clone();
    let (mut sender, ready, _) = b
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;
    let participant = chatctl::db::models::ParticipantId(ready["me"]["id"].as_i64().unwrap());
    sender.say("lobby", "s1", "forbidden words, not yet").await;
    let site = {
        let key = key.clone();
        chat.db
            .run(move |conn| Site::find_by_key(conn, &key))
            .await
            .unwrap()
            .unwrap()
    };

    /// Sends until refused with `code`; fails if still accepted after 1 s.
    async fn refused_within_a_second(client: &mut Client, text: &str, code: &str) {
        let started = Instant::now();
        for n in 0.. {
            let cid = format!("{code}-{n}");
            client
                .send(json!({"type": "send", "room": "lobby", "cid": cid, "text": text}))
                .await;
            let reply = client.recv_type_any(&["ack", "error"]).await;
            if reply["type"] == "error" {
                assert_eq!(reply["code"], code, "{reply}");
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "still accepted after {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    word_filters::add(
        &chat,
        Actor::CommandLine,
        site.id,
        "word",
        "forbidden",
        "block",
    )
    .await
    .unwrap();
    refused_within_a_second(&mut sender, "forbidden words", "message_blocked").await;

    sender.say("lobby", "s2", "harmless").await;
    mutes::mute(&chat, Actor::CommandLine, participant, 10, "calm down")
        .await
        .unwrap();
    refused_within_a_second(&mut sender, "still harmless", "muted").await;
}
