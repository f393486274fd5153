//! Waiting for something that happens soon: one timeout for frames, one
//! polling loop for everything else.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for a frame or a close the server owes it.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs `check` every `every` until it gives `Ok`; after `within`, fails with
/// `what` and the last `Err` seen.
pub async fn poll<T, E, F, Fut>(what: &str, within: Duration, every: Duration, mut check: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}: {last:?}")
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// Waits until something accepts TCP connections at `addr` (a server we started).
pub async fn listening(what: &str, addr: impl tokio::net::ToSocketAddrs + Copy, within: Duration) {
    let every = Duration::from_millis(20);
    poll(what, within, every, || tokio::net::TcpStream::connect(addr)).await;
}
