//! The syslog listener (off by default): RFC 5424 and RFC 3164 messages
//! carrying CEF or LEEF, over UDP and over TCP with newline or octet-counted
//! framing (RFC 6587). Messages go through a bounded queue into the same
//! intake as `POST /api/v1/alerts`, in batches.
//!
//! Bounded everywhere: a frame is at most [`MAX_FRAME`] bytes, the queue holds
//! [`QUEUE`] messages. When the queue is full, UDP datagrams are dropped and
//! counted (UDP has no way to push back) and TCP connections stop being read,
//! so TCP senders slow down instead of Muster running out of memory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use muster_core::OrgId;
use muster_intake::framing::{FrameDecoder, Step};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::api::alerts::{Batch, ingest_batch};
use crate::state::AppState;

/// Longest syslog message accepted.
pub const MAX_FRAME: usize = 64 * 1024;
/// Messages waiting for intake.
pub const QUEUE: usize = 20_000;
/// Messages per intake batch.
const BATCH: usize = 2_000;
/// Longest a message waits for its batch to fill.
const LINGER: Duration = Duration::from_millis(200);

/// Counters of the listener.
#[derive(Debug, Default)]
pub struct SyslogStats {
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub created: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
}

/// The bound listeners.
#[derive(Debug, Clone)]
pub struct Syslog {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub stats: Arc<SyslogStats>,
}

/// Starts the configured listeners; `Ok(None)` when none is configured.
///
/// # Errors
/// A listener is configured without `syslog_org`, the organisation does not
/// exist, or an address cannot be bound.
pub async fn start(state: &AppState) -> anyhow::Result<Option<Syslog>> {
    let cfg = &state.config;
    if cfg.syslog_udp.is_none() && cfg.syslog_tcp.is_none() {
        return Ok(None);
    }
    let slug = cfg
        .syslog_org
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("syslog_org: required when a syslog listener is on"))?;
    let org = state.store.get_org_by_slug(slug).await.map_err(|e| anyhow::anyhow!("syslog_org {slug:?}: {e}"))?.id;
    let stats = Arc::new(SyslogStats::default());
    let (tx, rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    tokio::spawn(flush(state.clone(), org, rx, stats.clone()));
    let mut out = Syslog { udp: None, tcp: None, stats: stats.clone() };
    if let Some(addr) = cfg.syslog_udp {
        let socket = tokio::net::UdpSocket::bind(addr).await.map_err(|e| anyhow::anyhow!("syslog_udp {addr}: {e}"))?;
        out.udp = Some(socket.local_addr()?);
        tokio::spawn(udp(socket, tx.clone(), stats.clone()));
    }
    if let Some(addr) = cfg.syslog_tcp {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("syslog_tcp {addr}: {e}"))?;
        out.tcp = Some(listener.local_addr()?);
        tokio::spawn(tcp(listener, tx, stats));
    }
    tracing::info!(udp = ?out.udp, tcp = ?out.tcp, org = slug, "syslog listener on");
    Ok(Some(out))
}

/// One message as a line: newlines inside a frame would split it.
fn line(frame: &[u8]) -> Vec<u8> {
    let trimmed = frame.strip_suffix(b"\r").unwrap_or(frame);
    trimmed.iter().map(|b| if *b == b'\n' { b' ' } else { *b }).collect()
}

async fn udp(socket: tokio::net::UdpSocket, tx: mpsc::Sender<Vec<u8>>, stats: Arc<SyslogStats>) {
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        let Ok((n, _)) = socket.recv_from(&mut buf).await else { continue };
        stats.received.fetch_add(1, Ordering::Relaxed);
        let msg = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
        if msg.is_empty() {
            continue;
        }
        if tx.try_send(line(msg)).is_err() {
            let dropped = stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "syslog queue full: UDP messages dropped");
            }
        }
    }
}

async fn tcp(listener: tokio::net::TcpListener, tx: mpsc::Sender<Vec<u8>>, stats: Arc<SyslogStats>) {
    loop {
        let Ok((mut conn, peer)) = listener.accept().await else { continue };
        let (tx, stats) = (tx.clone(), stats.clone());
        tokio::spawn(async move {
            let mut decoder = FrameDecoder::new(MAX_FRAME);
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                let n = match conn.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut start = 0;
                loop {
                    match decoder.decode(&buf[start..]) {
                        Step::Frame(frame, used) => {
                            stats.received.fetch_add(1, Ordering::Relaxed);
                            // Waits while the queue is full: TCP pushes back on the sender.
                            if !frame.is_empty() && tx.send(line(frame)).await.is_err() {
                                return;
                            }
                            start += used;
                        }
                        Step::Dropped(e, used) => {
                            stats.rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, error = %e, "syslog frame dropped");
                            start += used;
                        }
                        Step::Skipped(used) => start += used,
                        Step::NeedMore => break,
                    }
                }
                buf.drain(..start);
            }
            if let Some(frame) = decoder.finish(&buf)
                && !frame.is_empty()
            {
                stats.received.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(line(frame)).await;
            }
        });
    }
}

async fn flush(state: AppState, org: OrgId, mut rx: mpsc::Receiver<Vec<u8>>, stats: Arc<SyslogStats>) {
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut body = first;
        let mut n = 1;
        let deadline = tokio::time::Instant::now() + LINGER;
        while n < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => {
                    body.push(b'\n');
                    body.extend_from_slice(&msg);
                    n += 1;
                }
                Ok(None) | Err(_) => break,
            }
        }
        let batch = Batch { body: body.into(), format: None, report: None, key: None };
        // Retry a failing store rather than dropping what was received.
        for attempt in 0u32.. {
            match ingest_batch(
                &state.store,
                org,
                state.config.dedup_window_secs,
                &state.config.correlation,
                batch.clone(),
            )
            .await
            {
                Ok(r) => {
                    state.alerts_committed(org, r.created, r.duplicates);
                    stats.created.fetch_add(r.created, Ordering::Relaxed);
                    stats.duplicates.fetch_add(r.duplicates, Ordering::Relaxed);
                    stats.rejected.fetch_add(r.rejected.len() as u64, Ordering::Relaxed);
                    if let Some(first) = r.rejected.first() {
                        tracing::debug!(rejected = r.rejected.len(), first = %first.reason, "syslog messages rejected");
                    }
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, "syslog batch not stored; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(25)))).await;
                }
            }
        }
    }
}
