//! A query parameter or form field given twice, on the surfaces besides the
//! server API (whose tables are in `api_input.rs`): the admin panel, the
//! account pages of mail links and the WebSocket's check refuse it with a
//! 400 instead of guessing which value counts.

use reqwest::StatusCode;

use crate::support::panel::Panel;
use crate::support::*;

#[tokio::test]
async fn the_panel_refuses_a_parameter_or_field_given_twice() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;

    for path in [
        "/admin/messages?q=a&q=b",
        "/admin/audit?action=x&from=2026-01-01&action=y",
        "/admin/reports?state=open&state=resolved",
    ] {
        let page = panel.get(path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            page.body.contains("more than once"),
            "{path}: {}",
            page.body
        );
    }
    assert_eq!(
        panel.get("/admin/messages?q=a").await.status,
        StatusCode::OK
    );

    let rooms = format!("/admin/sites/{}/rooms", site.id);
    let done = panel
        .post_and_follow(&rooms, &[("name", "one"), ("name", "two")])
        .await;
    assert!(
        done.body
            .contains("the parameter &quot;name&quot; is given more than once"),
        "{}",
        done.body
    );
    let page = panel.get(&rooms).await;
    assert!(!page.body.contains(">one<") && !page.body.contains(">two<"));
}

#[tokio::test]
async fn account_links_and_the_websocket_check_refuse_a_parameter_given_twice() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let http = reqwest::Client::new();

    let reset = http
        .post(app.http_url("/account/reset"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=a&password=long+enough+words&password2=long+enough+words&token=b")
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = reset.json().await.unwrap();
    assert_eq!(body["error"], "bad_request", "{body}");

    let key = &site.public_key;
    let check = http
        .get(app.http_url(&format!("/ws/check?site={key}&site={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::BAD_REQUEST);
    let check = http
        .get(app.http_url(&format!("/ws/check?site={key}")))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::OK);
}
