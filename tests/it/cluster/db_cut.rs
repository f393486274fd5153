//! An instance cut off from PostgreSQL in the middle of a transaction holds
//! the rows it locked; the others' writes to the same rooms must not wait
//! for it beyond a bounded time (the writer's `idle_in_transaction` and
//! `lock_timeout` settings end the stranded session and bound the wait).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{cluster_db, instance};
use crate::support::process::{create_site, ServerProcess, FAST};

/// A TCP proxy in front of PostgreSQL that, once armed, lets the first
/// client chunk carrying an `INSERT INTO "messages"` through and then
/// freezes that connection: both ends stay open and nothing moves any
/// more, as when a network cuts an instance off without a reset. The
/// server has then run the insert inside a transaction that holds the
/// room's row lock, and waits for the rest of it.
struct FreezingProxy {
    addr: std::net::SocketAddr,
    armed: Arc<AtomicBool>,
    frozen: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

const NEEDLE: &[u8] = b"INSERT INTO \"messages\"";

impl FreezingProxy {
    async fn start(upstream: std::net::SocketAddr) -> FreezingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(tokio::sync::Notify::new());
        let (a, f) = (armed.clone(), frozen.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (armed, frozen) = (a.clone(), f.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    pipe(client, server, armed, frozen).await;
                });
            }
        });
        FreezingProxy {
            addr,
            armed,
            frozen,
            task,
        }
    }
}

/// Copies both ways until the client sends the insert while armed; then
/// forwards that chunk and holds all four socket halves open, idle, for good.
async fn pipe(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    armed: Arc<AtomicBool>,
    frozen: Arc<tokio::sync::Notify>,
) {
    let (mut client_read, client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let stop = Arc::new(AtomicBool::new(false));
    tokio::spawn(copy_until(server_read, client_write, stop.clone()));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let hit = chunk.windows(NEEDLE.len()).any(|w| w == NEEDLE);
        let freeze = hit && armed.swap(false, Ordering::SeqCst);
        if freeze {
            // Before the server can answer: its reply is held back too.
            stop.store(true, Ordering::SeqCst);
        }
        if server_write.write_all(chunk).await.is_err() {
            return;
        }
        if freeze {
            frozen.notify_one();
            let _open = (&client_read, &server_write);
            std::future::pending::<()>().await;
        }
    }
}

/// Copies server to client until `stop`; then holds both halves open.
async fn copy_until(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    if stop.load(Ordering::SeqCst) {
        let _open = (&from, &to);
        std::future::pending::<()>().await;
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sessions of the test's database left idle inside a transaction.
fn idle_in_transaction(database_url: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::PgConnection::establish(database_url).expect("connect");
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND state = 'idle in transaction'",
    )
    .load(&mut conn)
    .expect("read pg_stat_activity");
    rows[0].n
}

/// A's connection to PostgreSQL freezes right after it inserted a message
/// under the room's row lock. B's sends to the same room are refused with
/// the retryable `storage_unavailable` while the lock is held, and go
/// through within seconds: PostgreSQL ends A's stranded session and
/// releases the lock. (Without the writer's timeouts, B would wait until
/// PostgreSQL's TCP keepalive noticed A was gone: hours by default.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_from_postgres_mid_transaction_blocks_the_others_for_seconds_at_most() {
    let test =
        "an_instance_cut_from_postgres_mid_transaction_blocks_the_others_for_seconds_at_most";
    let Some(database) = cluster_db(test) else {
        return;
    };
    let key = create_site(&database.url);
    let mut url = url::Url::parse(&database.url).unwrap();
    let upstream = (
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    );
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = FreezingProxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    let a = ServerProcess::start(url.as_str(), FAST).await;
    let b = instance(&database, None, "b").await;
    let (mut on_a, _, _) = a.joined(&key, json!({"nick": "a"}), "lobby", None).await;
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "b"}), "lobby", None).await;
    on_a.say("lobby", "a0", "before the cut").await;

    proxy.armed.store(true, Ordering::SeqCst);
    on_a.send(json!({"type": "send", "room": "lobby", "cid": "a1", "text": "cut off"}))
        .await;
    tokio::time::timeout(Duration::from_secs(10), proxy.frozen.notified())
        .await
        .expect("A's writer inserted through the proxy");
    let cut = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        idle_in_transaction(&database.url),
        1,
        "A's session is stranded inside its transaction"
    );

    // B retries (same cid) as PROTOCOL.md says, until acknowledged.
    let mut refusals = 0;
    let ack = loop {
        on_b.send(json!({"type": "send", "room": "lobby", "cid": "b1", "text": "from b"}))
            .await;
        let reply = on_b.recv_type_any(&["ack", "error"]).await;
        if reply["type"] == "ack" {
            break reply;
        }
        assert_eq!(reply["code"], "storage_unavailable", "{reply}");
        refusals += 1;
        let wait = reply["retry_after_ms"].as_u64().unwrap_or(500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    };
    let took = cut.elapsed();
    eprintln!("B's send acknowledged {took:?} after the cut ({refusals} refusals)");
    assert!(
        took < Duration::from_secs(10),
        "B waited {took:?} for A's stranded lock"
    );
    assert_eq!(idle_in_transaction(&database.url), 0);
    // Whatever A's transaction did, it was rolled back: B's message took seq 2.
    assert_eq!(ack["seq"], 2, "{ack}");
}

/// A PostgreSQL address that accepts connections and then says nothing (a
/// frozen server or middlebox): `chatctl` gives up connecting within its
/// connect timeout instead of waiting forever. (libpq's default is to wait
/// for ever; an instance restarting then, or a writer reconnecting, hung.)
/// No PostgreSQL is needed: the listener is the test's.
#[test]
fn connecting_to_a_silent_postgres_gives_up_within_seconds() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/chatctl");
    let started = Instant::now();
    let mut child = std::process::Command::new(crate::support::process::chatctl())
        .args(["--database-url", &url, "migrate"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chatctl still waiting for a silent PostgreSQL after 40 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = started.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password stays out of errors: {stderr}"
    );
    eprintln!("gave up after {took:?}: {}", stderr.trim());
    assert!(took < Duration::from_secs(25), "took {took:?}");
}
