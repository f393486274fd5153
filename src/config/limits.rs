//! Limits that protect the server and the rooms from abuse: frames, message
//! and signal rates, connections, history, rooms, HTTP timeouts and what
//! strangers can make the server spend on accounts.

use std::num::NonZeroUsize;

/// `--max-handshakes` (see [`Limits::max_handshakes`]).
const DEFAULT_HANDSHAKES: NonZeroUsize = NonZeroUsize::new(256).unwrap();

flag_group! {
    /// Limits that protect the server and the rooms from abuse.
    pub struct Limits {
        /// Largest WebSocket frame accepted, in bytes; bigger frames close the connection (1009).
        max_frame_bytes: usize = 16 * 1024, env "CHATCTL_MAX_FRAME_BYTES";

        /// Longest message any site may allow, in characters: a cap over each site's own limit
        /// (`site set --max-message-chars`; 2000 for a new site).
        max_message_chars: usize = 4000, env "CHATCTL_MAX_MESSAGE_CHARS";

        /// Sustained messages per second per connection.
        messages_per_second: u32 = 5, env "CHATCTL_MESSAGES_PER_SECOND";

        /// Messages a connection may send in a burst above the sustained rate.
        message_burst: u32 = 10, env "CHATCTL_MESSAGE_BURST";

        /// Sustained messages per second from one IP address, all connections together.
        ip_messages_per_second: u32 = 20, env "CHATCTL_IP_MESSAGES_PER_SECOND";

        /// Burst allowance per IP address.
        ip_message_burst: u32 = 40, env "CHATCTL_IP_MESSAGE_BURST";

        /// Sustained messages per second from one participant, all their connections (and
        /// addresses) together.
        participant_messages_per_second: u32 = 10, env "CHATCTL_PARTICIPANT_MESSAGES_PER_SECOND";

        /// Burst allowance per participant.
        participant_message_burst: u32 = 20, env "CHATCTL_PARTICIPANT_MESSAGE_BURST";

        /// Simultaneous WebSocket connections from one IP address.
        max_connections_per_ip: usize = 50, env "CHATCTL_MAX_CONNECTIONS_PER_IP";

        /// Rooms one connection may be joined to at once.
        max_joins_per_connection: usize = 20, env "CHATCTL_MAX_JOINS_PER_CONNECTION";

        /// Messages in the history page sent on join.
        history_page: usize = 50, env "CHATCTL_HISTORY_PAGE";

        /// Most missed messages replayed on resume; a larger gap makes the client reload history.
        resume_cap: usize = 500, env "CHATCTL_RESUME_CAP";

        /// Messages of each room with people in it kept in memory, so that joins and resumes are
        /// answered without reading the database (at least --history-page; 0 turns it off).
        recent_messages: usize = 500, env "CHATCTL_RECENT_MESSAGES";

        /// Memory for the rooms' recent messages, all rooms together, in MiB; the rooms used least
        /// recently are dropped first.
        recent_cache_mb: usize = 64, env "CHATCTL_RECENT_CACHE_MB";

        /// Seconds between server pings; a silent connection is closed after 2.5 intervals.
        heartbeat_secs: u64 = 30, env "CHATCTL_HEARTBEAT_SECS";

        /// Bytes queued for one slow connection before it is disconnected (it then resumes);
        /// at least one message frame of --max-message-chars (6 bytes a character, as JSON
        /// escapes, plus 4 KiB).
        outbound_queue_bytes: usize = 1024 * 1024, env "CHATCTL_OUTBOUND_QUEUE_BYTES";

        /// New guest identities one address may create per minute (returning guests do not count):
        /// stops a script from filling the database with guests.
        new_guests_per_ip_per_minute: u32 = 30, env "CHATCTL_NEW_GUESTS_PER_IP_PER_MINUTE";

        /// Database connections in the pool.
        db_pool_size: u32 = 8, env "CHATCTL_DB_POOL_SIZE";

        /// New rooms one participant may open per hour (joining existing rooms does not count).
        new_rooms_per_participant_per_hour: u32 = 30,
            env "CHATCTL_NEW_ROOMS_PER_PARTICIPANT_PER_HOUR";

        /// New rooms one IP address may open per hour, all its participants together.
        new_rooms_per_ip_per_hour: u32 = 100, env "CHATCTL_NEW_ROOMS_PER_IP_PER_HOUR";

        /// Sustained `history` requests per second per connection (each one reads the database).
        history_per_second: u32 = 5, env "CHATCTL_HISTORY_PER_SECOND";

        /// `history` requests a connection may make in a burst above the sustained rate.
        history_burst: u32 = 20, env "CHATCTL_HISTORY_BURST";

        /// Sustained signals per second per connection: frames that make the server tell others
        /// something (join, typing, seen, report).
        signals_per_second: u32 = 5, env "CHATCTL_SIGNALS_PER_SECOND";

        /// Signals a connection may send in a burst above the sustained rate.
        signal_burst: u32 = 30, env "CHATCTL_SIGNAL_BURST";

        /// Sustained signals per second per participant, all their connections together.
        participant_signals_per_second: u32 = 10, env "CHATCTL_PARTICIPANT_SIGNALS_PER_SECOND";

        /// Burst allowance of signals per participant.
        participant_signal_burst: u32 = 60, env "CHATCTL_PARTICIPANT_SIGNAL_BURST";

        /// Sustained signals per second from one IP address, all connections together.
        ip_signals_per_second: u32 = 50, env "CHATCTL_IP_SIGNALS_PER_SECOND";

        /// Burst allowance of signals per IP address.
        ip_signal_burst: u32 = 300, env "CHATCTL_IP_SIGNAL_BURST";

        /// Seconds a client has to send a complete request head; also how long an idle keep-alive
        /// connection stays open.
        request_header_timeout_secs: u64 = 10, env "CHATCTL_REQUEST_HEADER_TIMEOUT_SECS";

        /// Seconds a client has to send a request's body, counted from its head; a slower body ends
        /// the request and the connection.
        request_body_timeout_secs: u64 = 30, env "CHATCTL_REQUEST_BODY_TIMEOUT_SECS";

        /// Simultaneous HTTP connections from one IP address that have not (yet) become chat
        /// connections. Trusted proxies (--trusted-proxies) are exempt.
        max_http_connections_per_ip: usize = 128, env "CHATCTL_MAX_HTTP_CONNECTIONS_PER_IP";

        /// Simultaneous HTTP connections that are not chat connections (yet), from all addresses
        /// together; beyond, the one that has waited longest without a request in progress is
        /// closed to make room. Keep it well below the open-files limit (ulimit -n).
        max_http_connections: usize = 512, env "CHATCTL_MAX_HTTP_CONNECTIONS";

        /// Connections the server sets up at once (at least 1): a chat connection from its TCP
        /// accept to the answer to its `hello`. More wait in the kernel's listen backlog, so a
        /// reconnect storm after a restart does not hold every connection's buffers at once. A
        /// connection waiting for its client (request head, `hello`) holds no slot after 100 ms,
        /// an ordinary HTTP request none once its head is read, and none holds one over 2 s.
        max_handshakes: NonZeroUsize = DEFAULT_HANDSHAKES, env "CHATCTL_MAX_HANDSHAKES";

        /// Account actions that send a mail or hash a password (register, confirmation and reset
        /// mails, password resets and changes) per IP address per hour.
        account_actions_per_ip_per_hour: u32 = 30, env "CHATCTL_ACCOUNT_ACTIONS_PER_IP_PER_HOUR";

        /// Mails to one mailbox per hour (registration, confirmation, password reset), whoever
        /// asks.
        mails_per_mailbox_per_hour: u32 = 5, env "CHATCTL_MAILS_PER_MAILBOX_PER_HOUR";
    }
}

impl Limits {
    /// The smallest `--outbound-queue-bytes` that holds one message frame of
    /// `--max-message-chars`: a character is at most 6 bytes in a JSON string
    /// (`\u001f`, RFC 8259 §7), and the frame's other fields fit in 4 KiB. A
    /// smaller queue would cut every reader at the first long message.
    pub fn least_outbound_queue_bytes(&self) -> usize {
        self.max_message_chars
            .saturating_mul(6)
            .saturating_add(4096)
    }
}
