//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub messages_committed: Counter,
    pub deliveries: Counter,
    pub commit_batch_size: Histogram,
    /// Group commits that failed (their senders were told to retry).
    pub commit_failures: Counter,
    /// Cluster payloads published to the broker.
    pub broker_published: Counter,
    /// Cluster payloads received from the broker (our own included).
    pub broker_received: Counter,
    /// Messages a room had not had, read from the database (loss or
    /// reordering on the broker, a killed instance, degraded mode).
    pub broker_gaps_repaired: Counter,
    /// Broker links restarted after going silent or down.
    pub broker_reconnects: Counter,
    /// `error` frames sent, by code.
    pub frame_errors: Family<CodeLabel, Counter>,
    /// Upgrades refused before the WebSocket opened, by reason.
    pub upgrades_refused: Family<CodeLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chatctl");
        let connections = Gauge::default();
        let messages_committed = Counter::default();
        let deliveries = Counter::default();
        let commit_batch_size = Histogram::new([
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ]);
        let commit_failures = Counter::default();
        let broker_published = Counter::default();
        let broker_received = Counter::default();
        let broker_gaps_repaired = Counter::default();
        let broker_reconnects = Counter::default();
        let frame_errors = Family::default();
        let upgrades_refused = Family::default();
        registry.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        registry.register(
            "messages_committed",
            "Messages stored and broadcast",
            messages_committed.clone(),
        );
        registry.register(
            "deliveries",
            "Message frames queued to recipients",
            deliveries.clone(),
        );
        registry.register(
            "commit_batch_size",
            "Messages per group commit",
            commit_batch_size.clone(),
        );
        registry.register(
            "commit_failures",
            "Group commits that failed; their senders were told to retry",
            commit_failures.clone(),
        );
        registry.register(
            "broker_published",
            "Cluster payloads published to the broker",
            broker_published.clone(),
        );
        registry.register(
            "broker_received",
            "Cluster payloads received from the broker, this instance's included",
            broker_received.clone(),
        );
        registry.register(
            "broker_gaps_repaired",
            "Messages read from the database because the broker had not brought them",
            broker_gaps_repaired.clone(),
        );
        registry.register(
            "broker_reconnects",
            "Broker links restarted after going silent or down",
            broker_reconnects.clone(),
        );
        registry.register(
            "frame_errors",
            "Error frames sent to clients, by code",
            frame_errors.clone(),
        );
        registry.register(
            "upgrades_refused",
            "WebSocket upgrades refused, by reason",
            upgrades_refused.clone(),
        );
        Metrics {
            registry,
            connections,
            messages_committed,
            deliveries,
            commit_batch_size,
            commit_failures,
            broker_published,
            broker_received,
            broker_gaps_repaired,
            broker_reconnects,
            frame_errors,
            upgrades_refused,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
