//! Roles are enforced on the server: a moderator of site A can neither see nor
//! act on site B, whatever URL they type; only owners manage accounts.

use chatctl::db::models::*;
use reqwest::StatusCode;

use crate::support::panel::*;
use crate::support::*;

/// One of everything on a site, made directly in the database.
pub struct Seeded {
    pub site: Site,
    pub room: Room,
    pub participant: Participant,
    pub message: MessageId,
    pub ban: BanId,
    pub report: ReportId,
    pub held: HeldMessageId,
    pub filter: WordFilterId,
}

pub async fn seed(app: &TestApp, nick: &str, text: &str) -> Seeded {
    let site = app.site(&[ORIGIN]).await;
    let (site_id, nick, text) = (site.id, nick.to_owned(), text.to_owned());
    let (room, participant, message, ban, held, filter, report) = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let room = Room::create(conn, site_id, "lobby")?;
            let p = Participant::create_guest(conn, site_id, &nick, Some("198.51.100.7"))?;
            Participant::record_ip(conn, p.id, "198.51.100.7")?;
            let message = Message::insert(
                conn,
                &NewMessage {
                    site_id,
                    room_id: room.id,
                    seq: 1,
                    participant_id: p.id,
                    cid: Some("c1".into()),
                    body: text.clone(),
                    ip: Some("198.51.100.7".into()),
                    created_at: chatctl::db::now_ms(),
                },
            )?;
            Room::set_last_seq(conn, room.id, 1)?;
            let ban = Ban::create(
                conn,
                &NewBan {
                    site_id: Some(site_id),
                    participant_id: None,
                    cidr: Some("203.0.113.0/24".into()),
                    reason: format!("ban of {nick}"),
                    created_by: None,
                    created_at: chatctl::db::now_ms(),
                    expires_at: None,
                },
            )?;
            HeldMessage::hold(
                conn,
                site_id,
                room.id,
                p.id,
                "h1",
                &format!("held {text}"),
                None,
            )?;
            let held = HeldMessage::queue(conn, Some(&[site_id]), 10)?[0].0.id;
            let filter = WordFilter::create(
                conn,
                site_id,
                FilterKind::Word,
                "darn",
                FilterAction::Mask,
                None,
            )?;
            Report::file(conn, site_id, message, p.id, &format!("report of {nick}"))?;
            let report = Report::list(conn, Some(&[site_id]), true, 10)?[0].0.id;
            Ok((room, p, message, ban.id, held, filter.id, report))
        })
        .await
        .unwrap();
    Seeded {
        site,
        room,
        participant,
        message,
        ban,
        report,
        held,
        filter,
    }
}

/// Site A and site B, each seeded, and a moderator of A logged in.
async fn moderator_of_a() -> (TestApp, Seeded, Seeded, Panel) {
    let app = TestApp::spawn().await;
    let a = seed(&app, "alice_a", "hello from A").await;
    let b = seed(&app, "bob_b", "secret of B").await;
    account(&app, "mod@example.com", Role::Moderator, &[a.site.id]).await;
    let m = Panel::login(&app, "mod@example.com").await;
    (app, a, b, m)
}

