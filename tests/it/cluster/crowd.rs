//! A crowd spread over two instances (issue 14): the count, the welcome's
//! first page and the `who` pages cover both instances, and the count stays
//! right when people on either one vanish.

use serde_json::{json, Value};

use super::{broker_becomes, cluster_env, ClusterEnv, SETTLE};
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::Client;

/// An instance on the broker that lets one address (the test's) bring a crowd.
async fn crowd_instance(database_url: &str, broker: &str, name: &str) -> ServerProcess {
    let mut args: Vec<&str> = FAST.to_vec();
    args.extend(["--instance-name", name, "--broker-url", broker]);
    args.extend(["--max-connections-per-ip", "200"]);
    args.extend(["--new-guests-per-ip-per-minute", "200"]);
    ServerProcess::start(database_url, &args).await
}

/// Two crowd instances A and B on one broker, both subscribed, and a site
/// on them (with the environment, which must outlive them); `None` when
/// skipped (see [`cluster_env`]).
async fn crowd_pair(test: &str) -> Option<(ClusterEnv, String, ServerProcess, ServerProcess)> {
    let env = cluster_env(test).await?;
    let key = create_site(&env.database.url);
    let broker = env.redis.url();
    let a = crowd_instance(&env.database.url, &broker, "a").await;
    let b = crowd_instance(&env.database.url, &broker, "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", SETTLE).await;
    }
    Some((env, key, a, b))
}

/// Reads until a `presence_count` or `presence` frame says `online` is `n`;
/// returns that frame.
async fn until_online(client: &mut Client, n: usize) -> Value {
    tokio::time::timeout(SETTLE * 2, async {
        loop {
            let frame = client.recv_type_any(&["presence", "presence_count"]).await;
            if frame["online"] == n {
                return frame;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the count never reached {n}"))
}

/// Every participant id present, by `who` pages of 20.
async fn who_all(client: &mut Client) -> Vec<i64> {
    let (mut ids, mut after) = (Vec::new(), Value::Null);
    loop {
        client
            .send(json!({"type": "who", "room": "lobby", "after": after, "limit": 20}))
            .await;
        let page = client.recv_type_any(&["who", "error"]).await;
        assert_eq!(page["type"], "who", "{page}");
        ids.extend(
            page["online"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_i64().unwrap()),
        );
        after = page["next"].clone();
        if after.is_null() {
            return ids;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_on_two_instances_is_counted_and_paged_as_one() {
    let Some((_env, key, a, b)) =
        crowd_pair("a_crowd_on_two_instances_is_counted_and_paged_as_one").await
    else {
        return;
    };
    // 30 people on each instance, joining in turns.
    let (mut on_a, mut on_b, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..30 {
        for (server, side, tag) in [(&a, &mut on_a, "a"), (&b, &mut on_b, "b")] {
            let (client, ready, _) = server
                .joined(&key, json!({"nick": format!("{tag}{i}")}), "lobby", None)
                .await;
            ids.push(ready["me"]["id"].as_i64().unwrap());
            side.push(client);
        }
    }
    until_online(&mut on_a[0], 60).await;

    // A newcomer on B: one page of 50 and the total of both instances.
    let (mut zed, ready, welcome) = b.joined(&key, json!({"nick": "zed"}), "lobby", None).await;
    ids.push(ready["me"]["id"].as_i64().unwrap());
    ids.sort();
    assert_eq!(welcome["online"].as_array().unwrap().len(), 50, "{welcome}");
    assert_eq!(welcome["online_total"], 61, "{welcome}");
    assert_eq!(
        who_all(&mut zed).await,
        ids,
        "everyone on both instances, once"
    );
    until_online(&mut on_a[0], 61).await;

    // Ten vanish on B (connections dropped): A counts them out...
    on_b.truncate(20);
    until_online(&mut on_a[0], 51).await;
    // ...and the one that brings the room to 50 is told by name again, on both.
    drop(on_a.pop());
    let frame = until_online(&mut on_a[0], 50).await;
    assert_eq!(frame["type"], "presence", "{frame}");
    assert_eq!(frame["event"], "leave", "{frame}");
    let frame = until_online(&mut zed, 50).await;
    assert_eq!(frame["type"], "presence", "{frame}");
    assert_eq!(who_all(&mut zed).await.len(), 50);
}

/// Someone present through instance B who says hello on A under a new name
/// is listed under it on both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_on_one_instance_reaches_the_lists_of_both() {
    let Some((_env, key, a, b)) =
        crowd_pair("a_rename_on_one_instance_reaches_the_lists_of_both").await
    else {
        return;
    };
    let (_on_b, ready, _) = b
        .joined(&key, json!({"nick": "Oldname"}), "lobby", None)
        .await;
    let id = ready["me"]["id"].as_i64().unwrap();
    let mut on_a = a.connect(&key).await;
    let renamed = on_a
        .hello(json!({"guest_token": ready["guest_token"], "nick": "Newname"}))
        .await;
    assert_eq!(renamed["me"]["nick"], "Newname", "{renamed}");
    let mut probes = 0;
    for server in [&b, &a] {
        let deadline = tokio::time::Instant::now() + SETTLE * 2;
        loop {
            probes += 1;
            let (_probe, _, welcome) = server
                .joined(
                    &key,
                    json!({"nick": format!("Probe{probes}")}),
                    "lobby",
                    None,
                )
                .await;
            let listed = welcome["online"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["id"] == id);
            if listed.is_some_and(|w| w["nick"] == "Newname") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still listed under the old name: {welcome}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
