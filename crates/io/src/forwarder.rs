//! The forwarding loop: poll every port, hand each received batch to the
//! datapath (`vepa_dataplane::Datapath`, which takes every frame its whole
//! way through switches and routers), send the copies in batches.
//!
//! Workers (threads, one per core by default) each own the receive side of
//! every n-th port and share the switches (a lock-free forwarding snapshot
//! and a sharded FDB) and every port's transmit side: a socket or TAP file
//! descriptor takes sends from any thread, the kernel serialising them, so
//! a frame for another worker's port needs no queue or wakeup in between.
//! Each worker waits on its ports through one epoll set (level-triggered).
//! Each readable port yields up to [`MAX_BATCH`] frames in one call; every frame is decided, and its copies
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
use crate::ipfix::ExportQueue;
use crate::link_in::LinkSink;
use crate::packet_in::{PacketIn, PacketInSink};
use crate::port::Port;
use crate::readiness::Readiness;
use crate::wire::WirePort;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use vepa_dataplane::datapath::RouterAttachment;
use vepa_dataplane::datapath::{DeviceCopy, LinkCopy, Sink, ToControllerCopy};
use vepa_dataplane::export::FlowMeter;
use vepa_dataplane::{Datapath, DropReason, Lane, PortCounters, PortId, Switch};
use vepa_packet::ipfix::FlowRecord;

/// How often the loop wakes up with no traffic to check for a stop and age the FDB.
const IDLE_WAKEUP: Duration = Duration::from_millis(100);
/// After forwarding, keep looking (without sleeping) this long: the answer
/// to what we just forwarded usually comes within it, and a sleeping
/// thread's wakeup costs more than the look.
const SPIN: Duration = Duration::from_micros(200);
/// How long a storming port is left unread.
pub const STORM_REST_MS: u64 = 2;
/// How often a worker reports the flows its meters timed out.
const EXPIRE_EVERY_MS: u64 = 1000;
/// Bytes of changed copies and segments one port's queue may hold before
/// it is sent, mid-batch: a batch of super-frames cut for many ports
/// without offloads stays within this per port.
const TX_HELD_LIMIT: usize = 2 << 20;

/// How many forwarding threads, and how they wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Threads (at least one, at most one per port).
    pub count: usize,
    /// Never sleep: look at the ports again at once, yielding the core to
    /// whoever else is runnable between looks. Each worker keeps a core
    /// busy even with no traffic; in return a frame never waits for a
    /// sleeping thread to be woken (tens of µs in a VM), which is most of
    /// the latency vepa adds on an idle path (`--busy-poll`).
    pub busy_poll: bool,
}

impl From<usize> for Workers {
    fn from(count: usize) -> Workers {
        Workers {
            count,
            busy_poll: false,
        }
    }
}

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

/// Every worker's counters as of its last publication (a few times a
/// second), for reading while the forwarder runs.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Worker, switch, port.
    slots: Mutex<Vec<Vec<Vec<PortCounters>>>>,
    /// Per worker: how busy it has been, and its decision caches.
    load: Mutex<Vec<WorkerLoad>>,
}

/// One forwarding worker's work so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLoad {
    /// Time spent reading, deciding and sending frames (not waiting).
    pub busy_ns: u64,
    /// Time since the worker started.
    pub alive_ns: u64,
    /// Frames the decision caches answered, and those they did not.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// When these (and the worker's port counters) were published: ms
    /// on the forwarder's clock.
    pub published_ms: u64,
}

/// How often a worker publishes its counters.
const PUBLISH_EVERY_MS: u64 = 250;

impl LiveCounters {
    fn reset(&self, workers: usize) {
        *self.slots.lock().unwrap_or_else(|e| e.into_inner()) = vec![Vec::new(); workers];
        *self.load.lock().unwrap_or_else(|e| e.into_inner()) = vec![WorkerLoad::default(); workers];
    }

    fn publish(&self, worker: usize, counters: &[Vec<PortCounters>], load: WorkerLoad) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get_mut(worker) {
            *slot = counters.to_vec();
        }
        drop(slots);
        if let Some(l) = self
            .load
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(worker)
        {
            *l = load;
        }
    }

    /// Each running worker's load as of its last publication.
    pub fn workers(&self) -> Vec<WorkerLoad> {
        self.load.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
    datapath: Datapath,
    workers: Workers,
    epoch: Instant,
    live: Arc<LiveCounters>,
    packet_in: Option<PacketInSink>,
    link: Option<LinkSink>,
}

