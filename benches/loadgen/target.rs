//! The server under test: one started in this process, a `chatctl serve`
//! child process, or any running chatctl given by URL.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use chatctl::app::Application;
use chatctl::config::{AdminConfig, LogFormat, MailConfig, ServeConfig};
use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::Site;
use chatctl::input::Origin;

use crate::cluster::{is_postgres, BrokerChoice, FreshDb, Redis};
use crate::Opts;
pub use serve::load_limits;
use serve::serve_command;

mod serve;

/// The origin load-generator connections claim; sites created here allow it.
pub const ORIGIN: &str = "http://loadgen.invalid";

/// One `chatctl serve` of the run.
pub struct Instance {
    pub addr: SocketAddr,
    /// Its process, for memory and CPU (`None` for a remote server).
    pub pid: Option<u32>,
}

/// What the scenarios talk to.
pub struct Target {
    /// Every instance, the first one first.
    pub instances: Vec<Instance>,
    /// The `redis-server` this run started, to report and to restart.
    pub redis: Option<Arc<tokio::sync::Mutex<Redis>>>,
    /// The broker the instances share, if any.
    pub broker_url: Option<String>,
    /// Site keys to spread connections over (at least one).
    pub sites: Vec<String>,
    pub origin: String,
    /// Process whose memory and CPU are reported (`None` for a remote server).
    pub server_pid: Option<u32>,
    pub kind: &'static str,
    keep: Keep,
}

enum Keep {
    Nothing,
    InProcess {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
        _dirs: (
            (Option<tempfile::TempDir>, Option<FreshDb>),
            tempfile::TempDir,
        ),
    },
    Children {
        children: Vec<Child>,
        /// To start an instance again after a kill.
        database_url: String,
        broker_url: Option<String>,
        _dir: Option<tempfile::TempDir>,
        /// Dropped after the children have stopped.
        _db: Option<FreshDb>,
    },
}

