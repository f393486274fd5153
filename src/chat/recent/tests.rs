//! The window's bookkeeping: what it covers, and that it refuses to answer
//! whatever lies outside (the database then answers).

use super::*;
use crate::chat::protocol::Who;

const MINUTE: i64 = 60_000;

fn view(seq: i64) -> Arc<MessageView> {
    Arc::new(MessageView::new(
        seq,
        100 + seq,
        Who {
            id: 1,
            nick: "ann".into(),
            kind: "guest".into(),
            avatar: None,
            look: None,
        },
        format!("m{seq}"),
        // A minute apart, from minute 1000.
        (1000 + seq) * MINUTE,
    ))
}

fn row(seq: i64, deleted: bool) -> Row {
    Row {
        seq,
        created_at: (1000 + seq) * MINUTE,
        message: (!deleted).then(|| view(seq)),
    }
}

/// A whole room of messages `1..=n` (none deleted).
fn whole(n: i64) -> Loaded {
    Loaded {
        upto: n,
        rows: (1..=n).map(|s| row(s, false)).collect(),
        whole: true,
        floor_at: None,
        older_visible: false,
        deletions: Vec::new(),
        deletions_floor: i64::MIN,
    }
}

fn seqs(page: &WelcomePage) -> Vec<i64> {
    page.messages.iter().map(|m| m.seq).collect()
}

fn batch(from: i64, to: i64) -> Vec<(i64, Option<Arc<MessageView>>)> {
    (from..=to).map(|s| (s, Some(view(s)))).collect()
}

#[test]
fn latest_pages_say_whether_older_messages_exist() {
    let window = Window::new(whole(5), 100);
    let page = window.answer(None, 2, 10).unwrap();
    assert_eq!((seqs(&page), page.more, page.seq), (vec![4, 5], true, 5));
    assert_eq!(page.mode, WelcomeMode::Latest);
    let page = window.answer(None, 5, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![1, 2, 3, 4, 5], false));
    let page = window.answer(None, 9, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![1, 2, 3, 4, 5], false));
    let empty = Window::new(whole(0), 100).answer(None, 3, 10).unwrap();
    assert_eq!(
        (seqs(&empty), empty.more, empty.seq),
        (Vec::<i64>::new(), false, 0)
    );
}

#[test]
fn a_page_reaching_below_the_window_is_not_answered() {
    // Rows 6..=8 of a room whose older rows hold visible messages.
    let loaded = Loaded {
        upto: 8,
        rows: (6..=8).map(|s| row(s, s == 7)).collect(),
        whole: false,
        floor_at: Some(1005 * MINUTE),
        older_visible: true,
        deletions: vec![(7, 1100 * MINUTE)],
        deletions_floor: 900 * MINUTE,
    };
    let window = Window::new(loaded, 100);
    assert!(
        window.answer(None, 3, 10).is_none(),
        "6, 8 and one from below"
    );
    let page = window.answer(None, 2, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![6, 8], true));
    // A resume from below the window.
    assert!(window.answer(Some(4), 2, 10).is_none());
    let page = window.answer(Some(5), 2, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![6, 8], true));
}

#[test]
fn resumes_and_resets_follow_the_database_rules() {
    let window = Window::new(whole(10), 100);
    let page = window.answer(Some(7), 3, 5).unwrap();
    assert_eq!(page.mode, WelcomeMode::Resumed);
    assert_eq!((seqs(&page), page.more), (vec![8, 9, 10], true));
    let page = window.answer(Some(10), 3, 5).unwrap();
    assert_eq!((seqs(&page), page.more), (Vec::<i64>::new(), true));
    let page = window.answer(Some(0), 3, 10).unwrap();
    assert_eq!((seqs(&page).len(), page.more), (10, false));
    // Further back than the cap, or in the future: a reset page.
    for since in [Some(4), Some(11), Some(-1)] {
        let page = window.answer(since, 3, 5).unwrap();
        assert_eq!(page.mode, WelcomeMode::Reset, "{since:?}");
        assert_eq!((seqs(&page), page.more), (vec![8, 9, 10], true));
    }
}

#[test]
fn batches_append_in_order_and_the_window_slides() {
    let mut window = Window::new(whole(3), 4);
    assert!(window.append(3, 5, batch(4, 5)));
    // Already had: skipped.
    assert!(window.append(2, 5, batch(3, 5)));
    assert_eq!(window.upto(), 5);
    // 1 slid out: what was below is known (a visible message).
    let page = window.answer(None, 4, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![2, 3, 4, 5], true));
    assert!(window.answer(None, 5, 10).is_none());
    assert!(window.answer(Some(0), 4, 10).is_none(), "below the window");
    let page = window.answer(Some(1), 4, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![2, 3, 4, 5], true));
}

#[test]
fn a_gap_or_an_unreadable_message_refuses_the_batch() {
    let mut window = Window::new(whole(3), 10);
    assert!(!window.append(4, 6, batch(5, 6)), "4 never came");
    let mut window = Window::new(whole(3), 10);
    assert!(!window.append(3, 4, vec![(4, None)]));
}

#[test]
fn a_window_behind_the_room_answers_once_caught_up() {
    let mut window = Window::new(whole(3), 10);
    window.behind(6);
    assert!(window.answer(None, 2, 10).is_none());
    assert!(window.append(3, 6, batch(4, 6)));
    let page = window.answer(None, 2, 10).unwrap();
    assert_eq!((seqs(&page), page.seq), (vec![5, 6], 6));
}

