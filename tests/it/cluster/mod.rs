//! Several `chatctl serve` processes on one PostgreSQL database (and one
//! Redis, started by each test on its own port) behaving as one chat server.
//!
//! These tests run in the PostgreSQL pass (`DATABASE_URL=postgres://...`);
//! on SQLite, and without `redis-server` for those that need it, they are
//! skipped with a message, except under `CI=true`, where they fail.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::close;
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::wait::{listening, poll};
use crate::support::*;

mod api;
mod changes;
mod dashboard;
mod db_cut;
mod loss;
mod nginx;
mod presence;

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A fresh PostgreSQL database, or `None` (with a message) on the SQLite run.
pub(crate) fn cluster_db(test: &str) -> Option<TestDb> {
    if postgres_base_url().is_none() {
        eprintln!("SKIPPED {test}: several instances need PostgreSQL (run with DATABASE_URL=postgres://...)");
        return None;
    }
    Some(test_db())
}

/// The room's `last_seq` as stored.
fn last_seq(database: &TestDb, room: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        last_seq: i64,
    }
    let mut conn = diesel::PgConnection::establish(&database.url).expect("connect");
    let rows: Vec<Row> = diesel::sql_query("SELECT last_seq FROM rooms WHERE name = $1")
        .bind::<diesel::sql_types::Text, _>(room)
        .load(&mut conn)
        .expect("read last_seq");
    rows[0].last_seq
}

/// `senders` clients on `server`, each sending `each` messages pipelined;
/// returns the seqs of their acks. Any refusal fails the test.
async fn send_from(
    server: &ServerProcess,
    key: &str,
    tag: &str,
    senders: usize,
    each: usize,
) -> Vec<tokio::task::JoinHandle<Vec<i64>>> {
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (mut client, _, _) = server
            .joined(key, json!({"nick": format!("{tag}{s}")}), "lobby", None)
            .await;
        let tag = format!("{tag}{s}");
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                client
                    .send(json!({"type": "send", "room": "lobby", "cid": format!("{tag}-{i}"), "text": format!("{tag} {i}")}))
                    .await;
            }
            let mut seqs = Vec::new();
            while seqs.len() < each {
                let reply = client.recv_type_any(&["ack", "error"]).await;
                assert_eq!(reply["type"], "ack", "send refused: {reply}");
                seqs.push(reply["seq"].as_i64().unwrap());
            }
            client.close().await;
            seqs
        }));
    }
    tasks
}

/// Two instances write one room at once: every message gets its own seq,
/// the seqs are gapless, no batch fails, and the room's `last_seq` is the
/// highest seq. (Before the row lock, both writers took the same seqs and
/// whole batches failed with `storage_unavailable`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_room_share_one_gapless_seq() {
    let Some(database) = cluster_db("two_instances_writing_one_room_share_one_gapless_seq") else {
        return;
    };
    let key = create_site(&database.url);
    let a = ServerProcess::start(&database.url, FAST).await;
    let b = ServerProcess::start(&database.url, FAST).await;
    let (senders, each) = (20, 25);
    let mut tasks = send_from(&a, &key, "a", senders, each).await;
    tasks.extend(send_from(&b, &key, "b", senders, each).await);
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("sender"));
    }
    let total = 2 * senders * each;
    let distinct: BTreeSet<i64> = acked.iter().copied().collect();
    assert_eq!(distinct.len(), total, "every ack has its own seq");
    assert_eq!(
        distinct.iter().copied().collect::<Vec<_>>(),
        (1..=total as i64).collect::<Vec<_>>(),
        "seqs 1..={total}, no gap"
    );
    let history = a.history(&key, "lobby").await;
    let stored: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(stored, (1..=total as i64).collect::<Vec<_>>());
    assert_eq!(last_seq(&database, "lobby"), total as i64);
    for server in [&a, &b] {
        assert_eq!(
            server.metric("chatctl_commit_failures_total").await,
            Some(0.0)
        );
    }
}

