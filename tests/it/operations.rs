//! Health, metrics, assets, demo site, shutdown and restart.

use serde_json::json;

use crate::support::close;
use crate::support::*;

#[tokio::test]
async fn health_metrics_and_assets_are_served() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();

    let health = http.get(app.http_url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "m", "lobby").await;
    client.say("lobby", "1", "counted").await;
    client
        .send_raw(tokio_tungstenite::tungstenite::Message::text("nope"))
        .await;
    client.recv_type("error").await;
    let metrics = http
        .get(app.http_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("chatctl_connections 1"), "{metrics}");
    assert!(
        metrics.contains("chatctl_messages_committed_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("chatctl_frame_errors_total{code=\"bad_json\"} 1"),
        "{metrics}"
    );

    let widget = http.get(app.http_url("/widget.js")).send().await.unwrap();
    assert_eq!(widget.status(), 200);
    assert!(widget.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let etag = widget.headers()["etag"].to_str().unwrap().to_owned();
    assert!(widget.text().await.unwrap().contains("Chatctl"));
    let cached = http
        .get(app.http_url("/widget.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let missing = http.get(app.http_url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<serde_json::Value>().await.unwrap()["error"],
        "not_found"
    );
}

#[tokio::test]
async fn the_demo_page_embeds_a_working_demo_site() {
    let app = TestApp::spawn().await;
    let page = reqwest::get(app.http_url("/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.unwrap();
    let key_start = html
        .find("data-site=\"")
        .expect("script tag with a site key")
        + "data-site=\"".len();
    let key = &html[key_start..key_start + 27];
    assert!(key.starts_with("pk_"), "{key}");
    // The demo site accepts the server's own origin.
    let origin = format!("http://{}", app.addr);
    let mut client = app
        .try_connect(key, Some(&origin))
        .await
        .expect("demo site allows its own origin");
    // (Not "demo": that is the demo site's name, which guests may not take.)
    assert_eq!(
        client.hello(json!({"nick": "visitor"})).await["type"],
        "ready"
    );
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect_and_keeps_acked_messages() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "s", "lobby").await;
    for i in 0..5 {
        client
            .say("lobby", &i.to_string(), &format!("before restart {i}"))
            .await;
    }
    let closing = tokio::spawn(async move { client.closed().await });
    let database = app.stop().await;
    let closed = closing.await.unwrap();
    assert_eq!(closed.code, close::RESTARTING);
    assert_eq!(closed.notice.unwrap()["code"], "restarting");

    let app = TestApp::builder().database(database).spawn().await;
    let (mut client, _) = app.guest(&site.public_key, "s2").await;
    let welcome = client.join("lobby", None).await;
    assert_eq!(texts(&welcome).len(), 5);
    assert_eq!(
        client.say("lobby", "after", "after restart").await["seq"],
        6,
        "seq continues after restart"
    );
}

/// With `--metrics-bind`, `/metrics` is served on that address only: the
/// public listener, which every visitor reaches, answers 404 for it.
#[tokio::test]
async fn metrics_can_be_kept_off_the_public_listener() {
    use crate::support::process::ServerProcess;
    let database = test_db();
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let bind = metrics_addr.to_string();
    let server = ServerProcess::start(&database.url, &["--metrics-bind", &bind]).await;
    let get = |url: String| async move { reqwest::get(url).await.expect("answers") };
    let public = get(format!("http://{}/metrics", server.addr)).await;
    assert_eq!(public.status(), 404);
    assert_eq!(
        get(format!("http://{}/healthz", server.addr))
            .await
            .status(),
        200
    );
    let private = get(format!("http://{metrics_addr}/metrics")).await;
    assert_eq!(private.status(), 200);
    assert!(private
        .text()
        .await
        .unwrap()
        .contains("chatctl_connections"));
    assert_eq!(
        get(format!("http://{metrics_addr}/healthz")).await.status(),
        200
    );
    let elsewhere = get(format!("http://{metrics_addr}/widget.js")).await;
    assert_eq!(elsewhere.status(), 404, "only metrics and health there");
}

/// An outbound queue too small for one long message would cut every reader
/// at the first one: refused at start-up, saying what would do.
#[test]
fn an_outbound_queue_smaller_than_one_message_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("q.db").display());
    let out = std::process::Command::new(crate::support::process::chatctl())
        .args(["--database-url", &url, "serve", "--no-demo"])
        .args(["--bind", "127.0.0.1:0", "--outbound-queue-bytes", "4096"])
        .output()
        .expect("run chatctl serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--outbound-queue-bytes 4096 cannot hold one message of --max-message-chars 4000: set it to at least 28096"),
        "{stderr}"
    );
}
