//! Several `chatctl serve` processes on one PostgreSQL database (and one
//! Redis, started by each test on its own port) behaving as one chat server.
//!
//! These tests run in the PostgreSQL pass (`DATABASE_URL=postgres://...`);
//! on SQLite, and without `redis-server` for those that need it, they are
//! skipped with a message, except under `CI=true`, where they fail.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::wait::{listening, poll};
use crate::support::*;

mod api;
mod broker;
mod changes;
mod crowd;
mod dashboard;
mod db_cut;
mod loss;
mod moderation;
mod nginx;
mod order;
mod presence;
mod quota;
mod recent;
mod slow_mode;

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A fresh PostgreSQL database, or `None` (with a message) on the SQLite run.
pub(crate) fn cluster_db(test: &str) -> Option<TestDb> {
    if postgres_base_url().is_none() {
        eprintln!("SKIPPED {test}: several instances need PostgreSQL (run with DATABASE_URL=postgres://...)");
        return None;
    }
    Some(test_db())
}

/// A `redis-server` of the test's own on a free loopback port, without
/// persistence: a restart comes back empty, like a crashed cache.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    /// `None` (with a message) when `redis-server` is not installed; under
    /// `CI=true` a missing `redis-server` fails the test.
    pub async fn start(test: &str) -> Option<RedisServer> {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                !in_ci(),
                "redis-server is missing on CI: apt-get install redis-server"
            );
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (apt-get install redis-server)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Self::spawn(port);
        let server = RedisServer { child, port };
        server.wait_ready().await;
        Some(server)
    }

    fn spawn(port: u16) -> std::process::Child {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server")
    }

    async fn wait_ready(&self) {
        let addr = ("127.0.0.1", self.port);
        listening("redis-server to start", addr, Duration::from_secs(10)).await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL redis-server");
        self.child.wait().expect("reap redis-server");
    }

    /// Starts again, empty, on the same port.
    pub async fn restart(&mut self) {
        self.child = Self::spawn(self.port);
        self.wait_ready().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the instances of a cluster test share: a PostgreSQL database and a
/// Redis, both living as long as the test keeps them.
pub(crate) struct ClusterEnv {
    pub database: TestDb,
    pub redis: RedisServer,
}

/// A [`ClusterEnv`], or `None` when skipped.
pub(crate) async fn cluster_env(test: &str) -> Option<ClusterEnv> {
    let database = cluster_db(test)?;
    let redis = RedisServer::start(test).await?;
    Some(ClusterEnv { database, redis })
}

/// Two instances A and B on one broker, both subscribed, and a site on them.
pub(crate) struct Pair {
    pub env: ClusterEnv,
    /// The site's public key.
    pub key: String,
    pub a: ServerProcess,
    pub b: ServerProcess,
}

/// A [`Pair`], or `None` when skipped (see [`cluster_env`]).
pub(crate) async fn pair(test: &str) -> Option<Pair> {
    let env = cluster_env(test).await?;
    let key = create_site(&env.database.url);
    let a = instance(&env.database, Some(&env.redis.url()), "a").await;
    let b = instance(&env.database, Some(&env.redis.url()), "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    Some(Pair { env, key, a, b })
}

/// Starts an instance on the broker, with rate limits out of the way.
pub(crate) async fn instance(database: &TestDb, broker: Option<&str>, name: &str) -> ServerProcess {
    let mut args: Vec<&str> = FAST.to_vec();
    args.extend(["--instance-name", name]);
    if let Some(url) = broker {
        args.extend(["--broker-url", url]);
    }
    ServerProcess::start(&database.url, &args).await
}

pub(crate) async fn health(server: &ServerProcess) -> Value {
    let response = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .expect("healthz answers");
    response.json().await.expect("healthz JSON")
}

/// Waits until the instance's `/healthz` reports the broker as `state`.
pub(crate) async fn broker_becomes(server: &ServerProcess, state: &str, within: Duration) {
    let what = format!("the broker {state}");
    poll(&what, within, Duration::from_millis(100), || async {
        let body = health(server).await;
        if body["broker"] == state {
            Ok(())
        } else {
            Err(body)
        }
    })
    .await;
}

/// Reads `message` frames until `n` arrived; returns `(seq, text)` in order
/// of arrival. Fails after `within`.
pub(crate) async fn receive(client: &mut Client, n: usize, within: Duration) -> Vec<(i64, String)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, client.recv_type("message"))
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived: {got:?}", got.len()));
        got.push((
            frame["seq"].as_i64().unwrap(),
            frame["text"].as_str().unwrap().to_owned(),
        ));
    }
    got
}

/// The seqs of the next `n` messages (see [`receive`]).
pub(crate) async fn receive_seqs(client: &mut Client, n: usize, within: Duration) -> Vec<i64> {
    let got = receive(client, n, within).await;
    got.into_iter().map(|(seq, _)| seq).collect()
}

/// Like a [`Pair`], with A in this process, so that a test calls its
/// services directly (as the panel and the command line do).
struct InProcessPair {
    _redis: RedisServer,
    key: String,
    a: TestApp,
    b: ServerProcess,
}

async fn in_process_pair(test: &str) -> Option<InProcessPair> {
    let ClusterEnv { database, redis } = cluster_env(test).await?;
    let key = create_site(&database.url);
    let broker = redis.url();
    let a = TestApp::builder()
        .database(database)
        .config(|config| {
            config.cluster.broker_url = Some(broker.clone());
        })
        .spawn()
        .await;
    let b = instance(&a.database, Some(&redis.url()), "b").await;
    broker_becomes(&b, "up", Duration::from_secs(10)).await;
    Some(InProcessPair {
        _redis: redis,
        key,
        a,
        b,
    })
}

pub(crate) const SETTLE: Duration = Duration::from_secs(10);