impl Target {
    pub async fn open(opts: &Opts, sites: usize) -> anyhow::Result<Target> {
        let broker = BrokerChoice::parse(opts.broker_url.as_deref(), opts.instances)?;
        if let Some(url) = &opts.url {
            if opts.instances > 1 || broker != BrokerChoice::None {
                bail!("--instances and --broker-url are for servers started here, not --url");
            }
            return external(opts, url, sites);
        }
        let (database_url, dir, fresh) = match &opts.database_url {
            Some(url) if is_postgres(url) => {
                let fresh = FreshDb::create(url)?;
                (fresh.url.clone(), None, Some(fresh))
            }
            Some(url) => (url.clone(), None, None),
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("loadgen.db").display());
                (url, Some(dir), None)
            }
        };
        if opts.in_process {
            if opts.instances > 1 || broker != BrokerChoice::None {
                bail!("--instances and --broker-url need spawned servers, not --in-process");
            }
            return in_process(opts, database_url, (dir, fresh), sites).await;
        }
        if broker != BrokerChoice::None && fresh.is_none() {
            bail!("--instances and --broker-url need --database-url postgres://...");
        }
        let (redis, broker_url) = match broker {
            BrokerChoice::None => (None, None),
            BrokerChoice::Url(url) => (None, Some(url)),
            BrokerChoice::Start => {
                let redis = Redis::start().await?;
                let url = redis.url();
                (Some(redis), Some(url))
            }
        };
        let mut target = spawn(opts, database_url, (dir, fresh), broker_url, sites).await?;
        target.redis = redis.map(|r| Arc::new(tokio::sync::Mutex::new(r)));
        Ok(target)
    }

    /// The processes to measure: every instance, then the broker started here.
    pub async fn pids(&self) -> (Vec<u32>, Option<u32>) {
        let servers = self.instances.iter().filter_map(|i| i.pid).collect();
        let redis = match &self.redis {
            Some(r) => Some(r.lock().await.pid()),
            None => None,
        };
        (servers, redis)
    }

    /// Kills instance `n` with SIGKILL (no drain: a crash, an OOM kill, a
    /// host reboot) and starts it again on the same address and database.
    /// Returns once the new process is spawned, before it listens: clients
    /// find out by retrying, as they would in production.
    pub fn kill_and_restart(&mut self, n: usize, opts: &Opts) -> anyhow::Result<u32> {
        let Keep::Children {
            children,
            database_url,
            broker_url,
            ..
        } = &mut self.keep
        else {
            bail!("only a server started here as a child process can be killed and restarted");
        };
        let child = children
            .get_mut(n)
            .ok_or_else(|| anyhow!("no instance {n}"))?;
        child.kill()?;
        child.wait()?;
        let addr = self.instances[n].addr;
        *child = serve_command(opts, database_url, addr, broker_url.as_deref(), n)
            .spawn()
            .context("cannot start chatctl serve again")?;
        let pid = child.id();
        self.instances[n].pid = Some(pid);
        if n == 0 {
            self.server_pid = Some(pid);
        }
        Ok(pid)
    }

    /// Stops what this process started.
    pub async fn close(self) {
        match self.keep {
            Keep::Nothing => {}
            Keep::InProcess { stop, task, .. } => {
                let _ = stop.send(());
                let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
            }
            Keep::Children { mut children, .. } => {
                // SIGTERM lets them drain like in production; then make sure they are gone.
                for child in &children {
                    let _ = Command::new("kill").arg(child.id().to_string()).status();
                }
                for _ in 0..100 {
                    if children
                        .iter_mut()
                        .all(|c| matches!(c.try_wait(), Ok(Some(_))))
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                for child in &mut children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

fn external(opts: &Opts, url: &str, sites: usize) -> anyhow::Result<Target> {
    let parsed = url::Url::parse(url).context("--url must look like ws://HOST:PORT")?;
    let addr = parsed
        .socket_addrs(|| Some(80))?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {url}"))?;
    if !addr.ip().is_loopback() {
        bail!("the load generator only targets loopback addresses, not {addr}");
    }
    let mut keys = opts.site.clone();
    if keys.is_empty() {
        let Some(db) = &opts.database_url else {
            bail!("with --url, give --site KEY (and --origin), or --database-url to create sites through the chatctl CLI");
        };
        for i in 0..sites {
            keys.push(cli_site(opts, db, i)?);
        }
    }
    Ok(Target {
        instances: vec![Instance {
            addr,
            pid: opts.server_pid,
        }],
        redis: None,
        broker_url: None,
        sites: keys,
        origin: opts.origin.clone().unwrap_or_else(|| ORIGIN.to_owned()),
        server_pid: opts.server_pid,
        kind: "external",
        keep: Keep::Nothing,
    })
}

async fn in_process(
    opts: &Opts,
    database_url: String,
    dirs: (Option<tempfile::TempDir>, Option<FreshDb>),
    sites: usize,
) -> anyhow::Result<Target> {
    // Mail is not exercised by load runs; an outbox folder keeps it local.
    let outbox = tempfile::tempdir()?;
    let config = ServeConfig {
        bind: "127.0.0.1:0".parse()?,
        public_url: None,
        log_format: LogFormat::Human,
        no_demo: true,
        trusted_proxies: Vec::new(),
        metrics_bind: None,
        presence_grace_ms: chatctl::config::DEFAULT_PRESENCE_GRACE_MS,
        mail: MailConfig {
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "loadgen <loadgen@localhost>".into(),
            outbox_dir: outbox.path().to_owned(),
        },
        limits: load_limits(opts),
        admin: AdminConfig::default(),
        cluster: chatctl::config::ClusterArgs::default(),
        api: chatctl::config::ApiConfig::default(),
        webhooks: chatctl::config::WebhookConfig::default(),
    };
    let app = Application::build(&config, &database_url).await?;
    let addr = app.addr();
    let db = app.state().chat.db.clone();
    let mut keys = Vec::new();
    for i in 0..sites {
        let origin = Origin::parse(ORIGIN).map_err(|e| anyhow!("{e}"))?;
        let site = db
            .run(move |conn| -> Result<_, chatctl::db::DbError> {
                let site = Site::create(conn, &format!("loadgen {i}"), &[origin], false)?;
                let settings = SiteSettings {
                    max_message_chars: Some(16_000),
                    max_rooms: Some(100_000),
                    ..SiteSettings::default()
                };
                settings.apply(conn, site.id)?;
                Ok(site)
            })
            .await?;
        keys.push(site.public_key);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Ok(Target {
        instances: vec![Instance {
            addr,
            pid: Some(std::process::id()),
        }],
        redis: None,
        broker_url: None,
        sites: keys,
        origin: ORIGIN.to_owned(),
        server_pid: Some(std::process::id()),
        kind: "in-process",
        keep: Keep::InProcess {
            stop,
            task,
            _dirs: (dirs, outbox),
        },
    })
}

/// The `chatctl` binary built alongside this bench.
fn chatctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_chatctl")
}

/// Creates a site with the CLI, the way an operator would, and raises its limits.
fn cli_site(_opts: &Opts, database_url: &str, i: usize) -> anyhow::Result<String> {
    let out = Command::new(chatctl_bin())
        .args(["--database-url", database_url, "site", "create", "--json"])
        .args(["--name", &format!("loadgen {i}"), "--origin", ORIGIN])
        .output()
        .context("cannot run chatctl site create")?;
    if !out.status.success() {
        bail!(
            "chatctl site create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let created: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let key = created["public_key"]
        .as_str()
        .ok_or_else(|| anyhow!("no public_key in {created}"))?
        .to_owned();
    let status = Command::new(chatctl_bin())
        .args(["--database-url", database_url, "site", "set", &key])
        .args(["--max-message-chars", "16000", "--max-rooms", "100000"])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("chatctl site set failed");
    }
    Ok(key)
}

async fn spawn(
    opts: &Opts,
    database_url: String,
    (dir, db): (Option<tempfile::TempDir>, Option<FreshDb>),
    broker_url: Option<String>,
    sites: usize,
) -> anyhow::Result<Target> {
    // Migrates the database, so the instances below find it ready.
    let keys = (0..sites)
        .map(|i| cli_site(opts, &database_url, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut children = Vec::new();
    let mut instances = Vec::new();
    let mut started = Ok(());
    for n in 0..opts.instances.max(1) {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let child = serve_command(
            opts,
            &database_url,
            addr,
            broker_url.as_deref(),
            usize::from(n),
        )
        .spawn()
        .context("cannot start chatctl serve")?;
        instances.push(Instance {
            addr,
            pid: Some(child.id()),
        });
        children.push(child);
        // One at a time: each must be listening, and done with its start-up
        // work, before the next starts.
        started = match listening(addr).await {
            Ok(()) => warm(addr).await,
            Err(e) => Err(e),
        };
        if started.is_err() {
            break;
        }
    }
    let target_broker = broker_url.clone();
    let target = Target {
        server_pid: instances[0].pid,
        instances,
        redis: None,
        broker_url,
        sites: keys,
        origin: ORIGIN.to_owned(),
        kind: "spawned",
        keep: Keep::Children {
            children,
            database_url,
            broker_url: target_broker,
            _dir: dir,
            _db: db,
        },
    };
    if let Err(e) = started {
        target.close().await;
        return Err(e);
    }
    Ok(target)
}

pub async fn listening(addr: SocketAddr) -> anyhow::Result<()> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("chatctl serve did not start listening on {addr}")
}

/// Waits until the server has built its widget bundle (gzip with Zopfli:
/// about 1.5 CPU-seconds on this machine, in a background thread started with
/// the server), so that start-up work is not counted as the cost of the load.
async fn warm(addr: SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /widget.js HTTP/1.1\r\nHost: loadgen\r\nConnection: close\r\n\r\n")
        .await?;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut reply))
        .await
        .context("the widget bundle took over 60 s")??;
    if !reply.starts_with(b"HTTP/1.1 200") {
        bail!(
            "GET /widget.js: {}",
            String::from_utf8_lossy(&reply[..reply.len().min(80)])
        );
    }
    Ok(())
}
