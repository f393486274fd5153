//! storm: N connections in one room with a history; the server is killed
//! (SIGKILL) and started again, and every client reconnects and resumes
//! with `since`, together. Reports the time until all have resumed, the new
//! process's peak memory against the old one's steady state, and checks that
//! every client sees every message exactly once and in seq order.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use rand::Rng;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::bigroom::STAGE;
use crate::client::{self, Conn};
use crate::stats::{self, conditions, loadavg, Proc};
use crate::target::{listening, Target};
use crate::wire::{Dial, OP_CLOSE, OP_PING};
use crate::Opts;

/// Longest wait for every client to resume, and then for the last message.
const SETTLE: Duration = Duration::from_secs(120);

#[derive(Args, Debug)]
pub struct StormOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Messages in the room before the clients join.
    #[arg(long, default_value_t = 500)]
    pub history: usize,
    /// Messages written live before the kill, and again right after the
    /// restart while the clients reconnect (some resumes carry them, others
    /// get them live).
    #[arg(long, default_value_t = 20)]
    pub live: usize,
    /// Each client waits a random 0..N ms before reconnecting. 0, the worst
    /// case, reconnects all at once; the widget's first backoff step spreads
    /// them over 0.5-1.5 s.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
}

/// What one client saw across its connections.
#[derive(Default, Debug, Clone, Copy)]
struct Track {
    last: i64,
    received: u64,
    gaps: u64,
    duplicates: u64,
    resets: u64,
    failed_attempts: u64,
}

impl Track {
    /// The churn checker: seqs must follow one another.
    fn see(&mut self, seq: i64) {
        self.received += 1;
        if seq <= self.last {
            self.duplicates += 1;
            return;
        }
        self.gaps += (seq - self.last - 1) as u64;
        self.last = seq;
    }
}

/// What the clients share with the scenario: how far each has got, and when
/// each resumed after the restart.
struct Shared {
    lasts: Vec<AtomicI64>,
    resumed: AtomicUsize,
    restarted_at: Mutex<Option<Instant>>,
    resume_times: Mutex<Vec<Duration>>,
}

