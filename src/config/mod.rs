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
//! - `CHATCTL_PRESENCE_GRACE_MS` — how long a participant stays present after leaving
//! - `CHATCTL_SMTP_URL`, `CHATCTL_SMTP_CA_FILE`, `CHATCTL_MAIL_FROM`, `CHATCTL_OUTBOX_DIR` — outgoing mail (see [`MailConfig`])
//! - `CHATCTL_MAX_FRAME_BYTES`, `CHATCTL_MAX_MESSAGE_CHARS`, `CHATCTL_MESSAGES_PER_SECOND`,
//!   `CHATCTL_MESSAGE_BURST`, `CHATCTL_IP_MESSAGES_PER_SECOND`, `CHATCTL_IP_MESSAGE_BURST`,
//!   `CHATCTL_PARTICIPANT_MESSAGES_PER_SECOND`, `CHATCTL_PARTICIPANT_MESSAGE_BURST`,
//!   `CHATCTL_MAX_CONNECTIONS_PER_IP`, `CHATCTL_MAX_JOINS_PER_CONNECTION`, `CHATCTL_HISTORY_PAGE`,
//!   `CHATCTL_RESUME_CAP`, `CHATCTL_RECENT_MESSAGES`, `CHATCTL_RECENT_CACHE_MB`,
//!   `CHATCTL_HEARTBEAT_SECS`, `CHATCTL_OUTBOUND_QUEUE_BYTES`,
//!   `CHATCTL_NEW_GUESTS_PER_IP_PER_MINUTE`, `CHATCTL_DB_POOL_SIZE`,
//!   `CHATCTL_NEW_ROOMS_PER_PARTICIPANT_PER_HOUR`, `CHATCTL_NEW_ROOMS_PER_IP_PER_HOUR`,
//!   `CHATCTL_HISTORY_PER_SECOND`, `CHATCTL_HISTORY_BURST`, `CHATCTL_SIGNALS_PER_SECOND`,
//!   `CHATCTL_SIGNAL_BURST`, `CHATCTL_PARTICIPANT_SIGNALS_PER_SECOND`,
//!   `CHATCTL_PARTICIPANT_SIGNAL_BURST`, `CHATCTL_IP_SIGNALS_PER_SECOND`,
//!   `CHATCTL_IP_SIGNAL_BURST`, `CHATCTL_REQUEST_HEADER_TIMEOUT_SECS`,
//!   `CHATCTL_REQUEST_BODY_TIMEOUT_SECS`, `CHATCTL_MAX_HTTP_CONNECTIONS_PER_IP`,
//!   `CHATCTL_MAX_HTTP_CONNECTIONS`, `CHATCTL_MAX_HANDSHAKES`,
//!   `CHATCTL_ACCOUNT_ACTIONS_PER_IP_PER_HOUR`, `CHATCTL_MAILS_PER_MAILBOX_PER_HOUR` — limits (see
//!   [`Limits`])
//! - `CHATCTL_API_REQUESTS_PER_SECOND`, `CHATCTL_API_REQUEST_BURST` — the server API's budget
//!   per key (see [`ApiConfig`])
//! - `CHATCTL_BROKER_URL`, `CHATCTL_INSTANCE_NAME`, `CHATCTL_PRESENCE_DOWN_SECS` — several
//!   instances (see [`ClusterArgs`])
//! - `CHATCTL_WEBHOOK_ALLOW_PRIVATE`, `CHATCTL_WEBHOOK_TIMEOUT_SECS`,
//!   `CHATCTL_WEBHOOK_RETRY_BASE_MS`, `CHATCTL_WEBHOOK_RETRY_WINDOW_SECS` — outgoing
//!   webhooks (see [`WebhookConfig`])
//! - `CHATCTL_TEMPLATES_DIR`, `CHATCTL_ADMIN_IDLE_MINUTES`, `CHATCTL_ADMIN_SESSION_HOURS` —
//!   the admin panel (see [`AdminConfig`])

/// Declares a group of `chatctl serve` flags that all have a default: each field becomes
/// `--field-name`, read from the environment variable named after `env`, with the doc comment
/// as its `--help` text; the group's `Default` (what tests and the load generator start from)
/// takes the same values, so each default is written once.
///
/// ```text
/// flag_group! {
///     /// The group's doc.
///     pub struct Group {
///         /// The flag's help, with its unit.
///         field_name: u32 = 5, env "CHATCTL_FIELD_NAME";
///     }
/// }
/// ```
macro_rules! flag_group {
    (
        $(#[doc = $group_doc:literal])*
        pub struct $group:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $default:expr, env $env:literal;
            )*
        }
    ) => {
        $(#[doc = $group_doc])*
        #[derive(Debug, Clone, clap::Args)]
        pub struct $group {
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, default_value_t = $default)]
                pub $field: $ty,
            )*
        }

        impl Default for $group {
            fn default() -> Self {
                $group {
                    $($field: $default,)*
                }
            }
        }
    };
}

mod api;
mod limits;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

pub use api::{ApiConfig, WebhookConfig};
pub use limits::Limits;

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
    pub api: ApiConfig,

    #[command(flatten)]
    pub webhooks: WebhookConfig,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{AdminConfig, ApiConfig, ClusterArgs, Limits, WebhookConfig};

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        limits: Limits,
        #[command(flatten)]
        admin: AdminConfig,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        api: ApiConfig,
        #[command(flatten)]
        webhooks: WebhookConfig,
    }

    /// Each `Default` (what tests and the load generator start from) is what
    /// the flags default to.
    #[test]
    fn defaults_match_the_flag_defaults() {
        let parsed = Probe::parse_from(["probe"]);
        same(parsed.limits, Limits::default());
        same(parsed.admin, AdminConfig::default());
        same(parsed.cluster, ClusterArgs::default());
        same(parsed.api, ApiConfig::default());
        same(parsed.webhooks, WebhookConfig::default());
    }

    /// The types have no `PartialEq`; their `Debug` shows every field.
    fn same<T: std::fmt::Debug>(flags: T, default: T) {
        assert_eq!(format!("{flags:?}"), format!("{default:?}"));
    }
}
