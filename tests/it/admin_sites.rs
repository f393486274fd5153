//! Site management from the panel, and templates loaded from disk.

use chatctl::db::models::{Role, Site};
use reqwest::StatusCode;

use crate::support::panel::*;
use crate::support::*;

/// An admin in the panel who has just made the site "Blog" (origin
/// https://blog.example) there: the site, and the page that answered.
async fn admin_with_a_new_site() -> (TestApp, Panel, Site, Page) {
    let app = TestApp::spawn().await;
    account(&app, "admin@example.com", Role::Admin, &[]).await;
    let mut panel = Panel::login(&app, "admin@example.com").await;
    panel.get("/admin/sites").await;
    let created = panel
        .post(
            "/admin/sites",
            &[("name", "Blog"), ("origin", "https://blog.example")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let site = app
        .db
        .run(Site::list)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "Blog")
        .unwrap();
    (app, panel, site, created)
}

#[tokio::test]
async fn admins_create_a_site_and_see_its_secret_once() {
    let (_app, mut panel, site, created) = admin_with_a_new_site().await;
    assert!(
        created.body.contains(&site.secret),
        "the secret is shown once, on the page"
    );
    assert!(!created
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("sk_")));

    let page = panel.get(&format!("/admin/sites/{}", site.id)).await;
    assert!(
        page.body
            .contains(&format!("data-site&#x3D;&quot;{}&quot;", site.public_key))
            || page.body.contains(&site.public_key)
    );
    assert!(page.body.contains("https://blog.example"));
    assert!(!page.body.contains(&site.secret), "never shown again");
}

#[tokio::test]
async fn admins_change_a_sites_origins_and_settings() {
    let (app, mut panel, site, _) = admin_with_a_new_site().await;
    let id = site.id;
    panel
        .post_and_follow(
            &format!("/admin/sites/{id}/origins"),
            &[("origin", "https://WWW.blog.example:443/")],
        )
        .await;
    let bad = panel
        .post_and_follow(
            &format!("/admin/sites/{id}/origins"),
            &[("origin", "blog.example/path")],
        )
        .await;
    assert!(bad.body.contains("flash err"), "{}", bad.body);
    panel
        .post_and_follow(
            &format!("/admin/sites/{id}/origins/remove"),
            &[("origin", "https://blog.example")],
        )
        .await;
    panel
        .post_and_follow(
            &format!("/admin/sites/{id}/settings"),
            &[
                ("name", "Blog 2"),
                ("room_policy", "precreated"),
                ("max_rooms", "5"),
                ("max_message_chars", "300"),
            ],
        )
        .await;
    let s = app.db.run(move |conn| Site::find(conn, id)).await.unwrap();
    let s2 = s.clone();
    let origins = app.db.run(move |conn| s2.origins(conn)).await.unwrap();
    assert_eq!(origins, vec!["https://www.blog.example".to_owned()]);
    assert_eq!(
        (
            s.name.as_str(),
            s.room_policy.as_str(),
            s.max_rooms,
            s.max_message_chars
        ),
        ("Blog 2", "precreated", 5, 300)
    );
    assert!(!s.guests_allowed, "unchecked boxes turn settings off");
    assert!(!s.presence_lines, "the join and leave lines' box too");
}

#[tokio::test]
async fn rotating_the_secret_needs_the_typed_name_and_shows_it_once() {
    let (app, mut panel, site, _) = admin_with_a_new_site().await;
    let id = site.id;
    // Rotation needs the typed confirmation and shows the new secret once.
    let refused = panel
        .post_and_follow(&format!("/admin/sites/{id}/rotate"), &[("confirm", "blog")])
        .await;
    assert!(refused.body.contains("Type the site name exactly"));
    let rotated = panel
        .post(&format!("/admin/sites/{id}/rotate"), &[("confirm", "Blog")])
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let after = app.db.run(move |conn| Site::find(conn, id)).await.unwrap();
    assert_ne!(after.secret, site.secret);
    assert!(rotated.body.contains(&after.secret));
}

