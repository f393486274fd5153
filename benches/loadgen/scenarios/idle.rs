//! idle: N connections that said hello and joined a room, held open; the
//! server's resident memory per connection and its CPU while they idle.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::watch;

use crate::client::{self, Conn};
use crate::stats::{self, conditions, loadavg, CpuWindow, Proc};
use crate::target::Target;
use crate::wire::{OP_CLOSE, OP_PING};
use crate::Opts;

#[derive(Args, Debug)]
pub struct IdleOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Connections per room (one room for all would make joining quadratic in presence frames).
    #[arg(long, default_value_t = 50)]
    pub room_size: usize,
}

pub async fn run(o: IdleOpts) -> anyhow::Result<String> {
    o.common.check_connections(o.connections)?;
    if o.common.in_process {
        eprintln!(
            "loadgen: idle --in-process measures this whole process, load generator included"
        );
    }
    let load_start = loadavg();
    let target = Target::open(&o.common, 1).await?;
    let server = target.server_pid.map(Proc);
    // Fixed costs (threads, database caches) show up with the first connections;
    // the marginal figure leaves them out.
    let warm = (o.connections / 10).max(1).min(o.connections);
    let rss_empty = server.and_then(Proc::rss_kib);
    let (stop_tx, stop) = watch::channel(false);
    let room_size = o.room_size.max(1);
    let open = |offset: usize, n: usize| {
        let target = &target;
        client::open_many(n, o.common.connect_concurrency, move |i| {
            let i = i + offset;
            let dial = client::dial(target, 0, i);
            let room = format!("idle-{}", i / room_size);
            async move { client::open(&dial, &format!("idle{i}"), None, &room, None).await }
        })
    };
    let (first, failed_a, err_a) = open(0, warm).await;
    let mut held: Vec<_> = first.into_iter().map(|c| hold(c, stop.clone())).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_warm = server.and_then(Proc::rss_kib);
    let (rest, failed_b, err_b) = open(warm, o.connections - warm).await;
    let connect: Vec<Duration> = rest.iter().map(|c| c.connect_time).collect();
    held.extend(rest.into_iter().map(|c| hold(c, stop.clone())));
    let open_now = held.len();
    // Let allocators and queues settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_full = server.and_then(Proc::rss_kib);
    let cpu = CpuWindow::start(server);
    tokio::time::sleep(o.common.duration()).await;
    let idle_cpu = cpu.percent();
    let rss_end = server.and_then(Proc::rss_kib);
    let _ = stop_tx.send(true);
    let mut dropped = 0;
    for h in held {
        if let Ok(false) = h.await {
            dropped += 1;
        }
    }
    let per = |a: Option<u64>, b: Option<u64>, n: usize| match (a, b) {
        (Some(a), Some(b)) if n > 0 => {
            Some(((b as f64 - a as f64) / n as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let report = json!({
        "scenario": "idle",
        "params": {"connections": o.connections, "room_size": room_size,
                   "hold_s": o.common.duration().as_secs_f64()},
        "conditions": conditions(&target, &load_start),
        "results": {
            "open": open_now,
            "connect_failed": failed_a + failed_b,
            "first_error": err_a.or(err_b),
            "connect_time": stats::durations(connect),
            "dropped_while_idle": dropped,
            "server_rss_empty_kib": rss_empty,
            "server_rss_warm_kib": rss_warm,
            "server_rss_full_kib": rss_full,
            "server_rss_end_kib": rss_end,
            "rss_per_conn_kib": per(rss_empty, rss_full, open_now),
            "rss_per_conn_marginal_kib": per(rss_warm, rss_full, open_now.saturating_sub(warm)),
            "server_idle_cpu_percent": idle_cpu,
        },
    });
    target.close().await;
    Ok(report.to_string())
}

/// Keeps a connection open, answering pings, until told to stop; false if the
/// server closed it first.
fn hold(mut conn: Conn, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                f = conn.rd.next() => f,
            };
            match frame {
                Ok(Some(f)) if f.opcode == OP_PING => {
                    let payload = f.payload.to_vec();
                    let _ = conn.wr.pong(&payload).await;
                }
                Ok(Some(f)) if f.opcode == OP_CLOSE => return false,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
        let _ = conn.wr.close().await;
        true
    })
}
