//! A `cid` is its author's, across rooms (as for a WebSocket `send`): a
//! retry of the same message answers with the original; a reuse for another
//! message (another room or text) is refused and stores nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::api::Api;
use crate::support::*;

#[tokio::test]
async fn a_cid_reused_for_another_message_is_refused_and_a_retry_gets_the_original() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    for room in ["lobby", "support"] {
        api.post("/rooms", json!({"name": room})).await;
    }
    let cid = "deploy-2024-11-22";
    let first = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": cid, "text": "Maintenance tonight."}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);

    // Another room: refused, naming where the cid went; nothing stored.
    let elsewhere = api
        .post(
            "/rooms/support/messages",
            json!({"cid": cid, "text": "Maintenance tonight."}),
        )
        .await;
    elsewhere.assert_refused(StatusCode::CONFLICT, "cid_reused", "");
    assert!(elsewhere.body["message"]
        .as_str()
        .unwrap()
        .contains("lobby"));
    assert_eq!(
        api.get("/rooms/support/messages").await.body["messages"],
        json!([])
    );

    // Same room, other text: refused too.
    let other_text = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": cid, "text": "Something else."}),
        )
        .await;
    other_text.assert_refused(StatusCode::CONFLICT, "cid_reused", "");

    // A true retry (the text as sent, before trimming) gets the original.
    let retry = api
        .post(
            "/rooms/lobby/messages",
            json!({"cid": cid, "text": "  Maintenance tonight. "}),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.body["duplicate"], true);
    assert_eq!(retry.body["room"], "lobby");
    assert_eq!(retry.body["seq"], first.body["seq"]);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.body["text"], "Maintenance tonight.");

    // The same cid from another author is that author's own.
    let ann = api
        .post(
            "/rooms/support/messages",
            json!({"cid": cid, "text": "Hi", "user": {"sub": "7", "name": "Ann"}}),
        )
        .await;
    assert_eq!(ann.status, StatusCode::CREATED, "{}", ann.body);
    let history = api.get("/rooms/lobby/messages").await;
    assert_eq!(history.body["messages"].as_array().unwrap().len(), 1);
}
