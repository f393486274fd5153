//! What runs beside the listener while the server serves: changes recorded by
//! other instances, periodic housekeeping, presence grace periods and crowd counts, webhook
//! deliveries and the panel's activity samples. Each stops at shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::chat::hub::Hub;
use crate::chat::protocol::CloseReason;
use crate::chat::Chat;
use crate::db::models::admin_session::AdminSession;
use crate::db::models::cluster_event::ClusterEvent;
use crate::db::models::{Site, SiteId};
use crate::http::AppState;
use crate::webhooks::dispatch::Dispatcher;

/// Starts every background task; `events` is rung when another instance
/// recorded changes to apply here.
pub(super) fn start(state: &AppState, events: Arc<Notify>, webhooks: Arc<Dispatcher>) {
    let (chat, shutdown) = (&state.chat, &state.shutdown);
    tokio::spawn(crate::moderation::remote::follow(
        chat.clone(),
        events,
        shutdown.clone(),
    ));
    tokio::spawn(housekeeping(chat.clone(), shutdown.clone()));
    tokio::spawn(expire_leaves(chat.hub.clone(), shutdown.clone()));
    tokio::spawn(webhooks.run(shutdown.clone()));
    tokio::spawn(crate::admin::activity::sample(
        state.admin.clone(),
        shutdown.clone(),
    ));
}

/// Announces the leaves whose grace period (`--presence-grace-ms`) is over,
/// at most a quarter of a second late, and tells crowds their count when due.
async fn expire_leaves(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = every.tick() => hub.expire_leaves(std::time::Instant::now()),
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Periodic chores, every five seconds: renew the holds on live rooms, and
/// close connections of sites disabled meanwhile (possibly by `chatctl site
/// disable` in another process) and of participants banned by another
/// server; every minute also forget the rate-limiter state of quiet
/// addresses and prune old rows.
async fn housekeeping(chat: Arc<Chat>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    let mut ticks: u64 = 0;
    // From 0: the first ticks apply every active ban, which is right anyway
    // and leaves no window for a ban written while the server started.
    let mut last_ban = 0;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        ticks += 1;
        let every_minute = ticks.is_multiple_of(12);
        if every_minute {
            forget_quiet(&chat).await;
        }
        if let Err(err) = chat
            .holds
            .maintain(&chat.db, &chat.hub.live_rooms(), every_minute)
            .await
        {
            tracing::warn!(error = %err, "housekeeping: cannot renew room holds");
        }
        let live: Vec<SiteId> = chat.hub.connections_by_site().into_keys().collect();
        if live.is_empty() {
            continue;
        }
        // Bans made elsewhere (another server on the same database) reach
        // this server's connections within one tick.
        match crate::moderation::bans::apply_new(&chat, last_ban).await {
            Ok(last) => last_ban = last,
            Err(err) => tracing::warn!(error = %err, "housekeeping: cannot check bans"),
        }
        close_disabled_sites(&chat, live).await;
    }
}

/// Rate-limiter state of addresses and people back to a full budget, and
/// rows no one needs any more.
async fn forget_quiet(chat: &Chat) {
    chat.ip_limiter.retain_recent();
    chat.new_guest_limiter.retain_recent();
    chat.quotas.retain_recent();
    chat.accounts.prune();
    purge_admin_sessions(chat).await;
    prune_cluster_events(chat).await;
}

/// Closes the connections of those `live` sites that were disabled.
async fn close_disabled_sites(chat: &Chat, live: Vec<SiteId>) {
    let disabled = chat
        .db
        .run(move |conn| Site::disabled_among(conn, &live))
        .await;
    match disabled {
        Ok(disabled) => {
            for site in disabled {
                // Disabled by hand in the database: no new connections either.
                chat.rules.invalidate_site(site);
                let closed = chat.hub.close_where(
                    |c| c.site == site,
                    CloseReason::SiteDisabled,
                    "This chat has been turned off by its owner.",
                    None,
                );
                tracing::info!(site = %site, closed, "site disabled: connections closed");
            }
        }
        Err(err) => tracing::warn!(error = %err, "housekeeping: cannot check sites"),
    }
}

/// Changes every server applied long ago (see `moderation::remote`).
async fn prune_cluster_events(chat: &Chat) {
    let before = crate::db::now_ms() - 86_400_000;
    let pruned = chat
        .db
        .run(move |conn| ClusterEvent::prune(conn, before))
        .await;
    if let Err(err) = pruned {
        tracing::warn!(error = %err, "housekeeping: cannot prune cluster events");
    }
}

/// Expired admin sessions are refused when used; this removes the rows.
async fn purge_admin_sessions(chat: &Chat) {
    // Generous bounds: the configured limits are enforced per request.
    let now = crate::db::now_ms();
    let (idle, absolute) = (now - 7 * 86_400_000, now - 30 * 86_400_000);
    let purged = chat
        .db
        .run(move |conn| AdminSession::purge_expired(conn, idle, absolute))
        .await;
    if let Err(err) = purged {
        tracing::warn!(error = %err, "housekeeping: cannot purge admin sessions");
    }
}
