//! chatctl load generator: speaks the chat protocol to a server and prints one
//! JSON line per run.
//!
//! ```sh
//! cargo bench --bench loadgen -- fanout --receivers 1000 --senders 10 --rate 200 --size 100 --duration 10
//! cargo bench --bench loadgen -- idle --connections 15000
//! cargo bench --bench loadgen -- persist --messages 300000
//! cargo bench --bench loadgen -- rooms --url ws://127.0.0.1:8080 --site pk_... --origin http://localhost:8080
//! ```
//!
//! Without `--url` it starts `chatctl serve` (the release binary cargo built
//! with this bench) as a child process on a fresh SQLite file or
//! `--database-url`: a separate process, as in production, whose memory and
//! CPU are read apart from the load generator's. `--in-process` runs the
//! server inside this process instead (one runtime for both sides).
//! Client sockets are bound to addresses spread over 127.0.0.0/8. Every run is
//! bounded: connections, duration and a hard deadline are capped.

mod client;
mod cluster;
mod scenarios;
mod stats;
mod target;
mod wire;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Hard caps, so a typo cannot turn a bench into a runaway.
const MAX_CONNECTIONS: usize = 50_000;
const MAX_DURATION_SECS: f64 = 300.0;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for chatctl (prints one JSON line per run)"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// R receivers and S senders in one room at an open-loop send rate: deliveries/s and latency.
    Fanout(scenarios::fanout::FanoutOpts),
    /// Many rooms on several sites, senders and readers mixed: send→ack latency.
    Rooms(scenarios::rooms::RoomsOpts),
    /// N connections held open: server memory per connection and idle CPU.
    Idle(scenarios::idle::IdleOpts),
    /// Receivers killed and reconnected at random while messages flow: exactly-once, in order.
    Churn(scenarios::churn::ChurnOpts),
    /// A share of receivers stop reading: they are cut, the others keep their latency.
    Slow(scenarios::slow::SlowOpts),
    /// The storage path alone: messages committed per second by the group-commit writer.
    Persist(scenarios::persist::PersistOpts),
    /// N connections join one room: time until all are welcomed, CPU, memory per connection.
    BigroomJoin(scenarios::bigroom::BigroomJoinOpts),
    /// fanout with a live event's defaults: 10,000 receivers, 10 senders, 20 msg/s.
    BigroomFanout(scenarios::fanout::BigroomFanoutOpts),
    /// A room of N is killed (SIGKILL) and restarted; all resume together.
    Storm(scenarios::storm::StormOpts),
}

/// Where the server is and how to reach it; shared by every scenario.
#[derive(Args, Clone, Debug)]
pub struct Opts {
    /// A running chatctl (`ws://127.0.0.1:8080`); loopback only. Default: start one.
    #[arg(long)]
    pub url: Option<String>,
    /// Site key to use with --url (repeatable). Without it, sites are created with
    /// the chatctl CLI on --database-url.
    #[arg(long)]
    pub site: Vec<String>,
    /// Origin to send with --url (must be allowed by the site).
    #[arg(long)]
    pub origin: Option<String>,
    /// Database for a server started here (default: a fresh SQLite file), or where
    /// to create sites for --url.
    #[arg(long)]
    pub database_url: Option<String>,
    /// `chatctl serve` instances to start on one PostgreSQL database (needs a
    /// postgres:// --database-url; each run gets a fresh database beside it).
    /// Senders go to the first instance, receivers round-robin over all, and
    /// each latency probe is reported as local (first instance) or remote.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub instances: u16,
    /// The broker the instances share: `start` (a redis-server started here on a free
    /// loopback port, the default with several instances), `none` (the database only:
    /// degraded mode), or redis://127.0.0.1:PORT.
    #[arg(long, value_name = "URL|start|none")]
    pub broker_url: Option<String>,
    /// Run the server inside this process instead of as a `chatctl serve` child.
    #[arg(long)]
    pub in_process: bool,
    /// With --url: the server's process id, to report its memory and CPU.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seconds of load (capped at 300).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Outbound queue per connection on a server started here (bytes).
    #[arg(long, default_value_t = 1 << 20)]
    pub queue_bytes: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
}

impl Opts {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.clamp(0.1, MAX_DURATION_SECS))
    }

    /// Refuses runs beyond the caps instead of silently shrinking them.
    pub fn check_connections(&self, n: usize) -> anyhow::Result<()> {
        if n > MAX_CONNECTIONS {
            anyhow::bail!("{n} connections requested; the cap is {MAX_CONNECTIONS}");
        }
        Ok(())
    }
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        let run = async {
            match cli.scenario {
                Scenario::Fanout(o) => scenarios::fanout::run(o).await,
                Scenario::Rooms(o) => scenarios::rooms::run(o).await,
                Scenario::Idle(o) => scenarios::idle::run(o).await,
                Scenario::Churn(o) => scenarios::churn::run(o).await,
                Scenario::Slow(o) => scenarios::slow::run(o).await,
                Scenario::Persist(o) => scenarios::persist::run(o).await,
                Scenario::BigroomJoin(o) => scenarios::bigroom::run(o).await,
                Scenario::BigroomFanout(o) => scenarios::fanout::run(o.into()).await,
                Scenario::Storm(o) => scenarios::storm::run(o).await,
            }
        };
        // Set-up and drain are bounded too: nothing runs longer than this.
        let deadline = Duration::from_secs_f64(MAX_DURATION_SECS + 300.0);
        match tokio::time::timeout(deadline, run).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("run exceeded its hard deadline")),
        }
    });
    // Lingering connection tasks must not keep the process up.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::exit(1);
        }
    }
}
