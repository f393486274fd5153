//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
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
    /// Webhook attempts by outcome: `delivered`, `failed` (to be retried), `given_up`.
    pub webhook_attempts: Family<OutcomeLabel, Counter>,
    /// Webhook endpoints this instance disabled after failing for the whole retry window.
    pub webhook_endpoints_disabled: Counter,
    /// Welcome histories (joins and resumes) answered from the rooms' recent
    /// messages in memory (`hit`) or read from the database (`miss`).
    pub history_cache: Family<OutcomeLabel, Counter>,
    /// Connections being set up on the public listener (`http::setup_slots`).
    pub handshakes: Gauge,
    /// Setup slots freed by their deadline rather than by the connection.
    pub handshake_slots_expired: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("chatctl");
        let batch_buckets = [
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ];
        Metrics {
            connections: registered(&mut r, "connections", "Open WebSocket connections"),
            messages_committed: registered(
                &mut r,
                "messages_committed",
                "Messages stored and broadcast",
            ),
            deliveries: registered(&mut r, "deliveries", "Message frames queued to recipients"),
            commit_batch_size: registered_as(
                &mut r,
                "commit_batch_size",
                "Messages per group commit",
                Histogram::new(batch_buckets),
            ),
            commit_failures: registered(
                &mut r,
                "commit_failures",
                "Group commits that failed; their senders were told to retry",
            ),
            broker_published: registered(
                &mut r,
                "broker_published",
                "Cluster payloads published to the broker",
            ),
            broker_received: registered(
                &mut r,
                "broker_received",
                "Cluster payloads received from the broker, this instance's included",
            ),
            broker_gaps_repaired: registered(
                &mut r,
                "broker_gaps_repaired",
                "Messages read from the database because the broker had not brought them",
            ),
            broker_reconnects: registered(
                &mut r,
                "broker_reconnects",
                "Broker links restarted after going silent or down",
            ),
            frame_errors: registered(
                &mut r,
                "frame_errors",
                "Error frames sent to clients, by code",
            ),
            upgrades_refused: registered(
                &mut r,
                "upgrades_refused",
                "WebSocket upgrades refused, by reason",
            ),
            webhook_attempts: registered(
                &mut r,
                "webhook_attempts",
                "Webhook delivery attempts, by outcome (delivered, failed, given_up)",
            ),
            webhook_endpoints_disabled: registered(
                &mut r,
                "webhook_endpoints_disabled",
                "Webhook endpoints disabled after failing for the whole retry window",
            ),
            history_cache: registered(
                &mut r,
                "history_cache",
                "Join and resume histories answered from memory (hit) or the database (miss)",
            ),
            handshakes: registered(
                &mut r,
                "handshakes",
                "Connections being set up: accepted, first request or hello not answered yet",
            ),
            handshake_slots_expired: registered(
                &mut r,
                "handshake_slots_expired",
                "Handshake slots freed by their 2 s deadline, the connection still not set up",
            ),
            registry: r,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// A new metric of its default value, registered under `name` (after the
/// `chatctl_` prefix) with `help`.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    registered_as(registry, name, help, M::default())
}

fn registered_as<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
