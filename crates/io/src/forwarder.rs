//! The forwarding loop: poll every port, run each received batch through
//! its switch, send the copies in batches.
//!
//! Workers (threads, one per core by default) each own the receive side of
//! every n-th port and share the switches (a lock-free forwarding snapshot
//! and a sharded FDB) and every port's transmit side: a socket or TAP file
//! descriptor takes sends from any thread, the kernel serialising them, so
//! a frame for another worker's port needs no queue or wakeup in between.
//! Each worker polls (level-triggered) its ports. Each readable port yields up to
//! [`MAX_BATCH`] frames in one call; every frame is decided, and its copies
//! queue per output port; the queues leave in one call per port when the
//! batch is done. A port that cannot take offloads gets its copies with
//! checksums finished or cut into segments when they are queued. Buffers
//! are allocated once; nothing is allocated per frame.
//!
//! A port whose batch was mostly over its storm-control limits rests for
//! [`STORM_REST_MS`]: its ring fills and the kernel drops the excess as it
//! arrives, on the sender's time, instead of a worker spending its own
//! (and its other ports') time reading frames only to drop them.

use crate::batch::{RxBatch, TxQueue, MAX_BATCH};
use crate::capture::{CapturePoint, Direction};
use crate::packet_in::{PacketIn, PacketInSink};
use crate::port::Port;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vepa_dataplane::flow::Decision;
use vepa_dataplane::router::{Router, RouterTx};
use vepa_dataplane::{DropReason, FlowCache, PortCounters, PortId, Switch, SwitchCore};
use vepa_packet::{checksum, gso, write_retagged, EthernetFrame, VirtioNetHdr};

/// How often the loop wakes up with no traffic to check for a stop and age the FDB.
const IDLE_WAKEUP: Duration = Duration::from_millis(100);
/// After forwarding, keep looking (without sleeping) this long: the answer
/// to what we just forwarded usually comes within it, and a sleeping
/// thread's wakeup costs more than the look.
const SPIN: Duration = Duration::from_micros(200);
/// How long a storming port is left unread.
pub const STORM_REST_MS: u64 = 2;
/// Bytes of changed copies and segments one port's queue may hold before
/// it is sent, mid-batch: a batch of super-frames cut for many ports
/// without offloads stays within this per port.
const TX_HELD_LIMIT: usize = 2 << 20;

/// A port device bound to one port of one switch.
pub struct Attachment {
    pub port: std::sync::Arc<dyn Port>,
    pub switch: usize,
    pub id: PortId,
    /// Ports with the same key are served by the same worker: the two ends
    /// of a wire between two switches, so a frame crossing it is picked up
    /// by the thread that sent it, without a wakeup of another.
    pub affinity: Option<usize>,
    /// Where `vepa capture` listens on this port.
    pub capture: Arc<CapturePoint>,
}

/// A router whose ports sit on switches of this forwarder.
pub struct RouterAttachment {
    pub router: Arc<Router>,
    /// For each router port, in the router's order: its switch and port
    /// (`None`: a port whose switch this forwarder does not run).
    pub ports: Vec<Option<(usize, PortId)>>,
}

/// How many routers a frame may cross inside one forwarder before it is
/// dropped (a routing loop between routers would otherwise spin here;
/// TTL ends it too, this only bounds the work per received frame).
const MAX_ROUTER_HOPS: u8 = 16;

/// What is behind a switch port.
#[derive(Debug, Clone, Copy)]
enum Target {
    Nothing,
    /// A device: the index into the attachments.
    Device(usize),
    /// A router port: router index, port index.
    Router(usize, usize),
}

/// A frame the forwarder is to hand a router.
struct ToRouter {
    router: usize,
    port: usize,
    frame: Vec<u8>,
    hdr: VirtioNetHdr,
    hops: u8,
}

/// Every worker's counters as of its last publication (a few times a
/// second), for reading while the forwarder runs.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Worker, switch, port.
    slots: Mutex<Vec<Vec<Vec<PortCounters>>>>,
}

