//! Endpoints managed from the command line and the panel: owners only, CSRF,
//! audited, and hostile input refused with a clear message.

use chatctl::db::models::audit::{self, AuditFilter};
use chatctl::db::models::webhook::Endpoint;
use chatctl::db::models::{Role, Site, WebhookEndpointId};
use reqwest::StatusCode;
use serde_json::Value;

use super::{add_endpoint, deliveries};
use crate::support::cli::{chatctl, stdout};
use crate::support::panel::{account, Panel};
use crate::support::receiver::Receiver;
use crate::support::*;

/// The audit actions recorded so far, oldest first.
async fn actions(app: &TestApp) -> Vec<String> {
    let mut rows = app
        .db
        .run(|c| {
            audit::list(
                c,
                &AuditFilter {
                    action: Some("webhook".into()),
                    ..Default::default()
                },
                100,
            )
        })
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter()
        .map(|(row, _)| row.action.to_string())
        .collect()
}

#[tokio::test]
async fn the_command_line_adds_lists_disables_and_removes_endpoints() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(
        &app,
        &site,
        "https://hooks.example.com/in",
        &["report.created,message.created"],
    )
    .await;
    let list: Value = serde_json::from_str(&stdout(chatctl(&app.database).args([
        "site",
        "webhook",
        "list",
        &site.public_key,
        "--json",
    ])))
    .unwrap();
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["url"], "https://hooks.example.com/in");
    assert_eq!(
        list[0]["events"],
        serde_json::json!(["message.created", "report.created"])
    );
    assert_eq!(list[0]["enabled"], true);
    assert!(
        list[0].get("secret").is_none(),
        "the secret is shown once only: {list}"
    );

    let id = id.to_string();
    let text =
        stdout(chatctl(&app.database).args(["site", "webhook", "disable", &site.public_key, &id]));
    assert!(text.contains("disabled"), "{text}");
    let text = stdout(chatctl(&app.database).args(["site", "webhook", "list", &site.public_key]));
    assert!(
        text.contains("[disabled: disabled by an administrator]"),
        "{text}"
    );
    stdout(chatctl(&app.database).args(["site", "webhook", "enable", &site.public_key, &id]));
    stdout(chatctl(&app.database).args(["site", "webhook", "remove", &site.public_key, &id]));
    let text = stdout(chatctl(&app.database).args(["site", "webhook", "list", &site.public_key]));
    assert!(text.contains("no webhook endpoints"), "{text}");
    assert_eq!(
        actions(&app).await,
        [
            "webhook.add",
            "webhook.disable",
            "webhook.enable",
            "webhook.remove"
        ]
    );
}

