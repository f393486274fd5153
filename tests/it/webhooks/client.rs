//! What an attempt does with a receiver that misbehaves: it gives up at the
//! deadline, reads a bounded part of an endless answer, and never follows a
//! redirect.

use std::time::{Duration, Instant};

use chatctl::db::models::webhook::Delivery;

use super::{add_endpoint, deliveries};
use crate::support::receiver::{Answer, Receiver};
use crate::support::wait::poll;
use crate::support::*;

/// The first delivery of `endpoint` once it has been attempted.
async fn first_attempted(app: &TestApp, endpoint: i64) -> Delivery {
    poll(
        "an attempt",
        Duration::from_secs(15),
        Duration::from_millis(20),
        || async {
            match deliveries(app, endpoint).await.into_iter().next() {
                Some(d) if d.last_attempt_at.is_some() => Ok(d),
                other => Err(other.map(|d| d.attempts)),
            }
        },
    )
    .await
}

/// A server with a 1 s attempt deadline, a site, an endpoint at `receiver`
/// and one message sent; the endpoint's id.
async fn one_message(receiver: &Receiver) -> (TestApp, i64) {
    let app = TestApp::builder()
        .webhooks(|w| w.webhook_timeout_secs = 1)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "hi").await;
    (app, id)
}

#[tokio::test]
async fn a_receiver_that_never_answers_fails_the_attempt_at_the_deadline() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Silent);
    let (app, id) = one_message(&receiver).await;
    let tried = first_attempted(&app, id).await;
    assert_eq!(tried.state.as_str(), "pending");
    assert_eq!(tried.last_error.as_deref(), Some("no answer within 1 s"));
    let ms = tried.last_latency_ms.unwrap();
    assert!((1000..3000).contains(&ms), "latency {ms} ms");
    assert_eq!(tried.last_status, None);
}

#[tokio::test]
async fn an_endless_answer_is_cut_and_its_status_counts() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Endless);
    let started = Instant::now();
    let (app, id) = one_message(&receiver).await;
    let done = first_attempted(&app, id).await;
    assert_eq!(done.state.as_str(), "delivered", "{done:?}");
    assert_eq!(done.last_status, Some(200));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not read to the end"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = Receiver::start().await;
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::RedirectTo(elsewhere.url()));
    let (app, id) = one_message(&receiver).await;
    let tried = first_attempted(&app, id).await;
    assert_eq!(tried.state.as_str(), "pending");
    assert_eq!(tried.last_status, Some(302));
    assert_eq!(
        tried.last_error.as_deref(),
        Some("the endpoint answered HTTP 302")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
}

/// Chat never waits for webhooks: with every attempt hanging until its
/// deadline, messages are still acknowledged at once.
#[tokio::test]
async fn a_hanging_receiver_does_not_slow_the_chat() {
    let receiver = Receiver::start().await;
    receiver.answer_with(Answer::Silent);
    let app = TestApp::builder()
        .messages_unthrottled(1000)
        .webhooks(|w| w.webhook_timeout_secs = 30)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    add_endpoint(&app, &site, &receiver.url(), &[]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c0", "first").await;
    poll(
        "the first attempt to hang",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            if receiver.received().is_empty() {
                Err(())
            } else {
                Ok(())
            }
        },
    )
    .await;
    let started = Instant::now();
    for i in 1..=20 {
        ann.say("lobby", &format!("c{i}"), "while the receiver hangs")
            .await;
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "20 acks took {took:?}");
    // Other rooms' first messages are attempted meanwhile (up to 16 at once).
    ann.join("elsewhere", None).await;
    ann.say("elsewhere", "e1", "another room").await;
    poll(
        "another room's attempt",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let n = receiver
                .received()
                .iter()
                .filter(|r| r.json()["data"]["room"] == "elsewhere")
                .count();
            if n > 0 {
                Ok(())
            } else {
                Err(n)
            }
        },
    )
    .await;
}
