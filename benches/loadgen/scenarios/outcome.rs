//! What a flow run measured, and its JSON report.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::probes::{self, ProbeLog, Restart};
use crate::stats;

/// Everything a flow run measured.
pub struct Outcome {
    pub connections: usize,
    pub connect_failed: usize,
    pub first_error: Option<String>,
    pub connect: Vec<Duration>,
    /// From the last connection open until the servers were idle (the load then starts).
    pub settle: Duration,
    pub sent: u64,
    pub acked: u64,
    pub refused: u64,
    pub errors: BTreeMap<String, u64>,
    pub expected: u64,
    pub delivered: u64,
    pub dropped: u64,
    /// From the first intended send to the last delivery or ack.
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// The probes by instance: on the senders' instance, or another.
    pub local: ProbeLog,
    pub remote: ProbeLog,
    pub instances: usize,
    pub broker: Option<String>,
    /// The first intended send (µs), and the broker restart, if any.
    pub t0: u64,
    pub restart: Option<Restart>,
    /// Every instance's (and the broker's) CPU and memory, and their CPU
    /// seconds from the first send until the last delivery.
    pub processes: serde_json::Value,
    pub cpu_total_s: Option<f64>,
    pub ack_latency: Histogram<u64>,
    /// How late each send left the load generator, after its intended time.
    pub written: ProbeLog,
    /// When the server stamped each acknowledged message (`ack.ts`), after its intended time.
    pub stamped: ProbeLog,
    pub slow: usize,
    pub slow_cut: usize,
    pub server_cpu_percent: Option<f64>,
    pub server_rss_start_kib: Option<u64>,
    pub server_rss_max_kib: Option<u64>,
}
impl Outcome {
    pub fn delivery_ratio(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.delivered as f64 / self.expected as f64
    }

    /// The bar: delivery ratio ≥ 0.99 and p99 ≤ 100 ms.
    pub fn sustained(&self) -> bool {
        self.delivery_ratio() >= 0.99 && self.latency.value_at_quantile(0.99) <= 100_000
    }

    pub fn json(&self) -> serde_json::Value {
        let secs = self.elapsed.as_secs_f64().max(1e-6);
        let round = |v: f64| v.round();
        serde_json::json!({
            "connections": self.connections,
            "connect_failed": self.connect_failed,
            "first_error": self.first_error,
            "connect_time": stats::durations(self.connect.iter().copied()),
            "settled_after_s": (self.settle.as_secs_f64() * 100.0).round() / 100.0,
            "sent": self.sent,
            "acked": self.acked,
            "refused": self.refused,
            "errors": self.errors,
            "deliveries_expected": self.expected,
            "deliveries": self.delivered,
            "delivery_ratio": (self.delivery_ratio() * 10_000.0).round() / 10_000.0,
            "elapsed_s": (secs * 1000.0).round() / 1000.0,
            "deliveries_per_sec": round(self.delivered as f64 / secs),
            "acked_per_sec": round(self.acked as f64 / secs),
            "latency": stats::summary(&self.latency),
            "worst_ms_by_second_sent": probes::worst_per_second(&[&self.local, &self.remote], self.t0),
            // Where a late second's time goes: leaving the load generator,
            // then reaching the server's writer (its batch's `ts`), then the rest.
            "send_written_worst_ms_by_second": probes::worst_per_second(&[&self.written], self.t0),
            "writer_stamped_worst_ms_by_second": probes::worst_per_second(&[&self.stamped], self.t0),
            "instances": self.instances,
            "broker": self.broker,
            "latency_by_instance": probes::sides_json(&self.local, &self.remote),
            "processes": self.processes,
            "cpu_s_per_100k_deliveries": self.cpu_total_s
                .filter(|_| self.delivered > 0)
                .map(|c| (c * 1e5 / self.delivered as f64 * 1000.0).round() / 1000.0),
            "broker_restart": self.restart
                .map(|r| probes::restart_json(&r, self.t0, &self.local, &self.remote)),
            "ack_latency": stats::summary(&self.ack_latency),
            "dropped": self.dropped,
            "sustained": self.sustained(),
            "server_cpu_percent": self.server_cpu_percent,
            "server_rss_start_kib": self.server_rss_start_kib,
            "server_rss_max_kib": self.server_rss_max_kib,
        })
    }
}
