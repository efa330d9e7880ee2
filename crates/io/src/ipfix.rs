//! The IPFIX exporting process: flow records from the workers' meters
//! (`vepa_dataplane::export`) packed into messages and sent over UDP to
//! each switch's collector.
//!
//! One thread for every switch. A collector (with its observation domain)
//! gets its own socket and sequence number; templates and the sampling
//! options record go in its first message and again every
//! [`TEMPLATE_REFRESH`], since over UDP a collector that starts later (or
//! lost a message) learns them only so. A send that fails is counted, and
//! the records in it are not retried: IPFIX over UDP is best effort.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vepa_dataplane::export::{IpfixExport, IpfixStats};
use vepa_packet::ipfix::{FlowRecord, MessageWriter};

/// How often templates are sent again to a collector.
pub const TEMPLATE_REFRESH: Duration = Duration::from_secs(10);
/// The largest message: fits a 1500-byte path with IPv6 and UDP headers.
pub const MAX_MESSAGE: usize = 1400;
/// Batches the exporter's queue holds before workers' records are lost.
pub const QUEUE_BATCHES: usize = 1024;

/// Records of one switch from one worker.
pub struct ExportBatch {
    pub export: Arc<IpfixExport>,
    pub records: Vec<FlowRecord>,
}

/// A worker's way to the exporter.
#[derive(Clone)]
pub struct ExportQueue(SyncSender<ExportBatch>);

impl ExportQueue {
    pub fn new() -> (ExportQueue, Receiver<ExportBatch>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_BATCHES);
        (ExportQueue(tx), rx)
    }

    /// Hands `records` over (leaving it empty); counted as dropped when
    /// the exporter is behind.
    pub fn push(&self, export: &Arc<IpfixExport>, records: &mut Vec<FlowRecord>) {
        if records.is_empty() {
            return;
        }
        let n = records.len() as u64;
        let batch = ExportBatch {
            export: Arc::clone(export),
            records: std::mem::take(records),
        };
        match self.0.try_send(batch) {
            Ok(()) => IpfixStats::add(&export.stats.records, n),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                IpfixStats::add(&export.stats.dropped, n)
            }
        }
    }
}

struct Collector {
    socket: UdpSocket,
    sequence: u32,
    templates_sent: Option<Instant>,
    /// The sampling interval the last templates announced.
    announced: u32,
    warned: bool,
}

/// Sends what arrives on `rx` until every sender is gone. `epoch` is the
/// instant the records' millisecond times count from.
pub fn run_exporter(rx: Receiver<ExportBatch>, epoch: Instant) {
    let base_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(epoch.elapsed().as_millis() as u64);
    let mut collectors: HashMap<(SocketAddr, u32), Collector> = HashMap::new();
    // Collectors no socket could be opened for (warned once each).
    let mut unopened: HashMap<(SocketAddr, u32), Instant> = HashMap::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(batch) => send(&mut collectors, &mut unopened, batch, base_ms),
            // Workers hold senders until they return (after a stop, having
            // sent what their meters held).
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn send(
    collectors: &mut HashMap<(SocketAddr, u32), Collector>,
    unopened: &mut HashMap<(SocketAddr, u32), Instant>,
    batch: ExportBatch,
    base_ms: u64,
) {
    let cfg = &batch.export.config;
    let stats = &batch.export.stats;
    let key = (cfg.collector, cfg.domain);
    let c = match collectors.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(v) => {
            // A collector that could not be reached is tried again at most
            // once a second; its records meanwhile are lost, and counted.
            if unopened
                .get(&key)
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                IpfixStats::add(&stats.dropped, batch.records.len() as u64);
                return;
            }
            match open(cfg.collector) {
                Ok(socket) => {
                    unopened.remove(&key);
                    v.insert(Collector {
                        socket,
                        sequence: 0,
                        templates_sent: None,
                        announced: 0,
                        warned: false,
                    })
                }
                Err(e) => {
                    IpfixStats::add(&stats.send_errors, 1);
                    IpfixStats::add(&stats.dropped, batch.records.len() as u64);
                    if unopened.insert(key, Instant::now()).is_none() {
                        tracing::warn!(collector = %cfg.collector, error = %e, "cannot open an IPFIX socket");
                    }
                    return;
                }
            }
        }
    };
    let mut records = batch.records.into_iter().map(|mut r| {
        r.start_ms += base_ms;
        r.end_ms += base_ms;
        r
    });
    let mut pending = records.next();
    while pending.is_some() {
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let mut w = MessageWriter::new(cfg.domain, c.sequence, now_s, MAX_MESSAGE);
        let interval = cfg.sampling.max(1);
        let due = c
            .templates_sent
            .is_none_or(|t| t.elapsed() >= TEMPLATE_REFRESH);
        if due || c.announced != interval {
            w.templates(cfg.domain as u64, interval);
            c.templates_sent = Some(Instant::now());
            c.announced = interval;
        }
        while let Some(r) = &pending {
            if !w.record(r) {
                break;
            }
            pending = records.next();
        }
        let n = w.records();
        let data = w.data_records();
        let message = w.finish();
        c.sequence = c.sequence.wrapping_add(data);
        match c.socket.send(&message) {
            Ok(_) => {
                IpfixStats::add(&stats.messages, 1);
                IpfixStats::add(&stats.exported, n as u64);
                c.warned = false;
            }
            Err(e) => {
                IpfixStats::add(&stats.send_errors, 1);
                IpfixStats::add(&stats.dropped, n as u64);
                if !c.warned {
                    c.warned = true;
                    tracing::warn!(collector = %cfg.collector, error = %e, "IPFIX send failed");
                }
                // Resend templates once the collector is back.
                c.templates_sent = None;
            }
        }
    }
}

fn open(collector: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if collector.is_ipv6() {
        "[::]:0".parse().map_err(io::Error::other)?
    } else {
        "0.0.0.0:0".parse().map_err(io::Error::other)?
    };
    let s = UdpSocket::bind(local)?;
    s.connect(collector)?;
    Ok(s)
}
