//! Mail from the admin side, against a real SMTP server on loopback: "forgot
//! password" from the login page, and moderators told about reported messages.

use std::time::Duration;

use chatctl::db::models::{Role, Site};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::mailbox::Mailbox;
use crate::support::panel::*;
use crate::support::*;

const NEW_PASSWORD: &str = "Brand new 77 staple";

async fn setup() -> (TestApp, Mailbox) {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::builder().smtp(url).spawn().await;
    (app, mailbox)
}

/// Asks for a reset link from the login page, as a visitor without a session.
async fn ask_for_link(panel: &mut Panel, email: &str) -> Page {
    let login = panel.get("/admin/login").await;
    assert!(
        login.body.contains("href=\"/admin/forgot\""),
        "the login page offers the way out"
    );
    let form = panel.get("/admin/forgot").await;
    assert_eq!(form.status, StatusCode::OK);
    let token = csrf_in(&form.body).unwrap();
    panel
        .send_form("/admin/forgot", &[("csrf", &token), ("email", email)])
        .await
}

async fn choose_password(panel: &mut Panel, link: &str, password: &str) -> Page {
    let path = &link[link.find("/admin/").unwrap()..];
    let form = panel.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = csrf_in(&form.body).unwrap();
    let token = path.split("token=").nth(1).unwrap();
    panel
        .send_form(
            "/admin/reset",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("new", password),
                ("repeat", password),
            ],
        )
        .await
}

