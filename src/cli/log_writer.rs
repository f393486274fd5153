//! Where `serve` writes its log: stdout, until stdout cannot take it (its
//! reader closed the pipe, the disk is full); then one warning on stderr, and
//! the log goes on there. tracing-subscriber's own answer to a failed write is
//! a line on stderr per event, which buried everything else.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Default)]
pub struct LogOutput {
    /// Stdout failed once: the log goes to stderr from then on.
    on_stderr: AtomicBool,
}

pub struct LogWriter<'a>(&'a LogOutput);

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self)
    }
}

impl Write for LogWriter<'_> {
    /// Takes the whole event (the formatter writes one per event): a failed
    /// write is answered here, never handed back to the formatter.
    fn write(&mut self, event: &[u8]) -> std::io::Result<usize> {
        let output = self.0;
        if !output.on_stderr.load(Ordering::Relaxed) {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(event).and_then(|()| stdout.flush()) {
                Ok(()) => return Ok(event.len()),
                Err(err) => {
                    // Several threads may fail at once: one warning.
                    if !output.on_stderr.swap(true, Ordering::Relaxed) {
                        let _ = writeln!(
                            std::io::stderr(),
                            "chatctl: cannot write the log to standard output ({err}); logging to standard error from now on"
                        );
                    }
                }
            }
        }
        // Nowhere left to say it if stderr fails too.
        let _ = std::io::stderr().write_all(event);
        Ok(event.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
