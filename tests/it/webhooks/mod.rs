//! Outgoing webhooks, against a real HTTP receiver on loopback: every event
//! from the surface that makes it, signatures checked with HMAC-SHA256,
//! retries, order per room, disabling with a mail, resend.

mod client;
mod manage;
mod restart;
mod retries;
mod snippets;
mod verify_rust;

use std::time::Duration;

use chatctl::db::models::audit::Actor;
use chatctl::db::models::webhook::{Delivery, Endpoint};
use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::cli::{chatctl, stdout};
use crate::support::receiver::{Received, Receiver};
use crate::support::*;

/// An endpoint added with the command line; its id and secret.
pub async fn add_endpoint(app: &TestApp, site: &Site, url: &str, events: &[&str]) -> (i64, String) {
    let mut cmd = chatctl(&app.database);
    cmd.args(["site", "webhook", "add", &site.public_key, url, "--json"]);
    for event in events {
        cmd.args(["--event", event]);
    }
    let out: Value = serde_json::from_str(&stdout(&mut cmd)).unwrap();
    assert!(
        out["secret"].as_str().unwrap().starts_with("whsec_"),
        "{out}"
    );
    (
        out["id"].as_i64().unwrap(),
        out["secret"].as_str().unwrap().to_owned(),
    )
}

/// The deliveries of an endpoint as stored, oldest first.
pub async fn deliveries(app: &TestApp, endpoint: i64) -> Vec<Delivery> {
    let mut all = app
        .db
        .run(move |c| Delivery::recent(c, endpoint.into(), 1000))
        .await
        .unwrap();
    all.reverse();
    all
}

pub async fn endpoint(app: &TestApp, id: i64) -> Endpoint {
    app.db
        .run(move |c| Endpoint::find(c, id.into()))
        .await
        .unwrap()
}

fn of_kind<'a>(got: &'a [Received], kind: &str) -> &'a Received {
    got.iter().find(|r| r.kind() == kind).unwrap_or_else(|| {
        panic!(
            "no {kind} among {:?}",
            got.iter().map(Received::kind).collect::<Vec<_>>()
        )
    })
}

