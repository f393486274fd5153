//! persist: the storage path alone. Messages go straight to the group-commit
//! writer (no sockets, no JSON parsing) and count once acknowledged, that is
//! once committed; so this is what the database and the writer can sustain,
//! apart from the WebSocket work that `rooms` measures end to end.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use chatctl::chat::hub::{ConnHandle, ConnQueue, Hub, Outbound};
use chatctl::chat::protocol::Who;
use chatctl::chat::writer::{Post, Reply, Writer};
use chatctl::db::models::{Participant, Room, RoomId, Site, SiteId};
use chatctl::db::{migrate, Db};
use chatctl::metrics::Metrics;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::stats::{self, loadavg, now_us, record};
use crate::Opts;

#[derive(Args, Debug)]
pub struct PersistOpts {
    #[command(flatten)]
    pub common: Opts,
    /// Messages to commit (capped at 5 million).
    #[arg(long, default_value_t = 300_000)]
    pub messages: usize,
    /// Distinct authors (each with its own acknowledgement queue).
    #[arg(long, default_value_t = 100)]
    pub senders: usize,
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Messages posted and not yet acknowledged, at most.
    #[arg(long, default_value_t = 4096)]
    pub in_flight: usize,
    #[arg(long, default_value_t = 100)]
    pub size: usize,
}

/// A site with `rooms` rooms and `senders` guest authors.
async fn prepare(
    db: &Db,
    rooms: usize,
    senders: usize,
) -> anyhow::Result<(Site, Vec<RoomId>, Vec<Participant>)> {
    let prepared = db
        .run(move |conn| -> Result<_, chatctl::db::DbError> {
            migrate::run_pending(conn)?;
            let site = Site::create(conn, "persist", &[], false)?;
            let rooms = (0..rooms)
                .map(|r| Room::create(conn, site.id, &format!("persist-{r}")).map(|r| r.id))
                .collect::<Result<Vec<_>, _>>()?;
            let authors = (0..senders)
                .map(|i| Participant::create_guest(conn, site.id, &format!("p{i}"), None))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((site, rooms, authors))
        })
        .await?;
    Ok(prepared)
}