pub async fn run(o: StormOpts) -> anyhow::Result<String> {
    o.common.check_connections(o.connections + 1)?;
    let load_start = loadavg();
    let mut target = Target::open(&o.common, 1).await?;
    let mut author = client::fill_history(&target, STAGE, o.history).await?;
    let shared = Arc::new(Shared {
        lasts: (0..o.connections).map(|_| AtomicI64::new(0)).collect(),
        resumed: AtomicUsize::new(0),
        restarted_at: Mutex::new(None),
        resume_times: Mutex::new(Vec::new()),
    });
    let (stop_tx, stop) = watch::channel(false);
    let clients = match join_all(&target, &o, &shared, stop).await {
        Ok(clients) => clients,
        Err(e) => {
            target.close().await;
            return Err(e);
        }
    };
    client::write_acked(&mut author, "before", o.live).await?;
    // Nobody else writes in the room: its seqs are the author's messages.
    let before = (o.history + o.live) as i64;
    let reached_before = all_reach(&shared, before, SETTLE).await;
    let mut storm = kill_and_resume(&mut target, &o, &shared, &author, before).await?;
    let _ = stop_tx.send(true);
    let (total, behind) = tally(clients, storm.last).await;
    let resume_times = std::mem::take(&mut *lock(&shared.resume_times));
    let report = json!({
        "scenario": "storm",
        "params": {"connections": o.connections, "history": o.history, "live": o.live,
                   "jitter_ms": o.jitter_ms, "connect_concurrency": o.common.connect_concurrency},
        "conditions": conditions(&target, &load_start),
        "results": {
            "all_reached_before_kill": reached_before,
            "listening_after_restart_s": storm.listening_after.as_secs_f64(),
            "all_resumed": storm.all_resumed,
            "all_resumed_after_restart_s": storm.all_resumed_after.as_secs_f64(),
            "resumed_after_restart": stats::durations(resume_times),
            "all_had_the_last_message": storm.reached_last,
            "clients_behind_at_end": behind,
            "gaps": total.gaps,
            "duplicates": total.duplicates,
            "resumes_not_resumed_mode": total.resets,
            "reconnect_attempts_refused": total.failed_attempts,
            "messages_received": total.received,
            "server_rss_steady_before_kill_kib": storm.rss_steady,
            "server_rss_peak_after_restart_kib": storm.rss_peak,
            "server_rss_after_storm_kib": storm.rss_after,
        },
    });
    let _ = storm.author.wr.close().await;
    target.close().await;
    Ok(report.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens every client and starts following the room with each.
async fn join_all(
    target: &Target,
    o: &StormOpts,
    shared: &Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<Track>>> {
    let (conns, failed, first_error) =
        client::open_many(o.connections, o.common.connect_concurrency, |i| {
            let dial = client::dial(target, 0, i + 1);
            async move { client::open(&dial, &format!("s{i}"), None, STAGE, None).await }
        })
        .await;
    if failed > 0 {
        anyhow::bail!("{failed} connections failed to join: {first_error:?}");
    }
    Ok(conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let dial = client::dial(target, 0, i + 1);
            let (shared, stop) = (shared.clone(), stop.clone());
            tokio::spawn(follow(i, dial, conn, shared, o.jitter_ms, stop))
        })
        .collect())
}

/// What the kill and the restart showed.
struct Storm {
    author: Conn,
    /// The room's last seq, once the author wrote during the storm.
    last: i64,
    listening_after: Duration,
    all_resumed: bool,
    all_resumed_after: Duration,
    reached_last: bool,
    rss_steady: Option<u64>,
    rss_peak: Option<u64>,
    rss_after: Option<u64>,
}

/// Kills the server, starts it again, has the author write while the
/// clients come back, and waits until all have resumed and had it all.
async fn kill_and_resume(
    target: &mut Target,
    o: &StormOpts,
    shared: &Shared,
    author: &Conn,
    before: i64,
) -> anyhow::Result<Storm> {
    let rss_steady = target.server_pid.map(Proc).and_then(Proc::rss_kib);
    let new = Proc(target.kill_and_restart(0, &o.common)?);
    let restarted = Instant::now();
    *lock(&shared.restarted_at) = Some(restarted);
    listening(target.instances[0].addr).await?;
    let listening_after = restarted.elapsed();
    // The author is back first and writes while the others reconnect.
    let mut author = reconnect_author(target, author, before).await?;
    client::write_acked(&mut author, "during", o.live).await?;
    let last = before + o.live as i64;
    let all_resumed = wait_for(SETTLE, || shared.resumed.load(Relaxed) >= o.connections).await;
    let all_resumed_after = restarted.elapsed();
    let reached_last = all_reach(shared, last, SETTLE).await;
    let rss_peak = new.peak_rss_kib();
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(Storm {
        author,
        last,
        listening_after,
        all_resumed,
        all_resumed_after,
        reached_last,
        rss_steady,
        rss_peak,
        rss_after: new.rss_kib(),
    })
}

/// Every client's track added up, and how many never had message `last`.
async fn tally(clients: Vec<JoinHandle<Track>>, last: i64) -> (Track, usize) {
    let mut total = Track::default();
    let mut behind = 0;
    for client in clients {
        if let Ok(t) = client.await {
            behind += usize::from(t.last < last);
            total.received += t.received;
            total.gaps += t.gaps;
            total.duplicates += t.duplicates;
            total.resets += t.resets;
            total.failed_attempts += t.failed_attempts;
        }
    }
    (total, behind)
}

async fn reconnect_author(target: &Target, old: &Conn, since: i64) -> anyhow::Result<Conn> {
    let dial = client::dial(target, 0, 0);
    let deadline = Instant::now() + SETTLE;
    loop {
        match client::open(&dial, "", Some(&old.guest_token), STAGE, Some(since)).await {
            Ok(conn) => return Ok(conn),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// True once `done` holds, false after `limit`.
async fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

async fn all_reach(shared: &Shared, seq: i64, limit: Duration) -> bool {
    wait_for(limit, || {
        shared.lasts.iter().all(|l| l.load(Relaxed) >= seq)
    })
    .await
}

/// One client: reads its room, and when the server goes away reconnects
/// with its guest token and `since` = the last seq it saw, until told to stop.
async fn follow(
    i: usize,
    dial: Dial,
    mut conn: Conn,
    shared: Arc<Shared>,
    jitter_ms: u64,
    mut stop: watch::Receiver<bool>,
) -> Track {
    let mut track = Track {
        last: conn.welcome_seq,
        ..Track::default()
    };
    shared.lasts[i].store(track.last, Relaxed);
    let token = conn.guest_token.clone();
    loop {
        if !read_until_closed(i, &mut conn, &mut track, &shared, &mut stop).await {
            let _ = conn.wr.close().await;
            return track;
        }
        if jitter_ms > 0 {
            let wait = rand::rng().random_range(0..jitter_ms);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        conn = loop {
            if *stop.borrow() {
                return track;
            }
            match client::open(&dial, "", Some(&token), STAGE, Some(track.last)).await {
                Ok(conn) => break conn,
                Err(_) => {
                    track.failed_attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        if conn.welcome_mode != "resumed" {
            track.resets += 1;
        }
        for &seq in &conn.welcome_seqs {
            track.see(seq);
        }
        shared.lasts[i].store(track.last, Relaxed);
        let restarted = *lock(&shared.restarted_at);
        if let Some(at) = restarted {
            lock(&shared.resume_times).push(at.elapsed());
        }
        shared.resumed.fetch_add(1, Relaxed);
    }
}

/// Reads messages until the connection ends (true) or the scenario stops (false).
async fn read_until_closed(
    i: usize,
    conn: &mut Conn,
    track: &mut Track,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => return false,
            f = conn.rd.next() => f,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => return true,
        };
        match frame.opcode {
            OP_PING => {
                let payload = frame.payload.to_vec();
                let _ = conn.wr.pong(&payload).await;
            }
            OP_CLOSE => return true,
            _ if frame.is_type("message") => {
                if let Some(seq) = frame.int_field("seq") {
                    track.see(seq);
                    shared.lasts[i].store(track.last, Relaxed);
                }
            }
            _ => {}
        }
    }
}
