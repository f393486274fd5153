//! One pub/sub message lost on its way, while everything else goes through:
//! the broker is at most once, so the others must notice the hole and read
//! the message back from the database, in order, without waiting for the
//! periodic check of every room.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{broker_becomes, cluster_env, instance, receive, ClusterEnv};
use crate::support::process::create_site;
use crate::support::wait::poll;

/// What the censor renames the channel to: same length, so the command
/// stays well formed and Redis answers it; nobody listens there.
const VOID: &[u8] = b"chatctl:dropped";
const CHANNEL: &[u8] = b"chatctl:cluster";

/// A TCP proxy in front of Redis that drops exactly one published payload:
/// the first one that carries `marker`, by renaming its channel.
struct Censor {
    addr: std::net::SocketAddr,
    dropped: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Censor {
    async fn start(upstream: u16, marker: &'static str) -> Censor {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        let once = dropped.clone();
        tasks.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let once = once.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        let chunk = &mut buf[..n];
                        if !once.load(Ordering::SeqCst) && censor(chunk, marker.as_bytes()) {
                            once.store(true, Ordering::SeqCst);
                        }
                        if to_server.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                });
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
            }
        });
        Censor {
            addr,
            dropped,
            tasks,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }
}

impl Drop for Censor {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Renames the channel of the command in `chunk` that carries `marker`;
/// says whether it did.
fn censor(chunk: &mut [u8], marker: &[u8]) -> bool {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let Some(at) = find(chunk, marker) else {
        return false;
    };
    let Some(channel) = chunk[..at]
        .windows(CHANNEL.len())
        .rposition(|w| w == CHANNEL)
    else {
        return false;
    };
    chunk[channel..channel + VOID.len()].copy_from_slice(VOID);
    true
}

/// A's payload with one message never reaches B: B sees A's counter skip
/// on A's next payload (its heartbeat within a second), reads the room back
/// from the database, and its receiver gets the message, then the next
/// ones, in order. The periodic check of every room (every 10 s) would be
/// too late for the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_lost_pubsub_message_is_noticed_and_read_back() {
    let test = "a_single_lost_pubsub_message_is_noticed_and_read_back";
    let Some(ClusterEnv { database, redis }) = cluster_env(test).await else {
        return;
    };
    let censor = Censor::start(redis.port, "lost on the way").await;
    let key = create_site(&database.url);
    let a = instance(&database, Some(&censor.url()), "a").await;
    let b = instance(&database, Some(&redis.url()), "b").await;
    for server in [&a, &b] {
        broker_becomes(server, "up", Duration::from_secs(10)).await;
    }
    let (mut on_b, _, _) = b.joined(&key, json!({"nick": "rb"}), "lobby", None).await;
    let (mut sender, _, _) = a.joined(&key, json!({"nick": "s"}), "lobby", None).await;
    sender.say("lobby", "c1", "before").await;
    assert_eq!(
        receive(&mut on_b, 1, Duration::from_secs(5)).await,
        [(1, "before".to_owned())]
    );

    sender.say("lobby", "c2", "lost on the way").await;
    assert_eq!(
        receive(&mut on_b, 1, Duration::from_secs(4)).await,
        [(2, "lost on the way".to_owned())],
        "the lost message is read back well before the periodic check"
    );
    assert!(
        censor.dropped.load(Ordering::SeqCst),
        "the proxy dropped it"
    );
    // Counted once the repair's database work returns, which may be just
    // after the message it published has arrived.
    poll(
        "the repair counted",
        Duration::from_secs(2),
        Duration::from_millis(20),
        || async {
            match b.metric("chatctl_broker_gaps_repaired_total").await {
                Some(n) if n >= 1.0 => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;

    sender.say("lobby", "c3", "after").await;
    assert_eq!(
        receive(&mut on_b, 1, Duration::from_secs(5)).await,
        [(3, "after".to_owned())],
        "and the next one, once"
    );
}
