//! Connections are set up a few at a time (`--max-handshakes`, issue 14's
//! reconnect storm): the listener takes no more connections than it has
//! slots, the rest wait in the kernel's backlog and all get in; a chat
//! connection frees its slot with the answer to its `hello` (not with a
//! pong); a slot is for the server's work, so clients that send nothing or
//! little hold one for 100 ms, not long enough to keep others waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::num::NonZeroUsize;

use tokio_tungstenite::tungstenite::Message;

use crate::abuse::tcp_from;
use crate::support::*;

/// Samples the number of connections being set up until `stop`; returns the most seen.
fn watch_handshakes(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<i64> {
    let held = app.state.chat.metrics.handshakes.clone();
    tokio::spawn(async move {
        let mut most = 0;
        while !stop.load(Ordering::Relaxed) {
            most = most.max(held.get());
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        most
    })
}

#[tokio::test]
async fn a_crowd_connecting_at_once_is_set_up_three_at_a_time_and_all_get_in() {
    let app = TestApp::builder()
        .crowd_from_one_address()
        .limits(|l| l.max_handshakes = NonZeroUsize::new(3).unwrap())
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_handshakes(&app, stop.clone());

    let nicks: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
    let guests = join_all(
        nicks
            .iter()
            .map(|nick| app.guest_in(&site.public_key, nick, "lobby")),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let most = watcher.await.unwrap();

    assert_eq!(guests.len(), 40, "every connection got in");
    assert!(
        (1..=3).contains(&most),
        "at most 3 connections set up at once, saw {most}"
    );
    let metrics = &app.state.chat.metrics;
    assert_eq!(
        metrics.handshakes.get(),
        0,
        "each freed its slot at `ready`"
    );
    assert_eq!(
        metrics.handshake_slots_expired.get(),
        0,
        "no slot had to wait for its deadline"
    );
}

/// Outside tester F1: with 2 s slots, a few hundred silent sockets kept
/// `/healthz` and new visitors waiting for many seconds (each held a slot
/// while the others waited behind them in the backlog). Here 60 such clients
/// on 4 slots: silent sockets, half-sent request heads, and WebSockets that
/// never say hello; each holds its slot for 100 ms, so a visitor behind
/// them all waits about 1.5 s (it waited 30 s with 2 s slots).
#[tokio::test]
async fn clients_that_send_nothing_or_little_do_not_keep_others_waiting() {
    let app = TestApp::builder()
        .limits(|l| {
            l.max_handshakes = NonZeroUsize::new(4).unwrap();
            // Without slots of their own, silent clients would hold theirs
            // until this timeout closed them.
            l.request_header_timeout_secs = 60;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut idle = Vec::new();
    for i in 0..20 {
        let address = format!("127.0.1.{}", 1 + i % 5);
        idle.push(tcp_from(&app, &address).await);
        let mut half = tcp_from(&app, &address).await;
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.example\r\nX-Slow: ")
            .await
            .unwrap();
        idle.push(half);
    }
    let mut silent_sockets = Vec::new();
    for _ in 0..20 {
        silent_sockets.push(app.connect(&site.public_key).await);
    }

    let started = std::time::Instant::now();
    let answer = healthz(&app).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, ready) = app.guest(&site.public_key, "after").await;
    assert_eq!(ready["type"], "ready");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "60 idle clients on 4 slots kept a visitor waiting {waited:?}"
    );
    assert_eq!(app.state.chat.metrics.handshake_slots_expired.get(), 0);
}

/// Outside tester F2: a browser answers the server's pings by itself, and
/// that pong freed the slot before the `hello`. A pong (or a ping) is not
/// the client's set-up: the next connection waits until the first one's
/// 100 ms are up.
#[tokio::test]
async fn a_pong_does_not_end_a_connections_set_up() {
    let app = TestApp::builder()
        .limits(|l| l.max_handshakes = NonZeroUsize::MIN)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut first = app.connect(&site.public_key).await;
    let upgraded = std::time::Instant::now();
    first.send_raw(Message::Ping(b"hi".to_vec().into())).await;
    first
        .send_raw(Message::Pong(b"unasked".to_vec().into()))
        .await;
    let second = app.connect(&site.public_key).await;
    let waited = upgraded.elapsed();
    assert!(
        waited >= Duration::from_millis(90),
        "the second connection got the only slot {waited:?} after the first's upgrade"
    );
    drop((first, second));
}

#[test]
fn zero_handshakes_is_refused_at_start_up() {
    let database = test_db();
    let out = crate::support::cli::chatctl(&database)
        .args(["serve", "--max-handshakes", "0"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--max-handshakes") && stderr.contains("'0'"),
        "{stderr}"
    );
}

/// `GET /healthz` on a connection of its own; the whole answer.
async fn healthz(app: &TestApp) -> String {
    let mut health = TcpStream::connect(app.addr).await.unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(30), health.read_to_string(&mut answer))
        .await
        .expect("/healthz answered")
        .unwrap();
    answer
}
