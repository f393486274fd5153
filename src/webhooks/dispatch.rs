//! Sends due deliveries, on every running server.
//!
//! A delivery is claimed (in a transaction; `SKIP LOCKED` on PostgreSQL, so
//! several instances never take the same one), which counts the attempt and
//! pushes its next attempt past a lease: if this process dies mid-attempt,
//! it is sent again after the lease (at least once). A room's message events
//! wait, per endpoint, until the one before is delivered or given up.
//! Failures are retried with exponential backoff and jitter until the retry
//! window ends; an endpoint that has failed for a whole window without one
//! success is disabled and the owners are mailed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;
use url::Url;

use super::client::Client;
use super::endpoints;
use super::outbox::Doorbell;
use super::signature;
use crate::config::WebhookConfig;
use crate::db::models::webhook::{Attempt, Delivery, DeliveryState, Endpoint};
use crate::db::models::{AdminUser, Role, Site};
use crate::db::{now_ms, Db, DbError};
use crate::mail::{Email, Mailer};
use crate::metrics::{Metrics, OutcomeLabel};

/// Most deliveries in flight per server.
const MAX_IN_FLIGHT: usize = 16;
/// Longest wait between retries.
const MAX_DELAY_MS: u64 = 3_600_000;
/// How often the outbox is looked at when nothing rings.
const POLL: Duration = Duration::from_secs(1);
/// Finished deliveries are kept this long for the panel, then pruned,
/// [`PRUNE_BATCH`] at a time every [`PRUNE_EVERY`].
const KEEP_MS: i64 = 7 * 24 * 3_600_000;
const PRUNE_BATCH: i64 = 2_000;
const PRUNE_EVERY: Duration = Duration::from_secs(10);

pub struct Dispatcher {
    db: Db,
    metrics: Arc<Metrics>,
    client: Client,
    mailer: Mailer,
    public_url: String,
    retry_base_ms: u64,
    window_ms: i64,
    lease_ms: i64,
    doorbell: Doorbell,
}

/// The wait before the next attempt after `attempts` failed ones: the base
/// doubled each time, at most an hour, of which a random half ("equal
/// jitter": endpoints that failed together do not all retry together).
pub fn backoff_ms(base_ms: u64, attempts: i32) -> u64 {
    let doublings = attempts.clamp(1, 32) as u32 - 1;
    let full = base_ms
        .saturating_mul(1u64.checked_shl(doublings).unwrap_or(u64::MAX))
        .min(MAX_DELAY_MS.max(base_ms));
    full / 2 + rand::rng().random_range(0..=full / 2)
}

impl Dispatcher {
    pub fn new(
        db: Db,
        metrics: Arc<Metrics>,
        mailer: Mailer,
        public_url: &str,
        config: &WebhookConfig,
        doorbell: Doorbell,
    ) -> Result<Dispatcher, rustls::Error> {
        let timeout = Duration::from_secs(config.webhook_timeout_secs.max(1));
        Ok(Dispatcher {
            db,
            metrics,
            client: Client::new(config.webhook_allow_private, timeout)?,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            retry_base_ms: config.webhook_retry_base_ms.max(1),
            window_ms: (config.webhook_retry_window_secs as i64).saturating_mul(1000),
            // Past the attempt's own deadline, with a margin to record its outcome.
            lease_ms: timeout.as_millis() as i64 + 5_000,
            doorbell,
        })
    }