/// A `redis-server` of the test's own on a free loopback port, without
/// persistence: a restart comes back empty, like a crashed cache.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    /// `None` (with a message) when `redis-server` is not installed; under
    /// `CI=true` a missing `redis-server` fails the test.
    pub async fn start(test: &str) -> Option<RedisServer> {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                !in_ci(),
                "redis-server is missing on CI: apt-get install redis-server"
            );
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (apt-get install redis-server)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Self::spawn(port);
        let server = RedisServer { child, port };
        server.wait_ready().await;
        Some(server)
    }

    fn spawn(port: u16) -> std::process::Child {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server")
    }

    async fn wait_ready(&self) {
        let addr = ("127.0.0.1", self.port);
        listening("redis-server to start", addr, Duration::from_secs(10)).await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL redis-server");
        self.child.wait().expect("reap redis-server");
    }

    /// Starts again, empty, on the same port.
    pub async fn restart(&mut self) {
        self.child = Self::spawn(self.port);
        self.wait_ready().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the instances of a cluster test share: a PostgreSQL database and a
/// Redis, both living as long as the test keeps them.
pub(crate) struct ClusterEnv {
    pub database: TestDb,
    pub redis: RedisServer,
}

/// A [`ClusterEnv`], or `None` when skipped.
pub(crate) async fn cluster_env(test: &str) -> Option<ClusterEnv> {
    let database = cluster_db(test)?;
    let redis = RedisServer::start(test).await?;
    Some(ClusterEnv { database, redis })
}

/// Two instances A and B on one broker, both subscribed, and a site on them.
pub(crate) struct Pair {
    pub env: ClusterEnv,
    /// The site's public key.
    pub key: String,
    pub a: ServerProcess,
    pub b: ServerProcess,
}

/// A [`Pair`], or `None` when skipped (see [`cluster_env`]).
pub(crate) async fn pair(test: &str) -> Option<Pair> {
    let env = cluster_env(test).await?;
    let key = create_site(&env.database.url);
    let a = instance(&env.database, Some(&env.redis.url()), "a").await;
    let b = instance(&env.database, Some(&env.redis.url()), "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    Some(Pair { env, key, a, b })
}

/// Starts an instance on the broker, with rate limits out of the way.
pub(crate) async fn instance(database: &TestDb, broker: Option<&str>, name: &str) -> ServerProcess {
    let mut args: Vec<&str> = FAST.to_vec();
    args.extend(["--instance-name", name]);
    if let Some(url) = broker {
        args.extend(["--broker-url", url]);
    }
    ServerProcess::start(&database.url, &args).await
}

pub(crate) async fn health(server: &ServerProcess) -> Value {
    let response = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .expect("healthz answers");
    response.json().await.expect("healthz JSON")
}

/// Waits until the instance's `/healthz` reports the broker as `state`.
pub(crate) async fn broker_becomes(server: &ServerProcess, state: &str, within: Duration) {
    let what = format!("the broker {state}");
    poll(&what, within, Duration::from_millis(100), || async {
        let body = health(server).await;
        if body["broker"] == state {
            Ok(())
        } else {
            Err(body)
        }
    })
    .await;
}

/// Reads `message` frames until `n` arrived; returns `(seq, text)` in order
/// of arrival. Fails after `within`.
pub(crate) async fn receive(client: &mut Client, n: usize, within: Duration) -> Vec<(i64, String)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, client.recv_type("message"))
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived: {got:?}", got.len()));
        got.push((
            frame["seq"].as_i64().unwrap(),
            frame["text"].as_str().unwrap().to_owned(),
        ));
    }
    got
}

/// Asserts that no `message` frame arrives within `wait` (people coming and
/// going meanwhile are fine).
async fn expect_no_message(client: &mut Client, wait: Duration) {
    if let Ok(frame) = tokio::time::timeout(wait, client.recv_type("message")).await {
        panic!("expected no message, got {frame}");
    }
}

/// A message sent on A reaches receivers on A and on B: the same frames,
/// in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_on_one_instance_reaches_receivers_on_both() {
    let test = "a_message_sent_on_one_instance_reaches_receivers_on_both";
    let Some(Pair {
        env: _env,
        key,
        a,
        b,
    }) = pair(test).await
    else {
        return;
    };
    let (mut on_a, _, _) = a.joined(&key, json!({"nick": "ra"}), "lobby", None).await;
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (mut sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    for i in 1..=20 {
        sender
            .say("lobby", &format!("c{i}"), &format!("hello {i}"))
            .await;
    }
    let expected: Vec<(i64, String)> = (1..=20).map(|i| (i, format!("hello {i}"))).collect();
    assert_eq!(receive(&mut on_a, 20, SETTLE).await, expected);
    assert_eq!(receive(&mut on_b, 20, SETTLE).await, expected);
    // Through the broker, not the periodic check: nothing was repaired.
    assert_eq!(
        b.metric("chatctl_broker_gaps_repaired_total").await,
        Some(0.0)
    );
    assert!(b.metric("chatctl_broker_received_total").await.unwrap() > 0.0);
}

