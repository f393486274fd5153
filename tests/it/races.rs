//! Writes that lose a race to an identical write (two visitors opening the
//! same new room, a report or held message sent twice) leave the rest of the
//! caller's transaction working. On PostgreSQL a unique violation aborts the
//! whole transaction, so catching it and reading the winner's row failed with
//! "current transaction is aborted": found by the fan-out benchmark, where a
//! few of 1,000 receivers joining at once were refused `storage_unavailable`.

use chatctl::db::models::{HeldMessage, Message, Report, Room};
use chatctl::db::DbError;
use futures_util::future::join_all;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_write_that_loses_a_race_leaves_the_transaction_usable() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "lobby").await;
    alice.say("lobby", "c1", "hello").await;
    let alice_id = app.participant_named("alice").await.id;
    let lobby = app.room(&site, "lobby").await;

    let site_id = site.id;
    let (first, second, reports, held) = app
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_, DbError> {
                // The second open meets the first one's row, as a visitor
                // who lost the race to another does.
                let first = Room::open_for_visitor(conn, site_id, "launch")?;
                let second = Room::open_for_visitor(conn, site_id, "launch")?;
                let message = Message::latest(conn, lobby.id, 1)?.remove(0).0.id;
                let reports = [
                    Report::file(conn, site_id, message, alice_id, "spam")?.is_some(),
                    Report::file(conn, site_id, message, alice_id, "spam")?.is_some(),
                ];
                for _ in 0..2 {
                    HeldMessage::hold(conn, site_id, lobby.id, alice_id, "h1", "wait", None)?;
                }
                let held = HeldMessage::count(conn, site_id)?;
                Ok((first, second, reports, held))
            })
        })
        .await
        .expect("the transaction commits");

    assert!(first.1, "the first open creates the room");
    assert!(!second.1, "the second open finds it");
    assert_eq!(first.0.id, second.0.id);
    assert_eq!(
        reports,
        [true, false],
        "the same report twice is filed once"
    );
    assert_eq!(held, 1, "a held message sent twice is held once");
    // Committed, not rolled back behind the caller's back.
    assert_eq!(app.room(&site, "launch").await.id, first.0.id);
    assert!(app.first_open_report().await > 0);
}

#[tokio::test]
async fn many_visitors_opening_a_new_room_at_once_all_get_in() {
    let app = TestApp::builder()
        .limits(|l| l.new_guests_per_ip_per_minute = 100)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut guests = Vec::new();
    for i in 0..40 {
        guests.push(app.guest(&site.public_key, &format!("guest{i}")).await.0);
    }
    let welcomes = join_all(guests.iter_mut().map(|guest| async move {
        guest.send(json!({"type": "join", "room": "launch"})).await;
        guest.recv_type_any(&["welcome", "error"]).await
    }))
    .await;
    for frame in &welcomes {
        assert_eq!(frame["type"], "welcome", "a visitor was refused: {frame}");
    }
    let seqs: Vec<_> = welcomes.iter().map(|w| w["seq"].as_i64()).collect();
    assert!(seqs.iter().all(|s| *s == Some(0)), "one new room: {seqs:?}");
}