/// The reset form at `link` refuses a weak password and a forged form.
async fn refuses_weak_and_forged(visitor: &mut Panel, link: &str) {
    let form = visitor.get(&link[link.find("/admin/").unwrap()..]).await;
    assert!(form.body.contains("mod@example.com"));
    let csrf = csrf_in(&form.body).unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let weak = visitor
        .send_form(
            "/admin/reset",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("new", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("password"), "{}", weak.body);
    let forged = visitor
        .send_form(
            "/admin/reset",
            &[
                ("csrf", "forged"),
                ("token", token),
                ("new", NEW_PASSWORD),
                ("repeat", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "CSRF applies here too"
    );
}

#[tokio::test]
async fn forgotten_admin_password_is_reset_by_email_once() {
    let (app, mailbox) = setup().await;
    account(&app, "mod@example.com", Role::Moderator, &[]).await;
    let mut logged_in = Panel::login(&app, "mod@example.com").await;

    let mut visitor = Panel::new(&app);
    let sent = ask_for_link(&mut visitor, "Mod@Example.com").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let login = visitor.get(sent.location.as_deref().unwrap()).await;
    assert!(
        login.body.contains("If an account uses that address"),
        "{}",
        login.body
    );

    // An unknown address gets the very same answer and no mail.
    let mut stranger = Panel::new(&app);
    let unknown = ask_for_link(&mut stranger, "nobody@example.com").await;
    assert_eq!(unknown.status, sent.status);
    assert_eq!(unknown.location, sent.location);

    let mail = mailbox.nth("mod@example.com", 1).await;
    assert_eq!(mail.subject, "Reset your chatctl admin password");
    assert!(mail.text.contains("Hello Test Admin,"), "{}", mail.text);
    assert!(mail.html.contains("<a href="), "an HTML version too");
    let link = mail.link("/admin/reset?token=");
    let public = format!("http://localhost:{}", app.addr.port());
    assert!(
        link.starts_with(&format!("{public}/admin/reset?token=")),
        "{link}"
    );

    // A second request within the minute does not send a second mail.
    ask_for_link(&mut visitor, "mod@example.com").await;

    // Weak passwords and forged forms are refused, keeping the link usable.
    refuses_weak_and_forged(&mut visitor, &link).await;

    let done = choose_password(&mut visitor, &link, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = visitor.get("/admin/login").await;
    assert!(after.body.contains("Your password has been changed"));

    // The old password is gone, the new one works, every old session ended.
    let mut fresh = Panel::new(&app);
    assert_eq!(
        fresh.try_login("mod@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh
            .try_login("mod@example.com", NEW_PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let kicked = logged_in.get("/admin").await;
    assert_eq!(kicked.status, StatusCode::SEE_OTHER);
    assert!(kicked.location.unwrap().starts_with("/admin/login"));

    // The link works once.
    let reused = visitor.get(&link[link.find("/admin/").unwrap()..]).await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.body.contains("already been used"), "{}", reused.body);

    let mut owner = Panel::owner(&app).await;
    let audit = owner.get("/admin/audit?action=admin.password_reset").await;
    assert!(
        audit.body.contains("<code>admin.password_reset</code>"),
        "the reset is in the audit log: {}",
        audit.body
    );
    assert_eq!(
        mailbox.count("mod@example.com"),
        1,
        "the second request within a minute sent nothing"
    );
}

#[tokio::test]
async fn expired_and_forged_reset_links_are_refused() {
    let (app, mailbox) = setup().await;
    let user = account(&app, "owner@example.com", Role::Owner, &[]).await;
    let mut visitor = Panel::new(&app);
    ask_for_link(&mut visitor, "owner@example.com").await;
    let link = mailbox
        .nth("owner@example.com", 1)
        .await
        .link("/admin/reset?token=");

    let forged = visitor.get("/admin/reset?token=not-a-real-token").await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert!(forged.body.contains("not valid"), "{}", forged.body);

    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            use chatctl::db::schema::admin_password_resets as resets;
            use diesel::prelude::*;
            chatctl::with_backend!(conn, c => diesel::update(
                resets::table.filter(resets::admin_user_id.eq(user.id)),
            )
            .set(resets::expires_at.eq(1))
            .execute(c))?;
            Ok(())
        })
        .await
        .unwrap();
    let expired = visitor.get(&link[link.find("/admin/").unwrap()..]).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let mut fresh = Panel::new(&app);
    assert_eq!(
        fresh.try_login("owner@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "nothing changed"
    );

    // One address cannot send mail after mail.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(ask_for_link(&mut visitor, "someone@example.com").await);
    }
    let limited = statuses.last().unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body.contains("Too many requests from your address"));
}

async fn report(app: &TestApp, site: &Site, reason: &str) -> i64 {
    let (mut author, _) = app.guest_in(&site.public_key, "troll", "lobby").await;
    let ack = author
        .say("lobby", "c1", "<b>buy</b> {{cheap}} pills")
        .await;
    let seq = ack["seq"].as_i64().unwrap();
    let (mut reporter, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    reporter
        .send(json!({"type": "report", "room": "lobby", "seq": seq, "reason": reason}))
        .await;
    assert_eq!(reporter.recv_type("reported").await["seq"], seq);
    seq
}

#[tokio::test]
async fn moderators_of_the_site_are_mailed_about_reports_unless_they_opt_out() {
    let (app, mailbox) = setup().await;
    let site_a = app.site(&[ORIGIN]).await;
    let site_b = app.site(&[ORIGIN]).await;
    account(&app, "mod-a@example.com", Role::Moderator, &[site_a.id]).await;
    account(&app, "mod-b@example.com", Role::Moderator, &[site_b.id]).await;
    account(&app, "admin@example.com", Role::Admin, &[]).await;
    account(&app, "quiet@example.com", Role::Admin, &[]).await;

    // One admin turns report mails off from their account page.
    let mut quiet = Panel::login(&app, "quiet@example.com").await;
    let page = quiet.get("/admin/account").await;
    assert!(page
        .body
        .contains("name=\"notify_reports\" value=\"on\" checked"));
    let saved = quiet
        .post_and_follow("/admin/account/notifications", &[])
        .await;
    assert!(saved.body.contains("no longer get emails about reports"));
    assert!(!saved.body.contains("value=\"on\" checked"));

    let seq = report(&app, &site_a, "spam & <i>scam</i>").await;

    let mail = mailbox.nth("mod-a@example.com", 1).await;
    assert_eq!(mail.subject, format!("Message reported on {}", site_a.name));
    assert!(mail.text.contains("troll wrote:"), "{}", mail.text);
    assert!(mail.text.contains("<b>buy</b> {{cheap}} pills"));
    assert!(mail.text.contains("spam & <i>scam</i>"));
    let public = format!("http://localhost:{}", app.addr.port());
    assert!(
        mail.text.contains(&format!("{public}/admin/reports")),
        "{}",
        mail.text
    );
    assert!(
        mail.html.contains("&lt;b&gt;buy&lt;/b&gt;") && !mail.html.contains("<b>buy</b>"),
        "the reported text is escaped: {}",
        mail.html
    );
    mailbox.nth("admin@example.com", 1).await;

    // Reporting the same message again (another visitor) mails no one.
    let (mut second, _) = app.guest_in(&site_a.public_key, "bob", "lobby").await;
    second
        .send(json!({"type": "report", "room": "lobby", "seq": seq, "reason": "also"}))
        .await;
    second.recv_type("reported").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailbox.count("mod-a@example.com"), 1);
    assert_eq!(
        mailbox.count("mod-b@example.com"),
        0,
        "a moderator of another site hears nothing"
    );
    assert_eq!(mailbox.count("quiet@example.com"), 0, "opted out");
    assert_eq!(mailbox.count("admin@example.com"), 1);

    // Turning it back on works.
    quiet
        .post_and_follow("/admin/account/notifications", &[("notify_reports", "on")])
        .await;
    report(&app, &site_b, "").await;
    let mail = mailbox.nth("quiet@example.com", 1).await;
    assert!(!mail.text.contains("Reason given"), "no empty reason line");
    mailbox.nth("mod-b@example.com", 1).await;
    assert_eq!(mailbox.count("mod-a@example.com"), 1);
}