/// Senders on both instances write one room at once, pipelined; receivers
/// on both see every message once, in seq order, with no gap: on each
/// instance a commit of its own (seq 12) never goes out before one of the
/// other's (11) that it had not yet received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_instances_give_every_receiver_the_same_contiguous_order() {
    let test = "concurrent_writers_on_two_instances_give_every_receiver_the_same_contiguous_order";
    let Some(Pair {
        env: _env,
        key,
        a,
        b,
    }) = pair(test).await
    else {
        return;
    };
    let mut receivers = Vec::new();
    for (server, nick) in [(&a, "ra1"), (&a, "ra2"), (&b, "rb1"), (&b, "rb2")] {
        receivers.push(
            server
                .joined(&key, json!({"nick": nick}), "lobby", None)
                .await
                .0,
        );
    }
    let (senders, each) = (10, 20);
    let total = 2 * senders * each;
    let mut tasks = send_from(&a, &key, "a", senders, each).await;
    tasks.extend(send_from(&b, &key, "b", senders, each).await);
    for task in tasks {
        task.await.expect("sender");
    }
    let expected: Vec<i64> = (1..=total as i64).collect();
    for mut receiver in receivers {
        let got: Vec<i64> = receive(&mut receiver, total, SETTLE * 2)
            .await
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(got, expected, "contiguous, in order, once");
    }
}

/// Commits alternate between A and B in one room; receivers on both get a
/// strictly contiguous sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_commits_reach_both_instances_contiguously() {
    let test = "alternating_commits_reach_both_instances_contiguously";
    let Some(Pair {
        env: _env,
        key,
        a,
        b,
    }) = pair(test).await
    else {
        return;
    };
    let (mut on_a, _, _) = a.joined(&key, json!({"nick": "ra"}), "lobby", None).await;
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (mut sa, _, _) = a.joined(&key, json!({"nick": "sa"}), "lobby", None).await;
    let (mut sb, _, _) = b.joined(&key, json!({"nick": "sb"}), "lobby", None).await;
    for i in 0..30 {
        let (sender, tag) = if i % 2 == 0 {
            (&mut sa, "a")
        } else {
            (&mut sb, "b")
        };
        let ack = sender
            .say("lobby", &format!("c{i}"), &format!("{tag} {i}"))
            .await;
        assert_eq!(ack["seq"], i + 1);
    }
    let expected: Vec<(i64, String)> = (0..30)
        .map(|i| (i + 1, format!("{} {i}", if i % 2 == 0 { "a" } else { "b" })))
        .collect();
    assert_eq!(receive(&mut on_a, 30, SETTLE).await, expected);
    assert_eq!(receive(&mut on_b, 30, SETTLE).await, expected);
}

