//! The Redis broker: one pub/sub channel every instance subscribes to, over
//! a RESP3 `ConnectionManager` that reconnects and resubscribes by itself and
//! reports each drop (`Disconnection`) and each subscription confirmation.
//!
//! A subscription may still wedge silently (centrifugo#1189); the cluster
//! notices its own heartbeats no longer come back and calls
//! [`Broker::reconnect`], which starts over with a new connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch};

use super::broker::{Broker, BrokerError, BrokerEvent};

/// Every instance publishes and subscribes here.
pub const CHANNEL: &str = "chatctl:cluster";
/// Bounds a connection attempt and every command: a broker that does not
/// answer is treated as down, never waited for.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between attempts to reach a broker that is down.
const RETRY: Duration = Duration::from_millis(500);

pub struct RedisBroker {
    client: redis::Client,
    current: Mutex<Option<ConnectionManager>>,
    /// Bumped by [`Broker::reconnect`]; a request made while no link was up
    /// is moot once a new one is made.
    restart: watch::Sender<u64>,
}

impl RedisBroker {
    /// Checks the URL and starts connecting in the background (the server
    /// starts, degraded, while the broker is down); events go to `events`.
    pub fn start(
        url: &str,
        events: mpsc::UnboundedSender<BrokerEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, BrokerError> {
        let mut parsed = url::Url::parse(url).map_err(|e| BrokerError::Url(e.to_string()))?;
        if !matches!(parsed.scheme(), "redis" | "rediss" | "valkey") {
            return Err(BrokerError::Url(format!(
                "{:?}: use redis://[:PASSWORD@]HOST[:PORT][/DB]",
                parsed.scheme()
            )));
        }
        // Pushes (messages, drops, confirmations) need RESP3.
        let others: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| k != "protocol")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed
            .query_pairs_mut()
            .clear()
            .extend_pairs(others)
            .append_pair("protocol", "resp3");
        let client =
            redis::Client::open(parsed.as_str()).map_err(|e| BrokerError::Url(e.to_string()))?;
        let broker = Arc::new(RedisBroker {
            client,
            current: Mutex::new(None),
            restart: watch::channel(0).0,
        });
        tokio::spawn(broker.clone().supervise(events, shutdown));
        Ok(broker)
    }

    fn set_current(&self, manager: Option<ConnectionManager>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = manager;
    }

    /// Connects, subscribes and forwards pushes; starts over when told to,
    /// or when the connection cannot be made.
    async fn supervise(
        self: Arc<Self>,
        events: mpsc::UnboundedSender<BrokerEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut first = true;
        let mut restart = self.restart.subscribe();
        loop {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
            first = false;
            let (push_tx, mut pushes) = mpsc::unbounded_channel::<PushInfo>();
            let config = ConnectionManagerConfig::new()
                .set_push_sender(push_tx)
                .set_automatic_resubscription()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                .set_min_delay(Duration::from_millis(100))
                .set_max_delay(Duration::from_secs(1))
                .set_number_of_retries(3);
            let manager = tokio::select! {
                m = ConnectionManager::new_with_config(self.client.clone(), config) => m,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let mut manager = match manager {
                Ok(manager) => manager,
                Err(err) => {
                    tracing::warn!(error = %err, "broker unreachable; retrying");
                    continue;
                }
            };
            if let Err(err) = manager.subscribe(CHANNEL).await {
                tracing::warn!(error = %err, "broker subscription failed; retrying");
                continue;
            }
            restart.borrow_and_update();
            self.set_current(Some(manager));
            tracing::info!("broker connected");
            let _ = events.send(BrokerEvent::Subscribed);
            loop {
                tokio::select! {
                    push = pushes.recv() => match push {
                        Some(push) => forward(push, &events),
                        None => break,
                    },
                    _ = restart.changed() => {
                        tracing::warn!("broker subscription restarted");
                        break;
                    }
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
            self.set_current(None);
            let _ = events.send(BrokerEvent::Disconnected);
        }
    }
}

fn forward(push: PushInfo, events: &mpsc::UnboundedSender<BrokerEvent>) {
    let event = match push.kind {
        PushKind::Message => match push.data.into_iter().nth(1) {
            Some(Value::BulkString(payload)) => BrokerEvent::Message(payload),
            _ => return,
        },
        PushKind::Subscribe => BrokerEvent::Subscribed,
        PushKind::Disconnection => BrokerEvent::Disconnected,
        _ => return,
    };
    let _ = events.send(event);
}

impl Broker for RedisBroker {
    fn publish(&self, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BrokerError>> {
        let manager = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        async move {
            let mut manager =
                manager.ok_or_else(|| BrokerError::Unavailable("not connected".into()))?;
            let mut pipe = redis::pipe();
            for payload in payloads {
                pipe.cmd("PUBLISH").arg(CHANNEL).arg(payload).ignore();
            }
            pipe.query_async::<()>(&mut manager)
                .await
                .map_err(|e| BrokerError::Unavailable(e.to_string()))
        }
        .boxed()
    }

    fn reconnect(&self) {
        self.restart.send_modify(|n| *n += 1);
    }
}
