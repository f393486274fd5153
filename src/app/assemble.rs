//! The chat service put together from its parts: the hub, the cluster link
//! (PostgreSQL), the writer, the webhook dispatcher, accounts and the rate
//! limiters, each from its part of the configuration.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::StartError;
use crate::chat::admission::AdmissionCache;
use crate::chat::cluster::{Cluster, ClusterConfig, Outbox};
use crate::chat::holds::Holds;
use crate::chat::hub::{Hub, RecentSize};
use crate::chat::limits::{ip_limiter, ip_per_minute_limiter, Quotas};
use crate::chat::rules::Rules;
use crate::chat::writer::Writer;
use crate::chat::Chat;
use crate::config::{Limits, ServeConfig};
use crate::db::{Db, DbUrl};
use crate::identity::accounts::Accounts;
use crate::identity::budget::Budget;
use crate::identity::GuestTokens;
use crate::mail::{Mailer, ReportAlerts};
use crate::metrics::Metrics;
use crate::webhooks::dispatch::Dispatcher;
use crate::webhooks::outbox::Doorbell;

/// What the chat service is built on, made before it.
pub(super) struct Ground<'a> {
    pub db: Db,
    /// Signs guest tokens.
    pub guest_secret: &'a str,
    /// The URL browsers reach this server at (links in mails and webhooks).
    pub public_url: &'a str,
    pub shutdown: &'a watch::Receiver<bool>,
}

/// The chat service and what runs beside it.
pub(super) struct Assembled {
    pub chat: Arc<Chat>,
    /// Sends the webhook deliveries the writer and the services store.
    pub webhooks: Arc<Dispatcher>,
    /// Rung when another instance recorded changes to apply here.
    pub events: Arc<Notify>,
}

/// Builds the chat service; joins the other instances on PostgreSQL.
pub(super) fn chat(config: &ServeConfig, ground: Ground<'_>) -> Result<Assembled, StartError> {
    let Ground {
        db,
        guest_secret,
        public_url,
        shutdown,
    } = ground;
    let mailer = Mailer::start(&config.mail)?;
    let metrics = Arc::new(Metrics::new());
    let recent = RecentSize {
        // A window shorter than the join page would never answer a join.
        messages: match config.limits.recent_messages {
            0 => 0,
            n => n.max(config.limits.history_page + 1),
        },
        bytes: config.limits.recent_cache_mb.saturating_mul(1024 * 1024),
    };
    let hub = Hub::with_settings(Duration::from_millis(config.presence_grace_ms), recent);
    // Other instances' messages reach this one through the broker, or the database.
    let events = Arc::new(Notify::new());
    let instance: u64 = rand::random();
    let link = ClusterLink {
        db: &db,
        hub: &hub,
        metrics: &metrics,
        events: &events,
        shutdown,
    };
    let (outbox, cluster) = start_cluster(config, instance, link)?.unzip();
    let doorbell = Doorbell::default();
    let webhooks = Arc::new(Dispatcher::new(
        db.clone(),
        metrics.clone(),
        mailer.clone(),
        public_url,
        &config.webhooks,
        doorbell.clone(),
    )?);
    let writer = Writer::start(
        db.clone(),
        hub.clone(),
        metrics.clone(),
        outbox,
        doorbell.clone(),
    );
    let limits = config.limits.clone();
    let chat = Chat {
        writer,
        webhooks: doorbell,
        cluster,
        instance,
        report_alerts: Arc::new(ReportAlerts::new(db.clone(), mailer.clone(), public_url)),
        accounts: accounts(&db, mailer, public_url, &limits),
        rules: Rules::new(db.clone()),
        admission: AdmissionCache::new(db.clone()),
        holds: Holds::new(instance),
        db,
        hub,
        guest_tokens: GuestTokens::new(guest_secret.as_bytes()),
        ip_limiter: ip_limiter(limits.ip_messages_per_second, limits.ip_message_burst),
        new_guest_limiter: ip_per_minute_limiter(limits.new_guests_per_ip_per_minute),
        quotas: Quotas::new(&limits),
        limits,
        metrics,
    };
    Ok(Assembled {
        chat: Arc::new(chat),
        webhooks,
        events,
    })
}

/// Registered accounts, with the budget of mails and password hashes that
/// strangers can make the server spend.
fn accounts(db: &Db, mailer: Mailer, public_url: &str, limits: &Limits) -> Accounts {
    let budget = Budget::new(
        limits.account_actions_per_ip_per_hour,
        limits.mails_per_mailbox_per_hour,
    );
    Accounts::new(db.clone(), mailer, public_url.to_owned(), budget)
}

/// What the cluster shares with the rest of the server.
struct ClusterLink<'a> {
    db: &'a Db,
    hub: &'a Arc<Hub>,
    metrics: &'a Arc<Metrics>,
    events: &'a Arc<Notify>,
    shutdown: &'a watch::Receiver<bool>,
}

/// Joins the other instances on this PostgreSQL database (through the broker
/// when there is one); returns where the writer hands its commits, and the
/// cluster. `None` on SQLite, which one process owns.
fn start_cluster(
    config: &ServeConfig,
    instance: u64,
    link: ClusterLink<'_>,
) -> Result<Option<(Outbox, Arc<Cluster>)>, StartError> {
    if !matches!(link.db.url(), DbUrl::Postgres(_)) {
        return Ok(None);
    }
    let (outbox, outgoing) = Cluster::outbox();
    let cluster = Cluster::start(
        ClusterConfig {
            broker_url: config.cluster.broker_url.clone(),
            instance_name: config
                .cluster
                .instance_name
                .clone()
                .unwrap_or_else(default_instance_name),
            origin: instance,
            down_after: Duration::from_secs(config.cluster.presence_down_secs),
        },
        link.db.clone(),
        link.hub.clone(),
        link.metrics.clone(),
        (outbox.clone(), outgoing),
        link.events.clone(),
        link.shutdown.clone(),
    )?;
    Ok(Some((outbox, cluster)))
}

/// HOSTNAME:PID, which tells instances apart in logs.
fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "chatctl".into());
    format!("{host}:{}", std::process::id())
}
