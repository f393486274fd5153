//! Deleting admin accounts, from the panel and the command line: only with the
//! account's name typed, never one's own (in the panel) nor the last enabled
//! owner; the deleted account's audit entries keep its email as their actor.

use std::process::Output;

use chatctl::db::models::{AdminUser, AdminUserId, Role};
use reqwest::StatusCode;

use crate::support::cli::{chatctl, stdout, user_create};
use crate::support::panel::*;
use crate::support::*;

async fn account(app: &TestApp, email: &str) -> Option<AdminUser> {
    let email = email.to_owned();
    app.db
        .run(move |conn| AdminUser::find_by_email(conn, &email))
        .await
        .unwrap()
}

async fn exists(app: &TestApp, email: &str) -> bool {
    account(app, email).await.is_some()
}

/// The panel's delete form of an account, posted with `confirm` typed.
async fn delete_in_panel(owner: &mut Panel, id: AdminUserId, confirm: &str) -> Page {
    let path = format!("/admin/accounts/{id}/delete");
    owner.post_and_follow(&path, &[("confirm", confirm)]).await
}

#[tokio::test]
async fn an_owner_deletes_an_account_from_the_panel_and_the_audit_log_still_names_it() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut owner = Panel::owner(&app).await;
    let me = account(&app, "owner@example.com").await.unwrap().id;
    // The moderator logs in (an audit entry of theirs) and stays logged in.
    let mut moderator = Panel::moderator(&app, &[site.id]).await;
    let id = account(&app, "mod@example.com").await.unwrap().id;

    let page = owner.get("/admin/accounts").await;
    let form = |id: AdminUserId| format!("action=\"/admin/accounts/{id}/delete\"");
    assert!(page.body.contains(&form(id)), "{}", page.body);
    assert!(
        !page.body.contains(&form(me)),
        "one's own account offers no delete"
    );

    let wrong = delete_in_panel(&mut owner, id, "test admin").await;
    assert!(
        wrong
            .body
            .contains("Type the account&#x27;s name, &quot;Test Admin&quot;, to confirm"),
        "{}",
        wrong.body
    );
    assert!(exists(&app, "mod@example.com").await);

    let done = delete_in_panel(&mut owner, id, "Test Admin").await;
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
    audit_still_names_the_deleted_moderator(&mut owner).await;

    let own = delete_in_panel(&mut owner, me, "Test Admin").await;
    assert!(
        own.body.contains("You cannot delete your own account."),
        "{}",
        own.body
    );
    assert!(exists(&app, "owner@example.com").await);
}

/// The audit log names the deleted moderator by email, in the deletion and as
/// the actor of their own login (not the command line).
async fn audit_still_names_the_deleted_moderator(owner: &mut Panel) {
    let audit = owner.get("/admin/audit").await;
    assert!(
        audit.body.contains("user.delete")
            && audit
                .body
                .contains("mod@example.com (Test Admin, moderator)"),
        "{}",
        audit.body
    );
    assert!(
        audit
            .body
            .contains("<td>mod@example.com (deleted account)</td>"),
        "{}",
        audit.body
    );
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

/// `chatctl user delete --email <email> --confirm <confirm>`.
fn delete(db: &TestDb, email: &str, confirm: &str) -> Output {
    let args = ["user", "delete", "--email", email, "--confirm", confirm];
    chatctl(db).args(args).output().unwrap()
}

/// Asserts that the command failed, saying `text`.
fn refused_saying(out: &Output, text: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(text), "{stderr}");
}

/// An owner account made with `chatctl user create`.
fn create_owner(db: &TestDb, email: &str, name: &str) {
    stdout(&mut user_create(
        db,
        [email, name],
        "owner",
        &[],
        "correct Horse battery",
    ));
}

#[test]
fn the_command_line_deletes_an_account_but_not_the_last_owner() {
    let db = test_db();
    create_owner(&db, "olga@example.com", "Olga");
    let last = delete(&db, "olga@example.com", "Olga");
    refused_saying(&last, "This is the last enabled owner account");

    create_owner(&db, "paul@example.com", "Paul");
    let wrong = delete(&db, "olga@example.com", "olga");
    refused_saying(&wrong, "Type the account's name, \"Olga\", to confirm");
    let unknown = delete(&db, "nobody@example.com", "X");
    refused_saying(&unknown, "no admin account with email nobody@example.com");

    let deleted = delete(&db, "olga@example.com", "Olga");
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
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
    refused_saying(
        &delete(&db, "paul@example.com", "Paul"),
        "last enabled owner",
    );
}
