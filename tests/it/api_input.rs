//! Malformed, oversized and hostile requests to the server API: each gets a
//! clear 4xx with a JSON error body, never a 5xx, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{Answer, Api};
use crate::support::*;

/// A request with this body text and content type.
async fn send(api: &Api, method: Method, path: &str, body: &str, content_type: &str) -> Answer {
    let req = api
        .raw(method, path)
        .header("Content-Type", content_type)
        .body(body.to_owned());
    Api::read(req).await
}

#[tokio::test]
async fn bad_bodies_are_refused_with_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    let json_type = "application/json";
    let long = "x".repeat(5000);
    let cases: Vec<(&str, Method, &str, String, &str, StatusCode, &str)> = vec![
        ("not JSON", Method::POST, "/rooms/lobby/messages", "{cid".into(), json_type, StatusCode::BAD_REQUEST, "bad_json"),
        ("empty body", Method::POST, "/rooms", String::new(), json_type, StatusCode::BAD_REQUEST, "bad_json"),
        ("an array", Method::POST, "/rooms", "[1]".into(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        // Derived structs take fields by position from an array: not here.
        ("a message as an array", Method::POST, "/rooms/lobby/messages", json!(["arr3", "text", null]).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("a room as an array", Method::POST, "/rooms", json!(["hall"]).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("a ban as an array", Method::POST, "/bans", json!([null, null, "10.0.0.1", "spam", 5]).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("settings as an array", Method::PATCH, "/rooms/lobby", json!([true]).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("a string", Method::POST, "/rooms", json!("hall").to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("null", Method::POST, "/rooms", "null".into(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("form encoded", Method::POST, "/rooms", "name=x".into(), "application/x-www-form-urlencoded", StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("no content type", Method::POST, "/rooms", "{\"name\":\"x\"}".into(), "", StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("unknown field", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": "x", "html": true}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("wrong type", Method::POST, "/rooms/lobby/messages", json!({"cid": 1, "text": "x"}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("missing text", Method::POST, "/rooms/lobby/messages", json!({"cid": "1"}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("empty cid", Method::POST, "/rooms/lobby/messages", json!({"cid": "", "text": "x"}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_cid"),
        ("cid with spaces", Method::POST, "/rooms/lobby/messages", json!({"cid": "a b", "text": "x"}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_cid"),
        ("blank text", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": " \u{0} \n"}).to_string(), json_type, StatusCode::BAD_REQUEST, "empty_message"),
        ("text too long", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": long}).to_string(), json_type, StatusCode::BAD_REQUEST, "message_too_long"),
        ("script avatar", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": "x", "user": {"sub": "1", "name": "A", "avatar": "javascript:alert(1)"}}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_user"),
        ("empty sub", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": "x", "user": {"sub": "", "name": "A"}}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_user"),
        ("invisible name", Method::POST, "/rooms/lobby/messages", json!({"cid": "1", "text": "x", "user": {"sub": "1", "name": "\u{200b}"}}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_user"),
        ("huge number", Method::POST, "/participants/1/mute", "{\"minutes\": 1e999}".into(), json_type, StatusCode::BAD_REQUEST, "bad_json"),
        ("deep nesting", Method::POST, "/rooms", format!("{}{}", "[".repeat(5000), "]".repeat(5000)), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("bad room name", Method::POST, "/rooms", json!({"name": "<script>"}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_room"),
        ("dot-dot room", Method::POST, "/rooms", json!({"name": ".."}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_room"),
        ("dot room", Method::POST, "/rooms", json!({"name": "."}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_room"),
        ("dot-dot segment", Method::POST, "/rooms", json!({"name": "../x"}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_room"),
        ("room name too long", Method::POST, "/rooms", json!({"name": "r".repeat(65)}).to_string(), json_type, StatusCode::BAD_REQUEST, "invalid_room"),
        ("settings of the wrong type", Method::PATCH, "/rooms/lobby", json!({"locked": "yes"}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("a null setting", Method::PATCH, "/rooms/lobby", json!({"locked": null}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("a null slow mode", Method::PATCH, "/rooms/lobby", json!({"slow_mode_secs": null}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        // The site's limit (2000) would win silently.
        ("a room limit over the site's", Method::PATCH, "/rooms/lobby", json!({"max_message_chars": 5000}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("negative slow mode", Method::PATCH, "/rooms/lobby", json!({"slow_mode_secs": -1}).to_string(), json_type, StatusCode::BAD_REQUEST, "bad_request"),
        ("oversized body", Method::POST, "/rooms/lobby/messages", format!("{{\"cid\":\"1\",\"text\":\"{}\"}}", "y".repeat(300 * 1024)), json_type, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ];
    for (case, method, path, body, content_type, status, code) in cases {
        let answer = send(&api, method, path, &body, content_type).await;
        answer.assert_refused(status, code, case);
    }
    let lobby = api.get("/rooms/lobby").await;
    assert_eq!(lobby.body["locked"], false, "{}", lobby.body);
    assert!(lobby.body["max_message_chars"].is_null(), "{}", lobby.body);
    // Nothing was posted or made by any of them.
    let page = api.get("/rooms/lobby/messages").await;
    assert_eq!(page.body["messages"], json!([]));
    assert_eq!(
        api.get("/rooms").await.body["rooms"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_paths_and_queries_are_refused_with_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    // Method, path, status and error code.
    let cases = [
        "GET /nothing 404 not_found",
        "GET /rooms/lobby/messages/1/extra 404 not_found",
        "PUT /rooms 405 method_not_allowed",
        "POST /rooms/lobby/online 405 method_not_allowed",
        // Dot segments are no room name (and nothing else is read).
        "GET /rooms/..%2F..%2Fetc 400 invalid_room",
        "GET /rooms/some%2Froom 404 room_not_found",
        "GET /rooms/%FF%FE 400 invalid_room",
        "GET /rooms/nowhere/messages 404 room_not_found",
        // Ids that are not integers: a bad request; integers that name
        // nothing: not found.
        "DELETE /rooms/lobby/messages/abc 400 bad_request",
        "DELETE /bans/abc 400 bad_request",
        "POST /participants/abc/mute 400 bad_request",
        "DELETE /rooms/lobby/messages/-1 404 message_not_found",
        "DELETE /rooms/lobby/messages/99999999999999999999 400 bad_request",
        "GET /participants/0 404 participant_not_found",
        "GET /participants/x 400 bad_request",
        "GET /participants 400 bad_request",
        "DELETE /bans/1 404 ban_not_found",
        "GET /rooms/lobby/messages?limit=99999999999999999999 400 bad_request",
        // Out of range or misspelt query parameters are refused, not ignored.
        "GET /rooms/lobby/messages?before=-5 400 bad_request",
        "GET /rooms/lobby/messages?before=0 400 bad_request",
        "GET /rooms/lobby/messages?after=-1 400 bad_request",
        "GET /rooms/lobby/messages?befor=5 400 bad_request",
        "GET /participants?sub=1&name=x 400 bad_request",
        "GET /rooms?page=2 400 bad_request",
        "DELETE /rooms/lobby?force=1 400 bad_request",
        // A parameter given twice: which one counts would be a guess.
        "GET /rooms/lobby/messages?limit=1&limit=2 400 bad_request",
        "GET /rooms/lobby/messages?before=5&limit=1&before=9 400 bad_request",
        "GET /rooms/lobby/messages?l%69mit=1&limit=2 400 bad_request",
        "GET /rooms/lobby/messages?after=&after= 400 bad_request",
        "GET /participants?sub=1&sub=2 400 bad_request",
        "DELETE /rooms/lobby?force&force 400 bad_request",
    ];
    for case in cases {
        let [method, path, status, code] = case.split(' ').collect::<Vec<_>>()[..] else {
            panic!("{case}: four words");
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let status = StatusCode::from_u16(status.parse().unwrap()).unwrap();
        let answer = api.send(method, path, None).await;
        answer.assert_refused(status, code, case);
    }
    // The lobby survived the refused DELETE; `after=0` reads from the start.
    let page = api.get("/rooms/lobby/messages?after=0&limit=5").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
}

/// A key given twice in a body is refused, at any depth, on every endpoint
/// that takes one, and nothing changes (the outside tester's
/// `{"text":"a","text":"b"}` was posted as "b", and `{"locked":true,
/// "locked":false}` applied the last; the WebSocket refuses such frames).
#[tokio::test]
async fn a_key_given_twice_in_a_body_is_refused() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    let (_guest, ready) = app.guest_in(&site.public_key, "guest", "lobby").await;
    let mute = format!("/participants/{}/mute", ready["me"]["id"]);
    for (case, method, path, body) in bodies_with_a_key_twice(&mute) {
        let answer = send(&api, method, path, body, "application/json").await;
        answer.assert_refused(StatusCode::BAD_REQUEST, "bad_request", case);
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains("more than once"), "{case}: {message}");
    }
    assert_nothing_changed(&api, &ready["me"]["id"]).await;
}

/// Bodies that give a key twice, on every endpoint that takes one: (case, method, path,
/// body); `mute` is a participant's mute path.
fn bodies_with_a_key_twice(mute: &str) -> Vec<(&'static str, Method, &str, &'static str)> {
    vec![
        (
            "text twice",
            Method::POST,
            "/rooms/lobby/messages",
            r#"{"cid":"d1","text":"a","text":"b"}"#,
        ),
        (
            "cid twice",
            Method::POST,
            "/rooms/lobby/messages",
            r#"{"cid":"d1","text":"a","cid":"d2"}"#,
        ),
        (
            "escaped the second time",
            Method::POST,
            "/rooms/lobby/messages",
            r#"{"cid":"d1","text":"a","t\u0065xt":"b"}"#,
        ),
        (
            "the same value twice",
            Method::POST,
            "/rooms/lobby/messages",
            r#"{"cid":"d1","text":"a","text":"a"}"#,
        ),
        (
            "nested",
            Method::POST,
            "/rooms/lobby/messages",
            r#"{"cid":"d1","text":"a","user":{"sub":"1","name":"A","sub":"2"}}"#,
        ),
        (
            "locked twice",
            Method::PATCH,
            "/rooms/lobby",
            r#"{"locked":true,"locked":false}"#,
        ),
        (
            "a limit twice",
            Method::PATCH,
            "/rooms/lobby",
            r#"{"max_message_chars":null,"max_message_chars":5}"#,
        ),
        (
            "name twice",
            Method::POST,
            "/rooms",
            r#"{"name":"one","name":"two"}"#,
        ),
        (
            "minutes twice",
            Method::POST,
            mute,
            r#"{"minutes":5,"minutes":50000}"#,
        ),
        (
            "ip twice",
            Method::POST,
            "/bans",
            r#"{"ip":"10.0.0.1","reason":"x","ip":"10.0.0.2"}"#,
        ),
    ]
}

/// Nothing was posted, changed, made, muted or banned (`me`: the guest's id).
async fn assert_nothing_changed(api: &Api, me: &Value) {
    let page = api.get("/rooms/lobby/messages").await;
    assert_eq!(page.body["messages"], json!([]));
    assert_eq!(api.get("/rooms/lobby").await.body["locked"], false);
    assert_eq!(
        api.get("/rooms").await.body["rooms"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api.get("/bans").await.body["bans"], json!([]));
    let guest = api.get(&format!("/participants/{me}")).await;
    assert!(guest.body["muted"].is_null(), "{}", guest.body);
}

#[tokio::test]
async fn a_405_says_which_methods_are_allowed() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    for (method, path, allow) in [
        (Method::PUT, "/rooms", "GET, POST"),
        (Method::POST, "/rooms/lobby/online", "GET"),
        (Method::GET, "/rooms/lobby/messages/1", "DELETE"),
        (Method::PUT, "/rooms/lobby", "GET, PATCH, DELETE"),
        (Method::POST, "/openapi.json", "GET"),
    ] {
        let answer = api.send(method.clone(), path, None).await;
        answer.assert_refused(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", path);
        assert_eq!(answer.headers["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn hostile_authorization_headers_get_a_401_never_more() {
    let app = TestApp::spawn().await;
    let anonymous = Api::new(&app, None);
    let long = format!("Bearer ck_{}", "a".repeat(10_000));
    for header in ["Bearer", "Bearer ", "bearer ck_x", long.as_str()] {
        let req = anonymous
            .raw(Method::GET, "/rooms")
            .header("Authorization", header);
        let answer = Api::read(req).await;
        answer.assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &header[..header.len().min(20)],
        );
    }
    let bytes = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
    let answer = Api::read(
        anonymous
            .raw(Method::GET, "/rooms")
            .header("Authorization", bytes),
    )
    .await;
    answer.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "non-UTF-8 header");
    let _: Value = answer.body;
}

/// Any JSON value, a few levels deep, with the field names the bodies use.
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            object_of(inner),
        ]
    })
}

/// A JSON object of up to 4 fields with the names the bodies use.
fn object_of(
    inner: impl proptest::strategy::Strategy<Value = Value>,
) -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let name = prop::sample::select(vec![
        "cid",
        "text",
        "user",
        "sub",
        "name",
        "avatar",
        "locked",
        "slow_mode_secs",
        "approve_first",
        "max_message_chars",
        "participant",
        "ip",
        "reason",
        "minutes",
        "x",
    ]);
    prop::collection::btree_map(name.prop_map(str::to_owned), inner, 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Random JSON bodies to every endpoint that takes one: never a 5xx, and
/// the server stays up.
#[tokio::test]
async fn random_bodies_never_get_a_server_error() {
    use proptest::strategy::{Strategy, ValueTree};
    let app = TestApp::builder()
        .api(|a| {
            a.api_requests_per_second = 10_000;
            a.api_request_burst = 10_000;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let api = Api::full(&app, &site).await;
    api.post("/rooms", json!({"name": "lobby"})).await;
    let (_alice, ready) = app.guest_in(&site.public_key, "alice", "lobby").await;
    let alice = ready["me"]["id"].as_i64().unwrap();
    // Each with a valid body the random fields are laid over (half the
    // time), so that they get past the shape into the endpoint's checks.
    let endpoints = [
        (Method::POST, "/rooms".to_owned(), json!({"name": "hall"})),
        (Method::PATCH, "/rooms/lobby".to_owned(), json!({})),
        (
            Method::POST,
            "/rooms/lobby/messages".to_owned(),
            json!({"cid": "c", "text": "t"}),
        ),
        (
            Method::POST,
            "/bans".to_owned(),
            json!({"ip": "10.9.8.7", "reason": "r"}),
        ),
        (
            Method::POST,
            format!("/participants/{alice}/mute"),
            json!({"minutes": 1, "reason": "r"}),
        ),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    // Objects: every body of the API is one (others are refused up front,
    // which `bad_bodies_are_refused_with_a_clear_4xx` covers).
    let strategy = object_of(any_json());
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..300 {
        let mut body = strategy.new_tree(&mut runner).unwrap().current();
        let (method, path, valid) = &endpoints[i % endpoints.len()];
        if i % 2 == 0 {
            let mut over = valid.clone();
            over.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            body = over;
        }
        let answer = api.send(method.clone(), path, Some(&body)).await;
        assert!(
            answer.status.as_u16() < 500 && answer.body["error"].is_string()
                || answer.status.is_success(),
            "{method} {path} {body}: {} {}",
            answer.status,
            answer.body
        );
        *seen
            .entry(answer.body["error"].as_str().unwrap_or("ok").to_owned())
            .or_insert(0) += 1;
    }
    // The bodies reached past the JSON parser, into the endpoints' own checks.
    assert!(seen.len() >= 3, "{seen:?}");
    eprintln!("answers by code: {seen:?}");
    assert_eq!(api.get("/rooms/lobby").await.status, StatusCode::OK);
}
