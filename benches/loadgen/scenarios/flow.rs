//! The message-flow engine behind fanout, rooms and slow: groups of
//! connections in rooms, open-loop senders, counting receivers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{watch, Mutex as AsyncMutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use super::outcome::Outcome;
use super::probes::{self, ProbeLog, Side};
use crate::client::{self, send_frame, since_us, Conn};
use crate::stats::{self, now_us, record, CpuWindow, Proc, ProcsWindow};
use crate::target::Target;
use crate::wire::{Reader, Writer, OP_CLOSE, OP_PING};
use crate::Opts;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sender,
    Slow,
    Probe,
    Plain,
}

/// What one room's connections counted.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
    /// `message` frames received by connections that keep reading.
    delivered: AtomicU64,
    /// Connections still reading that the server closed anyway.
    dropped: AtomicU64,
}

struct Spec {
    group: usize,
    role: Role,
    index_in_group: usize,
    /// Senders are on the first instance; the others round-robin.
    instance: usize,
}

pub async fn run(target: &Target, opts: &Opts, groups: &[Group], load: Load) -> Outcome {
    let instances = target.instances.len();
    let specs: Vec<Spec> = groups
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
        .collect();
    let server = target.server_pid.map(Proc);
    let rss_start = server.and_then(Proc::rss_kib);

    let (opened, connect_failed, first_error) =
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
        .await;
    let connect: Vec<Duration> = opened.iter().map(|(_, c)| c.connect_time).collect();
    eprintln!(
        "loadgen: {} connections open ({connect_failed} failed); sending for {:?}",
        opened.len(),
        load.duration
    );

    let counters: Vec<Arc<Counters>> = groups.iter().map(|_| Arc::default()).collect();
    let errors = Arc::new(Mutex::new(BTreeMap::new()));
    // Latest delivery or ack: the end of the work the server did for this run.
    let last_delivery = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop) = watch::channel(false);
    let senders_total = opened
        .iter()
        .filter(|(i, _)| specs[*i].role == Role::Sender)
        .count()
        .max(1);
    let interval_us = (1e6 * senders_total as f64 / load.rate.max(0.001)) as u64;
    // Senders start together a moment from now, staggered across one interval.
    let t0 = now_us() + 200_000;
    let end = t0 + load.duration.as_micros() as u64;

    let mut receivers: Vec<JoinHandle<(Option<Side>, ProbeLog)>> = Vec::new();
    let mut sender_loops = Vec::new();
    let mut sender_readers: Vec<JoinHandle<Histogram<u64>>> = Vec::new();
    let mut slow_conns = Vec::new();
    let mut sender_no = 0u64;
    for (i, conn) in opened {
        let spec = &specs[i];
        let c = counters[spec.group].clone();
        match spec.role {
            Role::Slow => slow_conns.push(conn),
            Role::Probe | Role::Plain => receivers.push(tokio::spawn(receive(
                conn.rd,
                conn.wr,
                (spec.role == Role::Probe).then_some(if spec.instance == 0 {
                    Side::Local
                } else {
                    Side::Remote
                }),
                c,
                last_delivery.clone(),
                stop.clone(),
            ))),
            Role::Sender => {
                let wr = Arc::new(AsyncMutex::new(conn.wr));
                let offset = interval_us * sender_no / senders_total as u64;
                sender_no += 1;
                let schedule = Schedule {
                    id: sender_no,
                    first: t0 + offset,
                    interval: interval_us,
                    end,
                    size: load.size,
                };
                sender_readers.push(tokio::spawn(sender_reader(
                    conn.rd,
                    wr.clone(),
                    schedule.clone(),
                    c.clone(),
                    errors.clone(),
                    last_delivery.clone(),
                    stop.clone(),
                )));
                sender_loops.push(tokio::spawn(send_loop(wr, conn.room, schedule, c)));
            }
        }
    }

    let cpu = CpuWindow::start(server);
    let procs = ProcsWindow::start(procs_of(target).await);
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
    let restart = load
        .broker_restart
        .and_then(|(at, down)| probes::restart_broker(target, t0, at, down));
    for l in sender_loops {
        let _ = l.await;
    }
    let server_cpu_percent = cpu.percent();

    let sum = |f: fn(&Counters) -> u64| counters.iter().map(|c| f(c)).sum::<u64>();
    let drain_until = Instant::now() + DRAIN;
    while sum(|c| c.acked.load(Relaxed) + c.refused.load(Relaxed)) < sum(|c| c.sent.load(Relaxed))
        && Instant::now() < drain_until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected: u64 = groups
        .iter()
        .zip(&counters)
        .map(|(g, c)| c.acked.load(Relaxed) * (g.members() - g.slow).saturating_sub(1) as u64)
        .sum();
    while sum(|c| c.delivered.load(Relaxed)) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_s = procs.cpu_seconds();
    let switches = procs.switches_json(sum(|c| c.delivered.load(Relaxed)));
    let cpu_window = procs.elapsed();
    let _ = stop_tx.send(true);
    if let Some(s) = sampler {
        s.abort();
    }
    let restart = match restart {
        Some(task) => match task.await {
            Ok(Ok(r)) => Some(r),
            Ok(Err(e)) => {
                eprintln!("loadgen: broker restart failed: {e:#}");
                None
            }
            Err(_) => None,
        },
        None => None,
    };

    let (mut local, mut remote) = (ProbeLog::default(), ProbeLog::default());
    for r in receivers {
        match r.await {
            Ok((Some(Side::Local), log)) => local.add(&log),
            Ok((Some(Side::Remote), log)) => remote.add(&log),
            _ => {}
        }
    }
    let mut latency = stats::histogram();
    let _ = latency.add(&local.latency);
    let _ = latency.add(&remote.latency);
    let mut ack_latency = stats::histogram();
    for r in sender_readers {
        if let Ok(h) = r.await {
            let _ = ack_latency.add(&h);
        }
    }
    let slow = slow_conns.len();
    let slow_cut = count_cut(slow_conns).await;
    let last = last_delivery.load(Relaxed).max(t0 + 1);
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    Outcome {
        connections: specs.len(),
        connect_failed,
        first_error,
        connect,
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
        instances,
        broker: target.broker_url.clone(),
        t0,
        restart,
        processes: procs.json(&cpu_s, cpu_window, switches),
        // A broker restarted during the run is a new process: its CPU is left out.
        cpu_total_s: Some(cpu_s.iter().flatten().sum::<f64>())
            .filter(|_| cpu_s.iter().any(Option::is_some)),
        ack_latency,
        slow,
        slow_cut,
        server_cpu_percent,
        server_rss_start_kib: rss_start,
        server_rss_max_kib: server.map(|_| rss_max.load(Relaxed)),
    }
}

