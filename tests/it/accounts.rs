//! Registered accounts with email confirmation and password reset, against a
//! real SMTP server on loopback.

use chatctl::config::MailConfig;
use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::mailbox::Mailbox;
use crate::support::MEMBER_PASSWORD as PASSWORD;
use crate::support::*;

async fn setup() -> (TestApp, Mailbox, Site) {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let (app, site) = setup_with(|mail| mail.smtp_url = Some(url)).await;
    (app, mailbox, site)
}

/// A server with the given mail settings, and a site open to registration.
async fn setup_with(mail: impl FnOnce(&mut MailConfig)) -> (TestApp, Site) {
    let app = TestApp::builder()
        .config(move |config| mail(&mut config.mail))
        .spawn()
        .await;
    let site = app.new_site().registration().create().await;
    (app, site)
}

async fn frame(client: &mut Client, frame: Value) -> Value {
    client.send(frame).await;
    client.recv().await
}

async fn register(app: &TestApp, site: &Site, name: &str, email: &str) -> Value {
    let mut client = app.connect(&site.public_key).await;
    frame(&mut client, json!({"type": "register", "name": name, "email": email, "password": PASSWORD, "lang": "en"})).await
}

async fn login(app: &TestApp, site: &Site, email: &str, password: &str) -> Value {
    let mut client = app.connect(&site.public_key).await;
    frame(
        &mut client,
        json!({"type": "login", "email": email, "password": password}),
    )
    .await
}

/// Registers `name` with `email`, follows the mailed link and logs in:
/// the session's account token.
async fn confirmed_session(
    app: &TestApp,
    mailbox: &Mailbox,
    site: &Site,
    name: &str,
    email: &str,
) -> String {
    register(app, site, name, email).await;
    let address = email.to_lowercase();
    let confirm = mailbox
        .nth(&address, 1)
        .await
        .link("/account/verify?token=");
    assert_eq!(reqwest::get(&confirm).await.unwrap().status(), 200);
    let logged = login(app, site, &address, PASSWORD).await;
    logged["account_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn registration_mails_a_link_that_confirms_once() {
    let (app, mailbox, site) = setup().await;
    let reply = register(&app, &site, "Alice", "Alice@Example.com").await;
    assert_eq!(
        reply,
        json!({"type": "registered", "email": "alice@example.com"})
    );

    let mail = mailbox.nth("alice@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your email for Test site");
    assert!(mail.text.contains("Hello Alice,"), "{}", mail.text);
    assert!(
        mail.html.contains("<a href=") && mail.html.contains("Hello Alice,"),
        "an HTML version too"
    );
    let link = mail.link("/account/verify?token=");
    assert!(
        link.starts_with(&format!(
            "http://localhost:{}/account/verify?token=",
            app.addr.port()
        )),
        "{link}"
    );

    // Not confirmed yet: no login.
    assert_eq!(
        login(&app, &site, "alice@example.com", PASSWORD).await["code"],
        "email_not_verified"
    );

    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("Email confirmed"));
    // A confirmation link works once.
    let reused = reqwest::get(&link).await.unwrap();
    assert_eq!(reused.status(), 410);
    assert!(reused.text().await.unwrap().contains("already been used"));

    let logged = login(&app, &site, "ALICE@example.com", PASSWORD).await;
    assert_eq!(
        (logged["type"].as_str(), logged["name"].as_str()),
        (Some("logged_in"), Some("Alice")),
        "{logged}"
    );
}

#[tokio::test]
async fn a_member_chats_on_every_connection_keeps_the_name_and_logs_out() {
    let (app, mailbox, site) = setup().await;
    let session = confirmed_session(&app, &mailbox, &site, "Alice", "Alice@Example.com").await;

    let mut alice = app.connect(&site.public_key).await;
    let ready = alice.hello(json!({"account_token": session})).await;
    assert_eq!(
        (ready["me"]["kind"].as_str(), ready["me"]["nick"].as_str()),
        (Some("member"), Some("Alice")),
        "{ready}"
    );
    assert!(ready.get("guest_token").is_none());
    alice.join("lobby", None).await;
    alice.say("lobby", "1", "registered and confirmed").await;

    // Same account, another connection: the same participant.
    let mut again = app.connect(&site.public_key).await;
    assert_eq!(
        again.hello(json!({"account_token": session})).await["me"]["id"],
        ready["me"]["id"]
    );

    // Guests cannot take a member's name.
    let mut guest = app.connect(&site.public_key).await;
    assert_eq!(
        guest.hello(json!({"nick": "alice"})).await["code"],
        "nick_taken"
    );

    // Logout ends the session.
    let mut client = app.connect(&site.public_key).await;
    assert_eq!(
        frame(
            &mut client,
            json!({"type": "logout", "account_token": session})
        )
        .await["type"],
        "logged_out"
    );
    let mut after = app.connect(&site.public_key).await;
    assert_eq!(
        after.hello(json!({"account_token": session})).await["code"],
        "session_expired"
    );
}

