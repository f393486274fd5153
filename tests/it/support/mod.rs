//! Test support: everything a test needs to start a real server and talk to
//! it, each written once.
//!
//! - [`app`]: [`TestApp`] and its builder (database, configuration, limits).
//! - [`db`]: a fresh SQLite file or PostgreSQL database per test.
//! - [`fixtures`]: sites and admin accounts made directly in the database.
//! - [`client`]: a WebSocket [`Client`] speaking the chat protocol.
//! - [`close`]: the close codes by name (`close::BANNED`).
//! - [`jwt`]: tokens a host site signs for its users.
//! - [`wait`]: the frame timeout and one polling loop.
//!
//! `use crate::support::*;` brings the everyday names; `close` and `jwt` are
//! used by their module name.

pub mod app;
pub mod client;
pub mod close;
pub mod db;
pub mod fixtures;
pub mod jwt;
pub mod wait;

pub use app::{TestApp, ORIGIN};
pub use chatctl::db::models::site::SiteSettings;
pub use client::{texts, Client};
pub use db::{postgres_base_url, test_db, TestDb};
pub use fixtures::{ADMIN_PASSWORD, MEMBER_PASSWORD};
