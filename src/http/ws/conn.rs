//! The task that runs one chat connection: it pumps client frames into the
//! [`Session`] and writes the room queue to the socket, coalescing what is
//! queued into one flush.
//!
//! Memory matters here (thousands of these sit idle), so the task's own state
//! is kept small: rare or large steps (handling a client frame, draining on
//! shutdown, closing) are boxed and take heap only while they run.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::{interval_at, sleep, timeout, Instant, Interval, MissedTickBehavior, Sleep};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::upgrade::{Reader, Socket, Writer};
use crate::chat::hub::{CloseRequest, ConnQueue, Outbound};
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::session::{Flow, Session};
use crate::chat::Chat;
use crate::http::setup_slots::{SetupSlot, CLIENT_WAIT};

/// Most queued items written to the socket in one flush.
const MAX_COALESCED: usize = 64;

fn request(reason: CloseReason, message: &str) -> CloseRequest {
    CloseRequest {
        reason,
        message: message.to_owned(),
        until: None,
    }
}

/// The sending side. Every flush gives up when the peer takes nothing for too
/// long (`write_timeout`) or when the hub closes the connection, so a stalled
/// client can never pin its task (and its memory) forever; one that reads
/// slowly but steadily is never cut in the middle of a large frame.
struct Outlet {
    frames: Writer,
    write_timeout: Duration,
    /// When a flush last finished after waiting for the peer to read: it is
    /// alive, even if it said nothing while a large frame went out.
    peer_read_at: Instant,
}

/// A flush that took this long waited for the peer's reading.
const WAITED_FOR_PEER: Duration = Duration::from_millis(100);

impl Outlet {
    async fn flush(&mut self, queue: &ConnQueue) -> Result<(), ()> {
        if self.frames.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        tokio::select! {
            done = self.frames.flush_unless_stalled(self.write_timeout) => {
                if done.is_ok() && start.elapsed() >= WAITED_FOR_PEER {
                    self.peer_read_at = Instant::now();
                }
                done.map_err(|_| ())
            }
            _ = queue.killed() => Err(()),
        }
    }

    /// Queues the notice and the close frame, after the frame in progress.
    fn queue_close(&mut self, request: CloseRequest) {
        let (message, reason) = match request.reason {
            CloseReason::Banned => (
                crate::chat::banned_message(&request.message),
                Some(request.message),
            ),
            _ => (request.message, None),
        };
        let notice = ServerFrame::Notice {
            code: request.reason,
            message,
            reason,
            until: request.until,
        }
        .encode();
        // After a flush cut short, whatever had not begun to go out would
        // only hold the notice back from a peer that is not keeping up.
        self.frames.drop_unbegun();
        self.frames.text(&notice);
        self.frames
            .close(request.reason.close_code(), request.reason.as_str());
    }
}

/// Runs one connection until either side closes it. Its setup slot (see
/// `setup_slots`) is freed once its first data frame (its `hello`) is
/// answered, or when none has come within [`CLIENT_WAIT`].
pub async fn drive(
    socket: Socket,
    mut session: Box<Session>,
    queue: ConnQueue,
    chat: Arc<Chat>,
    mut shutdown: watch::Receiver<bool>,
    setup: Option<SetupSlot>,
) {
    let Socket {
        reader: mut rx,
        writer,
        write_side,
    } = socket;
    queue.attach(write_side.shared());
    let (mut out, mut ticker, idle_limit) = outlet_and_ticker(writer, chat.limits.heartbeat_secs);
    let mut last_seen = Instant::now();
    // Boxed and dropped with the slot: an idle connection keeps no timer.
    let mut setup = setup.map(|slot| (slot, Box::pin(sleep(CLIENT_WAIT))));

    let close: Option<CloseRequest> = loop {
        // Asleep with nothing of our own to write: room frames may be written
        // through meanwhile. Every wake-up that writes says so first.
        if out.frames.is_empty() {
            queue.idle();
        }
        tokio::select! {
            () = client_turn(&mut setup), if setup.is_some() => {
                if let Some((slot, _)) = setup.take() {
                    slot.release();
                }
            }
            _ = queue.killed() => break queue.take_close(),
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    take_turn(&queue, &mut out);
                    Box::pin(drain_replies(&mut session, &queue, &mut out)).await;
                    break Some(request(CloseReason::Restarting, "The server is restarting. Reconnect in a moment."));
                }
            }
            inbound = rx.next() => {
                take_turn(&queue, &mut out);
                if matches!(inbound, Some(Ok(_))) {
                    last_seen = Instant::now();
                }
                // A pong to our ping is not the client's set-up.
                let set_up = !matches!(inbound, Some(Ok(Message::Ping(_) | Message::Pong(_))));
                let max_frame = chat.limits.max_frame_bytes;
                let next = Box::pin(on_inbound(inbound, &mut session, &queue, &mut out, max_frame));
                let next = next.await;
                if let Some((slot, _)) = setup.take_if(|_| set_up) {
                    slot.release();
                }
                if let Next::Stop(close) = next {
                    break close;
                }
            }
            first = queue.recv() => {
                let closing = queue_frames(first, &queue, &mut session, &mut out.frames);
                if Box::pin(out.flush(&queue)).await.is_err() {
                    break closing.or_else(|| queue.take_close());
                }
                if closing.is_some() {
                    break closing;
                }
            }
            _ = ticker.tick() => {
                take_turn(&queue, &mut out);
                if last_seen.max(out.peer_read_at).elapsed() > idle_limit {
                    break Some(request(CloseReason::IdleTimeout, "No activity; closing. Reconnect to continue."));
                }
                out.frames.ping();
                if Box::pin(out.flush(&queue)).await.is_err() {
                    break queue.take_close();
                }
            }
        }
    };

    queue.detach();
    Box::pin(close_connection(&mut out, &mut rx, &queue, close)).await;
    session.close();
}

