//! Clocks, latency histograms and what /proc says about the machine and the server.

use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// The load generator's start, monotonic and as Unix time (µs).
static EPOCH: LazyLock<(Instant, u64)> = LazyLock::new(|| {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH);
    (Instant::now(), unix.map_or(0, |d| d.as_micros() as u64))
});

/// Microseconds since the load generator started; senders and receivers share it.
pub fn now_us() -> u64 {
    EPOCH.0.elapsed().as_micros() as u64
}

/// A [`now_us`] stamp as Unix time (µs), to set beside the server's own
/// timestamps (same machine, same clock).
pub fn unix_us(stamp: u64) -> u64 {
    EPOCH.1 + stamp
}

/// A latency histogram in µs, 1 µs to 10 min, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static histogram bounds are valid")
}

pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.max(1));
}

/// p50/p99/p999/max in milliseconds.
pub fn summary(h: &Histogram<u64>) -> Value {
    let ms = |v: u64| (v as f64 / 10.0).round() / 100.0;
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
    })
}

pub fn durations(values: impl IntoIterator<Item = Duration>) -> Value {
    let mut h = histogram();
    for d in values {
        record(&mut h, d.as_micros() as u64);
    }
    summary(&h)
}

/// The 1/5/15-minute load averages: other work on the machine skews every figure.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Waits until `procs` are done with what came before (together they use
/// under 2 % of a core over 250 ms), for at most `max`; returns how long that
/// took. A run's load starts on a server that has settled its connections.
pub async fn until_idle(procs: &[Proc], max: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    let busy = || procs.iter().filter_map(|p| p.cpu()).sum::<Duration>();
    let mut last = busy();
    while started.elapsed() < max {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = busy();
        if now.saturating_sub(last) < Duration::from_millis(5) {
            break;
        }
        last = now;
    }
    started.elapsed()
}

/// Memory and CPU of one process, from /proc.
#[derive(Clone, Copy)]
pub struct Proc(pub u32);

impl Proc {
    /// Resident set size in KiB.
    pub fn rss_kib(self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The most resident memory the process has had (VmHWM), in KiB.
    pub fn peak_rss_kib(self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// User + system CPU time consumed so far.
    pub fn cpu(self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).ok()?;
        // Fields after the command name, which is parenthesised and may hold spaces.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // The kernel reports in USER_HZ, 100 on every Linux we target.
        Some(Duration::from_millis(ticks * 10))
    }

    /// Voluntary + involuntary context switches of all the process's threads.
    pub fn context_switches(self) -> Option<u64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.0)).ok()?;
        let mut total = 0;
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
        Some(total)
    }

    fn activity(self) -> Activity {
        Activity {
            cpu: self.cpu(),
            switches: self.context_switches(),
        }
    }
}

/// Counters of one process at one moment; the difference of two is a window's work.
/// Threads that ended in between take their context switches with them.
#[derive(Clone, Copy, Default)]
struct Activity {
    cpu: Option<Duration>,
    switches: Option<u64>,
}

/// Samples a process's CPU over a window: share of one core, in percent.
pub struct CpuWindow {
    proc: Option<Proc>,
    cpu: Option<Duration>,
    at: Instant,
}

impl CpuWindow {
    pub fn start(proc: Option<Proc>) -> Self {
        CpuWindow {
            proc,
            cpu: proc.and_then(Proc::cpu),
            at: Instant::now(),
        }
    }

    pub fn percent(&self) -> Option<f64> {
        let now = self.proc?.cpu()?;
        let used = now.checked_sub(self.cpu?)?;
        let pct = used.as_secs_f64() / self.at.elapsed().as_secs_f64() * 100.0;
        Some((pct * 10.0).round() / 10.0)
    }
}

/// The part of every report that describes the conditions of the run.
pub fn conditions(target: &crate::target::Target, load_at_start: &str) -> Value {
    json!({
        "server": target.kind,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "loadavg_start": load_at_start,
        "loadavg_end": loadavg(),
    })
}

/// CPU and peak memory of several processes (every instance, and the broker)
/// over one window.
pub struct ProcsWindow {
    procs: Vec<(String, Proc, Activity)>,
    rss_max: Vec<std::sync::atomic::AtomicU64>,
    at: Instant,
}

impl ProcsWindow {
    pub fn start(procs: Vec<(String, Proc)>) -> std::sync::Arc<Self> {
        let rss_max = procs
            .iter()
            .map(|(_, p)| std::sync::atomic::AtomicU64::new(p.rss_kib().unwrap_or(0)))
            .collect();
        std::sync::Arc::new(ProcsWindow {
            procs: procs
                .into_iter()
                .map(|(l, p)| (l, p, p.activity()))
                .collect(),
            rss_max,
            at: Instant::now(),
        })
    }

    /// Call now and then: keeps each process's largest RSS.
    pub fn sample_rss(&self) {
        for ((_, p, _), max) in self.procs.iter().zip(&self.rss_max) {
            if let Some(rss) = p.rss_kib() {
                max.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// CPU seconds each process used since the start (`None` if it is gone:
    /// a restarted broker is a new process).
    pub fn cpu_seconds(&self) -> Vec<Option<f64>> {
        self.procs
            .iter()
            .map(|(_, p, start)| Some(p.cpu()?.checked_sub(start.cpu?)?.as_secs_f64()))
            .collect()
    }

    pub fn elapsed(&self) -> Duration {
        self.at.elapsed()
    }

    /// Context switches of each process since the start, in all and per 1,000
    /// `deliveries` (`None` where a process is gone or unreadable): each is a
    /// thread that went to sleep or was preempted, so more of them for the
    /// same deliveries means work spread over more, smaller wake-ups.
    /// (Socket sends per delivery are not in /proc; `perf stat -e
    /// syscalls:sys_enter_sendto -p PID` counts them.)
    pub fn switches_json(&self, deliveries: u64) -> Vec<Option<Value>> {
        let per_k = |n: Option<u64>| {
            n.filter(|_| deliveries > 0)
                .map(|n| (n as f64 * 1000.0 / deliveries as f64 * 100.0).round() / 100.0)
        };
        self.procs
            .iter()
            .map(|(_, p, start)| {
                let now = p.activity();
                let switches = now.switches?.checked_sub(start.switches?);
                Some(json!({
                    "context_switches": switches,
                    "switches_per_1k_deliveries": per_k(switches),
                }))
            })
            .collect()
    }

    /// One entry per process: CPU seconds and share of a core over `cpu`'s
    /// window (taken with [`ProcsWindow::cpu_seconds`] after `window`), peak RSS.
    pub fn json(
        &self,
        cpu: &[Option<f64>],
        window: Duration,
        switches: Vec<Option<Value>>,
    ) -> Value {
        let secs = window.as_secs_f64().max(1e-6);
        let list: Vec<Value> = self
            .procs
            .iter()
            .zip(cpu)
            .zip(&self.rss_max)
            .zip(switches)
            .map(|((((label, p, _), cpu), rss), switches)| {
                let mut entry = json!({
                    "process": label,
                    "pid": p.0,
                    "cpu_s": cpu.map(|c| (c * 100.0).round() / 100.0),
                    "cpu_percent": cpu.map(|c| (c / secs * 1000.0).round() / 10.0),
                    "rss_max_kib": rss.load(std::sync::atomic::Ordering::Relaxed),
                });
                if let (Some(entry), Some(Value::Object(extra))) = (entry.as_object_mut(), switches)
                {
                    entry.extend(extra);
                }
                entry
            })
            .collect();
        Value::Array(list)
    }
}
