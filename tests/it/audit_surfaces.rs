//! The panel and the command line change sites and admin accounts through one
//! service: the same change leaves the same audit entry (same action name, same
//! target named the same way, same details) whichever surface made it, and a
//! disable from the command line ends the account's panel sessions as the
//! panel's does (issue 16, item 1).

use chatctl::db::models::audit::AuditRow;
use chatctl::db::models::{Role, Site};
use chatctl::db::schema::audit_log;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::support::cli::{chatctl, created_site, stdout};
use crate::support::panel::*;
use crate::support::*;

/// An audit entry without who made it and when.
#[derive(Debug, PartialEq)]
struct Entry {
    action: String,
    site: Option<i64>,
    target: String,
    details: String,
}

/// The newest audit entry, and whether an admin account (not the CLI) made it.
async fn last(app: &TestApp) -> (Entry, bool) {
    let row: AuditRow = app
        .db
        .run(|conn| {
            chatctl::with_backend!(conn, c => audit_log::table
                .order(audit_log::id.desc())
                .select(AuditRow::as_select())
                .first(c))
        })
        .await
        .unwrap();
    let entry = Entry {
        action: row.action.to_string(),
        site: row.site_id.map(|s| s.0),
        target: format!("{} {}", row.target_type, row.target_id),
        details: row.details,
    };
    (entry, row.admin_user_id.is_some())
}

async fn by_panel(app: &TestApp) -> Entry {
    let (entry, from_panel) = last(app).await;
    assert!(from_panel, "not written by the panel: {entry:?}");
    entry
}

async fn by_cli(app: &TestApp) -> Entry {
    let (entry, from_panel) = last(app).await;
    assert!(!from_panel, "not written by the command line: {entry:?}");
    entry
}

/// The panel's settings form as it is sent: every field, with `guests` as given.
fn settings_form(site: &Site, guests: bool, max_rooms: &str) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("name", site.name.clone()),
        ("room_policy", site.room_policy.to_string()),
        ("max_rooms", max_rooms.to_owned()),
        ("max_message_chars", site.max_message_chars.to_string()),
    ];
    for (field, on) in [
        ("guests_allowed", guests),
        ("registration_allowed", site.registration_allowed),
        ("verified_required", site.verified_required),
        ("presence_lines", site.presence_lines),
    ] {
        if on {
            form.push((field, "on".into()));
        }
    }
    form
}

async fn post(panel: &Panel, path: &str, fields: &[(&str, String)]) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = panel.post(path, &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.body);
}

#[tokio::test]
async fn site_changes_leave_the_same_audit_entry_from_the_panel_and_the_cli() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    panel.get(&format!("/admin/sites/{}", site.id)).await;
    let (id, key) = (site.id, site.public_key.clone());
    let cli = |args: &[&str]| stdout(chatctl(&app.database).args(args));
    let path = |tail: &str| format!("/admin/sites/{id}/{tail}");
    let other = "https://two.example".to_owned();

    post(&panel, &path("origins"), &[("origin", other.clone())]).await;
    let panel_add = by_panel(&app).await;
    post(
        &panel,
        &path("origins/remove"),
        &[("origin", other.clone())],
    )
    .await;
    let panel_remove = by_panel(&app).await;
    cli(&["site", "add-origin", &key, "https://TWO.example/"]);
    assert_eq!(by_cli(&app).await, panel_add);
    cli(&["site", "remove-origin", &key, &other]);
    assert_eq!(by_cli(&app).await, panel_remove);
    assert_eq!(
        panel_add,
        Entry {
            action: "site.origin_add".into(),
            site: Some(id.0),
            target: format!("site {key}"),
            details: other.clone(),
        }
    );

    // The panel sends its whole form; only what changed is recorded.
    post(&panel, &path("settings"), &settings_form(&site, false, "7")).await;
    let panel_settings = by_panel(&app).await;
    assert_eq!(panel_settings.action, "site.update");
    assert_eq!(
        panel_settings.details,
        format!(
            "guests allowed: true → false; most rooms: {} → 7",
            site.max_rooms
        )
    );
    let back = site.max_rooms.to_string();
    post(
        &panel,
        &path("settings"),
        &settings_form(&site, true, &back),
    )
    .await;
    cli(&["site", "set", &key, "--guests", "false", "--max-rooms", "7"]);
    assert_eq!(by_cli(&app).await, panel_settings);

    panel.get(&path("rotate")).await;
    // The new secret is shown on the page itself, once.
    let rotated = panel
        .post(&path("rotate"), &[("confirm", site.name.as_str())])
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let panel_rotate = by_panel(&app).await;
    cli(&["site", "rotate-secret", &key]);
    assert_eq!(by_cli(&app).await, panel_rotate);

    post(&panel, &path("enabled"), &[("enabled", "false".into())]).await;
    let panel_disable = by_panel(&app).await;
    post(&panel, &path("enabled"), &[("enabled", "true".into())]).await;
    let panel_enable = by_panel(&app).await;
    cli(&["site", "disable", &key]);
    assert_eq!(by_cli(&app).await, panel_disable);
    cli(&["site", "enable", &key]);
    assert_eq!(by_cli(&app).await, panel_enable);
    assert_eq!(panel_disable.action, "site.disable");
}

