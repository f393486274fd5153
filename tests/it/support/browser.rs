//! Headless Chromium driven through chromedriver (Debian `chromium` and
//! `chromium-driver`), shared by the admin panel's and the widget's browser
//! tests. One chromedriver per test; each [`Browser::session`] is a separate
//! browser with its own profile (its own storage: another visitor).
//!
//! Without chromedriver, [`Browser::start`] prints SKIPPED and the test
//! passes, except under `CI=true` where it fails. With
//! `CHATCTL_SCREENSHOTS=DIR`, [`screenshot`] saves PNGs there.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One browser session: a visitor's browser, with its own profile.
pub type Session = Client;

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process; ends it with every browser it started (and removes
/// the profiles) when dropped, even when the test fails before closing its
/// sessions.
pub struct Browser {
    child: Child,
    port: u16,
    profiles: Mutex<Vec<tempfile::TempDir>>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, which its browsers join:
        // killing the group leaves no orphaned Chromium behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a session's window looks like.
#[derive(Clone, Copy)]
pub enum Screen {
    Desktop,
    /// A phone (390×844, touch, mobile user agent) through Chrome's emulation.
    Phone,
    /// A small phone (360×740, touch), the narrowest common width.
    SmallPhone,
}

impl Browser {
    /// Starts chromedriver, or returns `None` (after saying so loudly) when it is missing.
    pub fn start(test: &str) -> Option<Browser> {
        let Some(binary) = chromedriver() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("chromedriver is missing on CI: apt-get install chromium chromium-driver");
            }
            eprintln!("\n*** SKIPPED {test}: chromedriver not found (apt-get install chromium chromium-driver) ***\n");
            return None;
        };
        let port = free_port();
        let child = Command::new(binary)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Some(Browser {
            child,
            port,
            profiles: Mutex::new(Vec::new()),
        })
    }

    /// A new browser session with a fresh profile.
    pub async fn session(&self, screen: Screen) -> Client {
        self.session_in(screen, None).await
    }

    /// A session whose browser prefers these languages (e.g. `de-DE,de`).
    pub async fn session_in(&self, screen: Screen, languages: Option<&str>) -> Client {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({"binary": "/usr/bin/chromium"});
        match screen {
            Screen::Desktop => args.push("--window-size=1280,900".into()),
            Screen::Phone | Screen::SmallPhone => {
                let (width, height) = match screen {
                    Screen::Phone => (390, 844),
                    _ => (360, 740),
                };
                options["mobileEmulation"] = json!({
                    "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true},
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
                });
            }
        }
        if let Some(languages) = languages {
            options["prefs"] = json!({"intl.accept_languages": languages});
        }
        options["args"] = json!(args);
        self.profiles.lock().unwrap().push(profile);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{}", self.port);
        let started = Instant::now();
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return client,
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(err) => panic!("cannot start a browser session: {err}"),
            }
        }
    }
}

/// Runs a page script and returns its value.
pub async fn js(browser: &Client, script: &str) -> Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
}

/// Polls a page script until it returns `true`.
pub async fn wait_for(browser: &Client, what: &str, script: &str) {
    let started = Instant::now();
    loop {
        if js(browser, script).await == json!(true) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types keys into whatever has the focus, as a keyboard would.
pub async fn press(browser: &Client, keys: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    browser.perform_actions(actions).await.unwrap();
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (warp::http::Method, Option<String>) {
        (warp::http::Method::POST, Some(self.0.to_string()))
    }
}

/// Emulates CSS media features, e.g. `[("prefers-color-scheme", "dark")]`.
pub async fn emulate_media(browser: &Client, features: &[(&str, &str)]) {
    let features: Vec<Value> = features
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    browser
        .issue_cmd(Cdp(
            json!({"cmd": "Emulation.setEmulatedMedia", "params": {"features": features}}),
        ))
        .await
        .unwrap();
}

/// Saves a PNG of the window under `$CHATCTL_SCREENSHOTS`, if set.
pub async fn screenshot(browser: &Client, name: &str) {
    let Ok(dir) = std::env::var("CHATCTL_SCREENSHOTS") else {
        return;
    };
    let png = browser.screenshot().await.unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
}

/// Path → (content type, Cache-Control, body).
type Files = Arc<Mutex<HashMap<String, (&'static str, &'static str, Vec<u8>)>>>;

/// A web server for the pages that embed the widget: another origin than the
/// chat server, as on a real site. Serves the page registered for a path.
pub struct HostSite {
    pub addr: SocketAddr,
    pages: Files,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostSite {
    pub async fn start() -> HostSite {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pages: Files = Arc::default();
        let served = pages.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let pages = served.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&request);
                    let path = head.split(' ').nth(1).unwrap_or("/");
                    let path = path.split('?').next().unwrap_or("/").to_owned();
                    let page = pages.lock().unwrap().get(&path).cloned();
                    let response = match page {
                        Some((content_type, cache, body)) => {
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: {cache}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(&body);
                            r
                        }
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        HostSite { addr, pages, task }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn page(&self, path: &str, html: String) {
        self.file(path, "text/html; charset=utf-8", html.into_bytes());
    }

    /// A page the browser may keep in its back/forward cache (Chromium never keeps
    /// a `no-store` page there).
    pub fn cacheable_page(&self, path: &str, html: String) {
        self.pages.lock().unwrap().insert(
            path.to_owned(),
            ("text/html; charset=utf-8", "no-cache", html.into_bytes()),
        );
    }

    pub fn file(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.pages
            .lock()
            .unwrap()
            .insert(path.to_owned(), (content_type, "no-store", body));
    }
}
