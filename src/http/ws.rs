//! GET /ws?site=KEY — the chat WebSocket. Admission (site, origin, bans, per-IP
//! count) is decided before the upgrade; then [`drive`] pumps frames between
//! the socket and the [`Session`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use warp::{Filter, Rejection, Reply};

use super::error::Refused;
use super::upgrade::{self, Socket, Upgrade};
use super::AppState;
use crate::chat::hub::{ConnQueue, Outbound};
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::session::{Flow, Session};
use crate::chat::{Chat, UpgradeError};

/// Most frames written to the socket in one flush.
const MAX_COALESCED: usize = 64;

#[derive(Deserialize)]
struct WsQuery {
    site: String,
}

pub fn route(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    check(state.clone()).or(socket(state)).unify()
}

/// GET /ws/check?site=KEY — the upgrade's checks as plain JSON (`{"ok":true}` or
/// an error body with the upgrade's status), readable cross-origin so a widget
/// can tell its visitor why the chat is unavailable.
fn check(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("ws" / "check")
        .and(warp::get())
        .and(warp::query::<WsQuery>())
        .and(warp::header::optional::<String>("origin"))
        .and(warp::addr::remote())
        .and(state.with())
        .then(
            |query: WsQuery,
             origin: Option<String>,
             remote: Option<SocketAddr>,
             state: AppState| async move {
                let ip = remote.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
                let reply = match state.chat.check(&query.site, origin.as_deref(), ip).await {
                    Ok(_) => warp::reply::json(&serde_json::json!({"ok": true})).into_response(),
                    Err(err) => super::error::upgrade_error(&err),
                };
                warp::reply::with_header(reply, "access-control-allow-origin", "*").into_response()
            },
        )
}

/// GET /ws?site=KEY — the WebSocket upgrade.
fn socket(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::query::<WsQuery>())
        .and(warp::header::optional::<String>("origin"))
        .and(warp::addr::remote())
        .and(upgrade::websocket())
        .and(state.with())
        .and_then(accept)
}

async fn accept(
    query: WsQuery,
    origin: Option<String>,
    remote: Option<SocketAddr>,
    ws: Upgrade,
    state: AppState,
) -> Result<warp::reply::Response, Rejection> {
    let ip = remote.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
    let chat = state.chat.clone();
    let refuse = |err: UpgradeError| {
        chat.metrics
            .upgrades_refused
            .get_or_create(&crate::metrics::CodeLabel { code: err.code() })
            .inc();
        warp::reject::custom(Refused(err))
    };
    if *state.shutdown.borrow() {
        return Err(refuse(UpgradeError::ShuttingDown));
    }
    let admission = chat
        .admit(&query.site, origin.as_deref(), ip)
        .await
        .map_err(refuse)?;
    let config = upgrade::config(chat.limits.max_frame_bytes);
    let chat = state.chat.clone();
    let shutdown = state.shutdown.clone();
    Ok(ws.reply(config, move |socket| async move {
        let (session, queue) = Session::new(chat.clone(), admission);
        drive(socket, session, queue, chat, shutdown).await;
    }))
}

fn text(frame: &str) -> Message {
    Message::text(frame)
}

fn is_too_large(err: &WsError) -> bool {
    matches!(err, WsError::Capacity(_))
}

/// Resolves once the hub has closed the connection.
async fn killed(kill: &mut watch::Receiver<bool>) {
    // An error means the hub dropped the handle: treat it as closed too.
    let _ = kill.wait_for(|killed| *killed).await;
}

type CloseRequest = (CloseReason, String, Option<i64>);

/// The sending half of the socket. Every write gives up when the peer stops
/// reading for too long or when the hub closes the connection, so a stalled
/// client can never pin its task (and its memory) forever.
struct Outlet {
    sink: SplitSink<Socket, Message>,
    kill: watch::Receiver<bool>,
    write_timeout: Duration,
}

