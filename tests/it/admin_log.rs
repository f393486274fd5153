//! The message log: filters, keyset pagination, streamed CSV and JSON export.

use std::collections::HashSet;

use chatctl::db::models::*;
use reqwest::StatusCode;

use crate::support::panel::*;
use crate::support::*;

const DAY: i64 = 86_400_000;
/// 2026-01-10 00:00 UTC.
const BASE: i64 = 1_768_003_200_000;

/// Undoes Handlebars' attribute escaping for the few entities links contain.
fn unescape(s: &str) -> String {
    s.replace("&#x3D;", "=")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// Message ids on a log page, in order (from their delete forms).
fn ids(html: &str) -> Vec<i64> {
    html.match_indices("action=\"/admin/messages/")
        .filter_map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('/')?].parse().ok()
        })
        .collect()
}

fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(unescape(&html[start..end]))
}

struct Fixture {
    site: Site,
    rooms: [Room; 2],
    people: [Participant; 2],
}

/// 130 messages over 13 days, alternating rooms and authors; every tenth
/// shares its timestamp with the one before (keyset ties).
async fn fixture(app: &TestApp) -> Fixture {
    let site = app.site(&[ORIGIN]).await;
    let id = site.id;
    let (rooms, people) = app
        .db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            let rooms = [
                Room::create(conn, id, "lobby")?,
                Room::create(conn, id, "help")?,
            ];
            let people = [
                Participant::create_guest(conn, id, "Alice", Some("192.0.2.1"))?,
                Participant::create_guest(conn, id, "Bob", Some("192.0.2.2"))?,
            ];
            let mut seqs = [0i64; 2];
            for i in 0..130i64 {
                let r = (i % 2) as usize;
                seqs[r] += 1;
                let at = BASE
                    + (i / 10) * DAY
                    + if i % 10 == 9 {
                        (i - 1) % 10 * 1000
                    } else {
                        i % 10 * 1000
                    };
                let body = match i {
                    7 => "100% Sure, with \"quotes\", commas\nand a newline".to_owned(),
                    8 => "=HYPERLINK(\"http://evil\")".to_owned(),
                    _ => format!("message {i} {}", if i % 3 == 0 { "NEEDLE" } else { "hay" }),
                };
                Message::insert(
                    conn,
                    &NewMessage {
                        site_id: id,
                        room_id: rooms[r].id,
                        seq: seqs[r],
                        participant_id: people[(i % 4 / 2) as usize].id,
                        cid: Some(format!("c{i}")),
                        body,
                        ip: Some("192.0.2.1".into()),
                        created_at: at,
                    },
                )?;
            }
            for (r, room) in rooms.iter().enumerate() {
                Room::set_last_seq(conn, room.id, seqs[r])?;
            }
            Ok((rooms, people))
        })
        .await
        .unwrap();
    Fixture {
        site,
        rooms,
        people,
    }
}

/// Walks every page of a filtered log; returns all ids in order.
async fn walk(panel: &mut Panel, first: &str) -> Vec<i64> {
    let mut all = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let page = panel.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let found = ids(&page.body);
        assert!(found.len() <= 50);
        all.extend(found);
        next = next_link(&page.body);
        pages += 1;
        assert!(pages < 20);
    }
    all
}

async fn expected(app: &TestApp, filter: message_log::LogFilter) -> Vec<i64> {
    app.db
        .run(move |conn| message_log::page(conn, &filter, None, 10_000))
        .await
        .unwrap()
        .iter()
        .map(|(m, _, _)| m.id.0)
        .collect()
}

#[tokio::test]
async fn the_log_pages_through_everything_newest_first_without_gaps() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let mut panel = Panel::owner(&app).await;

    let all = walk(&mut panel, "/admin/messages").await;
    assert_eq!(all.len(), 130);
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        130,
        "no duplicates"
    );
    let everything = expected(&app, message_log::LogFilter::default()).await;
    assert_eq!(all, everything, "newest first, ties broken by id");

    // Room, participant, text (any case, % literal) and dates, combined with paging.
    let room = f.rooms[1].id;
    let by_room = walk(
        &mut panel,
        &format!("/admin/messages?site={}&room={room}", f.site.id),
    )
    .await;
    assert_eq!(by_room.len(), 65);
    let who = f.people[0].id;
    let by_author = walk(&mut panel, &format!("/admin/messages?participant={who}")).await;
    assert_eq!(
        by_author,
        expected(
            &app,
            message_log::LogFilter {
                participant: Some(who),
                ..Default::default()
            }
        )
        .await
    );
    let needle = walk(&mut panel, "/admin/messages?q=needle").await;
    assert_eq!(needle.len(), 44);
    assert_eq!(walk(&mut panel, "/admin/messages?q=100%25").await.len(), 1);
    assert_eq!(
        walk(&mut panel, "/admin/messages?q=_").await.len(),
        0,
        "underscore is literal"
    );
    let dated = walk(&mut panel, "/admin/messages?from=2026-01-12&to=2026-01-13").await;
    assert_eq!(dated.len(), 20, "two whole days");
    let page = panel.get("/admin/messages?from=someday").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("is not a date"));

    // Each message links to its participant.
    let page = panel
        .get(&format!("/admin/messages?participant={who}"))
        .await;
    assert!(page
        .body
        .contains(&format!("href=\"/admin/participants/{who}\"")));
}

#[tokio::test]
async fn exports_stream_the_filtered_log_as_csv_and_json() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let mut panel = Panel::owner(&app).await;

    let csv = panel.get("/admin/messages/export.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("messages.csv"));
    assert!(
        csv.headers.get("content-length").is_none(),
        "streamed, not built in memory"
    );
    assert!(csv
        .body
        .starts_with("id,created_at,site_id,room,seq,participant_id,nick,ip,deleted_at,text\r\n"));
    // 130 rows plus the header; the quoted newline adds one physical line.
    assert_eq!(csv.body.matches("\r\n").count(), 131);
    assert!(csv
        .body
        .contains("\"100% Sure, with \"\"quotes\"\", commas\nand a newline\""));
    assert!(
        csv.body.contains(",\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "formulas are defused"
    );
    assert!(csv.body.contains("2026-01-10T00:00:00Z"));

    let json = panel
        .get(&format!(
            "/admin/messages/export.json?room={}&q=NEEDLE",
            f.rooms[0].id
        ))
        .await;
    assert_eq!(json.status, StatusCode::OK);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.body).expect("valid JSON array");
    assert_eq!(rows.len(), 22);
    assert!(rows
        .iter()
        .all(|r| r["room"] == "lobby" && r["text"].as_str().unwrap().contains("NEEDLE")));
    assert!(
        rows.windows(2)
            .all(|w| w[0]["created_at"].as_str() >= w[1]["created_at"].as_str()),
        "newest first"
    );
    // One time format in JSON output: RFC 3339 UTC strings.
    let at = rows[0]["created_at"].as_str().unwrap();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );
    assert!(rows[0].get("ts").is_none() && rows[0]["deleted_at"].is_null());
    assert_eq!(rows[0]["text"], "message 126 NEEDLE");
    assert_eq!(rows[0]["author"]["nick"], "Bob");

    let empty = panel
        .get("/admin/messages/export.json?q=nothing-like-this")
        .await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&empty.body).unwrap();
    assert!(rows.is_empty());
    let audit = panel.get("/admin/audit?action=messages.export").await;
    assert!(audit.body.contains("messages.export"));
}
