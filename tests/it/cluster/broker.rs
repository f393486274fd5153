//! The broker failing: refused with SQLite, restarted empty, a connection
//! gone silent, an instance killed under load. Nothing acknowledged is lost
//! or delivered twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::{
    broker_becomes, cluster_env, health, instance, pair, receive_seqs, ClusterEnv, Pair, SETTLE,
};
use crate::support::flood::flood;
use crate::support::process::create_site;
use crate::support::*;

/// A broker with SQLite is refused at start-up, with a clear message.
#[test]
fn a_broker_with_sqlite_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let out = std::process::Command::new(crate::support::process::chatctl())
        .args([
            "--database-url",
            &url,
            "serve",
            "--no-demo",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(["--broker-url", "redis://127.0.0.1:1"])
        .output()
        .expect("run chatctl serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--broker-url needs PostgreSQL"), "{stderr}");
}

/// Asserts that no `message` frame arrives within `wait` (people coming and
/// going meanwhile are fine).
async fn expect_no_message(client: &mut Client, wait: Duration) {
    if let Ok(frame) = tokio::time::timeout(wait, client.recv_type("message")).await {
        panic!("expected no message, got {frame}");
    }
}

/// Sends `count` messages one after the other (each waiting for its ack),
/// a few milliseconds apart; returns the acked seqs.
fn send_steadily(mut sender: Client, count: usize) -> tokio::task::JoinHandle<Vec<i64>> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..count {
            let ack = sender
                .say("lobby", &format!("c{i}"), &format!("m{i}"))
                .await;
            acked.push(ack["seq"].as_i64().unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        acked
    })
}

/// Redis is killed while messages flow and comes back empty a few seconds
/// later: receivers on the other instance get every message once, in
/// order; `/healthz` says degraded meanwhile, then up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_nothing_and_health_shows_it() {
    let test = "a_broker_restart_loses_nothing_and_health_shows_it";
    let Some(Pair { mut env, key, a, b }) = pair(test).await else {
        return;
    };
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    let count = 300;
    let sending = send_steadily(sender, count);
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.redis.kill9();
    broker_becomes(&b, "down", Duration::from_secs(5)).await;
    assert_eq!(health(&b).await["status"], "degraded");
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.redis.restart().await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let acked = sending.await.expect("sender");
    assert_eq!(acked, (1..=count as i64).collect::<Vec<_>>());
    let got: Vec<i64> = receive_seqs(&mut on_b, count, SETTLE).await;
    assert_eq!(got, acked, "every message once, in order");
    expect_no_message(&mut on_b, Duration::from_millis(500)).await;
    assert!(
        b.metric("chatctl_broker_gaps_repaired_total")
            .await
            .unwrap()
            > 0.0
    );
}

/// A TCP proxy in front of Redis that can blackhole the connections open
/// through it: they stay open and carry nothing, as after a NAT or
/// firewall drop. New connections go through.
struct Blackhole {
    addr: std::net::SocketAddr,
    hole: tokio::sync::watch::Sender<u64>,
    tasks: Arc<Mutex<tokio::task::JoinSet<()>>>,
}

