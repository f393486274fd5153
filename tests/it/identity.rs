//! Users verified by the host site: JWT HS256 signed with the site secret.

use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::Site;
use serde_json::{json, Value};

use crate::support::jwt::{exp, sign};
use crate::support::*;

async fn hello_with(app: &TestApp, key: &str, fields: Value) -> (Client, Value) {
    let mut client = app.connect(key).await;
    let reply = client.hello(fields).await;
    (client, reply)
}

#[tokio::test]
async fn a_signed_token_identifies_the_user() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let token = sign(
        &site.secret,
        json!({"sub": "user-42", "name": "Ann Lee", "avatar": "https://img.example/ann.png", "exp": exp()}),
    );
    let (_, ready) = hello_with(&app, &site.public_key, json!({"token": token})).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(
        (ready["me"]["nick"].as_str(), ready["me"]["kind"].as_str()),
        (Some("Ann Lee"), Some("verified"))
    );
    assert_eq!(ready["me"]["avatar"], "https://img.example/ann.png");
    assert!(
        ready.get("guest_token").is_none(),
        "no guest token can stand in for a verified identity"
    );

    // Same subject later (new token, new name): same participant, name updated.
    let again = sign(
        &site.secret,
        json!({"sub": "user-42", "name": "Ann L.", "exp": exp()}),
    );
    let (mut ann, ready2) = hello_with(&app, &site.public_key, json!({"token": again})).await;
    assert_eq!(ready2["me"]["id"], ready["me"]["id"]);
    assert_eq!(ready2["me"]["nick"], "Ann L.");

    ann.join("lobby", None).await;
    let (mut guest, _) = app.guest_in(&site.public_key, "visitor", "lobby").await;
    ann.say("lobby", "1", "hi from a verified user").await;
    let msg = guest.recv_type("message").await;
    assert_eq!(
        (
            msg["author"]["kind"].as_str(),
            msg["author"]["nick"].as_str()
        ),
        (Some("verified"), Some("Ann L."))
    );
}

/// Says hello with each token on one connection: each is refused as
/// `invalid_token`, its message containing the hint (never a guest instead).
async fn assert_refused(client: &mut Client, cases: Vec<(&str, String, &str)>) {
    for (case, token, hint) in cases {
        let reply = client
            .hello(json!({"token": token, "nick": "fallback"}))
            .await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("invalid_token")),
            "{case}: {reply}"
        );
        assert!(
            reply["message"].as_str().unwrap().contains(hint),
            "{case}: {reply}"
        );
    }
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused_never_downgraded() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let other = app.site(&[ORIGIN]).await;
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let payload = b64(&json!({"sub": "1", "name": "Mallory", "exp": exp()}).to_string());
    let user = json!({"sub": "1", "name": "A", "exp": exp()});
    let cases = vec![
        (
            "expired",
            sign(
                &site.secret,
                json!({"sub": "1", "name": "A", "exp": 1_000_000}),
            ),
            "expired",
        ),
        (
            "wrong signature",
            sign("not the secret", user.clone()),
            "signature",
        ),
        (
            "other site's secret",
            sign(&other.secret, user.clone()),
            "signature",
        ),
        (
            "site claim mismatch",
            sign(
                &site.secret,
                json!({"sub": "1", "name": "A", "exp": exp(), "site": other.public_key}),
            ),
            "another site",
        ),
        (
            "alg none",
            format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#)),
            "",
        ),
        (
            "RS256 confusion",
            format!(
                "{}.{payload}.{}",
                b64(r#"{"alg":"RS256","typ":"JWT"}"#),
                b64("x")
            ),
            "HS256",
        ),
        ("garbage", "x.y.z".to_owned(), ""),
    ];
    let mut client = app.connect(&site.public_key).await;
    assert_refused(&mut client, cases).await;
    // The connection is still usable, and a good token works on it.
    let good = sign(
        &site.secret,
        json!({"sub": "1", "name": "Real", "exp": exp()}),
    );
    assert_eq!(
        client.hello(json!({"token": good})).await["me"]["kind"],
        "verified"
    );
}

