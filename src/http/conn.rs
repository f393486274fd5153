//! The task that runs one chat connection: it pumps client frames into the
//! [`Session`] and writes the room queue to the socket, coalescing what is
//! queued into one flush.
//!
//! Memory matters here (thousands of these sit idle), so the task's own state
//! is kept small: rare or large steps (handling a client frame, draining on
//! shutdown, closing) are boxed and take heap only while they run.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::upgrade::Socket;
use crate::chat::hub::{CloseRequest, ConnQueue, Outbound};
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::session::{Flow, Session};
use crate::chat::Chat;

/// Most frames written to the socket in one flush.
const MAX_COALESCED: usize = 64;

fn text(frame: &str) -> Message {
    Message::text(frame)
}

fn request(reason: CloseReason, message: &str) -> CloseRequest {
    CloseRequest {
        reason,
        message: message.to_owned(),
        until: None,
    }
}

/// The sending half of the socket. Every write gives up when the peer stops
/// reading for too long or when the hub closes the connection, so a stalled
/// client can never pin its task (and its memory) forever.
struct Outlet {
    sink: SplitSink<Socket, Message>,
    write_timeout: Duration,
}

impl Outlet {
    async fn write(&mut self, queue: &ConnQueue, frames: Vec<Message>) -> Result<(), ()> {
        if frames.is_empty() {
            return Ok(());
        }
        let sink = &mut self.sink;
        let work = async {
            for frame in frames {
                sink.feed(frame).await?;
            }
            sink.flush().await
        };
        tokio::select! {
            done = timeout(self.write_timeout, work) => match done {
                Ok(Ok(())) => Ok(()),
                _ => Err(()),
            },
            _ = queue.killed() => Err(()),
        }
    }

    /// Best effort: the notice and close frame, with a short deadline since the
    /// peer may not be reading at all; then a moment for the close handshake.
    async fn close(&mut self, rx: &mut SplitStream<Socket>, request: CloseRequest) {
        let notice = ServerFrame::Notice {
            code: request.reason,
            message: request.message,
            until: request.until,
        }
        .encode();
        let frames = [
            text(&notice),
            Message::Close(Some(CloseFrame {
                code: CloseCode::from(request.reason.close_code()),
                reason: request.reason.as_str().into(),
            })),
        ];
        let sink = &mut self.sink;
        let _ = timeout(Duration::from_secs(2), async {
            for frame in frames {
                sink.feed(frame).await?;
            }
            sink.flush().await
        })
        .await;
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = rx.next().await {}
        })
        .await;
    }
}

/// Runs one connection until either side closes it.
pub async fn drive(
    socket: Socket,
    mut session: Session,
    queue: ConnQueue,
    chat: Arc<Chat>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (sink, mut rx) = socket.split();
    let heartbeat = Duration::from_secs(chat.limits.heartbeat_secs.max(1));
    let idle_limit = heartbeat.mul_f32(2.5);
    let mut out = Outlet {
        sink,
        write_timeout: idle_limit,
    };
    let mut ticker = interval(heartbeat);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();

    let close: Option<CloseRequest> = loop {
        tokio::select! {
            _ = queue.killed() => break queue.take_close(),
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    Box::pin(drain_replies(&mut session, &queue, &mut out)).await;
                    break Some(request(CloseReason::Restarting, "The server is restarting. Reconnect in a moment."));
                }
            }
            inbound = rx.next() => {
                let flow = match inbound {
                    None => break None,
                    Some(Err(WsError::Capacity(_))) => Flow::Close {
                        reason: CloseReason::FrameTooLarge,
                        message: format!("Frames are limited to {} bytes.", chat.limits.max_frame_bytes),
                        until: None,
                    },
                    Some(Err(err)) => {
                        tracing::debug!(error = %err, "websocket read failed");
                        break None;
                    }
                    Some(Ok(msg)) => {
                        last_seen = Instant::now();
                        match msg {
                            Message::Text(body) => Box::pin(session.on_text(body.as_str())).await,
                            Message::Binary(_) => session.on_binary(),
                            Message::Close(_) => break None,
                            // tungstenite answers pings itself
                            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
                        }
                    }
                };
                let replies: Vec<Message> = session.take_replies().iter().map(|r| text(r)).collect();
                if Box::pin(out.write(&queue, replies)).await.is_err() {
                    break queue.take_close();
                }
                if let Flow::Close { reason, message, until } = flow {
                    break Some(CloseRequest { reason, message, until });
                }
            }
            first = queue.recv() => {
                let (frames, closing) = frames_to_write(first, &queue, &mut session);
                if Box::pin(out.write(&queue, frames)).await.is_err() {
                    break closing.or_else(|| queue.take_close());
                }
                if closing.is_some() {
                    break closing;
                }
            }
            _ = ticker.tick() => {
                if last_seen.elapsed() > idle_limit {
                    break Some(request(CloseReason::IdleTimeout, "No activity; closing. Reconnect to continue."));
                }
                if Box::pin(out.write(&queue, vec![Message::Ping(Default::default())])).await.is_err() {
                    break queue.take_close();
                }
            }
        }
    };

    if let Some(request) = close {
        Box::pin(out.close(&mut rx, request)).await;
    }
    // Closing flushes; a peer that reads nothing must not hold us here.
    let _ = Box::pin(timeout(Duration::from_secs(1), out.sink.close())).await;
    session.close();
}

/// `first` and whatever else is queued (up to [`MAX_COALESCED`]), as frames for
/// one flush, and the close request if one was among them.
fn frames_to_write(
    first: Outbound,
    queue: &ConnQueue,
    session: &mut Session,
) -> (Vec<Message>, Option<CloseRequest>) {
    let mut items = vec![first];
    queue.drain_into(&mut items, MAX_COALESCED - 1);
    let mut frames = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Outbound::Frame {
                text: frame,
                room,
                seq,
            } => {
                queue.written(frame.len());
                if session.accepts(room, seq) {
                    frames.push(text(&frame));
                }
            }
            Outbound::Reply(frame) => {
                queue.written(frame.len());
                session.replied();
                frames.push(text(&frame));
            }
            Outbound::Close(request) => return (frames, Some(*request)),
        }
    }
    (frames, None)
}

/// On shutdown: let in-flight sends get their acks before saying goodbye.
async fn drain_replies(session: &mut Session, queue: &ConnQueue, out: &mut Outlet) {
    let _ = timeout(Duration::from_secs(2), async {
        while session.awaiting_replies() {
            if let Outbound::Reply(frame) = queue.recv().await {
                queue.written(frame.len());
                session.replied();
                if out.write(queue, vec![text(&frame)]).await.is_err() {
                    break;
                }
            }
        }
    })
    .await;
}