/// Ends the connection: with a close handshake when the server closes it
/// on purpose; otherwise (the peer is gone, closed first, or stopped
/// reading) with a FIN, if it goes.
async fn close_connection(
    out: &mut Outlet,
    rx: &mut Box<Reader>,
    queue: &ConnQueue,
    close: Option<CloseRequest>,
) {
    match close {
        Some(request) => close_handshake(out, rx, queue, request).await,
        None => {
            let _ = timeout(Duration::from_secs(1), out.frames.shutdown()).await;
        }
    }
}

/// The connection's outlet, its ping ticker and its idle limit (2.5 heartbeats): a peer
/// silent that long is closed, and a write stalled that long gives up. The first ping goes
/// after a heartbeat, not at once: a reconnect storm would otherwise send thousands of
/// pings, and get as many pongs.
fn outlet_and_ticker(frames: Writer, heartbeat_secs: u64) -> (Outlet, Interval, Duration) {
    let heartbeat = Duration::from_secs(heartbeat_secs.max(1));
    let idle_limit = heartbeat.mul_f32(2.5);
    let out = Outlet {
        frames,
        write_timeout: idle_limit,
        peer_read_at: Instant::now(),
    };
    let mut ticker = interval_at(Instant::now() + heartbeat, heartbeat);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    (out, ticker, idle_limit)
}

/// Resolves once the client has had [`CLIENT_WAIT`] to send its first frame.
async fn client_turn(setup: &mut Option<(SetupSlot, Pin<Box<Sleep>>)>) {
    match setup {
        Some((_, wait)) => wait.as_mut().await,
        None => std::future::pending().await,
    }
}

/// What the connection loop does after one client frame.
enum Next {
    Continue,
    /// Stop, closing with this request (`None`: the peer is gone or closed first).
    Stop(Option<CloseRequest>),
}

/// One read from the client (a frame, the end of the stream, or an error):
/// handled by the session, its replies flushed.
async fn on_inbound(
    inbound: Option<Result<Message, WsError>>,
    session: &mut Session,
    queue: &ConnQueue,
    out: &mut Outlet,
    max_frame_bytes: usize,
) -> Next {
    let flow = match inbound {
        None => return Next::Stop(None),
        Some(Err(WsError::Capacity(_))) => Flow::Close {
            reason: CloseReason::FrameTooLarge,
            message: format!("Frames are limited to {max_frame_bytes} bytes."),
            until: None,
        },
        Some(Err(err)) => {
            tracing::debug!(error = %err, "websocket read failed");
            return Next::Stop(None);
        }
        Some(Ok(Message::Text(body))) => session.on_text(body.as_str()).await,
        Some(Ok(Message::Binary(_))) => session.on_binary(),
        Some(Ok(Message::Ping(payload))) => {
            out.frames.pong(&payload);
            Flow::Continue
        }
        Some(Ok(Message::Close(_))) => {
            // Answer the client's close handshake, then stop.
            out.frames.close(1000, "");
            let _ = out.flush(queue).await;
            return Next::Stop(None);
        }
        Some(Ok(Message::Pong(_) | Message::Frame(_))) => Flow::Continue,
    };
    for reply in session.take_replies() {
        out.frames.text(&reply);
    }
    if out.flush(queue).await.is_err() {
        return Next::Stop(queue.take_close());
    }
    match flow {
        Flow::Continue => Next::Continue,
        Flow::Close {
            reason,
            message,
            until,
        } => Next::Stop(Some(CloseRequest {
            reason,
            message,
            until,
        })),
    }
}

/// The task is about to write: write-through stops, and the end of a frame
/// it began goes first.
fn take_turn(queue: &ConnQueue, out: &mut Outlet) {
    if let Some(rest) = queue.busy() {
        out.frames.raw(&rest);
    }
}

