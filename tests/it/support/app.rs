//! [`TestApp`]: a real server on port 0 with a fresh database, started by one
//! builder whatever the test needs to change.
//!
//! ```ignore
//! let app = TestApp::spawn().await;                                  // defaults
//! let app = TestApp::builder().limits(|l| l.resume_cap = 3).spawn().await;
//! let app = TestApp::builder()
//!     .database(old.stop().await)                                    // a restart
//!     .config(|c| c.public_url = Some("https://chat.example".into()))
//!     .spawn()
//!     .await;
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use chatctl::app::Application;
use chatctl::config::{
    AdminConfig, ApiConfig, ClusterArgs, Limits, LogFormat, MailConfig, ServeConfig, WebhookConfig,
};
use chatctl::db::Db;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::MaybeTlsStream;

use super::client::{Client, Closed};
use super::db::TestDb;

/// The origin tests connect from; `app.site(&[ORIGIN])` allows it.
pub const ORIGIN: &str = "https://site-a.example";

type Tune<'a> = Box<dyn FnOnce(&mut ServeConfig) + 'a>;

/// A running server. Dropping it stops it; [`TestApp::stop`] stops it
/// gracefully and hands back its database (to start another server on it).
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub state: chatctl::http::AppState,
    _outbox: tempfile::TempDir,
    pub database: TestDb,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What to start: the database (a fresh one unless given) and changes to the
/// default configuration, applied in order.
#[must_use = "nothing starts until .spawn().await"]
pub struct TestAppBuilder<'a> {
    database: Option<TestDb>,
    tunes: Vec<Tune<'a>>,
}

impl<'a> TestAppBuilder<'a> {
    /// Starts on this database instead of a fresh one (e.g. to restart a server).
    pub fn database(mut self, database: TestDb) -> Self {
        self.database = Some(database);
        self
    }

    /// Changes the server's configuration.
    pub fn config(mut self, tune: impl FnOnce(&mut ServeConfig) + 'a) -> Self {
        self.tunes.push(Box::new(tune));
        self
    }

    /// Changes the server's limits.
    pub fn limits(self, tune: impl FnOnce(&mut Limits) + 'a) -> Self {
        self.config(|config| tune(&mut config.limits))
    }

    /// Lets up to a hundred visitors connect and say hello from one address
    /// (the test's), as a crowd of different people would.
    pub fn crowd_from_one_address(self) -> Self {
        self.limits(|l| {
            l.max_connections_per_ip = 100;
            l.new_guests_per_ip_per_minute = 100;
        })
    }

    /// Raises every message rate limit (per connection, per address, per
    /// participant) to `per_second` with an equal burst: for tests that post
    /// many messages from one address, as a load of visitors would.
    pub fn messages_unthrottled(self, per_second: u32) -> Self {
        self.limits(move |l| {
            l.messages_per_second = per_second;
            l.message_burst = per_second;
            l.ip_messages_per_second = per_second;
            l.ip_message_burst = per_second;
            l.participant_messages_per_second = per_second;
            l.participant_message_burst = per_second;
        })
    }

    /// Changes the server API's settings.
    pub fn api(self, tune: impl FnOnce(&mut ApiConfig) + 'a) -> Self {
        self.config(|config| tune(&mut config.api))
    }

    /// Changes the webhook settings (tests start from [`test_webhooks`]).
    pub fn webhooks(self, tune: impl FnOnce(&mut WebhookConfig) + 'a) -> Self {
        self.config(|config| tune(&mut config.webhooks))
    }

    /// Sends mail through this SMTP server instead of into the outbox folder.
    pub fn smtp(self, url: String) -> Self {
        self.config(move |config| config.mail.smtp_url = Some(url))
    }

    pub async fn spawn(self) -> TestApp {
        init_test_log();
        let database = self.database.unwrap_or_else(TestDb::new);
        let outbox = tempfile::tempdir().expect("temp dir");
        let mut config = default_config(&outbox);
        for tune in self.tunes {
            tune(&mut config);
        }
        let app = Application::build(&config, &database.url)
            .await
            .expect("server starts");
        let (addr, state) = (app.addr(), app.state().clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            db: state.chat.db.clone(),
            state,
            database,
            _outbox: outbox,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// Server logs in the test output, only when `TEST_LOG` is set.
fn init_test_log() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("chatctl=debug")
            .with_test_writer()
            .try_init();
    }
}

/// Port 0 on loopback, default limits, and mail into a fresh outbox folder.
fn default_config(outbox: &tempfile::TempDir) -> ServeConfig {
    ServeConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        log_format: LogFormat::Human,
        no_demo: false,
        trusted_proxies: Vec::new(),
        metrics_bind: None,
        // Leaves at once, as most tests expect; the grace period's own tests set it.
        presence_grace_ms: 0,
        mail: MailConfig {
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "chatctl <chat@test.example>".into(),
            outbox_dir: outbox.path().to_owned(),
        },
        limits: Limits::default(),
        admin: AdminConfig::default(),
        cluster: ClusterArgs::default(),
        api: ApiConfig::default(),
        webhooks: test_webhooks(),
    }
}

