//! slow: a share of receivers stop reading; the server must cut them while the
//! others keep their latency, and its memory must stay bounded.

use clap::Args;
use serde_json::json;

use super::flow::{self, Group, Load};
use crate::stats::{conditions, loadavg};
use crate::target::Target;
use crate::Opts;

#[derive(Args, Debug)]
pub struct SlowOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 500)]
    pub receivers: usize,
    /// Share of receivers that stop reading (0–1).
    #[arg(long, default_value_t = 0.1)]
    pub slow_share: f64,
    #[arg(long, default_value_t = 5)]
    pub senders: usize,
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Large messages fill a stalled reader's queue sooner.
    #[arg(long, default_value_t = 1000)]
    pub size: usize,
    #[arg(long, default_value_t = 50)]
    pub probes: usize,
}

pub async fn run(o: SlowOpts) -> anyhow::Result<String> {
    o.common.check_connections(o.receivers + o.senders)?;
    let load_start = loadavg();
    let target = Target::open(&o.common, 1).await?;
    let slow = ((o.receivers as f64) * o.slow_share.clamp(0.0, 1.0)).round() as usize;
    let group = Group {
        site: 0,
        room: "slow".into(),
        receivers: o.receivers,
        senders: o.senders,
        slow,
        probes: o.probes.min(o.receivers - slow),
    };
    let load = Load::steady(o.rate, o.size, &o.common);
    let outcome = flow::run(&target, &o.common, &[group], load).await;
    let mut results = outcome.json();
    results["slow"] = json!(outcome.slow);
    results["slow_cut"] = json!(outcome.slow_cut);
    // What the server may hold for stalled readers at most: their queues.
    results["queue_bound_kib"] = json!(outcome.slow * o.common.queue_bytes / 1024);
    let report = json!({
        "scenario": "slow",
        "params": {"receivers": o.receivers, "slow": slow, "senders": o.senders, "rate": o.rate,
                   "size": o.size, "queue_bytes": o.common.queue_bytes,
                   "duration_s": load.duration.as_secs_f64()},
        "conditions": conditions(&target, &load_start),
        "results": results,
    });
    target.close().await;
    Ok(report.to_string())
}
