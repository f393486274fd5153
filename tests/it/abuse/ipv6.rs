//! Per-address limits count an IPv6 visitor by their /64 network: a home or
//! a server is given a whole /64 and may use any address in it, so counting
//! full addresses would let one visitor pass every per-address limit. The
//! addresses come from a trusted proxy's `X-Forwarded-For`.

use serde_json::json;

use crate::support::*;

fn via(client: &str) -> [(&'static str, String); 2] {
    [
        ("origin", ORIGIN.to_owned()),
        ("x-forwarded-for", client.to_owned()),
    ]
}

async fn connect(
    app: &TestApp,
    key: &str,
    client: &str,
) -> Result<Client, (u16, serde_json::Value)> {
    let headers = via(client);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    app.try_connect_with(key, &headers).await
}

#[tokio::test]
async fn one_ipv6_network_holds_connections_as_one_address() {
    let app = TestApp::builder()
        .config(|config| {
            config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            config.limits.max_connections_per_ip = 2;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let key = site.public_key.as_str();

    // Two connections from one /64, whichever addresses in it.
    let _a = connect(&app, key, "2001:db8:1:2::1").await.expect("first");
    let _b = connect(&app, key, "2001:db8:1:2:aaaa::7")
        .await
        .expect("second");
    let (status, body) = connect(&app, key, "2001:db8:1:2:ffff:ffff:ffff:fffe")
        .await
        .err()
        .expect("a third address of the same /64 is the same visitor");
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_connections"))
    );
    let _c = connect(&app, key, "2001:db8:1:3::1")
        .await
        .expect("the next /64 is someone else");
}

#[tokio::test]
async fn one_ipv6_network_creates_guests_as_one_address() {
    let app = TestApp::builder()
        .config(|config| {
            config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            config.limits.new_guests_per_ip_per_minute = 3;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let key = site.public_key.as_str();
    // Three new guests a minute from one /64, whichever addresses in it.
    let mut replies = Vec::new();
    for n in 1..=4 {
        let mut client = connect(&app, key, &format!("2001:db8:5:5::{n:x}"))
            .await
            .unwrap();
        replies.push(client.hello(json!({"nick": format!("six{n}")})).await);
    }
    assert_eq!(
        replies.iter().filter(|r| r["type"] == "ready").count(),
        3,
        "{replies:?}"
    );
    assert_eq!(replies[3]["code"], "rate_limited", "{replies:?}");
    let mut other = connect(&app, key, "2001:db8:5:6::1").await.unwrap();
    assert_eq!(
        other.hello(json!({"nick": "elsewhere"})).await["type"],
        "ready"
    );
}
