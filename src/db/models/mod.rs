//! One file per table. Each model has local methods (pure) and database
//! methods taking `&mut DbConn`.

pub mod account;
pub mod admin_user;
pub mod audit;
pub mod ban;
pub mod message;
pub mod participant;
pub mod room;
pub mod server_setting;
pub mod site;

use diesel_derive_newtype::DieselNewType;
use serde::Serialize;

macro_rules! id_newtype {
    ($($name:ident),*) => {$(
        #[derive(DieselNewType, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_newtype!(SiteId, RoomId, ParticipantId, MessageId, AdminUserId, BanId);

pub use account::{Account, TokenProblem, TokenPurpose};
pub use admin_user::{AdminUser, Role};
pub use ban::Ban;
pub use message::{Message, NewMessage};
pub use participant::{Participant, ParticipantKind};
pub use room::Room;
pub use site::{RoomPolicy, Site};
