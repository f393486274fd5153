//! Changes made elsewhere, applied here: by another instance (its panel) or
//! by the command line (a separate process). Each such change wrote a
//! `cluster_events` row ([`super::events::record`]) in the transaction that
//! made it, so none is lost: each server reads the rows in id order, every
//! [`POLL`], or at once when another instance rings over the broker after its
//! commit. The server that made a change applied it already and skips its own
//! rows.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::chat::cluster::Control;
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::Chat;
use crate::db::models::cluster_event::ClusterEvent;
use crate::db::models::{Ban, Participant};

/// How often every server looks for changes made elsewhere (the bound on
/// their delay without a broker, or from the command line).
pub const POLL: Duration = Duration::from_millis(250);
/// Events read per query.
const PAGE: i64 = 500;

/// Applies, in order, the changes recorded after this server started.
pub async fn follow(chat: Arc<Chat>, doorbell: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    let mut last = loop {
        match chat.db.run(ClusterEvent::last_id).await {
            Ok(last) => break last,
            Err(err) => tracing::warn!(error = %err, "cannot read cluster events; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL * 4) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    };
    let mut every = tokio::time::interval(POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = doorbell.notified() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let after = last;
        let events = match chat
            .db
            .run(move |c| ClusterEvent::after(c, after, PAGE))
            .await
        {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read cluster events; retrying");
                continue;
            }
        };
        for event in events {
            last = event.id;
            if event.origin == Some(chat.instance as i64) {
                continue;
            }
            match serde_json::from_str::<Control>(&event.body) {
                Ok(change) => apply(&chat, change).await,
                // Written by a newer version: nothing this one can do.
                Err(err) => {
                    tracing::warn!(id = event.id, error = %err, "unknown cluster event skipped")
                }
            }
        }
    }
}

async fn apply(chat: &Chat, change: Control) {
    match change {
        Control::Deleted {
            room,
            name,
            seqs,
            at,
        } => {
            chat.hub.recent_deleted(room, &seqs, at);
            for seq in seqs {
                let frame = ServerFrame::Deleted {
                    room: name.clone(),
                    seq,
                }
                .encode();
                chat.hub.publish(room, &frame, None, None);
            }
        }
        Control::Banned { ban } => {
            // New connections are refused before the live ones close.
            chat.admission.bans_changed();
            match chat.db.run(move |conn| Ban::find(conn, ban)).await {
                Ok(Some(ban)) => {
                    super::bans::kick(chat, &ban);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not read a ban made elsewhere; the ban poll applies it")
                }
            }
        }
        Control::Unbanned { .. } => chat.admission.bans_changed(),
        Control::RoomChanged { room } => {
            chat.rules.invalidate_room(room);
            super::rooms::announce_rules(chat, vec![room]).await;
        }
        Control::RoomDeleted { room } => super::rooms::close_deleted(chat, room),
        Control::SiteChanged { site } => {
            chat.rules.invalidate_site(site);
            super::rooms::announce_site_rules(chat, site).await;
        }
        Control::ParticipantChanged { participant } => {
            chat.hub.recent_author_changed(participant);
            // Their connections here may still show the old name; where
            // they have none, there is nothing to read.
            if !chat.hub.lists_here(participant.0) {
                return;
            }
            match chat
                .db
                .run(move |conn| Participant::find(conn, participant))
                .await
            {
                Ok(Some(p)) => chat.hub.participant_changed(&crate::chat::rooms::who(&p)),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not read a participant renamed elsewhere; the list of who is here shows the old name until they reconnect")
                }
            }
        }
        Control::MutesChanged { site } => chat.rules.invalidate_mutes(site),
        Control::FiltersChanged { site } => chat.rules.invalidate_filters(site),
        Control::SiteEnabled { site } | Control::SecretRotated { site } => {
            chat.rules.invalidate_site(site)
        }
        Control::OriginsChanged { site } => chat.admission.origins_changed(site),
        Control::SiteDisabled { site } => {
            chat.rules.invalidate_site(site);
            chat.hub.close_where(
                |c| c.site == site,
                CloseReason::SiteDisabled,
                "This chat has been turned off by its owner.",
                None,
            );
        }
    }
}