#[test]
fn deleted_messages_leave_pages_and_are_listed_to_resumes() {
    let mut window = Window::new(whole(6), 10);
    // Deleted at minute 1006.5, while a client that had message 5 was away.
    assert!(window.delete(&[2, 5], 1006 * MINUTE + MINUTE / 2));
    let page = window.answer(Some(5), 10, 10).unwrap();
    assert_eq!((seqs(&page), page.deleted.clone()), (vec![6], vec![2, 5]));
    let page = window.answer(None, 10, 10).unwrap();
    assert_eq!(seqs(&page), vec![1, 3, 4, 6]);
    // Deleted long before message 5 was written (less the margin): not listed.
    let mut window = Window::new(whole(20), 30);
    assert!(window.delete(&[1], 1002 * MINUTE));
    assert_eq!(
        window.answer(Some(19), 5, 10).unwrap().deleted,
        Vec::<i64>::new()
    );
    // Within the clock margin of it: listed.
    assert_eq!(window.answer(Some(6), 5, 20).unwrap().deleted, vec![1]);
    // Told twice (here, then by the event log): once.
    assert!(window.delete(&[1], 1003 * MINUTE));
    assert_eq!(window.answer(Some(6), 5, 20).unwrap().deleted, vec![1]);
}

#[test]
fn a_message_deleted_before_it_arrived_is_appended_deleted() {
    let mut window = Window::new(whole(3), 10);
    assert!(window.delete(&[4], 1010 * MINUTE));
    assert!(window.append(3, 5, batch(4, 5)));
    let page = window.answer(Some(3), 10, 10).unwrap();
    assert_eq!(seqs(&page), vec![5]);
}

#[test]
fn a_deletion_below_the_window_drops_it_when_it_could_change_more() {
    let mut window = Window::new(whole(6), 3);
    assert!(!window.delete(&[1], 1010 * MINUTE));
    // Nothing visible below: nothing it could change.
    let mut loaded = whole(6);
    loaded.rows[0].message = None;
    loaded.rows[1].message = None;
    loaded.deletions_floor = 1050 * MINUTE;
    let mut window = Window::new(loaded, 4);
    assert!(window.delete(&[1], 1060 * MINUTE));
    let page = window.answer(None, 4, 10).unwrap();
    assert_eq!((seqs(&page), page.more), (vec![3, 4, 5, 6], false));
}

#[test]
fn a_hole_hides_when_the_clients_last_message_was_written() {
    // A catch-up that skipped 4 and 5 (deleted before it read them).
    let mut window = Window::new(whole(3), 10);
    assert!(window.append(3, 6, vec![(6, Some(view(6)))]));
    assert!(window.answer(Some(5), 5, 10).is_none());
    assert!(window.answer(Some(4), 5, 10).is_none());
    let page = window.answer(Some(3), 5, 10).unwrap();
    assert_eq!(seqs(&page), vec![6]);
    let page = window.answer(Some(6), 5, 10).unwrap();
    assert_eq!(seqs(&page), Vec::<i64>::new());
}

#[test]
fn forgotten_deletions_raise_the_floor() {
    let mut window = Window::new(whole(3), 10);
    let many: Vec<i64> = (1000..1000 + DELETIONS_KEPT as i64 + 1).collect();
    for (k, seq) in many.iter().enumerate() {
        assert!(window.delete(&[*seq], 2000 * MINUTE + k as i64));
    }
    // Message 3 was written at minute 1003: deletions after minute 998 are
    // no longer all known.
    assert!(window.answer(Some(3), 5, 10).is_none());
}

#[test]
fn bytes_follow_the_rows() {
    let mut window = Window::new(whole(2), 2);
    let two = window.bytes();
    assert!(two > 0);
    assert!(window.append(2, 4, batch(3, 4)));
    assert_eq!(window.bytes(), two, "two rows of the same size");
    assert!(window.delete(&[4], 2000 * MINUTE));
    assert!(window.bytes() < two);
}

#[test]
fn a_message_of_100_characters_costs_about_500_bytes_with_its_json() {
    let mut message = (*view(1)).clone();
    message.text = "x".repeat(100);
    message.author.look = Some("0a367b92".into());
    let message = Arc::new(message);
    let loaded = Loaded {
        rows: vec![Row {
            seq: 1,
            created_at: message.ts,
            message: Some(message.clone()),
        }],
        ..whole(1)
    };
    let bytes = Window::new(loaded, 10).bytes();
    assert!(
        (450..=600).contains(&bytes),
        "{bytes} (README, --recent-cache-mb)"
    );
    // The JSON it keeps once a welcome sent it is about what the estimate says.
    let sent = message.json().unwrap().get().to_owned();
    assert_eq!(message.encoded_len(), sent.len());
    assert!((200..=300).contains(&sent.len()), "{sent}");
}

/// The JSON kept with a message is what encoding its fields gives, and a
/// changed copy is encoded again, not sent as the original.
#[test]
fn a_message_is_encoded_once_and_a_changed_copy_again() {
    let message = view(1);
    let first = message.json().unwrap().get().to_owned();
    assert_eq!(first, serde_json::to_string(&*message).unwrap());
    let value: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(value["text"], "m1");
    assert_eq!(value["author"]["nick"], "ann");
    let mut copy = (*message).clone();
    copy.text = "changed".into();
    let again: serde_json::Value = serde_json::from_str(copy.json().unwrap().get()).unwrap();
    assert_eq!(again["text"], "changed");
    let back: MessageView = serde_json::from_str(&first).unwrap();
    assert_eq!(back, *message);
}
