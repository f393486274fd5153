//! Deliveries through failures: retried with backoff, in order per room,
//! kept while the receiver is down, given up (the endpoint disabled and its
//! owners mailed) after the retry window.

use std::time::Duration;

use chatctl::db::models::Role;

use super::{add_endpoint, deliveries, endpoint};
use crate::support::cli::{chatctl, stdout};
use crate::support::receiver::Receiver;
use crate::support::*;

/// `chatctl site webhook <args>`; its output.
fn webhook_command(app: &TestApp, args: &[&str]) -> String {
    stdout(chatctl(&app.database).args(["site", "webhook"]).args(args))
}

/// The receiver fails now and then; each room's messages still arrive in
/// order, one at a time: seq N+1 is never sent before N was accepted.
#[tokio::test]
async fn message_events_of_a_room_arrive_in_order_through_failures() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder().messages_unthrottled(1000).spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    receiver.answer(503);
    for i in 1..=5 {
        ann.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
    }
    crate::support::wait::poll(
        "a few failed attempts",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let failed = receiver.received().len();
            if failed >= 3 {
                Ok(())
            } else {
                Err(failed)
            }
        },
    )
    .await;
    receiver.answer(200);
    for i in 6..=10 {
        ann.say("lobby", &format!("c{i}"), &format!("m{i}")).await;
    }
    let delivered = receiver.wait_delivered(10).await;
    let seqs: Vec<i64> = delivered
        .iter()
        .map(|r| r.json()["data"]["message"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    // While seq 1 failed, nothing after it was tried.
    for r in receiver.received().iter().filter(|r| r.answered != 200) {
        assert_eq!(r.json()["data"]["message"]["seq"], 1, "{}", r.body);
    }
    // The receiver has the last one a moment before the server records its answer.
    let stored = crate::support::wait::poll(
        "every delivery recorded as delivered",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            let stored = deliveries(&app, id).await;
            match stored.iter().all(|d| d.state.as_str() == "delivered") {
                true => Ok(stored),
                false => Err(stored.iter().map(|d| d.state).collect::<Vec<_>>()),
            }
        },
    )
    .await;
    assert!(
        stored[0].attempts >= 4,
        "the first was retried: {:?}",
        stored[0]
    );
    assert_eq!(stored[0].last_status, Some(200));
}

#[tokio::test]
async fn deliveries_wait_while_the_receiver_is_down_and_go_when_it_is_back() {
    let addr = Receiver::free_addr();
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, secret) = add_endpoint(
        &app,
        &site,
        &format!("http://{addr}/hook"),
        &["message.created"],
    )
    .await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "while down").await;
    let tried = crate::support::wait::poll(
        "retries",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let d = deliveries(&app, id).await;
            match d.first() {
                Some(d) if d.attempts >= 3 => Ok(d.clone()),
                other => Err(other.map(|d| d.attempts)),
            }
        },
    )
    .await;
    assert_eq!(tried.state.as_str(), "pending");
    assert_eq!(tried.last_status, None);
    assert!(
        tried
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot connect"),
        "{tried:?}"
    );
    assert!(endpoint(&app, id).await.failing_since.is_some());

    let receiver = Receiver::start_on(addr).await;
    let got = receiver.wait_delivered(1).await;
    assert!(got[0].signed_with(&secret));
    assert_eq!(got[0].json()["data"]["message"]["text"], "while down");
    assert!(got[0].header("chatctl-attempt").parse::<i32>().unwrap() >= 4);
    crate::support::wait::poll(
        "the endpoint to count as working",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            match endpoint(&app, id).await.failing_since {
                None => Ok(()),
                Some(t) => Err(t),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_and_owners_are_mailed() {
    let mailbox = crate::support::mailbox::Mailbox::start();
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let app = TestApp::builder()
        .smtp(mailbox.url())
        .webhooks(|w| w.webhook_retry_window_secs = 2)
        .spawn()
        .await;
    app.admin("owner@example.com", Role::Owner, &[]).await;
    app.admin("admin@example.com", Role::Admin, &[]).await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "nobody takes this").await;

    let mail = mailbox.nth("owner@example.com", 1).await;
    assert!(
        mail.subject.contains("Webhook disabled"),
        "{}",
        mail.subject
    );
    let enable = format!("chatctl site webhook enable {} {id}", site.public_key);
    for says in [receiver.url().as_str(), "HTTP 500", &enable] {
        assert!(mail.text.contains(says), "{says}: {}", mail.text);
    }
    let disabled = endpoint(&app, id).await;
    assert!(!disabled.enabled);
    assert!(disabled
        .disabled_reason
        .unwrap()
        .contains("without one success"));
    assert_eq!(
        mailbox.count("admin@example.com"),
        0,
        "only owners are mailed"
    );
    let metrics = reqwest::get(app.http_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "chatctl_webhook_endpoints_disabled_total 1",
        "chatctl_webhook_attempts_total{outcome=\"given_up\"} 1",
        "chatctl_webhook_attempts_total{outcome=\"failed\"}",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    let audit = webhook_command(&app, &["list", &site.public_key]);
    assert!(audit.contains("disabled: every delivery failed"), "{audit}");

    let given_up = deliveries(&app, id).await.remove(0);
    assert_eq!(given_up.state.as_str(), "failed");

    // A disabled endpoint gets nothing, and events meanwhile are not kept for it.
    ann.say("lobby", "c2", "while disabled").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deliveries(&app, id).await.len(), 1);
    // Enabled again (the receiver fixed): new events go, and the given-up
    // one when resent, with its event id.
    receiver.answer(200);
    webhook_command(&app, &["enable", &site.public_key, &id.to_string()]);
    ann.say("lobby", "c3", "after enabling").await;
    let got = receiver.wait_delivered(1).await;
    assert_eq!(got[0].json()["data"]["message"]["text"], "after enabling");
    let delivery = given_up.id.to_string();
    webhook_command(&app, &["resend", &site.public_key, &delivery]);
    let got = receiver.wait_delivered(2).await;
    assert_eq!(got[1].json()["id"], given_up.event_id.as_str());
    assert_eq!(
        got[1].json()["data"]["message"]["text"],
        "nobody takes this"
    );
}
