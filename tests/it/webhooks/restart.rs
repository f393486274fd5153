//! Deliveries stored before a real `chatctl serve` process is killed (`-9`)
//! are sent by the next one; on PostgreSQL, two instances share the outbox
//! without sending one delivery twice.

use std::collections::HashSet;
use std::time::Duration;

use chatctl::db::models::webhook::Delivery;
use chatctl::db::Db;
use serde_json::json;

use crate::support::cli::stdout;
use crate::support::process::{chatctl, create_site, ServerProcess, FAST};
use crate::support::receiver::{Received, Receiver};
use crate::support::*;

/// Loopback receivers, quick retries, and a short attempt deadline: an
/// attempt cut by the kill is tried again once its lease (deadline + 5 s) ends.
const HOOK_FLAGS: &[&str] = &[
    "--webhook-allow-private",
    "--webhook-retry-base-ms",
    "100",
    "--webhook-timeout-secs",
    "1",
];

fn add_endpoint(database_url: &str, key: &str, url: &str) -> String {
    let out = stdout(
        assert_cmd::Command::new(chatctl())
            .env_remove("DATABASE_URL")
            .args([
                "--database-url",
                database_url,
                "site",
                "webhook",
                "add",
                key,
                url,
            ])
            .args(["--event", "message.created", "--json"]),
    );
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    out["secret"].as_str().unwrap().to_owned()
}

fn seqs(got: &[Received]) -> Vec<i64> {
    got.iter()
        .map(|r| r.json()["data"]["message"]["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn pending_deliveries_are_sent_after_a_kill_and_restart() {
    let database = test_db();
    let key = create_site(&database.url);
    let addr = Receiver::free_addr();
    let secret = add_endpoint(&database.url, &key, &format!("http://{addr}/hook"));
    let args: Vec<&str> = FAST.iter().chain(HOOK_FLAGS).copied().collect();
    let mut server = ServerProcess::start(&database.url, &args).await;
    let (mut ann, _, _) = server
        .joined(&key, json!({"nick": "ann"}), "lobby", None)
        .await;
    for i in 1..=5 {
        ann.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
    }
    // Acknowledged means stored, with its delivery: the receiver is down, so
    // they wait in the outbox.
    let db = Db::connect(&database.url, 1).unwrap();
    crate::support::wait::poll(
        "attempts while down",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let attempted = db
                .run(|c| Delivery::recent(c, 1.into(), 10))
                .await
                .map(|d| d.iter().any(|d| d.attempts > 0))
                .unwrap_or(false);
            if attempted {
                Ok(())
            } else {
                Err("no attempt yet")
            }
        },
    )
    .await;
    server.kill9();

    let receiver = Receiver::start_on(addr).await;
    server.restart().await;
    let got = receiver.wait_delivered(5).await;
    assert_eq!(seqs(&got), [1, 2, 3, 4, 5]);
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    let ids: HashSet<String> = got
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "one event id per message");
}

/// Two instances on one PostgreSQL database (no broker): each claims
/// deliveries with `SKIP LOCKED`, so every event reaches the receiver once,
/// in order per room, however the two share them.
#[tokio::test]
async fn two_instances_never_send_a_delivery_twice() {
    if postgres_base_url().is_none() {
        eprintln!(
            "SKIPPED two_instances_never_send_a_delivery_twice: needs DATABASE_URL=postgres://..."
        );
        return;
    }
    let database = test_db();
    let key = create_site(&database.url);
    let receiver = Receiver::start().await;
    let args: Vec<&str> = FAST.iter().chain(HOOK_FLAGS).copied().collect();
    let one = ServerProcess::start(&database.url, &args).await;
    let two = ServerProcess::start(&database.url, &args).await;
    add_endpoint(&database.url, &key, &receiver.url());
    let mut clients = Vec::new();
    for (i, server) in [&one, &two].into_iter().enumerate() {
        let (client, _, _) = server
            .joined(
                &key,
                json!({"nick": format!("p{i}")}),
                &format!("room-{i}"),
                None,
            )
            .await;
        clients.push(client);
    }
    for n in 1..=20 {
        for (i, client) in clients.iter_mut().enumerate() {
            client
                .say(&format!("room-{i}"), &format!("c{n}"), &format!("{n}"))
                .await;
        }
    }
    let got = receiver.wait_delivered(40).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.delivered().len().max(got.len());
    assert_eq!(got, 40, "each delivery once");
    for room in ["room-0", "room-1"] {
        let in_room: Vec<Received> = receiver
            .delivered()
            .into_iter()
            .filter(|r| r.json()["data"]["room"] == room)
            .collect();
        assert_eq!(
            seqs(&in_room),
            (1..=20).collect::<Vec<_>>(),
            "{room} in order"
        );
    }
}
