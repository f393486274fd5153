//! A room's history kept in memory by an instance follows what is committed
//! on every instance (through the broker) and what is deleted on another one
//! (through the event log): its welcomes are those the database gives, as a
//! third instance without that history (`--recent-messages 0`) reads them.

use std::time::Duration;

use serde_json::{json, Value};

use chatctl::db::models::audit::Actor;
use chatctl::db::models::MessageId;
use chatctl::moderation::messages::delete_message;

use super::{in_process_pair, receive, InProcessPair};
use crate::support::client::history;
use crate::support::process::{ServerProcess, FAST};

const HITS: &str = "chatctl_history_cache_total{outcome=\"hit\"}";

async fn welcome(server: &ServerProcess, key: &str, nick: &str, since: Option<i64>) -> Value {
    let (client, _, welcome) = server
        .joined(key, json!({ "nick": nick }), "lobby", since)
        .await;
    client.close().await;
    history(&welcome)
}

/// The same joins on `memory` and `database` give the same histories, and
/// `memory` answered each from memory.
async fn same(memory: &ServerProcess, database: &ServerProcess, key: &str, round: &str) {
    for (k, since) in [None, Some(0), Some(2), Some(5), Some(7)]
        .into_iter()
        .enumerate()
    {
        let hits = memory.metric(HITS).await.unwrap_or(0.0);
        let got = welcome(memory, key, &format!("m{round}{k}"), since).await;
        assert!(
            memory.metric(HITS).await.unwrap_or(0.0) > hits,
            "since {since:?}: answered from memory"
        );
        let truth = welcome(database, key, &format!("d{round}{k}"), since).await;
        assert_eq!(got, truth, "since {since:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_in_memory_follows_every_instance() {
    let test = "history_in_memory_follows_every_instance";
    let Some(InProcessPair { _redis, key, a, b }) = in_process_pair(test).await else {
        return;
    };
    let mut args = FAST.to_vec();
    args.extend(["--recent-messages", "0"]);
    let database = ServerProcess::start(&a.database.url, &args).await;

    // B keeps the room's history: two people are in it there.
    let (mut keeper, _, _) = b
        .joined(&key, json!({"nick": "keeper"}), "lobby", None)
        .await;
    let (mut bob, _, _) = b.joined(&key, json!({"nick": "bob"}), "lobby", None).await;
    let (mut alice, _) = a.guest_in(&key, "alice", "lobby").await;
    // B fills its window from the database now.
    welcome(&b, &key, "first", None).await;

    // Messages committed on A (reaching B through the broker) and on B.
    let mut ids = Vec::new();
    for i in 0..4 {
        let ack = alice
            .say("lobby", &format!("a{i}"), &format!("from A {i}"))
            .await;
        ids.push(ack["id"].as_i64().unwrap());
        let ack = bob
            .say("lobby", &format!("b{i}"), &format!("from B {i}"))
            .await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    receive(&mut keeper, 8, Duration::from_secs(10)).await;
    same(&b, &database, &key, "r1").await;

    // Deleted on A: B hears of it through the event log.
    for id in [ids[1], ids[6]] {
        delete_message(&a.state.chat, Actor::CommandLine, MessageId(id))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        keeper.recv_type("deleted").await;
    }
    same(&b, &database, &key, "r2").await;
    drop((alice, bob));
}
