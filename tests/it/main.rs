//! Integration tests: one binary (one link step) with a module per area.

mod accounts;
mod admission;
mod cli;
mod common;
mod identity;
mod input;
mod mailbox;
mod operations;
mod postgres;
mod rooms;
