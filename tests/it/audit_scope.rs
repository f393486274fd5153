//! The audit log's "who" filter shows a moderator only the accounts that acted
//! on their sites, never every admin's email (issue 12, item 11).

use chatctl::db::models::audit::{AuditAction, AuditEntry};
use chatctl::db::models::{AdminUserId, Role, SiteId};
use reqwest::StatusCode;

use crate::support::panel::*;
use crate::support::*;

async fn acted(app: &TestApp, actor: AdminUserId, site: Option<SiteId>, action: AuditAction) {
    app.db
        .run(move |conn| {
            AuditEntry {
                actor: chatctl::db::models::audit::Actor::Admin(actor),
                site,
                action,
                target_type: "site",
                target_id: "1".into(),
                details: "seeded".into(),
            }
            .record(conn)
        })
        .await
        .unwrap();
}

/// The emails offered by the page's "who" select.
fn offered(body: &str) -> Vec<String> {
    let Some(start) = body.find("name=\"actor\"") else {
        return Vec::new();
    };
    let end = body[start..]
        .find("</select>")
        .map_or(body.len(), |e| start + e);
    body[start..end]
        .split("<option")
        .skip(1)
        .filter_map(|o| {
            let text = &o[o.find('>')? + 1..];
            let text = text.split('<').next()?.trim();
            text.contains('@').then(|| text.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_moderator_sees_only_the_actors_of_their_sites() {
    let app = TestApp::spawn().await;
    let a = app.site(&[ORIGIN]).await;
    let b = app.site(&[ORIGIN]).await;
    let owner = account(&app, "owner@example.com", Role::Owner, &[]).await;
    let quiet_admin = account(&app, "quiet-admin@example.com", Role::Admin, &[]).await;
    let mod_a = account(&app, "mod-a@example.com", Role::Moderator, &[a.id]).await;
    let colleague = account(&app, "colleague@example.com", Role::Moderator, &[a.id]).await;
    let mod_b = account(&app, "mod-b@example.com", Role::Moderator, &[b.id]).await;
    let both = account(&app, "both@example.com", Role::Moderator, &[a.id, b.id]).await;
    acted(&app, colleague.id, Some(a.id), AuditAction::BanCreate).await;
    acted(&app, both.id, Some(b.id), AuditAction::BanCreate).await;
    acted(&app, mod_b.id, Some(b.id), AuditAction::BanCreate).await;
    acted(&app, owner.id, None, AuditAction::SiteCreate).await;
    acted(&app, owner.id, Some(b.id), AuditAction::SiteUpdate).await;
    let _ = (quiet_admin, mod_a);

    let mut m = Panel::login(&app, "mod-a@example.com").await;
    let page = m.get("/admin/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(offered(&page.body), vec!["colleague@example.com"]);
    for hidden in [
        "owner@example.com",
        "quiet-admin@example.com",
        "mod-b@example.com",
        "both@example.com",
    ] {
        assert!(!page.body.contains(hidden), "the audit page shows {hidden}");
    }
    // Asking for another account's entries shows nothing of theirs either.
    let page = m.get(&format!("/admin/audit?actor={}", mod_b.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("mod-b@example.com"), "{}", page.body);

    // The account that moderates both sees the actors of both; an owner sees everyone.
    acted(&app, both.id, Some(a.id), AuditAction::BanRevoke).await;
    let mut m = Panel::login(&app, "both@example.com").await;
    let mut seen = offered(&m.get("/admin/audit").await.body);
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "both@example.com",
            "colleague@example.com",
            "mod-b@example.com",
            "owner@example.com"
        ]
    );
    let mut o = Panel::login(&app, "owner@example.com").await;
    assert_eq!(offered(&o.get("/admin/audit").await.body).len(), 6);
}
