//! Upgrade checks and identity on hello.

use std::time::Duration;

use chatctl::db::models::{Ban, ParticipantId, Site};
use serde_json::json;

use crate::support::cli::{chatctl, created_site};
use crate::support::close;
use crate::support::wait::poll;
use crate::support::*;

#[tokio::test]
async fn wrong_key_disabled_site_and_foreign_origin_are_refused() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = site.public_key.as_str();
    let cases = [
        (
            "pk_000000000000000000000000",
            Some(ORIGIN),
            404,
            "unknown_site",
        ),
        ("not-a-key%20x", Some(ORIGIN), 404, "unknown_site"),
        (key, Some("https://evil.example"), 403, "origin_not_allowed"),
        (key, Some("null"), 403, "origin_not_allowed"),
        (key, None, 403, "origin_required"),
    ];
    for (key, origin, status, error) in cases {
        let (got, body) = app.refusal(key, origin).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{key} from {origin:?}"
        );
    }

    chatctl::manage::sites::set_enabled(
        &app.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        site.id,
        false,
    )
    .await
    .unwrap();
    let (status, body) = app.refusal(key, Some(ORIGIN)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("site_disabled"))
    );
    assert!(body["message"].as_str().unwrap().contains("disabled"));
}

/// The upgrade's checks are answered from memory (the site, its origins,
/// the bans): changes made from the command line, another process, still
/// reach a running server, through the changes it follows (`cluster_events`).
#[tokio::test]
async fn command_line_changes_reach_the_checks_of_a_running_server() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let key = site.public_key.clone();
    let run = |args: &[&str]| {
        crate::support::cli::stdout(chatctl(&app.database).args(args));
    };
    let refused_with = |origin: &'static str, error: &'static str| {
        let (app, key) = (&app, key.clone());
        async move {
            poll(
                error,
                Duration::from_secs(5),
                Duration::from_millis(50),
                || {
                    let key = key.clone();
                    async move {
                        match app.try_connect(&key, Some(origin)).await {
                            Err((_, body)) if body["error"] == error => Ok(()),
                            Err((status, body)) => Err(format!("{status} {body}")),
                            Ok(_) => Err("admitted".to_owned()),
                        }
                    }
                },
            )
            .await
        }
    };
    let admitted = |origin: &'static str| {
        let (app, key) = (&app, key.clone());
        async move {
            poll(
                origin,
                Duration::from_secs(5),
                Duration::from_millis(50),
                || {
                    let key = key.clone();
                    async move { app.try_connect(&key, Some(origin)).await.map(drop) }
                },
            )
            .await
        }
    };
    // A first visitor: the site, its origins and its bans are in memory now.
    let (first, _) = app.guest(&key, "first").await;
    first.close().await;

    let shop = "https://shop.example.com";
    refused_with(shop, "origin_not_allowed").await;
    run(&["site", "add-origin", &key, shop]);
    admitted(shop).await;
    run(&["site", "remove-origin", &key, shop]);
    refused_with(shop, "origin_not_allowed").await;

    run(&["site", "disable", &key]);
    refused_with(ORIGIN, "site_disabled").await;
    run(&["site", "enable", &key]);
    admitted(ORIGIN).await;

    run(&[
        "ban",
        "--site",
        &key,
        "--ip",
        "127.0.0.1",
        "--reason",
        "flood",
    ]);
    refused_with(ORIGIN, "banned").await;
}

#[tokio::test]
async fn origin_matching_is_exact_but_normalised() {
    let app = TestApp::spawn().await;
    let site = app.site(&["https://shop.example:8443"]).await;
    assert!(app
        .try_connect(&site.public_key, Some("https://SHOP.example:8443"))
        .await
        .is_ok());
    let others = [
        "https://shop.example",
        "http://shop.example:8443",
        "https://shop.example:8443.evil.com",
    ];
    assert_origins_refused(&app, &site, &others).await;
}

/// Each of `origins` is refused at the upgrade as not allowed.
async fn assert_origins_refused(app: &TestApp, site: &Site, origins: &[&str]) {
    for origin in origins {
        let (status, body) = app.refusal(&site.public_key, Some(origin)).await;
        assert_eq!(status, 403, "{origin} must be refused");
        assert_eq!(body["error"], "origin_not_allowed");
    }
}

/// `https://*.example.com` admits every subdomain page (it used to be stored
/// and then match nothing), never the domain itself, another scheme or port,
/// and a client cannot pass the pattern itself off as its origin.
#[tokio::test]
async fn a_wildcard_origin_admits_the_subdomains_of_its_domain() {
    let app = TestApp::spawn().await;
    let site = app.site(&["https://*.example.com"]).await;
    for page in ["https://blog.example.com", "https://a.b.EXAMPLE.com"] {
        assert!(
            app.try_connect(&site.public_key, Some(page)).await.is_ok(),
            "{page} must be admitted"
        );
    }
    let others = [
        "https://example.com",
        "http://blog.example.com",
        "https://blog.example.com:8443",
        "https://blog.example.com.evil.test",
        "https://evilexample.com",
        "https://*.example.com",
    ];
    assert_origins_refused(&app, &site, &others).await;
}