impl Blackhole {
    async fn start(upstream: u16) -> Blackhole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (hole, _) = tokio::sync::watch::channel(0u64);
        let tasks: Arc<Mutex<tokio::task::JoinSet<()>>> = Arc::default();
        let (hole_tx, spawned) = (hole.clone(), tasks.clone());
        tasks.lock().unwrap().spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut hole = hole_tx.subscribe();
                spawned.lock().unwrap().spawn(async move {
                    let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = hole.changed() => {
                            // Both ends stay open; nothing moves any more.
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        Blackhole { addr, hole, tasks }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    fn swallow_open_connections(&self) {
        self.hole.send_modify(|n| *n += 1);
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

/// B's connection to Redis goes silent without closing: B notices that its
/// own heartbeats no longer come back, reconnects, and catches up what it
/// missed from the database; its receivers lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_broker_connection_is_detected_and_repaired() {
    let test = "a_blackholed_broker_connection_is_detected_and_repaired";
    let Some(ClusterEnv { database, redis }) = cluster_env(test).await else {
        return;
    };
    let proxy = Blackhole::start(redis.port).await;
    let key = create_site(&database.url);
    let a = instance(&database, Some(&redis.url()), "a").await;
    let b = instance(&database, Some(&proxy.url()), "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    let count = 300;
    let sending = send_steadily(sender, count);
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.swallow_open_connections();
    let acked = sending.await.expect("sender");
    let got: Vec<i64> = receive_seqs(&mut on_b, count, SETTLE).await;
    assert_eq!(got, acked, "every message once, in order");
    assert!(b.metric("chatctl_broker_reconnects_total").await.unwrap() >= 1.0);
    broker_becomes(&b, "up", Duration::from_secs(10)).await;
}

/// Reads `message` frames until the connection ends; returns their seqs.
fn seqs_until_closed(mut client: Client) -> tokio::task::JoinHandle<Vec<i64>> {
    use futures_util::StreamExt;
    tokio::spawn(async move {
        let mut seqs = Vec::new();
        while let Some(Ok(msg)) = client.ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
                let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                if frame["type"] == "message" {
                    seqs.push(frame["seq"].as_i64().unwrap());
                }
            }
        }
        seqs
    })
}

/// A is killed (SIGKILL) while its sender writes: the sender retries its
/// unanswered messages on B with the same cids, A's receiver resumes on B,
/// and every acknowledged message reaches every receiver exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_under_load_loses_nothing_and_duplicates_nothing() {
    let test = "an_instance_killed_under_load_loses_nothing_and_duplicates_nothing";
    let Some(mut two) = pair(test).await else {
        return;
    };
    let Pair { key, a, b, .. } = &mut two;
    let (on_a, _, _) = a.joined(key, json!({"nick": "ra"}), "lobby", None).await;
    let (mut on_b, _, _) = b.joined(key, json!({"nick": "rb"}), "lobby", None).await;
    let (sender, ready, _) = a.joined(key, json!({"nick": "s"}), "lobby", None).await;
    let on_a = seqs_until_closed(on_a);
    let flood = flood(sender, 100_000, Duration::from_millis(2));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill9();
    let (sent, acked) = flood.finish().await;
    assert!(
        !acked.is_empty(),
        "some messages were acknowledged before the kill"
    );

    // The sender comes back on B (same guest token) and retries what A
    // never answered, with the same cids.
    let mut again = b.connect(key).await;
    let token = json!({"guest_token": ready["guest_token"]});
    assert_eq!(again.hello(token).await["type"], "ready");
    again.join("lobby", None).await;
    for i in (0..sent).filter(|i| !acked.contains_key(i)) {
        again.say("lobby", &i.to_string(), &format!("m{i}")).await;
    }
    let sent = sent as usize;
    let history = b.stored_seqs(key, "lobby").await;
    assert_eq!(history.len(), sent, "each message stored once");
    assert_eq!(history, (1..=sent as i64).collect::<Vec<_>>());

    // B's receiver got everything once, in order.
    let got: Vec<i64> = receive_seqs(&mut on_b, sent, SETTLE).await;
    assert_eq!(got, history);
    // A's receiver resumes on B from the last seq it saw.
    let mut seen = on_a.await.unwrap();
    let last = seen.last().copied().unwrap_or(0);
    let (mut resumed, _, welcome) = b
        .joined(key, json!({"nick": "ra2"}), "lobby", Some(last))
        .await;
    assert_eq!(welcome["mode"], "resumed", "{welcome}");
    seen.extend(
        welcome["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap()),
    );
    expect_no_message(&mut resumed, Duration::from_millis(300)).await;
    assert_eq!(seen, history, "A's receiver: every message once, in order");
}
