//! The test harness's old entry points, kept while tests move to
//! [`crate::support`]: each spawn function is a [`TestApp::builder`] call.

use chatctl::config::{Limits, ServeConfig};

pub use crate::support::*;

pub async fn spawn_app() -> TestApp {
    TestApp::spawn().await
}

pub async fn spawn_app_with(tune: impl FnOnce(&mut Limits)) -> TestApp {
    TestApp::builder().limits(tune).spawn().await
}

/// Starts a server on an existing database (e.g. to restart one).
pub async fn spawn_on(database: TestDb, tune: impl FnOnce(&mut Limits)) -> TestApp {
    TestApp::builder()
        .database(database)
        .limits(tune)
        .spawn()
        .await
}

/// Starts a server with any configuration.
pub async fn spawn_configured(
    database: TestDb,
    configure: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    TestApp::builder()
        .database(database)
        .config(configure)
        .spawn()
        .await
}
