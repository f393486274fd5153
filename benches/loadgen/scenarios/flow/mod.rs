//! The message-flow engine behind fanout, rooms and slow: groups of
//! connections in rooms, open-loop senders, counting receivers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Mutex as AsyncMutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use super::outcome::Outcome;
use super::probes::{self, ProbeLog, Side};
use crate::client::{self, Conn};
use crate::stats::{self, now_us, CpuWindow, Proc, ProcsWindow};
use crate::target::Target;
use crate::Opts;
use tasks::{count_cut, receive, send_loop, sender_reader, Acks, Counters, Schedule};

mod tasks;

/// Longest wait for acks and deliveries after the last send.
const DRAIN: Duration = Duration::from_secs(10);

/// Connections in one room.
#[derive(Clone, Debug)]
pub struct Group {
    pub site: usize,
    pub room: String,
    pub receivers: usize,
    pub senders: usize,
    /// Receivers (among `receivers`) that stop reading after the welcome.
    pub slow: usize,
    /// Receivers (among the others) that record delivery latency.
    pub probes: usize,
}

impl Group {
    fn members(&self) -> usize {
        self.receivers + self.senders
    }
}

/// The send load, shared by all senders of all groups.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Messages per second, all senders together.
    pub rate: f64,
    pub size: usize,
    pub duration: Duration,
    /// Kill the run's redis-server this long into the load, for this long.
    pub broker_restart: Option<(Duration, Duration)>,
}

impl Load {
    /// `rate` messages per second of `size` bytes for the run's --duration, the broker left
    /// alone.
    pub fn steady(rate: f64, size: usize, common: &Opts) -> Load {
        Load {
            rate,
            size,
            duration: common.duration(),
            broker_restart: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sender,
    Slow,
    Probe,
    Plain,
}

struct Spec {
    group: usize,
    role: Role,
    index_in_group: usize,
    /// Senders are on the first instance; the others round-robin.
    instance: usize,
}

/// Who each connection of the run is, group by group.
fn specs_of(groups: &[Group], instances: usize) -> Vec<Spec> {
    groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            (0..group.members()).map(move |j| {
                let role = if j < group.senders {
                    Role::Sender
                } else if j < group.senders + group.slow {
                    Role::Slow
                } else if j < group.senders + group.slow + group.probes {
                    Role::Probe
                } else {
                    Role::Plain
                };
                Spec {
                    group: g,
                    role,
                    index_in_group: j,
                    instance: j.saturating_sub(group.senders) % instances,
                }
            })
        })
        .collect()
}

/// Opens every connection of `specs` (slow readers with a small receive
/// buffer): the open ones by spec index, how many failed, and the first error.
async fn open_all(
    target: &Target,
    opts: &Opts,
    groups: &[Group],
    specs: &[Spec],
) -> (Vec<(usize, Conn)>, usize, Option<String>) {
    client::open_many(specs.len(), opts.connect_concurrency, |i| {
        let spec = &specs[i];
        let group = &groups[spec.group];
        let mut dial = client::dial_to(target, spec.instance, group.site, i);
        if spec.role == Role::Slow {
            dial.recv_buffer = Some(4096);
        }
        let nick = format!("lg{}", spec.index_in_group);
        let room = group.room.clone();
        async move {
            let conn = client::open(&dial, &nick, None, &room, None).await?;
            Ok((i, conn))
        }
    })
    .await
}