#[tokio::test]
async fn moderators_see_their_site_read_only() {
    let (app, _, site, _) = admin_with_a_new_site().await;
    let id = site.id;
    // Moderators see their site read-only.
    account(&app, "mod@example.com", Role::Moderator, &[id]).await;
    let mut moderator = Panel::login(&app, "mod@example.com").await;
    let page = moderator.get(&format!("/admin/sites/{id}")).await;
    assert!(page
        .body
        .contains("Only owners and admins change site settings."));
    let denied = moderator
        .post(
            &format!("/admin/sites/{id}/origins"),
            &[("origin", "https://x.example")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn templates_dir_overrides_built_in_templates_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    std::fs::write(
        path.join("error.hbs"),
        "{{#> plain}}<h1>Custom {{status}}</h1>{{/plain}}",
    )
    .unwrap();
    std::fs::create_dir(path.join("static")).unwrap();
    std::fs::write(path.join("static").join("admin.css"), "body{color:red}").unwrap();
    let app = TestApp::builder()
        .config(move |config| {
            config.admin.templates_dir = Some(path);
        })
        .spawn()
        .await;
    let mut panel = Panel::owner(&app).await;
    let page = panel.get("/admin/nothing-here").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("<h1>Custom 404</h1>"), "{}", page.body);
    assert_eq!(
        panel.get("/admin/static/admin.css").await.body,
        "body{color:red}"
    );
    // Edited on disk: seen on the next request.
    std::fs::write(
        dir.path().join("error.hbs"),
        "{{#> plain}}<h1>Edited {{status}}</h1>{{/plain}}",
    )
    .unwrap();
    assert!(panel
        .get("/admin/nothing-here")
        .await
        .body
        .contains("Edited 404"));
    // Pages not overridden still come from the binary.
    assert!(panel.get("/admin").await.body.contains("Dashboard"));
}

/// A text column holds only names its enum knows: anything else is an error
/// when read, never a silent default (an unknown room policy used to read as
/// `open`, letting visitors create rooms on a site meant to be pre-created).
#[tokio::test]
async fn an_unknown_stored_room_policy_is_an_error_not_open() {
    let app = TestApp::spawn().await;
    let site = app.site(&["https://blog.example"]).await;
    let id = site.id;
    let read = app
        .db
        .run(move |conn| {
            chatctl::with_backend!(conn, c => diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("UPDATE sites SET room_policy = 'closed' WHERE id = {id}")),
                c
            ))?;
            Site::find(conn, id)
        })
        .await;
    let err = read.expect_err("an unknown room policy must not load");
    assert!(
        err.to_string().contains(r#"unknown room policy "closed""#),
        "{err}"
    );
}

/// Each form is read into its own struct: input of the wrong shape goes back
/// with a line that says what is wrong, a path id that is not a number is a
/// 404, and nothing is changed.
#[tokio::test]
async fn malformed_site_and_account_forms_get_clear_answers() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    panel.get("/admin/sites").await;
    let settings = format!("/admin/sites/{}/settings", site.id);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("name", "Blog"), ("max_rooms", "lots")],
            "Room limit: &quot;lots&quot; is not valid.",
        ),
        (
            &[("name", "Blog"), ("max_rooms", "0")],
            "The room limit is 1 to 1000000.",
        ),
        (
            &[("name", "Blog"), ("room_policy", "closed")],
            "Choose a room policy.",
        ),
        (
            &[("name", "Blog"), ("name", "Shop")],
            "This form could not be read",
        ),
    ];
    for (fields, says) in cases {
        let page = panel.post_and_follow(&settings, fields).await;
        assert!(page.body.contains(says), "{fields:?}: {}", page.body);
    }
    let unchanged = app.db.run(move |c| Site::find(c, site.id)).await.unwrap();
    assert_eq!(unchanged.name, site.name);
    assert_eq!(unchanged.max_rooms, site.max_rooms);

    let room = app
        .db
        .run(move |c| chatctl::db::models::Room::create(c, site.id, "help"))
        .await
        .unwrap();
    let page = panel
        .post_and_follow(
            &format!("/admin/rooms/{}", room.id),
            &[("slow_mode_secs", "fast")],
        )
        .await;
    assert!(
        page.body
            .contains("Slow mode: &quot;fast&quot; is not valid."),
        "{}",
        page.body
    );
    let page = panel
        .post_and_follow(
            &format!("/admin/sites/{}/filters", site.id),
            &[("pattern", "darn"), ("action", "mask")],
        )
        .await;
    assert!(
        page.body.contains("Choose a word or a pattern."),
        "{}",
        page.body
    );

    for path in [
        "/admin/sites/x/settings",
        "/admin/accounts/1e3/disable",
        "/admin/rooms/-/delete",
        "/admin/filters/one/delete",
    ] {
        let page = panel.post(path, &[("name", "Blog")]).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    let page = panel
        .post_and_follow(
            "/admin/accounts",
            &[("email", "a@example.com"), ("name", "A"), ("role", "root")],
        )
        .await;
    assert!(page.body.contains("Choose a role."), "{}", page.body);
}
