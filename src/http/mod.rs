//! HTTP surface: [`server`] accepts connections and runs hyper with timeouts
//! and per-address caps; warp routes the requests: the WebSocket endpoint,
//! widget assets and demo page, health and metrics, visitor account pages,
//! and the admin panel ([`crate::admin`]) at `/admin`. Each submodule exposes
//! its filters; [`routes`] combines them and [`error`] maps every rejection to
//! a JSON error body in one place.

pub mod account;
pub mod assets;
pub mod bundle;
pub mod client_ip;
mod conn;
pub mod error;
mod frames;
pub mod health;
mod minify;
pub mod server;
pub mod upgrade;
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
    pub trusted_proxies: Arc<client_ip::TrustedProxies>,
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
        .or(health::routes(state.clone()))
        .or(account::routes(state.clone()))
        .or(crate::admin::routes(state.admin.clone(), state.client_ip()))
        .or(assets::routes(state))
        .recover(error::recover)
        .with(warp::trace::request())
}
