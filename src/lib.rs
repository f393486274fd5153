//! chatctl: a self-hosted chat server that any website embeds with one `<script>` tag.
//!
//! Layers, from the top; each module imports only modules listed below it
//! (`tests/it/layers.rs` fails when one does not):
//!
//! - [`cli`] — the `chatctl` command line (one file per subcommand).
//! - [`app`] — assembles a running server from [`config`]: database, chat service, HTTP.
//! - [`http`] — the listener (hyper with timeouts and per-address caps), the WebSocket
//!   transport, the widget's assets, health and metrics, and the routes to the panel.
//! - [`admin`] — the admin panel at `/admin`: sessions, CSRF, roles, Handlebars pages.
//! - [`manage`] — sites and admin accounts, changed the same way (rules and audit
//!   entries) from the panel and the command line.
//! - [`moderation`] — bans, mutes, deletions, room settings, word filters, reports,
//!   with their live effects on the chat (and on other instances).
//! - [`chat`] — the domain of live chat: wire protocol, rooms and fan-out (hub),
//!   the group-commit writer, per-connection sessions and rate limits, and the
//!   cluster link between instances.
//! - [`identity`] — guest tokens, host-verified users (JWT), registered accounts, passwords.
//! - [`webhooks`] — outgoing webhooks: site endpoints, the outbox of deliveries written
//!   with the events, and their signed, retried sending.
//! - [`mail`] — outgoing email (SMTP or an outbox folder) and visitor-facing templates.
//! - [`db`] — diesel models and queries on SQLite or PostgreSQL, embedded migrations.
//! - Leaves, importing no other module of chatctl: [`input`] (validated newtypes for
//!   everything users type: names, origins, keys), [`config`], [`lang`] (the languages
//!   of the widget, emails and account pages), [`metrics`] (Prometheus counters and
//!   gauges), [`rate_limit`] (token buckets on one clock) and [`timefmt`] (UTC dates
//!   for pages, forms and exports).

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
pub mod manage;
pub mod metrics;
pub mod moderation;
pub mod rate_limit;
pub mod timefmt;
pub mod webhooks;
