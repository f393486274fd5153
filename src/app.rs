//! Assembles a running server from configuration: database, migrations, the
//! chat service, the demo site and the HTTP listener. Tests use it directly
//! (port 0) so they exercise exactly what `chatctl serve` runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::chat::cluster::{Cluster, ClusterConfig, Outbox};
use crate::chat::hub::Hub;
use crate::chat::limits::{ip_limiter, ip_per_minute_limiter, Quotas};
use crate::chat::protocol::CloseReason;
use crate::chat::writer::Writer;
use crate::chat::Chat;
use crate::config::ServeConfig;
use crate::db::models::{server_setting, AdminUser, Site, SiteId};
use crate::db::{migrate, Db, DbError};
use crate::http::client_ip::TrustedProxies;
use crate::http::{self, AppState};
use crate::identity::accounts::Accounts;
use crate::identity::budget::Budget;
use crate::identity::GuestTokens;
use crate::input::{random_token, Origin};
use crate::mail::{Mailer, ReportAlerts};
use crate::metrics::Metrics;
use crate::webhooks::dispatch::Dispatcher;
use crate::webhooks::outbox::Doorbell;

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
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// `--metrics-bind`'s listener and address.
    metrics: Option<(TcpListener, SocketAddr)>,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    /// Rung when another instance recorded changes to apply here.
    events: Arc<tokio::sync::Notify>,
    webhooks: Arc<Dispatcher>,
}