#[tokio::test]
async fn tokens_missing_a_claim_or_with_a_bad_one_are_refused() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let secret = site.secret.as_str();
    let script = json!({"sub": "1", "name": "A", "exp": exp(), "avatar": "javascript:alert(1)"});
    let cases = vec![
        (
            "missing exp",
            sign(secret, json!({"sub": "1", "name": "A"})),
            "exp",
        ),
        (
            "missing sub",
            sign(secret, json!({"name": "A", "exp": exp()})),
            "sub",
        ),
        (
            "missing name",
            sign(secret, json!({"sub": "1", "exp": exp()})),
            "name",
        ),
        ("script avatar", sign(secret, script), "avatar"),
    ];
    let mut client = app.connect(&site.public_key).await;
    assert_refused(&mut client, cases).await;
}

/// Rotated from the command line (another process) while the server runs
/// and has the site in memory: the old secret stops working at the next
/// hello, the new one works.
#[tokio::test]
async fn a_rotated_secret_invalidates_old_tokens() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let claims = json!({"sub": "1", "name": "Real", "exp": exp()});
    let old = sign(&site.secret, claims.clone());
    let (_, reply) = hello_with(&app, &site.public_key, json!({"token": old})).await;
    assert_eq!(reply["type"], "ready", "{reply}");

    let out = crate::support::cli::stdout(crate::support::cli::chatctl(&app.database).args([
        "site",
        "rotate-secret",
        &site.public_key,
    ]));
    let secret = out
        .split_whitespace()
        .find(|word| word.starts_with("sk_"))
        .unwrap_or_else(|| panic!("a new secret in {out:?}"))
        .to_owned();
    let key = site.public_key.clone();
    let refused = |token: &str| {
        let (app, key, token) = (&app, key.clone(), token.to_owned());
        async move {
            let (_, reply) = hello_with(app, &key, json!({"token": token})).await;
            reply["code"] == "invalid_token"
        }
    };
    crate::support::wait::poll(
        "the old secret refused",
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(50),
        || async { refused(&old).await.then_some(()).ok_or("still accepted") },
    )
    .await;
    assert!(
        !refused(&sign(&secret, claims)).await,
        "the new secret works"
    );
}

#[tokio::test]
async fn token_rooms_limit_where_the_user_goes() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let token = sign(
        &site.secret,
        json!({"sub": "9", "name": "Limited", "exp": exp(), "rooms": ["support"]}),
    );
    let (mut client, _) = hello_with(&app, &site.public_key, json!({"token": token})).await;
    client.join("support", None).await;
    client.send(json!({"type": "join", "room": "lobby"})).await;
    let err = client.recv().await;
    assert_eq!(
        (err["code"].as_str(), err["room"].as_str()),
        (Some("room_forbidden"), Some("lobby"))
    );
}

#[tokio::test]
async fn sites_can_require_verified_identity_and_guests_cannot_take_verified_names() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let token = sign(
        &site.secret,
        json!({"sub": "7", "name": "Boss", "exp": exp()}),
    );
    hello_with(&app, &site.public_key, json!({"token": token.clone()})).await;

    for nick in ["Boss", "boss", "  BOSS "] {
        let (_, reply) = hello_with(&app, &site.public_key, json!({"nick": nick})).await;
        assert_eq!(reply["code"], "nick_taken", "{nick}: {reply}");
    }
    let (_, ready) = hello_with(&app, &site.public_key, json!({"nick": "Bossy"})).await;
    assert_eq!(ready["me"]["kind"], "guest", "guests are marked as guests");
    // A returning guest cannot rename into the verified name either.
    let (_, renamed) = hello_with(
        &app,
        &site.public_key,
        json!({"guest_token": ready["guest_token"], "nick": "boss"}),
    )
    .await;
    assert_eq!(renamed["code"], "nick_taken");

    app.configure_site(
        &site,
        SiteSettings {
            verified_required: Some(true),
            ..Default::default()
        },
    )
    .await;
    let (_, refused) = hello_with(&app, &site.public_key, json!({"nick": "visitor"})).await;
    assert_eq!(refused["code"], "verification_required");
    let (_, refused) = hello_with(
        &app,
        &site.public_key,
        json!({"guest_token": ready["guest_token"]}),
    )
    .await;
    assert_eq!(
        refused["code"], "verification_required",
        "returning guests too"
    );
    let (mut boss, ready) = hello_with(&app, &site.public_key, json!({"token": token})).await;
    assert_eq!(ready["type"], "ready");
    boss.join("lobby", None).await;
    boss.say("lobby", "1", "verified users can talk").await;
}