#[tokio::test]
async fn the_command_line_refuses_hostile_input_clearly() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let other = app.site(&[ORIGIN]).await;
    let (theirs, _) = add_endpoint(&app, &other, "https://other.example/hook", &[]).await;
    let key = site.public_key.as_str();
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let theirs = theirs.to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["add", key, "ftp://example.com/x"],
            "must start with https:// or http://",
        ),
        (
            &["add", key, "javascript:alert(1)"],
            "must start with https:// or http://",
        ),
        (&["add", key, "example.com/hook"], "is not a URL"),
        (
            &["add", key, "https://user:secret@example.com/"],
            "user name and password",
        ),
        (&["add", key, "https://example.com/#frag"], "fragment"),
        (&["add", key, &long], "longer than 2000"),
        (
            &[
                "add",
                key,
                "https://example.com/",
                "--event",
                "message.sent",
            ],
            "Unknown event \"message.sent\"",
        ),
        (&["add", "pk_nope", "https://example.com/"], "unknown site"),
        (&["remove", key, &theirs], "not found"),
        (&["resend", key, "999999"], "not found"),
        (&["deliveries", key, "abc"], "invalid value"),
    ];
    for (args, says) in cases {
        let out = chatctl(&app.database)
            .args(["site", "webhook"])
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let all = stdout(chatctl(&app.database).args(["site", "webhook", "list", &other.public_key]));
    assert!(
        all.contains("other.example"),
        "another site's endpoint stays: {all}"
    );
    let refused = |url: &str| {
        let out = chatctl(&app.database)
            .args(["site", "webhook", "add", key, url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    add_endpoint(&app, &site, "https://example.com/0", &[]).await;
    assert!(refused("https://example.com/0").contains("is an endpoint of this site already"));
    for i in 1..20 {
        add_endpoint(&app, &site, &format!("https://example.com/{i}"), &[]).await;
    }
    assert!(refused("https://example.com/21").contains("at most 20 webhook endpoints"));
}

/// Adds an endpoint for `url` on the site's page (message.created and
/// room.created); its id, and the secret the answer shows once.
async fn add_in_panel(
    app: &TestApp,
    panel: &mut Panel,
    site: &Site,
    url: &str,
) -> (WebhookEndpointId, String) {
    let added = panel
        .post(
            &format!("/admin/sites/{}/webhooks", site.id),
            &[
                ("url", url),
                ("event", "message.created"),
                ("event", "room.created"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let secret_at = added.body.find("whsec_").expect("the secret is shown once");
    let secret: String = added.body[secret_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let id = endpoints_of(app, site).await[0].id;
    (id, secret)
}

/// Waits until every delivery to `id` is recorded as delivered (a moment
/// after the receiver has it).
async fn all_recorded_delivered(app: &TestApp, id: WebhookEndpointId) {
    crate::support::wait::poll(
        "every delivery recorded",
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(20),
        || async {
            let stored = deliveries(app, id.0).await;
            match stored.iter().all(|d| d.state.as_str() == "delivered") {
                true => Ok(()),
                false => Err(stored.len()),
            }
        },
    )
    .await;
}

/// The site's endpoints as stored.
async fn endpoints_of(app: &TestApp, site: &Site) -> Vec<Endpoint> {
    let id = site.id;
    app.db
        .run(move |c| Endpoint::list_for_site(c, id))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_owner_adds_an_endpoint_in_the_panel_sees_its_deliveries_and_resends_one() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut panel = Panel::owner(&app).await;
    let page = panel.get(&format!("/admin/sites/{}", site.id)).await;
    assert!(
        page.body.contains("id=\"add-webhook\""),
        "the site page has the form"
    );

    let (id, secret) = add_in_panel(&app, &mut panel, &site, &receiver.url()).await;

    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "seen in the panel").await;
    let got = receiver.wait_delivered(2).await;
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    let created = got
        .iter()
        .find(|r| r.kind() == "message.created")
        .unwrap()
        .json();

    all_recorded_delivered(&app, id).await;
    let page = panel.get(&format!("/admin/webhooks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains(&secret),
        "the secret is not shown again"
    );
    let event = created["id"].as_str().unwrap();
    for shown in [event, "<td>200</td>", " ms</td>"] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }

    let delivery = deliveries(&app, id.0)
        .await
        .into_iter()
        .find(|d| d.event_id == created["id"])
        .unwrap();
    let resent = panel
        .post_and_follow(
            &format!("/admin/webhooks/{id}/resend"),
            &[("delivery", &delivery.id.to_string())],
        )
        .await;
    assert!(resent.body.contains("queued again"), "{}", resent.body);
    let got = receiver.wait_delivered(3).await;
    assert_eq!(
        got[2].json()["id"],
        created["id"],
        "the same event id: receivers deduplicate it"
    );
    assert_eq!(actions(&app).await, ["webhook.add", "webhook.resend"]);

    let disabled = panel
        .post_and_follow(
            &format!("/admin/webhooks/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert!(
        disabled.body.contains("Endpoint disabled"),
        "{}",
        disabled.body
    );
    panel
        .post_and_follow(&format!("/admin/webhooks/{id}/delete"), &[])
        .await;
    assert!(
        deliveries(&app, id.0).await.is_empty(),
        "its deliveries went with it"
    );
}

#[tokio::test]
async fn the_panel_refuses_hostile_endpoint_input() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut owner = Panel::owner(&app).await;
    owner.get(&format!("/admin/sites/{}", site.id)).await;
    let add = format!("/admin/sites/{}/webhooks", site.id);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("url", "javascript:alert(1)"), ("event", "message.created")],
            "must start with https:// or http://",
        ),
        (
            &[("url", "file:///etc/passwd"), ("event", "message.created")],
            "must start with https:// or http://",
        ),
        (
            &[("url", "https://example.com/hook")],
            "Choose at least one event.",
        ),
        (
            &[
                ("url", "https://example.com/hook"),
                ("event", "message.sent"),
            ],
            "Unknown event",
        ),
        (
            &[("url", ""), ("event", "message.created")],
            "Give the endpoint",
        ),
    ];
    for (fields, says) in cases {
        let page = owner.post_and_follow(&add, fields).await;
        assert!(page.body.contains(says), "{fields:?}: {}", page.body);
    }
    // Markup in a URL is stored encoded and shown as text.
    let page = owner
        .post(
            &add,
            &[
                ("url", "https://example.com/\"><script>alert(1)</script>"),
                ("event", "room.created"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    // Without the CSRF token nothing is added.
    let forged = owner
        .send_form(
            &add,
            &[("url", "https://evil.example/"), ("event", "room.created")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let stored = endpoints_of(&app, &site).await;
    assert_eq!(stored.len(), 1, "only the encoded one: {stored:?}");
    let id = stored[0].id;
    assert_eq!(
        owner.get("/admin/webhooks/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner.get("/admin/webhooks/abc").await.status,
        StatusCode::NOT_FOUND
    );
    let resend = owner
        .post(
            &format!("/admin/webhooks/{id}/resend"),
            &[("delivery", "not-a-number")],
        )
        .await;
    assert_eq!(resend.status, StatusCode::SEE_OTHER);
    assert_eq!(endpoints_of(&app, &site).await.len(), 1);
}

#[tokio::test]
async fn only_owners_see_and_change_webhooks() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, _) = add_endpoint(&app, &site, "https://example.com/hook", &[]).await;
    let add = format!("/admin/sites/{}/webhooks", site.id);
    account(&app, "admin@example.com", Role::Admin, &[]).await;
    account(&app, "mod@example.com", Role::Moderator, &[site.id]).await;
    for (email, status) in [
        ("admin@example.com", StatusCode::FORBIDDEN),
        ("mod@example.com", StatusCode::FORBIDDEN),
    ] {
        let mut panel = Panel::login(&app, email).await;
        let page = panel.get(&format!("/admin/sites/{}", site.id)).await;
        assert!(
            !page.body.contains("add-webhook"),
            "{email} sees no webhooks"
        );
        assert_eq!(
            panel.get(&format!("/admin/webhooks/{id}")).await.status,
            status,
            "{email}"
        );
        let tried = panel
            .post(
                &add,
                &[("url", "https://x.example/"), ("event", "room.created")],
            )
            .await;
        assert_eq!(tried.status, status, "{email}");
        let tried = panel
            .post(&format!("/admin/webhooks/{id}/delete"), &[])
            .await;
        assert_eq!(tried.status, status, "{email}");
    }
    assert_eq!(endpoints_of(&app, &site).await.len(), 1);
}

#[tokio::test]
async fn a_new_secret_signs_every_delivery_after_it() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (id, old) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "before").await;
    assert!(receiver.wait_delivered(1).await[0].signed_with(&old));

    let printed = stdout(chatctl(&app.database).args([
        "site",
        "webhook",
        "rotate-secret",
        &site.public_key,
        &id.to_string(),
    ]));
    let new = printed.lines().last().unwrap().trim().to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{printed}");
    ann.say("lobby", "c2", "after").await;
    let got = receiver.wait_delivered(2).await;
    assert!(got[1].signed_with(&new) && !got[1].signed_with(&old));

    let mut panel = Panel::owner(&app).await;
    panel.get(&format!("/admin/webhooks/{id}")).await;
    let page = panel
        .post(&format!("/admin/webhooks/{id}/rotate"), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let at = page
        .body
        .find("whsec_")
        .expect("the new secret is shown once");
    let shown: String = page.body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_ne!(shown, new);
    ann.say("lobby", "c3", "after the panel").await;
    assert!(receiver.wait_delivered(3).await[2].signed_with(&shown));
    assert_eq!(
        actions(&app).await,
        [
            "webhook.add",
            "webhook.rotate_secret",
            "webhook.rotate_secret"
        ]
    );
}
