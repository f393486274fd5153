//! The hub's side of the recent history: filled by one join, followed by the
//! batches the room gets, dropped or held back whenever it could be wrong.

use std::sync::Arc;

use super::*;
use crate::chat::hub::tests::who;
use crate::chat::hub::{ConnHandle, ConnQueue, Hub, SeqRange};
use crate::chat::protocol::MessageView;
use crate::chat::recent::Row;
use crate::db::models::SiteId;

const ROOM: RoomId = RoomId(1);

fn view(seq: i64) -> Arc<MessageView> {
    Arc::new(MessageView::new(
        seq,
        seq,
        who(1),
        format!("m{seq}"),
        1_000_000 + seq,
    ))
}

/// What the database holds of a room with messages `1..=n`.
fn loaded(n: i64) -> Loaded {
    Loaded {
        upto: n,
        rows: (1..=n)
            .map(|seq| Row {
                seq,
                created_at: 1_000_000 + seq,
                message: Some(view(seq)),
            })
            .collect(),
        whole: true,
        floor_at: None,
        older_visible: false,
        deletions: Vec::new(),
        deletions_floor: i64::MIN,
    }
}

fn hub(bytes: usize) -> Arc<Hub> {
    Hub::with_settings(
        std::time::Duration::ZERO,
        RecentSize {
            messages: 100,
            bytes,
        },
    )
}

/// Two connections in `room`, which had `committed` messages.
fn two_in(hub: &Hub, room: RoomId, committed: i64) -> Vec<(ConnHandle, ConnQueue)> {
    let ip = "127.0.0.1".parse().unwrap();
    (1..=2)
        .map(|id| {
            let (handle, queue) = hub.connect(SiteId(1), ip, 1 << 20);
            hub.join(room, "r", &handle, &who(id), committed);
            (handle, queue)
        })
        .collect()
}

fn fill(hub: &Arc<Hub>, room: RoomId, n: i64) {
    let Lookup::Fill(ticket) = hub.recent_lookup(room, None, 2, 10) else {
        panic!("a fill is due");
    };
    let page = hub.recent_fill(ticket, loaded(n), None, 2, 10).unwrap();
    assert_eq!(page.seq, n);
}

fn hit(hub: &Arc<Hub>, since: Option<i64>) -> Vec<i64> {
    match hub.recent_lookup(ROOM, since, 2, 10) {
        Lookup::Hit(page) => page.messages.iter().map(|m| m.seq).collect(),
        _ => panic!("expected an answer from memory"),
    }
}

fn is_database(lookup: Lookup) -> bool {
    matches!(lookup, Lookup::Database)
}

fn batch(hub: &Hub, after: i64, upto: i64) -> bool {
    let frames: Vec<BatchFrame> = (after + 1..=upto)
        .map(|seq| BatchFrame {
            text: Arc::from(format!("m{seq}")),
            seq,
            view: Some(view(seq)),
            from: None,
        })
        .collect();
    hub.publish_batch(ROOM, SeqRange { after, upto }, &frames, |_, _| None)
        .is_ok()
}

#[test]
fn one_join_fills_and_the_next_ones_are_answered_from_memory() {
    let hub = hub(1 << 20);
    let ip = "127.0.0.1".parse().unwrap();
    let (alone, _q) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(ROOM, "r", &alone, &who(1), 3);
    assert!(is_database(hub.recent_lookup(ROOM, None, 2, 10)), "alone");
    let _two = two_in(&hub, ROOM, 3);
    fill(&hub, ROOM, 3);
    assert_eq!(hit(&hub, None), vec![2, 3]);
    assert_eq!(hit(&hub, Some(1)), vec![2, 3]);
    // The room's next messages follow.
    assert!(batch(&hub, 3, 5));
    assert_eq!(hit(&hub, None), vec![4, 5]);
    assert_eq!(hit(&hub, Some(3)), vec![4, 5]);
}

#[test]
fn joins_wait_for_the_fill_in_progress() {
    let hub = hub(1 << 20);
    let _two = two_in(&hub, ROOM, 3);
    let Lookup::Fill(ticket) = hub.recent_lookup(ROOM, None, 2, 10) else {
        panic!("a fill is due");
    };
    let Lookup::Wait(waiting) = hub.recent_lookup(ROOM, None, 2, 10) else {
        panic!("the second join waits");
    };
    assert!(waiting.has_changed().is_ok(), "still filling");
    hub.recent_fill(ticket, loaded(3), None, 2, 10);
    assert!(waiting.has_changed().is_err(), "woken");
    assert_eq!(hit(&hub, None), vec![2, 3]);
}

