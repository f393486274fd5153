//! churn: receivers killed (TCP reset) and reconnected at random while messages
//! flow; every receiver must see every message exactly once, in seq order.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use rand::Rng;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::flow::{self, Group, Load};
use crate::client::{self, Conn};
use crate::stats::{conditions, loadavg};
use crate::target::Target;
use crate::wire::{Dial, OP_CLOSE, OP_PING};
use crate::Opts;

#[derive(Args, Debug)]
pub struct ChurnOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 4)]
    pub rooms: usize,
    /// Receivers per room (these are killed and reconnected).
    #[arg(long, default_value_t = 50)]
    pub receivers: usize,
    /// Senders per room (these keep their connection).
    #[arg(long, default_value_t = 2)]
    pub senders: usize,
    #[arg(long, default_value_t = 400.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// A random receiver is killed this often.
    #[arg(long, default_value_t = 20)]
    pub kill_every_ms: u64,
}

/// What one receiver saw across all its connections.
#[derive(Default, Debug, Clone, Copy)]
struct Track {
    received: u64,
    gaps: u64,
    duplicates: u64,
    resets: u64,
    reconnects: u64,
    connect_failures: u64,
}

impl Track {
    fn add(&mut self, t: &Track) {
        self.received += t.received;
        self.gaps += t.gaps;
        self.duplicates += t.duplicates;
        self.resets += t.resets;
        self.reconnects += t.reconnects;
        self.connect_failures += t.connect_failures;
    }
}

/// The receivers of every room, each with the way to kill its connection
/// and the last seq it has.
struct Receivers {
    killers: Vec<mpsc::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<Track>>,
    /// (room, last seq) per receiver; -1 until it has joined.
    lasts: Vec<(usize, Arc<AtomicI64>)>,
}

fn start_receivers(o: &ChurnOpts, target: &Target, stop: &watch::Receiver<bool>) -> Receivers {
    let mut receivers = Receivers {
        killers: Vec::new(),
        tasks: Vec::new(),
        lasts: Vec::new(),
    };
    for r in 0..o.rooms {
        for j in 0..o.receivers {
            let i = 1_000_000 + r * o.receivers + j;
            let dial = client::dial(target, 0, i);
            let (kill_tx, kill) = mpsc::channel(4);
            let last = Arc::new(AtomicI64::new(-1));
            receivers.killers.push(kill_tx);
            receivers.lasts.push((r, last.clone()));
            receivers.tasks.push(tokio::spawn(receiver(
                dial,
                format!("churn{j}"),
                format!("churn-{r}"),
                kill,
                last,
                stop.clone(),
            )));
        }
    }
    receivers
}

/// Kills a random receiver's connection `every` so often, until told to
/// stop: the count of kills, the stop, and the task.
fn start_killer(
    killers: Vec<mpsc::Sender<()>>,
    every: Duration,
) -> (
    Arc<AtomicU64>,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let kills = Arc::new(AtomicU64::new(0));
    let (kill_stop_tx, mut kill_stop) = watch::channel(false);
    let killer = {
        let kills = kills.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = kill_stop.wait_for(|s| *s) => break,
                    _ = tick.tick() => {}
                }
                let victim = rand::rng().random_range(0..killers.len());
                if killers[victim].try_send(()).is_ok() {
                    kills.fetch_add(1, Relaxed);
                }
            }
        })
    };
    (kills, kill_stop_tx, killer)
}

pub async fn run(o: ChurnOpts) -> anyhow::Result<String> {
    o.common
        .check_connections(o.rooms * (o.receivers + o.senders))?;
    let load_start = loadavg();
    let target = Target::open(&o.common, 1).await?;
    let (stop_tx, stop) = watch::channel(false);
    let receivers = start_receivers(&o, &target, &stop);
    // Everyone is in before the first message, so "every message" is well defined.
    let ready_by = Instant::now() + Duration::from_secs(120);
    while receivers.lasts.iter().any(|(_, l)| l.load(Relaxed) < 0) && Instant::now() < ready_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let every = Duration::from_millis(o.kill_every_ms.max(1));
    let (kills, kill_stop_tx, killer) = start_killer(receivers.killers, every);
    let groups: Vec<Group> = (0..o.rooms)
        .map(|r| Group {
            site: 0,
            room: format!("churn-{r}"),
            receivers: 0,
            senders: o.senders,
            slow: 0,
            probes: 0,
        })
        .collect();
    let load = Load::steady(o.rate, o.size, &o.common);
    let outcome = flow::run(&target, &o.common, &groups, load).await;
    let _ = kill_stop_tx.send(true);
    let _ = killer.await;
    // The final seq of each room is the highest ever acked, which no receiver can
    // exceed; wait until they all reach it (resumes in flight finish first).
    let finals = room_finals(&target, o.rooms).await;
    let lasts = &receivers.lasts;
    let caught_up_by = Instant::now() + Duration::from_secs(15);
    let behind = || {
        lasts
            .iter()
            .filter(|(r, l)| l.load(Relaxed) < finals[*r])
            .count()
    };
    while behind() > 0 && Instant::now() < caught_up_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let incomplete = behind();
    let _ = stop_tx.send(true);
    let mut total = Track::default();
    for t in receivers.tasks {
        if let Ok(t) = t.await {
            total.add(&t);
        }
    }
    let mut results = outcome.json();
    results["receivers"] = json!(o.rooms * o.receivers);
    results["kills"] = json!(kills.load(Relaxed));
    results["reconnects"] = json!(total.reconnects);
    results["reconnect_failures"] = json!(total.connect_failures);
    results["resets"] = json!(total.resets);
    results["received"] = json!(total.received);
    results["gaps"] = json!(total.gaps);
    results["duplicates"] = json!(total.duplicates);
    results["receivers_incomplete"] = json!(incomplete);
    results["final_seqs"] = json!(finals);
    results["exactly_once_in_order"] =
        json!(total.gaps == 0 && total.duplicates == 0 && total.resets == 0 && incomplete == 0);
    let report = json!({
        "scenario": "churn",
        "params": {"rooms": o.rooms, "receivers_per_room": o.receivers, "senders_per_room": o.senders,
                   "rate": o.rate, "size": o.size, "kill_every_ms": o.kill_every_ms,
                   "duration_s": load.duration.as_secs_f64()},
        "conditions": conditions(&target, &load_start),
        "results": results,
    });
    target.close().await;
    Ok(report.to_string())
}

