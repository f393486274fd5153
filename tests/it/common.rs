//! Test harness: a real server on port 0 with a fresh database, and real
//! WebSocket clients over TCP.
//!
//! The database is a fresh SQLite file per test, or, when `DATABASE_URL` names a
//! PostgreSQL server, a fresh database created on it per test.

use std::net::SocketAddr;
use std::time::Duration;

use chatctl::app::Application;
use chatctl::config::{Limits, MailConfig, ServeConfig};
pub use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::Site;
use chatctl::db::Db;
use chatctl::input::Origin;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ORIGIN: &str = "https://site-a.example";
const WAIT: Duration = Duration::from_secs(10);

/// A database for one test. It lives as long as this value: the SQLite
/// directory is removed, and the PostgreSQL database dropped, with it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server to connect to and the database to drop.
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        let Some((base, name)) = self.pg.take() else {
            return;
        };
        // FORCE ends the connections a server under test may still hold.
        let dropped = match diesel::PgConnection::establish(&base) {
            Ok(mut admin) => {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(err) = dropped {
            eprintln!("could not drop test database {name}: {err}");
        }
    }
}

pub fn postgres_base_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

pub fn test_db() -> TestDb {
    match postgres_base_url() {
        Some(base) => {
            use diesel::{Connection, RunQueryDsl};
            let name = format!(
                "chatctl_test_{}",
                chatctl::input::random_token(12).to_lowercase()
            );
            let mut admin = diesel::PgConnection::establish(&base)
                .expect("connect to the PostgreSQL in DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .expect("create test database");
            let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
            url.set_path(&name);
            TestDb {
                url: url.to_string(),
                _dir: None,
                pg: Some((base, name)),
            }
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("chatctl.db").display());
            TestDb {
                url,
                _dir: Some(dir),
                pg: None,
            }
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub state: chatctl::http::AppState,
    _outbox: tempfile::TempDir,
    pub database: TestDb,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tune: impl FnOnce(&mut Limits)) -> TestApp {
    let database = test_db();
    spawn_on(database, tune).await
}

/// Starts a server on an existing database (e.g. to restart one).
pub async fn spawn_on(database: TestDb, tune: impl FnOnce(&mut Limits)) -> TestApp {
    spawn_configured(database, |config| tune(&mut config.limits)).await
}

/// Starts a server with any configuration; mail goes to a fresh outbox folder
/// unless the test points it at an SMTP server.
pub async fn spawn_configured(
    database: TestDb,
    configure: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("chatctl=debug")
            .with_test_writer()
            .try_init();
    }
    let outbox = tempfile::tempdir().expect("temp dir");
    let mut config = ServeConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        log_format: chatctl::config::LogFormat::Human,
        no_demo: false,
        trusted_proxies: Vec::new(),
        metrics_bind: None,
        mail: MailConfig {
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "chatctl <chat@test.example>".into(),
            outbox_dir: outbox.path().to_owned(),
        },
        limits: Limits::default(),
        admin: chatctl::config::AdminConfig::default(),
        cluster: chatctl::config::ClusterArgs::default(),
    };
    configure(&mut config);
    let app = Application::build(&config, &database.url)
        .await
        .expect("server starts");
    let addr = app.addr();
    let db = app.state().chat.db.clone();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        db,
        state,
        database,
        _outbox: outbox,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Creates a site allowed for `origins`.
    pub async fn site(&self, origins: &[&str]) -> Site {
        let origins: Vec<Origin> = origins.iter().map(|o| Origin::parse(o).unwrap()).collect();
        self.db
            .run(move |conn| Site::create(conn, "Test site", &origins, false))
            .await
            .unwrap()
    }

    /// Changes a site's settings, as `chatctl site set` would.
    pub async fn configure_site(&self, site: &Site, settings: SiteSettings) {
        let id = site.id;
        self.db
            .run(move |conn| settings.apply(conn, id))
            .await
            .unwrap();
    }

    /// Creates a site allowed for `origins` where visitors may register.
    pub async fn site_with_registration(&self, origins: &[&str]) -> Site {
        let site = self.site(origins).await;
        let settings = SiteSettings {
            registration_allowed: Some(true),
            ..Default::default()
        };
        self.configure_site(&site, settings).await;
        site
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

    /// A connection whose socket receive buffer is tiny, so that when it stops
    /// reading, the server's queue for it fills quickly.
    pub async fn connect_small_buffer(&self, site_key: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        let mut request = self.ws_url(site_key).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", ORIGIN.parse().unwrap());
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade accepted");
        Client { ws }
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

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        std::mem::replace(
            &mut self.database,
            TestDb {
                url: String::new(),
                _dir: None,
                pg: None,
            },
        )
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How the server ended a connection.
#[derive(Debug)]
pub struct Closed {
    pub code: Option<u16>,
    pub notice: Option<Value>,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send raw frame");
    }

    /// Next JSON frame (control frames skipped); panics on timeout or close.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("frame within timeout");
            match msg {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("server sends JSON")
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Asserts that no text frame arrives within `wait` (pings do not end the wait).
    pub async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Text(text) = message {
                panic!("expected no frame, got {text}");
            }
        }
    }

    /// Reads until the server closes; returns the close code and any notice before it.
    pub async fn closed(&mut self) -> Closed {
        let mut notice = None;
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within timeout")
            {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "notice" {
                        notice = Some(frame);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Closed {
                        code: frame.map(|f| u16::from(f.code)),
                        notice,
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Closed { code: None, notice },
            }
        }
    }

    pub async fn hello(&mut self, fields: Value) -> Value {
        let mut frame = json!({"type": "hello", "v": 1});
        frame
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.send(frame).await;
        self.recv().await
    }

    pub async fn join(&mut self, room: &str, since: Option<i64>) -> Value {
        let mut frame = json!({"type": "join", "room": room});
        if let Some(since) = since {
            frame["since"] = json!(since);
        }
        self.send(frame).await;
        self.recv_type("welcome").await
    }

    /// Sends a message and returns its ack.
    pub async fn say(&mut self, room: &str, cid: &str, text: &str) -> Value {
        self.send(json!({"type": "send", "room": room, "cid": cid, "text": text}))
            .await;
        let reply = self.recv_type_any(&["ack", "error"]).await;
        assert_eq!(reply["type"], "ack", "send refused: {reply}");
        reply
    }

    pub async fn recv_type_any(&mut self, kinds: &[&str]) -> Value {
        loop {
            let frame = self.recv().await;
            if kinds.iter().any(|k| frame["type"] == *k) {
                return frame;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}

/// Message texts in a welcome/history frame, in order.
pub fn texts(frame: &Value) -> Vec<String> {
    frame["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}
