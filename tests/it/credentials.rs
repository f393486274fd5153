//! Every path that changes or resets a password ends the account's other
//! sessions and voids its other outstanding links (issue 12, item 8): admin
//! accounts (CLI, own change in the panel, an owner's reset, the emailed link)
//! and visitor accounts (the emailed link).

use chatctl::db::models::admin_password_reset::AdminPasswordReset;
use chatctl::db::models::{Account, AdminUser, Role, Site, TokenPurpose};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::cli::chatctl;
use crate::support::close;
use crate::support::mailbox::Mailbox;
use crate::support::panel::*;
use crate::support::*;

const NEW: &str = "Brand new 77 staple";

#[derive(Debug, Clone, Copy)]
enum AdminPath {
    Cli,
    OwnChange,
    OwnerReset,
    EmailedLink,
}

async fn reset_form_status(app: &TestApp, token: &str) -> StatusCode {
    Panel::new(app)
        .get(&format!("/admin/reset?token={token}"))
        .await
        .status
}

/// A reset link for `email`, mailed by the real forgot-password form: the
/// visitor who asked for it, and its token.
async fn mailed_reset_link(app: &TestApp, mailbox: &Mailbox, email: &str) -> (Panel, String) {
    let mut visitor = Panel::new(app);
    let form = visitor.get("/admin/forgot").await;
    let csrf = csrf_in(&form.body).unwrap();
    visitor
        .send_form("/admin/forgot", &[("csrf", &csrf), ("email", email)])
        .await;
    let link = mailbox.nth(email, 1).await.link("/admin/reset?token=");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(reset_form_status(app, &token).await, StatusCode::OK);
    (visitor, token)
}