#[tokio::test]
async fn mail_is_retried_while_the_smtp_server_is_down() {
    // The SMTP server is not there yet when the confirmation mail is sent.
    let smtp_addr = Mailbox::free_addr();
    let (app, site) = setup_with(|mail| mail.smtp_url = Some(format!("smtp://{smtp_addr}"))).await;
    let reply = register(&app, &site, "Fay", "fay@example.com").await;
    assert_eq!(reply["type"], "registered", "{reply}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // It comes up: the next attempt (one second after the first) delivers the mail.
    let mailbox = Mailbox::start_on(smtp_addr);
    let mail = mailbox.nth("fay@example.com", 1).await;
    assert!(mail.text.contains("Hello Fay,"), "{}", mail.text);
    assert_eq!(mailbox.count("fay@example.com"), 1, "delivered once");
}

#[tokio::test]
async fn mail_goes_through_starttls_with_credentials() {
    let mailbox = Mailbox::start_tls("chat@example.com", "s3cret pass");
    let port = mailbox.url().rsplit(':').next().unwrap().to_owned();
    let url = format!("smtp://chat%40example.com:s3cret%20pass@127.0.0.1:{port}?tls=required");
    let ca = format!(
        "{}/tests/fixtures/smtp-tls/ca.pem",
        env!("CARGO_MANIFEST_DIR")
    );

    // The server takes mail only after STARTTLS and AUTH: a delivery proves both.
    let trusting = url.clone();
    let (app, site) = setup_with(|mail| {
        mail.smtp_url = Some(trusting);
        mail.smtp_ca_file = Some(ca.into());
    })
    .await;
    register(&app, &site, "Gus", "gus@example.com").await;
    let mail = mailbox.nth("gus@example.com", 1).await;
    assert!(mail.text.contains("Hello Gus,"), "{}", mail.text);

    // Without the private CA the certificate is not trusted: nothing is sent in clear.
    let (untrusting, other_site) = setup_with(|mail| mail.smtp_url = Some(url)).await;
    register(&untrusting, &other_site, "Hal", "hal@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(mailbox.count("hal@example.com"), 0);
}

#[tokio::test]
async fn registration_errors_are_clear() {
    let (app, mailbox, site) = setup().await;
    let mut client = app.connect(&site.public_key).await;
    for (fields, code) in [
        (
            json!({"name": "B", "email": "not-an-email", "password": PASSWORD}),
            "invalid_email",
        ),
        (
            json!({"name": "  ", "email": "b@example.com", "password": PASSWORD}),
            "invalid_nick",
        ),
        (
            json!({"name": "B", "email": "b@example.com", "password": "short"}),
            "weak_password",
        ),
        (
            json!({"name": "B", "email": "b@example.com", "password": "Password12"}),
            "weak_password",
        ),
        (json!({"name": "B", "email": "b@example.com"}), "bad_frame"),
    ] {
        let mut frame_json = json!({"type": "register"});
        frame_json
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let reply = frame(&mut client, frame_json).await;
        assert_eq!(reply["code"], code, "{reply}");
    }
    assert_eq!(
        register(&app, &site, "Bob", "bob@example.com").await["type"],
        "registered"
    );
    assert_eq!(
        register(&app, &site, "Bob 2", "BOB@example.com").await["code"],
        "email_taken"
    );
    // Accounts are per site.
    let other = app.new_site().registration().create().await;
    assert_eq!(
        register(&app, &other, "Bob", "bob@example.com").await["type"],
        "registered"
    );
    mailbox.nth("bob@example.com", 2).await;

    app.configure_site(
        &site,
        SiteSettings {
            registration_allowed: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        register(&app, &site, "Carol", "carol@example.com").await["code"],
        "registration_closed"
    );
}

#[tokio::test]
async fn expired_links_and_resending_confirmation() {
    use chatctl::db::schema::account_tokens;
    use diesel::prelude::*;
    let (app, mailbox, site) = setup().await;
    register(&app, &site, "Dan", "dan@example.com").await;
    let first = mailbox
        .nth("dan@example.com", 1)
        .await
        .link("/account/verify?token=");

    let mut client = app.connect(&site.public_key).await;
    let too_soon = frame(
        &mut client,
        json!({"type": "resend_verification", "email": "dan@example.com"}),
    )
    .await;
    assert_eq!(too_soon["code"], "rate_limited");
    assert!(too_soon["retry_after_ms"].as_u64().unwrap() > 0);

    // Age every token by two days: the first link expires, resending is allowed.
    let two_days = 2 * 24 * 3600 * 1000;
    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            chatctl::with_backend!(conn, c => diesel::update(account_tokens::table)
                .set((
                    account_tokens::created_at.eq(account_tokens::created_at - two_days),
                    account_tokens::expires_at.eq(account_tokens::expires_at - two_days),
                ))
                .execute(c))?;
            Ok(())
        })
        .await
        .unwrap();
    let expired = reqwest::get(&first).await.unwrap();
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("expired"));

    let resent = frame(
        &mut client,
        json!({"type": "resend_verification", "email": "dan@example.com"}),
    )
    .await;
    assert_eq!(
        resent,
        json!({"type": "verification_sent", "email": "dan@example.com"})
    );
    let second = mailbox
        .nth("dan@example.com", 2)
        .await
        .link("/account/verify?token=");
    assert_ne!(first, second);
    assert_eq!(reqwest::get(&second).await.unwrap().status(), 200);

    // Unknown addresses get the same answer and no mail.
    let unknown = frame(
        &mut client,
        json!({"type": "resend_verification", "email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(unknown["type"], "verification_sent");
    let bogus = reqwest::get(format!("http://{}/account/verify?token=forged", app.addr))
        .await
        .unwrap();
    assert_eq!(bogus.status(), 410);
    assert_eq!(mailbox.count("nobody@example.com"), 0);
}

#[tokio::test]
async fn forgotten_password_end_to_end() {
    let (app, mailbox, site) = setup().await;
    let old_session = confirmed_session(&app, &mailbox, &site, "Eve", "eve@example.com").await;

    let mut client = app.connect(&site.public_key).await;
    let sent = frame(
        &mut client,
        json!({"type": "forgot_password", "email": "eve@example.com", "lang": "fr"}),
    )
    .await;
    assert_eq!(sent["type"], "reset_sent");
    let mail = mailbox.nth("eve@example.com", 2).await;
    assert_eq!(
        mail.subject, "Réinitialisez votre mot de passe pour Test site",
        "localised"
    );
    assert!(mail.text.contains("Bonjour Eve,"), "{}", mail.text);
    let link = mail.link("/account/reset?token=");
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let form = reqwest::get(&link).await.unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(
        html.contains("<form") && html.contains("lang=\"fr\""),
        "{html}"
    );

    let http = reqwest::Client::new();
    let post = |password: &str, again: &str| {
        http.post(format!("http://{}/account/reset", app.addr))
            .form(&[
                ("token", token.as_str()),
                ("password", password),
                ("password2", again),
            ])
            .send()
    };
    let mismatch = post("new Password 99", "other Password 99").await.unwrap();
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch.text().await.unwrap().contains("different"));
    let weak = post("weak", "weak").await.unwrap();
    assert_eq!(weak.status(), 422);
    let done = post("new Password 99", "new Password 99").await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        post("third Password 99", "third Password 99")
            .await
            .unwrap()
            .status(),
        410,
        "a reset link works once"
    );

    assert_eq!(
        login(&app, &site, "eve@example.com", PASSWORD).await["code"],
        "invalid_credentials"
    );
    assert_eq!(
        login(&app, &site, "eve@example.com", "new Password 99").await["type"],
        "logged_in"
    );
    let mut stale = app.connect(&site.public_key).await;
    assert_eq!(
        stale.hello(json!({"account_token": old_session})).await["code"],
        "session_expired",
        "reset ends old sessions"
    );
}

#[tokio::test]
async fn a_forgotten_password_of_no_account_gets_the_same_answer_and_no_mail() {
    let (app, mailbox, site) = setup().await;
    let mut client = app.connect(&site.public_key).await;
    let unknown = frame(
        &mut client,
        json!({"type": "forgot_password", "email": "ghost@example.com"}),
    )
    .await;
    assert_eq!(unknown["type"], "reset_sent");
    assert_eq!(mailbox.count("ghost@example.com"), 0);
}

#[tokio::test]
async fn login_attempts_are_throttled() {
    let (app, _mailbox, site) = setup().await;
    let mut client = app.connect(&site.public_key).await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        let reply = frame(
            &mut client,
            json!({"type": "login", "email": "frank@example.com", "password": "wrong Password 1"}),
        )
        .await;
        codes.push(reply["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(codes[0], "invalid_credentials");
    assert_eq!(codes.last().unwrap(), "rate_limited", "{codes:?}");
}
