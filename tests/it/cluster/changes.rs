//! Changes made by a separate `chatctl` process (the command line) reach
//! running servers within a second, with or without a broker, on one
//! instance (SQLite or PostgreSQL) or several (PostgreSQL).

use std::time::{Duration, Instant};

use serde_json::json;

use super::{cluster_db, instance, pair, Pair};
use crate::support::close;
use crate::support::process::{chatctl, create_site, ServerProcess, FAST};
use crate::support::{test_db, Client, TestApp};

/// Runs the command line on the database, like an operator would.
fn cli(database_url: &str, args: &[&str]) {
    let out = std::process::Command::new(chatctl())
        .args(["--database-url", database_url])
        .args(args)
        .output()
        .expect("run chatctl");
    assert!(
        out.status.success(),
        "chatctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `chatctl ban` of participant `id` on the site, for spam.
fn ban_from_command_line(database_url: &str, key: &str, id: i64) {
    let id = id.to_string();
    let ban = [
        "ban",
        "--site",
        key,
        "--participant",
        &id,
        "--reason",
        "spam",
    ];
    cli(database_url, &ban);
}

/// Waits for the server to close `client`; returns the code and how long it took.
async fn closed_within(client: &mut Client, limit: Duration) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let closed = tokio::time::timeout(limit, client.closed())
        .await
        .unwrap_or_else(|_| panic!("not closed within {limit:?}"));
    (closed.code, started.elapsed())
}

/// A guest on each of `servers`, all the same participant (one guest token);
/// returns the connections and the participant's id.
async fn one_guest_on(servers: &[&ServerProcess], key: &str) -> (Vec<Client>, i64) {
    let (first, ready, _) = servers[0]
        .joined(key, json!({"nick": "spammer"}), "lobby", None)
        .await;
    let mut clients = vec![first];
    for server in &servers[1..] {
        let token = json!({"guest_token": ready["guest_token"]});
        clients.push(server.joined(key, token, "lobby", None).await.0);
    }
    (clients, ready["me"]["id"].as_i64().unwrap())
}

/// `chatctl ban` from another process: the participant's connections on
/// both instances close (4003) within a second. (Before `cluster_events`,
/// servers noticed bans made elsewhere by a poll every 5 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_from_the_command_line_closes_connections_on_every_instance() {
    let test = "a_ban_from_the_command_line_closes_connections_on_every_instance";
    let Some(Pair { env, key, a, b }) = pair(test).await else {
        return;
    };
    let (mut clients, id) = one_guest_on(&[&a, &b], &key).await;
    let (_bystander, _, _) = b.joined(&key, json!({"nick": "fine"}), "lobby", None).await;
    ban_from_command_line(&env.database.url, &key, id);
    for client in &mut clients {
        let (code, took) = closed_within(client, Duration::from_secs(1)).await;
        assert_eq!(code, close::BANNED);
        eprintln!("closed {took:?} after the command returned");
    }
}

/// Without a broker, the command line's room deletion and site disable
/// still reach both instances within a second (they poll the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_command_line_changes_reach_every_instance() {
    let Some(database) = cluster_db("without_a_broker_command_line_changes_reach_every_instance")
    else {
        return;
    };
    let key = create_site(&database.url);
    let a = instance(&database, None, "a").await;
    let b = instance(&database, None, "b").await;
    let (mut in_lobby, _) = one_guest_on(&[&a, &b], &key).await;
    let (mut elsewhere_a, _, _) = a.joined(&key, json!({"nick": "x"}), "other", None).await;
    let (mut elsewhere_b, _, _) = b.joined(&key, json!({"nick": "y"}), "other", None).await;

    cli(&database.url, &["site", "rooms", "delete", &key, "lobby"]);
    for client in &mut in_lobby {
        let (code, _) = closed_within(client, Duration::from_secs(1)).await;
        assert_eq!(code, close::RESTARTING, "told to reconnect");
    }
    cli(&database.url, &["site", "disable", &key]);
    for client in [&mut elsewhere_a, &mut elsewhere_b] {
        let (code, _) = closed_within(client, Duration::from_secs(1)).await;
        assert_eq!(code, close::SITE_DISABLED);
    }
}

/// One server (SQLite in the default run): a ban from the command line
/// closes the connection within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_from_the_command_line_reaches_a_single_server_at_once() {
    let database = test_db();
    let key = create_site(&database.url);
    let server = ServerProcess::start(&database.url, FAST).await;
    let (mut clients, id) = one_guest_on(&[&server], &key).await;
    ban_from_command_line(&database.url, &key, id);
    let (code, _) = closed_within(&mut clients[0], Duration::from_secs(1)).await;
    assert_eq!(code, close::BANNED);
}

/// A message deleted on A while a reader was away: the reader resumes on B
/// and is told to remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_another_instance_lists_deletions_made_on_the_first() {
    let Some(database) =
        cluster_db("a_resume_on_another_instance_lists_deletions_made_on_the_first")
    else {
        return;
    };
    let key = create_site(&database.url);
    let a = TestApp::builder().database(database).spawn().await;
    let b = instance(&a.database, None, "b").await;
    let (mut writer, _, _) = b.joined(&key, json!({"nick": "w"}), "lobby", None).await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let ack = writer
            .say("lobby", &format!("c{i}"), &format!("m{i}"))
            .await;
        ids.push(ack["id"].as_i64().unwrap());
    }
    let id = chatctl::db::models::MessageId(ids[1]);
    chatctl::moderation::messages::delete_message(
        &a.state.chat,
        chatctl::db::models::audit::Actor::CommandLine,
        id,
    )
    .await
    .unwrap();
    let (_, _, welcome) = b.joined(&key, json!({"nick": "r"}), "lobby", Some(3)).await;
    assert_eq!(welcome["mode"], "resumed");
    assert_eq!(welcome["deleted"], json!([2]), "{welcome}");
}

/// `chatctl site set` on a running server's database: its open connections
/// follow the new settings within a second. (Each connection used to keep the
/// site as it was when it connected, until it reconnected.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_setting_from_the_command_line_applies_to_open_connections() {
    let database = test_db();
    let key = create_site(&database.url);
    let server = ServerProcess::start(&database.url, FAST).await;
    let (mut client, _, _) = server
        .joined(&key, json!({"nick": "talker"}), "lobby", None)
        .await;
    let text = "thirty characters, give or take";
    client.say("lobby", "before", text).await;
    cli(
        &database.url,
        &["site", "set", &key, "--max-message-chars", "10"],
    );
    let started = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let cid = format!("after-{n}");
        client
            .send(json!({"type": "send", "room": "lobby", "cid": cid, "text": text}))
            .await;
        let reply = client.recv_type_any(&["ack", "error"]).await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "message_too_long", "{reply}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still accepted {:?} after the change: {reply}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("refused {:?} after the command returned", started.elapsed());
}
