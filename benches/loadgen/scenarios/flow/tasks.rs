//! What each connection of a run does: senders send on schedule and read
//! their acks; readers count (and probes time) what reaches them; stalled
//! readers are checked for having been cut.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{watch, Mutex as AsyncMutex};
use tokio::time::Instant;

use super::super::probes::{ProbeLog, Side};
use crate::client::{send_frame, since_us, Conn};
use crate::stats::{self, now_us, record};
use crate::wire::{Reader, Writer, OP_CLOSE, OP_PING};

/// What one room's connections counted.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) sent: AtomicU64,
    pub(super) acked: AtomicU64,
    pub(super) refused: AtomicU64,
    /// `message` frames received by connections that keep reading.
    pub(super) delivered: AtomicU64,
    /// Connections still reading that the server closed anyway.
    pub(super) dropped: AtomicU64,
}

#[derive(Clone)]
pub(super) struct Schedule {
    pub(super) id: u64,
    pub(super) first: u64,
    pub(super) interval: u64,
    pub(super) end: u64,
    pub(super) size: usize,
}

impl Schedule {
    fn intended(&self, k: u64) -> u64 {
        self.first + k * self.interval
    }
}

/// Open loop: message k goes at its intended time whatever happened to k-1, and
/// carries that time, so a stalled server cannot hide its backlog. Returns how
/// late each send left the load generator (µs after its intended time): a
/// late send is the load generator's delay, not the server's.
pub(super) async fn send_loop(
    wr: Arc<AsyncMutex<Writer>>,
    room: String,
    s: Schedule,
    c: Arc<Counters>,
) -> ProbeLog {
    let mut written = ProbeLog::default();
    let epoch = Instant::now() - Duration::from_micros(now_us());
    for k in 0.. {
        let at = s.intended(k);
        if at >= s.end {
            break;
        }
        tokio::time::sleep_until(epoch + Duration::from_micros(at)).await;
        let frame = send_frame(&room, &format!("{}.{k}", s.id), at, s.size);
        if wr.lock().await.text(&frame).await.is_err() {
            break;
        }
        written.record(at, since_us(at));
        c.sent.fetch_add(1, Relaxed);
    }
    written
}

/// What a sender's reader measured: send→ack latency, and when the server
/// stamped each acknowledged message (`ack.ts`, the writer's batch, ms), µs
/// after its intended time.
pub(super) struct Acks {
    pub(super) latency: Histogram<u64>,
    pub(super) stamped: ProbeLog,
}

/// A sender's inbound side: acks (send→ack latency), errors, other senders' messages.
pub(super) async fn sender_reader(
    mut rd: Reader,
    wr: Arc<AsyncMutex<Writer>>,
    s: Schedule,
    c: Arc<Counters>,
    errors: Arc<Mutex<BTreeMap<String, u64>>>,
    last_delivery: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Acks {
    let mut h = stats::histogram();
    let mut stamped = ProbeLog::default();
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            f = rd.next() => f,
        };
        let Ok(Some(frame)) = frame else {
            c.dropped.fetch_add(1, Relaxed);
            break;
        };
        if frame.opcode == OP_PING {
            let payload = frame.payload.to_vec();
            let _ = wr.lock().await.pong(&payload).await;
        } else if frame.opcode == OP_CLOSE {
            c.dropped.fetch_add(1, Relaxed);
            break;
        } else if frame.is_type("message") {
            c.delivered.fetch_add(1, Relaxed);
            last_delivery.fetch_max(now_us(), Relaxed);
        } else if frame.is_type("ack") {
            c.acked.fetch_add(1, Relaxed);
            last_delivery.fetch_max(now_us(), Relaxed);
            let k = frame
                .str_field("cid")
                .and_then(|cid| cid.split_once('.'))
                .and_then(|(_, k)| k.parse().ok());
            if let Some(k) = k {
                let at = s.intended(k);
                record(&mut h, since_us(at));
                if let Some(ts) = frame.int_field("ts") {
                    let ts_us = ts.max(0) as u64 * 1000;
                    stamped.record(at, ts_us.saturating_sub(stats::unix_us(at)));
                }
            }
        } else if frame.is_type("error") {
            c.refused.fetch_add(1, Relaxed);
            let code = frame.str_field("code").unwrap_or("?").to_owned();
            if let Ok(mut e) = errors.lock() {
                *e.entry(code).or_default() += 1;
            }
        }
    }
    let _ = wr.lock().await.close().await;
    Acks {
        latency: h,
        stamped,
    }
}

/// A reading member: counts `message` frames; a probe also records latency.
/// Only probes get a log: its histogram is some 300 KiB, and zeroing one for
/// each of 10,000 readers as they start took the load generator's two cores
/// for the first second of every run (the whole of that second's tail).
pub(super) async fn receive(
    mut rd: Reader,
    mut wr: Writer,
    probe: Option<Side>,
    c: Arc<Counters>,
    last_delivery: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Option<(Side, ProbeLog)> {
    let mut probe = probe.map(|side| (side, ProbeLog::default()));
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            f = rd.next() => f,
        };
        let Ok(Some(frame)) = frame else {
            c.dropped.fetch_add(1, Relaxed);
            break;
        };
        match frame.opcode {
            OP_PING => {
                let payload = frame.payload.to_vec();
                let _ = wr.pong(&payload).await;
            }
            OP_CLOSE => {
                c.dropped.fetch_add(1, Relaxed);
                break;
            }
            _ if frame.is_type("message") => {
                c.delivered.fetch_add(1, Relaxed);
                let now = now_us();
                last_delivery.fetch_max(now, Relaxed);
                if let (Some((_, log)), Some(stamp)) = (&mut probe, frame.stamp()) {
                    log.record(stamp, now.saturating_sub(stamp));
                }
            }
            _ => {}
        }
    }
    let _ = wr.close().await;
    probe
}

/// How many stalled readers the server disconnected: read what is buffered and
/// see whether the stream ends (close frame or EOF) within a few seconds.
pub(super) async fn count_cut(conns: Vec<Conn>) -> usize {
    let checks = conns.into_iter().map(|mut conn| async move {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, conn.rd.next()).await {
                Err(_) => return false,
                Ok(Ok(Some(f))) if f.opcode == OP_CLOSE => return true,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
            }
        }
    });
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|cut| *cut)
        .count()
}
