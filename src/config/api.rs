//! The server API (`/api/v1`) and outgoing webhooks: what a site's backend
//! calls, and what this server calls on it (docs/API.md).

use clap::Args;

flag_group! {
    /// The server API.
    pub struct ApiConfig {
        /// Sustained server API requests per second per API key (`/api/v1`).
        api_requests_per_second: u32 = 20, env "CHATCTL_API_REQUESTS_PER_SECOND";

        /// Server API requests one API key may make in a burst above the sustained rate.
        api_request_burst: u32 = 100, env "CHATCTL_API_REQUEST_BURST";
    }
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