/// Where a worker's copies wait to leave.
struct Outbox {
    /// One queue per port (any worker may send on any port), and which are not empty.
    tx: Vec<TxQueue>,
    dirty: Vec<usize>,
    /// A frame being segmented or having its checksum finished.
    segment: Vec<u8>,
}

/// What every worker reads: the ports and the datapath.
struct Shared<'a> {
    ports: &'a [Attachment],
    datapath: &'a Datapath,
    start: Instant,
    stop: &'a AtomicBool,
    busy_poll: bool,
    live: &'a LiveCounters,
    packet_in: Option<&'a PacketInSink>,
    link: Option<&'a LinkSink>,
}

impl Forwarder {
    pub fn new(switches: Vec<Switch>, ports: Vec<Attachment>) -> Forwarder {
        let devices: Vec<(usize, PortId)> = ports.iter().map(|a| (a.switch, a.id)).collect();
        let cores = switches.iter().map(|s| Arc::clone(s.core())).collect();
        let mut datapath = Datapath::new(cores, &devices);
        datapath.set_wires(&wires(&ports));
        Forwarder {
            datapath,
            switches,
            ports,
            workers: Workers::from(1),
            epoch: Instant::now(),
            live: Arc::default(),
            packet_in: None,
            link: None,
        }
    }

    /// Puts routers on switch ports (see [`Datapath::set_routers`]).
    pub fn set_routers(&mut self, routers: Vec<RouterAttachment>) {
        self.datapath.set_routers(routers);
    }

    /// Sends the frames flows output to `CONTROLLER` to `sink`.
    pub fn set_packet_in(&mut self, sink: PacketInSink) {
        self.packet_in = Some(sink);
    }

    /// Sends the frames of link protocols (LLDP, ECP) that arrive on the
    /// ports a link agent runs on to `inbox` (without one they are dropped
    /// there, counted as received).
    pub fn set_link_inbox(&mut self, inbox: LinkSink) {
        self.link = Some(inbox);
    }

    /// The instant FDB times count from. A forwarder rebuilt over switches
    /// that already learned must keep the clock of the one before.
    pub fn set_epoch(&mut self, epoch: Instant) {
        self.epoch = epoch;
    }

    /// The datapath the workers run (sharing its switches and routers),
    /// for a trace to shadow.
    pub fn datapath(&self) -> Datapath {
        self.datapath.clone()
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
    pub fn set_workers(&mut self, w: impl Into<Workers>) {
        let w = w.into();
        self.workers = Workers {
            count: w.count.max(1),
            ..w
        };
    }

    /// The switches, with every worker's counters summed in once `run` returns.
    pub fn switches(&self) -> &[Switch] {
        &self.switches
    }

    /// Forwards until `stop` is set; checks it at least every 100 ms.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let workers = self.workers.count.min(self.ports.len()).max(1);
        let shared = Shared {
            ports: &self.ports,
            datapath: &self.datapath,
            start: self.epoch,
            stop,
            busy_poll: self.workers.busy_poll,
            live: &self.live,
            packet_in: self.packet_in.as_ref(),
            link: self.link.as_ref(),
        };
        self.live.reset(workers);
        let epoch = self.epoch;
        let results: Vec<io::Result<Vec<Vec<PortCounters>>>> = std::thread::scope(|scope| {
            // The exporter ends when the last worker drops its queue.
            let (queue, records) = ExportQueue::new();
            let _ = std::thread::Builder::new()
                .name("vepa-ipfix".into())
                .spawn_scoped(scope, move || crate::ipfix::run_exporter(records, epoch));
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let shared = &shared;
                    let queue = queue.clone();
                    std::thread::Builder::new()
                        .name(format!("vepa-worker-{w}"))
                        .spawn_scoped(scope, move || Worker::new(shared, w, workers, queue).run())
                })
                .collect();
            drop(queue);
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

/// One forwarding thread: its share of the ports' receive sides, its
/// datapath lane (counters, caches) and buffers.
struct Worker<'a> {
    shared: &'a Shared<'a>,
    index: usize,
    /// Indexes into `shared.ports` this worker receives on.
    mine: Vec<usize>,
    ticks: bool,
    lane: Lane,
    failed: Vec<bool>,
    /// Until when (ms) each of `mine` rests after a storm; 0: not resting.
    resting: Vec<u64>,
    rx: RxBatch,
    out: Outbox,
    export: Export,
}

/// A worker's part of IPFIX export: a flow meter per exporting switch.
struct Export {
    queue: ExportQueue,
    meters: Vec<Option<FlowMeter>>,
    records: Vec<FlowRecord>,
    /// Per rx slot of the batch: metered, and the port it left by (see
    /// [`Emit::forwarded`]).
    sampled: Vec<bool>,
    egress: Vec<u32>,
}

/// Not yet sent anywhere ([`Export::egress`]).
const NO_EGRESS: u32 = u32::MAX;

impl Export {
    /// Makes, replaces or drops the meter of switch `si` to follow its
    /// export settings (what the old one held is reported first).
    fn follow(&mut self, sh: &Shared<'_>, si: usize) {
        let want = sh.datapath.ipfix(si);
        let Some(slot) = self.meters.get_mut(si) else {
            return;
        };
        let current = slot.as_ref().map(|m| m.export());
        let same = match (&want, current) {
            (Some(w), Some(c)) => Arc::ptr_eq(w, c),
            (None, None) => true,
            _ => false,
        };
        if !same {
            if let Some(mut old) = slot.take() {
                old.drain(&mut self.records);
                self.queue.push(old.export(), &mut self.records);
            }
            *slot = want.map(FlowMeter::new);
        }
    }

