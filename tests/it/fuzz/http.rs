//! Raw HTTP requests (paths, queries, methods, headers, the API's bodies):
//! always a proper answer, never a server error.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{assert_no_panic, FuzzTarget};
use crate::support::process::create_api_key;
use crate::support::ORIGIN;

fn http_request() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("/ws".to_owned()),
        Just("/ws/check".to_owned()),
        Just("/healthz".to_owned()),
        Just("/widget.js".to_owned()),
        Just("/api/v1/rooms".to_owned()),
        Just("/api/v1/openapi.json".to_owned()),
        "/api/v1/(rooms|participants|bans)(/[a-zA-Z0-9._%:~-]{0,20}){0,3}",
        "/[a-zA-Z0-9/._%~-]{0,40}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        "\\?site=[a-zA-Z0-9_%]{0,30}",
        "\\?[a-zA-Z0-9=&%_+.-]{0,60}",
    ];
    let header = (
        prop::sample::select(vec![
            "Origin",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
            "If-None-Match",
            "Accept-Encoding",
            "Authorization",
            "Content-Type",
        ]),
        "[ -~]{0,60}",
    );
    let method = prop::sample::select(vec![
        "GET", "GET", "GET", "GET", "POST", "HEAD", "OPTIONS", "PATCH", "DELETE",
    ]);
    (method, path, query, prop::collection::vec(header, 0..5)).prop_map(
        |(method, path, query, headers)| {
            let mut request = format!("{method} {path}{query} HTTP/1.1\r\nHost: fuzz\r\n");
            for (name, value) in headers {
                request.push_str(&format!("{name}: {}\r\n", value.trim()));
            }
            request.push_str("Connection: close\r\n\r\n");
            request
        },
    )
}

/// The status code of the server's answer to a raw request.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut head = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|e| format!("read: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

#[test]
fn http_inputs_get_a_proper_answer_and_never_a_server_error() {
    // The server API's budget would answer most requests 429 before they reach a handler.
    let target = FuzzTarget::start(
        "http",
        &[
            "--api-requests-per-second",
            "100000",
            "--api-request-burst",
            "100000",
        ],
    );
    let key = target.key.clone();
    let api_key = create_api_key(&target.database.url, &key);
    target.warm_up();
    // Some requests carry the real site key and origin, so the checks past them run too.
    let strategy = (http_request(), any::<bool>()).prop_map(move |(request, real)| {
        if real {
            request
                .replacen(
                    "\r\nHost: fuzz\r\n",
                    &format!("\r\nHost: fuzz\r\nOrigin: {ORIGIN}\r\n"),
                    1,
                )
                .replacen("?site=", &format!("?site={key}&x="), 1)
                .replacen(
                    "\r\nHost: fuzz\r\n",
                    &format!("\r\nHost: fuzz\r\nAuthorization: Bearer {api_key}\r\n"),
                    1,
                )
        } else {
            request
        }
    });
    let result = FuzzTarget::runner().run(&strategy, |request| {
        target.next_input();
        let status = target
            .rt
            .block_on(raw_status(target.server.addr, &request))
            .map_err(TestCaseError::fail)?;
        target.record(format!("{status}\t{}", json!(request)));
        prop_assert!(
            status < 500 || status == 503,
            "status {status} for {request:?}"
        );
        Ok(())
    });
    let healthy = target.health();
    let stderr = target.stop("HTTP requests tried");
    result.unwrap();
    assert_eq!(healthy, Some(200), "still healthy after the fuzz");
    assert_no_panic(&stderr);
}
