//! The server API on one instance: a message it posts reaches the widgets
//! connected to another instance, in seq order after the visitors' own, and
//! a ban it makes closes their chats there.

use std::time::Duration;

use chatctl::db::models::Site;
use reqwest::StatusCode;
use serde_json::json;

use super::{in_process_pair, InProcessPair};
use crate::support::api::Api;
use crate::support::close;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_through_one_instance_reaches_widgets_on_another() {
    let test = "a_message_posted_through_one_instance_reaches_widgets_on_another";
    let Some(InProcessPair { _redis, key, a, b }) = in_process_pair(test).await else {
        return;
    };
    let wanted = key.clone();
    let site =
        a.db.run(move |conn| Site::find_by_key(conn, &wanted))
            .await
            .unwrap()
            .unwrap();
    let api = Api::full(&a, &site).await;
    let (mut reader, ready, _) = b
        .joined(&key, json!({"nick": "reader"}), "lobby", None)
        .await;
    reader.say("lobby", "r1", "anyone?").await;

    let posted = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": "n1", "text": "Hello from the site"}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["seq"], 2);
    let live = tokio::time::timeout(Duration::from_secs(2), reader.recv_type("message"))
        .await
        .expect("the message crossed to the other instance");
    assert_eq!(
        (live["seq"].clone(), live["text"].clone()),
        (json!(2), json!("Hello from the site"))
    );
    assert_eq!(live["author"]["kind"], "system");

    // B's reader is online for A's API too (presence crosses), and a ban made
    // on A closes the chat on B.
    let id = ready["me"]["id"].as_i64().unwrap();
    let mut online = json!(null);
    for _ in 0..40 {
        online = api.get("/rooms/lobby/online").await.body;
        if online["count"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(online["online"][0]["id"], id, "{online}");
    let banned = api
        .post("/bans", json!({"participant": id, "reason": "spam"}))
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{}", banned.body);
    let closed = tokio::time::timeout(Duration::from_secs(2), reader.closed())
        .await
        .expect("closed on the other instance");
    assert_eq!(closed.code, close::BANNED);
}