/// A delivery as every event arrives: for `site`, signed with `secret` (and
/// a timestamp of now), its id and type in headers as in the body.
fn assert_signed_for(r: &Received, site: &Site, secret: &str) {
    assert!(
        r.signed_with(secret),
        "signature of {}: {}",
        r.body,
        r.header("chatctl-signature")
    );
    assert!(!r.signed_with("whsec_wrong"));
    let body = r.json();
    assert_eq!(body["site"], site.public_key.as_str(), "{body}");
    assert_eq!(r.header("chatctl-event-id"), body["id"].as_str().unwrap());
    assert_eq!(
        r.header("chatctl-event-type"),
        body["type"].as_str().unwrap()
    );
    assert_eq!(r.header("content-type"), "application/json");
    let t: i64 = r.header("chatctl-signature")[2..12].parse().unwrap();
    assert!(
        (t - chatctl::db::now_ms() / 1000).abs() < 30,
        "timestamp {t}"
    );
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert!(body["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
}

#[tokio::test]
async fn every_event_arrives_signed_with_its_data() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let (_, secret) = add_endpoint(&app, &site, &receiver.url(), &[]).await;

    // room.created and message.created, from a visitor's WebSocket.
    let (mut ann, ready) = app.guest_in(&site.public_key, "ann", "lobby").await;
    let ann_id = ready["me"]["id"].as_i64().unwrap();
    let ack = ann.say("lobby", "c1", "hello hooks").await;
    // report.created: another visitor reports it.
    let (mut bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    bob.send(json!({"type": "report", "room": "lobby", "seq": ack["seq"], "reason": "rude"}))
        .await;
    bob.recv_type("reported").await;
    // participant.banned from the command line, unbanned and message.deleted by the services the panel calls.
    stdout(chatctl(&app.database).args([
        "ban",
        "--site",
        &site.public_key,
        "--participant",
        &ann_id.to_string(),
        "--reason",
        "spam",
    ]));
    let chat = &app.state.chat;
    let message = chatctl::db::models::MessageId(ack["id"].as_i64().unwrap());
    chatctl::moderation::messages::delete_message(chat, Actor::CommandLine, message)
        .await
        .unwrap();
    let ban = app
        .db
        .run(move |c| chatctl::db::models::Ban::for_participant(c, ann_id.into()))
        .await
        .unwrap()
        .remove(0);
    chatctl::moderation::bans::unban(chat, Actor::CommandLine, ban.id)
        .await
        .unwrap();
    // member.registered: a visitor creates an account.
    let mut carl = app.connect(&site.public_key).await;
    carl.send(json!({"type": "register", "name": "Carl", "email": "carl@example.com", "password": MEMBER_PASSWORD, "lang": "en"}))
        .await;
    assert_eq!(carl.recv().await["type"], "registered");

    let got = receiver.wait_delivered(7).await;
    for r in &got {
        assert_signed_for(r, &site, &secret);
    }
    let created = of_kind(&got, "message.created").json();
    assert_eq!(created["data"]["room"], "lobby");
    assert_eq!(created["data"]["message"]["seq"], ack["seq"]);
    assert_eq!(created["data"]["message"]["text"], "hello hooks");
    assert_eq!(created["data"]["message"]["author"]["name"], "ann");
    assert_eq!(created["data"]["message"]["author"]["kind"], "guest");
    let room = of_kind(&got, "room.created").json();
    assert_eq!(room["data"]["room"]["name"], "lobby");
    assert_eq!(room["data"]["room"]["created_by"], "visitor");
    let report = of_kind(&got, "report.created").json();
    assert_eq!(report["data"]["report"]["reason"], "rude");
    assert_eq!(report["data"]["message"]["seq"], ack["seq"]);
    assert_eq!(report["data"]["reporter"]["name"], "bob");
    let banned = of_kind(&got, "participant.banned").json();
    assert_eq!(banned["data"]["ban"]["participant"]["id"], ann_id);
    assert_eq!(banned["data"]["ban"]["reason"], "spam");
    assert_eq!(
        of_kind(&got, "participant.unbanned").json()["data"]["ban"]["id"],
        banned["data"]["ban"]["id"]
    );
    let deleted = of_kind(&got, "message.deleted").json();
    assert_eq!(
        deleted["data"],
        json!({"room": "lobby", "message": {"id": ack["id"], "seq": ack["seq"]}})
    );
    let member = of_kind(&got, "member.registered").json();
    assert_eq!(member["data"]["member"]["email"], "carl@example.com");
    assert_eq!(member["data"]["member"]["verified"], false);
}

#[tokio::test]
async fn an_endpoint_gets_only_the_events_it_chose_and_only_of_its_site() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let other = app.site(&[ORIGIN]).await;
    add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    let (mut zed, _) = app.guest_in(&other.public_key, "zed", "lobby").await;
    zed.say("lobby", "z1", "elsewhere").await;
    ann.say("lobby", "a1", "here").await;
    let got = receiver.wait_delivered(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.received().len().max(got.len());
    assert_eq!(got, 1, "{:?}", receiver.received());
    assert_eq!(
        receiver.received()[0].json()["data"]["message"]["text"],
        "here"
    );
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder()
        .webhooks(|w| w.webhook_allow_private = false)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "to loopback").await;
    let tried = crate::support::wait::poll(
        "a refused attempt",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            match deliveries(&app, id).await.first() {
                Some(d) if d.last_error.is_some() => Ok(d.clone()),
                other => Err(other.map(|d| d.attempts)),
            }
        },
    )
    .await;
    let error = tried.last_error.unwrap();
    assert!(
        error.contains("127.0.0.1 is not a public address"),
        "{error}"
    );
    assert!(error.contains("--webhook-allow-private"), "{error}");
    assert!(receiver.received().is_empty());
}

/// The server API (another surface) makes the same events through the same
/// services: a room, a message on behalf of a user (with their `sub`), a
/// deletion and a ban.
#[tokio::test]
async fn the_server_api_makes_the_same_events() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (_, secret) = add_endpoint(&app, &site, &receiver.url(), &[]).await;
    let api = crate::support::api::Api::full(&app, &site).await;
    assert_eq!(
        api.post("/rooms", json!({"name": "news"})).await.status,
        201
    );
    let posted = api
        .post(
            "/rooms/news/messages",
            json!({"cid": "o-1", "text": "from the backend", "user": {"sub": "42", "name": "Ann"}}),
        )
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let seq = posted.body["seq"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/rooms/news/messages/{seq}"))
            .await
            .status,
        204
    );
    let banned = api
        .post("/bans", json!({"sub": "42", "reason": "spam"}))
        .await;
    assert_eq!(banned.status, 201, "{}", banned.body);

    let got = receiver.wait_delivered(4).await;
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    let mut kinds: Vec<String> = got.iter().map(Received::kind).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "message.created",
            "message.deleted",
            "participant.banned",
            "room.created"
        ]
    );
    assert_eq!(
        of_kind(&got, "room.created").json()["data"]["room"]["created_by"],
        "admin"
    );
    let created = of_kind(&got, "message.created").json();
    let author = &created["data"]["message"]["author"];
    assert_eq!(
        (author["sub"].as_str(), author["kind"].as_str()),
        (Some("42"), Some("verified"))
    );
    let banned = of_kind(&got, "participant.banned").json();
    assert_eq!(banned["data"]["ban"]["participant"]["sub"], "42");
}
