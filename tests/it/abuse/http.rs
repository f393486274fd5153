//! Slow HTTP clients (issue 12, item 3): unfinished request heads, bodies
//! that do not arrive in time and idle keep-alive connections are closed, one address cannot hold more than its
//! share of connections, `/healthz` stays reachable, and a half-sent request
//! does not delay shutdown.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tcp_from;
use crate::support::*;

const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: chat.example\r\nX-Slow: ";

/// Reads until the server closes the connection or `limit` passes; returns
/// what was read and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

fn with_timeouts(limits: &mut chatctl::config::Limits) {
    limits.request_header_timeout_secs = 1;
    limits.request_body_timeout_secs = 1;
    limits.max_http_connections_per_ip = 10;
}

#[tokio::test]
async fn unfinished_request_heads_are_timed_out() {
    let app = TestApp::builder().limits(with_timeouts).spawn().await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(HALF_SENT).await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "a half-sent request head was kept open for 5 s");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A client that trickles bytes does not reset the clock.
    let mut trickle = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in HALF_SENT
        .iter()
        .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    {
        if trickle.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let closed = closed
        || read_until_closed(&mut trickle, Duration::from_secs(3))
            .await
            .1;
    assert!(closed && started.elapsed() < Duration::from_secs(4));
}

/// Every form that reads a body: the head arrives, the body never does (or
/// trickles in too slowly to end); warp would wait for it for ever.
#[tokio::test]
async fn request_bodies_that_do_not_arrive_in_time_end_the_connection() {
    let app = TestApp::builder().limits(with_timeouts).spawn().await;
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: chat.example\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nemail=a"
        )
    };
    for path in [
        "/admin/login",
        "/admin/forgot",
        "/admin/reset",
        "/account/reset",
    ] {
        let mut slow = TcpStream::connect(app.addr).await.unwrap();
        slow.write_all(head(path).as_bytes()).await.unwrap();
        let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        assert!(closed, "POST {path}: an unfinished body was waited for 5 s");
    }
    // A byte every 100 ms does not reset the clock.
    let mut trickle = TcpStream::connect(app.addr).await.unwrap();
    trickle
        .write_all(head("/admin/login").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for _ in 0..40 {
        if trickle.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = closed
        || read_until_closed(&mut trickle, Duration::from_secs(1))
            .await
            .1;
    assert!(closed && started.elapsed() < Duration::from_secs(4));
    // A body that arrives in time is answered as before.
    let form = [("email", "nobody@example.com")];
    let reply = reqwest::Client::new()
        .post(app.http_url("/account/reset"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_ne!(reply.status(), 408);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = TestApp::builder().limits(with_timeouts).spawn().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.example\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "an idle keep-alive connection stayed open");
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection_and_health_stays_reachable() {
    let app = TestApp::builder()
        .limits(|l| {
            l.request_header_timeout_secs = 5;
            l.max_http_connections_per_ip = 10;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut stream = tcp_from(&app, "127.0.0.2").await;
        // A refused connection may already be closed: ignore write errors.
        let _ = stream.write_all(HALF_SENT).await;
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // All at once: the held ones must still be inside their head deadline.
    let states = join_all(
        slow.iter_mut()
            .map(|stream| read_until_closed(stream, Duration::from_millis(300))),
    )
    .await;
    let mut open = 0;
    for (reply, closed) in states {
        if !closed {
            open += 1;
        } else if !reply.is_empty() {
            assert!(
                reply.starts_with(b"HTTP/1.1 429"),
                "{}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    assert_eq!(open, 10, "per-address cap");

    // Another address is served at once, health included, and can chat.
    let health = reqwest::get(app.http_url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let (_guest, _) = app.guest_in(&site.public_key, "alice", "lobby").await;

    // Further connections of the capped address (chat upgrades included) are refused,
    // and are let in again once its slow connections are gone.
    let mut extra = tcp_from(&app, "127.0.0.2").await;
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (reply, closed) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(closed && reply.starts_with(b"HTTP/1.1 429"));
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = tcp_from(&app, "127.0.0.2").await;
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (reply, _) = read_until_closed(&mut again, Duration::from_secs(2)).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[tokio::test]
async fn hostile_request_heads_are_answered_and_closed() {
    let app = TestApp::builder().limits(with_timeouts).spawn().await;
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    for input in [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
        huge.into_bytes(),
    ] {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        let _ = stream.write_all(&input).await;
        let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(
            closed,
            "closed after {:?}",
            String::from_utf8_lossy(&reply[..reply.len().min(40)])
        );
    }
    let health = reqwest::get(app.http_url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_half_sent_request_does_not_delay_shutdown() {
    // The default header timeout (10 s): shutdown must not wait for it.
    let app = TestApp::spawn().await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(HALF_SENT).await.unwrap();
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let _ = idle.read(&mut buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(1)).await;
    assert!(closed);
}

/// Many addresses, each within its share, together hold no more than the
/// total: the newest connection makes the one idle longest close, so a quick
/// request still gets through (the descriptors a slowloris from many
/// addresses could take are bounded).
#[tokio::test]
async fn many_addresses_cannot_hold_every_connection_either() {
    let app = TestApp::builder()
        .limits(|l| {
            l.request_header_timeout_secs = 10;
            l.max_http_connections_per_ip = 10;
            l.max_http_connections = 20;
        })
        .spawn()
        .await;
    let mut slow = Vec::new();
    for n in 0..40 {
        let mut stream = tcp_from(&app, &format!("127.0.1.{}", 2 + n / 10)).await;
        stream.write_all(HALF_SENT).await.unwrap();
        slow.push(stream);
        // Admitted in order: the oldest are the first to go.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let states = join_all(
        slow.iter_mut()
            .map(|stream| read_until_closed(stream, Duration::from_millis(300))),
    )
    .await;
    let open: Vec<bool> = states.iter().map(|(_, closed)| !closed).collect();
    assert_eq!(
        open.iter().filter(|o| **o).count(),
        20,
        "total cap: {open:?}"
    );
    assert!(open[20..].iter().all(|o| *o), "the newest stay: {open:?}");

    // A quick request from yet another address is answered, every time.
    for _ in 0..3 {
        let mut health = tcp_from(&app, "127.0.1.9").await;
        health
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (reply, _) = read_until_closed(&mut health, Duration::from_secs(2)).await;
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
}
