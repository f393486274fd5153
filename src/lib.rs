//! chatctl: a self-hosted chat server that any website embeds with one `<script>` tag.
//!
//! Layers, each depending only on those below it:
//!
//! - [`cli`] — the `chatctl` command line (one file per subcommand).
//! - [`admin`] — the admin panel at `/admin`: sessions, CSRF, roles, Handlebars pages.
//! - [`app`] — assembles a running server from [`config`]: database, chat service, HTTP.
//! - [`http`] — the listener (hyper with timeouts and per-address caps) and warp filters:
//!   the WebSocket endpoint, widget assets, health and metrics.
//! - [`chat`] — the domain of live chat: wire protocol, rooms and fan-out (hub),
//!   the group-commit writer, per-connection sessions and rate limits.
//! - [`moderation`] — bans, mutes, deletions, room settings, word filters, reports,
//!   with their live effects on the chat.
//! - [`identity`] — guest tokens, host-verified users (JWT), registered accounts, passwords.
//! - [`mail`] — outgoing email (SMTP or an outbox folder) and visitor-facing templates.
//! - [`db`] — diesel models and queries on SQLite or PostgreSQL, embedded migrations.
//! - [`input`] — validated newtypes for everything users type (names, origins, keys).
//! - [`lang`] — the languages of the widget, emails and account pages.
//! - [`metrics`] — Prometheus counters and gauges.
//! - [`timefmt`] — UTC dates for pages, forms and exports.

pub mod admin;
pub mod app;
pub mod chat;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod identity;
pub mod input;
pub mod lang;
pub mod mail;
pub mod metrics;
pub mod moderation;
pub mod timefmt;
