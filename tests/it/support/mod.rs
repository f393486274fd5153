//! Test support: everything a test needs to start a real server and talk to
//! it, each written once.
//!
//! - [`app`]: [`TestApp`] and its builder (database, configuration, limits).
//! - [`cli`]: the `chatctl` binary on the test's database.
//! - [`api`]: the server API with a site's key.
//! - [`db`]: a fresh SQLite file or PostgreSQL database per test.
//! - [`fixtures`]: sites and admin accounts made directly in the database.
//! - [`client`]: a WebSocket [`Client`] speaking the chat protocol.
//! - [`close`]: the close codes by name (`close::BANNED`).
//! - [`jwt`]: tokens a host site signs for its users.
//! - [`wait`]: the frame timeout and one polling loop.
//! - [`panel`]: the admin panel over HTTP, with a cookie jar.
//! - [`mailbox`]: a real SMTP server that keeps what it receives.
//! - [`browser`]: headless Chromium and a host site on another origin;
//!   [`widget_page`]: a page embedding the widget and the script prelude.
//! - [`process`]: a real `chatctl serve` process, to kill and restart;
//!   [`flood`]: a sender that does not wait for its acks, to kill one under.
//! - [`receiver`]: a webhook receiver (HTTP on loopback) that keeps what it gets.
//! - [`room_quota`]: races on a site's quota of rooms in use.
//!
//! `use crate::support::*;` brings the everyday names; the other modules are
//! used by their name.

pub mod api;
pub mod app;
pub mod browser;
pub mod cli;
pub mod client;
pub mod close;
pub mod db;
pub mod fixtures;
pub mod flood;
pub mod jwt;
pub mod mailbox;
pub mod panel;
pub mod process;
pub mod receiver;
pub mod room_quota;
pub mod wait;
pub mod widget_page;

pub use app::{TestApp, ORIGIN};
pub use chatctl::db::models::site::SiteSettings;
pub use client::{texts, Client};
pub use db::{postgres_base_url, test_db, TestDb};
pub use fixtures::{ADMIN_PASSWORD, MEMBER_PASSWORD};
