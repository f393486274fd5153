//! fanout: R receivers and S senders in one room, open-loop send rate.

use clap::Args;
use serde_json::json;

use super::flow::{self, Group, Load};
use crate::stats::{conditions, loadavg};
use crate::target::Target;
use crate::Opts;

#[derive(Args, Debug)]
pub struct FanoutOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 1000)]
    pub receivers: usize,
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second, all senders together (open loop).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Bytes of message text.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Receivers that record send→receive latency.
    #[arg(long, default_value_t = 50)]
    pub probes: usize,
    /// `kill -9` the redis-server started for --instances this many seconds into
    /// the load, and restart it empty after --broker-down seconds: reports the
    /// worst delay of the messages sent meanwhile to the other instances.
    #[arg(long, value_name = "SECS")]
    pub broker_restart_at: Option<f64>,
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    pub broker_down: f64,
}

pub async fn run(o: FanoutOpts) -> anyhow::Result<String> {
    o.common.check_connections(o.receivers + o.senders)?;
    let load_start = loadavg();
    let target = Target::open(&o.common, 1).await?;
    if o.broker_restart_at.is_some() && target.redis.is_none() {
        target.close().await;
        anyhow::bail!("--broker-restart-at needs a redis-server started here (--instances 2 or more, --broker-url start)");
    }
    let group = Group {
        site: 0,
        room: "fanout".into(),
        receivers: o.receivers,
        senders: o.senders,
        slow: 0,
        probes: o.probes.min(o.receivers),
    };
    let load = Load {
        broker_restart: o.broker_restart_at.map(|at| {
            let secs = |s: f64| std::time::Duration::from_secs_f64(s.clamp(0.0, 60.0));
            (secs(at), secs(o.broker_down))
        }),
        ..Load::steady(o.rate, o.size, &o.common)
    };
    let outcome = flow::run(&target, &o.common, &[group], load).await;
    let report = json!({
        "scenario": "fanout",
        "params": {"receivers": o.receivers, "senders": o.senders, "rate": o.rate, "size": o.size,
                   "probes": o.probes, "duration_s": load.duration.as_secs_f64(),
                   "instances": o.common.instances, "broker_restart_at_s": o.broker_restart_at,
                   "broker_down_s": o.broker_restart_at.map(|_| o.broker_down)},
        "conditions": conditions(&target, &load_start),
        "results": outcome.json(),
    });
    target.close().await;
    Ok(report.to_string())
}

/// fanout with a live event's defaults (issue 14): 10,000 receivers in one
/// room, 10 senders, 20 msg/s: 200,000 deliveries per second.
#[derive(Args, Debug)]
pub struct BigroomFanoutOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 10_000)]
    pub receivers: usize,
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second, all senders together (open loop).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Bytes of message text.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Receivers that record send→receive latency.
    #[arg(long, default_value_t = 200)]
    pub probes: usize,
}

impl From<BigroomFanoutOpts> for FanoutOpts {
    fn from(o: BigroomFanoutOpts) -> FanoutOpts {
        FanoutOpts {
            common: o.common,
            receivers: o.receivers,
            senders: o.senders,
            rate: o.rate,
            size: o.size,
            probes: o.probes,
            broker_restart_at: None,
            broker_down: 0.0,
        }
    }
}
