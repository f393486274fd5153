//! Protocol steps shared by the scenarios: connect, hello, join, send; and
//! opening many connections with bounded concurrency.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use tokio::time::Instant;

use crate::stats::now_us;
use crate::target::Target;
use crate::wire::{self, Dial, Reader, Writer, OP_CLOSE, OP_PING};

/// How long one protocol step may take before the connection counts as failed.
const STEP: Duration = Duration::from_secs(30);

/// A connection that said hello and joined one room.
pub struct Conn {
    pub rd: Reader,
    pub wr: Writer,
    pub room: String,
    pub guest_token: String,
    /// The welcome's `seq` and the seqs of the messages it carried.
    pub welcome_seq: i64,
    pub welcome_mode: String,
    pub welcome_seqs: Vec<i64>,
    /// From the start of the TCP connect to the welcome.
    pub connect_time: Duration,
}

/// How the i-th connection reaches the server (its first instance).
pub fn dial(target: &Target, site: usize, i: usize) -> Dial {
    dial_to(target, 0, site, i)
}

/// How the i-th connection reaches one instance of the server.
pub fn dial_to(target: &Target, instance: usize, site: usize, i: usize) -> Dial {
    Dial {
        addr: target.instances[instance % target.instances.len()].addr,
        path: format!("/ws?site={}", target.sites[site % target.sites.len()]),
        origin: target.origin.clone(),
        source: Some(wire::source_ip(i)),
        recv_buffer: None,
    }
}

/// Connects, says hello (as `nick`, or with `token`) and joins `room`.
pub async fn open(
    dial: &Dial,
    nick: &str,
    token: Option<&str>,
    room: &str,
    since: Option<i64>,
) -> anyhow::Result<Conn> {
    let started = Instant::now();
    let (mut rd, mut wr) = wire::connect(dial)
        .await
        .map_err(|e| anyhow!("connect: {e}"))?;
    let hello = match token {
        Some(t) => json!({"type": "hello", "v": 1, "guest_token": t}),
        None => json!({"type": "hello", "v": 1, "nick": nick}),
    };
    wr.text(&hello.to_string()).await?;
    let ready: Ready = until(&mut rd, &mut wr, "ready").await?;
    let mut join = json!({"type": "join", "room": room});
    if let Some(since) = since {
        join["since"] = json!(since);
    }
    wr.text(&join.to_string()).await?;
    let welcome: Welcome = until(&mut rd, &mut wr, "welcome").await?;
    Ok(Conn {
        rd,
        wr,
        room: room.to_owned(),
        guest_token: ready.guest_token.unwrap_or_default(),
        welcome_seq: welcome.seq,
        welcome_mode: welcome.mode,
        welcome_seqs: welcome.messages.iter().map(|m| m.seq).collect(),
        connect_time: started.elapsed(),
    })
}

/// What the load generator reads of a `ready`.
#[derive(serde::Deserialize)]
struct Ready {
    guest_token: Option<String>,
}

/// What the load generator reads of a `welcome`.
#[derive(serde::Deserialize)]
struct Welcome {
    seq: i64,
    mode: String,
    messages: Vec<Seq>,
}

#[derive(serde::Deserialize)]
struct Seq {
    seq: i64,
}

/// Reads until a frame of type `kind` and returns it as `T`; an `error`
/// frame or a close fails.
async fn until<T: serde::de::DeserializeOwned>(
    rd: &mut Reader,
    wr: &mut Writer,
    kind: &str,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + STEP;
    loop {
        let frame = tokio::time::timeout_at(deadline, rd.next())
            .await
            .map_err(|_| anyhow!("no {kind} within {STEP:?}"))??;
        let Some(frame) = frame else {
            bail!("closed while waiting for {kind}");
        };
        match frame.opcode {
            OP_PING => {
                let payload = frame.payload.to_vec();
                wr.pong(&payload).await?;
            }
            OP_CLOSE => bail!("closed while waiting for {kind}"),
            _ if frame.is_type(kind) => {
                return frame.parse().ok_or_else(|| anyhow!("bad {kind} frame"))
            }
            _ if frame.is_type("error") => bail!("refused: {}", frame.text()),
            _ => {}
        }
    }
}

/// A `send` frame whose text starts with the intended send time (µs), padded to `size` bytes.
pub fn send_frame(room: &str, cid: &str, intended_us: u64, size: usize) -> String {
    let mut text = format!("T{intended_us}|{cid}|");
    if text.len() < size {
        text.extend(std::iter::repeat_n('x', size - text.len()));
    }
    format!(r#"{{"type":"send","room":"{room}","cid":"{cid}","text":"{text}"}}"#)
}

/// Microseconds from `stamp` to now; 0 if the clock says otherwise.
pub fn since_us(stamp: u64) -> u64 {
    now_us().saturating_sub(stamp)
}

/// Opens `n` connections, at most `concurrency` at a time. Failures are counted
/// and the first one kept, not fatal: a load run reports them.
pub async fn open_many<T, F, Fut>(
    n: usize,
    concurrency: usize,
    open_one: F,
) -> (Vec<T>, usize, Option<String>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let done = Arc::new(AtomicUsize::new(0));
    // Each connection is a task of its own, as each visitor is a browser of
    // their own: polled together in one task, the 64 being opened shared one
    // thread, and a welcome being parsed held up every other connection.
    let results: Vec<_> = stream::iter(0..n)
        .map(|i| {
            let done = done.clone();
            let opening = tokio::spawn(open_one(i));
            async move {
                let r = match opening.await {
                    Ok(r) => r,
                    Err(e) => Err(anyhow!("connection task failed: {e}")),
                };
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of(1000) {
                    eprintln!("loadgen: {d}/{n} connections opened");
                }
                r
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut opened = Vec::with_capacity(n);
    let (mut failed, mut first_error) = (0, None);
    for r in results {
        match r {
            Ok(c) => opened.push(c),
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    (opened, failed, first_error)
}

/// Opens the author of a room's history (connection 0) and writes `n`
/// messages in it, each acknowledged before this returns.
pub async fn fill_history(target: &Target, room: &str, n: usize) -> anyhow::Result<Conn> {
    let mut conn = open(&dial(target, 0, 0), "author", None, room, None).await?;
    write_acked(&mut conn, "h", n).await?;
    Ok(conn)
}

/// Sends `n` messages of 100 bytes (cids `{prefix}{k}`), at most 100 not yet
/// acknowledged, and waits for every ack; a refusal or a close fails.
pub async fn write_acked(conn: &mut Conn, prefix: &str, n: usize) -> anyhow::Result<()> {
    const WINDOW: usize = 100;
    let deadline = Instant::now() + STEP;
    let (mut sent, mut acked) = (0, 0);
    while acked < n {
        while sent < n && sent - acked < WINDOW {
            let cid = format!("{prefix}{sent}");
            conn.wr
                .text(&send_frame(&conn.room, &cid, now_us(), 100))
                .await?;
            sent += 1;
        }
        let frame = tokio::time::timeout_at(deadline, conn.rd.next())
            .await
            .map_err(|_| anyhow!("{} of {n} messages acknowledged within {STEP:?}", acked))??;
        let Some(frame) = frame else {
            bail!("closed while writing messages");
        };
        match frame.opcode {
            OP_PING => {
                let payload = frame.payload.to_vec();
                conn.wr.pong(&payload).await?;
            }
            OP_CLOSE => bail!("closed while writing messages"),
            _ if frame.is_type("ack") => acked += 1,
            _ if frame.is_type("error") => bail!("refused: {}", frame.text()),
            _ => {}
        }
    }
    Ok(())
}
