//! API keys: made, listed and revoked from the command line and the panel
//! (owners only), shown once, stored as a SHA-256 only, audited.

use assert_cmd::Command;
use chatctl::db::models::{ApiKey, Role, Site};
use reqwest::StatusCode;

use crate::support::cli::{chatctl, stdout};
use crate::support::panel::*;
use crate::support::*;

async fn keys_of(app: &TestApp, site: &Site) -> Vec<ApiKey> {
    let id = site.id;
    app.db
        .run(move |conn| ApiKey::list(conn, id))
        .await
        .unwrap()
}

/// `chatctl site api-key create <site> --name <name> [--scope <scope>]...`
/// (not run yet).
fn create_key(app: &TestApp, site: &Site, name: &str, scopes: &[&str]) -> Command {
    let mut command = chatctl(&app.database);
    command.args([
        "site",
        "api-key",
        "create",
        &site.public_key,
        "--name",
        name,
    ]);
    for scope in scopes {
        command.args(["--scope", scope]);
    }
    command
}

/// The `ck_...` key in a text.
fn key_in(text: &str) -> String {
    let at = text.find("ck_").expect("no key shown");
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[tokio::test]
async fn the_command_line_creates_a_key_shown_once_and_stored_as_its_hash() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let out = stdout(&mut create_key(
        &app,
        &site,
        "backend",
        &["read", "publish"],
    ));
    let key = key_in(&out);
    assert_eq!(key.len(), 43, "{out}");

    let stored = keys_of(&app, &site).await;
    assert_eq!(stored.len(), 1);
    let row = &stored[0];
    assert_eq!(row.key_hash, chatctl::manage::api_keys::hash(&key));
    assert_ne!(row.key_hash, key);
    assert_eq!(row.prefix, key[..11]);
    assert!(row.scope_read && row.scope_publish && !row.scope_moderate);

    let list = stdout(chatctl(&app.database).args(["site", "api-key", "list", &site.public_key]));
    assert!(
        list.contains(&row.prefix) && list.contains("backend"),
        "{list}"
    );
    assert!(
        list.contains("read,publish") && list.contains("never"),
        "{list}"
    );
    assert!(!list.contains(&key), "the key itself is listed: {list}");

    let json = stdout(chatctl(&app.database).args([
        "site",
        "api-key",
        "list",
        &site.public_key,
        "--json",
    ]));
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["prefix"], row.prefix.as_str());
    assert_eq!(rows[0]["scopes"], serde_json::json!(["read", "publish"]));
    assert!(rows[0].get("key").is_none(), "{json}");

    // A second key in use may not share the name.
    let twice = create_key(&app, &site, "backend", &["read"])
        .output()
        .unwrap();
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("called \"backend\" already"));

    let revoked = stdout(chatctl(&app.database).args([
        "site",
        "api-key",
        "revoke",
        &site.public_key,
        &row.prefix,
    ]));
    assert!(revoked.contains("revoked"), "{revoked}");
    assert!(keys_of(&app, &site).await[0].revoked_at.is_some());
    let again = chatctl(&app.database)
        .args(["site", "api-key", "revoke", &site.public_key, &row.prefix])
        .output()
        .unwrap();
    assert!(!again.status.success(), "revoked twice");

    let mut panel = Panel::owner(&app).await;
    let audit = panel.get("/admin/audit?action=api_key").await;
    assert!(audit.body.contains("api_key.create") && audit.body.contains("api_key.revoke"));
    assert!(
        audit.body.contains("backend; scopes: read, publish"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn a_key_needs_a_scope_and_a_valid_name() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    // No scope, an unknown scope, a name with nothing visible.
    let refused: [(&str, &[&str]); 3] = [("x", &[]), ("x", &["admin"]), ("\u{200b}", &["read"])];
    for (name, scopes) in refused {
        let out = create_key(&app, &site, name, scopes).output().unwrap();
        assert!(!out.status.success(), "{name:?} {scopes:?}");
    }
    assert!(keys_of(&app, &site).await.is_empty());
}

#[tokio::test]
async fn owners_manage_keys_on_the_site_page_and_others_cannot() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let path = format!("/admin/sites/{}", site.id);
    let mut owner = Panel::owner(&app).await;
    let page = owner.get(&path).await;
    assert!(page.body.contains("id=\"api-keys\""), "{}", page.body);

    // Without the CSRF token nothing is made.
    let forged = owner
        .send_form(
            &format!("{path}/api-keys"),
            &[("name", "x"), ("scope", "read")],
        )
        .await;
    assert_ne!(forged.status, StatusCode::OK);
    assert!(keys_of(&app, &site).await.is_empty());

    let shown = owner
        .post(
            &format!("{path}/api-keys"),
            &[("name", "crm"), ("scope", "read"), ("scope", "moderate")],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let key = key_in(&shown.body[shown.body.find("id=\"secret\"").unwrap()..]);
    let stored = keys_of(&app, &site).await;
    assert_eq!(stored[0].key_hash, chatctl::manage::api_keys::hash(&key));
    assert!(stored[0].scope_read && !stored[0].scope_publish && stored[0].scope_moderate);
    // Shown once: the site page has the prefix only.
    let page = owner.get(&path).await;
    assert!(page.body.contains(&stored[0].prefix) && !page.body.contains(&key));

    let admin = app.admin("admin@example.com", Role::Admin, &[]).await;
    let mut other = Panel::login(&app, &admin.email).await;
    let page = other.get(&path).await;
    assert!(
        !page.body.contains("id=\"api-keys\""),
        "an admin sees the keys"
    );
    let refused = other
        .post(
            &format!("{path}/api-keys"),
            &[("name", "mine"), ("scope", "read")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = other
        .post(
            &format!("{path}/api-keys/revoke"),
            &[("prefix", &stored[0].prefix)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(keys_of(&app, &site).await[0].revoked_at.is_none());

    let done = owner
        .post_and_follow(
            &format!("{path}/api-keys/revoke"),
            &[("prefix", &stored[0].prefix)],
        )
        .await;
    assert!(done.body.contains("API key crm"), "{}", done.body);
    assert!(keys_of(&app, &site).await[0].revoked_at.is_some());
    let audit = owner.get("/admin/audit?action=api_key").await;
    assert!(audit.body.contains("owner@example.com") && audit.body.contains("api_key.revoke"));
}
