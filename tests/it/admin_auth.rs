//! Admin panel access: login, throttling, sessions, CSRF, security headers.

use chatctl::db::models::Role;
use reqwest::StatusCode;

use crate::support::panel::*;
use crate::support::*;

#[tokio::test]
async fn login_succeeds_and_fails_with_one_message() {
    let app = TestApp::spawn().await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;

    let mut anon = Panel::new(&app);
    let page = anon.get("/admin/messages").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location.unwrap().starts_with("/admin/login?next="));

    let wrong = anon
        .try_login("owner@example.com", "not the password 1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong email or password."));
    let unknown = anon.try_login("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Wrong email or password."));

    let ok = anon.try_login("OWNER@example.com", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("chatctl_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/admin")
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http public URL: no Secure flag"
    );
    let home = anon.get("/admin").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Dashboard"));

    // Only a hash of the token is stored.
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("chatctl_session=")
        .to_owned();
    let stored: Vec<String> = app
        .db
        .run(|conn| {
            chatctl::with_backend!(conn, c => {
                use chatctl::db::schema::admin_sessions::dsl::*;
                use diesel::prelude::*;
                admin_sessions.select(token_hash).load::<String>(c)
            })
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);

    // Logout ends the session server-side.
    let out = anon.post("/admin/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    account(&app, "mod@example.com", Role::Owner, &[]).await;
    let mut client = Panel::new(&app);
    for _ in 0..5 {
        let page = client
            .try_login("mod@example.com", "wrong password 123")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let page = client.try_login("mod@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.body
            .contains("Too many failed attempts. Try again in 15 minutes."),
        "{}",
        page.body
    );
    // Other accounts from the same address are not locked out by one account's failures.
    account(&app, "other@example.com", Role::Owner, &[]).await;
    assert_eq!(
        client.try_login("other@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

async fn age_sessions(app: &TestApp, idle_ms: i64, age_ms: i64) {
    app.db
        .run(move |conn| {
            let now = chatctl::db::now_ms();
            chatctl::with_backend!(conn, c => {
                use chatctl::db::schema::admin_sessions::dsl::*;
                use diesel::prelude::*;
                diesel::update(admin_sessions)
                    .set((last_seen_at.eq(now - idle_ms), created_at.eq(now - age_ms)))
                    .execute(c)
            })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_lifetime() {
    let app = TestApp::spawn().await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;

    let mut panel = Panel::login(&app, "owner@example.com").await;
    age_sessions(&app, 59 * 60_000, 60 * 60_000).await;
    assert_eq!(
        panel.get("/admin").await.status,
        StatusCode::OK,
        "59 idle minutes: still valid"
    );
    age_sessions(&app, 61 * 60_000, 62 * 60_000).await;
    let page = panel.get("/admin/bans").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "61 idle minutes: expired"
    );
    assert!(page.location.unwrap().contains("next=%2Fadmin%2Fbans"));

    let mut panel = Panel::login(&app, "owner@example.com").await;
    age_sessions(&app, 0, 13 * 3_600_000).await;
    assert_eq!(
        panel.get("/admin").await.status,
        StatusCode::SEE_OTHER,
        "past 12 hours: expired"
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let panel = Panel::owner(&app).await;
    let path = format!("/admin/sites/{}/origins", site.id);

    let missing = panel
        .send_form(&path, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("This form has expired"));
    let wrong = panel
        .send_form(
            &path,
            &[
                ("csrf", "x".repeat(40).as_str()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // The token of another session does not work either.
    let other = Panel::login(&app, "owner@example.com").await;
    let foreign = panel
        .send_form(
            &path,
            &[
                ("csrf", other.csrf.as_str()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let s = site.clone();
    let origins = app.db.run(move |conn| s.origins(conn)).await.unwrap();
    assert!(!origins.iter().any(|o| o.contains("evil")), "{origins:?}");

    // The login form needs its token too.
    let login = Panel::new(&app)
        .send_form(
            "/admin/login",
            &[("email", "owner@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);

    let ok = panel
        .post(&path, &[("origin", "https://good.example")])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_admin_page_carries_security_headers() {
    let app = TestApp::spawn().await;
    let mut panel = Panel::owner(&app).await;
    for path in [
        "/admin",
        "/admin/login",
        "/admin/nope",
        "/admin/static/admin.css",
    ] {
        let page = panel.get(path).await;
        let csp = page
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            page.headers.get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    }
    let page = panel.get("/admin").await;
    assert!(!page.body.contains("<script>"), "no inline scripts");
    assert!(!page.body.contains("style="), "no inline styles");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let mut first = Panel::owner(&app).await;
    let mut second = Panel::login(&app, "owner@example.com").await;
    first.get("/admin/account").await;
    let bad = first
        .post_and_follow(
            "/admin/account/password",
            &[
                ("current", "wrong one 123"),
                ("new", "Another pass 42"),
                ("repeat", "Another pass 42"),
            ],
        )
        .await;
    assert!(
        bad.body.contains("The current password is wrong."),
        "{}",
        bad.body
    );
    let page = first
        .post_and_follow(
            "/admin/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Another pass 42"),
                ("repeat", "Another pass 42"),
            ],
        )
        .await;
    assert!(page.body.contains("Password changed"));
    assert_eq!(first.get("/admin").await.status, StatusCode::OK);
    assert_eq!(second.get("/admin").await.status, StatusCode::SEE_OTHER);
    let mut fresh = Panel::new(&app);
    assert_eq!(
        fresh
            .try_login("owner@example.com", "Another pass 42")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = TestApp::builder()
        .config(|config| {
            config.public_url = Some("https://chat.example.com".into());
        })
        .spawn()
        .await;
    let page = Panel::new(&app).get("/admin/login").await;
    let cookie = page.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("chatctl_login=") && cookie.contains("; Secure"),
        "{cookie}"
    );
}
