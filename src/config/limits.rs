//! Limits that protect the server and the rooms from abuse: frames, message
//! and signal rates, connections, history, rooms, HTTP timeouts and what
//! strangers can make the server spend on accounts.

use clap::Args;

/// Limits that protect the server and the rooms from abuse.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest WebSocket frame accepted, in bytes; bigger frames close the connection (1009).
    #[arg(long, env = "CHATCTL_MAX_FRAME_BYTES", default_value_t = 16 * 1024)]
    pub max_frame_bytes: usize,

    /// Longest message any site may allow, in characters: a cap over each site's own limit
    /// (`site set --max-message-chars`; 2000 for a new site).
    #[arg(long, env = "CHATCTL_MAX_MESSAGE_CHARS", default_value_t = 4000)]
    pub max_message_chars: usize,

    /// Sustained messages per second per connection.
    #[arg(long, env = "CHATCTL_MESSAGES_PER_SECOND", default_value_t = 5)]
    pub messages_per_second: u32,

    /// Messages a connection may send in a burst above the sustained rate.
    #[arg(long, env = "CHATCTL_MESSAGE_BURST", default_value_t = 10)]
    pub message_burst: u32,

    /// Sustained messages per second from one IP address, all connections together.
    #[arg(long, env = "CHATCTL_IP_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub ip_messages_per_second: u32,

    /// Burst allowance per IP address.
    #[arg(long, env = "CHATCTL_IP_MESSAGE_BURST", default_value_t = 40)]
    pub ip_message_burst: u32,

    /// Sustained messages per second from one participant, all their connections (and
    /// addresses) together.
    #[arg(
        long,
        env = "CHATCTL_PARTICIPANT_MESSAGES_PER_SECOND",
        default_value_t = 10
    )]
    pub participant_messages_per_second: u32,

    /// Burst allowance per participant.
    #[arg(long, env = "CHATCTL_PARTICIPANT_MESSAGE_BURST", default_value_t = 20)]
    pub participant_message_burst: u32,

    /// Simultaneous WebSocket connections from one IP address.
    #[arg(long, env = "CHATCTL_MAX_CONNECTIONS_PER_IP", default_value_t = 50)]
    pub max_connections_per_ip: usize,

    /// Rooms one connection may be joined to at once.
    #[arg(long, env = "CHATCTL_MAX_JOINS_PER_CONNECTION", default_value_t = 20)]
    pub max_joins_per_connection: usize,

    /// Messages in the history page sent on join.
    #[arg(long, env = "CHATCTL_HISTORY_PAGE", default_value_t = 50)]
    pub history_page: usize,

    /// Most missed messages replayed on resume; a larger gap makes the client reload history.
    #[arg(long, env = "CHATCTL_RESUME_CAP", default_value_t = 500)]
    pub resume_cap: usize,

    /// Messages of each room with people in it kept in memory, so that joins and resumes are
    /// answered without reading the database (at least --history-page; 0 turns it off).
    #[arg(long, env = "CHATCTL_RECENT_MESSAGES", default_value_t = 500)]
    pub recent_messages: usize,

    /// Memory for the rooms' recent messages, all rooms together, in MiB; the rooms used least
    /// recently are dropped first.
    #[arg(long, env = "CHATCTL_RECENT_CACHE_MB", default_value_t = 64)]
    pub recent_cache_mb: usize,

    /// Seconds between server pings; a silent connection is closed after 2.5 intervals.
    #[arg(long, env = "CHATCTL_HEARTBEAT_SECS", default_value_t = 30)]
    pub heartbeat_secs: u64,

    /// Bytes queued for one slow connection before it is disconnected (it then resumes).
    #[arg(long, env = "CHATCTL_OUTBOUND_QUEUE_BYTES", default_value_t = 1024 * 1024)]
    pub outbound_queue_bytes: usize,

    /// New guest identities one address may create per minute (returning guests do not count):
    /// stops a script from filling the database with guests.
    #[arg(
        long,
        env = "CHATCTL_NEW_GUESTS_PER_IP_PER_MINUTE",
        default_value_t = 30
    )]
    pub new_guests_per_ip_per_minute: u32,

    /// Database connections in the pool.
    #[arg(long, env = "CHATCTL_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// New rooms one participant may open per hour (joining existing rooms does not count).
    #[arg(
        long,
        env = "CHATCTL_NEW_ROOMS_PER_PARTICIPANT_PER_HOUR",
        default_value_t = 30
    )]
    pub new_rooms_per_participant_per_hour: u32,

    /// New rooms one IP address may open per hour, all its participants together.
    #[arg(long, env = "CHATCTL_NEW_ROOMS_PER_IP_PER_HOUR", default_value_t = 100)]
    pub new_rooms_per_ip_per_hour: u32,

    /// Sustained `history` requests per second per connection (each one reads the database).
    #[arg(long, env = "CHATCTL_HISTORY_PER_SECOND", default_value_t = 5)]
    pub history_per_second: u32,

    /// `history` requests a connection may make in a burst above the sustained rate.
    #[arg(long, env = "CHATCTL_HISTORY_BURST", default_value_t = 20)]
    pub history_burst: u32,

    /// Sustained signals per second per connection: frames that make the server tell others
    /// something (join, typing, seen, report).
    #[arg(long, env = "CHATCTL_SIGNALS_PER_SECOND", default_value_t = 5)]
    pub signals_per_second: u32,

    /// Signals a connection may send in a burst above the sustained rate.
    #[arg(long, env = "CHATCTL_SIGNAL_BURST", default_value_t = 30)]
    pub signal_burst: u32,

    /// Sustained signals per second per participant, all their connections together.
    #[arg(
        long,
        env = "CHATCTL_PARTICIPANT_SIGNALS_PER_SECOND",
        default_value_t = 10
    )]
    pub participant_signals_per_second: u32,

    /// Burst allowance of signals per participant.
    #[arg(long, env = "CHATCTL_PARTICIPANT_SIGNAL_BURST", default_value_t = 60)]
    pub participant_signal_burst: u32,

    /// Sustained signals per second from one IP address, all connections together.
    #[arg(long, env = "CHATCTL_IP_SIGNALS_PER_SECOND", default_value_t = 50)]
    pub ip_signals_per_second: u32,

    /// Burst allowance of signals per IP address.
    #[arg(long, env = "CHATCTL_IP_SIGNAL_BURST", default_value_t = 300)]
    pub ip_signal_burst: u32,

    /// Seconds a client has to send a complete request head; also how long an idle
    /// keep-alive connection stays open.
    #[arg(
        long,
        env = "CHATCTL_REQUEST_HEADER_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub request_header_timeout_secs: u64,

    /// Seconds a client has to send a request's body, counted from its head; a slower body
    /// ends the request and the connection.
    #[arg(long, env = "CHATCTL_REQUEST_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub request_body_timeout_secs: u64,

    /// Simultaneous HTTP connections from one IP address that have not (yet) become chat
    /// connections. Trusted proxies (--trusted-proxies) are exempt.
    #[arg(
        long,
        env = "CHATCTL_MAX_HTTP_CONNECTIONS_PER_IP",
        default_value_t = 128
    )]
    pub max_http_connections_per_ip: usize,

    /// Simultaneous HTTP connections that are not chat connections (yet), from all addresses
    /// together; beyond, the one that has waited longest without a request in progress is
    /// closed to make room. Keep it well below the open-files limit (ulimit -n).
    #[arg(long, env = "CHATCTL_MAX_HTTP_CONNECTIONS", default_value_t = 512)]
    pub max_http_connections: usize,

    /// Connections set up at once: from the TCP accept to the answer to their first request
    /// (for a chat connection, to the answer to its `hello`). More wait in the kernel's listen
    /// backlog, so a reconnect storm after a restart does not hold every connection's buffers
    /// at once. A connection holds its slot for 2 seconds at most.
    #[arg(long, env = "CHATCTL_MAX_HANDSHAKES", default_value_t = 256)]
    pub max_handshakes: usize,

    /// Account actions that send a mail or hash a password (register, confirmation and reset
    /// mails, password resets and changes) per IP address per hour.
    #[arg(
        long,
        env = "CHATCTL_ACCOUNT_ACTIONS_PER_IP_PER_HOUR",
        default_value_t = 30
    )]
    pub account_actions_per_ip_per_hour: u32,

    /// Mails to one mailbox per hour (registration, confirmation, password reset), whoever asks.
    #[arg(long, env = "CHATCTL_MAILS_PER_MAILBOX_PER_HOUR", default_value_t = 5)]
    pub mails_per_mailbox_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024,
            max_message_chars: 4000,
            messages_per_second: 5,
            message_burst: 10,
            ip_messages_per_second: 20,
            ip_message_burst: 40,
            participant_messages_per_second: 10,
            participant_message_burst: 20,
            max_connections_per_ip: 50,
            max_joins_per_connection: 20,
            history_page: 50,
            resume_cap: 500,
            recent_messages: 500,
            recent_cache_mb: 64,
            heartbeat_secs: 30,
            outbound_queue_bytes: 1024 * 1024,
            new_guests_per_ip_per_minute: 30,
            db_pool_size: 8,
            new_rooms_per_participant_per_hour: 30,
            new_rooms_per_ip_per_hour: 100,
            history_per_second: 5,
            history_burst: 20,
            signals_per_second: 5,
            signal_burst: 30,
            participant_signals_per_second: 10,
            participant_signal_burst: 60,
            ip_signals_per_second: 50,
            ip_signal_burst: 300,
            request_header_timeout_secs: 10,
            request_body_timeout_secs: 30,
            max_http_connections_per_ip: 128,
            max_http_connections: 512,
            max_handshakes: 256,
            account_actions_per_ip_per_hour: 30,
            mails_per_mailbox_per_hour: 5,
        }
    }
}