/// Says why and closes, as gently as the peer allows: a peer still reading
/// gets the end of the frame in progress, the notice and the close frame,
/// however slowly it reads; one that has acknowledged nothing for
/// [`CLOSE_STALL`] is let go, and nobody is kept past one write timeout.
///
/// Whatever the peer sends meanwhile is read and dropped, also after its
/// stream broke (an oversized frame): a socket closed with unread bytes in
/// it sends a reset (RFC 1122 §4.2.2.13, RFC 2525 §2.17), and the peer's
/// kernel then throws away what it had not read yet, the notice with it.
/// Once the peer has everything, the FIN; the socket is closed when the
/// peer answers the close or ends its side (RFC 6455 §7.1.1), or after
/// [`CLOSE_ANSWER`].
async fn close_handshake(
    out: &mut Outlet,
    rx: &mut Box<Reader>,
    queue: &ConnQueue,
    request: CloseRequest,
) {
    take_turn(queue, out);
    out.queue_close(request);
    let mut peer = PeerSide::Frames;
    let _ = timeout(out.write_timeout, async {
        let mut owed = Owed::new();
        loop {
            let Some(left) = owed.left(out) else {
                return;
            };
            if left == 0 {
                break;
            }
            tokio::select! {
                sent = out.frames.flush(), if !out.frames.is_empty() => {
                    if sent.is_err() {
                        return;
                    }
                }
                () = peer.read_and_drop(rx), if peer != PeerSide::Done => {}
                () = sleep(CLOSE_POLL) => {}
            }
        }
        let _ = out.frames.shutdown().await;
        let _ = timeout(CLOSE_ANSWER, async {
            while peer != PeerSide::Done {
                peer.read_and_drop(rx).await;
            }
        })
        .await;
    })
    .await;
}

/// A peer being closed that has acknowledged nothing for this long is not
/// reading. A peer's TCP stack acknowledges in steps (a receive window's
/// worth: ~6 KB every 2.5 s for a reader of 2.5 KB/s with a 4 KiB buffer),
/// so this is what sets the slowest reader that still gets the notice.
const CLOSE_STALL: Duration = Duration::from_secs(5);
/// How long a peer that has everything has to answer the close.
const CLOSE_ANSWER: Duration = Duration::from_secs(2);
/// How often a close looks at what the peer has acknowledged.
const CLOSE_POLL: Duration = Duration::from_millis(100);

/// What a closing peer has yet to acknowledge: the bytes still queued here
/// and those in the socket it has not acknowledged.
struct Owed {
    least: usize,
    since: Instant,
}

impl Owed {
    fn new() -> Self {
        Owed {
            least: usize::MAX,
            since: Instant::now(),
        }
    }

    /// The bytes owed now; `None` once they stopped going down for [`CLOSE_STALL`].
    fn left(&mut self, out: &Outlet) -> Option<usize> {
        let in_socket = out.frames.io().unacknowledged().unwrap_or(0);
        let left = out.frames.unwritten() + in_socket;
        if left < self.least {
            self.least = left;
            self.since = Instant::now();
        } else if self.since.elapsed() >= CLOSE_STALL {
            return None;
        }
        Some(left)
    }
}

/// What is left to read from a peer being closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PeerSide {
    /// WebSocket frames, until its close frame.
    Frames,
    /// Raw bytes, until the end of its stream: the frames broke, or tungstenite has ended.
    Bytes,
    /// Nothing: it answered the close, or its side ended.
    Done,
}

impl PeerSide {
    /// Reads one frame or one buffer from the peer and drops it. Cancel-safe.
    async fn read_and_drop(&mut self, rx: &mut Reader) {
        *self = match self {
            PeerSide::Frames => match rx.next().await {
                Some(Ok(Message::Close(_))) => PeerSide::Done,
                Some(Ok(_)) => PeerSide::Frames,
                Some(Err(_)) | None => PeerSide::Bytes,
            },
            PeerSide::Bytes => {
                let mut scratch = [0u8; 512];
                match rx.get_mut().read(&mut scratch).await {
                    Ok(0) | Err(_) => PeerSide::Done,
                    Ok(_) => PeerSide::Bytes,
                }
            }
            PeerSide::Done => PeerSide::Done,
        }
    }
}

/// Encodes `first` and whatever else is queued (up to [`MAX_COALESCED`]) for
/// one flush; returns the close request if one was among them.
fn queue_frames(
    first: Outbound,
    queue: &ConnQueue,
    session: &mut Session,
    frames: &mut Writer,
) -> Option<CloseRequest> {
    let mut items = Vec::with_capacity(8);
    items.push(first);
    queue.drain_writable(&mut items, MAX_COALESCED - 1);
    for item in items {
        match item {
            Outbound::Frame { text: frame, .. } => {
                queue.written(frame.len());
                frames.text(&frame);
            }
            Outbound::Rest(rest) => frames.raw(&rest),
            Outbound::Reply(frame) => {
                queue.written(frame.len());
                session.replied();
                frames.text(&frame);
            }
            Outbound::Close(request) => return Some(*request),
        }
    }
    None
}

/// On shutdown: let in-flight sends get their acks before saying goodbye.
async fn drain_replies(session: &mut Session, queue: &ConnQueue, out: &mut Outlet) {
    let _ = timeout(Duration::from_secs(2), async {
        while session.awaiting_replies() {
            match queue.recv().await {
                Outbound::Reply(frame) => {
                    queue.written(frame.len());
                    session.replied();
                    out.frames.text(&frame);
                }
                Outbound::Rest(rest) => out.frames.raw(&rest),
                _ => continue,
            }
            if out.flush(queue).await.is_err() {
                break;
            }
        }
    })
    .await;
}