#[test]
fn a_fill_older_than_what_the_room_had_is_not_kept() {
    let hub = hub(1 << 20);
    let _two = two_in(&hub, ROOM, 3);
    let Lookup::Fill(ticket) = hub.recent_lookup(ROOM, None, 2, 10) else {
        panic!("a fill is due");
    };
    // Message 4 reached the room after the fill read the database.
    assert!(batch(&hub, 3, 4));
    let page = hub.recent_fill(ticket, loaded(3), None, 2, 10).unwrap();
    assert_eq!(page.seq, 3, "the join is answered from what it read");
    assert!(matches!(
        hub.recent_lookup(ROOM, None, 2, 10),
        Lookup::Fill(_)
    ));
}

#[test]
fn a_deletion_during_a_fill_discards_it() {
    let hub = hub(1 << 20);
    let _two = two_in(&hub, ROOM, 3);
    let Lookup::Fill(ticket) = hub.recent_lookup(ROOM, None, 2, 10) else {
        panic!("a fill is due");
    };
    hub.recent_deleted(ROOM, &[3], Some(2_000_000));
    hub.recent_fill(ticket, loaded(3), None, 2, 10);
    assert!(matches!(
        hub.recent_lookup(ROOM, None, 2, 10),
        Lookup::Fill(_)
    ));
}

#[test]
fn deletions_apply_and_unknown_ones_drop_the_window() {
    let hub = hub(1 << 20);
    let _two = two_in(&hub, ROOM, 3);
    fill(&hub, ROOM, 3);
    hub.recent_deleted(ROOM, &[3], Some(2_000_000));
    assert_eq!(hit(&hub, None), vec![1, 2]);
    hub.recent_deleted(ROOM, &[2], None);
    assert!(matches!(
        hub.recent_lookup(ROOM, None, 2, 10),
        Lookup::Fill(_)
    ));
}

#[test]
fn a_gap_holds_answers_back_until_the_catch_up() {
    let hub = hub(1 << 20);
    let _two = two_in(&hub, ROOM, 3);
    fill(&hub, ROOM, 3);
    assert!(!batch(&hub, 4, 6), "5 and 6 before 4");
    assert!(is_database(hub.recent_lookup(ROOM, None, 2, 10)));
    assert!(batch(&hub, 3, 6), "the catch-up");
    assert_eq!(hit(&hub, None), vec![5, 6]);
}

#[test]
fn a_commit_of_unknown_outcome_or_an_empty_room_drops_the_window() {
    let hub = hub(1 << 20);
    let two = two_in(&hub, ROOM, 3);
    fill(&hub, ROOM, 3);
    hub.recent_forget(ROOM);
    assert!(matches!(
        hub.recent_lookup(ROOM, None, 2, 10),
        Lookup::Fill(_)
    ));
    fill(&hub, ROOM, 3);
    for (handle, _) in &two {
        hub.leave(ROOM, "r", handle.id);
    }
    let _again = two_in(&hub, ROOM, 3);
    assert!(matches!(
        hub.recent_lookup(ROOM, None, 2, 10),
        Lookup::Fill(_)
    ));
}

#[test]
fn the_least_recently_used_rooms_go_first_over_the_bound() {
    // About two windows of three messages fit.
    let one = {
        let hub = hub(1 << 20);
        let _two = two_in(&hub, ROOM, 3);
        fill(&hub, ROOM, 3);
        let total = lock(&hub.recent.used).total;
        total
    };
    let hub = hub(one * 2 + one / 2);
    let rooms = [RoomId(1), RoomId(2), RoomId(3)];
    let _conns: Vec<_> = rooms.iter().map(|r| two_in(&hub, *r, 3)).collect();
    fill(&hub, rooms[0], 3);
    fill(&hub, rooms[1], 3);
    // Room 1 answers again: room 2 is now the least recently used.
    assert_eq!(hit(&hub, None), vec![2, 3]);
    fill(&hub, rooms[2], 3);
    assert!(hub.keeps_recent(rooms[0]));
    assert!(!hub.keeps_recent(rooms[1]));
    assert!(hub.keeps_recent(rooms[2]));
    assert!(lock(&hub.recent.used).total <= one * 2 + one / 2);
}
