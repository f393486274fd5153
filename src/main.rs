//! The `chatctl` binary: parses the command line and hands it to [`chatctl::cli`].

use std::io::Write;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = chatctl::cli::Cli::parse();
    match chatctl::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `chatctl ... | head -1`: the reader has what it wanted.
        Err(err) if chatctl::cli::output::is_closed(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Not eprintln!: it panics when stderr is closed too.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
