//! One OpenFlow connection: version negotiation, framing, keepalive, and
//! the switch's asynchronous messages, with requests handed to
//! [`handle`](super::handle) in batches (one engine lock per read).

use super::handle::{self, Conn, Incoming};
use super::hub::{Event, Hub};
use crate::engine::Engine;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;
use vepa_openflow::{decode, error_for, frame_len, Message};

/// Idle this long, a connection is probed with an echo request.
const PROBE_AFTER: Duration = Duration::from_secs(5);
/// Silent this long, a connection is closed.
const DEAD_AFTER: Duration = Duration::from_secs(15);
/// Messages handled per engine lock, so one busy peer cannot starve the API.
const BATCH: usize = 256;

/// Serves one connection (TCP, TLS or the management socket alike).
pub async fn run<S>(
    stream: S,
    switch: String,
    engine: Arc<Mutex<Engine>>,
    hub: Arc<Hub>,
    active: bool,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut events = hub.subscribe(&switch);
    let mut conn = Some(Conn::new(hub.conn_id(), switch.clone()));
    tracing::debug!(switch = %switch, active, "OpenFlow session");
    let hello = Message::Hello {
        versions: Some(vec![1 << vepa_openflow::VERSION]),
    };
    if wr.write_all(&hello.to_bytes(0)).await.is_err() {
        return;
    }
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];
    let mut last_rx = Instant::now();
    let mut probe = tokio::time::interval(Duration::from_secs(1));
    let mut echo_xid = 0x4000_0000u32;
    loop {
        tokio::select! {
            n = rd.read(&mut chunk) => {
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                last_rx = Instant::now();
                buf.extend_from_slice(&chunk[..n]);
                // Cut the stream into whole messages.
                let mut msgs = Vec::new();
                let mut at = 0;
                let mut broken = None;
                while let Some(len) = frame_len(&buf[at..]) {
                    let len = match len {
                        Ok(l) => l,
                        Err(e) => {
                            broken = Some(e);
                            break;
                        }
                    };
                    if buf.len() - at < len {
                        break;
                    }
                    let raw = buf[at..at + len].to_vec();
                    msgs.push(Incoming {
                        decoded: decode(&raw),
                        raw,
                    });
                    at += len;
                }
                buf.drain(..at);
                if let Some(e) = broken {
                    // The length field lies: the stream cannot be cut any
                    // more. Say why, and close.
                    let mut out = Vec::new();
                    let xid = u32::from_be_bytes([buf.get(4).copied().unwrap_or(0), buf.get(5).copied().unwrap_or(0), buf.get(6).copied().unwrap_or(0), buf.get(7).copied().unwrap_or(0)]);
                    error_for(e, &buf[..buf.len().min(64)]).encode(xid, &mut out);
                    let _ = wr.write_all(&out).await;
                    break;
                }
                let mut close = false;
                while !msgs.is_empty() {
                    let rest = msgs.split_off(msgs.len().min(BATCH));
                    let batch = std::mem::replace(&mut msgs, rest);
                    let Some(c) = conn.take() else { return };
                    let e = Arc::clone(&engine);
                    let h = Arc::clone(&hub);
                    let done = tokio::task::spawn_blocking(move || {
                        let mut c = c;
                        let mut g = e.lock().unwrap_or_else(|p| p.into_inner());
                        let (out, close) = handle::batch(&mut g, &h, &mut c, batch);
                        (c, out, close)
                    })
                    .await;
                    let Ok((c, out, cl)) = done else { return };
                    conn = Some(c);
                    if !out.is_empty() && wr.write_all(&out).await.is_err() {
                        close = true;
                        break;
                    }
                    if cl {
                        close = true;
                        break;
                    }
                }
                if close {
                    break;
                }
            }
            ev = events.recv() => {
                match ev {
                    Ok(ev) => {
                        let Some(c) = conn.as_ref() else { break };
                        if let Some(bytes) = async_message(c, &hub, &ev) {
                            if wr.write_all(&bytes).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(switch = %switch, lost = n, "connection too slow for its events");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            _ = probe.tick() => {
                let idle = last_rx.elapsed();
                if idle > DEAD_AFTER {
                    tracing::info!(switch = %switch, "OpenFlow peer silent too long; closing");
                    break;
                }
                if idle > PROBE_AFTER {
                    echo_xid = echo_xid.wrapping_add(1);
                    if wr.write_all(&Message::EchoRequest(Vec::new()).to_bytes(echo_xid)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    if let Some(c) = conn {
        handle::closed(&hub, &c);
    }
}

/// The message (if any) an event becomes on this connection, after its
/// role and asynchronous-message masks.
fn async_message(c: &Conn, hub: &Hub, ev: &Event) -> Option<Vec<u8>> {
    if !c.hello_done {
        return None;
    }
    let m = handle::async_event(c, hub, ev)?;
    Some(m.to_bytes(0))
}
