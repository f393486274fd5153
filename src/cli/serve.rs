//! `chatctl serve`: runs the server until SIGTERM or Ctrl-C, then drains it.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Args;
use tracing_subscriber::EnvFilter;

use super::log_writer::LogOutput;
use super::Cli;
use crate::app::Application;
use crate::config::{LogFormat, ServeConfig};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  chatctl serve\n  \
    chatctl serve --bind 0.0.0.0:8080 --public-url https://chat.example.com\n  \
    CHATCTL_BIND=0.0.0.0:80 DATABASE_URL=postgres://chat:secret@db/chat chatctl serve\n\n\
    Logs: RUST_LOG=chatctl=debug for more detail.")]
pub struct Opts {
    #[command(flatten)]
    pub config: ServeConfig,
}

pub fn run(cli: &Cli, opts: &Opts) -> anyhow::Result<()> {
    init_logging(opts.config.log_format);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let app = Application::build(&opts.config, &cli.database_url()).await?;
        tracing::info!(addr = %app.addr(), "listening");
        app.run_until(shutdown_signal()).await;
        Ok(())
    })
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal, unless NO_COLOR (no-color.org) is set: log
    // files and collectors get plain text.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_writer(LogOutput::default())
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal() && !no_color);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
