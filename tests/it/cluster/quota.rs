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

/// Two ways into rooms not in use at the same moment, one on each instance,
/// with one place left in the quota (found by the outside tester: a join of
/// a new room on one instance and the server API's first message into an
/// empty room on the other both got in, in 2 of 4 tries, and the room over
/// the quota then took its first message). Each pair races many times:
/// exactly one gets the place, and the other leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ways_into_rooms_on_two_instances_never_exceed_the_quota() {
    use crate::support::api::{key, Api};
    use crate::support::room_quota::{check_round, site_with_one_place, Way, Way::*};
    use crate::support::TestApp;
    use chatctl::db::models::Scope;

    let test = "ways_into_rooms_on_two_instances_never_exceed_the_quota";
    let Some(super::ClusterEnv { database, redis }) = super::cluster_env(test).await else {
        return;
    };
    let broker = redis.url();
    // A in this process (to make each round's site), B a `chatctl serve`.
    let a = TestApp::builder()
        .database(database)
        .config(|config| config.cluster.broker_url = Some(broker.clone()))
        .limits(|l| {
            l.max_connections_per_ip = 1_000;
            l.new_guests_per_ip_per_minute = 10_000;
            l.new_rooms_per_ip_per_hour = 10_000;
        })
        .spawn()
        .await;
    let mut args = crate::support::process::FAST.to_vec();
    args.extend(["--broker-url", &broker, "--max-connections-per-ip", "1000"]);
    args.extend(["--new-guests-per-ip-per-minute", "10000"]);
    args.extend(["--new-rooms-per-ip-per-hour", "10000"]);
    let b = ServerProcess::start(&a.database.url, &args).await;
    super::broker_becomes(&b, "up", Duration::from_secs(10)).await;

    // Side a on instance A, side b on instance B.
    let pairs: [[Way; 2]; 5] = [
        [ApiFirst, JoinNew],
        [JoinNew, ApiFirst],
        [JoinQuiet, ApiFirst],
        [JoinNew, JoinNew],
        [ApiCreate, JoinQuiet],
    ];
    for ways in pairs {
        for round in 0..20 {
            let site = site_with_one_place(&a).await;
            let secret = key(&a, &site, "backend", &Scope::ALL).await;
            let (api_a, api_b) = (Api::new(&a, Some(&secret)), Api::at(b.addr, Some(&secret)));
            // Connected beforehand, so that both start at once.
            api_a.get("/rooms").await;
            api_b.get("/rooms").await;
            let (mut on_a, _) = a.guest(&site.public_key, "side-a").await;
            let mut on_b = guest(&b, &site.public_key, "side-b").await;
            let outcomes = tokio::join!(
                ways[0].attempt("a", &mut on_a, &api_a),
                ways[1].attempt("b", &mut on_b, &api_b)
            );
            let what = format!("round {round}, side a on A, side b on B");
            check_round(&a, site.id, ways, outcomes.into(), &what).await;
        }
    }
}
