//! Races on the site's quota of rooms in use: a site with one place left,
//! the ways a room comes into use, and what a round of two of them at once
//! must come to (one gets in, nothing else is left behind).

use chatctl::db::models::{Room, Site, SiteId};
use chatctl::db::{now_ms, DbError};
use reqwest::StatusCode;
use serde_json::json;

use super::api::{Answer, Api};
use super::{Client, SiteSettings, TestApp};

/// The quota of a race's site.
pub const QUOTA: i64 = 5;
/// Rooms an admin created (in use for good): one place is left.
const IN_USE: [&str; 4] = ["a1", "a2", "a3", "a4"];

/// A way into a room not in use, tried by one side of a race ("a" or "b",
/// each with its own rooms).
#[derive(Debug, Clone, Copy)]
pub enum Way {
    /// A WebSocket `join` of a room that does not exist: it opens it.
    JoinNew,
    /// A WebSocket `join` of `quiet-<side>`: a visitor opened it, nobody is
    /// in it and nobody wrote in it.
    JoinQuiet,
    /// The server API creating `made-<side>`.
    ApiCreate,
    /// The server API posting the first message into `quiet-<side>`.
    ApiFirst,
}

impl Way {
    /// The room this way brings into use on side `side`.
    pub fn room(self, side: &str) -> String {
        match self {
            Way::JoinNew => format!("new-{side}"),
            Way::JoinQuiet | Way::ApiFirst => format!("quiet-{side}"),
            Way::ApiCreate => format!("made-{side}"),
        }
    }

    /// Tries this way; true when it got in, false when it was refused with
    /// `too_many_rooms` (anything else fails the test).
    pub async fn attempt(self, side: &str, guest: &mut Client, api: &Api) -> bool {
        let room = self.room(side);
        match self {
            Way::JoinNew | Way::JoinQuiet => {
                guest.send(json!({"type": "join", "room": room})).await;
                let reply = guest.recv_type_any(&["welcome", "error"]).await;
                if reply["type"] == "welcome" {
                    return true;
                }
                assert_eq!(reply["code"], "too_many_rooms", "{self:?}: {reply}");
                false
            }
            Way::ApiCreate => got_in(self, api.post("/rooms", json!({"name": room})).await),
            Way::ApiFirst => {
                let first = json!({"cid": format!("first-{side}"), "text": "first"});
                got_in(
                    self,
                    api.post(&format!("/rooms/{room}/messages"), first).await,
                )
            }
        }
    }
}

fn got_in(way: Way, answer: Answer) -> bool {
    if answer.status == StatusCode::CREATED {
        return true;
    }
    assert_eq!(
        (answer.status, answer.body["error"].clone()),
        (StatusCode::CONFLICT, json!("too_many_rooms")),
        "{way:?}: {}",
        answer.body
    );
    false
}

/// A site with a quota of [`QUOTA`] and one place left: four rooms an admin
/// created, and `quiet-a` and `quiet-b`, opened by visitors and left (not
/// in use). Made through `app`'s database, which other instances share.
pub async fn site_with_one_place(app: &TestApp) -> Site {
    let site = app
        .new_site()
        .settings(SiteSettings {
            max_rooms: Some(QUOTA as i32),
            ..Default::default()
        })
        .create()
        .await;
    let id = site.id;
    app.db
        .run(move |conn| {
            for name in IN_USE {
                Room::create(conn, id, name)?;
            }
            for name in ["quiet-a", "quiet-b"] {
                Room::open_for_visitor(conn, id, name)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    site
}

/// After a round of `ways` (side a, side b) with `outcomes`: exactly one got
/// in, the site has exactly [`QUOTA`] rooms in use, and the one refused left
/// no room behind.
pub async fn check_round(
    app: &TestApp,
    site: SiteId,
    ways: [Way; 2],
    outcomes: [bool; 2],
    what: &str,
) {
    assert_eq!(
        outcomes.iter().filter(|got_in| **got_in).count(),
        1,
        "{what}: one of {ways:?} gets the last place, got {outcomes:?}"
    );
    let (in_use, mut names) = app
        .db
        .run(move |conn| {
            let in_use = Room::count_in_use(conn, site, now_ms(), None)?;
            let rooms = Room::list_for_site(conn, site)?;
            Ok::<_, DbError>((
                in_use,
                rooms.into_iter().map(|r| r.name).collect::<Vec<_>>(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(in_use, QUOTA, "{what}: {ways:?} {outcomes:?}");
    let mut expected: Vec<String> = IN_USE.iter().map(|n| n.to_string()).collect();
    expected.extend(["quiet-a".to_owned(), "quiet-b".to_owned()]);
    for ((way, side), got_in) in ways.iter().zip(["a", "b"]).zip(outcomes) {
        if got_in && matches!(way, Way::JoinNew | Way::ApiCreate) {
            expected.push(way.room(side));
        }
    }
    expected.sort();
    names.sort();
    assert_eq!(
        names, expected,
        "{what}: {ways:?} {outcomes:?}: rooms left behind"
    );
}
