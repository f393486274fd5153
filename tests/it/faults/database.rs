//! The database unavailable: SQLite's write lock held by another process,
//! PostgreSQL gone away (a cut connection). Sends get a retryable error,
//! never silence, and the server recovers on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::seq_by_text;
use crate::support::flood::send_frame;
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::*;

#[tokio::test]
async fn a_locked_database_gives_a_retryable_error_and_the_server_recovers() {
    if postgres_base_url().is_some() {
        return; // SQLite's write lock; PostgreSQL has no equivalent to hold from outside.
    }
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "patient", "lobby").await;
    let first = client
        .say("lobby", "before", "stored before the lock")
        .await;

    // Another process holds the write lock longer than the busy timeout (5 s).
    let path = app.database.url.trim_start_matches("sqlite://").to_owned();
    let mut blocker = {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::SqliteConnection::establish(&path).unwrap();
        c.batch_execute("BEGIN IMMEDIATE").unwrap();
        c
    };
    client
        .send(json!({"type": "send", "room": "lobby", "cid": "during", "text": "during the lock"}))
        .await;
    let refused = client.recv_type_any(&["ack", "error"]).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "storage_unavailable");
    assert_eq!(refused["ref"], "during");
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 0);

    {
        use diesel::connection::SimpleConnection;
        blocker.batch_execute("ROLLBACK").unwrap();
    }
    // The same cid goes through once the database is back, exactly once.
    let retried = client.say("lobby", "during", "during the lock").await;
    assert_eq!(retried["duplicate"], false);
    assert_eq!(retried["seq"], first["seq"].as_i64().unwrap() + 1);
    let again = client.say("lobby", "during", "during the lock").await;
    assert_eq!(again["duplicate"], true);
    let (mut other, _) = app.guest(&site.public_key, "auditor").await;
    let welcome = other.join("lobby", Some(0)).await;
    assert_eq!(
        texts(&welcome),
        ["stored before the lock", "during the lock"]
    );
}

