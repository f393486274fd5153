//! Moderation done on another instance, applied here: what the broker's
//! control events ask for. (Without a working broker the periodic polls
//! remain: bans and site disable within 5 s, cached rules within 30 s.)

use crate::chat::cluster::Control;
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::Chat;
use crate::db::models::Ban;

pub async fn apply(chat: &Chat, control: Control) {
    match control {
        Control::Deleted { room, name, seqs } => {
            for seq in seqs {
                let frame = ServerFrame::Deleted {
                    room: name.clone(),
                    seq,
                }
                .encode();
                chat.hub.publish(room, &frame, None, None);
            }
        }
        Control::Banned { ban } => match chat.db.run(move |conn| Ban::find(conn, ban)).await {
            Ok(Some(ban)) => {
                super::bans::kick(chat, &ban);
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not read a ban made on another instance; the poll applies it")
            }
        },
        Control::RoomChanged { room } => chat.rules.invalidate_room(room),
        Control::MutesChanged { site } => chat.rules.invalidate_mutes(site),
        Control::FiltersChanged { site } => chat.rules.invalidate_filters(site),
        Control::SiteDisabled { site } => {
            chat.hub.close_where(
                |c| c.site == site,
                CloseReason::SiteDisabled,
                "This chat has been turned off by its owner.",
                None,
            );
        }
    }
}
