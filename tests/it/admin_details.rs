//! Small things an owner notices in the panel: sites that cannot be told
//! apart, a ban form that silently picks a site, a missing icon.

use chatctl::db::models::Role;

use crate::support::cli::chatctl;
use crate::support::panel::*;
use crate::support::*;

#[tokio::test]
async fn a_second_site_with_the_same_name_is_refused_in_the_panel_and_the_cli() {
    let app = TestApp::spawn().await;
    let mut panel = Panel::owner(&app).await;
    panel.get("/admin/sites").await;
    let form = [("name", "Blog"), ("origin", "https://blog.example")];
    let first = panel.post("/admin/sites", &form).await;
    assert!(first.body.contains("Blog is created"), "{}", first.body);
    let second = panel
        .post_and_follow(
            "/admin/sites",
            &[("name", " blog "), ("origin", "https://b.example")],
        )
        .await;
    assert!(
        second
            .body
            .contains("Another site is called &quot;Blog&quot; already (key pk_"),
        "{}",
        second.body
    );

    // Another case, a Cyrillic В, a lowercase Cherokee si (folded to Ꮟ, like b).
    for name in ["BLOG", "\u{0412}log", "\u{AB9F}log"] {
        let out = chatctl(&app.database)
            .args([
                "site",
                "create",
                "--name",
                name,
                "--origin",
                "https://c.example",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Another site is called \"Blog\" already"),
            "{name:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn pickers_show_the_key_of_sites_that_share_a_name() {
    let app = TestApp::spawn().await;
    // Made before names had to differ (and as every test site is named).
    let one = app.site(&[ORIGIN]).await;
    let two = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let page = panel.get("/admin/bans").await;
    for site in [&one, &two] {
        assert!(
            page.body.contains(&format!(
                "<option value=\"{}\">Test site ({})</option>",
                site.id, site.public_key
            )),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn the_new_ban_form_makes_the_owner_choose_a_site() {
    let app = TestApp::spawn().await;
    app.site(&[ORIGIN]).await;
    let second = app.site(&[ORIGIN]).await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    account(&app, "mod@example.com", Role::Moderator, &[second.id]).await;
    let mut owner = Panel::login(&app, "owner@example.com").await;
    let page = owner.get("/admin/bans").await;
    assert!(
        page.body
            .contains("<select name=\"scope\" required><option value=\"\" selected disabled>Choose a site…</option>"),
        "{}",
        page.body
    );
    let refused = owner
        .post_and_follow(
            "/admin/bans",
            &[
                ("cidr", "203.0.113.9"),
                ("reason", "spam"),
                ("unit", "permanent"),
            ],
        )
        .await;
    assert!(refused.body.contains("Choose a site."), "{}", refused.body);

    // A moderator of one site has nothing to choose.
    let mut moderator = Panel::login(&app, "mod@example.com").await;
    let page = moderator.get("/admin/bans").await;
    assert!(
        page.body.contains(&format!(
            "<option value=\"{}\" selected>Test site</option>",
            second.id
        )),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn every_panel_page_has_an_icon() {
    let app = TestApp::spawn().await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    let mut panel = Panel::new(&app);
    let login = panel.get("/admin/login").await;
    let link = "<link rel=\"icon\" href=\"/admin/static/favicon.svg\" type=\"image/svg+xml\">";
    assert!(login.body.contains(link), "{}", login.body);
    let mut panel = Panel::login(&app, "owner@example.com").await;
    assert!(panel.get("/admin").await.body.contains(link));
    let icon = panel.get("/admin/static/favicon.svg").await;
    assert_eq!(icon.status, reqwest::StatusCode::OK);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    assert!(icon.body.starts_with("<svg"));
}

#[tokio::test]
async fn the_dashboard_draws_the_last_day_of_messages_and_connections() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let (_bob, _) = app.guest_in(&site.public_key, "bob", "lobby").await;
    for (cid, text) in [("1", "one"), ("2", "two"), ("3", "three")] {
        alice.say("lobby", cid, text).await;
    }
    let page = panel.get("/admin").await;
    let card = page
        .body
        .split(&format!("data-site=\"{}\"", site.id))
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("the site's card");
    assert!(
        card.contains("aria-label=\"Messages per hour over the last 24 hours: 3 in all\""),
        "{card}"
    );
    assert!(card.contains(": 3 messages</title></rect></svg>"), "{card}");
    assert!(
        card.contains(
            "aria-label=\"Most connections in each hour of the last 24 hours: at most 2\""
        ),
        "{card}"
    );
    // Drawn on the server: no script, no third-party host.
    assert!(!page.body.contains("https://cdn"), "{}", page.body);
}

#[tokio::test]
async fn the_message_log_marks_who_wrote_and_mutes_or_bans_from_a_row() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::moderator(&app, &[site.id]).await;
    let (mut troll, ready) = app.guest(&site.public_key, "troll").await;
    let id = ready["me"]["id"].as_i64().unwrap();
    troll.join("lobby", None).await;
    troll.say("lobby", "t1", "spam spam").await;

    let log = panel.get("/admin/messages").await;
    let row = log
        .body
        .split("class=\"msg")
        .nth(1)
        .expect("a row for the message");
    assert!(
        row.contains("<span class=\"badge kind-guest\">guest</span>"),
        "{row}"
    );
    assert!(row.contains("<time datetime=\"20"), "{row}");
    assert!(
        row.contains(&format!("action=\"/admin/participants/{id}/mute\"")),
        "{row}"
    );
    assert!(
        row.contains(&format!("action=\"/admin/participants/{id}/ban\"")),
        "{row}"
    );

    // Acting from the log brings the moderator back to the log.
    let base = app.http_url("");
    let muted = panel
        .http
        .post(format!("{base}/admin/participants/{id}/mute"))
        .header("referer", format!("{base}/admin/messages"))
        .form(&[("csrf", panel.csrf.as_str()), ("minutes", "10")])
        .send()
        .await
        .unwrap();
    assert_eq!(muted.headers()["location"], "/admin/messages");
    troll
        .send(serde_json::json!({"type": "send", "room": "lobby", "cid": "t2", "text": "more"}))
        .await;
    let sent = troll.recv_type_any(&["ack", "error"]).await;
    assert_eq!(sent["code"], "muted", "{sent}");
}

#[tokio::test]
async fn the_site_page_says_what_limits_a_message_length() {
    let app = TestApp::builder()
        .limits(|l| l.max_message_chars = 3000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let path = format!("/admin/sites/{}", site.id);
    let page = panel.get(&path).await;
    assert!(
        page.body.contains("this server allows at most 3000")
            && !page.body.contains("caps every site"),
        "{}",
        page.body
    );
    panel
        .post_and_follow(
            &format!("{path}/settings"),
            &[
                ("name", "Test site"),
                ("room_policy", "open"),
                ("max_rooms", "100"),
                ("max_message_chars", "5000"),
            ],
        )
        .await;
    let capped = panel.get(&path).await;
    assert!(
        capped.body.contains("Messages stop at 3000 characters"),
        "{}",
        capped.body
    );
}