    /// Reports what every meter's timeouts say (`drain`: everything).
    fn expire(&mut self, now: u64, drain: bool) {
        for m in self.meters.iter_mut().flatten() {
            if drain {
                m.drain(&mut self.records);
            } else {
                m.expire(now, &mut self.records);
            }
            self.queue.push(m.export(), &mut self.records);
        }
    }
}

/// The datapath's copies onto a worker's queues.
struct Emit<'w, 'a> {
    sh: &'w Shared<'a>,
    out: &'w mut Outbox,
    rx: &'w RxBatch,
    /// The rx slot of the frame being decided (`None`: a router's frame).
    slot: Option<usize>,
    /// While metering: per rx slot, the port each frame left by.
    egress: Option<&'w mut [u32]>,
    /// The device the batch came in on (`None`: no batch, a tick).
    ingress: Option<usize>,
}

/// The pairs of ports that are both ends of one in-memory wire.
fn wires(ports: &[Attachment]) -> Vec<(usize, usize)> {
    let ends: Vec<(usize, &WirePort)> = ports
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((i, WirePort::of(a.port.as_ref())?)))
        .collect();
    ends.iter()
        .filter(|(_, a)| a.end() == 0)
        .filter_map(|&(i, a)| {
            let &(j, _) = ends
                .iter()
                .find(|(_, b)| b.wire() == a.wire() && b.end() == 1)?;
            Some((i, j))
        })
        .collect()
}

impl Sink for Emit<'_, '_> {
    fn crossed(&mut self, from: usize, to: usize, frame: &[u8]) {
        for (dev, dir) in [(from, Direction::Out), (to, Direction::In)] {
            if let Some(a) = self.sh.ports.get(dev) {
                if a.capture.is_active() {
                    a.capture.deliver(dir, frame);
                }
            }
        }
    }

    fn device(&mut self, j: usize, copy: DeviceCopy<'_>, counters: &mut PortCounters) {
        let sh = self.sh;
        let q = queue(&mut self.out.tx, &mut self.out.dirty, j);
        let from_rx = self.slot.filter(|_| copy.as_received);
        let offloads = sh.ports[j].port.offloads();
        if let Err(err) = q.push_for(
            offloads,
            from_rx,
            &copy.vnet,
            copy.frame,
            &mut self.out.segment,
        ) {
            counters.tx_errors += 1;
            tracing::trace!(port = sh.ports[j].port.name(), error = %err, "cannot send");
        }
        if q.held_bytes() > TX_HELD_LIMIT {
            let (queued, sent) = send_queue(sh, j, q, self.rx);
            counters.tx_errors += queued.saturating_sub(sent) as u64;
        }
    }

    fn slot(&mut self, slot: Option<usize>) {
        self.slot = slot;
    }

    fn wants_controller(&self) -> bool {
        self.sh.packet_in.is_some()
    }

    fn controller(&mut self, c: ToControllerCopy<'_>) {
        if let Some(sink) = self.sh.packet_in {
            // A full queue or a spent rate loses the copy (counted).
            let _ = sink.push(PacketIn {
                switch: Arc::clone(c.switch),
                in_port: c.in_port,
                reason: c.why.reason,
                table: c.why.table,
                cookie: c.why.cookie,
                metadata: c.why.metadata,
                max_len: c.why.max_len,
                frame: c.frame,
            });
        }
    }