/// RFC 7519 §4.1.5: a token is not accepted before its `nbf`, with the same
/// 60-second leeway as `exp` (issue 12, item 9).
#[tokio::test]
async fn tokens_are_refused_before_their_not_before_time() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let refused = [
        ("an hour ahead", json!(now + 3600), "not valid yet"),
        (
            "two minutes ahead, beyond the leeway",
            json!(now + 120),
            "not valid yet",
        ),
        (
            "a year ahead, as a float",
            json!((now + 31_536_000) as f64 + 0.5),
            "not valid yet",
        ),
        (
            "a string, which is no NumericDate",
            json!("2999-01-01"),
            "malformed",
        ),
        ("an object", json!({"at": now}), "malformed"),
        // Too large for a u64: the JWT library skipped such an nbf.
        ("1e20, beyond any u64", json!(1e20), "not valid yet"),
        (
            "2^64 seconds",
            json!(18_446_744_073_709_551_616.0),
            "not valid yet",
        ),
    ];
    for (case, nbf, says) in refused {
        let token = sign(
            &site.secret,
            json!({"sub": "n1", "name": "Early", "exp": now + 7200, "nbf": nbf}),
        );
        let (_, reply) = hello_with(&app, &site.public_key, json!({"token": token})).await;
        assert_eq!(reply["code"], "invalid_token", "{case}: {reply}");
        let message = reply["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(says), "{case}: {reply}");
    }
    let accepted = [
        ("in the past", now - 600),
        ("now", now),
        ("within the leeway (clock skew)", now + 30),
    ];
    for (case, nbf) in accepted {
        let token = sign(
            &site.secret,
            json!({"sub": "n2", "name": "On time", "exp": now + 7200, "nbf": nbf}),
        );
        let (_, reply) = hello_with(&app, &site.public_key, json!({"token": token})).await;
        assert_eq!(reply["type"], "ready", "{case}: {reply}");
    }
}

/// `iat` (issued at, RFC 7519 §4.1.6) is a NumericDate too, and a token
/// issued in the future (beyond the leeway) is not valid yet; `exp` of the
/// wrong type is named for what it is (issue 12, item 9: other inputs).
/// Says hello with a token for user `sub` carrying these time claims; returns the reply.
async fn hello_timed(app: &TestApp, site: &Site, sub: &str, times: Value) -> Value {
    let mut claims = json!({"sub": sub, "name": "Timely"});
    claims
        .as_object_mut()
        .unwrap()
        .extend(times.as_object().unwrap().clone());
    let token = sign(&site.secret, claims);
    hello_with(app, &site.public_key, json!({"token": token}))
        .await
        .1
}

#[tokio::test]
async fn token_times_of_every_kind_are_checked_by_value() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let refused = [
        (
            "iat a day ahead",
            json!({"exp": now + 7200, "iat": now + 86_400}),
            "not valid yet",
        ),
        (
            "iat 1e20",
            json!({"exp": now + 7200, "iat": 1e20}),
            "not valid yet",
        ),
        (
            "iat a string",
            json!({"exp": now + 7200, "iat": "yesterday"}),
            "numericdate",
        ),
        (
            "exp a string",
            json!({"exp": (now + 7200).to_string()}),
            "numericdate",
        ),
        ("exp negative", json!({"exp": -1}), "expired"),
        (
            "exp past, as a float",
            json!({"exp": (now - 3600) as f64 + 0.5}),
            "expired",
        ),
        ("exp null", json!({"exp": null}), "exp"),
    ];
    for (case, times, says) in refused {
        let reply = hello_timed(&app, &site, "t1", times).await;
        assert_eq!(reply["code"], "invalid_token", "{case}: {reply}");
        let message = reply["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(says), "{case}: {reply}");
    }
    let accepted = [
        ("iat now", json!({"exp": now + 7200, "iat": now})),
        (
            "iat within the leeway",
            json!({"exp": now + 7200, "iat": now + 30}),
        ),
        ("nbf before 1970", json!({"exp": now + 7200, "nbf": -1})),
        ("exp far ahead", json!({"exp": 1e15})),
        ("exp as a float", json!({"exp": now as f64 + 600.25})),
    ];
    for (case, times) in accepted {
        let reply = hello_timed(&app, &site, "t2", times).await;
        assert_eq!(reply["type"], "ready", "{case}: {reply}");
    }
}