/// `chatctl user set-password`, which tells how many sessions it ended.
fn set_by_command_line(app: &TestApp, email: &str) {
    let out = chatctl(&app.database)
        .args(["user", "set-password", "--email", email, "--password-stdin"])
        .write_stdin(format!("{NEW}\n"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 open sessions ended"), "{stdout}");
}

/// The account page's own password change.
async fn set_own(acting: &mut Panel) {
    acting.get("/admin/account").await;
    let page = acting
        .post_and_follow(
            "/admin/account/password",
            &[("current", PASSWORD), ("new", NEW), ("repeat", NEW)],
        )
        .await;
    assert!(page.body.contains("Password changed"), "{}", page.body);
}

/// An owner sets a new password for `user` on the accounts page.
async fn reset_by_owner(owner: &mut Panel, user: &AdminUser) {
    owner.get("/admin/accounts").await;
    let page = owner
        .post_and_follow(
            &format!("/admin/accounts/{}/password", user.id),
            &[("password", NEW)],
        )
        .await;
    assert!(page.body.contains("New password set"), "{}", page.body);
}

/// The mailed link used, while a second link (as if asked for earlier) is
/// outstanding: returns that one, which using the first must void.
async fn reset_by_link(
    app: &TestApp,
    visitor: &mut Panel,
    user: &AdminUser,
    mailed: &str,
) -> String {
    let id = user.id;
    let earlier = app
        .db
        .run(move |conn| AdminPasswordReset::issue(conn, id, 3_600_000))
        .await
        .unwrap();
    let form = visitor.get(&format!("/admin/reset?token={mailed}")).await;
    let csrf = csrf_in(&form.body).unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("token", mailed),
        ("new", NEW),
        ("repeat", NEW),
    ];
    let done = visitor.send_form("/admin/reset", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    earlier
}

#[tokio::test]
async fn every_admin_password_change_ends_other_sessions_and_links() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::builder().smtp(url).spawn().await;
    let mut owner = Panel::owner(&app).await;
    let paths = [
        AdminPath::Cli,
        AdminPath::OwnChange,
        AdminPath::OwnerReset,
        AdminPath::EmailedLink,
    ];
    for (n, path) in paths.into_iter().enumerate() {
        let email = format!("admin{n}@example.com");
        let user = account(&app, &email, Role::Admin, &[]).await;
        let mut acting = Panel::login(&app, &email).await;
        let mut other = Panel::login(&app, &email).await;
        let (mut visitor, mailed) = mailed_reset_link(&app, &mailbox, &email).await;

        let outstanding = match path {
            AdminPath::Cli => {
                set_by_command_line(&app, &email);
                mailed
            }
            AdminPath::OwnChange => {
                set_own(&mut acting).await;
                mailed
            }
            AdminPath::OwnerReset => {
                reset_by_owner(&mut owner, &user).await;
                mailed
            }
            AdminPath::EmailedLink => reset_by_link(&app, &mut visitor, &user, &mailed).await,
        };

        assert_eq!(
            other.get("/admin").await.status,
            StatusCode::SEE_OTHER,
            "{path:?}: the other session ended"
        );
        let own_session_stays = matches!(path, AdminPath::OwnChange);
        assert_eq!(
            acting.get("/admin").await.status == StatusCode::OK,
            own_session_stays,
            "{path:?}: only the session that changed its own password stays"
        );
        assert_eq!(
            reset_form_status(&app, &outstanding).await,
            StatusCode::GONE,
            "{path:?}: the outstanding reset link no longer works"
        );
        let mut fresh = Panel::new(&app);
        assert_eq!(
            fresh.try_login(&email, PASSWORD).await.status,
            StatusCode::UNAUTHORIZED,
            "{path:?}: the old password is refused"
        );
        assert_eq!(
            fresh.try_login(&email, NEW).await.status,
            StatusCode::SEE_OTHER,
            "{path:?}: the new password works"
        );
    }
}

/// Disabling an account voids its reset links: once enabled again, a link
/// mailed before (to a mailbox that may be why it was disabled) must not work.
#[tokio::test]
async fn disabling_an_admin_voids_their_reset_links() {
    let app = TestApp::spawn().await;
    let user = account(&app, "admin@example.com", Role::Admin, &[]).await;
    let id = user.id;
    let link = app
        .db
        .run(move |conn| AdminPasswordReset::issue(conn, id, 3_600_000))
        .await
        .unwrap();
    assert_eq!(reset_form_status(&app, &link).await, StatusCode::OK);
    for action in ["disable", "enable"] {
        let out = chatctl(&app.database)
            .args(["user", action, "--email", "admin@example.com"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(
        reset_form_status(&app, &link).await,
        StatusCode::GONE,
        "a link from before the account was disabled still works"
    );
}

async fn visitor_setup() -> (TestApp, Mailbox, Site) {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::builder().smtp(url).spawn().await;
    let site = app.new_site().registration().create().await;
    (app, mailbox, site)
}

async fn ask(app: &TestApp, site: &Site, frame: serde_json::Value) -> serde_json::Value {
    let mut client = app.connect(&site.public_key).await;
    client.send(frame).await;
    client.recv().await
}

/// Asks for a password reset for `email` (its second mail, after the
/// confirmation) and returns the token of the mailed link.
async fn mailed_reset(app: &TestApp, site: &Site, mailbox: &Mailbox, email: &str) -> String {
    ask(
        app,
        site,
        json!({"type": "forgot_password", "email": email}),
    )
    .await;
    token_of(&mailbox.nth(email, 2).await.link("/account/reset?token="))
}

async fn assert_logs_in(app: &TestApp, site: &Site, email: &str, password: &str) {
    let logged = ask(
        app,
        site,
        json!({"type": "login", "email": email, "password": password}),
    )
    .await;
    assert_eq!(logged["type"], "logged_in", "{logged}");
}

fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

async fn choose_password(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.http_url("/account/reset"))
        .form(&[("token", token), ("password", NEW), ("password2", NEW)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn link_status(app: &TestApp, path: &str, token: &str) -> u16 {
    reqwest::get(app.http_url(&format!("{path}?token={token}")))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_visitor_password_reset_ends_every_session_and_other_link() {
    let (app, mailbox, site) = visitor_setup().await;
    let email = "vera@example.com";
    let registered = ask(
        &app,
        &site,
        json!({"type": "register", "name": "Vera", "email": email, "password": MEMBER_PASSWORD}),
    )
    .await;
    assert_eq!(registered["type"], "registered", "{registered}");
    reqwest::get(mailbox.nth(email, 1).await.link("/account/verify?token="))
        .await
        .unwrap();
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let logged = ask(
            &app,
            &site,
            json!({"type": "login", "email": email, "password": MEMBER_PASSWORD}),
        )
        .await;
        sessions.push(logged["account_token"].as_str().unwrap().to_owned());
    }
    // A widget chatting with the first session.
    let mut live = app.connect(&site.public_key).await;
    let ready = live.hello(json!({"account_token": sessions[0]})).await;
    assert_eq!(ready["me"]["kind"], "member", "{ready}");
    let reset = mailed_reset(&app, &site, &mailbox, email).await;
    // Links issued earlier and still unused: another reset, another confirmation.
    let site_id = site.id;
    let (other_reset, other_verify) = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let account = Account::find_by_email(conn, site_id, email)?.unwrap();
            Ok((
                account.issue_token(conn, TokenPurpose::Reset, 3_600_000)?,
                account.issue_token(conn, TokenPurpose::Verify, 3_600_000)?,
            ))
        })
        .await
        .unwrap();

    assert_eq!(choose_password(&app, &reset).await, StatusCode::OK);

    let closed = live.closed().await;
    assert_eq!(closed.code, close::SIGNED_OUT, "{closed:?}");
    assert_eq!(closed.notice.unwrap()["code"], "signed_out");
    for session in &sessions {
        let mut client = app.connect(&site.public_key).await;
        assert_eq!(
            client.hello(json!({"account_token": session})).await["code"],
            "session_expired"
        );
    }
    assert_eq!(link_status(&app, "/account/reset", &other_reset).await, 410);
    assert_eq!(
        link_status(&app, "/account/verify", &other_verify).await,
        410
    );
    assert_eq!(choose_password(&app, &other_reset).await, StatusCode::GONE);
    assert_logs_in(&app, &site, email, NEW).await;
}

#[tokio::test]
async fn a_reset_before_confirming_voids_the_confirmation_link_and_confirms() {
    let (app, mailbox, site) = visitor_setup().await;
    let email = "walt@example.com";
    ask(
        &app,
        &site,
        json!({"type": "register", "name": "Walt", "email": email, "password": MEMBER_PASSWORD}),
    )
    .await;
    let verify = token_of(&mailbox.nth(email, 1).await.link("/account/verify?token="));
    let reset = mailed_reset(&app, &site, &mailbox, email).await;
    assert_eq!(choose_password(&app, &reset).await, StatusCode::OK);
    assert_eq!(
        link_status(&app, "/account/verify", &verify).await,
        410,
        "the confirmation link went with the old password"
    );
    // The reset link reached the mailbox: the address is confirmed.
    assert_logs_in(&app, &site, email, NEW).await;
}
