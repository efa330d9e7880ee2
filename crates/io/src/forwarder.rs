//! The forwarding loop: poll every port, run each received batch through
//! its switch, send the copies in batches.
//!
//! One thread, level-triggered poll(2). Each readable port yields up to
//! [`MAX_BATCH`] frames in one call; every frame is decided, and its copies
//! queue per output port; the queues leave in one call per port when the
//! batch is done. A port that cannot take offloads gets its copies with
//! checksums finished or cut into segments when they are queued. Buffers
//! are allocated once; nothing is allocated per frame.

use crate::batch::{RxBatch, TxQueue, MAX_BATCH};
use crate::port::Port;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vepa_dataplane::{Egress, PortId, Switch};
use vepa_packet::{checksum, gso, write_retagged, EthernetFrame, VirtioNetHdr};

/// How often the loop wakes up with no traffic to check for a stop and age the FDB.
const IDLE_WAKEUP: Duration = Duration::from_millis(100);
/// After forwarding, keep looking (without sleeping) this long: the answer
/// to what we just forwarded usually comes within it, and a sleeping
/// thread's wakeup costs more than the look.
const SPIN: Duration = Duration::from_micros(200);

/// A port device bound to one port of one switch.
pub struct Attachment {
    pub port: Box<dyn Port>,
    pub switch: usize,
    pub id: PortId,
}

pub struct Forwarder {
    switches: Vec<Switch>,
    ports: Vec<Attachment>,
    /// For each switch, for each of its ports, the index into `ports`.
    route: Vec<Vec<Option<usize>>>,
    /// Ports whose receive side failed once, so the error is logged once.
    failed: Vec<bool>,
}

/// Reusable state of the loop.
struct Buffers {
    rx: RxBatch,
    /// One queue per port, and which are not empty.
    tx: Vec<TxQueue>,
    dirty: Vec<usize>,
    out: Vec<Egress>,
    /// A frame with its tag changed, or a frame being segmented.
    scratch: Vec<u8>,
    segment: Vec<u8>,
}

impl Forwarder {
    pub fn new(switches: Vec<Switch>, ports: Vec<Attachment>) -> Forwarder {
        let mut route: Vec<Vec<Option<usize>>> = switches
            .iter()
            .map(|s| vec![None; s.config().ports.len()])
            .collect();
        for (i, a) in ports.iter().enumerate() {
            if let Some(slot) = route
                .get_mut(a.switch)
                .and_then(|r| r.get_mut(a.id.index()))
            {
                *slot = Some(i);
            }
        }
        let failed = vec![false; ports.len()];
        Forwarder {
            switches,
            ports,
            route,
            failed,
        }
    }

    pub fn switches(&self) -> &[Switch] {
        &self.switches
    }

