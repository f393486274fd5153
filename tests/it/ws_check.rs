//! `GET /ws/check`: what the widget asks before it connects. It says which
//! forms to show, and why a connection would be refused, in words a browser
//! can read (a refused WebSocket upgrade shows the page nothing).

use serde_json::{json, Value};

use crate::support::*;

/// `GET /ws/check?site=<key>` from a page at `origin`.
async fn check(app: &TestApp, key: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.http_url(&format!("/ws/check?site={key}")))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_check_endpoint_tells_the_widget_which_forms_to_show() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let ok = check(&app, &site.public_key, ORIGIN).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"ok": true, "guests": true, "registration": false, "sign_in": false})
    );
    // It tells the widget which forms to show: no guests once verified identity
    // is required, registration when the site allows it.
    app.configure_site(
        &site,
        SiteSettings {
            registration_allowed: Some(true),
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    let ok = check(&app, &site.public_key, ORIGIN).await;
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"ok": true, "guests": false, "registration": true, "sign_in": true})
    );

    // Registration closed, but a confirmed member exists: they may still sign in.
    let s = site.clone();
    app.db
        .run(move |conn| {
            let mut member = chatctl::db::models::Account::create(
                conn,
                s.id,
                "member@example.com",
                "Member",
                "not-a-real-hash",
            )?;
            member.mark_verified(conn)
        })
        .await
        .unwrap();
    app.configure_site(
        &site,
        SiteSettings {
            registration_allowed: Some(false),
            ..Default::default()
        },
    )
    .await;
    let ok = check(&app, &site.public_key, ORIGIN).await;
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"ok": true, "guests": false, "registration": false, "sign_in": true})
    );
}

#[tokio::test]
async fn the_check_endpoint_explains_refusals_to_browsers() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let http = reqwest::Client::new();
    let refused = check(&app, &site.public_key, "https://elsewhere.example").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "origin_not_allowed"
    );

    // Without an Origin header (browsers omit it on same-origin GETs), the page
    // names its origin in the query; the header wins when both are there.
    let by_query = http
        .get(app.http_url(&format!(
            "/ws/check?site={}&origin={ORIGIN}",
            site.public_key
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let header_wins = http
        .get(app.http_url(&format!(
            "/ws/check?site={}&origin={ORIGIN}",
            site.public_key
        )))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header_wins.status(), 403);
    let neither = http
        .get(app.http_url(&format!("/ws/check?site={}", site.public_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        neither.json::<Value>().await.unwrap()["error"],
        "origin_required"
    );

    let unknown = check(&app, "pk_000000000000000000000000", ORIGIN).await;
    assert_eq!(unknown.status(), 404);
    let missing = http.get(app.http_url("/ws/check")).send().await.unwrap();
    assert_eq!(missing.status(), 400);
}