impl Outlet {
    async fn write(&mut self, frames: Vec<Message>) -> Result<(), ()> {
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
            _ = killed(&mut self.kill) => Err(()),
        }
    }

    /// Best effort: the notice and close frame, with a short deadline since the
    /// peer may not be reading at all.
    async fn close(&mut self, (reason, message, until): CloseRequest) {
        let notice = ServerFrame::Notice {
            code: reason,
            message,
            until,
        }
        .encode();
        let frames = vec![
            text(&notice),
            Message::Close(Some(CloseFrame {
                code: CloseCode::from(reason.close_code()),
                reason: reason.as_str().into(),
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
    }
}

/// Runs one connection until either side closes it.
async fn drive(
    socket: Socket,
    mut session: Session,
    mut queue: ConnQueue,
    chat: Arc<Chat>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (sink, mut rx) = socket.split();
    let heartbeat = Duration::from_secs(chat.limits.heartbeat_secs.max(1));
    let idle_limit = heartbeat.mul_f32(2.5);
    let mut out = Outlet {
        sink,
        kill: queue.kill.clone(),
        write_timeout: idle_limit,
    };
    let mut ticker = interval(heartbeat);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    let mut kill = queue.kill.clone();

    let close: Option<CloseRequest> = loop {
        tokio::select! {
            _ = killed(&mut kill) => break queue.take_close(),
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    // Let in-flight sends get their acks before saying goodbye.
                    let _ = timeout(Duration::from_secs(2), async {
                        while session.awaiting_replies() {
                            let Some(item) = queue.rx.recv().await else { break };
                            if let Outbound::Reply(frame) = item {
                                queue.written(frame.len());
                                session.replied();
                                if out.write(vec![text(&frame)]).await.is_err() { break; }
                            }
                        }
                    }).await;
                    break Some((CloseReason::Restarting, "The server is restarting. Reconnect in a moment.".into(), None));
                }
            }
            inbound = rx.next() => {
                let flow = match inbound {
                    None => break None,
                    Some(Err(err)) if is_too_large(&err) => Flow::Close {
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
                            Message::Text(body) => session.on_text(body.as_str()).await,
                            Message::Binary(_) => session.on_binary(),
                            Message::Close(_) => break None,
                            // tungstenite answers pings itself
                            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
                        }
                    }
                };
                let replies = session.take_replies();
                if !replies.is_empty() && out.write(replies.iter().map(|r| text(r)).collect()).await.is_err() {
                    break queue.take_close();
                }
                if let Flow::Close { reason, message, until } = flow {
                    break Some((reason, message, until));
                }
            }
            outbound = queue.rx.recv() => {
                let Some(first) = outbound else { break None };
                // Coalesce whatever else is queued into one flush.
                let mut items = vec![first];
                while items.len() < MAX_COALESCED {
                    match queue.rx.try_recv() {
                        Ok(item) => items.push(item),
                        Err(_) => break,
                    }
                }
                let mut frames = Vec::with_capacity(items.len());
                let mut closing = None;
                for item in items {
                    match item {
                        Outbound::Frame { text: frame, room, seq } => {
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
                        Outbound::Close { reason, message, until } => {
                            closing = Some((reason, message, until));
                            break;
                        }
                    }
                }
                if out.write(frames).await.is_err() {
                    break closing.or_else(|| queue.take_close());
                }
                if closing.is_some() {
                    break closing;
                }
            }
            _ = ticker.tick() => {
                if last_seen.elapsed() > idle_limit {
                    break Some((CloseReason::IdleTimeout, "No activity; closing. Reconnect to continue.".into(), None));
                }
                if out.write(vec![Message::Ping(Default::default())]).await.is_err() {
                    break queue.take_close();
                }
            }
        }
    };

    if let Some(request) = close {
        out.close(request).await;
        // Give the client a moment to answer the close handshake.
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = rx.next().await {}
        })
        .await;
    }
    // Closing flushes; a peer that reads nothing must not hold us here.
    let _ = timeout(Duration::from_secs(1), out.sink.close()).await;
    session.close();
}