    /// Forwards until `stop` is set; checks it at least every 100 ms.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let start = Instant::now();
        let mut pollfds: Vec<libc::pollfd> = self
            .ports
            .iter()
            .map(|a| libc::pollfd {
                fd: a.port.fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let mut b = Buffers {
            rx: RxBatch::new(MAX_BATCH),
            tx: (0..self.ports.len()).map(|_| TxQueue::default()).collect(),
            dirty: Vec::with_capacity(self.ports.len()),
            out: Vec::with_capacity(64),
            scratch: Vec::new(),
            segment: Vec::new(),
        };
        let mut last_tick = 0u64;
        let mut last_frame = Instant::now() - SPIN;
        while !stop.load(Ordering::Relaxed) {
            let timeout = if last_frame.elapsed() < SPIN {
                0
            } else {
                IDLE_WAKEUP.as_millis() as i32
            };
            // SAFETY: pollfds is a live, correctly sized array of pollfd.
            let n =
                unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 && timeout == 0 {
                // Nothing yet: let whoever shares this core (often the very
                // endpoints we serve) run before we look again.
                std::thread::yield_now();
                continue;
            }
            let now = start.elapsed().as_millis() as u64;
            let mut moved = 0;
            for (i, pfd) in pollfds.iter().enumerate() {
                if pfd.revents != 0 {
                    moved += self.forward_batch(i, now, &mut b);
                }
            }
            if moved > 0 {
                last_frame = Instant::now();
            }
            if now.saturating_sub(last_tick) >= 1000 {
                last_tick = now;
                for s in &mut self.switches {
                    s.tick(now);
                }
            }
        }
        Ok(())
    }

    /// One receive call on port `i`, every frame decided, every queue sent;
    /// returns how many frames came in.
    fn forward_batch(&mut self, i: usize, now: u64, b: &mut Buffers) -> usize {
        let n = match self.ports[i].port.recv_batch(&mut b.rx) {
            Ok(n) => n,
            Err(e) => {
                if !self.failed[i] {
                    self.failed[i] = true;
                    tracing::warn!(port = self.ports[i].port.name(), error = %e, "receive failed");
                }
                return 0;
            }
        };
        let (si, id) = (self.ports[i].switch, self.ports[i].id);
        for k in 0..n {
            let slot = b.rx.slot(k);
            let (frame, vnet) = (slot.frame(), slot.vnet);
            if self.switches[si]
                .process(id, frame, now, &mut b.out)
                .is_err()
            {
                continue;
            }
            // process() accepted it, so it parses.
            let Ok(parsed) = EthernetFrame::new_checked(frame) else {
                continue;
            };
            let current = parsed.vlan().map(|t| t.vid);
            for e in b.out.iter() {
                let Some(j) = self.route[si][e.port.index()] else {
                    continue;
                };
                let q = &mut b.tx[j];
                if q.is_empty() {
                    b.dirty.push(j);
                }
                let (bytes, hdr): (&[u8], VirtioNetHdr) = if current == e.tag {
                    (frame, vnet)
                } else {
                    write_retagged(&parsed, e.tag, &mut b.scratch);
                    let delta = 4 * (e.tag.is_some() as i32 - current.is_some() as i32);
                    (&b.scratch, vnet.shifted(delta))
                };
                let unchanged = current == e.tag;
                if let Err(err) = enqueue(
                    q,
                    self.ports[j].port.offloads(),
                    k,
                    unchanged,
                    &hdr,
                    bytes,
                    &mut b.segment,
                ) {
                    self.switches[si].count_tx_error(e.port);
                    tracing::trace!(port = self.ports[j].port.name(), error = %err, "cannot send");
                }
            }
        }
        for j in b.dirty.drain(..) {
            let q = &mut b.tx[j];
            let queued = q.len();
            let sent = self.ports[j]
                .port
                .send_batch(&mut q.frames(&b.rx))
                .unwrap_or(0);
            let a = &self.ports[j];
            for _ in sent..queued {
                self.switches[a.switch].count_tx_error(a.id);
            }
            q.clear();
        }
        n
    }
}

/// Queues a copy for a port as the port can take it: as it is when the
/// port has offloads (or the frame needs none), with its checksum
/// finished, or cut into wire-sized segments.
fn enqueue(
    q: &mut TxQueue,
    offloads: bool,
    slot: usize,
    unchanged: bool,
    vnet: &VirtioNetHdr,
    frame: &[u8],
    seg: &mut Vec<u8>,
) -> io::Result<()> {
    let plain = VirtioNetHdr::default();
    if offloads || vnet.is_plain() {
        let hdr = if offloads { *vnet } else { plain };
        if unchanged {
            q.push_rx(slot, hdr);
        } else {
            q.push_copy(frame, hdr);
        }
        return Ok(());
    }
    if !vnet.is_gso() {
        seg.clear();
        seg.extend_from_slice(frame);
        if !checksum::complete_partial(seg, vnet.csum_start as usize, vnet.csum_offset as usize) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "checksum offsets outside the frame",
            ));
        }
        q.push_copy(seg, plain);
        return Ok(());
    }
    let mut scratch = std::mem::take(seg);
    let r = gso::segment(frame, vnet, &mut scratch, |s| q.push_copy(s, plain));
    *seg = scratch;
    r.map(|_| ())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