#[tokio::test]
async fn sites_created_from_either_surface_are_recorded_alike() {
    let app = TestApp::spawn().await;
    let mut panel = Panel::owner(&app).await;
    panel.get("/admin/sites").await;
    let page = panel
        .post(
            "/admin/sites",
            &[("name", "Shop"), ("origin", "https://shop.example")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let from_panel = by_panel(&app).await;
    // Site names are unique.
    let created = created_site(&app.database, "Shop two", "https://shop.example");
    let from_cli = by_cli(&app).await;
    let mut sites = app.db.run(Site::list).await.unwrap();
    sites.retain(|s| !s.is_demo);
    for (entry, site) in [(&from_panel, &sites[0]), (&from_cli, &sites[1])] {
        assert_eq!(
            *entry,
            Entry {
                action: "site.create".into(),
                site: Some(site.id.0),
                target: format!("site {}", site.public_key),
                details: format!("{}; origins: https://shop.example", site.name),
            }
        );
    }
    assert_eq!(created["public_key"], sites[1].public_key.as_str());
}

#[tokio::test]
async fn account_changes_leave_the_same_audit_entry_and_a_cli_disable_logs_out() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    let moderator = account(&app, "mod@example.com", Role::Moderator, &[site.id]).await;
    let mut owner = Panel::login(&app, "owner@example.com").await;
    owner.get("/admin/accounts").await;
    let path = |tail: &str| format!("/admin/accounts/{}/{tail}", moderator.id);
    let cli = |args: &[&str]| stdout(chatctl(&app.database).args(args));

    post(&owner, &path("disable"), &[]).await;
    let panel_disable = by_panel(&app).await;
    post(&owner, &path("enable"), &[]).await;
    let panel_enable = by_panel(&app).await;
    assert_eq!(
        panel_disable,
        Entry {
            action: "user.disable".into(),
            site: None,
            target: format!("admin_user {}", moderator.id),
            details: "mod@example.com".into(),
        }
    );

    // The moderator is at work in the panel when the command line disables them.
    let mut moderator_panel = Panel::login(&app, "mod@example.com").await;
    let out = cli(&["user", "disable", "--email", "mod@example.com"]);
    assert!(out.contains("1 open session ended"), "{out}");
    assert_eq!(by_cli(&app).await, panel_disable);
    let kicked = moderator_panel.get("/admin").await;
    assert_eq!(kicked.status, StatusCode::SEE_OTHER);
    assert!(kicked.location.unwrap().starts_with("/admin/login"));
    cli(&["user", "enable", "--email", "mod@example.com"]);
    assert_eq!(by_cli(&app).await, panel_enable);

    let new_password = "brand new Pass 3".to_owned();
    post(
        &owner,
        &path("password"),
        &[("password", new_password.clone())],
    )
    .await;
    let panel_password = by_panel(&app).await;
    chatctl(&app.database)
        .args(["user", "set-password", "--email", "mod@example.com"])
        .arg("--password-stdin")
        .write_stdin(format!("{new_password}\n"))
        .assert()
        .success();
    assert_eq!(by_cli(&app).await, panel_password);
    assert_eq!(panel_password.action, "user.set_password");
}

/// Rows written before the names were unified are renamed by the migration,
/// on either backend: the command line's action names, and sites named by
/// their public key rather than their id.
#[tokio::test]
async fn the_migration_renames_the_old_audit_entries() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, key) = (site.id, site.public_key.clone());
    let room = app
        .db
        .run(move |conn| chatctl::db::models::Room::create(conn, id, "support"))
        .await
        .unwrap();
    let old = [
        ("site.add_origin", "site", key.clone(), "https://a.example"),
        (
            "site.remove_origin",
            "site",
            key.clone(),
            "https://a.example",
        ),
        ("site.settings", "site", key.clone(), "SiteSettings { .. }"),
        (
            "site.origin_add",
            "site",
            id.to_string(),
            "https://b.example",
        ),
        ("room.create", "site", key.clone(), "support"),
        ("room.prune", "site", id.to_string(), "2 unused rooms: a, b"),
    ];
    let rows = app
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            for (action, target_type, target_id, details) in &old {
                let sql = format!(
                    "INSERT INTO audit_log (site_id, action, target_type, target_id, details, created_at) \
                     VALUES ({id}, '{action}', '{target_type}', '{target_id}', '{details}', 1)"
                );
                chatctl::with_backend!(conn, c => diesel::sql_query(sql).execute(c))?;
            }
            chatctl::with_backend!(conn, c => diesel::sql_query(
                "DELETE FROM __diesel_schema_migrations WHERE version = '20261130200000'"
            ).execute(c))?;
            chatctl::db::migrate::run_pending(conn)?;
            chatctl::with_backend!(conn, c => audit_log::table
                .order(audit_log::id)
                .select(AuditRow::as_select())
                .load(c))
        })
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.action.to_string(),
                format!("{} {}", r.target_type, r.target_id),
            )
        })
        .collect();
    let site_target = format!("site {key}");
    let expected = [
        ("site.origin_add", site_target.clone()),
        ("site.origin_remove", site_target.clone()),
        ("site.update", site_target.clone()),
        ("site.origin_add", site_target.clone()),
        ("room.create", format!("room {}", room.id)),
        ("room.prune", site_target.clone()),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(a, t)| (a.to_owned(), t))
        .collect();
    assert_eq!(got, expected);
}
