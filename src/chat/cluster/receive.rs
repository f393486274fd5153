//! What arrives from the broker: other instances' messages go to the hub in
//! seq order; origins are tracked so that loss shows (a counter that skips,
//! a heartbeat that stops) and is repaired from the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::envelope::{decode, Body, RoomBatch};
use super::{BrokerEvent, Cluster, DOWN_AFTER};
use crate::chat::hub::BatchFrame;

/// Another instance, as heard over the broker.
struct Origin {
    name: String,
    counter: u64,
    last_seen: Instant,
    connections: usize,
}

pub(super) struct Receiver {
    cluster: Arc<Cluster>,
    origins: HashMap<u64, Origin>,
}

impl Receiver {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Receiver {
            cluster,
            origins: HashMap::new(),
        }
    }

    pub async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<BrokerEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut every = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => return,
                },
                _ = every.tick() => self.forget_silent(),
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }

    fn on_event(&mut self, event: BrokerEvent) {
        let cluster = &self.cluster;
        match event {
            BrokerEvent::Subscribed => {
                let mut link = cluster.link();
                link.subscribed = true;
                link.since = Some(Instant::now());
                drop(link);
                // Whatever was published while we were not subscribed is lost.
                cluster.repair.check_all();
            }
            BrokerEvent::Disconnected => cluster.link().subscribed = false,
            BrokerEvent::Message(payload) => self.on_payload(&payload),
        }
    }

    fn on_payload(&mut self, payload: &[u8]) {
        let cluster = self.cluster.clone();
        cluster.metrics.broker_received.inc();
        let envelope = match decode(payload) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(error = %err, "undecodable cluster payload ignored");
                return;
            }
        };
        if envelope.origin == cluster.origin {
            if let Body::Heartbeat { .. } = envelope.body {
                cluster.link().last_own = Some(Instant::now());
            }
            return;
        }
        let origin = self
            .origins
            .entry(envelope.origin)
            .or_insert_with(|| Origin {
                name: String::new(),
                counter: envelope.counter.saturating_sub(1),
                last_seen: Instant::now(),
                connections: 0,
            });
        origin.last_seen = Instant::now();
        if envelope.counter > origin.counter + 1 {
            tracing::info!(origin = %origin.name, lost = envelope.counter - origin.counter - 1, "cluster payloads lost; checking every room");
            cluster.repair.check_all();
        }
        origin.counter = origin.counter.max(envelope.counter);
        match envelope.body {
            Body::Messages { rooms } => {
                for batch in rooms {
                    deliver(&cluster, batch);
                }
            }
            Body::Heartbeat { name, connections } => {
                origin.name = name;
                origin.connections = connections;
            }
            Body::Control(control) => {
                let _ = cluster.controls.send(control);
            }
            Body::Leaving => {
                tracing::info!(origin = %origin.name, "instance left");
                self.origins.remove(&envelope.origin);
            }
        }
    }

    /// An origin silent for [`DOWN_AFTER`] is gone: it may have committed
    /// messages it never published (killed in between).
    fn forget_silent(&mut self) {
        let before = self.origins.len();
        self.origins.retain(|_, o| {
            let alive = o.last_seen.elapsed() < DOWN_AFTER;
            if !alive {
                tracing::warn!(origin = %o.name, "instance silent; taken for dead");
            }
            alive
        });
        if self.origins.len() != before {
            self.cluster.repair.check_all();
        }
    }
}

/// Queues a room's messages from another instance, in seq order: a room
/// that is behind is caught up from the database, and that read covers
/// these messages too.
fn deliver(cluster: &Cluster, batch: RoomBatch<Box<serde_json::value::RawValue>>) {
    if cluster.hub.high(batch.room).is_none() {
        return; // nobody here
    }
    let range = batch.range();
    let frames: Vec<BatchFrame> = batch
        .frames
        .into_iter()
        .map(|(seq, raw)| BatchFrame {
            seq,
            text: Arc::from(raw.get()),
            from: None,
        })
        .collect();
    let delivered = cluster
        .hub
        .publish_batch(batch.room, range, &frames, |_, n| {
            cluster.metrics.deliveries.inc_by(n as u64);
            None
        });
    if delivered.is_err() {
        cluster.repair.fill(batch.room, batch.name, range.upto);
    }
}