/// A TCP proxy in front of PostgreSQL that the test can cut: while cut, it
/// drops every open connection and closes new ones at once, as a database
/// that went away (a crash, a failover, a network partition) looks to us.
struct DbProxy {
    addr: std::net::SocketAddr,
    /// Bumped by every cut; a pipe ends when it changes.
    cuts: tokio::sync::watch::Sender<u64>,
    down: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    async fn start(upstream: std::net::SocketAddr) -> DbProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = {
            let (cuts, down) = (cuts.clone(), down.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        continue; // dropped: the connection closes at once
                    }
                    let mut cut = cuts.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        DbProxy {
            addr,
            cuts,
            down,
            task,
        }
    }

    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn healthz(addr: std::net::SocketAddr) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .ok()?;
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// A server on `database` through a [`DbProxy`], to cut.
async fn behind_a_proxy(database: &TestDb) -> (DbProxy, ServerProcess) {
    let mut direct = url::Url::parse(&database.url).unwrap();
    let upstream = direct.socket_addrs(|| Some(5432)).unwrap()[0];
    let proxy = DbProxy::start(upstream).await;
    direct.set_ip_host(proxy.addr.ip()).unwrap();
    direct.set_port(Some(proxy.addr.port())).unwrap();
    let server = ServerProcess::start(direct.as_str(), FAST).await;
    (proxy, server)
}

/// Sends 100 messages pipelined, cutting the database after the 51st; reads
/// an answer to each: acked (cid to seq), or refused as storage_unavailable
/// with a retry_after_ms (cids).
async fn send_through_a_cut(
    sender: &mut Client,
    proxy: &DbProxy,
) -> (BTreeMap<String, i64>, BTreeSet<String>) {
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let mut refused: BTreeSet<String> = BTreeSet::new();
    for i in 0..100u64 {
        sender.send_raw(send_frame(i)).await;
        if i == 50 {
            proxy.cut();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for _ in 0..100 {
        let frame = sender.recv_type_any(&["ack", "error"]).await;
        let cid = frame["ref"]
            .as_str()
            .or(frame["cid"].as_str())
            .unwrap()
            .to_owned();
        if frame["type"] == "ack" {
            acked.insert(cid, frame["seq"].as_i64().unwrap());
        } else {
            assert_eq!(frame["code"], "storage_unavailable", "{frame}");
            assert!(frame["retry_after_ms"].as_u64().unwrap() > 0, "{frame}");
            refused.insert(cid);
        }
    }
    (acked, refused)
}

/// Sends the `refused` cids again, each once: what was stored before the cut
/// (its ack may have been lost with the connection) comes back as a
/// duplicate, the rest is posted once; every answer is an ack.
async fn retry(sender: &mut Client, refused: &BTreeSet<String>, acked: &mut BTreeMap<String, i64>) {
    for cid in refused {
        sender.send_raw(send_frame(cid.parse().unwrap())).await;
    }
    for _ in 0..refused.len() {
        let frame = sender.recv_type_any(&["ack", "error"]).await;
        assert_eq!(frame["type"], "ack", "after recovery: {frame}");
        acked.insert(
            frame["cid"].as_str().unwrap().to_owned(),
            frame["seq"].as_i64().unwrap(),
        );
    }
}

/// Waits until the server's health check answers 200.
async fn healthy_within(server: &ServerProcess, within: Duration) {
    let healthy = || async {
        match healthz(server.addr).await {
            Some(200) => Ok(()),
            other => Err(other),
        }
    };
    let every = Duration::from_millis(200);
    crate::support::wait::poll("the server to recover", within, every, healthy).await;
}

/// PostgreSQL goes away while messages flow, then comes back. SQLite has no
/// equivalent we can produce: the file cannot be made unreadable to root,
/// and a locked database (the test above) is how SQLite becomes unavailable
/// to a writer in practice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unavailable_gives_a_retryable_error_and_the_server_recovers() {
    if postgres_base_url().is_none() {
        eprintln!(
            "SQLite run: PostgreSQL outage test skipped (run with DATABASE_URL=postgres://...)"
        );
        return;
    }
    let database = test_db();
    let key = create_site(&database.url);
    let (proxy, server) = behind_a_proxy(&database).await;
    assert_eq!(healthz(server.addr).await, Some(200));

    let (mut receiver, _, welcome) = server
        .joined(&key, json!({"nick": "receiver"}), "lobby", None)
        .await;
    let base = welcome["seq"].as_i64().unwrap();
    let (mut sender, _, _) = server
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;
    let first = sender.say("lobby", "before", "before the outage").await;
    assert_eq!(first["seq"], base + 1);

    // Sends pipelined while the database disappears: each gets an ack or a
    // retryable storage_unavailable, never silence.
    let (mut acked, mut refused) = send_through_a_cut(&mut sender, &proxy).await;
    // Once the database is gone, a new send is refused, clearly.
    sender.send_raw(send_frame(1000)).await;
    let during = sender.recv_type_any(&["ack", "error"]).await;
    assert_eq!(during["type"], "error", "{during}");
    assert_eq!(during["code"], "storage_unavailable");
    assert_eq!(during["ref"], "1000");
    refused.insert("1000".into());
    assert_eq!(
        healthz(server.addr).await,
        Some(503),
        "health check reports the outage"
    );
    assert!(!refused.is_empty());

    proxy.restore();
    healthy_within(&server, Duration::from_secs(30)).await;
    retry(&mut sender, &refused, &mut acked).await;

    // Everything acknowledged is stored with the seq it was acknowledged with,
    // once, and the live receiver saw the room's seqs with no gap.
    let history = server.history(&key, "lobby").await;
    let stored = seq_by_text(&history);
    assert_eq!(stored.len(), history.len(), "no message stored twice");
    assert_eq!(
        stored.len(),
        102,
        "before + 100 + 1 after retries: {stored:?}"
    );
    for (cid, seq) in &acked {
        assert_eq!(
            stored.get(&format!("m{cid}")),
            Some(seq),
            "acked m{cid} kept"
        );
    }
    let top = base + 102;
    let mut live = Vec::new();
    while live.last().copied().unwrap_or(base) < top {
        live.push(receiver.recv_type("message").await["seq"].as_i64().unwrap());
    }
    assert_eq!(
        live,
        (base + 1..=top).collect::<Vec<_>>(),
        "receiver: no gap, no duplicate"
    );
}