/// How often a worker publishes its counters.
const PUBLISH_EVERY_MS: u64 = 250;

impl LiveCounters {
    fn reset(&self, workers: usize) {
        *self.slots.lock().unwrap_or_else(|e| e.into_inner()) = vec![Vec::new(); workers];
    }

    fn publish(&self, worker: usize, counters: &[Vec<PortCounters>]) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get_mut(worker) {
            *slot = counters.to_vec();
        }
    }

    /// The sum over workers, per switch and port, of what the running
    /// forwarder has counted so far (empty once it has stopped and its
    /// counters went into the switches).
    pub fn sum(&self) -> Vec<Vec<PortCounters>> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut total: Vec<Vec<PortCounters>> = Vec::new();
        for w in slots.iter() {
            if total.len() < w.len() {
                total.resize(w.len(), Vec::new());
            }
            for (t, s) in total.iter_mut().zip(w) {
                if t.len() < s.len() {
                    t.resize(s.len(), PortCounters::default());
                }
                for (a, b) in t.iter_mut().zip(s) {
                    a.add(b);
                }
            }
        }
        total
    }
}

pub struct Forwarder {
    switches: Vec<Switch>,
    ports: Vec<Attachment>,
    routers: Vec<RouterAttachment>,
    /// For each switch, for each of its ports, what is behind it.
    route: Vec<Vec<Target>>,
    workers: usize,
    epoch: Instant,
    live: Arc<LiveCounters>,
    packet_in: Option<PacketInSink>,
}

/// Reusable state of one worker.
struct Buffers {
    rx: RxBatch,
    d: Decision,
    out: Outbox,
    /// Frames routers sent, to run through their switches.
    routed: Vec<RouterTx>,
}

/// Where a decided frame's copies go before they leave.
struct Outbox {
    /// One queue per port (any worker may send on any port), and which are not empty.
    tx: Vec<TxQueue>,
    dirty: Vec<usize>,
    /// A frame with its tag changed, or a frame being segmented.
    scratch: Vec<u8>,
    segment: Vec<u8>,
    /// Copies for router ports, in arrival order.
    to_router: std::collections::VecDeque<ToRouter>,
}

/// What every worker reads: the ports and the switches' shared cores.
struct Shared<'a> {
    ports: &'a [Attachment],
    cores: Vec<&'a SwitchCore>,
    routers: &'a [RouterAttachment],
    route: &'a [Vec<Target>],
    start: Instant,
    stop: &'a AtomicBool,
    live: &'a LiveCounters,
    packet_in: Option<&'a PacketInSink>,
    names: Vec<Arc<str>>,
}

impl Forwarder {
    pub fn new(switches: Vec<Switch>, ports: Vec<Attachment>) -> Forwarder {
        let mut route: Vec<Vec<Target>> = switches
            .iter()
            .map(|s| vec![Target::Nothing; s.config().ports.len()])
            .collect();
        for (i, a) in ports.iter().enumerate() {
            if let Some(slot) = route
                .get_mut(a.switch)
                .and_then(|r| r.get_mut(a.id.index()))
            {
                *slot = Target::Device(i);
            }
        }
        Forwarder {
            switches,
            ports,
            routers: Vec::new(),
            route,
            workers: 1,
            epoch: Instant::now(),
            live: Arc::default(),
            packet_in: None,
        }
    }

    /// Puts routers on switch ports: a copy the switch sends to such a
    /// port goes to the router, and what the router sends enters the
    /// switch by that port.
    pub fn set_routers(&mut self, routers: Vec<RouterAttachment>) {
        for (ri, r) in routers.iter().enumerate() {
            for (pi, (si, id)) in r
                .ports
                .iter()
                .enumerate()
                .filter_map(|(pi, p)| p.map(|p| (pi, p)))
            {
                if let Some(slot) = self.route.get_mut(si).and_then(|x| x.get_mut(id.index())) {
                    *slot = Target::Router(ri, pi);
                }
            }
        }
        self.routers = routers;
    }