#[derive(Clone)]
struct Schedule {
    id: u64,
    first: u64,
    interval: u64,
    end: u64,
    size: usize,
}

impl Schedule {
    fn intended(&self, k: u64) -> u64 {
        self.first + k * self.interval
    }
}

/// Open loop: message k goes at its intended time whatever happened to k-1, and
/// carries that time, so a stalled server cannot hide its backlog.
async fn send_loop(wr: Arc<AsyncMutex<Writer>>, room: String, s: Schedule, c: Arc<Counters>) {
    let epoch = Instant::now() - Duration::from_micros(now_us());
    for k in 0.. {
        let at = s.intended(k);
        if at >= s.end {
            break;
        }
        tokio::time::sleep_until(epoch + Duration::from_micros(at)).await;
        let frame = send_frame(&room, &format!("{}.{k}", s.id), at, s.size);
        if wr.lock().await.text(&frame).await.is_err() {
            break;
        }
        c.sent.fetch_add(1, Relaxed);
    }
}

/// A sender's inbound side: acks (send→ack latency), errors, other senders' messages.
async fn sender_reader(
    mut rd: Reader,
    wr: Arc<AsyncMutex<Writer>>,
    s: Schedule,
    c: Arc<Counters>,
    errors: Arc<Mutex<BTreeMap<String, u64>>>,
    last_delivery: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Histogram<u64> {
    let mut h = stats::histogram();
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            f = rd.next() => f,
        };
        let Ok(Some(frame)) = frame else {
            c.dropped.fetch_add(1, Relaxed);
            break;
        };
        if frame.opcode == OP_PING {
            let payload = frame.payload.to_vec();
            let _ = wr.lock().await.pong(&payload).await;
        } else if frame.opcode == OP_CLOSE {
            c.dropped.fetch_add(1, Relaxed);
            break;
        } else if frame.is_type("message") {
            c.delivered.fetch_add(1, Relaxed);
            last_delivery.fetch_max(now_us(), Relaxed);
        } else if frame.is_type("ack") {
            c.acked.fetch_add(1, Relaxed);
            last_delivery.fetch_max(now_us(), Relaxed);
            let k = frame
                .str_field("cid")
                .and_then(|cid| cid.split_once('.'))
                .and_then(|(_, k)| k.parse().ok());
            if let Some(k) = k {
                record(&mut h, since_us(s.intended(k)));
            }
        } else if frame.is_type("error") {
            c.refused.fetch_add(1, Relaxed);
            let code = frame.str_field("code").unwrap_or("?").to_owned();
            if let Ok(mut e) = errors.lock() {
                *e.entry(code).or_default() += 1;
            }
        }
    }
    let _ = wr.lock().await.close().await;
    h
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

/// A reading member: counts `message` frames; a probe also records latency.
async fn receive(
    mut rd: Reader,
    mut wr: Writer,
    probe: Option<Side>,
    c: Arc<Counters>,
    last_delivery: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> (Option<Side>, ProbeLog) {
    let mut h = ProbeLog::default();
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            f = rd.next() => f,
        };
        let Ok(Some(frame)) = frame else {
            c.dropped.fetch_add(1, Relaxed);
            break;
        };
        match frame.opcode {
            OP_PING => {
                let payload = frame.payload.to_vec();
                let _ = wr.pong(&payload).await;
            }
            OP_CLOSE => {
                c.dropped.fetch_add(1, Relaxed);
                break;
            }
            _ if frame.is_type("message") => {
                c.delivered.fetch_add(1, Relaxed);
                let now = now_us();
                last_delivery.fetch_max(now, Relaxed);
                if probe.is_some() {
                    if let Some(stamp) = frame.stamp() {
                        h.record(stamp, now.saturating_sub(stamp));
                    }
                }
            }
            _ => {}
        }
    }
    let _ = wr.close().await;
    (probe, h)
}

/// How many stalled readers the server disconnected: read what is buffered and
/// see whether the stream ends (close frame or EOF) within a few seconds.
async fn count_cut(conns: Vec<Conn>) -> usize {
    let checks = conns.into_iter().map(|mut conn| async move {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, conn.rd.next()).await {
                Err(_) => return false,
                Ok(Ok(Some(f))) if f.opcode == OP_CLOSE => return true,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
            }
        }
    });
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|cut| *cut)
        .count()
}
