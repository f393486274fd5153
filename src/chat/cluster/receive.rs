//! What arrives from the broker: other instances' messages go to the hub in
//! seq order, their presence, typing and receipts to its rooms; origins are
//! tracked so that loss shows (a counter that skips, a heartbeat that stops)
//! and is repaired from the database, and a dead origin's people leave.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};

use super::envelope::{decode, Body, Heartbeat, Receipt, RoomBatch};
use super::presence::{Ask, Mirror};
use super::{BrokerEvent, BrokerHealth, Cluster};
use crate::chat::hub::BatchFrame;
use crate::chat::protocol::MessageView;

/// Another instance, as heard over the broker.
struct Origin {
    name: String,
    counter: u64,
    last_seen: Instant,
    /// It said it is stopping (its people are gone already).
    leaving: bool,
    presence: Mirror,
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
                // Whatever was published while we were not subscribed is lost:
                // messages are read back from the database, presence asked
                // for again (and ours told again). Silence while we could not
                // hear was not the others' death.
                cluster.repair.check_all();
                for origin in self.origins.values_mut() {
                    origin.last_seen = Instant::now();
                }
                cluster.outbox.send(Body::PresenceWanted { of: None });
                if let Some(announcer) = &cluster.announcer {
                    announcer.state();
                }
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
            if let Body::Heartbeat(_) = envelope.body {
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
                leaving: false,
                presence: Mirror::default(),
            });
        origin.last_seen = Instant::now();
        if envelope.counter > origin.counter + 1 {
            tracing::info!(origin = %origin.name, lost = envelope.counter - origin.counter - 1, "cluster payloads lost; checking every room");
            cluster.repair.check_all();
        }
        origin.counter = origin.counter.max(envelope.counter);
        let ask = on_body(&cluster, envelope.origin, origin, envelope.body);
        if ask.0 {
            cluster.outbox.send(Body::PresenceWanted {
                of: Some(envelope.origin),
            });
        }
    }

    /// An origin silent for `--presence-down-secs` is gone: it may have committed
    /// messages it never published (killed in between).
    fn forget_silent(&mut self) {
        // While our own link is down, the others' silence says nothing.
        if self.cluster.health() != BrokerHealth::Up {
            return;
        }
        let hub = &self.cluster.hub;
        let down_after = self.cluster.down_after;
        let before = self.origins.len();
        let mut gone = Vec::new();
        self.origins.retain(|&id, o| {
            let alive = o.last_seen.elapsed() < down_after;
            if !alive {
                if o.leaving {
                    tracing::info!(origin = %o.name, "instance stopped");
                } else {
                    tracing::warn!(origin = %o.name, "instance silent; taken for dead");
                }
                o.presence.drop_all(hub, id);
                gone.push(id);
            }
            alive
        });
        for id in gone {
            self.cluster.set_remote_sites(id, None);
        }
        if self.origins.len() != before {
            self.cluster.repair.check_all();
        }
    }
}

/// Applies one payload of another instance; says whether its presence
/// state must be asked for.
fn on_body(cluster: &Cluster, id: u64, origin: &mut Origin, body: Body<Box<RawValue>>) -> Ask {
    let hub = &cluster.hub;
    match body {
        Body::Messages { rooms } => {
            for batch in rooms {
                deliver(cluster, batch);
            }
        }
        Body::Heartbeat(Heartbeat {
            name,
            presence,
            sites,
            ..
        }) => {
            origin.name = name;
            cluster.set_remote_sites(id, Some(sites));
            return origin.presence.heartbeat(presence);
        }
        Body::Events => cluster.events.notify_one(),
        Body::Leaving => {
            // Kept until silent: what it committed while stopping is then
            // read back from the database.
            tracing::info!(origin = %origin.name, "instance stopping");
            origin.leaving = true;
            origin.presence.drop_all(hub, id);
            cluster.set_remote_sites(id, None);
        }
        Body::Presence(change) => return origin.presence.delta(hub, id, change),
        Body::PresenceState { version, rooms } => origin.presence.state(hub, id, version, rooms),
        Body::PresenceWanted { of } => {
            if of.is_none_or(|of| of == cluster.origin) {
                if let Some(announcer) = &cluster.announcer {
                    announcer.state();
                }
            }
        }
        Body::Signal { room, frame } => {
            hub.publish(room, &Arc::from(frame.get()), None, None);
        }
        Body::Seen(Receipt {
            room,
            name,
            who,
            seq,
        }) => hub.remote_seen(room, &name, who, seq),
    }
    Ask(false)
}

/// Queues a room's messages from another instance, in seq order: a room
/// that is behind is caught up from the database, and that read covers
/// these messages too.
fn deliver(cluster: &Cluster, batch: RoomBatch<Box<RawValue>>) {
    if cluster.hub.high(batch.room).is_none() {
        return; // nobody here
    }
    let range = batch.range();
    // Read back only for a room whose history is kept here.
    let keep = cluster.hub.keeps_recent(batch.room);
    let frames: Vec<BatchFrame> = batch
        .frames
        .into_iter()
        .map(|(seq, raw)| BatchFrame {
            seq,
            view: keep
                .then(|| serde_json::from_str::<MessageView>(raw.get()).ok())
                .flatten()
                .map(Arc::new),
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
