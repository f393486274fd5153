//! Deleting admin accounts, from the panel and the command line: only with the
//! account's name typed, never one's own (in the panel) nor the last enabled
//! owner; the deleted account's audit entries keep its email as their actor.

use chatctl::db::models::{AdminUser, Role};
use reqwest::StatusCode;

use crate::support::cli::{chatctl, stdout};
use crate::support::panel::*;
use crate::support::*;

async fn exists(app: &TestApp, email: &str) -> bool {
    let email = email.to_owned();
    app.db
        .run(move |conn| AdminUser::find_by_email(conn, &email))
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn an_owner_deletes_an_account_from_the_panel_and_the_audit_log_still_names_it() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut owner = Panel::owner(&app).await;
    let me = app
        .db
        .run(|conn| AdminUser::find_by_email(conn, "owner@example.com"))
        .await
        .unwrap()
        .unwrap();
    // The moderator logs in (an audit entry of theirs) and stays logged in.
    let mut moderator = Panel::moderator(&app, &[site.id]).await;
    let id = app
        .db
        .run(|conn| AdminUser::find_by_email(conn, "mod@example.com"))
        .await
        .unwrap()
        .unwrap()
        .id;

    let page = owner.get("/admin/accounts").await;
    assert!(
        page.body
            .contains(&format!("action=\"/admin/accounts/{id}/delete\"")),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains(&format!("action=\"/admin/accounts/{}/delete\"", me.id)),
        "one's own account offers no delete"
    );

    let wrong = owner
        .post_and_follow(
            &format!("/admin/accounts/{id}/delete"),
            &[("confirm", "test admin")],
        )
        .await;
    assert!(
        wrong
            .body
            .contains("Type the account&#x27;s name, &quot;Test Admin&quot;, to confirm"),
        "{}",
        wrong.body
    );
    assert!(exists(&app, "mod@example.com").await);

    let done = owner
        .post_and_follow(
            &format!("/admin/accounts/{id}/delete"),
            &[("confirm", "Test Admin")],
        )
        .await;
    assert!(
        done.body
            .contains("Account mod@example.com deleted; 1 open session ended."),
        "{}",
        done.body
    );
    assert!(!exists(&app, "mod@example.com").await);
    assert!(
        !done.body.contains("mod@example.com&gt;"),
        "no longer listed"
    );
    // Their session ended with the account.
    assert_eq!(moderator.get("/admin").await.status, StatusCode::SEE_OTHER);

    let audit = owner.get("/admin/audit").await;
    assert!(
        audit.body.contains("user.delete")
            && audit
                .body
                .contains("mod@example.com (Test Admin, moderator)"),
        "{}",
        audit.body
    );
    // Their login is still theirs, not the command line's.
    assert!(
        audit
            .body
            .contains("<td>mod@example.com (deleted account)</td>"),
        "{}",
        audit.body
    );

    let own = owner
        .post_and_follow(
            &format!("/admin/accounts/{}/delete", me.id),
            &[("confirm", "Test Admin")],
        )
        .await;
    assert!(
        own.body.contains("You cannot delete your own account."),
        "{}",
        own.body
    );
    assert!(exists(&app, "owner@example.com").await);
}

#[tokio::test]
async fn only_owners_delete_accounts() {
    let app = TestApp::spawn().await;
    let other = app.admin("other@example.com", Role::Admin, &[]).await;
    app.admin("admin@example.com", Role::Admin, &[]).await;
    let mut admin = Panel::login(&app, "admin@example.com").await;
    admin.get("/admin").await;
    let refused = admin
        .post(
            &format!("/admin/accounts/{}/delete", other.id),
            &[("confirm", "Test Admin")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(exists(&app, "other@example.com").await);
}

#[test]
fn the_command_line_deletes_an_account_but_not_the_last_owner() {
    let db = test_db();
    let create = |email: &str, name: &str, role: &str| {
        stdout(
            chatctl(&db)
                .args([
                    "user",
                    "create",
                    "--email",
                    email,
                    "--name",
                    name,
                    "--role",
                    role,
                    "--password-stdin",
                ])
                .write_stdin("correct Horse battery\n"),
        )
    };
    create("olga@example.com", "Olga", "owner");
    let run = |args: &[&str]| chatctl(&db).args(args).output().unwrap();
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let last = run(&[
        "user",
        "delete",
        "--email",
        "olga@example.com",
        "--confirm",
        "Olga",
    ]);
    assert!(!last.status.success());
    assert!(
        stderr(&last).contains("This is the last enabled owner account"),
        "{}",
        stderr(&last)
    );

    create("paul@example.com", "Paul", "owner");
    let wrong = run(&[
        "user",
        "delete",
        "--email",
        "olga@example.com",
        "--confirm",
        "olga",
    ]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("Type the account's name, \"Olga\", to confirm"),
        "{}",
        stderr(&wrong)
    );
    let unknown = run(&[
        "user",
        "delete",
        "--email",
        "nobody@example.com",
        "--confirm",
        "X",
    ]);
    assert!(stderr(&unknown).contains("no admin account with email nobody@example.com"));

    let deleted = run(&[
        "user",
        "delete",
        "--email",
        "olga@example.com",
        "--confirm",
        "Olga",
    ]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(
        String::from_utf8_lossy(&deleted.stdout).trim(),
        "deleted owner Olga <olga@example.com>; 0 open sessions ended"
    );
    let list = stdout(chatctl(&db).args(["user", "list"]));
    assert!(
        !list.contains("olga@example.com") && list.contains("paul@example.com"),
        "{list}"
    );

    // Paul is now the last owner: he stays, disabled or not.
    let last = run(&[
        "user",
        "delete",
        "--email",
        "paul@example.com",
        "--confirm",
        "Paul",
    ]);
    assert!(
        stderr(&last).contains("last enabled owner"),
        "{}",
        stderr(&last)
    );
}
