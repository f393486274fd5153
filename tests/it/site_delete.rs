//! Deleting a site: only once disabled, only with its name typed, from the
//! panel or the command line; everything of it goes but the audit record.

use chatctl::db::models::{Message, Site};

use crate::support::cli::{chatctl, created_site};
use crate::support::panel::*;
use crate::support::*;

/// The site's messages, as stored.
async fn messages_of(app: &TestApp, site: &Site) -> i64 {
    let id = site.id;
    app.db
        .run(move |conn| Message::count_since(conn, id, 0))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_disabled_site_is_deleted_from_the_panel_once_its_name_is_typed() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.say("lobby", "1", "hello").await;
    let path = format!("/admin/sites/{}", site.id);

    let page = panel.get(&path).await;
    assert!(
        !page.body.contains("id=\"delete-site\""),
        "offered while enabled"
    );
    let refused = panel
        .post_and_follow(&format!("{path}/delete"), &[("confirm", "Test site")])
        .await;
    assert!(
        refused.body.contains("Disable the site first"),
        "{}",
        refused.body
    );

    panel
        .post_and_follow(&format!("{path}/enabled"), &[("enabled", "false")])
        .await;
    // Disabling closed the open chat (site_disabled).
    assert_eq!(alice.closed().await.code, Some(4004));
    let page = panel.get(&path).await;
    assert!(page.body.contains("id=\"delete-site\""), "{}", page.body);
    let wrong = panel
        .post_and_follow(&format!("{path}/delete"), &[("confirm", "test")])
        .await;
    assert!(
        wrong
            .body
            .contains("Type the site&#x27;s name, &quot;Test site&quot;, to confirm"),
        "{}",
        wrong.body
    );
    assert_eq!(messages_of(&app, &site).await, 1);

    let done = panel
        .post_and_follow(&format!("{path}/delete"), &[("confirm", "Test site")])
        .await;
    assert!(
        done.body
            .contains("Site Test site deleted with its 1 messages and 1 participants"),
        "{}",
        done.body
    );
    assert_eq!(
        panel.get(&path).await.status,
        reqwest::StatusCode::NOT_FOUND
    );
    assert_eq!(messages_of(&app, &site).await, 0);
    let audit = panel.get("/admin/audit").await;
    assert!(
        audit.body.contains("site.delete")
            && audit
                .body
                .contains("Test site; 1 messages and 1 participants deleted"),
        "{}",
        audit.body
    );
}

#[test]
fn the_command_line_deletes_a_disabled_site_named_on_the_line() {
    let db = test_db();
    let key = created_site(&db, "Old blog", "https://old.example")["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = |args: &[&str]| chatctl(&db).args(args).output().unwrap();

    let enabled = run(&["site", "delete", &key, "--confirm", "Old blog"]);
    assert!(!enabled.status.success());
    assert!(String::from_utf8_lossy(&enabled.stderr).contains("Disable the site first"));
    assert!(run(&["site", "disable", &key]).status.success());
    let wrong = run(&["site", "delete", &key, "--confirm", "old blog"]);
    assert!(!wrong.status.success());
    let deleted = run(&["site", "delete", &key, "--confirm", "Old blog"]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("deleted"));
    let shown = run(&["site", "show", &key]);
    assert!(String::from_utf8_lossy(&shown.stderr).contains("unknown site"));
}
