//! The site's quota of rooms in use across instances (found by the outside
//! tester: with `--max-rooms 2`, guests on two instances entered new rooms and
//! wrote in each, beyond the quota). A room someone is in on either instance
//! counts at every join, and the instances' writers take turns at a room's
//! first message, so that together they never bring more rooms into use
//! than the quota.

use std::time::Duration;

use serde_json::{json, Value};

use super::{pair, Pair};
use crate::support::process::{chatctl, ServerProcess};
use crate::support::Client;

fn set_quota(database_url: &str, key: &str, max_rooms: i32) {
    let out = std::process::Command::new(chatctl())
        .args(["--database-url", database_url, "site", "set", key])
        .args(["--max-rooms", &max_rooms.to_string()])
        .output()
        .expect("run chatctl site set");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn guest(server: &ServerProcess, key: &str, nick: &str) -> Client {
    let mut client = server.connect(key).await;
    let ready = client.hello(json!({ "nick": nick })).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    client
}

async fn try_join(client: &mut Client, room: &str) -> Value {
    client.send(json!({"type": "join", "room": room})).await;
    client.recv_type_any(&["welcome", "error"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_together_keep_the_room_quota() {
    let Some(Pair { env, key, a, b }) = pair("two_instances_together_keep_the_room_quota").await
    else {
        return;
    };
    let url = env.database.url.clone();
    set_quota(&url, &key, 2);
    let mut on_a = guest(&a, &key, "on-a").await;
    let mut on_b = guest(&b, &key, "on-b").await;
    assert_eq!(try_join(&mut on_a, "a1").await["type"], "welcome");
    assert_eq!(try_join(&mut on_b, "b1").await["type"], "welcome");
    // A room someone is in on the other instance counts.
    for (client, room) in [(&mut on_a, "a2"), (&mut on_b, "b2")] {
        let refused = try_join(client, room).await;
        assert_eq!(refused["code"], "too_many_rooms", "{refused}");
    }
    // Rooms in use stay open, whichever instance holds them.
    assert_eq!(try_join(&mut on_a, "b1").await["type"], "welcome");

    // Four rooms entered while the quota allowed them, then the quota is
    // lowered: both writers receive first messages at once, and together
    // store two.
    set_quota(&url, &key, 6);
    for (client, rooms) in [(&mut on_a, ["a3", "a4"]), (&mut on_b, ["b3", "b4"])] {
        for room in rooms {
            assert_eq!(try_join(client, room).await["type"], "welcome");
        }
    }
    set_quota(&url, &key, 2);
    for (client, rooms) in [(&mut on_a, ["a3", "a4"]), (&mut on_b, ["b3", "b4"])] {
        for room in rooms {
            let send = json!({"type": "send", "room": room, "cid": room, "text": "first"});
            client.send(send).await;
        }
    }
    let mut outcomes = Vec::new();
    for client in [&mut on_a, &mut on_b] {
        for _ in 0..2 {
            let reply = tokio::time::timeout(
                Duration::from_secs(10),
                client.recv_type_any(&["ack", "error"]),
            )
            .await
            .expect("an answer to each send");
            outcomes.push(match reply["type"].as_str() {
                Some("ack") => "ack".to_owned(),
                _ => reply["code"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["ack", "ack", "too_many_rooms", "too_many_rooms"],
        "two rooms of four come into use"
    );
}
