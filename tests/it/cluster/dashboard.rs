//! The admin dashboard of one instance counts what is open on all of them.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{pair, Pair};
use crate::support::panel::{Panel, PASSWORD};
use crate::support::process::{chatctl, ServerProcess};

/// `chatctl user create` of an owner with [`PASSWORD`], like an operator.
fn create_owner(database_url: &str, email: &str) {
    let mut child = Command::new(chatctl())
        .args(["--database-url", database_url, "user", "create"])
        .args(["--email", email, "--name", "Owner", "--role", "owner"])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chatctl user create");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{PASSWORD}").expect("write the password");
    drop(stdin);
    let out = child.wait_with_output().expect("chatctl user create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the dashboard's one site shows `connections` and `rooms`.
async fn dashboard_shows(panel: &mut Panel, connections: u64, rooms: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let page = panel.get("/admin/dashboard.json").await;
        let body: Value = serde_json::from_str(&page.body).expect("dashboard JSON");
        let site = &body["sites"][0];
        if site["connections"] == connections && site["active_rooms"] == rooms {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard should count {connections} connections in {rooms} rooms: {site}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn base(server: &ServerProcess) -> String {
    format!("http://{}", server.addr)
}

/// Visitors on B show on A's dashboard (B's heartbeats carry its counts),
/// and leave it when B dies, once it is taken for dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_connections_and_rooms_on_every_instance() {
    let test = "the_dashboard_counts_connections_and_rooms_on_every_instance";
    let Some(Pair { env, key, a, mut b }) = pair(test).await else {
        return;
    };
    create_owner(&env.database.url, "owner@example.com");
    let mut on_a = Panel::at(base(&a)).logged_in("owner@example.com").await;
    let (_here, _, _) = a.joined(&key, json!({"nick": "ann"}), "news", None).await;
    let (_there, _, _) = b.joined(&key, json!({"nick": "bob"}), "lobby", None).await;
    let (_also_there, _, _) = b.joined(&key, json!({"nick": "cy"}), "lobby", None).await;
    dashboard_shows(&mut on_a, 3, 2, Duration::from_secs(5)).await;

    b.kill9();
    // Taken for dead after --presence-down-secs (3 s) without heartbeats.
    dashboard_shows(&mut on_a, 1, 1, Duration::from_secs(10)).await;
}
