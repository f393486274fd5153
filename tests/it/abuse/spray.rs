//! Failed logins spread over many accounts from one address (a password
//! spray) are throttled per address: past the address's allowance the admin
//! panel answers `429` and the widget's member login `rate_limited`, while
//! another address still logs in. (Per account: `login.rs`, `admin_auth.rs`.)
//! The server API's keys: `api_throttle.rs`.

use chatctl::db::models::Role;
use chatctl::identity::login_throttle::MAX_PER_IP;
use reqwest::StatusCode;

use serde_json::json;

use super::connect_from;
use crate::support::panel::*;
use crate::support::*;

#[tokio::test]
async fn an_admin_login_spray_from_one_address_is_throttled_there_only() {
    let app = TestApp::spawn().await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    let mut sprayer = Panel::from_address(&app, "127.0.0.1");
    for i in 0..MAX_PER_IP {
        let page = sprayer
            .try_login(&format!("guess{i}@example.com"), "Summer2024!")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The address is spent: even a right password is refused from it.
    let page = sprayer.try_login("owner@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let mut other = Panel::from_address(&app, "127.0.0.2");
    let page = other.try_login("owner@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

#[tokio::test]
async fn a_member_login_spray_from_one_address_is_throttled_there_only() {
    let app = TestApp::spawn().await;
    let site = app.new_site().registration().create().await;
    let hash = bcrypt::hash(MEMBER_PASSWORD, 4).unwrap();
    app.member(&site, "eve@example.com", "Eve", hash).await;
    let login = |email: String, password: &'static str| json!({"type": "login", "email": email, "password": password});
    let mut sprayer = connect_from(&app, "127.0.0.1", &site.public_key).await;
    // The admin panel's allowance per address (same throttle).
    let mut failed = 0;
    loop {
        sprayer
            .send(login(format!("guess{failed}@example.com"), "Summer2024!"))
            .await;
        let reply = sprayer.recv().await;
        if reply["code"] == "rate_limited" {
            break;
        }
        assert_eq!(reply["code"], "invalid_credentials", "{reply}");
        failed += 1;
        assert!(failed < 300, "never throttled");
    }
    assert_eq!(failed, MAX_PER_IP, "guesses before the refusal");
    let mut other = connect_from(&app, "127.0.0.2", &site.public_key).await;
    other
        .send(login("eve@example.com".into(), MEMBER_PASSWORD))
        .await;
    let reply = other.recv().await;
    assert_eq!(reply["type"], "logged_in", "{reply}");
}