    fn forwarded(&mut self, _si: usize, ports: &[vepa_dataplane::Egress]) {
        if let (Some(egress), Some(k)) = (self.egress.as_deref_mut(), self.slot) {
            if let Some(e) = egress.get_mut(k) {
                // OpenFlow's port number; 0: flooded to several, or none.
                *e = match ports {
                    [one] => one.port.index() as u32 + 1,
                    _ => 0,
                };
            }
        }
    }

    fn wants_drops(&self) -> bool {
        true
    }

    fn dropped(&mut self, si: usize, id: PortId, reason: DropReason, frame: &[u8]) {
        // The device of the port the frame entered: most often the batch's.
        let at = |a: &Attachment| a.switch == si && a.id == id;
        let dev = match self.ingress.filter(|&i| at(&self.sh.ports[i])) {
            Some(i) => Some(i),
            None => self.sh.datapath.device_of(si, id),
        };
        if let Some(a) = dev.map(|i| &self.sh.ports[i]) {
            if a.capture.wants_drops() {
                a.capture.deliver_drop(reason, frame);
            }
        }
    }

    fn link(&mut self, c: LinkCopy<'_>) {
        if let Some(inbox) = self.sh.link {
            // Over the port's budget, the frame is lost (counted there).
            let _ = inbox.push(c.switch, c.in_port, c.frame);
        }
    }
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared<'a>, w: usize, workers: usize, queue: ExportQueue) -> Worker<'a> {
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
            lane: shared.datapath.lane(),
            rx: RxBatch::new(MAX_BATCH),
            out: Outbox {
                tx: (0..shared.ports.len())
                    .map(|_| TxQueue::default())
                    .collect(),
                dirty: Vec::with_capacity(shared.ports.len()),
                segment: Vec::new(),
            },
            export: Export {
                queue,
                meters: (0..shared.datapath.switch_count()).map(|_| None).collect(),
                records: Vec::new(),
                sampled: vec![false; MAX_BATCH],
                egress: vec![NO_EGRESS; MAX_BATCH],
            },
        }
    }

    fn run(mut self) -> io::Result<Vec<Vec<PortCounters>>> {
        let mut readiness = Readiness::new()?;
        for (k, &i) in self.mine.iter().enumerate() {
            readiness.add(self.shared.ports[i].port.fd(), k)?;
        }
        // The ports to read this round (ready or with frames pending),
        // each once.
        let mut ready: Vec<usize> = Vec::with_capacity(self.mine.len());
        let mut marked = vec![false; self.mine.len()];
        let mut last_tick = 0u64;
        let mut last_publish = 0u64;
        let mut last_expire = 0u64;
        let mut last_frame = Instant::now() - SPIN;
        let born = Instant::now();
        let mut busy = Duration::ZERO;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let mut resting = false;
            if self.resting.iter().any(|r| *r != 0) {
                let now = self.shared.start.elapsed().as_millis() as u64;
                for (k, until) in self.resting.iter_mut().enumerate() {
                    if *until != 0 && now >= *until {
                        *until = 0;
                        readiness.add(self.shared.ports[self.mine[k]].port.fd(), k)?;
                    }
                    resting |= *until != 0;
                }
            }
            ready.clear();
            // Frames a port read ahead (or a guest queued without a kick)
            // are not on any descriptor: asked of each port, no syscall.
            for (k, &i) in self.mine.iter().enumerate() {
                if self.resting[k] == 0 && self.shared.ports[i].port.pending() {
                    ready.push(k);
                }
            }
            let pending = !ready.is_empty();
            let timeout = if pending || self.shared.busy_poll || last_frame.elapsed() < SPIN {
                0
            } else if resting {
                1
            } else {
                IDLE_WAKEUP.as_millis() as i32
            };
            let n = match readiness.wait(timeout, |k| ready.push(k)) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 && timeout == 0 && !pending {
                // Nothing yet: let whoever shares this core (often the very
                // endpoints we serve) run before we look again.
                std::thread::yield_now();
                continue;
            }
            let now = self.shared.start.elapsed().as_millis() as u64;
            let work = Instant::now();
            let mut moved = 0;
            for &k in &ready {
                if marked.get(k).copied().unwrap_or(true) || self.resting[k] != 0 {
                    continue;
                }
                marked[k] = true;
                moved += self.forward_batch(k, now);
                if self.resting[k] != 0 {
                    // Unread while it rests: its ring fills, the kernel drops.
                    let _ = readiness.remove(self.shared.ports[self.mine[k]].port.fd(), k);
                }
            }
            for &k in &ready {
                if let Some(m) = marked.get_mut(k) {
                    *m = false;
                }
            }
            if moved > 0 {
                last_frame = Instant::now();
                busy += last_frame - work;
            }
            if now.saturating_sub(last_publish) >= PUBLISH_EVERY_MS {
                last_publish = now;
                let (cache_hits, cache_misses) = Datapath::cache_stats(&self.lane);
                let load = WorkerLoad {
                    busy_ns: busy.as_nanos() as u64,
                    alive_ns: born.elapsed().as_nanos() as u64,
                    cache_hits,
                    cache_misses,
                    published_ms: now,
                };
                self.shared
                    .live
                    .publish(self.index, &self.lane.counters, load);
            }
            if self.ticks && now.saturating_sub(last_tick) >= 1000 {
                last_tick = now;
                let mut sink = Emit {
                    sh: self.shared,
                    out: &mut self.out,
                    rx: &self.rx,
                    slot: None,
                    egress: None,
                    ingress: None,
                };
                self.shared.datapath.tick(&mut self.lane, now, &mut sink);
                self.flush();
            }
            if now.saturating_sub(last_expire) >= EXPIRE_EVERY_MS {
                last_expire = now;
                self.export.expire(now, false);
            }
        }
        self.export.expire(0, true);
        Ok(self.lane.counters)
    }

    /// One receive call on this worker's k-th port, every frame through
    /// the datapath, every queue sent; returns how many frames came in.
    fn forward_batch(&mut self, k: usize, now: u64) -> usize {
        let sh = self.shared;
        let i = self.mine[k];
        let n = match sh.ports[i].port.recv_batch(&mut self.rx) {
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
                capture.deliver(Direction::In, self.rx.slot(k).frame());
            }
        }
        let (si, id) = (sh.ports[i].switch, sh.ports[i].id);
        let storm_drops = |lane: &Lane| {
            lane.counters[si]
                .get(id.index())
                .map_or(0, |c| c.storm_drops())
        };
        let storm_before = storm_drops(&self.lane);
        let rx = &self.rx;
        let ex = &mut self.export;
        ex.follow(sh, si);
        let metering = match ex.meters.get_mut(si).and_then(Option::as_mut) {
            Some(m) => {
                let mut any = false;
                for k in 0..n {
                    let s = m.sample();
                    ex.sampled[k] = s;
                    ex.egress[k] = NO_EGRESS;
                    any |= s;
                }
                any
            }
            None => false,
        };
        let mut sink = Emit {
            sh,
            out: &mut self.out,
            rx,
            slot: None,
            egress: metering.then_some(&mut ex.egress[..]),
            ingress: Some(i),
        };
        let frames = (0..n).map(|k| {
            let s = rx.slot(k);
            (k, s.frame(), s.vnet)
        });
        sh.datapath
            .receive_batch(&mut self.lane, si, id, frames, now, &mut sink);
        if metering {
            if let Some(m) = ex.meters.get_mut(si).and_then(Option::as_mut) {
                let ingress = id.index() as u32 + 1;
                for k in (0..n).filter(|&k| ex.sampled[k]) {
                    let s = rx.slot(k);
                    let egress = match ex.egress[k] {
                        NO_EGRESS => 0,
                        e => e,
                    };
                    m.observe(s.frame(), &s.vnet, ingress, egress, now);
                }
            }
        }
        let stormed = storm_drops(&self.lane) - storm_before;
        if n >= MAX_BATCH / 2 && stormed * 2 >= n as u64 {
            self.resting[k] = now + STORM_REST_MS;
        }
        self.flush();
        n
    }

    /// Sends every queue that has frames, in one call per port.
    fn flush(&mut self) {
        let sh = self.shared;
        for j in self.out.dirty.drain(..) {
            let (queued, sent) = send_queue(sh, j, &mut self.out.tx[j], &self.rx);
            let a = &sh.ports[j];
            self.lane.counters[a.switch][a.id.index()].tx_errors +=
                queued.saturating_sub(sent) as u64;
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

/// Device `j`'s transmit queue, marked as having something to send.
fn queue<'q>(tx: &'q mut [TxQueue], dirty: &mut Vec<usize>, j: usize) -> &'q mut TxQueue {
    if tx[j].is_empty() {
        dirty.push(j);
    }
    &mut tx[j]
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
