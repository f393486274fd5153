//! User text is escaped on every page that shows it: a message containing
//! `<script>` or `{{` shows as text.

use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::{FilterAction, FilterKind};
use reqwest::StatusCode;

use crate::admin_roles::{seed, Seeded};
use crate::support::panel::*;
use crate::support::*;

const NICK: &str = "<script>alert('nick')</script>";
const TEXT: &str = "<img src=x onerror=alert(1)> {{csrf}} {{{raw}}} </textarea>\"'";
const SITE: &str = "<svg onload=alert(2)>";

/// A site, a participant, a message, a word filter and an audit entry, each
/// carrying the payloads; an owner in the panel.
async fn payloads_everywhere() -> (TestApp, Panel, Seeded) {
    let app = TestApp::spawn().await;
    let s = seed(&app, NICK, TEXT).await;
    let site = s.site.id;
    app.db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            SiteSettings {
                name: Some(SITE.into()),
                ..Default::default()
            }
            .apply(conn, site)?;
            chatctl::db::models::WordFilter::create(
                conn,
                site,
                FilterKind::Word,
                "<i>bad</i>",
                FilterAction::Mask,
                None,
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let mut panel = Panel::owner(&app).await;
    // Leave an audit trail carrying the payloads, too.
    panel
        .get(&format!("/admin/participants/{}", s.participant.id))
        .await;
    panel
        .post_and_follow(
            &format!("/admin/participants/{}/mute", s.participant.id),
            &[("minutes", "5"), ("reason", TEXT)],
        )
        .await;

    (app, panel, s)
}

#[tokio::test]
async fn payloads_are_escaped_on_every_page() {
    let (_app, mut panel, s) = payloads_everywhere().await;
    let site = s.site.id;
    let p = s.participant.id;
    let pages = [
        "/admin".to_owned(),
        "/admin/sites".to_owned(),
        format!("/admin/sites/{site}"),
        format!("/admin/sites/{site}/rooms"),
        format!("/admin/sites/{site}/filters"),
        format!("/admin/sites/{site}/rotate"),
        "/admin/messages".to_owned(),
        format!("/admin/messages?q={}", "%3Cimg"),
        "/admin/participants?q=script".to_owned(),
        format!("/admin/participants/{p}"),
        "/admin/bans".to_owned(),
        "/admin/reports".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/accounts".to_owned(),
    ];
    for path in &pages {
        let page = panel.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for raw in [
            "<script>alert",
            "<img src=x",
            "<svg onload",
            "</textarea>",
            "<i>bad",
        ] {
            assert!(!page.body.contains(raw), "{path} contains raw {raw:?}");
        }
    }
    // The text is there, escaped, and template syntax in it stays text.
    let log = panel.get("/admin/messages").await;
    assert!(
        log.body
            .contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt; {{csrf}} {{{raw}}}"),
        "{}",
        log.body
    );
    assert!(log
        .body
        .contains("&lt;script&gt;alert(&#x27;nick&#x27;)&lt;/script&gt;"));
    let dashboard = panel.get("/admin").await;
    assert!(dashboard.body.contains("&lt;svg onload&#x3D;alert(2)&gt;"));
    let participant = panel.get(&format!("/admin/participants/{p}")).await;
    assert!(
        participant.body.contains("&lt;img src"),
        "mute reason and messages shown escaped"
    );
    let reports = panel.get("/admin/reports").await;
    assert!(
        reports.body.contains("held &lt;img"),
        "held message escaped"
    );
}
