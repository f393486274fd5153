//! Latency probes labelled by instance: local (on the senders' instance) or
//! remote (another instance, reached through the broker or the database), and
//! a broker restart in the middle of a run.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::stats::{self, now_us, record};
use crate::target::Target;

/// Width of the timeline's buckets (by intended send time).
const BUCKET_US: u64 = 250_000;

/// Where a probe is, relative to the senders.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Local,
    Remote,
}

/// What the probes on one side saw: every latency, and the worst per bucket
/// of send time (to see what a broker restart did, and when).
pub struct ProbeLog {
    pub latency: Histogram<u64>,
    worst: BTreeMap<u64, u64>,
}

impl Default for ProbeLog {
    fn default() -> Self {
        ProbeLog {
            latency: stats::histogram(),
            worst: BTreeMap::new(),
        }
    }
}

impl ProbeLog {
    /// A message intended at `stamp` (µs) arrived `latency` µs later.
    pub fn record(&mut self, stamp: u64, latency: u64) {
        record(&mut self.latency, latency);
        let worst = self.worst.entry(stamp / BUCKET_US).or_default();
        *worst = (*worst).max(latency);
    }

    pub fn add(&mut self, other: &ProbeLog) {
        let _ = self.latency.add(&other.latency);
        for (bucket, latency) in &other.worst {
            let worst = self.worst.entry(*bucket).or_default();
            *worst = (*worst).max(*latency);
        }
    }

    /// The worst latency of messages intended in `[from, to)` (µs).
    fn worst_between(&self, from: u64, to: u64) -> Option<u64> {
        self.worst
            .range(from / BUCKET_US..to.div_ceil(BUCKET_US))
            .map(|(_, l)| *l)
            .max()
    }
}

/// The worst latency (ms) of the messages intended in each second of the run
/// from `t0`: where in the run the tail is (a warm-up, a stall, all along).
pub fn worst_per_second(logs: &[&ProbeLog], t0: u64) -> Vec<f64> {
    let per_second = 1_000_000 / BUCKET_US;
    let mut worst: BTreeMap<u64, u64> = BTreeMap::new();
    for (bucket, latency) in logs.iter().flat_map(|log| &log.worst) {
        let second = bucket.saturating_sub(t0 / BUCKET_US) / per_second;
        let w = worst.entry(second).or_default();
        *w = (*w).max(*latency);
    }
    let last = worst.keys().next_back().copied().unwrap_or(0);
    (0..=last)
        .map(|s| (worst.get(&s).copied().unwrap_or(0) as f64 / 10.0).round() / 100.0)
        .collect()
}

/// When the broker was killed and back (µs on the load generator's clock).
#[derive(Clone, Copy, Debug)]
pub struct Restart {
    pub killed: u64,
    pub restarted: u64,
}

/// `kill -9` of the run's own redis-server `at` after `t0`, and a restart
/// (empty) `down` later. `None` if this run started no redis-server.
pub fn restart_broker(
    target: &Target,
    t0: u64,
    at: Duration,
    down: Duration,
) -> Option<tokio::task::JoinHandle<anyhow::Result<Restart>>> {
    let redis = target.redis.clone()?;
    Some(tokio::spawn(async move {
        let epoch = tokio::time::Instant::now() - Duration::from_micros(now_us());
        tokio::time::sleep_until(epoch + Duration::from_micros(t0) + at).await;
        let mut redis = redis.lock().await;
        redis.kill9();
        let killed = now_us();
        eprintln!("loadgen: redis-server killed");
        tokio::time::sleep(down).await;
        redis.restart().await?;
        let restarted = now_us();
        eprintln!("loadgen: redis-server restarted (empty)");
        Ok(Restart { killed, restarted })
    }))
}

/// The probes' figures by side, and the remote minus local difference.
pub fn sides_json(local: &ProbeLog, remote: &ProbeLog) -> Value {
    let ms = |v: u64| (v as f64 / 10.0).round() / 100.0;
    let diff = |q: f64| {
        if local.latency.is_empty() || remote.latency.is_empty() {
            return Value::Null;
        }
        let d =
            remote.latency.value_at_quantile(q) as f64 - local.latency.value_at_quantile(q) as f64;
        json!((d / 10.0).round() / 100.0)
    };
    // A side without probes (one instance: no remote) has no figures.
    let side = |log: &ProbeLog| {
        if log.latency.is_empty() {
            Value::Null
        } else {
            stats::summary(&log.latency)
        }
    };
    json!({
        "local": side(local),
        "remote": side(remote),
        "remote_minus_local_p50_ms": diff(0.50),
        "remote_minus_local_p99_ms": diff(0.99),
        "remote_max_ms": if remote.latency.is_empty() { Value::Null } else { json!(ms(remote.latency.max())) },
    })
}

/// What the probes saw around a broker restart: the worst delay of messages
/// sent while it was down (and in the 2 s after it was back), and a timeline.
pub fn restart_json(r: &Restart, t0: u64, local: &ProbeLog, remote: &ProbeLog) -> Value {
    let ms = |v: Option<u64>| v.map(|v| (v as f64 / 10.0).round() / 100.0);
    let s = |us: u64| ((us.saturating_sub(t0)) as f64 / 1e4).round() / 100.0;
    let after = r.restarted + 2_000_000;
    let from = (r.killed.saturating_sub(1_000_000)) / BUCKET_US;
    let to = (r.restarted + 3_000_000) / BUCKET_US;
    let timeline: Vec<Value> = (from..=to)
        .map(|b| {
            json!({
                "sent_at_s": s(b * BUCKET_US),
                "local_max_ms": ms(local.worst.get(&b).copied()),
                "remote_max_ms": ms(remote.worst.get(&b).copied()),
            })
        })
        .collect();
    // The last bucket sent after the kill whose remote worst exceeds 100 ms.
    let slow_until = remote
        .worst
        .range(r.killed / BUCKET_US..)
        .filter(|(_, l)| **l > 100_000)
        .map(|(b, _)| (b + 1) * BUCKET_US)
        .max();
    json!({
        "killed_at_s": s(r.killed),
        "restarted_at_s": s(r.restarted),
        "down_s": ((r.restarted - r.killed) as f64 / 1e4).round() / 100.0,
        "worst_remote_ms_sent_while_down": ms(remote.worst_between(r.killed, r.restarted)),
        "worst_remote_ms_sent_within_2s_after": ms(remote.worst_between(r.restarted, after)),
        "worst_local_ms_sent_while_down": ms(local.worst_between(r.killed, r.restarted)),
        "remote_over_100ms_until_s_after_restart": slow_until
            .map(|u| ((u as f64 - r.restarted as f64) / 1e4).round() / 100.0),
        "timeline": timeline,
    })
}
