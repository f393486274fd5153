//! The `chatctl` binary: parses the command line and hands it to [`chatctl::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = chatctl::cli::Cli::parse();
    match chatctl::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
