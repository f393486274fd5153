//! Token-bucket rate limits (governor), per connection, per participant and
//! per IP address (counted by [`AddressKey`]: an IPv6 address by its /64).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::Limits;
use crate::db::models::ParticipantId;
use crate::input::AddressKey;

pub type IpRateLimiter = DefaultKeyedRateLimiter<AddressKey>;

/// One clock for every limiter: making one runs CPUID, which is slow (and
/// traps to the hypervisor in a VM); once per message it took half the CPU
/// of a loaded server.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

pub fn connection_limiter(per_second: u32, burst: u32) -> DefaultDirectRateLimiter {
    DefaultDirectRateLimiter::direct_with_clock(quota(per_second, burst), CLOCK.clone())
}

/// Reports per connection: a few in a row, then one a minute.
pub fn report_limiter() -> DefaultDirectRateLimiter {
    DefaultDirectRateLimiter::direct_with_clock(report_quota(), CLOCK.clone())
}

pub fn ip_limiter(per_second: u32, burst: u32) -> IpRateLimiter {
    IpRateLimiter::hashmap_with_clock(quota(per_second, burst), CLOCK.clone())
}

/// At most `per_minute` per address per minute, all of them at once if need be.
pub fn ip_per_minute_limiter(per_minute: u32) -> IpRateLimiter {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    IpRateLimiter::hashmap_with_clock(Quota::per_minute(per_minute), CLOCK.clone())
}

/// How long until `ip` may do what `limiter` counts, if it may not now.
pub fn wait_for(limiter: &IpRateLimiter, ip: &IpAddr) -> Option<Duration> {
    limiter
        .check_key(&AddressKey::of(*ip))
        .err()
        .map(|not_until| not_until.wait_time_from(CLOCK.now()))
}

/// The limiters' clock, to turn a refusal into a wait.
pub fn now() -> governor::clock::QuantaInstant {
    CLOCK.now()
}

/// `Ok` if a message may go now, else how long to wait.
pub fn check(
    conn: &DefaultDirectRateLimiter,
    ips: &IpRateLimiter,
    ip: &IpAddr,
) -> Result<(), Duration> {
    conn.check()
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))?;
    ips.check_key(&AddressKey::of(*ip))
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Reports per participant, all connections together: the same allowance
/// as one connection gets.
fn report_quota() -> Quota {
    Quota::per_minute(NonZeroU32::MIN).allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN))
}

/// The keyed budgets of what one participant or address can make the server
/// do for others: open rooms, post messages (per participant; per address in
/// `Chat::ip_limiter`) and signal (presence, typing, read receipts, reports).
/// Per-connection budgets live in the session.
pub struct Quotas {
    messages_by_participant: DefaultKeyedRateLimiter<ParticipantId>,
    rooms_by_participant: DefaultKeyedRateLimiter<ParticipantId>,
    rooms_by_ip: IpRateLimiter,
    signals_by_participant: DefaultKeyedRateLimiter<ParticipantId>,
    signals_by_ip: IpRateLimiter,
    reports_by_participant: DefaultKeyedRateLimiter<ParticipantId>,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(quota: Quota) -> DefaultKeyedRateLimiter<K> {
    DefaultKeyedRateLimiter::hashmap_with_clock(quota, CLOCK.clone())
}

/// A budget per key (an API key, say) of `per_second` with bursts of `burst`.
pub fn per_key<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
    burst: u32,
) -> DefaultKeyedRateLimiter<K> {
    keyed(quota(per_second, burst))
}

/// `Ok`, or how long until the key may act again.
pub fn take<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}

impl Quotas {
    pub fn new(limits: &Limits) -> Quotas {
        Quotas {
            messages_by_participant: keyed(quota(
                limits.participant_messages_per_second,
                limits.participant_message_burst,
            )),
            rooms_by_participant: keyed(per_hour(limits.new_rooms_per_participant_per_hour)),
            rooms_by_ip: keyed(per_hour(limits.new_rooms_per_ip_per_hour)),
            signals_by_participant: keyed(quota(
                limits.participant_signals_per_second,
                limits.participant_signal_burst,
            )),
            signals_by_ip: keyed(quota(limits.ip_signals_per_second, limits.ip_signal_burst)),
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

/// Checks one direct (per-connection) limiter.
pub fn take_direct(limiter: &DefaultDirectRateLimiter) -> Result<(), Duration> {
    limiter
        .check()
        .map_err(|not_until| not_until.wait_time_from(CLOCK.now()))
}
