//! The server API as a site's backend calls it: API keys made through the
//! service, and a client that sends `Authorization: Bearer <key>` and reads
//! every answer as status and JSON.

use chatctl::db::models::audit::Actor;
use chatctl::db::models::{Scope, Site};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TestApp;

/// A key of `site` with these scopes, as `chatctl site api-key create` makes it.
pub async fn key(app: &TestApp, site: &Site, name: &str, scopes: &[Scope]) -> String {
    let (site, name, scopes) = (site.clone(), name.to_owned(), scopes.to_vec());
    app.db
        .run(move |conn| {
            chatctl::manage::api_keys::create(conn, Actor::CommandLine, &site, &name, &scopes)
        })
        .await
        .unwrap()
        .secret
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    pub key: Option<String>,
}

/// An answer: status, headers and the body as JSON (`null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a refusal: this `status`, this error `code` and a message (`case`, when not
    /// empty, says which case of a table it was).
    #[track_caller]
    pub fn assert_refused(&self, status: StatusCode, code: &str, case: impl std::fmt::Display) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(code)),
            "{case}: {}",
            self.body
        );
        let message = self.body["message"].as_str();
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "{case}: {}",
            self.body
        );
    }
}

impl Api {
    pub fn new(app: &TestApp, key: Option<&str>) -> Api {
        Api::at(app.addr, key)
    }

    /// A client of the server listening on `addr` (another instance's).
    pub fn at(addr: std::net::SocketAddr, key: Option<&str>) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{addr}/api/v1"),
            key: key.map(str::to_owned),
        }
    }

    /// A client with a new key of `site` that has every scope.
    pub async fn full(app: &TestApp, site: &Site) -> Api {
        let key = key(app, site, "backend", &Scope::ALL).await;
        Api::new(app, Some(&key))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::read(req).await
    }

    pub async fn read(req: reqwest::RequestBuilder) -> Answer {
        let response = req.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A raw request to `/api/v1{path}` with this key, to shape by hand.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }
}
