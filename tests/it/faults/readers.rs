//! Readers that stop reading while a sender floods the room: they are cut,
//! the healthy reader misses nothing, and the server's memory stays bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::MaybeTlsStream;

use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::*;

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
    // Each its own name: two guests present cannot share one.
    static STALLED: AtomicUsize = AtomicUsize::new(0);
    let nick = format!("stalled{}", STALLED.fetch_add(1, Ordering::Relaxed));
    client.hello(json!({ "nick": nick })).await;
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
