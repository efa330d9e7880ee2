//! The forwarding loop: poll every port, run each received frame through
//! its switch, send the copies.
//!
//! One thread, level-triggered poll(2), up to [`BATCH`] frames per port per
//! wakeup so a busy port cannot starve the others. Retagging writes into one
//! reused buffer; nothing is allocated per frame.

use crate::port::Port;
use crate::MAX_FRAME;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vepa_dataplane::{Egress, PortId, Switch};
use vepa_packet::{checksum, gso, write_retagged, EthernetFrame, VirtioNetHdr};

/// Frames taken from one port before the loop looks at the others.
pub const BATCH: usize = 64;
/// How often the loop wakes up with no traffic to check for a stop and age the FDB.
const IDLE_WAKEUP: Duration = Duration::from_millis(100);

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
        let mut bufs = Buffers {
            rx: vec![0u8; MAX_FRAME + 4],
            tx: Vec::with_capacity(MAX_FRAME + 4),
            scratch: Vec::with_capacity(MAX_FRAME + 4),
        };
        let mut out: Vec<Egress> = Vec::with_capacity(64);
        let mut last_tick = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: pollfds is a live, correctly sized array of pollfd.
            let n = unsafe {
                libc::poll(
                    pollfds.as_mut_ptr(),
                    pollfds.len() as libc::nfds_t,
                    IDLE_WAKEUP.as_millis() as i32,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = start.elapsed().as_millis() as u64;
            for (i, pfd) in pollfds.iter().enumerate() {
                if pfd.revents != 0 {
                    self.drain(i, now, &mut bufs, &mut out);
                }
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

    fn drain(&mut self, i: usize, now: u64, bufs: &mut Buffers, out: &mut Vec<Egress>) {
        for _ in 0..BATCH {
            let (vnet, frame) = match self.ports[i].port.recv(&mut bufs.rx) {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => {
                    if !self.failed[i] {
                        self.failed[i] = true;
                        tracing::warn!(port = self.ports[i].port.name(), error = %e, "receive failed");
                    }
                    return;
                }
            };
            let (si, id) = (self.ports[i].switch, self.ports[i].id);
            let sw = &mut self.switches[si];
            if sw.process(id, frame, now, out).is_err() {
                continue;
            }
            // process() accepted it, so it parses.
            let Ok(parsed) = EthernetFrame::new_checked(frame) else {
                continue;
            };
            let current = parsed.vlan().map(|t| t.vid);
            for e in out.iter() {
                let Some(j) = self.route[si][e.port.index()] else {
                    continue;
                };
                let (bytes, hdr): (&[u8], VirtioNetHdr) = match (current, e.tag) {
                    (c, t) if c == t => (frame, vnet),
                    (c, t) => {
                        write_retagged(&parsed, t, &mut bufs.tx);
                        let delta = 4 * (t.is_some() as i32 - c.is_some() as i32);
                        (&bufs.tx, vnet.shifted(delta))
                    }
                };
                if let Err(err) =
                    send_to(self.ports[j].port.as_mut(), &hdr, bytes, &mut bufs.scratch)
                {
                    sw.count_tx_error(e.port);
                    tracing::trace!(port = self.ports[j].port.name(), error = %err, "send failed");
                }
            }
        }
    }
}

/// Reusable buffers of the loop: nothing is allocated per frame.
struct Buffers {
    rx: Vec<u8>,
    /// A frame with its VLAN tag pushed, popped or rewritten.
    tx: Vec<u8>,
    /// Checksum completion and software segmentation for ports without offloads.
    scratch: Vec<u8>,
}

/// Sends `frame` as `port` can take it: whole when the port has offloads
/// (or the frame needs none), with its checksum finished, or cut into
/// wire-sized segments.
fn send_to(
    port: &mut dyn Port,
    vnet: &VirtioNetHdr,
    frame: &[u8],
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    let plain = VirtioNetHdr::default();
    if port.offloads() || vnet.is_plain() {
        return port.send(vnet, frame);
    }
    if !vnet.is_gso() {
        scratch.clear();
        scratch.extend_from_slice(frame);
        if !checksum::complete_partial(scratch, vnet.csum_start as usize, vnet.csum_offset as usize)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "checksum offsets outside the frame",
            ));
        }
        return port.send(&plain, scratch);
    }
    let mut sent = Ok(());
    gso::segment(frame, vnet, scratch, |seg| {
        if sent.is_ok() {
            sent = port.send(&plain, seg);
        }
    })
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    sent
}