/// Each room's last seq, read the way a client would: a fresh join's welcome.
async fn room_finals(target: &Target, rooms: usize) -> Vec<i64> {
    let mut finals = vec![-1; rooms];
    for (r, f) in finals.iter_mut().enumerate() {
        let dial = client::dial(target, 0, 2_000_000 + r);
        if let Ok(mut c) = client::open(&dial, "final", None, &format!("churn-{r}"), None).await {
            *f = c.welcome_seq;
            let _ = c.wr.close().await;
        }
    }
    finals
}

/// One receiver, across as many connections as the killer forces on it.
async fn receiver(
    dial: Dial,
    nick: String,
    room: String,
    mut kill: mpsc::Receiver<()>,
    last: Arc<AtomicI64>,
    mut stop: watch::Receiver<bool>,
) -> Track {
    let mut t = Track::default();
    let mut token: Option<String> = None;
    let mut seq: Option<i64> = None;
    loop {
        if *stop.borrow() {
            return t;
        }
        let conn = client::open(&dial, &nick, token.as_deref(), &room, seq).await;
        let mut conn = match conn {
            Ok(c) => c,
            Err(_) => {
                t.connect_failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        token = Some(conn.guest_token.clone());
        let mut cur = starting_seq(&mut t, seq, &conn);
        last.store(cur, Relaxed);
        // Drain kills requested while we were reconnecting: one at a time.
        while kill.try_recv().is_ok() {}
        loop {
            let frame = tokio::select! {
                _ = stop.wait_for(|s| *s) => None,
                _ = kill.recv() => Some(None),
                f = conn.rd.next() => Some(Some(f)),
            };
            let frame = match frame {
                None => {
                    let _ = conn.wr.close().await;
                    return t;
                }
                Some(None) => {
                    conn.rd.abort_on_drop();
                    break;
                }
                Some(Some(f)) => f,
            };
            match frame {
                Ok(Some(f)) if f.opcode == OP_PING => {
                    let payload = f.payload.to_vec();
                    let _ = conn.wr.pong(&payload).await;
                }
                Ok(Some(f)) if f.opcode == OP_CLOSE => break,
                Ok(Some(f)) if f.is_type("message") => {
                    if let Some(s) = f.int_field("seq") {
                        apply(&mut t, &mut cur, s);
                        last.store(cur, Relaxed);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        t.reconnects += 1;
        seq = Some(cur);
        // Reconnect after a short random pause, like a client with jittered backoff.
        let pause = rand::rng().random_range(0..50);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Where a (re)connection starts: a resume's messages applied after `seq`
/// (every message up to the welcome's seq, or the rest counts as a gap); a
/// first join, or a reset, at the room's seq.
fn starting_seq(t: &mut Track, seq: Option<i64>, conn: &Conn) -> i64 {
    match seq {
        None => conn.welcome_seq,
        Some(since) if conn.welcome_mode == "resumed" => {
            let mut cur = since;
            for s in &conn.welcome_seqs {
                apply(t, &mut cur, *s);
            }
            // A resumed page holds every message up to welcome.seq.
            if cur < conn.welcome_seq {
                t.gaps += (conn.welcome_seq - cur) as u64;
                cur = conn.welcome_seq;
            }
            cur
        }
        Some(_) => {
            t.resets += 1;
            conn.welcome_seq
        }
    }
}

fn apply(t: &mut Track, cur: &mut i64, seq: i64) {
    if seq <= *cur {
        t.duplicates += 1;
        return;
    }
    t.gaps += (seq - *cur - 1) as u64;
    t.received += 1;
    *cur = seq;
}
