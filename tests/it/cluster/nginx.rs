//! The nginx configuration the README gives (`docs/nginx-chatctl.conf`), run
//! for real in front of two instances, through a rolling restart: each
//! instance in turn is stopped (SIGTERM) and started again while clients
//! reconnect through nginx to the other and resume, losing nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{broker_becomes, cluster_env, in_ci, receive, ClusterEnv, SETTLE};
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::wait::poll;
use crate::support::{Client, ORIGIN};

struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx with the README's configuration, its upstream servers replaced
    /// by `backends`; `None` (with a message) when nginx is not installed.
    async fn start(test: &str, backends: &[&ServerProcess]) -> Option<Nginx> {
        let binary = ["/usr/sbin/nginx", "nginx"].into_iter().find(|b| {
            Command::new(b)
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(binary) = binary else {
            assert!(
                !in_ci(),
                "nginx is missing on CI: apt-get install nginx-light"
            );
            eprintln!("SKIPPED {test}: nginx is not installed (apt-get install nginx-light)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let site = our_config(port, backends);
        std::fs::write(dir.path().join("chatctl.conf"), site).unwrap();
        let d = dir.path().display();
        let main = format!(
            // One process: a SIGKILL on drop then leaves no worker behind
            // (orphaned workers kept listening after every run).
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             include {d}/chatctl.conf; }}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let child = Command::new(binary)
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let started = |_| error_log(dir.path());
        let up = || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(started)
        };
        poll(
            "nginx to start",
            Duration::from_secs(10),
            Duration::from_millis(50),
            up,
        )
        .await;
        Some(Nginx {
            child,
            port,
            _dir: dir,
        })
    }

    async fn connect(&self, key: &str) -> Client {
        let mut request = format!("ws://127.0.0.1:{}/ws?site={key}", self.port)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("origin", ORIGIN.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "upgrade through nginx: {e}\n{}",
                    error_log(self._dir.path())
                )
            });
        Client { ws }
    }

    /// A guest (the same one again with `token`) in the lobby, resumed from `since`.
    async fn joined(&self, key: &str, hello: Value, since: Option<i64>) -> (Client, Value) {
        let mut client = self.connect(key).await;
        let ready = client.hello(hello).await;
        assert_eq!(ready["type"], "ready", "{ready}");
        let welcome = client.join("lobby", since).await;
        if since.is_some() {
            assert_eq!(welcome["mode"], "resumed", "{welcome}");
        }
        (client, ready)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

/// `docs/nginx-chatctl.conf` with our port and instances.
fn our_config(port: u16, backends: &[&ServerProcess]) -> String {
    let text = include_str!("../../../docs/nginx-chatctl.conf");
    let mut out = String::new();
    let mut servers_done = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("server 10.0.0.") {
            if !servers_done {
                for b in backends {
                    out.push_str(&format!("    server {} max_fails=0;\n", b.addr));
                }
                servers_done = true;
            }
        } else if trimmed.starts_with("listen 80;") {
            out.push_str(&format!("    listen 127.0.0.1:{port};\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(servers_done, "the configuration names its upstream servers");
    out
}

/// Two clients through nginx; each instance in turn is stopped and started
/// again. After each stop the clients reconnect through nginx (which skips
/// the stopped instance) and resume: every message reaches both, once, in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_nginx_loses_nothing() {
    let test = "a_rolling_restart_behind_nginx_loses_nothing";
    let Some(ClusterEnv { database, redis }) = cluster_env(test).await else {
        return;
    };
    let key = create_site(&database.url);
    let broker = redis.url();
    let start = async |name: &str| {
        let mut args: Vec<&str> = FAST.to_vec();
        args.extend(["--instance-name", name, "--trusted-proxies", "127.0.0.1"]);
        args.extend(["--broker-url", &broker]);
        ServerProcess::start(&database.url, &args).await
    };
    let mut a = start("a").await;
    let mut b = start("b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let Some(nginx) = Nginx::start(test, &[&a, &b]).await else {
        return;
    };
    let (mut ann, ann_ready) = nginx.joined(&key, json!({"nick": "ann"}), None).await;
    let (mut bob, bob_ready) = nginx.joined(&key, json!({"nick": "bob"}), None).await;
    let mut expected = Vec::new();
    let mut seq = 0;
    for round in 0..3 {
        // Ann speaks and Bob hears it, then the other way round.
        for turn in 0..2 {
            let (who, speaker, hearer) = if turn == 0 {
                ("ann", &mut ann, &mut bob)
            } else {
                ("bob", &mut bob, &mut ann)
            };
            seq += 1;
            let text = format!("{who} {round}");
            let ack = speaker.say("lobby", &format!("{who}{round}"), &text).await;
            assert_eq!(ack["seq"], seq);
            assert_eq!(receive(hearer, 1, SETTLE).await, [(seq, text.clone())]);
            expected.push((seq, text));
        }
        if round == 2 {
            break;
        }
        // Stop one instance (a deploy), reconnect both clients through
        // nginx, resume, and bring the instance back.
        let stopping = if round == 0 { &mut a } else { &mut b };
        assert!(stopping.terminate(Duration::from_secs(15)).await.is_some());
        drop((ann, bob));
        (ann, _) = nginx
            .joined(
                &key,
                json!({"guest_token": ann_ready["guest_token"]}),
                Some(seq),
            )
            .await;
        (bob, _) = nginx
            .joined(
                &key,
                json!({"guest_token": bob_ready["guest_token"]}),
                Some(seq),
            )
            .await;
        stopping.restart().await;
        broker_becomes(stopping, "up", Duration::from_secs(10)).await;
    }
    let history: Vec<(i64, String)> = a
        .history(&key, "lobby")
        .await
        .iter()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(history, expected);
}
