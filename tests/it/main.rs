//! Integration tests: one binary (one link step) with a module per area.

mod admission;
mod cli;
mod common;
mod input;
mod operations;
mod postgres;
mod rooms;
