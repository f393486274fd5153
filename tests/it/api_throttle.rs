//! Failed authentication on the server API is throttled per client address:
//! past a few requests without a valid key (missing, malformed, unknown or
//! revoked), the next ones from that address are `429` with `Retry-After`.
//! Other addresses and valid keys (from any address) go on as before.

use std::net::IpAddr;

use chatctl::db::models::Scope;
use chatctl::http::api::FAILED_AUTH_PER_MINUTE;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::key;
use crate::support::*;

/// A client whose connections come from `from` (any 127.0.0.0/8 address
/// reaches the test server).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn get_rooms(
    app: &TestApp,
    client: &reqwest::Client,
    authorization: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = client.get(app.http_url("/api/v1/rooms"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    let response = req.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn wrong_keys_from_one_address_are_refused_without_touching_others() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let valid = format!(
        "Bearer {}",
        key(&app, &site, "backend", &[Scope::Read]).await
    );
    let revoked_key = key(&app, &site, "old", &[Scope::Read]).await;
    let prefix = revoked_key[..12].to_owned();
    let site_for_revoke = site.clone();
    app.db
        .run(move |conn| {
            chatctl::manage::api_keys::revoke(
                conn,
                chatctl::db::models::audit::Actor::CommandLine,
                &site_for_revoke,
                &prefix,
            )
        })
        .await
        .unwrap();
    let revoked = format!("Bearer {revoked_key}");
    let unknown = format!("Bearer ck_{}", "0".repeat(40));

    // Every kind of failure counts: no key, another scheme, malformed,
    // unknown, revoked.
    let attacker = client_from("127.0.0.1");
    let failures = [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer ck_short"),
        Some(unknown.as_str()),
        Some(revoked.as_str()),
    ];
    for n in 0..FAILED_AUTH_PER_MINUTE as usize {
        let (status, _, body) = get_rooms(&app, &attacker, failures[n % failures.len()]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}: {body}");
    }
    for authorization in failures {
        let (status, headers, body) = get_rooms(&app, &attacker, authorization).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "{authorization:?}: {body}"
        );
        assert_eq!(body["error"], "rate_limited");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After: {retry}");
        assert!(body["retry_after_ms"].as_u64().unwrap() > 0, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("without a valid API key"),
            "{body}"
        );
    }

    // A valid key from the same address works, and does not lift the limit.
    let (status, _, body) = get_rooms(&app, &attacker, Some(&valid)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, ..) = get_rooms(&app, &attacker, Some(&unknown)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Another address is not affected: its wrong key is still a plain 401.
    let neighbour = client_from("127.0.0.2");
    let (status, _, body) = get_rooms(&app, &neighbour, Some(&unknown)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = get_rooms(&app, &neighbour, Some(&valid)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The description needs no key and costs nothing.
    let response = attacker
        .get(app.http_url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
