//! The `chatctl serve` command of a load run: the server's limits, raised
//! where one load generator speaks for thousands of users.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use chatctl::config::Limits;

use super::chatctl_bin;
use crate::Opts;

/// Server limits for load runs: every check stays on (rate limits, bans,
/// mutes, word filter, room settings), but the quotas are raised so that a
/// load generator sending for thousands of users from a few addresses is not
/// refused as one abusive client.
pub fn load_limits(opts: &Opts) -> Limits {
    Limits {
        max_message_chars: 16_000,
        messages_per_second: 100_000,
        message_burst: 100_000,
        ip_messages_per_second: 1_000_000,
        ip_message_burst: 1_000_000,
        participant_messages_per_second: 100_000,
        participant_message_burst: 100_000,
        max_connections_per_ip: 100_000,
        resume_cap: 100_000,
        new_guests_per_ip_per_minute: 1_000_000,
        new_rooms_per_participant_per_hour: 1_000_000,
        new_rooms_per_ip_per_hour: 1_000_000,
        signals_per_second: 100_000,
        signal_burst: 100_000,
        participant_signals_per_second: 100_000,
        participant_signal_burst: 100_000,
        ip_signals_per_second: 1_000_000,
        ip_signal_burst: 1_000_000,
        max_http_connections_per_ip: 100_000,
        max_http_connections: 100_000,
        outbound_queue_bytes: opts.queue_bytes,
        ..Limits::default()
    }
}

/// The raised room, signal and connection quotas as `chatctl serve` flags.
fn quota_flags(l: &Limits) -> Vec<String> {
    [
        (
            "--new-rooms-per-participant-per-hour",
            l.new_rooms_per_participant_per_hour.to_string(),
        ),
        (
            "--new-rooms-per-ip-per-hour",
            l.new_rooms_per_ip_per_hour.to_string(),
        ),
        ("--signals-per-second", l.signals_per_second.to_string()),
        ("--signal-burst", l.signal_burst.to_string()),
        (
            "--participant-signals-per-second",
            l.participant_signals_per_second.to_string(),
        ),
        (
            "--participant-signal-burst",
            l.participant_signal_burst.to_string(),
        ),
        (
            "--ip-signals-per-second",
            l.ip_signals_per_second.to_string(),
        ),
        ("--ip-signal-burst", l.ip_signal_burst.to_string()),
        (
            "--max-http-connections-per-ip",
            l.max_http_connections_per_ip.to_string(),
        ),
        (
            "--participant-messages-per-second",
            l.participant_messages_per_second.to_string(),
        ),
        (
            "--participant-message-burst",
            l.participant_message_burst.to_string(),
        ),
        ("--max-http-connections", l.max_http_connections.to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect()
}

/// `chatctl serve` on `addr` with the load limits, as instance `n` of those on `broker_url`.
pub(super) fn serve_command(
    opts: &Opts,
    database_url: &str,
    addr: SocketAddr,
    broker_url: Option<&str>,
    n: usize,
) -> Command {
    let l = load_limits(opts);
    let mut command = Command::new(chatctl_bin());
    command
        .args(["--database-url", database_url, "serve", "--no-demo"])
        .args(["--bind", &addr.to_string()])
        .args(["--max-message-chars", &l.max_message_chars.to_string()])
        .args(["--messages-per-second", &l.messages_per_second.to_string()])
        .args(["--message-burst", &l.message_burst.to_string()])
        .args([
            "--ip-messages-per-second",
            &l.ip_messages_per_second.to_string(),
        ])
        .args(["--ip-message-burst", &l.ip_message_burst.to_string()])
        .args([
            "--max-connections-per-ip",
            &l.max_connections_per_ip.to_string(),
        ])
        .args(["--resume-cap", &l.resume_cap.to_string()])
        .args([
            "--new-guests-per-ip-per-minute",
            &l.new_guests_per_ip_per_minute.to_string(),
        ])
        .args([
            "--outbound-queue-bytes",
            &l.outbound_queue_bytes.to_string(),
        ])
        .args(quota_flags(&l))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(url) = broker_url {
        let name = format!("loadgen-{}", (b'a' + n as u8) as char);
        command.args(["--broker-url", url, "--instance-name", &name]);
    }
    command
}
