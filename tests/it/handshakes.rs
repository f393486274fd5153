//! Connections are set up a few at a time (`--max-handshakes`, issue 14's
//! reconnect storm): the listener takes no more connections than it has
//! slots, the rest wait in the kernel's backlog and all get in; a chat
//! connection frees its slot with the answer to its `hello`; a client that
//! sends nothing holds one for 2 seconds at most.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        .limits(|l| l.max_handshakes = 3)
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

#[tokio::test]
async fn a_client_that_sends_nothing_holds_the_listener_two_seconds_at_most() {
    let app = TestApp::builder()
        .limits(|l| {
            l.max_handshakes = 1;
            // Without the slot's own deadline, the silent client would hold
            // the only slot until this timeout closed it.
            l.request_header_timeout_secs = 60;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;

    let _silent = TcpStream::connect(app.addr).await.unwrap();
    let mut health = TcpStream::connect(app.addr).await.unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), health.read_to_string(&mut answer))
        .await
        .expect("/healthz answered while a silent client held the only slot")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A WebSocket that never says hello: its slot expires too.
    let upgraded = app.connect(&site.public_key).await;
    let (_, welcome) = tokio::time::timeout(
        Duration::from_secs(10),
        app.guest(&site.public_key, "after"),
    )
    .await
    .expect("a guest got in while an upgraded connection sat silent");
    assert_eq!(welcome["type"], "ready");
    drop(upgraded);
    assert_eq!(app.state.chat.metrics.handshake_slots_expired.get(), 2);
}
