//! Faults: the server killed or stopped while messages flow, a locked
//! database, stalled readers under a flood. What must hold: nothing that was
//! acknowledged is lost, receivers resume with no gap and no duplicate, and
//! memory stays bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use crate::support::close;
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::*;

fn send_frame(i: u64) -> Message {
    Message::text(
        json!({"type": "send", "room": "lobby", "cid": i.to_string(), "text": format!("m{i}")})
            .to_string(),
    )
}

fn seqs(frame: &Value) -> Vec<i64> {
    frame["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["seq"].as_i64()).collect())
        .unwrap_or_default()
}

/// Each stored message's seq, by its text.
fn seq_by_text(history: &[Value]) -> BTreeMap<String, i64> {
    history
        .iter()
        .map(|m| {
            (
                m["text"].as_str().unwrap().to_owned(),
                m["seq"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Reads `message` seqs until the connection ends.
fn collect_messages(mut client: Client) -> tokio::task::JoinHandle<Vec<i64>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(Ok(msg)) = client.ws.next().await {
            if let Message::Text(text) = msg {
                let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                if frame["type"] == "message" {
                    seen.push(frame["seq"].as_i64().unwrap_or(-1));
                }
            }
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message_and_receivers_resume_exactly() {
    let database = test_db();
    let key = create_site(&database.url);
    let mut server = ServerProcess::start(&database.url, FAST).await;
    let (receiver, receiver_ready, welcome) = server
        .joined(&key, json!({"nick": "receiver"}), "lobby", None)
        .await;
    let base = welcome["seq"].as_i64().unwrap();
    let (sender, sender_ready, _) = server
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;

    // Messages flow (pipelined, not waiting for acks) until the server dies.
    let receiving = collect_messages(receiver);
    let (mut sink, mut stream) = sender.ws.split();
    let acked: Arc<Mutex<BTreeMap<u64, i64>>> = Arc::default();
    let sending = tokio::spawn(async move {
        let mut sent = 0u64;
        while sent < 50_000 && sink.send(send_frame(sent)).await.is_ok() {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        sent
    });
    let acking = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                if frame["type"] == "ack" {
                    let cid: u64 = frame["cid"].as_str().unwrap().parse().unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .insert(cid, frame["seq"].as_i64().unwrap());
                }
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while acked.lock().unwrap().len() < 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("messages flow");
    server.kill9();
    let sent = sending.await.unwrap();
    acking.await.unwrap();
    let seen = receiving.await.unwrap();
    let acked = acked.lock().unwrap().clone();

    server.restart().await;
    // Every acknowledged message is in the history, with the seq it was acked with.
    let history = server.history(&key, "lobby").await;
    let stored = seq_by_text(&history);
    for (cid, seq) in &acked {
        assert_eq!(
            stored.get(&format!("m{cid}")),
            Some(seq),
            "acked m{cid} survives kill -9"
        );
    }
    let stored_seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    let top = *stored_seqs.last().unwrap();
    assert_eq!(
        stored_seqs,
        (base + 1..=top).collect::<Vec<_>>(),
        "no holes in seq"
    );

    // The receiver had a prefix, and resuming gives exactly the rest.
    let last = seen.last().copied().unwrap_or(base);
    assert_eq!(
        seen,
        (base + 1..=last).collect::<Vec<_>>(),
        "live: in order, no gap"
    );
    let token = json!({"guest_token": receiver_ready["guest_token"]});
    let (mut receiver, _, resumed) = server.joined(&key, token, "lobby", Some(last)).await;
    assert_eq!(resumed["mode"], "resumed");
    assert_eq!(
        seqs(&resumed),
        (last + 1..=top).collect::<Vec<_>>(),
        "resume: exactly the missed ones"
    );

    // The sender retries what it has no ack for, with the same cids: what was
    // stored before the kill is acknowledged as a duplicate, the rest is posted once.
    let token = json!({"guest_token": sender_ready["guest_token"]});
    let (mut sender, _, _) = server.joined(&key, token, "lobby", None).await;
    let retries: Vec<u64> = (0..sent).filter(|i| !acked.contains_key(i)).collect();
    for i in &retries {
        sender.send_raw(send_frame(*i)).await;
    }
    let mut newest = top;
    for _ in &retries {
        let ack = sender.recv_type("ack").await;
        let cid = ack["cid"].as_str().unwrap();
        let was_stored = stored.contains_key(&format!("m{cid}"));
        assert_eq!(ack["duplicate"], was_stored, "{ack}");
        newest = newest.max(ack["seq"].as_i64().unwrap());
    }
    let mut live = Vec::new();
    while live.last().copied().unwrap_or(top) < newest {
        live.push(receiver.recv_type("message").await["seq"].as_i64().unwrap());
    }
    assert_eq!(
        live,
        (top + 1..=newest).collect::<Vec<_>>(),
        "after resume: in order, no gap"
    );

    let texts: Vec<String> = server
        .history(&key, "lobby")
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = texts.iter().collect();
    assert_eq!(unique.len(), texts.len(), "no message stored twice");
    assert_eq!(
        texts.len() as u64,
        sent,
        "every message stored once after retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_within_ten_seconds_and_keeps_what_was_acked() {
    let database = test_db();
    let key = create_site(&database.url);
    let mut server = ServerProcess::start(&database.url, FAST).await;
    let mut idle = Vec::new();
    for i in 0..20 {
        let (client, _, _) = server
            .joined(&key, json!({"nick": format!("idle{i}")}), "lobby", None)
            .await;
        idle.push(client);
    }
    let (mut sender, _, _) = server
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;
    for i in 0..300 {
        sender.send_raw(send_frame(i)).await;
    }
    // SIGTERM once the server is busy with them, so sends are in flight when
    // it arrives (earlier, the server might not have read a single one yet).
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let first = sender.recv_type("ack").await;
    acked.insert(
        format!("m{}", first["cid"].as_str().unwrap()),
        first["seq"].as_i64().unwrap(),
    );
    let took = server
        .terminate(Duration::from_secs(10))
        .await
        .expect("the server exits within 10 s of SIGTERM");
    eprintln!("SIGTERM to exit: {took:?}");

    for mut client in idle {
        let closed = client.closed().await;
        assert_eq!(closed.code, close::RESTARTING);
        assert_eq!(closed.notice.unwrap()["code"], "restarting");
    }
    let mut sender_close = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sender.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "ack" {
                    let text = format!("m{}", frame["cid"].as_str().unwrap());
                    acked.insert(text, frame["seq"].as_i64().unwrap());
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                sender_close = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            _ => break,
        }
    }
    assert_eq!(
        sender_close,
        close::RESTARTING,
        "the busy sender is told to reconnect too"
    );

    server.restart().await;
    let stored: BTreeMap<String, i64> = server
        .history(&key, "lobby")
        .await
        .iter()
        .map(|m| {
            (
                m["text"].as_str().unwrap().to_owned(),
                m["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    for (text, seq) in &acked {
        assert_eq!(stored.get(text), Some(seq), "acked {text} kept");
    }
}

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

/// A client whose socket receive buffer is tiny, so that when it stops
/// reading the server's queue for it fills quickly.
async fn stalled_client(server: &ServerProcess, key: &str) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut request = format!("ws://{}/ws?site={key}", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", ORIGIN.parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    let mut client = Client { ws };
    client.hello(json!({"nick": "stalled"})).await;
    client.join("lobby", None).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_under_a_flood_are_cut_and_memory_stays_bounded() {
    let database = test_db();
    let key = create_site(&database.url);
    let mut args = FAST.to_vec();
    args.extend([
        "--outbound-queue-bytes",
        "262144",
        "--max-message-chars",
        "4000",
    ]);
    let server = ServerProcess::start(&database.url, &args).await;
    let mut stalled = Vec::new();
    for _ in 0..10 {
        stalled.push(stalled_client(&server, &key).await);
    }
    let (mut reader, _, _) = server
        .joined(&key, json!({"nick": "reader"}), "lobby", None)
        .await;
    let (mut sender, _, _) = server
        .joined(&key, json!({"nick": "flood"}), "lobby", None)
        .await;
    let reading = tokio::spawn(async move {
        let mut last = 0;
        for _ in 0..4000 {
            let seq = reader.recv_type("message").await["seq"].as_i64().unwrap();
            assert_eq!(seq, last + 1, "the healthy reader misses nothing");
            last = seq;
        }
        reader // still connected: counted below
    });
    let baseline = server.rss_kib();

    // 4,000 messages of ~2,000 bytes: 8 MB per reader, 80 MB for the stalled
    // ones if the server kept everything for them. Bursts of 50 keep the
    // healthy reader within its own queue bound.
    let text = "x".repeat(1900);
    let mut peak = baseline;
    for burst in 0..80u64 {
        for i in 0..50 {
            let cid = burst * 50 + i;
            sender
                .send(
                    json!({"type": "send", "room": "lobby", "cid": cid.to_string(), "text": text}),
                )
                .await;
        }
        for _ in 0..50 {
            sender.recv_type("ack").await;
        }
        peak = peak.max(server.rss_kib());
    }
    let grew = peak.saturating_sub(baseline);
    eprintln!("server RSS {baseline} KiB, peak {peak} KiB during the flood");
    assert!(grew < 48 * 1024, "memory grew by {grew} KiB");
    // Cut connections get a few seconds to take their notice before the socket closes.
    let mut connections = None;
    for _ in 0..150 {
        connections = server.metric("chatctl_connections").await;
        if connections == Some(2.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connections, Some(2.0), "the 10 stalled readers were cut");
    let reader = tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .expect("the healthy reader keeps up")
        .expect("and gets every message in order");
    drop((reader, stalled));
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
    let mut direct = url::Url::parse(&database.url).unwrap();
    let upstream = direct.socket_addrs(|| Some(5432)).unwrap()[0];
    let proxy = DbProxy::start(upstream).await;
    direct.set_ip_host(proxy.addr.ip()).unwrap();
    direct.set_port(Some(proxy.addr.port())).unwrap();
    let server = ServerProcess::start(direct.as_str(), FAST).await;
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
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let mut refused: BTreeSet<String> = BTreeSet::new();
    let mut answer = |frame: Value, acked: &mut BTreeMap<String, i64>| {
        let cid = frame["ref"]
            .as_str()
            .or(frame["cid"].as_str())
            .unwrap()
            .to_owned();
        match frame["type"].as_str() {
            Some("ack") => {
                acked.insert(cid, frame["seq"].as_i64().unwrap());
            }
            _ => {
                assert_eq!(frame["code"], "storage_unavailable", "{frame}");
                assert!(frame["retry_after_ms"].as_u64().unwrap() > 0, "{frame}");
                refused.insert(cid);
            }
        }
    };
    for i in 0..100u64 {
        sender.send_raw(send_frame(i)).await;
        if i == 50 {
            proxy.cut();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for _ in 0..100 {
        let frame = sender.recv_type_any(&["ack", "error"]).await;
        answer(frame, &mut acked);
    }
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
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while healthz(server.addr).await != Some(200) {
        assert!(std::time::Instant::now() < deadline, "the server recovers");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Retries with the same cids: what was stored before the cut (its ack may
    // have been lost with the connection) comes back as a duplicate, the
    // rest is posted once.
    for cid in &refused {
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
