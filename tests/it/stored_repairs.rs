//! Data stored before recent validation rules is brought in line with them
//! when the database is opened: bans of IPv4 addresses in IPv6 form
//! (`::ffff:1.2.3.4/128`), which matched nobody once visitors' addresses were
//! compared in IPv4 form, and rooms named with `.` or `..` parts, which
//! nobody could join any more (renamed, with their messages).

use std::net::IpAddr;

use chatctl::db::models::audit::AuditRow;
use chatctl::db::models::{Ban, NewBan, Room, Site, SiteId};
use chatctl::db::schema::{audit_log, bans, rooms};
use chatctl::db::{DbConn, DbError};
use diesel::prelude::*;
use serde_json::json;

use crate::support::api::Api;
use crate::support::cli::{chatctl, stdout};
use crate::support::*;

fn old_ban(conn: &mut DbConn, site: SiteId, cidr: &str, revoked: bool) -> Result<Ban, DbError> {
    let ban = Ban::create(
        conn,
        &NewBan {
            site_id: Some(site),
            participant_id: None,
            cidr: Some(cidr.to_owned()),
            reason: format!("old ban of {cidr}"),
            created_by: None,
            created_at: chatctl::db::now_ms(),
            expires_at: None,
        },
    )?;
    if revoked {
        Ban::revoke(conn, ban.id)?;
    }
    Ok(ban)
}

/// Gives a room a name it could have had before dot segments were refused.
fn rename(conn: &mut DbConn, site: SiteId, from: &str, to: &str) -> Result<(), DbError> {
    chatctl::with_backend!(conn, c => diesel::update(rooms::table)
        .filter(rooms::site_id.eq(site))
        .filter(rooms::name.eq(from))
        .set(rooms::name.eq(to))
        .execute(c))?;
    Ok(())
}

fn cidrs(conn: &mut DbConn) -> Result<Vec<Option<String>>, DbError> {
    chatctl::with_backend!(conn, c => bans::table.order(bans::id).select(bans::cidr).load(c))
}