/// What every task of a run shares.
struct Shared {
    /// One per group.
    counters: Vec<Arc<Counters>>,
    /// Refusals by error code.
    errors: Arc<Mutex<BTreeMap<String, u64>>>,
    /// Latest delivery or ack: the end of the work the server did for this run.
    last_delivery: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

impl Shared {
    fn sum(&self, f: fn(&Counters) -> u64) -> u64 {
        self.counters.iter().map(|c| f(c)).sum()
    }
}

/// The running tasks, by role.
#[derive(Default)]
struct Tasks {
    receivers: Vec<JoinHandle<Option<(Side, ProbeLog)>>>,
    sender_loops: Vec<JoinHandle<ProbeLog>>,
    sender_readers: Vec<JoinHandle<Acks>>,
    slow_conns: Vec<Conn>,
}

/// When the senders send: from `t0` for the load's duration, `interval` apart
/// each, staggered across one interval.
struct Timing {
    t0: u64,
    end: u64,
    interval_us: u64,
    senders: usize,
}

/// Starts a task per reading connection and two per sender; slow readers
/// are kept, unread.
fn start(
    opened: Vec<(usize, Conn)>,
    specs: &[Spec],
    shared: &Shared,
    timing: &Timing,
    size: usize,
) -> Tasks {
    let mut tasks = Tasks::default();
    let mut sender_no = 0u64;
    for (i, conn) in opened {
        let spec = &specs[i];
        let c = shared.counters[spec.group].clone();
        match spec.role {
            Role::Slow => tasks.slow_conns.push(conn),
            Role::Probe | Role::Plain => tasks.receivers.push(tokio::spawn(receive(
                conn.rd,
                conn.wr,
                (spec.role == Role::Probe).then_some(if spec.instance == 0 {
                    Side::Local
                } else {
                    Side::Remote
                }),
                c,
                shared.last_delivery.clone(),
                shared.stop.clone(),
            ))),
            Role::Sender => {
                let wr = Arc::new(AsyncMutex::new(conn.wr));
                let offset = timing.interval_us * sender_no / timing.senders as u64;
                sender_no += 1;
                let schedule = Schedule {
                    id: sender_no,
                    first: timing.t0 + offset,
                    interval: timing.interval_us,
                    end: timing.end,
                    size,
                };
                tasks.sender_readers.push(tokio::spawn(sender_reader(
                    conn.rd,
                    wr.clone(),
                    schedule.clone(),
                    c.clone(),
                    shared.errors.clone(),
                    shared.last_delivery.clone(),
                    shared.stop.clone(),
                )));
                tasks
                    .sender_loops
                    .push(tokio::spawn(send_loop(wr, conn.room, schedule, c)));
            }
        }
    }
    tasks
}

/// Samples the server's and every process's memory every quarter second;
/// returns the server's peak so far.
fn sample_memory(
    server: Option<Proc>,
    procs: &Arc<ProcsWindow>,
    rss_start: Option<u64>,
) -> (Arc<AtomicU64>, Option<JoinHandle<()>>) {
    let rss_max = Arc::new(AtomicU64::new(rss_start.unwrap_or(0)));
    let sampler = server.map(|p| {
        let (rss_max, procs) = (rss_max.clone(), procs.clone());
        tokio::spawn(async move {
            loop {
                if let Some(rss) = p.rss_kib() {
                    rss_max.fetch_max(rss, Relaxed);
                }
                procs.sample_rss();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    });
    (rss_max, sampler)
}

/// Waits (at most [`DRAIN`]) for every send to be answered and every
/// acknowledged message to reach every member that reads; returns how many
/// deliveries that is.
async fn drain(shared: &Shared, groups: &[Group]) -> u64 {
    let drain_until = Instant::now() + DRAIN;
    while shared.sum(|c| c.acked.load(Relaxed) + c.refused.load(Relaxed))
        < shared.sum(|c| c.sent.load(Relaxed))
        && Instant::now() < drain_until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected: u64 = groups
        .iter()
        .zip(&shared.counters)
        .map(|(g, c)| c.acked.load(Relaxed) * (g.members() - g.slow).saturating_sub(1) as u64)
        .sum();
    while shared.sum(|c| c.delivered.load(Relaxed)) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    expected
}

/// The broker restart's timings, if one was asked for and went through.
async fn restarted(
    task: Option<JoinHandle<anyhow::Result<probes::Restart>>>,
) -> Option<probes::Restart> {
    match task?.await {
        Ok(Ok(r)) => Some(r),
        Ok(Err(e)) => {
            eprintln!("loadgen: broker restart failed: {e:#}");
            None
        }
        Err(_) => None,
    }
}

/// What the readers measured once stopped: the probes' logs (this instance,
/// the others), the senders' acks, and how many slow readers were cut.
async fn collect(tasks: Tasks) -> (ProbeLog, ProbeLog, Acks, usize, usize) {
    let (mut local, mut remote) = (ProbeLog::default(), ProbeLog::default());
    for r in tasks.receivers {
        match r.await {
            Ok(Some((Side::Local, log))) => local.add(&log),
            Ok(Some((Side::Remote, log))) => remote.add(&log),
            _ => {}
        }
    }
    let mut acks = Acks {
        latency: stats::histogram(),
        stamped: ProbeLog::default(),
    };
    for r in tasks.sender_readers {
        if let Ok(a) = r.await {
            let _ = acks.latency.add(&a.latency);
            acks.stamped.add(&a.stamped);
        }
    }
    let slow = tasks.slow_conns.len();
    let slow_cut = count_cut(tasks.slow_conns).await;
    (local, remote, acks, slow, slow_cut)
}

pub async fn run(target: &Target, opts: &Opts, groups: &[Group], load: Load) -> Outcome {
    let specs = specs_of(groups, target.instances.len());
    let server = target.server_pid.map(Proc);
    let rss_start = server.and_then(Proc::rss_kib);
    let (opened, connect_failed, first_error) = open_all(target, opts, groups, &specs).await;
    let connect: Vec<Duration> = opened.iter().map(|(_, c)| c.connect_time).collect();
    // The joins' trailing work (a crowd's WAL checkpoint, say) is the join's
    // cost, not the load's: the load starts once the servers are idle.
    let servers: Vec<Proc> = (target.pids().await.0.into_iter()).map(Proc).collect();
    let settle = stats::until_idle(&servers, Duration::from_secs(15)).await;
    eprintln!(
        "loadgen: {} connections open ({connect_failed} failed), settled in {settle:.2?}; sending for {:?}",
        opened.len(),
        load.duration
    );
    let (stop_tx, stop) = watch::channel(false);
    let shared = Shared {
        counters: groups.iter().map(|_| Arc::default()).collect(),
        errors: Arc::new(Mutex::new(BTreeMap::new())),
        last_delivery: Arc::new(AtomicU64::new(0)),
        stop,
    };
    let senders = opened
        .iter()
        .filter(|(i, _)| specs[*i].role == Role::Sender)
        .count()
        .max(1);
    // Senders start together a moment from now, staggered across one interval.
    let t0 = now_us() + 200_000;
    let timing = Timing {
        t0,
        end: t0 + load.duration.as_micros() as u64,
        interval_us: (1e6 * senders as f64 / load.rate.max(0.001)) as u64,
        senders,
    };
    let mut tasks = start(opened, &specs, &shared, &timing, load.size);
    let cpu = CpuWindow::start(server);
    let procs = ProcsWindow::start(procs_of(target).await);
    let (rss_max, sampler) = sample_memory(server, &procs, rss_start);
    let restart = load
        .broker_restart
        .and_then(|(at, down)| probes::restart_broker(target, t0, at, down));
    let mut written = ProbeLog::default();
    for l in std::mem::take(&mut tasks.sender_loops) {
        if let Ok(log) = l.await {
            written.add(&log);
        }
    }
    let opening = Opening {
        connections: specs.len(),
        connect_failed,
        first_error,
        connect,
        settle,
    };
    let server_cpu_percent = cpu.percent();
    let expected = drain(&shared, groups).await;
    let measured = Measured {
        expected,
        server_cpu_percent,
        cpu_s: procs.cpu_seconds(),
        switches: procs.switches_json(shared.sum(|c| c.delivered.load(Relaxed))),
        cpu_window: procs.elapsed(),
    };
    let _ = stop_tx.send(true);
    if let Some(s) = sampler {
        s.abort();
    }
    let server_rss = (rss_start, server.map(|_| rss_max.load(Relaxed)));
    let restart = restarted(restart).await;
    let stopped = Stopped {
        tasks,
        restart,
        server_rss,
        t0,
        written,
    };
    tally(target, opening, measured, &shared, &procs, stopped).await
}

/// How the connections opened.
struct Opening {
    connections: usize,
    connect_failed: usize,
    first_error: Option<String>,
    connect: Vec<Duration>,
    /// From the last connection open until the servers were idle.
    settle: Duration,
}

/// What is measured once the sending is over, before the readers stop.
struct Measured {
    /// Deliveries the acknowledged messages make.
    expected: u64,
    server_cpu_percent: Option<f64>,
    cpu_s: Vec<Option<f64>>,
    switches: Vec<Option<serde_json::Value>>,
    cpu_window: Duration,
}

/// A run whose readers were told to stop.
struct Stopped {
    tasks: Tasks,
    restart: Option<probes::Restart>,
    /// The server's memory at the start and at its peak.
    server_rss: (Option<u64>, Option<u64>),
    t0: u64,
    /// How late the sends left the load generator.
    written: ProbeLog,
}

/// The outcome of a stopped run: what was measured, and what its counters,
/// processes and readers say.
async fn tally(
    target: &Target,
    opening: Opening,
    measured: Measured,
    shared: &Shared,
    procs: &ProcsWindow,
    stopped: Stopped,
) -> Outcome {
    let Measured {
        expected,
        server_cpu_percent,
        cpu_s,
        switches,
        cpu_window,
    } = measured;
    let t0 = stopped.t0;
    let (local, remote, acks, slow, slow_cut) = collect(stopped.tasks).await;
    let mut latency = stats::histogram();
    let _ = latency.add(&local.latency);
    let _ = latency.add(&remote.latency);
    let last = shared.last_delivery.load(Relaxed).max(t0 + 1);
    let errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
    let sum = |f: fn(&Counters) -> u64| shared.sum(f);
    Outcome {
        connections: opening.connections,
        connect_failed: opening.connect_failed,
        first_error: opening.first_error,
        connect: opening.connect,
        settle: opening.settle,
        sent: sum(|c| c.sent.load(Relaxed)),
        acked: sum(|c| c.acked.load(Relaxed)),
        refused: sum(|c| c.refused.load(Relaxed)),
        errors,
        expected,
        delivered: sum(|c| c.delivered.load(Relaxed)),
        dropped: sum(|c| c.dropped.load(Relaxed)),
        elapsed: Duration::from_micros(last - t0),
        latency,
        local,
        remote,
        instances: target.instances.len(),
        broker: target.broker_url.clone(),
        t0,
        restart: stopped.restart,
        processes: procs.json(&cpu_s, cpu_window, switches),
        // A broker restarted during the run is a new process: its CPU is left out.
        cpu_total_s: Some(cpu_s.iter().flatten().sum::<f64>())
            .filter(|_| cpu_s.iter().any(Option::is_some)),
        ack_latency: acks.latency,
        written: stopped.written,
        stamped: acks.stamped,
        slow,
        slow_cut,
        server_cpu_percent,
        server_rss_start_kib: stopped.server_rss.0,
        server_rss_max_kib: stopped.server_rss.1,
    }
}

/// Every instance's process, then the broker's.
async fn procs_of(target: &Target) -> Vec<(String, Proc)> {
    let (servers, redis) = target.pids().await;
    let mut procs: Vec<(String, Proc)> = servers
        .into_iter()
        .enumerate()
        .map(|(n, pid)| (format!("chatctl-{}", (b'a' + n as u8) as char), Proc(pid)))
        .collect();
    procs.extend(redis.map(|pid| ("redis-server".to_owned(), Proc(pid))));
    procs
}
