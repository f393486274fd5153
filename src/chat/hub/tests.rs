//! Unit tests of the hub: membership, fan-out order and slow consumers.

use super::*;
use crate::chat::protocol::SeenCursor;

/// Guest `id`, named `n<id>` (for the other modules' tests of the hub too).
pub(crate) fn who(id: i64) -> Who {
    Who {
        id,
        nick: format!("n{id}").into(),
        kind: "guest".into(),
        avatar: None,
        look: None,
    }
}

#[test]
fn presence_counts_participants_not_connections() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (a1, qa1) = hub.connect(SiteId(1), ip, 1 << 20);
    let (a2, _qa2) = hub.connect(SiteId(1), ip, 1 << 20);
    let (b, qb) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &b, &who(2), 0);
    hub.join(RoomId(1), "r", &a1, &who(1), 0);
    assert!(
        matches!(qb.try_recv(), Some(Outbound::Frame { .. })),
        "b sees a join"
    );
    let (online, total) = hub.join(RoomId(1), "r", &a2, &who(1), 0);
    assert_eq!((online.len(), total), (2, 2));
    assert!(
        qb.try_recv().is_none(),
        "second tab of the same participant is not announced"
    );
    hub.leave(RoomId(1), "r", a2.id);
    assert!(
        qb.try_recv().is_none(),
        "one tab left, participant still present"
    );
    hub.leave(RoomId(1), "r", a1.id);
    assert!(
        matches!(qb.try_recv(), Some(Outbound::Frame { .. })),
        "b sees the leave"
    );
    let delivered = hub.publish(RoomId(1), &Arc::from("x"), Some(1), None);
    assert_eq!(delivered, 1);
    while let Some(frame) = qa1.try_recv() {
        assert!(matches!(frame, Outbound::Frame { .. }));
    }
}

#[test]
fn read_receipts_stop_in_crowded_rooms() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (reader, _reader_queue) = hub.connect(SiteId(1), ip, 1 << 20);
    let (watcher, watcher_queue) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &reader, &who(1), 0);
    hub.join(RoomId(1), "r", &watcher, &who(2), 0);
    while watcher_queue.try_recv().is_some() {}
    hub.seen(RoomId(1), "r", 1, 5, reader.id);
    assert!(matches!(
        watcher_queue.try_recv(),
        Some(Outbound::Frame { .. })
    ));
    assert_eq!(hub.seen_in(RoomId(1)), vec![SeenCursor { id: 1, seq: 5 }]);

    let crowd: Vec<_> = (3..=CROWD as i64 + 1)
        .map(|id| {
            let (conn, queue) = hub.connect(SiteId(1), ip, 1 << 20);
            hub.join(RoomId(1), "r", &conn, &who(id), 0);
            (conn, queue)
        })
        .collect();
    while watcher_queue.try_recv().is_some() {}
    hub.seen(RoomId(1), "r", 1, 6, reader.id);
    assert!(watcher_queue.try_recv().is_none(), "no receipts in a crowd");
    assert!(hub.seen_in(RoomId(1)).is_empty());
    drop(crowd);
}

#[test]
fn slow_consumer_is_closed_not_blocking() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (slow, q) = hub.connect(SiteId(1), ip, 10);
    hub.join(RoomId(1), "r", &slow, &who(1), 0);
    let frame: Arc<str> = Arc::from("123456");
    assert_eq!(hub.publish(RoomId(1), &frame, Some(1), None), 1);
    assert_eq!(hub.publish(RoomId(1), &frame, Some(2), None), 0);
    assert!(matches!(q.try_recv(), Some(Outbound::Frame { .. })));
    assert!(matches!(
        q.try_recv(),
        Some(Outbound::Close(c)) if c.reason == CloseReason::SlowConsumer
    ));
}

