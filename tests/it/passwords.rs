//! Guessable passwords are refused wherever a password is chosen: a member's
//! registration in the widget, an admin's password change in the panel, and
//! `chatctl user create`. `Password12` mixes letters, capitals and digits,
//! which the old class rule accepted; a strength estimator does not.

use serde_json::json;

use crate::support::cli::chatctl;
use crate::support::panel::{Panel, PASSWORD};
use crate::support::*;

/// Guessed at once, though each mixes classes of character.
const GUESSABLE: [&str; 3] = ["Password12", "Qwerty12345", "Iloveyou2024!"];

#[tokio::test]
async fn members_cannot_register_with_a_guessable_password() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let mut client = app.connect(&site.public_key).await;
    for (n, password) in GUESSABLE.into_iter().enumerate() {
        client
            .send(json!({"type": "register", "name": format!("Member {n}"), "email": format!("m{n}@example.com"), "password": password}))
            .await;
        let answer = client.recv().await;
        assert_eq!(answer["code"], "weak_password", "{password}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("too easy to guess"),
            "{answer}"
        );
    }
    client
        .send(json!({"type": "register", "name": "Member", "email": "m@example.com", "password": "Brand new 77 staple"}))
        .await;
    assert_eq!(client.recv().await["type"], "registered");
}

#[tokio::test]
async fn admins_cannot_choose_a_guessable_password() {
    let app = TestApp::spawn().await;
    let mut panel = Panel::owner(&app).await;
    panel.get("/admin/account").await;
    for password in GUESSABLE {
        let page = panel
            .post_and_follow(
                "/admin/account/password",
                &[
                    ("current", PASSWORD),
                    ("new", password),
                    ("repeat", password),
                ],
            )
            .await;
        assert!(page.body.contains("too easy to guess"), "{}", page.body);
    }
    // The old password still works: nothing was changed.
    assert_eq!(
        Panel::new(&app)
            .try_login("owner@example.com", PASSWORD)
            .await
            .status,
        reqwest::StatusCode::SEE_OTHER
    );
}

#[test]
fn the_command_line_refuses_a_guessable_password() {
    let db = test_db();
    let out = chatctl(&db)
        .args(["user", "create"])
        .args(["--email", "owner@example.com", "--name", "Owner"])
        .args(["--role", "owner", "--password-stdin"])
        .write_stdin("Password12\n")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too easy to guess"), "{stderr}");
}