    /// Sends until `shutdown`; attempts in flight then get a moment to end
    /// (one cut short is sent again after its lease).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        let mut pruned = Instant::now();
        loop {
            let free = MAX_IN_FLIGHT - tasks.len();
            if free > 0 {
                for (delivery, endpoint) in self.claim(free).await {
                    let me = self.clone();
                    tasks.spawn(async move { me.attempt(delivery, endpoint).await });
                }
            }
            if pruned.elapsed() > PRUNE_EVERY {
                pruned = Instant::now();
                self.prune().await;
            }
            tokio::select! {
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = self.doorbell.wait() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => break,
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
    }

    async fn claim(&self, limit: usize) -> Vec<(Delivery, Endpoint)> {
        let lease = self.lease_ms;
        let claimed = self
            .db
            .run(move |conn| {
                if !Delivery::any_due(conn, now_ms())? {
                    return Ok(Vec::new());
                }
                conn.write_transaction(|conn| -> Result<_, DbError> {
                    let now = now_ms();
                    let due = Delivery::claim(conn, now, now + lease, limit as i64)?;
                    let mut out = Vec::with_capacity(due.len());
                    for delivery in due {
                        let endpoint = Endpoint::find(conn, delivery.endpoint_id)?;
                        out.push((delivery, endpoint));
                    }
                    Ok(out)
                })
            })
            .await;
        claimed.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "cannot read the webhook outbox");
            Vec::new()
        })
    }

    /// One attempt, and what it leads to.
    async fn attempt(&self, delivery: Delivery, endpoint: Endpoint) {
        let started = Instant::now();
        let sent = self.send(&delivery, &endpoint).await;
        let attempt = Attempt {
            status: sent.as_ref().ok().map(|&s| i32::from(s)),
            latency_ms: started.elapsed().as_millis() as i64,
            error: match &sent {
                Ok(status) if (200..300).contains(status) => None,
                Ok(status) => Some(format!("the endpoint answered HTTP {status}")),
                Err(err) => Some(err.clone()),
            },
            at: now_ms(),
        };
        let (id, event) = (delivery.id, delivery.event_id.clone());
        match &attempt.error {
            None => {
                tracing::info!(delivery = %id, %event, status = ?attempt.status, ms = attempt.latency_ms, "webhook delivered")
            }
            Some(err) => {
                tracing::warn!(delivery = %id, %event, attempt = delivery.attempts, error = %err, "webhook attempt failed")
            }
        }
        if let Err(err) = self.record(delivery, endpoint, attempt).await {
            // The lease runs out and the delivery is attempted again.
            tracing::error!(delivery = %id, error = %err, "cannot record a webhook attempt");
        }
    }

    async fn send(&self, delivery: &Delivery, endpoint: &Endpoint) -> Result<u16, String> {
        let url = Url::parse(&endpoint.url).map_err(|e| format!("unusable URL: {e}"))?;
        let timestamp = now_ms() / 1000;
        let header = signature::sign(&endpoint.secret, timestamp, delivery.body.as_bytes())
            .map_err(|e| format!("cannot sign: {e}"))?;
        let headers = [
            ("chatctl-signature", header),
            ("chatctl-event-id", delivery.event_id.clone()),
            ("chatctl-event-type", delivery.event_type.to_string()),
            ("chatctl-delivery-id", delivery.id.to_string()),
            ("chatctl-attempt", delivery.attempts.to_string()),
        ];
        let body = Bytes::from(delivery.body.clone());
        self.client
            .post(&url, &headers, body)
            .await
            .map_err(|e| e.to_string())
    }

    async fn record(
        &self,
        delivery: Delivery,
        endpoint: Endpoint,
        attempt: Attempt,
    ) -> Result<(), DbError> {
        let delay = backoff_ms(self.retry_base_ms, delivery.attempts) as i64;
        let window_ms = self.window_ms;
        let (state, disabled) = self
            .db
            .run(move |conn| {
                conn.write_transaction(|conn| -> Result<_, DbError> {
                    if attempt.error.is_none() {
                        Delivery::record(
                            conn,
                            delivery.id,
                            &attempt,
                            DeliveryState::Delivered,
                            attempt.at,
                        )?;
                        Endpoint::record_outcome(conn, endpoint.id, None)?;
                        return Ok((DeliveryState::Delivered, None));
                    }
                    let next = attempt.at + delay;
                    let give_up = next > delivery.created_at + window_ms;
                    let state = if give_up {
                        DeliveryState::Failed
                    } else {
                        DeliveryState::Pending
                    };
                    Delivery::record(conn, delivery.id, &attempt, state, next)?;
                    Endpoint::record_outcome(conn, endpoint.id, Some(attempt.at))?;
                    let current = Endpoint::find(conn, endpoint.id)?;
                    // Failed for a whole window without one success: for as
                    // long as a delivery is retried, or for the whole life of
                    // the one given up now.
                    let hopeless = current.enabled
                        && current.failing_since.is_some_and(|since| {
                            since <= attempt.at - window_ms
                                || (give_up && since <= delivery.created_at)
                        });
                    if !hopeless {
                        return Ok((state, None));
                    }
                    let reason = format!(
                        "every delivery failed for {} without one success",
                        span(window_ms)
                    );
                    endpoints::disable_failing(conn, &current, &reason).map_err(|e| match e {
                        super::WebhookError::Db(db) => db,
                        other => DbError::Internal(other.to_string()),
                    })?;
                    let last_error = attempt.error.unwrap_or_default();
                    Ok((state, Some((current, reason, last_error))))
                })
            })
            .await?;
        let outcome = match state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "failed",
            DeliveryState::Failed => "given_up",
        };
        self.metrics
            .webhook_attempts
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        if let Some((endpoint, reason, last_error)) = disabled {
            self.metrics.webhook_endpoints_disabled.inc();
            tracing::warn!(endpoint = %endpoint.id, url = %endpoint.url, %reason, "webhook endpoint disabled");
            self.mail_owners(endpoint, reason, last_error).await?;
        }
        Ok(())
    }

    async fn mail_owners(
        &self,
        endpoint: Endpoint,
        reason: String,
        last_error: String,
    ) -> Result<(), DbError> {
        let site_id = endpoint.site_id;
        let (site, owners) = self
            .db
            .run(move |conn| -> Result<_, DbError> {
                let owners: Vec<AdminUser> = AdminUser::list(conn)?
                    .into_iter()
                    .filter(|u| u.role == Role::Owner && !u.disabled)
                    .collect();
                Ok((Site::find(conn, site_id)?, owners))
            })
            .await?;
        let data = json!({
            "site": site.name,
            "site_key": site.public_key,
            "url": endpoint.url,
            "id": endpoint.id,
            "reason": reason,
            "last_error": last_error,
            "link": format!("{}/admin/sites/{}", self.public_url, site.id),
        });
        let (text, html) = match self.mailer.templates.bodies("webhook_disabled", &data) {
            Ok(bodies) => bodies,
            Err(err) => {
                tracing::error!(error = %err, "cannot render the webhook mail");
                return Ok(());
            }
        };
        for owner in owners {
            match crate::input::Email::parse(&owner.email) {
                Ok(address) => self.mailer.send(Email {
                    to: address.mailbox(&owner.name),
                    subject: format!("Webhook disabled on {}", site.name),
                    text: text.clone(),
                    html: html.clone(),
                    kind: "webhook disabled",
                }),
                Err(err) => {
                    tracing::warn!(user = %owner.id, error = %err, "owner account has an unusable email")
                }
            }
        }
        Ok(())
    }

    async fn prune(&self) {
        let before = now_ms() - KEEP_MS;
        match self
            .db
            .run(move |conn| Delivery::prune(conn, before, PRUNE_BATCH))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "pruned finished webhook deliveries"),
            Err(err) => tracing::warn!(error = %err, "cannot prune webhook deliveries"),
        }
    }
}

/// A duration in words, in its largest fitting unit ("3 days", "90 seconds").
fn span(ms: i64) -> String {
    let secs = ms / 1000;
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 2 * 60 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{n} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_an_hour() {
        for attempts in 1..=40 {
            let full = (10_000u64 << (attempts - 1).min(20)).min(MAX_DELAY_MS);
            let wait = backoff_ms(10_000, attempts);
            assert!(
                (full / 2..=full).contains(&wait),
                "attempt {attempts}: {wait} of {full}"
            );
        }
        assert!(backoff_ms(50, 1) <= 50);
    }
}
