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

/// Declares [`Metrics`] and its `new`: each metric once, with its doc, its type and the help
/// `/metrics` shows; registered in this order as `chatctl_<field>` (counters with `_total`).
/// `= expr` makes a metric that needs more than its default (a histogram's buckets).
macro_rules! metrics {
    ($( $(#[doc = $doc:literal])* $field:ident: $ty:ty $(= $init:expr)?, $help:literal; )*) => {
        pub struct Metrics {
            registry: Registry,
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Metrics {
            pub fn new() -> Self {
                let mut r = Registry::with_prefix("chatctl");
                Metrics {
                    $( $field: registered(&mut r, stringify!($field), $help, metrics!(@make $ty $(= $init)?)), )*
                    registry: r,
                }
            }
        }
    };
    (@make $ty:ty) => { <$ty>::default() };
    (@make $ty:ty = $init:expr) => { $init };
}

metrics! {
    connections: Gauge, "Open WebSocket connections";
    messages_committed: Counter, "Messages stored and broadcast";
    deliveries: Counter, "Message frames queued to recipients";
    commit_batch_size: Histogram = Histogram::new(BATCH_BUCKETS), "Messages per group commit";
    /// Group commits that failed (their senders were told to retry).
    commit_failures: Counter, "Group commits that failed; their senders were told to retry";
    /// Cluster payloads published to the broker.
    broker_published: Counter, "Cluster payloads published to the broker";
    /// Cluster payloads received from the broker (our own included).
    broker_received: Counter,
        "Cluster payloads received from the broker, this instance's included";
    /// Messages a room had not had, read from the database (loss or
    /// reordering on the broker, a killed instance, degraded mode).
    broker_gaps_repaired: Counter,
        "Messages read from the database because the broker had not brought them";
    /// Broker links restarted after going silent or down.
    broker_reconnects: Counter, "Broker links restarted after going silent or down";
    /// `error` frames sent, by code.
    frame_errors: Family<CodeLabel, Counter>, "Error frames sent to clients, by code";
    /// Upgrades refused before the WebSocket opened, by reason.
    upgrades_refused: Family<CodeLabel, Counter>, "WebSocket upgrades refused, by reason";
    /// Webhook attempts by outcome: `delivered`, `failed` (to be retried), `given_up`.
    webhook_attempts: Family<OutcomeLabel, Counter>,
        "Webhook delivery attempts, by outcome (delivered, failed, given_up)";
    /// Webhook endpoints this instance disabled after failing for the whole retry window.
    webhook_endpoints_disabled: Counter,
        "Webhook endpoints disabled after failing for the whole retry window";
    /// Welcome histories (joins and resumes) answered from the rooms' recent
    /// messages in memory (`hit`) or read from the database (`miss`).
    history_cache: Family<OutcomeLabel, Counter>,
        "Join and resume histories answered from memory (hit) or the database (miss)";
    /// Connections being set up on the public listener (`http::setup_slots`).
    handshakes: Gauge,
        "Connections being set up: accepted, first request or hello not answered yet";
    /// Setup slots freed by their deadline rather than by the connection.
    handshake_slots_expired: Counter,
        "Handshake slots freed by their 2 s deadline, the connection still not set up";
}

/// Buckets of `commit_batch_size`: messages per group commit, powers of two.
const BATCH_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// `metric`, registered under `name` (after the `chatctl_` prefix) with `help`.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