#[test]
fn a_batch_reaches_everyone_but_each_sender_in_order() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (a, qa) = hub.connect(SiteId(1), ip, 1 << 20);
    let (b, qb) = hub.connect(SiteId(1), ip, 1 << 20);
    let (c, qc) = hub.connect(SiteId(1), ip, 1 << 20);
    let (slow, qs) = hub.connect(SiteId(1), ip, 5);
    for (h, w) in [(&a, 1), (&b, 2), (&c, 3), (&slow, 4)] {
        hub.join(RoomId(1), "r", h, &who(w), 6);
    }
    for q in [&qa, &qb, &qc, &qs] {
        while q.try_recv().is_some() {} // presence
    }
    let frame = |seq, from: &ConnHandle| BatchFrame {
        text: Arc::from(format!("m{seq}")),
        seq,
        view: None,
        from: Some(from.id),
    };
    let out = hub
        .publish_batch(
            RoomId(1),
            SeqRange { after: 6, upto: 9 },
            &[frame(7, &a), frame(8, &b), frame(9, &a)],
            |k, delivered| Some(Arc::from(format!("ack{k}:{delivered}"))),
        )
        .unwrap();
    assert_eq!(out, [true, true, true], "every ack queued in place");
    let items = |q: &ConnQueue| {
        std::iter::from_fn(|| q.try_recv())
            .map(|o| match o {
                Outbound::Frame { text, .. } | Outbound::Reply(text) => text.to_string(),
                Outbound::Close(_) => "close".into(),
                Outbound::Rest(_) => "rest".into(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(items(&qa), ["ack0:2", "m8", "ack2:2"], "acks in seq order");
    assert_eq!(items(&qb), ["m7", "ack1:2", "m9"]);
    assert_eq!(items(&qc), ["m7", "m8", "m9"]);
    assert_eq!(items(&qs), ["close"], "over its bound: told to close");
}

#[test]
fn ip_slots_are_released() {
    let hub = Hub::new();
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    let first = hub.reserve_ip(ip, 1);
    assert!(first.is_some());
    assert!(hub.reserve_ip(ip, 1).is_none());
    drop(first);
    assert!(hub.reserve_ip(ip, 1).is_some());
}

/// Seq 12 committed here must not reach a connection before 11, committed
/// elsewhere: the batch is refused until 11 has gone out, and anything sent
/// twice (a catch-up racing a live batch) goes out once.
#[test]
fn messages_reach_a_room_only_in_seq_order() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (r, qr) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &r, &who(1), 10);
    let frame = |seq| BatchFrame {
        text: Arc::from(format!("m{seq}")),
        seq,
        view: None,
        from: None,
    };
    let range = |after, upto| SeqRange { after, upto };
    let none = |_, _| None;
    assert_eq!(
        hub.publish_batch(RoomId(1), range(11, 12), &[frame(12)], none),
        Err(Gap { high: 10 })
    );
    assert!(qr.try_recv().is_none(), "nothing queued out of order");
    hub.publish_batch(RoomId(1), range(10, 11), &[frame(11)], none)
        .unwrap();
    hub.publish_batch(RoomId(1), range(11, 12), &[frame(12)], none)
        .unwrap();
    // A catch-up from the database that covers 11..=13, with a hole at 13.
    hub.publish_batch(RoomId(1), range(10, 13), &[frame(11), frame(12)], none)
        .unwrap();
    assert_eq!(hub.high(RoomId(1)), Some(13));
    hub.publish_batch(RoomId(1), range(13, 14), &[frame(14)], none)
        .unwrap();
    let seqs: Vec<i64> = std::iter::from_fn(|| qr.try_recv())
        .filter_map(|o| match o {
            Outbound::Frame { seq, .. } => seq,
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [11, 12, 14]);
}

/// People on other instances count as present: a remote join is announced
/// (unless they are here already), `welcome.online` lists them, a local
/// leave is not announced while they are still present elsewhere, and an
/// instance's entries dropped (it died) make its people leave.
#[test]
fn presence_is_the_union_of_this_instance_and_the_others() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let frames = |q: &ConnQueue| {
        std::iter::from_fn(|| q.try_recv())
            .filter_map(|o| match o {
                Outbound::Frame { text, .. } => Some(text.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (watcher, qw) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &watcher, &who(1), 0);
    // Participant 2 on instance 7 (two tabs there), then here too.
    hub.remote_presence(7, RoomId(1), "r", SiteId(1), who(2), 2);
    assert_eq!(frames(&qw).len(), 1, "the remote join is announced");
    let (local, _ql) = hub.connect(SiteId(1), ip, 1 << 20);
    let (online, total) = hub.join(RoomId(1), "r", &local, &who(2), 0);
    assert_eq!((online.len(), total), (2, 2), "listed once: {online:?}");
    assert!(frames(&qw).is_empty(), "already present elsewhere");
    assert_eq!(hub.remote_connections(RoomId(1)), 2);
    hub.leave(RoomId(1), "r", local.id);
    assert!(frames(&qw).is_empty(), "still present on instance 7");
    // Participant 3 only on instance 8; instance 7 dies.
    hub.remote_room(8, RoomId(1), "r", SiteId(1), vec![(who(3), 1)]);
    frames(&qw);
    hub.remote_room(7, RoomId(1), "r", SiteId(1), Vec::new());
    let left = frames(&qw);
    assert_eq!(left.len(), 1);
    assert!(
        left[0].contains(r#""event":"leave""#) && left[0].contains(r#""id":2"#),
        "{left:?}"
    );
    assert!(left[0].contains(r#""online":2"#), "{left:?}");
    // A room known only from another instance takes no messages here, and
    // is counted among the live rooms.
    hub.remote_presence(8, RoomId(2), "s", SiteId(1), who(3), 1);
    assert_eq!(hub.high(RoomId(2)), None);
    assert_eq!(hub.rooms_by_site()[&SiteId(1)], 2);
    hub.remote_presence(8, RoomId(2), "s", SiteId(1), who(3), 0);
    assert_eq!(hub.rooms_by_site()[&SiteId(1)], 1);
}

/// What other instances have in a room is tallied as it changes: the
/// connections a message is counted as delivered to, and whether an
/// instance still has anyone there, follow every kind of change.
#[test]
fn remote_connections_and_instances_are_tallied_as_they_change() {
    let hub = Hub::new();
    let (r, s) = (RoomId(1), SiteId(1));
    assert!(hub.remote_presence(7, r, "r", s, who(2), 2));
    assert!(hub.remote_presence(7, r, "r", s, who(3), 1));
    assert!(hub.remote_presence(8, r, "r", s, who(2), 1));
    assert_eq!(hub.remote_connections(r), 4);
    // A third tab of participant 2 on instance 7 replaces the count.
    assert!(hub.remote_presence(7, r, "r", s, who(2), 3));
    assert_eq!(hub.remote_connections(r), 5);
    assert!(
        hub.remote_presence(7, r, "r", s, who(2), 0),
        "3 is still on 7"
    );
    assert_eq!(hub.remote_connections(r), 2);
    assert!(
        !hub.remote_presence(7, r, "r", s, who(3), 0),
        "7 has nobody left"
    );
    assert!(!hub.remote_presence(7, r, "r", s, who(3), 0), "told twice");
    assert_eq!(hub.remote_connections(r), 1);
    hub.remote_room(8, r, "r", s, vec![(who(4), 2), (who(5), 1)]);
    assert_eq!(hub.remote_connections(r), 3, "the full state replaces 8's");
    assert!(hub.remote_presence(8, r, "r", s, who(4), 0));
    assert!(!hub.remote_presence(8, r, "r", s, who(5), 0));
    assert_eq!(hub.remote_connections(r), 0);
}

/// The count goes out only in a crowd, only when it changed, and at most
/// every `COUNT_EVERY`.
#[test]
fn a_crowd_is_told_its_count_when_changed_and_not_too_often() {
    use super::crowd::count_due;
    let now = Instant::now();
    let long_ago = Some(now - COUNT_EVERY);
    let just_now = Some(now - COUNT_EVERY / 4);
    assert!(count_due(CROWD + 1, CROWD, None, now));
    assert!(count_due(CROWD + 1, CROWD + 5, long_ago, now));
    assert!(!count_due(CROWD + 1, CROWD + 5, just_now, now), "too soon");
    assert!(!count_due(CROWD + 1, CROWD + 1, long_ago, now), "unchanged");
    assert!(!count_due(CROWD, CROWD + 1, long_ago, now), "not a crowd");
}

/// Above `CROWD` joins and leaves are counted, not told; the periodic flush
/// tells the count; back at `CROWD` a leave is told one by one again.
#[test]
fn presence_turns_into_a_count_above_the_crowd_and_back() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (watcher, qw) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &watcher, &who(1), 0);
    let texts = |q: &ConnQueue| {
        std::iter::from_fn(|| q.try_recv())
            .filter_map(|o| match o {
                Outbound::Frame { text, .. } => Some(text.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut conns = Vec::new();
    for id in 2..=CROWD as i64 + 2 {
        let (conn, queue) = hub.connect(SiteId(1), ip, 1 << 20);
        let (page, total) = hub.join(RoomId(1), "r", &conn, &who(id), 0);
        assert_eq!(total, id as usize);
        assert_eq!(page.len(), total.min(CROWD), "the welcome page is bounded");
        conns.push((conn, queue));
    }
    let told = texts(&qw);
    assert_eq!(told.len(), CROWD - 1, "joins 2..=CROWD told one by one");
    assert!(told.iter().all(|t| t.contains(r#""type":"presence""#)));
    hub.expire_leaves(Instant::now());
    let count = texts(&qw);
    assert_eq!(count.len(), 1, "{count:?}");
    assert!(count[0].contains(r#""type":"presence_count""#) && count[0].contains(r#""online":52"#));
    hub.expire_leaves(Instant::now());
    assert!(texts(&qw).is_empty(), "unchanged: not told again");
    // 52 -> 51: a crowd still, told only when COUNT_EVERY has passed.
    hub.leave(RoomId(1), "r", conns.pop().unwrap().0.id);
    hub.expire_leaves(Instant::now());
    assert!(texts(&qw).is_empty(), "too soon");
    hub.expire_leaves(Instant::now() + COUNT_EVERY);
    let count = texts(&qw);
    assert!(
        count.len() == 1 && count[0].contains(r#""online":51"#),
        "{count:?}"
    );
    // 51 -> 50: individual frames again.
    hub.leave(RoomId(1), "r", conns.pop().unwrap().0.id);
    let left = texts(&qw);
    assert!(
        left.len() == 1
            && left[0].contains(r#""event":"leave""#)
            && left[0].contains(r#""online":50"#),
        "{left:?}"
    );
    assert_eq!(hub.online_count(RoomId(1)), CROWD);
}

/// Whether someone is present on a site, here or elsewhere, whatever room.
#[test]
fn presence_on_a_site_is_found_in_any_room_on_any_instance() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (a, _qa) = hub.connect(SiteId(1), ip, 1 << 20);
    hub.join(RoomId(1), "r", &a, &who(1), 0);
    hub.remote_presence(7, RoomId(2), "s", SiteId(1), who(2), 1);
    let (b, _qb) = hub.connect(SiteId(2), ip, 1 << 20);
    hub.join(RoomId(3), "t", &b, &who(3), 0);
    assert!(hub.any_present(SiteId(1), &[9, 1]));
    assert!(hub.any_present(SiteId(1), &[2]), "on another instance");
    assert!(!hub.any_present(SiteId(1), &[3]), "on another site");
    assert!(!hub.any_present(SiteId(1), &[]));
    hub.leave(RoomId(1), "r", a.id);
    assert!(!hub.any_present(SiteId(1), &[1]), "gone");
}

/// Someone present who changes their name is listed under the new one,
/// whether another tab joins with it or they rename elsewhere.
#[test]
fn who_is_here_is_listed_as_they_are_now() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (r, s) = (RoomId(1), SiteId(1));
    let nick = |hub: &Hub| hub.who_page(r, None, CROWD).0[0].nick.to_string();
    let (a, _qa) = hub.connect(s, ip, 1 << 20);
    hub.join(r, "r", &a, &who(1), 0);
    let mut renamed = who(1);
    renamed.nick = "second tab".into();
    let (b, _qb) = hub.connect(s, ip, 1 << 20);
    let (page, _) = hub.join(r, "r", &b, &renamed, 0);
    assert_eq!(page[0].nick.as_ref(), "second tab");
    hub.leave(r, "r", b.id);
    assert_eq!(
        nick(&hub),
        "second tab",
        "the first tab does not bring the old name back"
    );
    renamed.nick = "renamed elsewhere".into();
    hub.participant_changed(&renamed);
    assert_eq!(nick(&hub), "renamed elsewhere");
    let (c, _qc) = hub.connect(s, ip, 1 << 20);
    let (page, _) = hub.join(r, "r", &c, &who(2), 0);
    assert_eq!(
        page[0].nick.as_ref(),
        "renamed elsewhere",
        "nor a cached page"
    );
}

/// A welcome's page of who is present is made once for every joiner while
/// nobody on it comes or goes, and is always the room's first page then.
#[test]
fn the_first_page_is_shared_until_someone_on_it_changes() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let (r, s) = (RoomId(1), SiteId(1));
    let join = |id: i64| {
        let (conn, queue) = hub.connect(s, ip, 1 << 20);
        let (page, _) = hub.join(r, "r", &conn, &who(id), 0);
        let ids: Vec<i64> = page.iter().map(|w| w.id).collect();
        let (current, _, _) = hub.who_page(r, None, CROWD);
        assert_eq!(ids, current.iter().map(|w| w.id).collect::<Vec<_>>());
        (conn, queue, page)
    };
    let mut kept = Vec::new();
    for id in 100..100 + CROWD as i64 {
        let (conn, queue, page) = join(id);
        assert_eq!(page.len() as i64, id - 99, "a short page takes everyone");
        kept.push((conn, queue));
    }
    let (late, _q1, a) = join(1000);
    let (_c2, _q2, b) = join(1001);
    assert!(
        Arc::ptr_eq(&a, &b),
        "people past the page leave it as it is"
    );
    hub.leave(r, "r", late.id);
    let (_c3, _q3, c) = join(1002);
    assert!(Arc::ptr_eq(&b, &c), "nor does their leaving");
    let (early, _q4, d) = join(5);
    assert_eq!(
        (d[0].id, d.len()),
        (5, CROWD),
        "someone below its last is on it"
    );
    hub.leave(r, "r", early.id);
    let (_c5, _q5, e) = join(1003);
    assert_eq!(e[0].id, 100, "and off it when they leave");
    hub.remote_presence(7, r, "r", s, who(6), 1);
    let (_c6, _q6, f) = join(1004);
    assert_eq!(f[0].id, 6, "another instance's people are on it too");
    hub.remote_presence(7, r, "r", s, who(6), 0);
    let (_c7, _q7, g) = join(1005);
    assert_eq!(g[0].id, 100);
}

/// `who` pages merge this instance's people and the others' in id order:
/// each listed once, none skipped, the cursor null on the last page.
#[test]
fn who_pages_list_everyone_once_in_id_order() {
    let hub = Hub::new();
    let ip = "127.0.0.1".parse().unwrap();
    let mut conns = Vec::new();
    for id in (1..=30).filter(|id| id % 3 != 0) {
        let (conn, _queue) = hub.connect(SiteId(1), ip, 1 << 20);
        hub.join(RoomId(1), "r", &conn, &who(id), 0);
        conns.push(conn);
    }
    // Multiples of 3 only elsewhere; 4 and 5 both here and elsewhere.
    for id in (3..=30).step_by(3).chain([4, 5]) {
        hub.remote_presence(9, RoomId(1), "r", SiteId(1), who(id), 1);
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next, total) = hub.who_page(RoomId(1), after, 7);
        assert_eq!(total, 30);
        assert!(page.len() <= 7);
        seen.extend(page.iter().map(|w| w.id));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    let (last, next, _) = hub.who_page(RoomId(1), Some(23), 7);
    assert_eq!((last.len(), next), (7, None), "exactly the last page");
}