fn room_names(conn: &mut DbConn, site: SiteId) -> Result<Vec<String>, DbError> {
    Ok(Room::list_for_site(conn, site)?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

#[tokio::test]
async fn old_bans_and_dot_segment_rooms_are_repaired_when_the_server_starts() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    store_what_older_rules_let_in(&app, &api, site.id).await;
    let db = app.stop().await;

    // An upgraded server starts on this database.
    let app = TestApp::builder().database(db).spawn().await;
    bans_are_in_ipv4_form_and_match_again(&app, site.id).await;
    rooms_are_renamed_with_their_messages(&app, &site, &Api::new(&app, api.key.as_deref())).await;
    each_rename_is_audited_by_the_server(&app).await;
    the_command_line_repairs_what_came_since(&app, &site).await;
}

/// Bans and room names as servers before the rules stored them: rooms
/// `before` (with two messages, then renamed `news/../archive`) and `_`,
/// rooms named with dot segments, and bans of IPv4 addresses in IPv6 form.
async fn store_what_older_rules_let_in(app: &TestApp, api: &Api, site_id: SiteId) {
    for room in ["before", "_"] {
        api.post("/rooms", json!({"name": room})).await;
    }
    for (cid, text) in [("m1", "first"), ("m2", "second")] {
        let posted = api
            .post("/rooms/before/messages", json!({"cid": cid, "text": text}))
            .await;
        assert!(posted.status.is_success(), "{}", posted.body);
    }
    app.db
        .run(move |conn| -> Result<(), DbError> {
            old_ban(conn, site_id, "::ffff:203.0.113.7/128", false)?;
            old_ban(conn, site_id, "::ffff:198.51.100.0/120", false)?;
            old_ban(conn, site_id, "::c000:207/128", false)?; // ::192.0.2.7, the old compatible form
            old_ban(conn, site_id, "::ffff:0:0/96", false)?; // every IPv4 address: too wide
            old_ban(conn, site_id, "::ffff:192.0.2.99/128", true)?;
            old_ban(conn, site_id, "2001:db8::/32", false)?;
            old_ban(conn, site_id, "192.0.2.200/32", false)?;
            rename(conn, site_id, "before", "news/../archive")?;
            for name in [".", "..", "x/.", "./y"] {
                Room::create(conn, site_id, name)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn bans_are_in_ipv4_form_and_match_again(app: &TestApp, site_id: SiteId) {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let (stored, bans_found) = app
        .db
        .run(move |conn| -> Result<_, DbError> {
            let found: Vec<bool> = [
                "203.0.113.7",
                "198.51.100.42",
                "192.0.2.7",
                "192.0.2.99",
                "10.1.2.3",
            ]
            .iter()
            .map(|a| Ban::find_active(conn, site_id, None, Some(ip(a))).map(|b| b.is_some()))
            .collect::<Result<_, _>>()?;
            Ok((cidrs(conn)?, found))
        })
        .await
        .unwrap();
    let stored: Vec<&str> = stored.iter().map(|c| c.as_deref().unwrap()).collect();
    assert_eq!(
        stored,
        [
            "203.0.113.7/32",
            "198.51.100.0/24",
            "192.0.2.7/32",
            "::ffff:0:0/96",
            "192.0.2.99/32",
            "2001:db8::/32",
            "192.0.2.200/32"
        ]
    );
    // The old bans match again; a revoked one stays revoked; nothing else is banned.
    assert_eq!(bans_found, [true, true, true, false, false]);
}

async fn rooms_are_renamed_with_their_messages(app: &TestApp, site: &Site, api: &Api) {
    let site_id = site.id;
    let mut names = app
        .db
        .run(move |conn| room_names(conn, site_id))
        .await
        .unwrap();
    names.sort();
    let mut expected = vec!["_", "_-2", "__", "_/y", "news/__/archive", "x/_"];
    expected.sort();
    assert_eq!(names, expected);
    let history = api_history(api, "news%2F__%2Farchive").await;
    assert_eq!(
        history,
        ["first", "second"],
        "the messages went with the room"
    );
    let (mut guest, _) = app.guest(&site.public_key, "reader").await;
    assert_eq!(
        texts(&guest.join("news/__/archive", None).await),
        ["first", "second"]
    );
}

async fn each_rename_is_audited_by_the_server(app: &TestApp) {
    let audit = app
        .db
        .run(move |conn| {
            chatctl::with_backend!(conn, c => audit_log::table
                .filter(audit_log::details.like("renamed %"))
                .select(AuditRow::as_select())
                .order(audit_log::id)
                .load(c))
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 5, "{audit:?}");
    assert!(audit.iter().all(|row| row.actor_name(None) == "server"));
    assert!(audit.iter().any(|row| row
        .details
        .contains("\"news/../archive\" to \"news/__/archive\"")));
}

/// Done once: `migrate` finds nothing more to repair, then reports what it
/// repairs itself; any other command says so on stderr, apart from its own
/// output.
async fn the_command_line_repairs_what_came_since(app: &TestApp, site: &Site) {
    let site_id = site.id;
    let out = stdout(chatctl(&app.database).arg("migrate"));
    assert!(
        out.ends_with("already up to date\n") && !out.contains("repaired"),
        "{out}"
    );
    app.db
        .run(move |conn| Room::create(conn, site_id, "..").map(drop))
        .await
        .unwrap();
    let out = stdout(chatctl(&app.database).arg("migrate"));
    assert!(
        out.contains("repaired room \"..\" of site") && out.contains("renamed \"__-2\""),
        "{out}"
    );
    app.db
        .run(move |conn| Room::create(conn, site_id, "./z").map(drop))
        .await
        .unwrap();
    let out = chatctl(&app.database)
        .args(["site", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("note: repaired room \"./z\" of site")
            && stderr.contains("renamed \"_/z\""),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&site.public_key));
}

async fn api_history(api: &Api, room: &str) -> Vec<String> {
    let answer = api.get(&format!("/rooms/{room}/messages")).await;
    assert!(answer.status.is_success(), "{}", answer.body);
    answer.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}