/// Origins that could never match are refused when they are written, from
/// the command line as from the panel, instead of being stored.
#[test]
fn origins_that_could_never_match_are_refused_with_a_clear_error() {
    let db = test_db();
    let key = created_site(&db, "Blog", "https://blog.example.com")["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for (origin, why) in [
        ("https://www.*.example.com", "whole first label"),
        ("https://*.com", "too broad"),
        ("https://exa(mple.com", "no browser can load a page from"),
    ] {
        let out = chatctl(&db)
            .args(["site", "add-origin", &key, origin])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{origin} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{origin}: {stderr}");
    }
}

#[tokio::test]
async fn guest_token_keeps_identity_and_is_bound_to_its_site() {
    let app = TestApp::spawn().await;
    let site_a = app.site(&[ORIGIN]).await;
    let site_b = app.site(&[ORIGIN]).await;

    let (client, ready) = app.guest(&site_a.public_key, "alice").await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["me"]["nick"], "alice");
    assert_eq!(ready["me"]["kind"], "guest");
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    let id = ready["me"]["id"].clone();
    client.close().await;

    // Reload: same identity, without typing the nickname again.
    let mut again = app.connect(&site_a.public_key).await;
    let ready = again.hello(json!({"guest_token": token})).await;
    assert_eq!(ready["me"]["id"], id);
    assert_eq!(ready["me"]["nick"], "alice");

    // Renaming keeps the identity.
    let mut renamed = app.connect(&site_a.public_key).await;
    let ready = renamed
        .hello(json!({"guest_token": token, "nick": "alice2"}))
        .await;
    assert_eq!(
        (ready["me"]["id"].clone(), ready["me"]["nick"].as_str()),
        (id, Some("alice2"))
    );

    // The token means nothing on another site, and forgeries are refused, never silently replaced.
    let mut other = app.connect(&site_b.public_key).await;
    let reply = other
        .hello(json!({"guest_token": token, "nick": "alice"}))
        .await;
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("invalid_token"))
    );
    let forged = format!("{}x", &token[..token.len() - 1]);
    let mut forger = app.connect(&site_a.public_key).await;
    let reply = forger.hello(json!({"guest_token": forged})).await;
    assert_eq!(reply["code"], "invalid_token");
    // The connection is still usable after the refusal.
    let reply = forger.hello(json!({"nick": "bob"})).await;
    assert_eq!(reply["type"], "ready");
}

#[tokio::test]
async fn hello_validates_nick_version_and_site_policy() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut client = app.connect(&site.public_key).await;
    for (frame, code) in [
        (
            json!({"type": "hello", "v": 2, "nick": "a"}),
            "unsupported_version",
        ),
        (json!({"type": "hello", "v": 1}), "invalid_nick"),
        (
            json!({"type": "hello", "v": 1, "nick": "   "}),
            "invalid_nick",
        ),
        (
            json!({"type": "hello", "v": 1, "nick": "x".repeat(33)}),
            "invalid_nick",
        ),
        (
            json!({"type": "hello", "v": 1, "nick": "evil\u{202e}name"}),
            "invalid_nick",
        ),
    ] {
        client.send(frame).await;
        let reply = client.recv().await;
        assert_eq!(reply["code"], code, "{reply}");
    }
    let ready = client.hello(json!({"nick": "  <b>bold</b>  "})).await;
    assert_eq!(
        ready["me"]["nick"], "<b>bold</b>",
        "stored as text, trimmed"
    );
    client
        .send(json!({"type": "hello", "v": 1, "nick": "again"}))
        .await;
    assert_eq!(client.recv().await["code"], "already_ready");

    app.configure_site(
        &site,
        SiteSettings {
            guests_allowed: Some(false),
            ..Default::default()
        },
    )
    .await;
    let mut refused = app.connect(&site.public_key).await;
    assert_eq!(
        refused.hello(json!({"nick": "bob"})).await["code"],
        "guests_not_allowed"
    );
}

/// Bans as the panel and the server API do (the server's admission cache
/// follows at once).
async fn insert_ban(app: &TestApp, site: i64, participant: Option<i64>, cidr: Option<&str>) {
    use chatctl::db::models::audit::Actor;
    use chatctl::moderation::bans::{ban, BanRequest};
    let request = BanRequest {
        site: Some(chatctl::db::models::SiteId(site)),
        participant: participant.map(ParticipantId),
        cidr: cidr.map(str::to_owned),
        reason: "spam".into(),
        minutes: None,
    };
    ban(&app.state.chat, Actor::CommandLine, request)
        .await
        .unwrap();
}

