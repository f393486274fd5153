//! Several `chatctl serve` instances on one PostgreSQL database acting as one
//! chat server. The database is the log; a broker (Redis pub/sub) only makes
//! delivery fast, and may lose anything:
//!
//! - The writer hands each commit's frames to the [`Outbox`]; a task
//!   publishes them, never making the writer wait on the broker.
//! - Received frames go to the hub in seq order ([`crate::chat::hub::Hub::publish_batch`]);
//!   a room that is behind is caught up from the database first.
//! - Loss is detected and repaired from the database by seq: a gap in a
//!   room, a gap in an origin's counter, an origin gone silent (killed
//!   between commit and publish), our own re-subscription, our own
//!   heartbeats not coming back (a wedged subscription), and a periodic
//!   check: every 10 s, or every second while there is no working broker
//!   (degraded mode, also the mode of several instances without a broker).
//!
//! Presence, typing and read receipts cross over too ([`presence`]).
//!
//! The hub and the sessions know nothing of this module (the hub sees it as
//! its [`Peers`](super::hub::Peers)).

mod broker;
pub mod control;
pub mod envelope;
mod presence;
mod receive;
mod redis;
mod repair;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

pub use broker::{Broker, BrokerError, BrokerEvent};
pub use control::Control;
use envelope::{Body, Envelope, Outgoing};
use presence::Announcer;
use receive::Receiver;
use repair::Repair;

use super::hub::Hub;
use crate::db::models::SiteId;
use crate::db::Db;
use crate::metrics::Metrics;

/// Heartbeat period; an origin silent for [`ClusterConfig::down_after`] is
/// taken for dead.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Periodic check of every local room against the database.
const RECONCILE_HEALTHY: Duration = Duration::from_secs(10);
const RECONCILE_DEGRADED: Duration = Duration::from_secs(1);
/// Payloads waiting to be published; beyond it they are dropped (and the
/// loss announced through the counter), never waited for.
const OUTBOX: usize = 10_000;
/// At most this many payloads go to the broker in one round trip.
const PUBLISH_BATCH: usize = 256;
/// How long a stopping instance tries to say so.
const LEAVING_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the writer drops each commit's frames for the other instances.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    dropped: Arc<AtomicBool>,
}

impl Outbox {
    /// Never blocks: when the queue is full the payload is dropped, and the
    /// next one published skips a counter value so that receivers reconcile.
    pub fn send(&self, body: Outgoing) {
        if self.tx.try_send(body).is_err() {
            self.dropped.store(true, Ordering::Relaxed);
        }
    }
}

/// What `/healthz` says of the fan-out path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerHealth {
    /// No broker configured: other instances are reached through the
    /// database every second.
    None,
    /// Subscribed, and our own heartbeats come back.
    Up,
    /// Down, or subscribed but silent: degraded until it is back.
    Down,
}

#[derive(Default)]
struct Link {
    subscribed: bool,
    /// When the subscription was last confirmed.
    since: Option<Instant>,
    /// When we last heard our own heartbeat.
    last_own: Option<Instant>,
    /// When the link was last restarted by the probe.
    restarted: Option<Instant>,
}

pub struct Cluster {
    origin: u64,
    name: String,
    /// Silence after which another instance, or our own link, counts as down.
    down_after: Duration,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    broker: Option<Arc<dyn Broker>>,
    outbox: Outbox,
    link: Mutex<Link>,
    repair: Arc<Repair>,
    /// Rung when another instance recorded changes (see `moderation::remote`).
    events: Arc<Notify>,
    /// Tells the others of this instance's presence (with a broker).
    announcer: Option<Arc<Announcer>>,
    /// Open connections per site on each other instance (their heartbeats).
    remote_sites: Mutex<HashMap<u64, Vec<(SiteId, usize)>>>,
    /// The writer has stopped: publish what is queued, then end.
    finished: Notify,
    /// The publish task has ended.
    done: Notify,
}