impl Application {
    pub async fn build(config: &ServeConfig, database_url: &str) -> Result<Self, StartError> {
        let (listener, addr) = bind(config.bind).await?;
        let metrics_listener = match config.metrics_bind {
            Some(at) => Some(bind(at).await?),
            None => None,
        };
        let public_url = config.public_url(addr);
        let public_origin =
            Origin::parse(&public_url).map_err(|_| StartError::PublicUrl(public_url.clone()))?;

        let db = connect(config, database_url)?;
        let demo = (!config.no_demo).then_some((public_origin, addr.port()));
        let (secret, demo_site_key) = prepare_database(&db, demo).await?;

        let mailer = Mailer::start(&config.mail)?;
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::with_presence_grace(Duration::from_millis(config.presence_grace_ms));
        let limits = config.limits.clone();
        let (shutdown_tx, shutdown) = watch::channel(false);
        // Other instances' messages reach this one through the broker, or the database.
        let events = Arc::new(tokio::sync::Notify::new());
        let instance: u64 = rand::random();
        let link = ClusterLink {
            db: &db,
            hub: &hub,
            metrics: &metrics,
            events: &events,
            shutdown: &shutdown,
        };
        let (outbox, cluster) = start_cluster(config, instance, link)?.unzip();
        let doorbell = Doorbell::default();
        let webhooks = Arc::new(Dispatcher::new(
            db.clone(),
            metrics.clone(),
            mailer.clone(),
            &public_url,
            &config.webhooks,
            doorbell.clone(),
        )?);
        let chat = Arc::new(Chat {
            writer: Writer::start(
                db.clone(),
                hub.clone(),
                metrics.clone(),
                outbox,
                doorbell.clone(),
            ),
            webhooks: doorbell,
            cluster,
            instance,
            report_alerts: Arc::new(ReportAlerts::new(db.clone(), mailer.clone(), &public_url)),
            accounts: Accounts::new(
                db.clone(),
                mailer,
                public_url.clone(),
                Budget::new(
                    limits.account_actions_per_ip_per_hour,
                    limits.mails_per_mailbox_per_hour,
                ),
            ),
            rules: crate::chat::rules::Rules::new(db.clone()),
            holds: crate::chat::holds::Holds::new(instance),
            db,
            hub,
            guest_tokens: GuestTokens::new(secret.as_bytes()),
            ip_limiter: ip_limiter(limits.ip_messages_per_second, limits.ip_message_burst),
            new_guest_limiter: ip_per_minute_limiter(limits.new_guests_per_ip_per_minute),
            quotas: Quotas::new(&limits),
            limits,
            metrics,
        });
        if let Some(key) = &demo_site_key {
            tracing::info!(url = %public_url, site = %key, "demo chat page ready: open {public_url}/ (two browsers, or a normal and a private window, chat as two people)");
        }
        let admin = crate::admin::Admin::new(chat.clone(), config.admin.clone(), &public_url)
            .map_err(StartError::Admin)?;
        let api = Arc::new(http::api::Api::new(chat.clone()));
        let state = AppState {
            chat,
            shutdown,
            demo_site_key,
            admin: Arc::new(admin),
            api,
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
        tokio::spawn(crate::moderation::remote::follow(
            chat.clone(),
            events,
            state.shutdown.clone(),
        ));
        tokio::spawn(housekeeping(chat.clone(), state.shutdown.clone()));
        tokio::spawn(expire_leaves(chat.hub.clone(), state.shutdown.clone()));
        tokio::spawn(webhooks.run(state.shutdown.clone()));
        tokio::spawn(crate::admin::activity::sample(
            state.admin.clone(),
            state.shutdown.clone(),
        ));
        let settings = http::server::Settings {
            header_timeout: Duration::from_secs(chat.limits.request_header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(chat.limits.request_body_timeout_secs.max(1)),
            max_per_ip: chat.limits.max_http_connections_per_ip.max(1),
            max_total: chat.limits.max_http_connections.max(1),
            trusted_proxies: state.trusted_proxies.clone(),
        };
        let shutdown = state.shutdown.clone();
        if let Some((metrics_listener, at)) = metrics {
            tracing::info!(addr = %at, "metrics listening");
            let service = warp::service(http::metrics_routes(state.clone()));
            let settings = http::server::Settings {
                header_timeout: settings.header_timeout,
                body_timeout: settings.body_timeout,
                max_per_ip: settings.max_per_ip,
                max_total: settings.max_total,
                trusted_proxies: settings.trusted_proxies.clone(),
            };
            tokio::spawn(http::server::serve(
                metrics_listener,
                service,
                settings,
                shutdown.clone(),
            ));
        }
        let service = warp::service(http::routes(state));
        let server = http::server::serve(listener, service, settings, shutdown);
        tokio::pin!(server);
        tokio::select! {
            _ = &mut server => {}
            _ = signal => {
                tracing::info!("shutting down: closing connections");
                let _ = shutdown_tx.send(true);
                // Upgraded connections are no longer the HTTP server's: wait for
                // them too, so each one gets its notice and in-flight sends their
                // acks before the runtime goes away. Bounded: stragglers are cut.
                let drained = tokio::time::timeout(Duration::from_secs(8), async {
                    let _ = (&mut server).await;
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
        }
        let _ = shutdown_tx.send(true);
        let cluster = chat.cluster.clone();
        let _ = tokio::task::spawn_blocking(move || chat.writer.stop()).await;
        // What the writer committed while draining goes to the other instances too.
        if let Some(cluster) = cluster {
            cluster.finish().await;
        }
        tracing::info!("stopped");
    }
}

/// HOSTNAME:PID, which tells instances apart in logs.
/// What the cluster shares with the rest of the server.
struct ClusterLink<'a> {
    db: &'a Db,
    hub: &'a Arc<Hub>,
    metrics: &'a Arc<Metrics>,
    events: &'a Arc<tokio::sync::Notify>,
    shutdown: &'a watch::Receiver<bool>,
}

/// Joins the other instances on this PostgreSQL database (through the broker
/// when there is one); returns where the writer hands its commits, and the
/// cluster. `None` on SQLite, which one process owns.
fn start_cluster(
    config: &ServeConfig,
    instance: u64,
    link: ClusterLink<'_>,
) -> Result<Option<(Outbox, Arc<Cluster>)>, StartError> {
    if !matches!(link.db.url(), crate::db::DbUrl::Postgres(_)) {
        return Ok(None);
    }
    let (outbox, outgoing) = Cluster::outbox();
    let cluster = Cluster::start(
        ClusterConfig {
            broker_url: config.cluster.broker_url.clone(),
            instance_name: config
                .cluster
                .instance_name
                .clone()
                .unwrap_or_else(default_instance_name),
            origin: instance,
            down_after: Duration::from_secs(config.cluster.presence_down_secs),
        },
        link.db.clone(),
        link.hub.clone(),
        link.metrics.clone(),
        (outbox.clone(), outgoing),
        link.events.clone(),
        link.shutdown.clone(),
    )?;
    Ok(Some((outbox, cluster)))
}

/// The command that makes the first admin account, as the operator can type
/// it: the program as it was started (`cargo run` puts no `chatctl` on the
/// PATH) and the database when it is not the default. A PostgreSQL URL holds
/// a password, which is never logged: the hint names it instead.
fn first_admin_hint(database: &crate::db::DbUrl) -> String {
    let program = std::env::args()
        .next()
        .filter(|p| p.contains('/'))
        .unwrap_or_else(|| "chatctl".to_owned());
    let database = match database {
        crate::db::DbUrl::Sqlite(path) if path.as_os_str() == "chatctl.db" => String::new(),
        crate::db::DbUrl::Sqlite(path) => {
            format!(
                " --database-url {}",
                shell_word(&format!("sqlite://{}", path.display()))
            )
        }
        crate::db::DbUrl::Postgres(_) => " --database-url \"$DATABASE_URL\"".to_owned(),
    };
    let mut hint = format!(
        "{}{database} user create --email you@example.com --name \"Your Name\" --role owner",
        shell_word(&program)
    );
    if database.contains("$DATABASE_URL") {
        hint.push_str(" (with DATABASE_URL set to this server's database URL)");
    }
    hint
}

/// `word` as one shell word: quoted when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-:+=@%,".contains(c);
    if word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Binds the listener; returns it with the address it got (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let bind_error = |cause| StartError::Bind { addr, cause };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Connects to the database; a broker needs PostgreSQL (SQLite is one
/// instance's alone).
fn connect(config: &ServeConfig, database_url: &str) -> Result<Db, StartError> {
    let postgres = matches!(
        crate::db::DbUrl::parse(database_url)?,
        crate::db::DbUrl::Postgres(_)
    );
    if config.cluster.broker_url.is_some() && !postgres {
        return Err(StartError::BrokerWithSqlite);
    }
    let db = Db::connect(database_url, config.limits.db_pool_size.max(2))?;
    tracing::info!(database = %db.url().redacted(), "database connected");
    Ok(db)
}

/// Applies pending migrations and reads (or makes) the guest-token secret;
/// with `demo` (the public origin and port), makes sure the demo site exists.
/// Returns the secret and the demo site's public key.
async fn prepare_database(
    db: &Db,
    demo: Option<(Origin, u16)>,
) -> Result<(String, Option<String>), StartError> {
    let hint = first_admin_hint(db.url());
    let prepared = db
        .run(move |conn| -> Result<_, DbError> {
            for name in migrate::run_pending(conn)? {
                tracing::info!(migration = %name, "migration applied");
            }
            let secret =
                server_setting::get_or_init(conn, "guest_token_secret", || random_token(48))?;
            let demo = match demo {
                Some((origin, port)) => Some(ensure_demo_site(conn, &origin, port)?),
                None => None,
            };
            if AdminUser::count(conn)? == 0 {
                tracing::warn!("no admin account yet; create one with: {hint}");
            }
            Ok((secret, demo))
        })
        .await?;
    Ok(prepared)
}

fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "chatctl".into());
    format!("{host}:{}", std::process::id())
}

/// Announces the leaves whose grace period (`--presence-grace-ms`) is over,
/// at most a quarter of a second late.
async fn expire_leaves(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = every.tick() => hub.expire_leaves(std::time::Instant::now()),
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Periodic chores: forget rate-limiter state of quiet addresses, and close
/// connections of sites disabled meanwhile (possibly by `chatctl site disable`
/// in another process) and of participants banned by another server.
async fn housekeeping(chat: Arc<Chat>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    let mut ticks: u64 = 0;
    // From 0: the first ticks apply every active ban, which is right anyway
    // and leaves no window for a ban written while the server started.
    let mut last_ban = 0;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        ticks += 1;
        if ticks.is_multiple_of(12) {
            chat.ip_limiter.retain_recent();
            chat.new_guest_limiter.retain_recent();
            chat.quotas.retain_recent();
            chat.accounts.prune();
            purge_admin_sessions(&chat).await;
            prune_cluster_events(&chat).await;
        }
        let forget = ticks.is_multiple_of(12);
        if let Err(err) = chat
            .holds
            .maintain(&chat.db, &chat.hub.live_rooms(), forget)
            .await
        {
            tracing::warn!(error = %err, "housekeeping: cannot renew room holds");
        }
        let live: Vec<SiteId> = chat.hub.connections_by_site().into_keys().collect();
        if live.is_empty() {
            continue;
        }
        // Bans made elsewhere (another server on the same database) reach
        // this server's connections within one tick.
        match crate::moderation::bans::apply_new(&chat, last_ban).await {
            Ok(last) => last_ban = last,
            Err(err) => tracing::warn!(error = %err, "housekeeping: cannot check bans"),
        }
        match chat
            .db
            .run(move |conn| Site::disabled_among(conn, &live))
            .await
        {
            Ok(disabled) => {
                for site in disabled {
                    let closed = chat.hub.close_where(
                        |c| c.site == site,
                        CloseReason::SiteDisabled,
                        "This chat has been turned off by its owner.",
                        None,
                    );
                    tracing::info!(site = %site, closed, "site disabled: connections closed");
                }
            }
            Err(err) => tracing::warn!(error = %err, "housekeeping: cannot check sites"),
        }
    }
}

/// Changes every server applied long ago (see `moderation::remote`).
async fn prune_cluster_events(chat: &Chat) {
    let before = crate::db::now_ms() - 86_400_000;
    let pruned = chat
        .db
        .run(move |conn| crate::db::models::cluster_event::ClusterEvent::prune(conn, before))
        .await;
    if let Err(err) = pruned {
        tracing::warn!(error = %err, "housekeeping: cannot prune cluster events");
    }
}

/// Expired admin sessions are refused when used; this removes the rows.
async fn purge_admin_sessions(chat: &Chat) {
    // Generous bounds: the configured limits are enforced per request.
    let now = crate::db::now_ms();
    let (idle, absolute) = (now - 7 * 86_400_000, now - 30 * 86_400_000);
    let purged = chat
        .db
        .run(move |conn| {
            crate::db::models::admin_session::AdminSession::purge_expired(conn, idle, absolute)
        })
        .await;
    if let Err(err) = purged {
        tracing::warn!(error = %err, "housekeeping: cannot purge admin sessions");
    }
}

/// The built-in demo site, allowed for the local origins this server answers on.
fn ensure_demo_site(
    conn: &mut crate::db::DbConn,
    public_origin: &Origin,
    port: u16,
) -> Result<String, DbError> {
    let mut origins = vec![public_origin.clone()];
    for host in ["localhost", "127.0.0.1"] {
        if let Ok(origin) = Origin::parse(&format!("http://{host}:{port}")) {
            origins.push(origin);
        }
    }
    let site = match Site::find_demo(conn)? {
        Some(site) => site,
        None => {
            let site = Site::create(conn, "Demo", &[], true)?;
            tracing::info!(site = %site.public_key, "created the demo site");
            site
        }
    };
    for origin in &origins {
        site.add_origin(conn, origin)?;
    }
    Ok(site.public_key)
}