/// Without a broker, instances on one database still deliver each other's
/// messages (through the database, about every second), in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_instances_deliver_each_others_messages_through_the_database() {
    let Some(database) =
        cluster_db("without_a_broker_instances_deliver_each_others_messages_through_the_database")
    else {
        return;
    };
    let key = create_site(&database.url);
    let a = instance(&database, None, "a").await;
    let b = instance(&database, None, "b").await;
    assert_eq!(health(&b).await["broker"], "none");
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (mut sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    for i in 1..=10 {
        sender
            .say("lobby", &format!("c{i}"), &format!("m{i}"))
            .await;
    }
    let expected: Vec<(i64, String)> = (1..=10).map(|i| (i, format!("m{i}"))).collect();
    assert_eq!(receive(&mut on_b, 10, SETTLE).await, expected);
}

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
    let got: Vec<i64> = receive(&mut on_b, count, SETTLE)
        .await
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
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
    let got: Vec<i64> = receive(&mut on_b, count, SETTLE)
        .await
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
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
    use futures_util::{SinkExt, StreamExt};
    let test = "an_instance_killed_under_load_loses_nothing_and_duplicates_nothing";
    let Some(Pair {
        env: _env,
        key,
        mut a,
        b,
    }) = pair(test).await
    else {
        return;
    };
    let (on_a, _, _) = a.joined(&key, json!({"nick": "ra"}), "lobby", None).await;
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (sender, ready, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    let on_a = seqs_until_closed(on_a);

    // Pipelined sends (not waiting for acks) until A dies.
    let (mut sink, mut stream) = sender.ws.split();
    let sending = tokio::spawn(async move {
        let mut sent = 0usize;
        while sent < 100_000 {
            let frame = json!({"type": "send", "room": "lobby", "cid": format!("c{sent}"), "text": format!("m{sent}")});
            let message = tokio_tungstenite::tungstenite::Message::text(frame.to_string());
            if sink.send(message).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sent
    });
    let acking = tokio::spawn(async move {
        let mut acked = std::collections::BTreeMap::new();
        // Until the connection ends; pings and other non-text frames are skipped.
        while let Some(Ok(message)) = stream.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).unwrap_or_default();
            if frame["type"] == "ack" {
                acked.insert(
                    frame["cid"].as_str().unwrap().to_owned(),
                    frame["seq"].as_i64().unwrap(),
                );
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill9();
    let sent = sending.await.unwrap();
    let acked = acking.await.unwrap();
    assert!(
        !acked.is_empty(),
        "some messages were acknowledged before the kill"
    );

    // The sender comes back on B (same guest token) and retries what A
    // never answered, with the same cids.
    let mut again = b.connect(&key).await;
    let token = json!({"guest_token": ready["guest_token"]});
    assert_eq!(again.hello(token).await["type"], "ready");
    again.join("lobby", None).await;
    for i in 0..sent {
        let cid = format!("c{i}");
        if !acked.contains_key(&cid) {
            again.say("lobby", &cid, &format!("m{i}")).await;
        }
    }
    let history: Vec<i64> = b
        .history(&key, "lobby")
        .await
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(history.len(), sent, "each message stored once");
    assert_eq!(history, (1..=sent as i64).collect::<Vec<_>>());

    // B's receiver got everything once, in order.
    let got: Vec<i64> = receive(&mut on_b, sent, SETTLE)
        .await
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(got, history);
    // A's receiver resumes on B from the last seq it saw.
    let mut seen = on_a.await.unwrap();
    let last = seen.last().copied().unwrap_or(0);
    let (mut resumed, _, welcome) = b
        .joined(&key, json!({"nick": "ra2"}), "lobby", Some(last))
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

/// Like a [`Pair`], with A in this process, so that a test calls its
/// services directly (as the panel and the command line do).
struct InProcessPair {
    _redis: RedisServer,
    key: String,
    a: TestApp,
    b: ServerProcess,
}

async fn in_process_pair(test: &str) -> Option<InProcessPair> {
    let ClusterEnv { database, redis } = cluster_env(test).await?;
    let key = create_site(&database.url);
    let broker = redis.url();
    let a = TestApp::builder()
        .database(database)
        .config(|config| {
            config.cluster.broker_url = Some(broker.clone());
        })
        .spawn()
        .await;
    let b = instance(&a.database, Some(&redis.url()), "b").await;
    broker_becomes(&b, "up", Duration::from_secs(10)).await;
    Some(InProcessPair {
        _redis: redis,
        key,
        a,
        b,
    })
}

/// A deletion, a room lock and a ban made on instance A (through the same
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
    let (mut target, _, _) = b
        .joined(&key, json!({"nick": "target"}), "lobby", None)
        .await;
    let ack = target.say("lobby", "t1", "first").await;
    let frame = watcher.recv_type("message").await;
    let participant = chatctl::db::models::ParticipantId(frame["author"]["id"].as_i64().unwrap());
    let id = chatctl::db::models::MessageId(ack["id"].as_i64().unwrap());

    // Deletion on A: B's widgets drop the message.
    let started = Instant::now();
    messages::delete_message(&chat, chatctl::db::models::audit::Actor::CommandLine, id)
        .await
        .unwrap();
    let deleted = watcher.recv_type("deleted").await;
    assert_eq!(deleted["seq"], ack["seq"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Room locked on A: the next send on B is refused (B had the room's
    // rules cached as unlocked from the send above).
    let (site, room) =
        a.db.run(move |conn| -> Result<_, chatctl::db::DbError> {
            let site = Site::find_by_key(conn, &key)?.unwrap();
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
    rooms::update(
        &chat,
        chatctl::db::models::audit::Actor::CommandLine,
        room.id,
        locked,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    target
        .send(json!({"type": "send", "room": "lobby", "cid": "t2", "text": "after the lock"}))
        .await;
    let refused = target.recv_type_any(&["ack", "error"]).await;
    assert_eq!(refused["type"], "error", "{refused}");

    // Ban on A: the target's connection on B closes (4003).
    let started = Instant::now();
    bans::ban(
        &chat,
        chatctl::db::models::audit::Actor::CommandLine,
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
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

pub(crate) const SETTLE: Duration = Duration::from_secs(10);

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
        chatctl::db::models::audit::Actor::CommandLine,
        site.id,
        "word",
        "forbidden",
        "block",
    )
    .await
    .unwrap();
    refused_within_a_second(&mut sender, "forbidden words", "message_blocked").await;

    sender.say("lobby", "s2", "harmless").await;
    mutes::mute(
        &chat,
        chatctl::db::models::audit::Actor::CommandLine,
        participant,
        10,
        "calm down",
    )
    .await
    .unwrap();
    refused_within_a_second(&mut sender, "still harmless", "muted").await;
}
