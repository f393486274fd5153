//! The OpenAPI 3.1 description served at `/api/v1/openapi.json`: valid by a
//! real validator (`openapi-spec-validator`, Python), and the server's real
//! answers valid by the schemas it documents (`openapi-schema-validator`).
//! Without the validator these tests are skipped loudly, except under
//! `CI=true` where they fail (`.ci/run` installs it).

use std::io::Write;
use std::process::Command;

use chatctl::db::models::{Scope, Site};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::{key, Api};
use crate::support::*;

/// Validates the document, then each `[schema name, instance]` against it.
const CHECK: &str = r##"
import json, sys
try:
    from openapi_spec_validator import validate_spec
    from openapi_schema_validator import OAS31Validator
except ImportError as err:
    print(err)
    sys.exit(77)
spec = json.load(open(sys.argv[1]))
validate_spec(spec)
failures = []
for name, instance in json.load(open(sys.argv[2])):
    schema = {"$ref": "#/components/schemas/" + name, "components": spec["components"]}
    for error in OAS31Validator(schema).iter_errors(instance):
        failures.append(f"{name}: {error.message} in {json.dumps(instance)[:300]}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"##;

/// Runs [`CHECK`]; `false` (after saying so loudly) when the validator is missing.
fn validate(spec: &str, instances: &[(&str, Value)]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (spec_path, instances_path) = (dir.path().join("openapi.json"), dir.path().join("i.json"));
    std::fs::File::create(&spec_path)
        .unwrap()
        .write_all(spec.as_bytes())
        .unwrap();
    std::fs::write(&instances_path, serde_json::to_vec(instances).unwrap()).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(&spec_path)
        .arg(&instances_path)
        .output();
    let missing = |why: &str| {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the OpenAPI validator is missing on CI ({why}): pip install openapi-spec-validator");
        }
        eprintln!(
            "\n*** SKIPPED OpenAPI validation: {why} (pip install openapi-spec-validator) ***\n"
        );
        false
    };
    match output {
        Err(err) => missing(&format!("python3: {err}")),
        Ok(out) if out.status.code() == Some(77) => {
            missing(String::from_utf8_lossy(&out.stdout).trim())
        }
        Ok(out) => {
            assert!(
                out.status.success(),
                "OpenAPI validation failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
    }
}

#[tokio::test]
async fn the_served_description_is_valid_openapi_and_answers_match_it() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let anonymous = Api::new(&app, None);
    let served = anonymous
        .raw(reqwest::Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "application/json");
    let spec = served.text().await.unwrap();
    let doc: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let seen = answers_of_every_kind(&app, &site, &anonymous).await;
    validate(&spec, &seen);
}

/// Real answers of every kind the description names, each with the name of
/// its schema.
async fn answers_of_every_kind(
    app: &TestApp,
    site: &Site,
    anonymous: &Api,
) -> Vec<(&'static str, Value)> {
    let api = Api::full(app, site).await;
    let reader = Api::new(app, Some(&key(app, site, "reader", &[Scope::Read]).await));
    let mut seen: Vec<(&str, Value)> = Vec::new();
    let room = api.post("/rooms", json!({"name": "news"})).await;
    seen.push(("Room", room.body));
    let (mut alice, _) = app.guest_in(&site.public_key, "alice", "news").await;
    alice.say("news", "a1", "hi").await;
    let posted = api
        .post(
            "/rooms/news/messages",
            json!({"cid": "p1", "text": "hello"}),
        )
        .await;
    seen.push(("Posted", posted.body));
    let user = json!({"sub": "7", "name": "Ann", "avatar": "https://img.example/a.png"});
    let as_user = api
        .post(
            "/rooms/news/messages",
            json!({"cid": "p2", "text": "hi", "user": user}),
        )
        .await;
    seen.push(("Posted", as_user.body));
    seen.push(("MessagePage", api.get("/rooms/news/messages").await.body));
    for room in api.get("/rooms").await.body["rooms"].as_array().unwrap() {
        seen.push(("Room", room.clone()));
    }
    let set = api
        .patch("/rooms/news", json!({"max_message_chars": 100}))
        .await;
    seen.push(("Room", set.body));
    for who in api.get("/rooms/news/online").await.body["online"]
        .as_array()
        .unwrap()
    {
        seen.push(("Who", who.clone()));
    }
    let ann = api.get("/participants?sub=7").await.body;
    let alice_id = alice_id(&api).await;
    api.post(
        &format!("/participants/{alice_id}/mute"),
        json!({"minutes": 5, "reason": "calm"}),
    )
    .await;
    let banned = api
        .post(
            "/bans",
            json!({"sub": "7", "reason": "spam", "minutes": 60}),
        )
        .await;
    seen.push(("Ban", banned.body["ban"].clone()));
    seen.push(("Participant", ann));
    seen.push((
        "Participant",
        api.get(&format!("/participants/{alice_id}")).await.body,
    ));
    for ban in api.get("/bans").await.body["bans"].as_array().unwrap() {
        seen.push(("Ban", ban.clone()));
    }
    for error in [
        anonymous.get("/rooms").await.body,
        reader.post("/rooms", json!({"name": "x"})).await.body,
        api.get("/rooms/nowhere").await.body,
        api.post("/rooms", json!({"nom": "x"})).await.body,
    ] {
        seen.push(("Error", error));
    }
    seen
}

/// The id of the first person online in `news`.
async fn alice_id(api: &Api) -> i64 {
    api.get("/rooms/news/online").await.body["online"][0]["id"]
        .as_i64()
        .unwrap()
}

/// The description is also the one in the source tree, so readers of the
/// repository see what the server serves.
#[test]
fn every_route_of_the_table_is_described() {
    let doc: Value = serde_json::from_str(include_str!("../../src/http/api/openapi.json")).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/rooms", &["get", "post"][..]),
        ("/rooms/{room}", &["get", "patch", "delete"]),
        ("/rooms/{room}/messages", &["get", "post"]),
        ("/rooms/{room}/messages/{seq}", &["delete"]),
        ("/rooms/{room}/online", &["get"]),
        ("/participants", &["get"]),
        ("/participants/{id}", &["get"]),
        ("/participants/{id}/mute", &["post", "delete"]),
        ("/bans", &["get", "post"]),
        ("/bans/{id}", &["delete"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} is not described"
            );
        }
    }
}