/// Reads one author's acknowledgements until `done`: the post-to-ack
/// latency of each (refusals counted apart), freeing a place in the window.
async fn collect_acks(
    queue: ConnQueue,
    window: Arc<Semaphore>,
    sent_at: Arc<Vec<AtomicU64>>,
    refused: Arc<AtomicU64>,
) -> Histogram<u64> {
    let mut h = stats::histogram();
    loop {
        let Outbound::Reply(frame) = queue.recv().await else {
            break;
        };
        let v: serde_json::Value = serde_json::from_str(&frame).unwrap_or_default();
        if v["type"] == "done" {
            break;
        }
        if v["type"] == "ack" {
            let k: usize = v["cid"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
            let at = sent_at.get(k).map_or(0, |t| t.load(Relaxed));
            record(&mut h, now_us().saturating_sub(at));
        } else {
            refused.fetch_add(1, Relaxed);
        }
        window.add_permits(1);
    }
    h
}

/// Message `k` (its cid) by `who` in `room` (id and name).
fn post(
    k: usize,
    site: SiteId,
    room: (RoomId, String),
    who: &Participant,
    text: &str,
    reply: Reply,
) -> Post {
    Post {
        site,
        room: room.0,
        room_name: room.1,
        author: Who {
            id: who.id.0,
            nick: who.nick.as_str().into(),
            kind: who.kind.as_str().into(),
            avatar: None,
            look: None,
        },
        participant: who.id,
        cid: k.to_string(),
        text: text.to_owned(),
        ip: None,
        slow_mode: None,
        reply,
    }
}

/// The task reading one author's acknowledgements ([`collect_acks`]).
type Collector = JoinHandle<Histogram<u64>>;

/// One connection per author, each with the task collecting its acknowledgements: the
/// handles to post with, and the collectors.
fn connect_senders(
    hub: &Hub,
    site: SiteId,
    senders: usize,
    window: &Arc<Semaphore>,
    sent_at: &Arc<Vec<AtomicU64>>,
    refused: &Arc<AtomicU64>,
) -> anyhow::Result<(Vec<ConnHandle>, Vec<Collector>)> {
    let mut handles = Vec::new();
    let mut collectors = Vec::new();
    for _ in 0..senders {
        let (handle, queue) = hub.connect(site, "127.0.0.1".parse()?, usize::MAX / 2);
        handles.push(handle);
        let (window, sent_at, refused) = (window.clone(), sent_at.clone(), refused.clone());
        collectors.push(tokio::spawn(collect_acks(queue, window, sent_at, refused)));
    }
    Ok((handles, collectors))
}

/// Ends the run: tells each collector it is done, stops the writer (its queue drained) and
/// merges the collectors' post-to-ack latencies.
async fn finish(
    handles: &[ConnHandle],
    writer: Arc<Writer>,
    collectors: Vec<Collector>,
) -> anyhow::Result<Histogram<u64>> {
    for h in handles {
        h.reply(Arc::from(r#"{"type":"done"}"#));
    }
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    let mut latency = stats::histogram();
    for c in collectors {
        if let Ok(h) = c.await {
            let _ = latency.add(&h);
        }
    }
    Ok(latency)
}

pub async fn run(o: PersistOpts) -> anyhow::Result<String> {
    let load_start = loadavg();
    let messages = o.messages.min(5_000_000);
    let (senders, rooms) = (o.senders.max(1), o.rooms.max(1));
    let dir = tempfile::tempdir()?;
    let url = match &o.common.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("persist.db").display()),
    };
    let db = Db::connect(&url, 4)?;
    let (site, room_ids, authors) = prepare(&db, rooms, senders).await?;
    let hub = Hub::new();
    let writer = Arc::new(Writer::start(
        db.clone(),
        hub.clone(),
        Arc::new(Metrics::new()),
        None,
        Default::default(),
    ));
    let window = Arc::new(Semaphore::new(o.in_flight.max(1)));
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..messages).map(|_| AtomicU64::new(0)).collect());
    let refused = Arc::new(AtomicU64::new(0));

    let (handles, collectors) =
        connect_senders(&hub, site.id, senders, &window, &sent_at, &refused)?;

    let text: String = "x".repeat(o.size.max(1));
    let started = Instant::now();
    let cpu = stats::CpuWindow::start(Some(stats::Proc(std::process::id())));
    for k in 0..messages {
        window
            .acquire()
            .await
            .map_err(|_| anyhow!("window closed"))?
            .forget();
        sent_at[k].store(now_us(), Relaxed);
        let room = (room_ids[k % rooms], format!("persist-{}", k % rooms));
        let reply = Reply::Connection(handles[k % senders].clone());
        writer.post(post(k, site.id, room, &authors[k % senders], &text, reply));
    }
    // Every acknowledgement is in once the whole window is free again.
    let all = u32::try_from(o.in_flight.max(1)).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(Duration::from_secs(120), window.acquire_many(all)).await;
    let elapsed = started.elapsed();
    let process_cpu = cpu.percent();
    let latency = finish(&handles, writer, collectors).await?;
    let committed = messages as u64 - refused.load(Relaxed);
    let report = json!({
        "scenario": "persist",
        "params": {"messages": messages, "senders": senders, "rooms": rooms, "in_flight": o.in_flight,
                   "size": o.size, "backend": db.url().redacted().split(':').next().unwrap_or_default()},
        "conditions": {"server": "in-process (writer only)", "loadavg_start": load_start, "loadavg_end": loadavg(),
                       "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "results": {
            "committed": committed,
            "refused": refused.load(Relaxed),
            "complete": drained.is_ok(),
            "elapsed_s": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "committed_per_sec": (committed as f64 / elapsed.as_secs_f64()).round(),
            "post_to_ack": stats::summary(&latency),
            "process_cpu_percent": process_cpu,
        },
    });
    Ok(report.to_string())
}
