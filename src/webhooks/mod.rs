//! Outgoing webhooks: a site's backend hears about what happens in its chat.
//!
//! - [`endpoints`]: the one place that adds, lists, enables, disables and
//!   removes endpoints and resends deliveries (with audit lines), for the
//!   panel and the command line.
//! - [`outbox`]: an event becomes one delivery row per subscribed endpoint,
//!   written in the transaction of the change it reports (the writer's commit
//!   for `message.created`), so nothing is announced that was not stored and
//!   nothing stored goes unannounced.
//! - [`dispatch`]: every server sends due deliveries, signed ([`signature`]),
//!   through [`client`]; retries with exponential backoff, keeps each room's
//!   message events in order per endpoint, and disables an endpoint that
//!   keeps failing (mailing the owners). Chat never waits for any of it.

pub mod client;
pub mod dispatch;
pub mod endpoints;
pub mod outbox;
pub mod signature;

use thiserror::Error;

pub use crate::db::models::webhook::{DeliveryState, EventType};
use crate::db::DbError;

#[derive(Debug, Error)]
pub enum WebhookError {
    /// The endpoint or delivery does not exist (or belongs to another site).
    #[error("not found")]
    NotFound,
    /// The request breaks a rule; the text, a sentence, is shown as it is.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(DbError),
}

crate::from_db_error!(WebhookError);

pub type Result<T> = std::result::Result<T, WebhookError>;
