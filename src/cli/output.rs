//! What commands print on stdout. `println!` panics when the reader has gone
//! (`chatctl site list | head -1` closes the pipe after one line, and Rust
//! ignores SIGPIPE, so the next write fails with EPIPE); here that ends the
//! command quietly, as the reader meant it to. Except for what is shown
//! once (a new secret or key, [`shown_once`]): nobody has seen it, so the
//! command fails and undoes what it can. `serve` prints nothing here: its
//! logs go through `tracing`.

use std::io::Write;

/// The reader of stdout has gone: nothing more to print, and not an error.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct Closed;

/// Writes one line (what `out!` expands to).
pub fn line(args: std::fmt::Arguments) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(err) => Err(anyhow::Error::new(err).context("cannot write to standard output")),
    }
}

/// Prints a secret that is shown once (with `out!` lines in `print`). When it
/// cannot be shown (stdout closed, or any write failing), `unseen` undoes
/// what it can and says what became of the secret, and the command fails
/// with that: exiting 0 would leave a secret nobody saw.
pub fn shown_once(
    print: impl FnOnce() -> anyhow::Result<()>,
    unseen: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let why = if stdout_discarded() {
        // Written there it would be "shown" to nobody, with every write succeeding.
        "standard output is /dev/null, or was closed when chatctl started".to_owned()
    } else {
        let printed = print().and_then(|()| Ok(std::io::stdout().lock().flush()?));
        let Err(err) = printed else {
            return Ok(());
        };
        if is_closed(&err) {
            "standard output was closed".to_owned()
        } else {
            format!("{err:#}")
        }
    };
    let what = unseen()?;
    Err(anyhow::anyhow!("{what} ({why})"))
}

/// Whether stdout goes nowhere: it is `/dev/null`, which is also what a
/// stdout closed before start-up (`>&-`) becomes (Rust's runtime opens
/// /dev/null in place of a closed standard descriptor).
#[cfg(unix)]
fn stdout_discarded() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/proc/self/fd/1"),
        std::fs::metadata("/dev/null"),
    ) {
        (Ok(out), Ok(null)) => out.dev() == null.dev() && out.ino() == null.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn stdout_discarded() -> bool {
    false
}

/// Whether `err` only says that the reader of stdout has gone.
pub fn is_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Closed>())
}

#[cfg(test)]
mod tests {
    /// Every line a command prints goes through `out!`: a `println!` would
    /// panic on a closed pipe.
    #[test]
    fn commands_print_through_out() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("output.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for banned in [
                "println!",
                "print!",
                "write!(std::io::stdout",
                "stdout().write",
            ] {
                let found = source
                    .match_indices(banned)
                    .any(|(at, _)| !source[..at].ends_with('e'));
                assert!(!found, "{} uses {banned}", path.display());
            }
            checked += 1;
        }
        assert!(checked >= 9, "the commands are where they were");
    }
}