/// Webhooks as tests need them: receivers on loopback allowed, and retries
/// after 100 ms (doubling) instead of 10 s, so that retry tests take moments.
pub fn test_webhooks() -> WebhookConfig {
    WebhookConfig {
        webhook_allow_private: true,
        webhook_timeout_secs: 5,
        webhook_retry_base_ms: 100,
        ..WebhookConfig::default()
    }
}

impl TestApp {
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder {
            database: None,
            tunes: Vec::new(),
        }
    }

    /// A server with the defaults on a fresh database.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    pub fn ws_url(&self, site_key: &str) -> String {
        format!("ws://{}/ws?site={site_key}", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens a WebSocket; on refusal returns the HTTP status and JSON body.
    pub async fn try_connect(
        &self,
        site_key: &str,
        origin: Option<&str>,
    ) -> Result<Client, (u16, Value)> {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        self.try_connect_with(site_key, &headers).await
    }

    /// The upgrade's refusal of `site_key` from `origin`: HTTP status and JSON
    /// body (panics if the upgrade is accepted).
    pub async fn refusal(&self, site_key: &str, origin: Option<&str>) -> (u16, Value) {
        self.try_connect(site_key, origin)
            .await
            .err()
            .unwrap_or_else(|| panic!("{site_key} from {origin:?} must be refused"))
    }

    /// Opens a WebSocket with these request headers; on refusal returns the
    /// HTTP status and JSON body.
    pub async fn try_connect_with(
        &self,
        site_key: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, (u16, Value)> {
        let mut request = self.ws_url(site_key).into_client_request().unwrap();
        for (name, value) in headers {
            let name: tokio_tungstenite::tungstenite::http::HeaderName = name.parse().unwrap();
            request.headers_mut().append(name, value.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
                    .unwrap_or(Value::Null);
                Err((status, body))
            }
            Err(other) => panic!("connect failed: {other}"),
        }
    }

    /// A connection from [`ORIGIN`] over a socket the test set up (its own
    /// buffer size, its own source address).
    pub async fn connect_over(&self, stream: tokio::net::TcpStream, site_key: &str) -> Client {
        let mut request = self.ws_url(site_key).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", ORIGIN.parse().unwrap());
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade accepted");
        Client { ws }
    }

    /// A connection whose socket receive buffer is tiny, so that when it stops
    /// reading, the server's queue for it fills quickly.
    pub async fn connect_small_buffer(&self, site_key: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        self.connect_over(stream, site_key).await
    }

    pub async fn connect(&self, site_key: &str) -> Client {
        self.try_connect(site_key, Some(ORIGIN))
            .await
            .expect("upgrade accepted")
    }

    /// A connected guest that said hello; returns the client and its `ready` frame.
    pub async fn guest(&self, site_key: &str, nick: &str) -> (Client, Value) {
        let mut client = self.connect(site_key).await;
        let ready = client.hello(json!({"nick": nick})).await;
        (client, ready)
    }

    /// A guest that said hello and joined `room`; returns the client and its
    /// `ready` frame (the `welcome` is read and dropped).
    pub async fn guest_in(&self, site_key: &str, nick: &str, room: &str) -> (Client, Value) {
        let (mut client, ready) = self.guest(site_key, nick).await;
        client.join(room, None).await;
        (client, ready)
    }

    /// A guest coming back with `guest_token` who is turned away: says hello
    /// and returns how the server closed the connection.
    pub async fn returning_guest_closed(&self, site_key: &str, guest_token: &str) -> Closed {
        let mut again = self.connect(site_key).await;
        again
            .send(json!({"type": "hello", "v": 1, "guest_token": guest_token}))
            .await;
        again.closed().await
    }

    /// Stops the server gracefully, waits until it has, and returns its database.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        TestDb::take(&mut self.database)
    }
}
