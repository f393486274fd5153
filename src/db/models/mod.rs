//! One file per table. Each model has local methods (pure) and database
//! methods taking `&mut DbConn`.

pub mod account;
pub mod admin_password_reset;
pub mod admin_session;
pub mod admin_user;
pub mod api_key;
pub mod audit;
pub mod ban;
mod by_cid;
pub mod cluster_event;
pub mod held_message;
pub mod message;
pub mod message_log;
pub mod mute;
pub mod name_key;
pub mod participant;
pub mod report;
pub mod room;
pub mod room_hold;
pub mod server_setting;
pub mod site;
pub mod webhook;
pub mod word_filter;

use diesel_derive_newtype::DieselNewType;
use serde::Serialize;

macro_rules! id_newtype {
    ($($name:ident),*) => {$(
        #[derive(DieselNewType, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
        pub struct $name(pub i64);

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_newtype!(
    SiteId,
    RoomId,
    ParticipantId,
    MessageId,
    AdminUserId,
    BanId,
    MuteId,
    ReportId,
    WordFilterId,
    HeldMessageId,
    ApiKeyId,
    WebhookEndpointId,
    WebhookDeliveryId
);

pub use account::{Account, TokenProblem, TokenPurpose};
pub use admin_user::{AdminUser, Role};
pub use api_key::{ApiKey, Scope};
pub use ban::{Ban, NewBan};
pub use held_message::HeldMessage;
pub use message::{Message, NewMessage};
pub use mute::Mute;
pub use participant::{Participant, ParticipantKind};
pub use report::Report;
pub use room::Room;
pub use site::{RoomPolicy, RoomScope, Site, SITE_ROOM};
pub use word_filter::{FilterAction, FilterKind, WordFilter};