#[tokio::test]
async fn banned_guest_and_banned_address_are_refused() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (client, ready) = app.guest(&site.public_key, "troll").await;
    client.close().await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    let id = ready["me"]["id"].as_i64().unwrap();
    insert_ban(&app, site.id.0, Some(id), None).await;
    let ban = app
        .db
        .run(move |conn| {
            Ban::find_active(
                conn,
                chatctl::db::models::SiteId(site.id.0),
                Some(ParticipantId(id)),
                None,
            )
        })
        .await
        .unwrap();
    assert!(ban.is_some());

    let closed = app.returning_guest_closed(&site.public_key, &token).await;
    assert_eq!(closed.code, close::BANNED);
    let notice = closed.notice.expect("a notice explains the ban");
    assert_eq!(notice["code"], "banned");
    assert!(notice["message"].as_str().unwrap().contains("spam"));
    // The reason apart too, for clients that say the rest in their own words.
    assert_eq!(notice["reason"], "spam");

    // An address ban refuses the upgrade itself, whatever nickname is used.
    insert_ban(&app, site.id.0, None, Some("127.0.0.0/8")).await;
    let (status, body) = app.refusal(&site.public_key, Some(ORIGIN)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("banned")));
    assert_eq!(body["reason"], "spam", "{body}");
    assert!(body["until"].is_null(), "a permanent ban: {body}");
    assert_eq!(
        body["message"],
        "You are banned from this chat. Reason: spam"
    );
}

#[tokio::test]
async fn new_guests_per_address_are_limited_but_returning_guests_are_not() {
    let app = TestApp::builder()
        .limits(|l| l.new_guests_per_ip_per_minute = 2)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (_ann, ready) = app.guest(&site.public_key, "ann").await;
    let token = ready["guest_token"].as_str().unwrap().to_owned();
    app.guest(&site.public_key, "bob").await;

    let (mut third, refused) = app.guest(&site.public_key, "cy").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    let wait = refused["retry_after_ms"].as_u64().unwrap();
    assert!(
        (1..=30_000).contains(&wait),
        "one new guest every 30 s: {wait}"
    );
    // The connection stays usable: a returning guest is welcome.
    let back = third.hello(json!({"guest_token": token})).await;
    assert_eq!(
        (back["type"].as_str(), back["me"]["nick"].as_str()),
        (Some("ready"), Some("ann")),
        "{back}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_visitor() {
    let app = TestApp::builder()
        .config(|config| {
            config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            config.limits.max_connections_per_ip = 1;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let via = |client: &'static str| [("origin", ORIGIN), ("x-forwarded-for", client)];

    // Two visitors behind the proxy each get their own connection slot.
    let _a = app
        .try_connect_with(&site.public_key, &via("203.0.113.9"))
        .await
        .expect("first visitor");
    let _b = app
        .try_connect_with(&site.public_key, &via("198.51.100.7"))
        .await
        .expect("second visitor: the proxy's address is not the limit");
    let (status, _) = app
        .try_connect_with(&site.public_key, &via("1.2.3.4, 203.0.113.9"))
        .await
        .err()
        .expect("the first visitor again, whatever it claims further left");
    assert_eq!(status, 429);

    // An address ban hits the visitor, not everyone behind the proxy.
    insert_ban(&app, site.id.0, None, Some("198.51.100.0/24")).await;
    drop(_b);
    let (status, body) = app
        .try_connect_with(&site.public_key, &via("198.51.100.7"))
        .await
        .err()
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (403, Some("banned")));
    assert!(app
        .try_connect_with(&site.public_key, &via("192.0.2.1"))
        .await
        .is_ok());
}

#[tokio::test]
async fn forwarded_addresses_from_untrusted_peers_are_ignored() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    insert_ban(&app, site.id.0, None, Some("127.0.0.0/8")).await;
    let (status, _) = app
        .try_connect_with(
            &site.public_key,
            &[("origin", ORIGIN), ("x-forwarded-for", "203.0.113.9")],
        )
        .await
        .err()
        .expect("a client cannot step around an address ban with a header");
    assert_eq!(status, 403);
}

#[tokio::test]
async fn connections_per_ip_are_capped() {
    let app = TestApp::builder()
        .limits(|l| l.max_connections_per_ip = 2)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let first = app.connect(&site.public_key).await;
    let _second = app.connect(&site.public_key).await;
    let (status, body) = app.refusal(&site.public_key, Some(ORIGIN)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_connections"))
    );
    first.close().await;
    // The slot frees when the connection ends.
    let (within, every) = (Duration::from_millis(2500), Duration::from_millis(50));
    poll("a slot released after disconnect", within, every, || {
        app.try_connect(&site.public_key, Some(ORIGIN))
    })
    .await;
}

#[tokio::test]
async fn disabling_a_site_closes_its_live_connections() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let other = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest(&site.public_key, "live").await;
    let (mut unaffected, _) = app.guest(&other.public_key, "other").await;
    let s = site.clone();
    app.db
        .run(move |conn| s.set_enabled(conn, false))
        .await
        .unwrap();
    let closed = client.closed().await;
    assert_eq!(closed.code, close::SITE_DISABLED);
    assert_eq!(closed.notice.unwrap()["code"], "site_disabled");
    unaffected.send(json!({"type": "ping"})).await;
    assert_eq!(unaffected.recv().await["type"], "pong");
}
