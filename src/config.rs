//! Server configuration. Every `chatctl serve` flag also reads an environment
//! variable:
//!
//! - `CHATCTL_DATABASE_URL` / `DATABASE_URL` — storage (default `sqlite://chatctl.db`)
//! - `CHATCTL_BIND` — listen address
//! - `CHATCTL_PUBLIC_URL` — URL browsers use to reach the server
//! - `CHATCTL_LOG_FORMAT` — `human` or `json`
//! - `CHATCTL_NO_DEMO` — do not create/serve the demo site
//! - `CHATCTL_TRUSTED_PROXIES` — reverse proxies whose `X-Forwarded-For` is believed
//! - `CHATCTL_METRICS_BIND` — a listener of its own for `/metrics`
//! - `CHATCTL_SMTP_URL`, `CHATCTL_SMTP_CA_FILE`, `CHATCTL_MAIL_FROM`, `CHATCTL_OUTBOX_DIR` — outgoing mail (see [`MailConfig`])
//! - `CHATCTL_MAX_FRAME_BYTES`, `CHATCTL_MAX_MESSAGE_CHARS`, `CHATCTL_MESSAGES_PER_SECOND`,
//!   `CHATCTL_MESSAGE_BURST`, `CHATCTL_IP_MESSAGES_PER_SECOND`, `CHATCTL_IP_MESSAGE_BURST`,
//!   `CHATCTL_MAX_CONNECTIONS_PER_IP`, `CHATCTL_MAX_JOINS_PER_CONNECTION`,
//!   `CHATCTL_HISTORY_PAGE`, `CHATCTL_RESUME_CAP`, `CHATCTL_HEARTBEAT_SECS`,
//!   `CHATCTL_OUTBOUND_QUEUE_BYTES`, `CHATCTL_NEW_GUESTS_PER_IP_PER_MINUTE`,
//!   `CHATCTL_DB_POOL_SIZE`, `CHATCTL_NEW_ROOMS_PER_PARTICIPANT_PER_HOUR`,
//!   `CHATCTL_NEW_ROOMS_PER_IP_PER_HOUR`, `CHATCTL_SIGNALS_PER_SECOND`, `CHATCTL_SIGNAL_BURST`,
//!   `CHATCTL_PARTICIPANT_SIGNALS_PER_SECOND`, `CHATCTL_PARTICIPANT_SIGNAL_BURST`,
//!   `CHATCTL_IP_SIGNALS_PER_SECOND`, `CHATCTL_IP_SIGNAL_BURST`,
//!   `CHATCTL_REQUEST_HEADER_TIMEOUT_SECS`, `CHATCTL_MAX_HTTP_CONNECTIONS_PER_IP`,
//!   `CHATCTL_ACCOUNT_ACTIONS_PER_IP_PER_HOUR`, `CHATCTL_MAILS_PER_MAILBOX_PER_HOUR`,
//!   `CHATCTL_API_REQUESTS_PER_SECOND`, `CHATCTL_API_REQUEST_BURST` — limits (see [`Limits`])
//! - `CHATCTL_BROKER_URL`, `CHATCTL_INSTANCE_NAME`, `CHATCTL_PRESENCE_DOWN_SECS` — several
//!   instances (see [`ClusterArgs`])
//! - `CHATCTL_WEBHOOK_ALLOW_PRIVATE`, `CHATCTL_WEBHOOK_TIMEOUT_SECS`,
//!   `CHATCTL_WEBHOOK_RETRY_BASE_MS`, `CHATCTL_WEBHOOK_RETRY_WINDOW_SECS` — outgoing
//!   webhooks (see [`WebhookConfig`])
//! - `CHATCTL_TEMPLATES_DIR`, `CHATCTL_ADMIN_IDLE_MINUTES`, `CHATCTL_ADMIN_SESSION_HOURS` —
//!   the admin panel (see [`AdminConfig`])

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://chatctl.db";

