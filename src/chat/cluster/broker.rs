//! The seam between the cluster and whatever carries its messages. The
//! broker is at most once: anything may be lost, and the cluster repairs
//! loss from the database. Only [`super::redis`] implements it today.

use futures_util::future::BoxFuture;
use thiserror::Error;

/// What a broker reports to the cluster, in order.
#[derive(Debug)]
pub enum BrokerEvent {
    /// The subscription is active (again): what is published from now on
    /// arrives. What was published before may have been lost.
    Subscribed,
    /// The link dropped: what is published meanwhile is lost.
    Disconnected,
    /// A payload some instance (this one included) published.
    Message(Vec<u8>),
}

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("broker URL: {0}")]
    Url(String),
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

pub trait Broker: Send + Sync + 'static {
    /// Publishes each payload to every instance (this one included), in
    /// order, in one round trip: a publisher that waited for each reply
    /// before the next would queue payloads behind the broker's latency.
    fn publish(&self, payloads: Vec<Vec<u8>>) -> BoxFuture<'_, Result<(), BrokerError>>;
    /// Drops the link and connects anew: the subscription looks wedged.
    fn reconnect(&self);
}
