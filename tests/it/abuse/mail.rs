//! Mail and password hashing on a stranger's request (issue 12, item 4):
//! every frame and form that sends a mail or hashes a password is bounded per
//! address, and mail to one mailbox is bounded whoever asks.

use chatctl::config::Limits;
use chatctl::db::models::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::connect_from;
use crate::support::mailbox::Mailbox;
use crate::support::panel::{account, Panel};
use crate::support::MEMBER_PASSWORD as PASSWORD;
use crate::support::*;

async fn ask(client: &mut Client, frame: Value) -> Value {
    client.send(frame).await;
    client.recv().await
}

/// A server that mails through a fresh mailbox, with `limits` changed.
async fn mailing(limits: impl FnOnce(&mut Limits)) -> (Mailbox, TestApp) {
    let mailbox = Mailbox::start();
    let app = TestApp::builder()
        .smtp(mailbox.url())
        .limits(limits)
        .spawn()
        .await;
    (mailbox, app)
}

/// A registration; the name (unique per site) is the address's local part.
fn register(email: &str) -> Value {
    let name = email.split('@').next().unwrap_or(email);
    json!({"type": "register", "name": name, "email": email, "password": PASSWORD})
}

#[tokio::test]
async fn one_address_cannot_register_account_after_account() {
    let (_mailbox, app) = mailing(|limits| limits.account_actions_per_ip_per_hour = 5).await;
    let site = app.new_site().registration().create().await;
    let mut replies = Vec::new();
    // New connections do not start a new count.
    for i in 0..12 {
        let mut client = app.connect(&site.public_key).await;
        replies.push(ask(&mut client, register(&format!("stranger{i}@example.com"))).await);
    }
    let registered = replies.iter().filter(|r| r["type"] == "registered").count();
    assert_eq!(registered, 5, "{replies:?}");
    let refused = replies.last().unwrap();
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(refused["ref"], "register");
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 60_000);
    let id = site.id;
    let stored = app
        .db
        .run(move |conn| {
            use chatctl::db::schema::accounts;
            use diesel::prelude::*;
            chatctl::with_backend!(conn, c => accounts::table
                .filter(accounts::site_id.eq(id))
                .count()
                .get_result::<i64>(c))
        })
        .await
        .unwrap();
    assert_eq!(stored, 5, "refused registrations store nothing");

    // Invalid input is refused for what it is and costs nothing.
    let mut other = connect_from(&app, "127.0.0.2", &site.public_key).await;
    for bad in [
        json!({"type": "register", "name": "x", "email": "not an address", "password": PASSWORD}),
        json!({"type": "register", "name": "x", "email": "a@example.com", "password": "short"}),
        json!({"type": "forgot_password", "email": "@@"}),
    ] {
        let reply = ask(&mut other, bad).await;
        assert_ne!(reply["code"], "rate_limited", "{reply}");
    }
    for i in 0..5 {
        let reply = ask(&mut other, register(&format!("fresh{i}@example.com"))).await;
        assert_eq!(reply["type"], "registered", "{reply}");
    }
}

#[tokio::test]
async fn one_mailbox_gets_a_bounded_number_of_mails_whoever_asks() {
    let (mailbox, app) = mailing(|limits| limits.mails_per_mailbox_per_hour = 2).await;
    let mut replies = Vec::new();
    for i in 0..3 {
        // Different sites, different addresses: only the mailbox is the same.
        let site = app.new_site().registration().create().await;
        let mut client = connect_from(&app, &format!("127.0.0.{}", i + 2), &site.public_key).await;
        replies.push(ask(&mut client, register("Victim@Example.com")).await);
    }
    assert_eq!(replies[0]["type"], "registered");
    assert_eq!(replies[1]["type"], "registered");
    assert_eq!(replies[2]["code"], "rate_limited", "{:?}", replies[2]);
    assert!(replies[2]["retry_after_ms"].as_u64().unwrap() > 0);
    // Confirmation and reset mails count too.
    let site = app.new_site().registration().create().await;
    let mut client = connect_from(&app, "127.0.0.9", &site.public_key).await;
    let again = ask(
        &mut client,
        json!({"type": "resend_verification", "email": "victim@example.com"}),
    )
    .await;
    assert!(
        again["type"] == "verification_sent" || again["code"] == "rate_limited",
        "{again}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mailbox.count("victim@example.com"), 2);
}

/// Sub-addresses reach one mailbox: varying the tag (`victim+1@`,
/// `Victim+2@`) from other addresses does not buy more mails to it.
#[tokio::test]
async fn sub_addresses_share_their_mailbox_budget() {
    let (_mailbox, app) = mailing(|limits| limits.mails_per_mailbox_per_hour = 2).await;
    let site = app.new_site().registration().create().await;
    let mut replies = Vec::new();
    for (i, email) in [
        "victim+1@example.com",
        "Victim+2@Example.com",
        "victim+x.y@example.com",
        "victim@example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let mut client = connect_from(&app, &format!("127.0.0.{}", i + 20), &site.public_key).await;
        let frame = json!({"type": "register", "name": format!("Victim {i}"), "email": email, "password": PASSWORD});
        replies.push(ask(&mut client, frame).await);
    }
    assert_eq!(replies[0]["type"], "registered", "{replies:?}");
    assert_eq!(replies[1]["type"], "registered", "{replies:?}");
    for refused in &replies[2..] {
        assert_eq!(refused["code"], "rate_limited", "{refused}");
    }
    // Another mailbox on the same domain has a budget of its own.
    let mut client = connect_from(&app, "127.0.0.30", &site.public_key).await;
    let other = json!({"type": "register", "name": "Victor", "email": "victor+1@example.com", "password": PASSWORD});
    assert_eq!(ask(&mut client, other).await["type"], "registered");
}

#[tokio::test]
async fn password_forms_are_bounded_per_address() {
    let app = TestApp::builder()
        .limits(|l| l.account_actions_per_ip_per_hour = 3)
        .spawn()
        .await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = http
            .post(app.http_url("/account/reset"))
            .form(&[
                ("token", "not-a-real-token"),
                ("password", "new Password 99"),
                ("password2", "new Password 99"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(reply.status());
    }
    assert_eq!(statuses[0], StatusCode::GONE);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);

    // An admin session changing its password again and again is bounded too.
    let panel = Panel::login(&app, "owner@example.com").await;
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = panel
            .post(
                "/admin/account/password",
                &[
                    ("current", "wrong current 1"),
                    ("new", "another Password 7"),
                    ("repeat", "another Password 7"),
                ],
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