/// The database URL: the flag, else `CHATCTL_DATABASE_URL`, else `DATABASE_URL`, else the default.
pub fn database_url(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| std::env::var("CHATCTL_DATABASE_URL").ok())
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(long, env = "CHATCTL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Public base URL browsers use to reach this server (used in script tags,
    /// email links and the demo site's allowed origins). Defaults to
    /// `http://localhost:PORT` when bound to a loopback or unspecified address,
    /// else `http://BIND`.
    #[arg(long, env = "CHATCTL_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Log output format.
    #[arg(long, env = "CHATCTL_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,

    /// Do not create or serve the built-in demo site and page.
    #[arg(long, env = "CHATCTL_NO_DEMO")]
    pub no_demo: bool,

    /// Reverse proxies in front of this server (IP addresses or CIDR ranges, comma-separated,
    /// e.g. 127.0.0.1,10.0.0.0/8): for requests from them the visitor's address is read from
    /// X-Forwarded-For. Without it, the TCP peer is the visitor.
    #[arg(long, env = "CHATCTL_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// Serve `/metrics` on this address only (e.g. 127.0.0.1:9090, for a Prometheus on the
    /// same host or network), not on --bind where every visitor could read it. `/healthz`
    /// answers on both.
    #[arg(long, env = "CHATCTL_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Milliseconds a participant stays present in a room after their last connection in it
    /// goes, before the others are told they left: a reload, a page change or a reconnection
    /// within it shows neither a leave nor a join. 0 announces leaves at once. At most 60000.
    #[arg(long, env = "CHATCTL_PRESENCE_GRACE_MS", default_value_t = DEFAULT_PRESENCE_GRACE_MS,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub presence_grace_ms: u64,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub admin: AdminConfig,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub webhooks: WebhookConfig,
}

/// Outgoing webhooks (docs/API.md, "Webhooks").
#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// Let webhooks reach loopback, private, link-local and other non-public addresses
    /// (127.0.0.0/8, 10.0.0.0/8, 192.168.0.0/16, 169.254.0.0/16, ::1, fc00::/7, ...). Off by
    /// default: whoever can add an endpoint could otherwise make this server send requests to
    /// services only it can reach (SSRF). Turn it on when the receiver runs on this machine or
    /// network and everyone who can add endpoints (owners) is trusted.
    #[arg(long, env = "CHATCTL_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// Seconds one delivery attempt may take (connect, TLS, request and response) before it
    /// counts as failed.
    #[arg(long, env = "CHATCTL_WEBHOOK_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub webhook_timeout_secs: u64,

    /// Milliseconds before the first retry of a failed delivery; each further retry waits twice
    /// as long (at most an hour), with random jitter.
    #[arg(long, env = "CHATCTL_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_retry_base_ms: u64,

    /// Seconds a delivery is retried before it is given up (default three days); an endpoint
    /// that has failed for that long without one success is disabled and the owners are mailed.
    #[arg(long, env = "CHATCTL_WEBHOOK_RETRY_WINDOW_SECS", default_value_t = 3 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..=30 * 24 * 3600))]
    pub webhook_retry_window_secs: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            webhook_allow_private: false,
            webhook_timeout_secs: 10,
            webhook_retry_base_ms: 10_000,
            webhook_retry_window_secs: 3 * 24 * 3600,
        }
    }
}

/// Several instances on one PostgreSQL database (README, "Running several instances").
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Redis (or Valkey) pub/sub that carries messages, presence and moderation between
    /// instances sharing one PostgreSQL database: redis://[:PASSWORD@]HOST[:PORT]. Without it,
    /// instances on one database still see each other's messages, through the database, within
    /// about a second. Refused with SQLite (one instance only).
    #[arg(long, env = "CHATCTL_BROKER_URL", value_name = "URL")]
    pub broker_url: Option<String>,

    /// This instance's name in logs and between instances. Default: HOSTNAME:PID.
    #[arg(long, env = "CHATCTL_INSTANCE_NAME")]
    pub instance_name: Option<String>,

    /// Seconds without a heartbeat (each instance sends one a second) after which another
    /// instance is taken for dead: its people leave the rooms here, and what it may have
    /// committed without publishing is read from the database. This instance's own broker link
    /// counts as down after as long without hearing itself. 2 to 300.
    #[arg(long, env = "CHATCTL_PRESENCE_DOWN_SECS", default_value_t = DEFAULT_PRESENCE_DOWN_SECS,
          value_parser = clap::value_parser!(u64).range(2..=300))]
    pub presence_down_secs: u64,
}

