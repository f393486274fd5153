//! The chat's rate limits, per connection, per participant and per IP address
//! (counted by [`AddressKey`]: an IPv6 address by its /64); the buckets are
//! [`crate::rate_limit`]'s.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Limits;
use crate::db::models::ParticipantId;
use crate::input::AddressKey;
pub use crate::rate_limit::take_direct;
use crate::rate_limit::{self, per_hour, per_minute, per_second, take, Direct, Keyed};

pub type IpRateLimiter = Keyed<AddressKey>;

pub fn connection_limiter(per_second_rate: u32, burst: u32) -> Direct {
    rate_limit::direct(per_second(per_second_rate, burst))
}

/// Reports per connection: a few in a row, then one a minute.
pub fn report_limiter() -> Direct {
    rate_limit::direct(report_quota())
}

pub fn ip_limiter(per_second_rate: u32, burst: u32) -> IpRateLimiter {
    rate_limit::keyed(per_second(per_second_rate, burst))
}

/// At most `per_minute` per address per minute, all of them at once if need be.
pub fn ip_per_minute_limiter(rate: u32) -> IpRateLimiter {
    rate_limit::keyed(per_minute(rate))
}

/// How long until `ip` may do what `limiter` counts, if it may not now.
pub fn wait_for(limiter: &IpRateLimiter, ip: &IpAddr) -> Option<Duration> {
    take(limiter, &AddressKey::of(*ip)).err()
}

/// `Ok` if a message may go now, else how long to wait.
pub fn check(conn: &Direct, ips: &IpRateLimiter, ip: &IpAddr) -> Result<(), Duration> {
    take_direct(conn)?;
    take(ips, &AddressKey::of(*ip))
}

/// Reports per participant, all connections together: the same allowance
/// as one connection gets.
fn report_quota() -> governor::Quota {
    rate_limit::with_burst(per_minute(1), 5)
}

/// The keyed budgets of what one participant or address can make the server
/// do for others: open rooms, post messages (per participant; per address in
/// `Chat::ip_limiter`) and signal (presence, typing, read receipts, reports).
/// Per-connection budgets live in the session.
pub struct Quotas {
    messages_by_participant: Keyed<ParticipantId>,
    rooms_by_participant: Keyed<ParticipantId>,
    rooms_by_ip: IpRateLimiter,
    signals_by_participant: Keyed<ParticipantId>,
    signals_by_ip: IpRateLimiter,
    reports_by_participant: Keyed<ParticipantId>,
}

impl Quotas {
    pub fn new(limits: &Limits) -> Quotas {
        use rate_limit::keyed;
        Quotas {
            messages_by_participant: keyed(per_second(
                limits.participant_messages_per_second,
                limits.participant_message_burst,
            )),
            rooms_by_participant: keyed(per_hour(limits.new_rooms_per_participant_per_hour)),
            rooms_by_ip: keyed(per_hour(limits.new_rooms_per_ip_per_hour)),
            signals_by_participant: keyed(per_second(
                limits.participant_signals_per_second,
                limits.participant_signal_burst,
            )),
            signals_by_ip: keyed(per_second(
                limits.ip_signals_per_second,
                limits.ip_signal_burst,
            )),
            reports_by_participant: keyed(report_quota()),
        }
    }

    /// May this participant post a message (the connection's and the address's
    /// budgets are checked by the caller)?
    pub fn message(&self, participant: ParticipantId) -> Result<(), Duration> {
        take(&self.messages_by_participant, &participant)
    }

    /// May this participant, from this address, open a room that does not exist yet?
    pub fn new_room(&self, participant: ParticipantId, ip: IpAddr) -> Result<(), Duration> {
        take(&self.rooms_by_participant, &participant)?;
        take(&self.rooms_by_ip, &AddressKey::of(ip))
    }

    /// May this participant tell the room something (the connection's own
    /// budget is checked by the caller, first)?
    pub fn signal(&self, participant: ParticipantId, ip: IpAddr) -> Result<(), Duration> {
        take(&self.signals_by_participant, &participant)?;
        take(&self.signals_by_ip, &AddressKey::of(ip))
    }

    pub fn report(&self, participant: ParticipantId) -> Result<(), Duration> {
        take(&self.reports_by_participant, &participant)
    }

    /// Forgets the keys that are back to a full budget.
    pub fn retain_recent(&self) {
        self.messages_by_participant.retain_recent();
        self.rooms_by_participant.retain_recent();
        self.rooms_by_ip.retain_recent();
        self.signals_by_participant.retain_recent();
        self.signals_by_ip.retain_recent();
        self.reports_by_participant.retain_recent();
    }
}
