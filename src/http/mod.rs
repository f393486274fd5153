//! HTTP surface, in three parts:
//!
//! - the listener: [`server`] accepts connections and runs hyper with timeouts
//!   and per-address caps; [`client_ip`] says who is asking;
//! - the WebSocket transport, [`ws`]: admission, the handshake, our own frame
//!   writer and the task that pumps one chat connection;
//! - the routes: [`widget`] (loader, script, language packs, demo page),
//!   [`health`] (health and metrics), [`account`] (the pages behind account
//!   email links), the server API ([`api`]) at `/api/v1` and the admin panel
//!   ([`crate::admin`]) at `/admin`.
//!
//! Each submodule exposes its filters; [`routes`] combines them and [`error`]
//! maps every rejection to a JSON error body in one place.

pub mod account;
pub mod api;
pub mod client_ip;
pub mod error;
pub mod health;
pub mod open_connections;
pub mod server;
pub mod setup_slots;
pub mod widget;
pub mod ws;

use std::sync::Arc;

use tokio::sync::watch;
use warp::Filter;

use crate::chat::Chat;

/// What every request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub chat: Arc<Chat>,
    /// Flips to `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// The demo site's public key, when the demo is enabled.
    pub demo_site_key: Option<String>,
    /// The admin panel.
    pub admin: Arc<crate::admin::Admin>,
    /// The server API (`/api/v1`).
    pub api: Arc<api::Api>,
    pub trusted_proxies: Arc<client_ip::TrustedProxies>,
    /// `/metrics` is on the main listener (no `--metrics-bind`).
    pub metrics_on_main: bool,
}

impl AppState {
    pub fn with(
        self,
    ) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
        warp::any().map(move || self.clone())
    }

    /// The visitor's address (see [`client_ip`]).
    pub fn client_ip(
        &self,
    ) -> impl Filter<Extract = (std::net::IpAddr,), Error = std::convert::Infallible> + Clone {
        client_ip::client_ip(self.trusted_proxies.clone())
    }
}

pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    ws::route(state.clone())
        .or(api::routes(state.api.clone(), state.client_ip()))
        .or(health::routes(state.clone(), state.metrics_on_main))
        .or(account::routes(state.clone()))
        .or(crate::admin::routes(state.admin.clone(), state.client_ip()))
        .or(widget::routes(state))
        .recover(error::recover)
}

/// What the `--metrics-bind` listener serves: `/metrics` and `/healthz`.
pub fn metrics_routes(
    state: AppState,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    health::routes(state, true).recover(error::recover)
}
