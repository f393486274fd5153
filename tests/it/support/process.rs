//! A real `chatctl serve` process for the fault tests: it can be killed with
//! SIGKILL or SIGTERM and started again on the same database and port.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::wait::listening;
use crate::support::{Client, ORIGIN};

/// The binary under test, built by cargo for this test run.
pub fn chatctl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chatctl"))
}

/// Limits that keep rate limiting out of the way of a fault test, and leaves
/// announced at once (no grace period; see [`with_grace`]).
pub const FAST: &[&str] = &[
    "--presence-grace-ms",
    "0",
    "--messages-per-second",
    "100000",
    "--message-burst",
    "100000",
    "--ip-messages-per-second",
    "100000",
    "--ip-message-burst",
    "100000",
    "--participant-messages-per-second",
    "100000",
    "--participant-message-burst",
    "100000",
    "--resume-cap",
    "100000",
];

/// [`FAST`] with a presence grace period of `ms` instead of none.
pub fn with_grace(ms: &str) -> Vec<&str> {
    let mut args = FAST[2..].to_vec();
    args.extend(["--presence-grace-ms", ms]);
    args
}

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub database_url: String,
    args: Vec<String>,
    /// Where the server's stderr goes, when captured (see [`ServerProcess::start_logged`]).
    log: Option<PathBuf>,
}

/// A site created with the CLI, allowed for [`ORIGIN`]; returns its key.
pub fn create_site(database_url: &str) -> String {
    let out = Command::new(chatctl())
        .args(["--database-url", database_url, "site", "create", "--json"])
        .args(["--name", "faults", "--origin", ORIGIN])
        .output()
        .expect("run chatctl site create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let site: Value = serde_json::from_slice(&out.stdout).expect("site JSON");
    site["public_key"].as_str().expect("public_key").to_owned()
}

/// Creates an API key with every scope for the site `key` with the
/// command line; returns the key.
pub fn create_api_key(database_url: &str, key: &str) -> String {
    let out = Command::new(chatctl())
        .args([
            "--database-url",
            database_url,
            "site",
            "api-key",
            "create",
            key,
        ])
        .args(["--name", "backend", "--scope", "read", "--scope", "publish"])
        .args(["--scope", "moderate", "--json"])
        .output()
        .expect("run chatctl site api-key create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).expect("API key JSON");
    made["key"].as_str().expect("key").to_owned()
}

impl ServerProcess {
    /// Starts `chatctl serve` on a free port and waits until it accepts connections.
    pub async fn start(database_url: &str, extra: &[&str]) -> ServerProcess {
        Self::launch(database_url, extra, None).await
    }

    /// Like [`ServerProcess::start`], with stderr (panics included) written to `log`.
    pub async fn start_logged(database_url: &str, extra: &[&str], log: PathBuf) -> ServerProcess {
        Self::launch(database_url, extra, Some(log)).await
    }

    async fn launch(database_url: &str, extra: &[&str], log: Option<PathBuf>) -> ServerProcess {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(database_url, addr, &args, log.as_ref());
        let server = ServerProcess {
            child,
            addr,
            database_url: database_url.to_owned(),
            args,
            log,
        };
        server.wait_listening().await;
        server
    }

    /// Starts again on the same database and port, after a kill or a stop.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.database_url, self.addr, &self.args, self.log.as_ref());
        self.wait_listening().await;
    }

    async fn wait_listening(&self) {
        listening("chatctl serve to start", self.addr, Duration::from_secs(30)).await;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no drain, no flush, nothing but what was committed.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then how long the process took to exit (None if not within `limit`).
    pub async fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    pub async fn connect(&self, key: &str) -> Client {
        let mut request = format!("ws://{}/ws?site={key}", self.addr)
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("origin", ORIGIN.parse().expect("origin header"));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("upgrade accepted");
        Client { ws }
    }

    /// A client that said hello (as `nick` or with `token`) and joined `room`.
    pub async fn joined(
        &self,
        key: &str,
        hello: Value,
        room: &str,
        since: Option<i64>,
    ) -> (Client, Value, Value) {
        let mut client = self.connect(key).await;
        let ready = client.hello(hello).await;
        assert_eq!(ready["type"], "ready", "{ready}");
        let welcome = client.join(room, since).await;
        (client, ready, welcome)
    }

    /// Every message of a room, read the way a client resumes from the start.
    pub async fn history(&self, key: &str, room: &str) -> Vec<Value> {
        // A new guest each time, each with its own name (a name in use is refused).
        static AUDITORS: AtomicUsize = AtomicUsize::new(0);
        let nick = format!("auditor{}", AUDITORS.fetch_add(1, Ordering::Relaxed));
        let (client, _, welcome) = self
            .joined(key, json!({ "nick": nick }), room, Some(0))
            .await;
        assert_eq!(welcome["mode"], "resumed", "{welcome}");
        client.close().await;
        welcome["messages"].as_array().cloned().unwrap_or_default()
    }

    /// The seqs of [`history`](Self::history).
    pub async fn stored_seqs(&self, key: &str, room: &str) -> Vec<i64> {
        let history = self.history(key, room).await;
        history.iter().map(|m| m["seq"].as_i64().unwrap()).collect()
    }

    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }
}

fn spawn(database_url: &str, addr: SocketAddr, args: &[String], log: Option<&PathBuf>) -> Child {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("create server log")),
        None if std::env::var("TEST_LOG").is_ok() => Stdio::inherit(),
        None => Stdio::null(),
    };
    Command::new(chatctl())
        .args(["--database-url", database_url, "serve", "--no-demo"])
        .args(["--bind", &addr.to_string()])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start chatctl serve")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
