//! Integration tests: one binary (one link step) with a module per area.

mod accounts;
mod admin_auth;
mod admin_browser;
mod admin_log;
mod admin_mail;
mod admin_moderation;
mod admin_roles;
mod admin_sites;
mod admin_xss;
mod admission;
mod browser;
mod cli;
mod common;
mod faults;
mod fuzz;
mod identity;
mod input;
mod mailbox;
mod operations;
mod panel;
mod postgres;
mod process;
mod rooms;
mod widget;
mod widget_assets;
mod widget_js;