pub const DEFAULT_PRESENCE_DOWN_SECS: u64 = 3;

pub const DEFAULT_PRESENCE_GRACE_MS: u64 = 5000;

impl Default for ClusterArgs {
    fn default() -> Self {
        ClusterArgs {
            broker_url: None,
            instance_name: None,
            presence_down_secs: DEFAULT_PRESENCE_DOWN_SECS,
        }
    }
}

/// The admin panel at `/admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminConfig {
    /// Load the admin panel's templates (NAME.hbs) and static files (static/NAME) from this
    /// directory instead of the built-in ones; files are re-read on every request.
    #[arg(long, env = "CHATCTL_TEMPLATES_DIR", value_name = "DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Minutes without activity after which an admin session ends.
    #[arg(long, env = "CHATCTL_ADMIN_IDLE_MINUTES", default_value_t = 60)]
    pub admin_idle_minutes: u64,

    /// Hours after login at which an admin session ends, active or not.
    #[arg(long, env = "CHATCTL_ADMIN_SESSION_HOURS", default_value_t = 12)]
    pub admin_session_hours: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            templates_dir: None,
            admin_idle_minutes: 60,
            admin_session_hours: 12,
        }
    }
}

/// Where outgoing mail (account confirmation, password reset) goes.
#[derive(Debug, Clone, Args)]
pub struct MailConfig {
    /// SMTP server: smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host:465
    /// (TLS) or smtp://host:25 (plain, for a local relay). Without it, mail is written to
    /// --outbox-dir as .eml files.
    #[arg(long, env = "CHATCTL_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// Also trust this CA (PEM file) for the SMTP server's certificate, for a
    /// mail server with a private certificate authority.
    #[arg(long, env = "CHATCTL_SMTP_CA_FILE", requires = "smtp_url")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "CHATCTL_MAIL_FROM",
        default_value = "chatctl <chatctl@localhost>"
    )]
    pub mail_from: String,

    /// Folder for outgoing mail when no SMTP server is configured.
    #[arg(long, env = "CHATCTL_OUTBOX_DIR", default_value = "outbox")]
    pub outbox_dir: PathBuf,
}

/// A CIDR range, or a single address as its own range.
fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR range"))
}

impl ServeConfig {
    /// The public URL without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            // Browsers treat localhost and 127.0.0.1 as different origins; the demo
            // site allows both, and "localhost" is what people type.
            None if bound.ip().is_unspecified() || bound.ip().is_loopback() => {
                format!("http://localhost:{}", bound.port())
            }
            None => format!("http://{bound}"),
        }
    }
}

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

    /// Sustained server API requests per second per API key (`/api/v1`).
    #[arg(long, env = "CHATCTL_API_REQUESTS_PER_SECOND", default_value_t = 20)]
    pub api_requests_per_second: u32,

    /// Server API requests one API key may make in a burst above the sustained rate.
    #[arg(long, env = "CHATCTL_API_REQUEST_BURST", default_value_t = 100)]
    pub api_request_burst: u32,

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
            heartbeat_secs: 30,
            outbound_queue_bytes: 1024 * 1024,
            new_guests_per_ip_per_minute: 30,
            db_pool_size: 8,
            new_rooms_per_participant_per_hour: 30,
            new_rooms_per_ip_per_hour: 100,
            history_per_second: 5,
            history_burst: 20,
            api_requests_per_second: 20,
            api_request_burst: 100,
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
            account_actions_per_ip_per_hour: 30,
            mails_per_mailbox_per_hour: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        limits: super::Limits,
    }

    #[test]
    fn default_limits_match_the_flag_defaults() {
        let parsed = Probe::parse_from(["probe"]).limits;
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", super::Limits::default())
        );
    }
}