    /// Sends the frames flows output to `CONTROLLER` to `sink`.
    pub fn set_packet_in(&mut self, sink: PacketInSink) {
        self.packet_in = Some(sink);
    }

    /// The instant FDB times count from. A forwarder rebuilt over switches
    /// that already learned must keep the clock of the one before.
    pub fn set_epoch(&mut self, epoch: Instant) {
        self.epoch = epoch;
    }

    /// Counters of the running forwarder, readable from another thread.
    pub fn live(&self) -> Arc<LiveCounters> {
        Arc::clone(&self.live)
    }

    /// The switches (with the counters of finished runs) and the ports back.
    pub fn into_parts(self) -> (Vec<Switch>, Vec<Attachment>) {
        (self.switches, self.ports)
    }

    /// Forwards with `n` threads (at least one, at most one per port), each
    /// owning the receive side of every n-th port.
    pub fn set_workers(&mut self, n: usize) {
        self.workers = n.max(1);
    }

    /// The switches, with every worker's counters summed in once `run` returns.
    pub fn switches(&self) -> &[Switch] {
        &self.switches
    }

    /// Forwards until `stop` is set; checks it at least every 100 ms.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let workers = self.workers.min(self.ports.len()).max(1);
        let shared = Shared {
            ports: &self.ports,
            cores: self.switches.iter().map(|s| s.core().as_ref()).collect(),
            routers: &self.routers,
            route: &self.route,
            start: self.epoch,
            stop,
            live: &self.live,
            packet_in: self.packet_in.as_ref(),
            names: self
                .switches
                .iter()
                .map(|s| Arc::from(s.name().as_str()))
                .collect(),
        };
        self.live.reset(workers);
        let sizes: Vec<usize> = self
            .switches
            .iter()
            .map(|s| s.config().ports.len())
            .collect();
        let results: Vec<io::Result<Vec<Vec<PortCounters>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let shared = &shared;
                    let sizes = sizes.clone();
                    std::thread::Builder::new()
                        .name(format!("vepa-worker-{w}"))
                        .spawn_scoped(scope, move || Worker::new(shared, w, workers, &sizes).run())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("a forwarding worker panicked"))),
                    Err(e) => Err(e),
                })
                .collect()
        });
        // Counters move from the live view into the switches in one step for
        // whoever reads both under one lock.
        self.live.reset(0);
        let mut first_err = None;
        for r in results {
            match r {
                Ok(counters) => {
                    for (sw, c) in self.switches.iter_mut().zip(&counters) {
                        sw.absorb(c);
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// One forwarding thread: its share of the ports' receive sides, its own
/// counters and buffers.
struct Worker<'a> {
    shared: &'a Shared<'a>,
    index: usize,
    /// Indexes into `shared.ports` this worker receives on.
    mine: Vec<usize>,
    ticks: bool,
    counters: Vec<Vec<PortCounters>>,
    /// One decision cache per switch.
    flows: Vec<FlowCache>,
    failed: Vec<bool>,
    /// Until when (ms) each of `mine` rests after a storm; 0: not resting.
    resting: Vec<u64>,
    b: Buffers,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared<'a>, w: usize, workers: usize, sizes: &[usize]) -> Worker<'a> {
        let mine: Vec<usize> = assign(shared.ports, workers)
            .into_iter()
            .enumerate()
            .filter(|(_, owner)| *owner == w)
            .map(|(i, _)| i)
            .collect();
        Worker {
            shared,
            index: w,
            failed: vec![false; mine.len()],
            resting: vec![0; mine.len()],
            mine,
            ticks: w == 0,
            counters: sizes
                .iter()
                .map(|n| vec![PortCounters::default(); *n])
                .collect(),
            flows: sizes.iter().map(|_| FlowCache::default()).collect(),
            b: Buffers {
                rx: RxBatch::new(MAX_BATCH),
                d: Decision::default(),
                out: Outbox {
                    tx: (0..shared.ports.len())
                        .map(|_| TxQueue::default())
                        .collect(),
                    dirty: Vec::with_capacity(shared.ports.len()),
                    scratch: Vec::new(),
                    segment: Vec::new(),
                    to_router: std::collections::VecDeque::new(),
                },
                routed: Vec::new(),
            },
        }
    }

    fn run(mut self) -> io::Result<Vec<Vec<PortCounters>>> {
        let mut pollfds: Vec<libc::pollfd> = self
            .mine
            .iter()
            .map(|&i| libc::pollfd {
                fd: self.shared.ports[i].port.fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let mut last_tick = 0u64;
        let mut last_publish = 0u64;
        let mut last_frame = Instant::now() - SPIN;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let mut resting = false;
            if self.resting.iter().any(|r| *r != 0) {
                let now = self.shared.start.elapsed().as_millis() as u64;
                for (k, until) in self.resting.iter_mut().enumerate() {
                    if *until != 0 && now >= *until {
                        *until = 0;
                        pollfds[k].fd = self.shared.ports[self.mine[k]].port.fd();
                    }
                    resting |= *until != 0;
                }
            }
            let pending = self
                .mine
                .iter()
                .zip(&self.resting)
                .any(|(&i, r)| *r == 0 && self.shared.ports[i].port.pending());
            let timeout = if pending || last_frame.elapsed() < SPIN {
                0
            } else if resting {
                1
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
            if n == 0 && timeout == 0 && !pending {
                // Nothing yet: let whoever shares this core (often the very
                // endpoints we serve) run before we look again.
                std::thread::yield_now();
                continue;
            }
            let now = self.shared.start.elapsed().as_millis() as u64;
            let mut moved = 0;
            for (k, pfd) in pollfds.iter_mut().enumerate() {
                if self.resting[k] != 0 {
                    continue;
                }
                if pfd.revents != 0 || self.shared.ports[self.mine[k]].port.pending() {
                    moved += self.forward_batch(k, now);
                    if self.resting[k] != 0 {
                        // A negative fd is one poll() skips.
                        pfd.fd = -1;
                    }
                }
            }
            if moved > 0 {
                last_frame = Instant::now();
            }
            if now.saturating_sub(last_publish) >= PUBLISH_EVERY_MS {
                last_publish = now;
                self.shared.live.publish(self.index, &self.counters);
            }
            if self.ticks && now.saturating_sub(last_tick) >= 1000 {
                last_tick = now;
                for core in &self.shared.cores {
                    core.tick(now);
                }
                for (ri, r) in self.shared.routers.iter().enumerate() {
                    r.router.tick(now, &mut self.b.routed);
                    self.inject(ri, 1, now);
                }
                self.route_all(now);
                self.flush();
            }
        }
        Ok(self.counters)
    }

    /// One receive call on this worker's k-th port, every frame decided,
    /// every queue sent; returns how many frames came in.
    fn forward_batch(&mut self, k: usize, now: u64) -> usize {
        let sh = self.shared;
        let i = self.mine[k];
        let b = &mut self.b;
        let n = match sh.ports[i].port.recv_batch(&mut b.rx) {
            Ok(n) => n,
            Err(e) => {
                if !self.failed[k] {
                    self.failed[k] = true;
                    tracing::warn!(port = sh.ports[i].port.name(), error = %e, "receive failed");
                }
                return 0;
            }
        };
        let capture = &sh.ports[i].capture;
        if capture.is_active() {
            for k in 0..n {
                capture.deliver(Direction::In, b.rx.slot(k).frame());
            }
        }
        let (si, id) = (sh.ports[i].switch, sh.ports[i].id);
        let core = sh.cores[si];
        let fw = core.snapshot();
        let counters = &mut self.counters[si];
        let storm_before = counters.get(id.index()).map_or(0, |c| c.storm_drops());
        let flows = &mut self.flows[si];
        for slot_i in 0..n {
            let slot = b.rx.slot(slot_i);
            let (frame, vnet) = (slot.frame(), slot.vnet);
            if gso::within_bounds(frame.len(), &vnet).is_err() {
                // A segment size of 1 would make one frame 65,000 on
                // every port without offloads (or in the kernel).
                if let Some(c) = counters.get_mut(id.index()) {
                    c.rx_frames += 1;
                    c.rx_bytes += frame.len() as u64;
                    c.count_drop(DropReason::BadGso);
                }
                continue;
            }
            if core
                .process_cached(&fw, flows, counters, id, frame, now, &mut b.d)
                .is_err()
            {
                continue;
            }
            let at = Decided {
                si,
                id,
                frame,
                vnet,
                slot: Some(slot_i),
                hops: 0,
            };
            emit(sh, &mut b.out, &b.rx, &b.d, counters, at);
        }
        let stormed = self.counters[si]
            .get(id.index())
            .map_or(0, |c| c.storm_drops())
            - storm_before;
        if n >= MAX_BATCH / 2 && stormed * 2 >= n as u64 {
            self.resting[k] = now + STORM_REST_MS;
        }
        if !self.b.out.to_router.is_empty() {
            self.route_all(now);
        }
        self.flush();
        n
    }

    /// Hands routers their frames and runs what they send through the
    /// switches, until no router has anything left (frames that crossed
    /// [`MAX_ROUTER_HOPS`] routers are not handed on).
    fn route_all(&mut self, now: u64) {
        while let Some(t) = self.b.out.to_router.pop_front() {
            let Some(r) = self.shared.routers.get(t.router) else {
                continue;
            };
            r.router
                .receive(t.port, &t.frame, &t.hdr, now, &mut self.b.routed);
            self.inject(t.router, t.hops + 1, now);
        }
    }

    /// Runs the frames router `ri` sent (in `b.routed`) through the
    /// switches its ports are on.
    fn inject(&mut self, ri: usize, hops: u8, now: u64) {
        let sh = self.shared;
        let Some(r) = sh.routers.get(ri) else {
            self.b.routed.clear();
            return;
        };
        let routed = std::mem::take(&mut self.b.routed);
        for tx in &routed {
            let Some(&Some((si, id))) = r.ports.get(tx.port) else {
                continue;
            };
            let core = sh.cores[si];
            let fw = core.snapshot();
            let counters = &mut self.counters[si];
            if core
                .process_cached(
                    &fw,
                    &mut self.flows[si],
                    counters,
                    id,
                    &tx.frame,
                    now,
                    &mut self.b.d,
                )
                .is_err()
            {
                continue;
            }
            let at = Decided {
                si,
                id,
                frame: &tx.frame,
                vnet: tx.hdr,
                slot: None,
                hops,
            };
            emit(sh, &mut self.b.out, &self.b.rx, &self.b.d, counters, at);
        }
        self.b.routed = routed;
        self.b.routed.clear();
    }

    /// Sends every queue that has frames, in one call per port.
    fn flush(&mut self) {
        let sh = self.shared;
        let b = &mut self.b;
        for j in b.out.dirty.drain(..) {
            let (queued, sent) = send_queue(sh, j, &mut b.out.tx[j], &b.rx);
            let a = &sh.ports[j];
            self.counters[a.switch][a.id.index()].tx_errors += queued.saturating_sub(sent) as u64;
        }
    }
}

/// Sends what port `j`'s queue holds (captured first) and empties it;
/// returns how many were queued and how many the device took.
fn send_queue(sh: &Shared<'_>, j: usize, q: &mut TxQueue, rx: &RxBatch) -> (usize, usize) {
    let queued = q.len();
    if queued == 0 {
        return (0, 0);
    }
    let capture = &sh.ports[j].capture;
    if capture.is_active() {
        for (_, f) in q.frames(rx) {
            capture.deliver(Direction::Out, f);
        }
    }
    let sent = sh.ports[j].port.send_batch(&mut q.frames(rx)).unwrap_or(0);
    q.clear();
    (queued, sent)
}

/// A frame a switch has decided on: where it came from and what it is.
#[derive(Clone, Copy)]
struct Decided<'f> {
    /// Its switch and ingress port.
    si: usize,
    id: PortId,
    frame: &'f [u8],
    vnet: VirtioNetHdr,
    /// The rx slot it is in (`None`: a router's frame).
    slot: Option<usize>,
    /// Routers it has crossed.
    hops: u8,
}

/// Queues the copies decision `d` makes of frame `at` for their ports,
/// routers and the controller.
fn emit(
    sh: &Shared<'_>,
    out: &mut Outbox,
    rx: &RxBatch,
    d: &Decision,
    counters: &mut [PortCounters],
    at: Decided<'_>,
) {
    // The switch accepted it, so it parses.
    let Ok(parsed) = EthernetFrame::new_checked(at.frame) else {
        return;
    };
    emit_egress(sh, out, rx, d, counters, at, &parsed);
    emit_generated(sh, out, d, at);
    if let (Some(sink), false) = (sh.packet_in, d.controller.is_empty()) {
        to_controller(sh, sink, d, at, &parsed);
    }
}

/// The frame's copies for the switch's ports (each as its egress tag and
/// rewrite make it), on their devices' queues or to the routers behind them.
fn emit_egress(
    sh: &Shared<'_>,
    out: &mut Outbox,
    rx: &RxBatch,
    d: &Decision,
    counters: &mut [PortCounters],
    at: Decided<'_>,
    parsed: &EthernetFrame<&[u8]>,
) {
    let current = parsed.vlan().map(|t| t.vid);
    for e in d.egress.iter() {
        let target = sh.route[at.si][e.port.index()];
        let rewrite = d.rewrite_of(e);
        let unchanged = current == e.tag && rewrite.is_none();
        let (bytes, hdr): (&[u8], VirtioNetHdr) = if unchanged {
            (at.frame, at.vnet)
        } else {
            match rewrite {
                Some(r) => r.write(at.frame, e.tag, at.vnet.needs_csum(), &mut out.scratch),
                None => write_retagged(parsed, e.tag, &mut out.scratch),
            }
            let delta = out.scratch.len() as i32 - at.frame.len() as i32;
            (&out.scratch, at.vnet.shifted(delta))
        };
        match target {
            Target::Nothing => {}
            Target::Router(router, port) => {
                to_router(&mut out.to_router, router, port, bytes, hdr, at.hops)
            }
            Target::Device(j) => {
                let q = queue(&mut out.tx, &mut out.dirty, j);
                let from_rx = at.slot.filter(|_| unchanged);
                let offloads = sh.ports[j].port.offloads();
                if let Err(err) = enqueue(q, offloads, from_rx, &hdr, bytes, &mut out.segment) {
                    counters[e.port.index()].tx_errors += 1;
                    tracing::trace!(port = sh.ports[j].port.name(), error = %err, "cannot send");
                }
                if q.held_bytes() > TX_HELD_LIMIT {
                    let (queued, sent) = send_queue(sh, j, q, rx);
                    counters[e.port.index()].tx_errors += queued.saturating_sub(sent) as u64;
                }
            }
        }
    }
}

/// The frames the decision made of its own (ARP answers, a filter's
/// reject), untagged unless it says otherwise.
fn emit_generated(sh: &Shared<'_>, out: &mut Outbox, d: &Decision, at: Decided<'_>) {
    for g in &d.generated {
        let bytes: &[u8] = match g.tag {
            None => &g.frame,
            Some(_) => match EthernetFrame::new_checked(&g.frame[..]) {
                Ok(f) => {
                    write_retagged(&f, g.tag, &mut out.scratch);
                    &out.scratch
                }
                Err(_) => continue,
            },
        };
        let plain = VirtioNetHdr::default();
        match sh.route[at.si].get(g.port.index()) {
            Some(Target::Device(j)) => {
                let offloads = sh.ports[*j].port.offloads();
                let q = queue(&mut out.tx, &mut out.dirty, *j);
                let _ = enqueue(q, offloads, None, &plain, bytes, &mut out.segment);
            }
            Some(Target::Router(router, port)) => {
                to_router(&mut out.to_router, *router, *port, bytes, plain, at.hops)
            }
            _ => {}
        }
    }
}

/// Device `j`'s transmit queue, marked as having something to send.
fn queue<'q>(tx: &'q mut [TxQueue], dirty: &mut Vec<usize>, j: usize) -> &'q mut TxQueue {
    if tx[j].is_empty() {
        dirty.push(j);
    }
    &mut tx[j]
}

/// Hands a copy to router `router`'s port `port`, unless it has crossed
/// [`MAX_ROUTER_HOPS`] routers already.
fn to_router(
    to: &mut std::collections::VecDeque<ToRouter>,
    router: usize,
    port: usize,
    frame: &[u8],
    hdr: VirtioNetHdr,
    hops: u8,
) {
    if hops < MAX_ROUTER_HOPS {
        to.push_back(ToRouter {
            router,
            port,
            frame: frame.to_vec(),
            hdr,
            hops,
        });
    }
}

/// The copies the flow tables send to the controller, as the wire would
/// carry them: rewritten, segmented, checksums finished.
fn to_controller(
    sh: &Shared<'_>,
    sink: &PacketInSink,
    d: &Decision,
    at: Decided<'_>,
    parsed: &EthernetFrame<&[u8]>,
) {
    for c in &d.controller {
        let mut bytes = Vec::with_capacity(at.frame.len() + 4);
        match d.rewrites.get((c.rewrite as usize).wrapping_sub(1)) {
            Some(r) => r.write(at.frame, c.tag, at.vnet.needs_csum(), &mut bytes),
            None => write_retagged(parsed, c.tag, &mut bytes),
        }
        let send = |frame: Vec<u8>| {
            // A full queue or a spent rate loses the copy (counted).
            let _ = sink.push(PacketIn {
                switch: Arc::clone(&sh.names[at.si]),
                in_port: at.id,
                reason: c.reason,
                table: c.table,
                cookie: c.cookie,
                metadata: c.metadata,
                max_len: c.max_len,
                frame,
            });
        };
        let h = at.vnet.shifted(bytes.len() as i32 - at.frame.len() as i32);
        if h.is_gso() {
            // The controller sees what the wire would carry:
            // segments with their checksums, not a super-frame
            // it could send back whole in a packet-out.
            let mut scratch = Vec::new();
            let _ = gso::segment(&bytes, &h, &mut scratch, |seg| send(seg.to_vec()));
            continue;
        }
        if h.needs_csum() {
            checksum::complete_partial(&mut bytes, h.csum_start as usize, h.csum_offset as usize);
        }
        send(bytes);
    }
}

/// Which worker receives on each port: ports sharing an affinity key
/// together, the rest spread round-robin after them.
fn assign(ports: &[Attachment], workers: usize) -> Vec<usize> {
    let mut owner = vec![usize::MAX; ports.len()];
    let mut next = 0;
    let mut by_key: Vec<(usize, usize)> = Vec::new();
    for (i, a) in ports.iter().enumerate() {
        if let Some(key) = a.affinity {
            let w = match by_key.iter().find(|(k, _)| *k == key) {
                Some((_, w)) => *w,
                None => {
                    let w = next % workers;
                    next += 1;
                    by_key.push((key, w));
                    w
                }
            };
            owner[i] = w;
        }
    }
    for o in owner.iter_mut().filter(|o| **o == usize::MAX) {
        *o = next % workers;
        next += 1;
    }
    owner
}

/// Queues a copy for a port as the port can take it: as it is when the
/// port has offloads (or the frame needs none), with its checksum
/// finished, or cut into wire-sized segments.
/// `slot`: the frame is that receive slot's, unchanged (no copy).
fn enqueue(
    q: &mut TxQueue,
    offloads: bool,
    slot: Option<usize>,
    vnet: &VirtioNetHdr,
    frame: &[u8],
    seg: &mut Vec<u8>,
) -> io::Result<()> {
    let plain = VirtioNetHdr::default();
    if offloads || vnet.is_plain() {
        let hdr = if offloads { *vnet } else { plain };
        if let Some(slot) = slot {
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
