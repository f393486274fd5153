//! Assembles a running server from configuration: database, migrations, the
//! chat service, the demo site and the HTTP listener. Tests use it directly
//! (port 0) so they exercise exactly what `chatctl serve` runs.

mod assemble;
mod chores;
mod database;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify};

use crate::chat::Chat;
use crate::config::ServeConfig;
use crate::db::DbError;
use crate::http::client_ip::TrustedProxies;
use crate::http::server::Settings;
use crate::http::setup_slots::SetupMetrics;
use crate::http::{self, AppState};
use crate::input::Origin;
use crate::webhooks::dispatch::Dispatcher;
use assemble::{Assembled, Ground};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("invalid public URL {0:?}: it must be an http(s) URL")]
    PublicUrl(String),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("admin panel: {0}")]
    Admin(String),
    #[error("--broker-url needs PostgreSQL: with SQLite only one instance can use the database (set DATABASE_URL=postgres://... or remove --broker-url / CHATCTL_BROKER_URL)")]
    BrokerWithSqlite,
    #[error(transparent)]
    Broker(#[from] crate::chat::cluster::BrokerError),
    #[error("webhooks: cannot set up TLS: {0}")]
    Webhooks(#[from] rustls::Error),
    #[error("--outbound-queue-bytes {given} cannot hold one message of --max-message-chars {chars}: set it to at least {least}")]
    OutboundQueue {
        given: usize,
        chars: usize,
        least: usize,
    },
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// `--metrics-bind`'s listener and address.
    metrics: Option<(TcpListener, SocketAddr)>,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    /// Rung when another instance recorded changes to apply here.
    events: Arc<Notify>,
    webhooks: Arc<Dispatcher>,
}

impl Application {
    pub async fn build(config: &ServeConfig, database_url: &str) -> Result<Self, StartError> {
        let limits = &config.limits;
        if limits.outbound_queue_bytes < limits.least_outbound_queue_bytes() {
            return Err(StartError::OutboundQueue {
                given: limits.outbound_queue_bytes,
                chars: limits.max_message_chars,
                least: limits.least_outbound_queue_bytes(),
            });
        }
        let (listener, addr) = bind(config.bind).await?;
        let metrics_listener = match config.metrics_bind {
            Some(at) => Some(bind(at).await?),
            None => None,
        };
        let public_url = config.public_url(addr);
        let public_origin =
            Origin::parse(&public_url).map_err(|_| StartError::PublicUrl(public_url.clone()))?;

        let db = database::connect(config, database_url)?;
        let demo = (!config.no_demo).then_some((public_origin, addr.port()));
        let prepared = database::prepare(&db, demo).await?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let ground = Ground {
            db,
            guest_secret: &prepared.guest_secret,
            public_url: &public_url,
            shutdown: &shutdown,
        };
        let Assembled {
            chat,
            webhooks,
            events,
        } = assemble::chat(config, ground)?;
        if let Some(key) = &prepared.demo_site_key {
            tracing::info!(url = %public_url, site = %key, "demo chat page ready: open {public_url}/ (two browsers, or a normal and a private window, chat as two people)");
        }
        let admin = crate::admin::Admin::new(chat.clone(), config.admin.clone(), &public_url)
            .map_err(StartError::Admin)?;
        let state = AppState {
            api: Arc::new(http::api::Api::new(chat.clone(), &config.api)),
            chat,
            shutdown,
            demo_site_key: prepared.demo_site_key,
            admin: Arc::new(admin),
            trusted_proxies: Arc::new(TrustedProxies::new(config.trusted_proxies.clone())),
            metrics_on_main: metrics_listener.is_none(),
        };
        Ok(Application {
            listener,
            addr,
            metrics: metrics_listener,
            state,
            shutdown_tx,
            events,
            webhooks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served when it has its own listener (`--metrics-bind`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` resolves, then drains: connections are told to
    /// reconnect, queued messages are committed, and the function returns.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) {
        let Application {
            listener,
            metrics,
            state,
            shutdown_tx,
            events,
            webhooks,
            ..
        } = self;
        let chat = state.chat.clone();
        chores::start(&state, events, webhooks);
        let settings = server_settings(&state);
        let shutdown = state.shutdown.clone();
        if let Some((metrics_listener, at)) = metrics {
            tracing::info!(addr = %at, "metrics listening");
            let service = warp::service(http::metrics_routes(state.clone()));
            let serving = http::server::serve(
                metrics_listener,
                service,
                settings.clone(),
                shutdown.clone(),
            );
            tokio::spawn(serving);
        }
        // The public listener's handshakes are the ones operators watch.
        let settings = Settings {
            setup_metrics: SetupMetrics {
                held: chat.metrics.handshakes.clone(),
                expired: chat.metrics.handshake_slots_expired.clone(),
            },
            ..settings
        };
        let service = warp::service(http::routes(state));
        let server = http::server::serve(listener, service, settings, shutdown);
        tokio::pin!(server);
        tokio::select! {
            _ = &mut server => {}
            _ = signal => {
                tracing::info!("shutting down: closing connections");
                let _ = shutdown_tx.send(true);
                drain(server.as_mut(), &chat).await;
            }
        }
        let _ = shutdown_tx.send(true);
        stop(chat).await;
    }
}

/// The listeners' timeouts and connection caps, from the limits.
fn server_settings(state: &AppState) -> Settings {
    let limits = &state.chat.limits;
    Settings {
        header_timeout: Duration::from_secs(limits.request_header_timeout_secs.max(1)),
        body_timeout: Duration::from_secs(limits.request_body_timeout_secs.max(1)),
        max_per_ip: limits.max_http_connections_per_ip.max(1),
        max_total: limits.max_http_connections.max(1),
        max_handshakes: limits.max_handshakes.get(),
        setup_metrics: SetupMetrics::default(),
        trusted_proxies: state.trusted_proxies.clone(),
    }
}

/// Waits for the HTTP server to close its connections after the shutdown
/// signal. Upgraded connections are no longer the HTTP server's: waits for
/// them too, so each one gets its notice and in-flight sends their acks
/// before the runtime goes away. Bounded: stragglers are cut.
async fn drain(server: std::pin::Pin<&mut impl Future<Output = ()>>, chat: &Chat) {
    let drained = tokio::time::timeout(Duration::from_secs(8), async {
        server.await;
        while chat.hub.connection_count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    if drained.await.is_err() {
        tracing::warn!(
            open = chat.hub.connection_count(),
            "some connections did not close in time"
        );
    }
}

/// Commits what the writer holds, then hands it to the other instances.
async fn stop(chat: Arc<Chat>) {
    let cluster = chat.cluster.clone();
    let _ = tokio::task::spawn_blocking(move || chat.writer.stop()).await;
    // What the writer committed while draining goes to the other instances too.
    if let Some(cluster) = cluster {
        cluster.finish().await;
    }
    tracing::info!("stopped");
}

/// Connections the kernel completes for us before we accept them (the
/// listen(2) backlog; Linux caps it at `net.core.somaxconn`, 4096 by default
/// since 5.4). Tokio's own bind asks for 1024: when a whole room reconnects
/// after a restart, the handshakes past that were dropped and their clients
/// waited for SYN retransmits, 1, 3, 7, 15, 31 s later.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the listener; returns it with the address it got (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let bind_error = |cause| StartError::Bind { addr, cause };
    let listener = listen(addr).map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// A listening socket on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`,
/// as tokio's bind sets it: a restart must not wait for old connections' TIME_WAIT).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A room reconnecting at once after a restart: its handshakes complete
    /// while the server is still busy accepting the first ones.
    #[tokio::test]
    async fn the_listener_completes_thousands_of_handshakes_before_any_is_accepted() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // The kernel grants at most net.core.somaxconn (4096 since Linux 5.4).
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(LISTEN_BACKLOG);
        let expected = 2000.min(somaxconn as usize);
        let mut held = Vec::new();
        for _ in 0..2000 {
            let connect = tokio::net::TcpStream::connect(addr);
            match tokio::time::timeout(Duration::from_millis(300), connect).await {
                Ok(Ok(stream)) => held.push(stream),
                _ => break,
            }
        }
        assert!(
            held.len() >= expected,
            "{} of 2000 handshakes completed unaccepted (somaxconn {somaxconn})",
            held.len()
        );
        drop(listener);
    }
}
