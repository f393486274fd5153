//! Several `chatctl serve` instances: a fresh PostgreSQL database for them, and
//! the broker they share (a `redis-server` started here, or one given by URL).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use diesel::{Connection, PgConnection, RunQueryDsl};

/// What `--broker-url` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerChoice {
    /// No broker: instances reach each other through the database (degraded mode).
    None,
    /// A `redis-server` started here on a free loopback port.
    Start,
    /// A running broker on loopback.
    Url(String),
}

impl BrokerChoice {
    /// `start`, `none` or a `redis://` URL on loopback. Without the flag: a
    /// broker of our own for several instances, none for one.
    pub fn parse(flag: Option<&str>, instances: u16) -> anyhow::Result<BrokerChoice> {
        match flag {
            None if instances > 1 => Ok(BrokerChoice::Start),
            None | Some("none") => Ok(BrokerChoice::None),
            Some("start") => Ok(BrokerChoice::Start),
            Some(url) => {
                let parsed = url::Url::parse(url)
                    .context("--broker-url: start, none or redis://HOST:PORT")?;
                let loopback = parsed
                    .socket_addrs(|| Some(6379))?
                    .iter()
                    .all(|a| a.ip().is_loopback());
                if !loopback {
                    bail!("the load generator only uses a broker on loopback, not {url}");
                }
                Ok(BrokerChoice::Url(url.to_owned()))
            }
        }
    }
}

/// A `redis-server` of the run's own, without persistence: a restart comes
/// back empty, like a crashed cache.
pub struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    pub async fn start() -> anyhow::Result<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let redis = Redis {
            child: Self::spawn(port)?,
            port,
        };
        redis.wait_ready().await?;
        Ok(redis)
    }

    fn spawn(port: u16) -> anyhow::Result<Child> {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (apt-get install redis-server)")
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("redis-server did not start on port {}", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: the broker vanishes with everything in flight.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts again, empty, on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = Self::spawn(self.port)?;
        self.wait_ready().await
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL database made for one run next to the one `--database-url`
/// names, dropped at the end: every run starts from empty tables.
pub struct FreshDb {
    base: String,
    name: String,
    pub url: String,
}

impl FreshDb {
    pub fn create(base: &str) -> anyhow::Result<FreshDb> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        let name = format!("loadgen_{}_{stamp}", std::process::id());
        let mut conn = PgConnection::establish(base).context("connect to --database-url")?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .context("create the run's database")?;
        let mut url = url::Url::parse(base)?;
        url.set_path(&format!("/{name}"));
        Ok(FreshDb {
            base: base.to_owned(),
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.base)
            .map_err(|e| anyhow!("{e}"))
            .and_then(|mut conn| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut conn)
                .map_err(|e| anyhow!("{e}"))
            });
        if let Err(e) = dropped {
            eprintln!("loadgen: could not drop database {}: {e}", self.name);
        }
    }
}

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
