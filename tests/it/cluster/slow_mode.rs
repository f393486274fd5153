//! A room's slow mode holds per participant across instances (found by the
//! outside tester: a guest connected to two instances could send on each
//! within the gap, and two sends at once on both were both acked). The
//! writers decide from the stored messages, in turn per room.

use std::time::Duration;

use serde_json::{json, Value};

use chatctl::db::models::audit::Actor;

use super::{in_process_pair, InProcessPair};
use crate::support::*;

const SLOW_SECS: i32 = 5;

async fn send(client: &mut Client, cid: &str, text: &str) -> Value {
    client
        .send(json!({"type": "send", "room": "lobby", "cid": cid, "text": text}))
        .await;
    client.recv_type_any(&["ack", "error"]).await
}

/// One guest (the same `guest_token`) in the lobby on instance A (in this
/// process) and on B, after the lobby's slow mode was set to [`SLOW_SECS`].
async fn one_guest_on_both(test: &str) -> Option<(InProcessPair, Client, Client)> {
    use chatctl::db::models::room::RoomSettings;
    use chatctl::db::models::{Room, Site};
    use chatctl::moderation::rooms;
    let pair = in_process_pair(test).await?;
    let (key, a, b) = (&pair.key, &pair.a, &pair.b);
    let mut on_a = a.connect(key).await;
    let ready = on_a.hello(json!({"nick": "slowpoke"})).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    on_a.join("lobby", None).await;
    let room = {
        let key = key.clone();
        a.db.run(move |conn| -> Result<_, chatctl::db::DbError> {
            let site = Site::find_by_key(conn, &key)?.unwrap();
            Room::find_by_name(conn, site.id, "lobby")
        })
        .await
        .unwrap()
        .unwrap()
    };
    let slow = RoomSettings {
        slow_mode_secs: SLOW_SECS,
        locked: false,
        approve_first: false,
        max_message_chars: None,
    };
    rooms::update(&a.state.chat, Actor::CommandLine, room.id, slow)
        .await
        .unwrap();
    let told = on_a.recv_type("room_rules").await;
    assert_eq!(told["rules"]["slow_mode_secs"], SLOW_SECS, "{told}");
    let token = json!({"guest_token": ready["guest_token"]});
    let (on_b, ready_b, welcome) = b.joined(key, token, "lobby", None).await;
    assert_eq!(ready_b["me"]["id"], ready["me"]["id"], "{ready_b}");
    assert_eq!(welcome["rules"]["slow_mode_secs"], SLOW_SECS, "{welcome}");
    Some((pair, on_a, on_b))
}

/// A send on B 2 s after an acked send on A is refused (`slow_mode`, with
/// `retry_after_ms`, nothing stored), and goes through when retried with the
/// same cid after that wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_mode_holds_for_a_participant_on_two_instances() {
    let test = "slow_mode_holds_for_a_participant_on_two_instances";
    let Some((_pair, mut on_a, mut on_b)) = one_guest_on_both(test).await else {
        return;
    };
    let first = send(&mut on_a, "a1", "first, on A").await;
    assert_eq!(first["type"], "ack", "{first}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refused = send(&mut on_b, "b1", "too soon, on B").await;
    assert_eq!(refused["code"], "slow_mode", "{refused}");
    let wait = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(
        (1..=SLOW_SECS as u64 * 1000 - 1500).contains(&wait),
        "{refused}"
    );
    // Nothing was stored: the same cid goes through after the wait.
    tokio::time::sleep(Duration::from_millis(wait + 100)).await;
    let retried = send(&mut on_b, "b1", "too soon, on B").await;
    assert_eq!(retried["type"], "ack", "{retried}");
    assert_eq!(retried["duplicate"], false, "{retried}");
    assert_eq!(
        retried["seq"],
        first["seq"].as_i64().unwrap() + 1,
        "{retried}"
    );
}

/// Two sends at once, one on A and one on B: exactly one is acked, the other
/// refused with `slow_mode`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_sends_on_two_instances_get_one_ack_in_slow_mode() {
    let test = "simultaneous_sends_on_two_instances_get_one_ack_in_slow_mode";
    let Some((_pair, mut on_a, mut on_b)) = one_guest_on_both(test).await else {
        return;
    };
    let (on_a_reply, on_b_reply) = tokio::join!(
        send(&mut on_a, "a1", "together, on A"),
        send(&mut on_b, "b1", "together, on B"),
    );
    let replies = [&on_a_reply, &on_b_reply];
    let acked = replies.iter().filter(|r| r["type"] == "ack").count();
    assert_eq!(acked, 1, "{on_a_reply} {on_b_reply}");
    let other = replies.iter().find(|r| r["type"] != "ack").unwrap();
    assert_eq!(other["code"], "slow_mode", "{other}");
}