#[tokio::test]
async fn a_moderator_of_site_a_gets_nothing_of_site_b_by_its_url() {
    let (_app, a, b, mut m) = moderator_of_a().await;
    // Their own site works.
    for path in [
        format!("/admin/sites/{}", a.site.id),
        format!("/admin/participants/{}", a.participant.id),
        format!("/admin/messages?site={}", a.site.id),
    ] {
        assert_eq!(m.get(&path).await.status, StatusCode::OK, "{path}");
    }

    let (s, r, p) = (b.site.id, b.room.id, b.participant.id);
    let gets = [
        format!("/admin/sites/{s}"),
        format!("/admin/sites/{s}/rooms"),
        format!("/admin/sites/{s}/filters"),
        format!("/admin/sites/{s}/rotate"),
        format!("/admin/messages?site={s}"),
        format!("/admin/messages?room={r}"),
        format!("/admin/messages?participant={p}"),
        format!("/admin/messages/export.csv?site={s}"),
        format!("/admin/messages/export.json?participant={p}"),
        format!("/admin/participants/{p}"),
        format!("/admin/audit?site={s}"),
        format!("/admin/reports?site={s}"),
    ];
    for path in &gets {
        let page = m.get(path).await;
        assert!(
            matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "GET {path} gave {}",
            page.status
        );
        assert!(
            !page.body.contains("bob_b") && !page.body.contains("secret of B"),
            "GET {path} leaks"
        );
    }
    assert_eq!(m.get("/admin/accounts").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_moderator_of_site_a_sees_only_site_a_in_lists() {
    let (app, _a, b, mut m) = moderator_of_a().await;
    let s = b.site.id;
    // A global ban naming B's participant stays invisible to A's moderator.
    let bob = b.participant.id;
    app.db
        .run(move |conn| {
            Ban::create(
                conn,
                &NewBan {
                    site_id: None,
                    participant_id: Some(bob),
                    cidr: None,
                    reason: "global ban of bob_b".into(),
                    created_by: None,
                    created_at: chatctl::db::now_ms(),
                    expires_at: None,
                },
            )
        })
        .await
        .unwrap();

    // Lists only show site A.
    for path in [
        "/admin",
        "/admin/sites",
        "/admin/messages",
        "/admin/participants?q=b",
        "/admin/bans",
        "/admin/reports",
        "/admin/audit",
    ] {
        let page = m.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for leak in ["bob_b", "secret of B", "ban of bob_b", "report of bob_b"] {
            assert!(!page.body.contains(leak), "{path} shows {leak}");
        }
    }
    let json = m.get("/admin/dashboard.json").await;
    assert!(
        !json.body.contains(&format!("\"id\":{s},")),
        "{}",
        json.body
    );
    let export = m.get("/admin/messages/export.json").await;
    assert!(export.body.contains("hello from A") && !export.body.contains("secret of B"));
}

/// Every form of the panel, aimed at site B's things: the path, then the
/// fields as a query string. `{s}`, `{r}`, `{p}`, `{filter}`, `{message}`,
/// `{ban}`, `{report}` and `{held}` are B's; `{a}` is site A.
const FORMS_ON_B: &[&str] = &[
    "/admin/sites/{s}/settings name=pwned",
    "/admin/sites/{s}/origins origin=https://evil.example",
    "/admin/sites/{s}/origins/remove origin={origin}",
    "/admin/sites/{s}/rotate confirm={name}",
    "/admin/sites/{s}/enabled enabled=false",
    "/admin/sites/{s}/rooms name=new-room",
    "/admin/rooms/{r} slow_mode_secs=30&locked=on",
    "/admin/sites/{s}/filters kind=word&pattern=x&action=block",
    "/admin/filters/{filter}/delete",
    "/admin/messages/{message}/delete",
    "/admin/participants/{p}/ban reason=x&unit=permanent",
    "/admin/participants/{p}/mute minutes=10",
    "/admin/participants/{p}/unmute",
    "/admin/participants/{p}/delete-messages",
    "/admin/bans scope={s}&cidr=192.0.2.1&reason=x",
    "/admin/bans scope={a}&participant={p}&reason=x",
    "/admin/bans scope=all&cidr=192.0.2.1&reason=x",
    "/admin/bans/{ban}/revoke",
    "/admin/reports/{report}/dismiss",
    "/admin/reports/{report}/delete",
    "/admin/reports/{report}/ban",
    "/admin/held/{held}/approve",
    "/admin/held/{held}/reject",
    "/admin/accounts email=x@example.com&name=X&role=owner&password=Long+enough+123",
    "/admin/sites name=mine",
];

/// One of [`FORMS_ON_B`] with the ids filled in: its path and fields.
fn aimed_at_b(form: &str, a: &Seeded, b: &Seeded) -> (String, Vec<(String, String)>) {
    let filled = [
        ("{s}", b.site.id.to_string()),
        ("{r}", b.room.id.to_string()),
        ("{p}", b.participant.id.to_string()),
        ("{filter}", b.filter.to_string()),
        ("{message}", b.message.to_string()),
        ("{ban}", b.ban.to_string()),
        ("{report}", b.report.to_string()),
        ("{held}", b.held.to_string()),
        ("{a}", a.site.id.to_string()),
        ("{origin}", ORIGIN.to_owned()),
        ("{name}", b.site.name.replace(' ', "+")),
    ]
    .iter()
    .fold(form.to_owned(), |form, (name, value)| {
        form.replace(name, value)
    });
    let (path, fields) = filled.split_once(' ').unwrap_or((filled.as_str(), ""));
    let fields = url::form_urlencoded::parse(fields.as_bytes())
        .into_owned()
        .collect();
    (path.to_owned(), fields)
}

#[tokio::test]
async fn a_moderator_of_site_a_cannot_act_on_site_b() {
    let (app, a, b, m) = moderator_of_a().await;
    let (s, p) = (b.site.id, b.participant.id);
    for form in FORMS_ON_B {
        let (path, fields) = aimed_at_b(form, &a, &b);
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let page = m.post(&path, &fields).await;
        let refused = matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN)
            // A rejected form redirects back with the reason; it must not have acted.
            || (page.status == StatusCode::SEE_OTHER && !page.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains("ok%7C")));
        assert!(
            refused,
            "POST {path} gave {} {:?}",
            page.status,
            page.headers.get("set-cookie")
        );
    }

    // Nothing on site B changed.
    let (site_id, msg, ban, report, held, filter, part) =
        (s, b.message, b.ban, b.report, b.held, b.filter, p);
    let state = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let site = Site::find(conn, site_id)?;
            Ok((
                site.name.clone(),
                site.enabled,
                site.origins(conn)?,
                Message::find(conn, msg)?.unwrap().deleted_at,
                Ban::find(conn, ban)?.unwrap().revoked_at,
                Report::find(conn, report)?.unwrap().0.resolved_at,
                HeldMessage::find(conn, held)?.is_some(),
                WordFilter::find(conn, filter)?.is_some(),
                Ban::for_participant(conn, part)?.len(),
                Mute::for_participant(conn, part)?.len(),
                Room::list_for_site(conn, site_id)?.len(),
                AdminUser::count(conn)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(state.0, "Test site");
    assert!(state.1);
    assert_eq!(state.2, vec![ORIGIN.to_owned()]);
    assert_eq!((state.3, state.4, state.5), (None, None, None));
    assert!(state.6 && state.7);
    assert_eq!(
        (state.8, state.9, state.10, state.11),
        (0, 0, 1, 1),
        "no ban or mute of B's participant, B's one room, one admin"
    );
}

/// Two seeded sites (A, B), and an admin and an owner of everything.
async fn two_sites_with_an_admin_and_an_owner() -> (TestApp, Seeded, Seeded) {
    let app = TestApp::spawn().await;
    let a = seed(&app, "alice_a", "hello from A").await;
    let b = seed(&app, "bob_b", "hello from B").await;
    account(&app, "admin@example.com", Role::Admin, &[]).await;
    account(&app, "owner@example.com", Role::Owner, &[]).await;
    (app, a, b)
}

#[tokio::test]
async fn admins_see_every_site_but_cannot_manage_accounts() {
    let (app, a, b) = two_sites_with_an_admin_and_an_owner().await;
    let mut admin = Panel::login(&app, "admin@example.com").await;
    for site in [a.site.id, b.site.id] {
        assert_eq!(
            admin.get(&format!("/admin/sites/{site}")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        admin.get("/admin/accounts").await.status,
        StatusCode::FORBIDDEN
    );
    let create = admin
        .post(
            "/admin/accounts",
            &[
                ("email", "x@example.com"),
                ("name", "X"),
                ("role", "owner"),
                ("password", "Long enough 123"),
            ],
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admins_see_the_reports_of_every_site_each_named() {
    let (app, _a, b) = two_sites_with_an_admin_and_an_owner().await;
    let mut admin = Panel::login(&app, "admin@example.com").await;
    // Reports from both sites, each named; the site filter narrows them.
    let b_id = b.site.id;
    app.db
        .run(move |conn| {
            chatctl::db::models::site::SiteSettings {
                name: Some("Site B".into()),
                ..Default::default()
            }
            .apply(conn, b_id)
        })
        .await
        .unwrap();
    let all = admin.get("/admin/reports").await;
    assert!(all.body.contains("report of alice_a") && all.body.contains("report of bob_b"));
    assert!(all.body.contains("(Site B)"), "rows name their site");
    let only_b = admin
        .get(&format!("/admin/reports?site={}", b.site.id))
        .await;
    assert!(only_b.body.contains("report of bob_b") && !only_b.body.contains("report of alice_a"));
    assert!(only_b.body.contains(&format!(
        "/admin/reports?state=resolved&amp;site={}",
        b.site.id
    )));
    assert_eq!(
        admin.get("/admin/reports?site=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        admin.get("/admin/reports?site=999999").await.status,
        StatusCode::OK,
        "an unknown site is simply empty for admins"
    );
}

#[tokio::test]
async fn owners_make_accounts_that_work_until_disabled() {
    let (app, a, b) = two_sites_with_an_admin_and_an_owner().await;
    let mut owner = Panel::login(&app, "owner@example.com").await;
    assert_eq!(owner.get("/admin/accounts").await.status, StatusCode::OK);
    let site = a.site.id.to_string();
    let page = owner
        .post_and_follow(
            "/admin/accounts",
            &[
                ("email", "newmod@example.com"),
                ("name", "New Mod"),
                ("role", "moderator"),
                ("sites", &site),
                ("password", "Long enough 123"),
            ],
        )
        .await;
    assert!(
        page.body.contains("Account newmod@example.com created."),
        "{}",
        page.body
    );
    let mut newmod = Panel::new(&app);
    assert_eq!(
        newmod
            .try_login("newmod@example.com", "Long enough 123")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        newmod
            .get(&format!("/admin/sites/{}", b.site.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        newmod
            .get(&format!("/admin/sites/{}", a.site.id))
            .await
            .status,
        StatusCode::OK
    );

    // Disabling ends their session at once.
    let id = app
        .db
        .run(|conn| AdminUser::find_by_email(conn, "newmod@example.com"))
        .await
        .unwrap()
        .unwrap()
        .id;
    owner.get("/admin/accounts").await;
    owner
        .post_and_follow(&format!("/admin/accounts/{id}/disable"), &[])
        .await;
    assert_eq!(newmod.get("/admin").await.status, StatusCode::SEE_OTHER);
    let again = newmod
        .try_login("newmod@example.com", "Long enough 123")
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
}
