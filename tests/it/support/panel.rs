//! Helpers for admin panel tests: accounts made directly in the database and a
//! cookie-keeping HTTP client that does not follow redirects (tests look at them).

use chatctl::db::models::{AdminUser, Role, SiteId};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::support::TestApp;

pub use crate::support::ADMIN_PASSWORD as PASSWORD;

/// Creates an admin account with [`PASSWORD`].
pub async fn account(app: &TestApp, email: &str, role: Role, sites: &[SiteId]) -> AdminUser {
    app.admin(email, role, sites).await
}

pub struct Page {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

pub struct Panel {
    pub http: reqwest::Client,
    base: String,
    /// The session's CSRF token, read from the last page that had a form.
    pub csrf: String,
}

/// The value of the first `name="csrf"` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')? + at;
    Some(html[at..end].to_owned())
}

impl Panel {
    pub fn new(app: &TestApp) -> Panel {
        Panel::at(app.http_url(""))
    }

    /// A client of the panel served at `base` (`http://HOST:PORT`), such as
    /// a `chatctl serve` process's.
    pub fn at(base: String) -> Panel {
        Panel::with(base, reqwest::Client::builder())
    }

    /// A client whose connections come from `ip`, another loopback address
    /// (standing for another visitor).
    pub fn from_address(app: &TestApp, ip: &str) -> Panel {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Panel::with(
            app.http_url(""),
            reqwest::Client::builder().local_address(ip),
        )
    }

    fn with(base: String, builder: reqwest::ClientBuilder) -> Panel {
        Panel {
            http: builder
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base,
            csrf: String::new(),
        }
    }

    /// A logged-in client.
    pub async fn login(app: &TestApp, email: &str) -> Panel {
        Panel::new(app).logged_in(email).await
    }

    /// Logs this client in as `email` (password [`PASSWORD`]).
    pub async fn logged_in(mut self, email: &str) -> Panel {
        let page = self.try_login(email, PASSWORD).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login failed: {}",
            page.body
        );
        let home = self.get("/admin").await;
        assert_eq!(home.status, StatusCode::OK);
        self
    }

    /// Creates the owner account `owner@example.com` and logs it in.
    pub async fn owner(app: &TestApp) -> Panel {
        app.admin("owner@example.com", Role::Owner, &[]).await;
        Panel::login(app, "owner@example.com").await
    }

    /// Creates the moderator account `mod@example.com` for `sites` and logs it in.
    pub async fn moderator(app: &TestApp, sites: &[SiteId]) -> Panel {
        app.admin("mod@example.com", Role::Moderator, sites).await;
        Panel::login(app, "mod@example.com").await
    }

    /// Fetches the login form, then posts the credentials.
    pub async fn try_login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        let token = csrf_in(&form.body).expect("login form has a csrf field");
        self.send_form(
            "/admin/login",
            &[("csrf", &token), ("email", email), ("password", password)],
        )
        .await
    }

    async fn read(response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            body,
            location,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let page = Self::read(response).await;
        if let Some(token) = csrf_in(&page.body) {
            if !path.starts_with("/admin/login") {
                self.csrf = token;
            }
        }
        page
    }

    /// Posts a form as given (no CSRF token added).
    pub async fn send_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        Self::read(response).await
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        all.extend_from_slice(fields);
        self.send_form(path, &all).await
    }

    /// Posts, follows the redirect, and returns the page it lands on (with its flash).
    pub async fn post_and_follow(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post(path, fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.body);
        let to = page.location.clone().unwrap();
        self.get(&to).await
    }
}
