//! Email addresses are checked by the mailer's own parser wherever they are
//! typed (issue 12, item 10): an address the mailer would refuse later must not
//! create an account, and so block the address for a real registration.

use serde_json::json;

use crate::support::cli::user_create;
use crate::support::mailbox::Mailbox;
use crate::support::panel::*;
use crate::support::*;

/// Addresses lettre refuses, or that a mail server would.
fn unsendable() -> Vec<String> {
    vec![
        "a..b@example.com".into(),
        ".a@example.com".into(),
        "a.@example.com".into(),
        format!("{}@example.com", "x".repeat(65)),
        "user@-example.com".into(),
        "user@example-.com".into(),
        "user@exa_mple.com".into(),
        "user@example..com".into(),
        "user@[192.0.2.1]".into(),
        "\"john doe\"@example.com".into(),
        "jörg@example.com".into(),
        "user@localhost".into(),
        format!("a@{}.example.com", "b".repeat(64)),
    ]
}

#[tokio::test]
async fn the_widget_refuses_what_the_mailer_cannot_send_to() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::builder().smtp(url).spawn().await;
    let site = app.new_site().registration().create().await;
    let mut client = app.connect(&site.public_key).await;
    for (n, email) in unsendable().into_iter().enumerate() {
        for frame in [
            json!({"type": "register", "name": format!("User {n}"), "email": email, "password": "correct Horse 42"}),
            json!({"type": "forgot_password", "email": email}),
            json!({"type": "resend_verification", "email": email}),
        ] {
            client.send(frame.clone()).await;
            let reply = client.recv().await;
            assert_eq!(reply["code"], "invalid_email", "{frame}: {reply}");
        }
    }
    // An international domain is kept in its ASCII form, and the mail arrives.
    client
        .send(json!({"type": "register", "name": "Ina", "email": "Ina@Bücher.example", "password": "correct Horse 42"}))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply["email"], "ina@xn--bcher-kva.example", "{reply}");
    let mail = mailbox.nth("ina@xn--bcher-kva.example", 1).await;
    assert!(
        mail.text.contains("/account/verify?token="),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn the_panel_and_the_command_line_refuse_them_too() {
    let app = TestApp::spawn().await;
    let mut owner = Panel::owner(&app).await;
    owner.get("/admin/accounts").await;
    for email in unsendable() {
        let page = owner
            .post_and_follow(
                "/admin/accounts",
                &[
                    ("email", &email),
                    ("name", "New Admin"),
                    ("role", "admin"),
                    ("password", "Correct horse 9 battery"),
                ],
            )
            .await;
        assert!(
            page.body.contains("not a valid email address") && !page.body.contains("created"),
            "{email}: {}",
            page.body
        );

        let who = [email.as_str(), "Cli Admin"];
        let out = user_create(&app.database, who, "admin", &[], "Correct horse 9 battery")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{email}: the CLI accepted it");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not a valid email address"),
            "{email}: {stderr}"
        );
    }
}
