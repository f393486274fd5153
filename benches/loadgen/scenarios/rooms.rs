//! rooms: many rooms on several sites, senders and readers mixed.

use clap::Args;
use serde_json::json;

use super::flow::{self, Group, Load};
use crate::stats::{conditions, loadavg};
use crate::target::Target;
use crate::Opts;

#[derive(Args, Debug)]
pub struct RoomsOpts {
    #[command(flatten)]
    pub common: Opts,
    #[arg(long, default_value_t = 4)]
    pub sites: usize,
    /// Rooms in all, spread over the sites.
    #[arg(long, default_value_t = 200)]
    pub rooms: usize,
    /// Readers per room.
    #[arg(long, default_value_t = 8)]
    pub readers: usize,
    /// Senders per room.
    #[arg(long, default_value_t = 2)]
    pub senders: usize,
    /// Messages per second, all rooms together (open loop).
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 100)]
    pub size: usize,
}

pub async fn run(o: RoomsOpts) -> anyhow::Result<String> {
    o.common
        .check_connections(o.rooms * (o.readers + o.senders))?;
    let load_start = loadavg();
    let target = Target::open(&o.common, o.sites.max(1)).await?;
    let groups: Vec<Group> = (0..o.rooms)
        .map(|r| Group {
            site: r,
            room: format!("room-{r}"),
            receivers: o.readers,
            senders: o.senders,
            slow: 0,
            probes: o.readers,
        })
        .collect();
    let load = Load::steady(o.rate, o.size, &o.common);
    let outcome = flow::run(&target, &o.common, &groups, load).await;
    let report = json!({
        "scenario": "rooms",
        "params": {"sites": target.sites.len(), "rooms": o.rooms, "readers_per_room": o.readers,
                   "senders_per_room": o.senders, "rate": o.rate, "size": o.size,
                   "duration_s": load.duration.as_secs_f64()},
        "conditions": conditions(&target, &load_start),
        "results": outcome.json(),
    });
    target.close().await;
    Ok(report.to_string())
}
