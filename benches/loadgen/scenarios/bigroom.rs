//! bigroom-join: N connections say hello and join one room; the time until
//! every one is welcomed, the server's CPU for it, and its memory per
//! connection. The room's cost must not grow with its size (issue 14).

use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::time::Instant;

use crate::client;
use crate::stats::{self, conditions, loadavg, Proc};
use crate::target::Target;
use crate::Opts;

/// The one room everybody joins.
pub const STAGE: &str = "stage";

#[derive(Args, Debug)]
pub struct BigroomJoinOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Messages written in the room before the joins (each welcome carries the latest page).
    #[arg(long, default_value_t = 50)]
    pub history: usize,
}

pub async fn run(o: BigroomJoinOpts) -> anyhow::Result<String> {
    o.common.check_connections(o.connections + 1)?;
    let load_start = loadavg();
    let target = Target::open(&o.common, 1).await?;
    let server = target.server_pid.map(Proc);
    // The writer of the history stays in the room: the room, the process's
    // first-use costs and its caches are warm before the clock starts.
    let mut author = client::fill_history(&target, STAGE, o.history).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server.and_then(Proc::rss_kib);
    let cpu_before = server.and_then(Proc::cpu);
    let started = Instant::now();
    let (conns, failed, first_error) =
        client::open_many(o.connections, o.common.connect_concurrency, |i| {
            let dial = client::dial(&target, 0, i + 1);
            async move { client::open(&dial, &format!("v{i}"), None, STAGE, None).await }
        })
        .await;
    let all_welcomed = started.elapsed();
    let cpu = match (cpu_before, server.and_then(Proc::cpu)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
        _ => None,
    };
    // Let queues drain and allocators settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = server.and_then(Proc::rss_kib);
    let short_pages = conns
        .iter()
        .filter(|c| c.welcome_seqs.len() < o.history.min(50))
        .count();
    let connect: Vec<Duration> = conns.iter().map(|c| c.connect_time).collect();
    let open = conns.len();
    let per_conn = match (rss_before, rss_after) {
        (Some(a), Some(b)) if open > 0 => {
            Some(((b as f64 - a as f64) / open as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let mut report = json!({
        "scenario": "bigroom-join",
        "params": {"connections": o.connections, "history": o.history,
                   "connect_concurrency": o.common.connect_concurrency},
        "conditions": conditions(&target, &load_start),
        "results": {
            "welcomed": open,
            "failed": failed,
            "first_error": first_error,
            "all_welcomed_s": all_welcomed.as_secs_f64(),
            "joins_per_sec": (open as f64 / all_welcomed.as_secs_f64()).round(),
            "connect_to_welcome": stats::durations(connect),
            "welcomes_without_the_latest_page": short_pages,
            "server_cpu_s": cpu,
            "server_rss_before_kib": rss_before,
            "server_rss_after_kib": rss_after,
            "rss_per_conn_kib": per_conn,
        },
    });
    // Then all of them leave at once: the server's CPU until it is idle
    // again (a leave must cost O(1) in the room's size too).
    let cpu_before_leave = server.and_then(Proc::cpu);
    drop(conns);
    let leave_cpu = match cpu_before_leave {
        Some(before) => cpu_until_idle(server)
            .await
            .map(|after| after.saturating_sub(before)),
        None => None,
    };
    report["results"]["leave_server_cpu_s"] = json!(leave_cpu.map(|d| d.as_secs_f64()));
    let _ = author.wr.close().await;
    target.close().await;
    Ok(report.to_string())
}

/// The server's CPU time once it stops rising (two readings 250 ms apart
/// agree), or after 30 s.
async fn cpu_until_idle(server: Option<Proc>) -> Option<Duration> {
    let mut last = server.and_then(Proc::cpu)?;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = server.and_then(Proc::cpu)?;
        if now == last {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}