pub struct ClusterConfig {
    pub broker_url: Option<String>,
    pub instance_name: String,
    /// This process among the instances (random at each start).
    pub origin: u64,
    /// `--presence-down-secs`.
    pub down_after: Duration,
}

impl Cluster {
    /// The outbox the writer needs, before the cluster starts.
    pub fn outbox() -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let outbox = Outbox {
            tx,
            dropped: Arc::new(AtomicBool::new(false)),
        };
        (outbox, rx)
    }

    /// Starts the broker link (if any) and the repair and heartbeat tasks.
    pub fn start(
        config: ClusterConfig,
        db: Db,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        (outbox, outgoing): (Outbox, mpsc::Receiver<Outgoing>),
        events: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Cluster>, BrokerError> {
        let (broker_tx, broker_events) = mpsc::unbounded_channel();
        let broker: Option<Arc<dyn Broker>> = match &config.broker_url {
            Some(url) => Some(redis::RedisBroker::start(url, broker_tx, shutdown.clone())?),
            None => None,
        };
        let repair = Repair::new(db, hub.clone(), metrics.clone());
        let announcer = broker.as_ref().map(|_| Announcer::new(outbox.clone()));
        if let Some(announcer) = &announcer {
            hub.set_peers(announcer.clone());
        }
        let cluster = Arc::new(Cluster {
            origin: config.origin,
            name: config.instance_name,
            down_after: config.down_after,
            hub,
            metrics,
            broker,
            outbox,
            link: Mutex::new(Link::default()),
            repair: repair.clone(),
            events,
            announcer,
            remote_sites: Mutex::default(),
            finished: Notify::new(),
            done: Notify::new(),
        });
        tokio::spawn(repair.run(shutdown.clone()));
        tokio::spawn(cluster.clone().publish(outgoing, shutdown.clone()));
        tokio::spawn(Receiver::new(cluster.clone()).run(broker_events, shutdown.clone()));
        tokio::spawn(cluster.clone().tick(shutdown));
        tracing::info!(instance = %cluster.name, broker = cluster.broker.is_some(), "cluster started");
        Ok(cluster)
    }

    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn health(&self) -> BrokerHealth {
        if self.broker.is_none() {
            return BrokerHealth::None;
        }
        let link = self.link();
        let fresh = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() < self.down_after);
        if link.subscribed && (fresh(link.last_own) || fresh(link.since)) {
            BrokerHealth::Up
        } else {
            BrokerHealth::Down
        }
    }

    /// Publishes what the writer and the heartbeat queue, in order, stamping
    /// each payload with the next counter value; what queued up during one
    /// round trip to the broker goes out together in the next. When the
    /// instance starts stopping, says so at once (the others drop its
    /// people), and goes on publishing what the writer commits while it
    /// drains, until [`Cluster::finish`].
    async fn publish(
        self: Arc<Self>,
        mut outgoing: mpsc::Receiver<Outgoing>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut counter: u64 = 0;
        let mut leaving = false;
        loop {
            let body = tokio::select! {
                body = outgoing.recv() => body,
                _ = shutdown.wait_for(|s| *s), if !leaving => Some(Body::Leaving),
                _ = self.finished.notified() => None,
            };
            let Some(body) = body else { break };
            let mut bodies = vec![body];
            while bodies.len() < PUBLISH_BATCH {
                match outgoing.try_recv() {
                    Ok(body) => bodies.push(body),
                    Err(_) => break,
                }
            }
            leaving |= bodies.iter().any(|b| matches!(b, Body::Leaving));
            self.publish_batch(&mut counter, bodies).await;
        }
        let last = async {
            let mut bodies = Vec::new();
            while let Ok(body) = outgoing.try_recv() {
                bodies.push(body);
            }
            self.publish_batch(&mut counter, bodies).await;
        };
        let _ = tokio::time::timeout(LEAVING_TIMEOUT, last).await;
        self.done.notify_one();
    }

    /// Call once the writer has stopped: publishes what it queued last.
    pub async fn finish(&self) {
        self.finished.notify_one();
        let _ = tokio::time::timeout(LEAVING_TIMEOUT * 2, self.done.notified()).await;
    }

    async fn publish_batch(&self, counter: &mut u64, bodies: Vec<Outgoing>) {
        let Some(broker) = &self.broker else { return };
        let mut payloads = Vec::with_capacity(bodies.len());
        for body in bodies {
            // A payload dropped before it was stamped shows as a skipped value.
            *counter += 1 + u64::from(self.outbox.dropped.swap(false, Ordering::Relaxed));
            let envelope = Envelope {
                origin: self.origin,
                counter: *counter,
                body,
            };
            match envelope.encode() {
                Ok(payload) => payloads.push(payload),
                // Skipped: receivers see the counter jump and reconcile.
                Err(err) => tracing::error!(error = %err, "could not encode a cluster payload"),
            }
        }
        if payloads.is_empty() {
            return;
        }
        let published = payloads.len() as u64;
        match broker.publish(payloads).await {
            Ok(()) => {
                self.metrics.broker_published.inc_by(published);
            }
            // Lost for the others; they notice the counter skip later.
            Err(err) => tracing::debug!(error = %err, "publish failed"),
        }
    }

    /// Every second: a heartbeat, the origins gone silent, our own
    /// subscription's liveness, and the periodic check of every room.
    async fn tick(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(HEARTBEAT);
        let mut last_check = Instant::now();
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if let Some(announcer) = &self.announcer {
                let sites = self.hub.connections_by_site().into_iter().collect();
                announcer.heartbeat(self.name.clone(), self.hub.connection_count(), sites);
            }
            self.probe();
            let period = match self.health() {
                BrokerHealth::Up => RECONCILE_HEALTHY,
                BrokerHealth::None | BrokerHealth::Down => RECONCILE_DEGRADED,
            };
            if last_check.elapsed() + Duration::from_millis(100) >= period {
                last_check = Instant::now();
                self.repair.check_all();
            }
        }
    }

    /// A link that no longer hears our own heartbeats is wedged, or was
    /// given up by the client's own reconnection: start it over.
    fn probe(&self) {
        let Some(broker) = &self.broker else { return };
        let mut link = self.link();
        let down_after = self.down_after;
        let stale = |t: Option<Instant>| t.is_none_or(|t| t.elapsed() >= down_after);
        if stale(link.last_own) && stale(link.since) && stale(link.restarted) {
            if link.subscribed {
                tracing::warn!("broker subscription silent (our own heartbeats do not come back); reconnecting");
            }
            link.subscribed = false;
            link.restarted = Some(Instant::now());
            self.metrics.broker_reconnects.inc();
            broker.reconnect();
        }
    }

    /// Tells the other instances that changes were recorded: they read them
    /// at once rather than at their next poll.
    pub fn ring(&self) {
        if self.broker.is_some() {
            self.outbox.send(Body::Events);
        }
    }

    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// Open connections per site on every instance (this one's, and the
    /// others' as of their last heartbeat).
    pub fn connections_by_site(&self) -> HashMap<SiteId, usize> {
        let mut counts = self.hub.connections_by_site();
        let remote = self.remote_sites.lock().unwrap_or_else(|e| e.into_inner());
        for (site, n) in remote.values().flatten() {
            *counts.entry(*site).or_default() += n;
        }
        counts
    }

    fn set_remote_sites(&self, origin: u64, sites: Option<Vec<(SiteId, usize)>>) {
        let mut remote = self.remote_sites.lock().unwrap_or_else(|e| e.into_inner());
        match sites {
            Some(sites) => remote.insert(origin, sites),
            None => remote.remove(&origin),
        };
    }
}
