//! The datapath: a forwarder's switches and routers wired together, and a
//! frame's whole way through them, from the port it came in on to every
//! copy that leaves (as Open vSwitch's dpif-netdev does over ofproto).
//!
//! A frame is parsed once where it enters ([`Parsed`]), decided by its
//! switch (through the thread's decision cache), and its copies are made
//! as each egress port's tag and the flows' rewrites say: to a device, a
//! router behind a switch port, or the controller. A router is handed the
//! switch's own [`Parsed`] when its copy is the frame unchanged, so it
//! reads nothing again. What a router sends enters the switch its port is
//! on, and so on until nothing is left or a frame has crossed
//! [`MAX_HOPS`] routers and wires. A patch wire between two switches of
//! the datapath ([`Datapath::set_wires`]) is crossed in memory: the copy
//! for one end enters the other end's switch on the same thread, with no
//! device, syscall or wakeup in between. The I/O side owns the devices,
//! their queues and the polling; it hands frames in and takes the copies
//! through a [`Sink`].

use crate::flow::{Decision, ToController};
use crate::parsed::Parsed;
use crate::router::{Router, RouterTx};
use crate::trace::{Delivery, Hop, HopKind, Stage, Step, Trace};
use crate::{DropReason, FlowCache, Forwarding, PortCounters, PortId, SwitchCore};
use std::collections::VecDeque;
use std::sync::Arc;
use vepa_packet::{checksum, gso, VirtioNetHdr};

/// How many routers and wires a frame may cross inside one datapath
/// before it is dropped: a routing loop between routers, or a loop of
/// patch wires (which no TTL ends), would otherwise spin here. This bounds
/// the work per received frame.
pub const MAX_HOPS: u8 = 16;

/// How many frames may wait to cross wires at once; a copy beyond that
/// (a flood multiplying around loops of wires) is dropped and counted as
/// the sending port's transmit error.
pub const MAX_WIRED: usize = 4096;

/// Buffers of frames that crossed a wire, kept for the next ones.
const SPARE_BUFFERS: usize = 64;

/// A router whose ports sit on switches of this datapath.
#[derive(Clone)]
pub struct RouterAttachment {
    pub router: Arc<Router>,
    /// For each router port, in the router's order: its switch and port
    /// (`None`: a port whose switch this datapath does not run).
    pub ports: Vec<Option<(usize, PortId)>>,
}

/// What is behind a switch port.
#[derive(Debug, Clone, Copy)]
enum Target {
    Nothing,
    /// A device: the I/O side's index for it.
    Device(usize),
    /// A router port: router index, port index.
    Router(usize, usize),
    /// One end of a wire crossed in memory: its device, and the other
    /// end's device, switch and port.
    Wire(WireEnd),
}

/// Where a wire leads, seen from one end.
#[derive(Debug, Clone, Copy)]
struct WireEnd {
    dev: usize,
    peer_dev: usize,
    si: usize,
    id: PortId,
}

/// A frame that crossed a wire, waiting to enter the far switch.
struct Wired {
    si: usize,
    id: PortId,
    hops: u8,
    frame: Vec<u8>,
    vnet: VirtioNetHdr,
    /// The receive slot whose frame this is, byte for byte (it crossed
    /// unchanged): its bytes are read from there (`frame` stays empty),
    /// and a device copy of it may still go from there.
    slot: Option<usize>,
}

/// One copy for a device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceCopy<'a> {
    pub frame: &'a [u8],
    pub vnet: VirtioNetHdr,
    /// The frame exactly as the port handed it to
    /// [`receive`](Datapath::receive): the sink may send it from where it
    /// was received, without a copy. Never so for what a router sent.
    pub as_received: bool,
}

/// A copy the flow tables send to the controller, as the wire would
/// carry it: rewritten, segmented, checksums finished.
pub struct ToControllerCopy<'a> {
    pub switch: &'a Arc<str>,
    pub in_port: PortId,
    pub why: &'a ToController,
    pub frame: Vec<u8>,
}

/// Where the datapath's copies leave it: the I/O side's queues.
pub trait Sink {
    /// A copy for device `dev` (the index the I/O side gave the
    /// datapath); `counters` are the egress port's, for what the device
    /// refuses.
    fn device(&mut self, dev: usize, copy: DeviceCopy<'_>, counters: &mut PortCounters);

    /// A copy crossed a wire in memory, from device `from` to device `to`
    /// (for captures on either end).
    fn crossed(&mut self, _from: usize, _to: usize, _frame: &[u8]) {}

    /// The receive slot of the frame whose copies come next (`None`: a
    /// router's frame), for a sink that sends a copy `as_received` from
    /// where it was received.
    fn slot(&mut self, _slot: Option<usize>) {}

    /// Whether copies to the controller are wanted at all.
    fn wants_controller(&self) -> bool {
        false
    }

    /// A copy for the controller.
    fn controller(&mut self, _copy: ToControllerCopy<'_>) {}

    /// A frame for the link agent of its port (LLDP, ECP), as received.
    fn link(&mut self, _copy: LinkCopy<'_>) {}

    /// Whether the sink wants the frames switches drop whole as they
    /// enter (a capture of drops is on): asked only for such a frame.
    fn wants_drops(&self) -> bool {
        false
    }

    /// A frame switch `si` dropped whole, for `reason`, as it entered
    /// port `id` (its mirrors may still copy it).
    fn dropped(&mut self, _si: usize, _id: PortId, _reason: DropReason, _frame: &[u8]) {}

    /// Where the switch a received frame entered forwarded it: the ports,
    /// mirrors' copies left out (told for the frames of a receive batch,
    /// before their copies; for flow export).
    fn forwarded(&mut self, _si: usize, _ports: &[crate::Egress]) {}
}

/// A frame of a link protocol, for the agent of the port it came in on.
pub struct LinkCopy<'a> {
    pub switch: &'a Arc<str>,
    pub in_port: PortId,
    pub frame: &'a [u8],
}

/// Switches and routers, read by every thread. A clone shares them (a
/// trace's [`shadow`](Datapath::shadow) copies their learned state).
#[derive(Clone)]
pub struct Datapath {
    cores: Vec<Arc<SwitchCore>>,
    names: Vec<Arc<str>>,
    routers: Vec<RouterAttachment>,
    /// For each switch, for each of its ports, what is behind it.
    route: Vec<Vec<Target>>,
    /// For each device, its switch and port.
    devices: Vec<(usize, PortId)>,
    /// Whether any wire is crossed in memory.
    wired: bool,
}

/// One thread's part: its counters (per switch, per port), decision
/// caches and buffers. Nothing is allocated per frame.
pub struct Lane {
    pub counters: Vec<Vec<PortCounters>>,
    /// One decision cache per switch.
    flows: Vec<FlowCache>,
    d: Decision,
    /// A copy retagged or rewritten.
    scratch: Vec<u8>,
    /// What routers sent, waiting to enter their switches: router,
    /// routers crossed so far, frame.
    routed: VecDeque<(usize, u8, RouterTx)>,
    /// What one router call sent.
    router_out: Vec<RouterTx>,
    /// What crossed wires, waiting to enter the far switches.
    wired: VecDeque<Wired>,
    /// Buffers for the next frames to cross.
    spare: Vec<Vec<u8>>,
    /// The receive slot of the frame being decided, while it is the
    /// frame as received (see [`Wired::slot`]).
    slot: Option<usize>,
    /// While tracing: the hops so far.
    trace: Option<Vec<Hop>>,
}

/// Where a frame enters: its switch and port, and the switch's state.
struct Ingress<'a> {
    si: usize,
    id: PortId,
    core: &'a SwitchCore,
    fw: &'a Arc<Forwarding>,
    now: u64,
}

impl<'a> Ingress<'a> {
    fn new(si: usize, id: PortId, core: &'a SwitchCore, fw: &'a Arc<Forwarding>, now: u64) -> Self {
        Ingress {
            si,
            id,
            core,
            fw,
            now,
        }
    }
}

/// A frame a switch decided on: where it came from and what it is.
#[derive(Clone, Copy)]
struct Decided<'f, 'p> {
    /// Its switch and ingress port.
    si: usize,
    id: PortId,
    parsed: &'p Parsed<'f>,
    vnet: VirtioNetHdr,
    /// Routers and wires it has crossed.
    hops: u8,
    /// The frame is the one received, byte for byte (it crossed wires
    /// unchanged, if any): a device copy may go from its receive slot.
    pristine: bool,
    now: u64,
}

impl Datapath {
    /// `devices`: for each device, its switch and port.
    pub fn new(cores: Vec<Arc<SwitchCore>>, devices: &[(usize, PortId)]) -> Datapath {
        let mut route: Vec<Vec<Target>> = cores
            .iter()
            .map(|c| vec![Target::Nothing; c.snapshot().ports.len()])
            .collect();
        for (i, (si, id)) in devices.iter().enumerate() {
            if let Some(slot) = route.get_mut(*si).and_then(|r| r.get_mut(id.index())) {
                *slot = Target::Device(i);
            }
        }
        let names = cores
            .iter()
            .map(|c| Arc::from(c.snapshot().name.as_str()))
            .collect();
        Datapath {
            cores,
            names,
            routers: Vec::new(),
            route,
            devices: devices.to_vec(),
            wired: false,
        }
    }

    /// Joins pairs of devices (each the end of a patch wire between two
    /// switches of this datapath) into wires crossed in memory: a copy
    /// for one end enters the other end's switch directly. The devices
    /// themselves then carry only what is sent to them from outside.
    pub fn set_wires(&mut self, wires: &[(usize, usize)]) {
        for &(a, b) in wires {
            for (dev, peer_dev) in [(a, b), (b, a)] {
                let (Some(&(si, id)), Some(&(psi, pid))) =
                    (self.devices.get(dev), self.devices.get(peer_dev))
                else {
                    continue;
                };
                if let Some(slot) = self.route.get_mut(si).and_then(|r| r.get_mut(id.index())) {
                    self.wired = true;
                    *slot = Target::Wire(WireEnd {
                        dev,
                        peer_dev,
                        si: psi,
                        id: pid,
                    });
                }
            }
        }
    }

    /// Puts routers on switch ports: a copy a switch sends to such a
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

    /// A new thread's part.
    pub fn lane(&self) -> Lane {
        Lane {
            counters: self
                .route
                .iter()
                .map(|ports| vec![PortCounters::default(); ports.len()])
                .collect(),
            flows: self.cores.iter().map(|_| FlowCache::default()).collect(),
            d: Decision::default(),
            scratch: Vec::new(),
            routed: VecDeque::new(),
            router_out: Vec::new(),
            wired: VecDeque::new(),
            spare: Vec::new(),
            slot: None,
            trace: None,
        }
    }

    /// The lane's decision caches' hits and misses, summed.
    pub fn cache_stats(lane: &Lane) -> (u64, u64) {
        lane.flows
            .iter()
            .fold((0, 0), |(h, m), c| (h + c.hits, m + c.misses))
    }

    /// A datapath over copies of this one's learned state (see
    /// [`crate::trace`]): same snapshots, devices, wires and routers.
    pub fn shadow(&self) -> Datapath {
        let mut copies = crate::filter::Copies::default();
        let cores = self
            .cores
            .iter()
            .map(|c| Arc::new(c.shadow(&mut copies)))
            .collect();
        let routers = self
            .routers
            .iter()
            .map(|r| RouterAttachment {
                router: Arc::new(r.router.shadow(&mut copies)),
                ports: r.ports.clone(),
            })
            .collect();
        Datapath {
            cores,
            routers,
            ..self.clone()
        }
    }

    /// The switch and port names of device `dev`.
    fn device_name(&self, dev: usize) -> (String, String) {
        let Some(&(si, id)) = self.devices.get(dev) else {
            return (String::new(), String::new());
        };
        (self.names[si].to_string(), self.port_name(si, id))
    }

    fn port_name(&self, si: usize, id: PortId) -> String {
        self.cores
            .get(si)
            .and_then(|c| c.snapshot().ports.get(id.index()).map(|p| p.name.clone()))
            .unwrap_or_else(|| format!("#{}", id.0))
    }

    /// The device behind switch `si`'s port `id` (a wire's end included).
    pub fn device_of(&self, si: usize, id: PortId) -> Option<usize> {
        match self.route.get(si)?.get(id.index())? {
            Target::Device(d) => Some(*d),
            Target::Wire(w) => Some(w.dev),
            _ => None,
        }
    }

    /// Switch `si`'s IPFIX export, when on.
    pub fn ipfix(&self, si: usize) -> Option<Arc<crate::export::IpfixExport>> {
        self.cores.get(si)?.ipfix()
    }

    /// How many switches there are.
    pub fn switch_count(&self) -> usize {
        self.cores.len()
    }

    /// The switch index of `name`.
    pub fn switch_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| &**n == name)
    }

    /// Runs `frame`, received on port `id` of switch `si` at `now`,
    /// through a [`shadow`](Self::shadow) of this datapath and says what
    /// it did at each stage, and what left where (see [`crate::trace`]).
    pub fn trace(&self, si: usize, id: PortId, frame: &[u8], now: u64) -> Trace {
        let shadow = self.shadow();
        let mut lane = shadow.lane();
        lane.trace = Some(Vec::new());
        let mut sink = Recorder {
            dp: &shadow,
            trace: Trace::default(),
        };
        shadow.receive(
            &mut lane,
            si,
            id,
            frame,
            VirtioNetHdr::default(),
            now,
            &mut sink,
        );
        let mut t = sink.trace;
        t.hops = lane.trace.take().unwrap_or_default();
        t
    }

    /// Ages the switches' FDBs and runs the routers' timers (whose
    /// frames go their way at once); call about once a second, from one
    /// thread.
    pub fn tick(&self, lane: &mut Lane, now: u64, sink: &mut impl Sink) {
        for core in &self.cores {
            core.tick(now);
        }
        for (ri, r) in self.routers.iter().enumerate() {
            r.router.tick(now, &mut lane.router_out);
            lane.routed
                .extend(lane.router_out.drain(..).map(|tx| (ri, 1, tx)));
        }
        self.inject(lane, now, &[], sink);
    }

    /// A frame received on port `id` of switch `si`: decided, and its
    /// copies handed to `sink`, through whatever routers and switches it
    /// crosses.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &self,
        lane: &mut Lane,
        si: usize,
        id: PortId,
        frame: &[u8],
        vnet: VirtioNetHdr,
        now: u64,
        sink: &mut impl Sink,
    ) {
        self.receive_batch(lane, si, id, [(0, frame, vnet)], now, sink);
    }

    /// [`receive`](Self::receive) for a batch from one port: `frames` are
    /// (receive slot, frame, virtio-net header); the sink is told each
    /// frame's slot before its copies. The switch's snapshot is read once
    /// for the batch; what routers sent runs after it.
    pub fn receive_batch<'f>(
        &self,
        lane: &mut Lane,
        si: usize,
        id: PortId,
        frames: impl IntoIterator<Item = (usize, &'f [u8], VirtioNetHdr)>,
        now: u64,
        sink: &mut impl Sink,
    ) {
        let Some(core) = self.cores.get(si) else {
            return;
        };
        let fw = core.snapshot();
        let from = Ingress::new(si, id, core, &fw, now);
        // The batch's frames by slot, for frames that cross wires as
        // they were received (they cross without a copy).
        let mut received: Vec<(usize, &'f [u8])> = Vec::new();
        for (slot, frame, vnet) in frames {
            sink.slot(Some(slot));
            lane.slot = Some(slot);
            if self.wired {
                received.push((slot, frame));
            }
            if gso::within_bounds(frame.len(), &vnet).is_err() {
                // A segment size of 1 would make one frame 65,000 on every
                // port without offloads (or in the kernel).
                if let Some(c) = lane.counters[si].get_mut(id.index()) {
                    c.rx_frames += 1;
                    c.rx_bytes += frame.len() as u64;
                    c.count_drop(DropReason::BadGso);
                }
                if sink.wants_drops() {
                    sink.dropped(si, id, DropReason::BadGso, frame);
                }
                continue;
            }
            self.decide(lane, &from, frame, vnet, 0, sink);
        }
        sink.slot(None);
        lane.slot = None;
        self.inject(lane, now, &received, sink);
    }

    /// Runs a frame through switch `from.si` and emits what it decided.
    fn decide(
        &self,
        lane: &mut Lane,
        from: &Ingress<'_>,
        frame: &[u8],
        vnet: VirtioNetHdr,
        hops: u8,
        sink: &mut impl Sink,
    ) {
        let (si, id, core, now) = (from.si, from.id, from.core, from.now);
        let counters = &mut lane.counters[si];
        let Some(parsed) = Parsed::new(frame) else {
            if let Err(r) = core.malformed(counters, id, frame.len(), &mut lane.d) {
                if sink.wants_drops() {
                    sink.dropped(si, id, r, frame);
                }
            }
            if let Some(t) = lane.trace.as_mut() {
                t.push(Hop {
                    kind: HopKind::Switch,
                    node: self.names[si].to_string(),
                    port: self.port_name(si, id),
                    steps: vec![Step::new(
                        Stage::Drop,
                        "malformed: shorter than an Ethernet header",
                    )],
                });
            }
            return;
        };
        let flows = &mut lane.flows[si];
        if lane.trace.is_some() {
            lane.d.trace = Some(vec![Step::new(
                Stage::Ingress,
                crate::trace::describe_frame(&parsed),
            )]);
        }
        let result = core.process_cached(from.fw, flows, counters, id, &parsed, now, &mut lane.d);
        if lane.trace.is_some() {
            self.trace_hop(lane, si, id, result);
        }
        let forwarded = lane.d.forwarded.min(lane.d.egress.len());
        if let Err(r) = result {
            if forwarded == 0 && sink.wants_drops() {
                sink.dropped(si, id, r, frame);
            }
            if lane.d.egress.is_empty() {
                return;
            }
        }
        if hops == 0 && lane.slot.is_some() {
            sink.forwarded(si, &lane.d.egress[..forwarded]);
        }
        if lane.d.link {
            sink.link(LinkCopy {
                switch: &self.names[si],
                in_port: id,
                frame,
            });
            return;
        }
        let at = Decided {
            si,
            id,
            parsed: &parsed,
            vnet,
            hops,
            pristine: lane.slot.is_some(),
            now,
        };
        self.emit(lane, at, sink);
    }

    /// Writes down a switch's decision `result` for lane's trace: the
    /// steps the pipeline noted, then each copy and where it goes.
    fn trace_hop(&self, lane: &mut Lane, si: usize, id: PortId, result: Result<(), DropReason>) {
        let d = &mut lane.d;
        let mut steps = d.trace.take().unwrap_or_default();
        match result {
            Err(r) if d.egress.is_empty() => {
                steps.push(Step::new(Stage::Drop, crate::trace::drop_detail(r)))
            }
            Ok(()) if d.link => steps.push(Step::new(
                Stage::Link,
                "for the port's link agent (LLDP, ECP or the relay probe); not forwarded",
            )),
            _ => {
                for e in &d.egress {
                    let port = self.port_name(si, e.port);
                    let mut what = format!("port {port}");
                    match e.tag {
                        Some(vid) => what.push_str(&format!(" tagged {vid}")),
                        None => what.push_str(" untagged"),
                    }
                    if e.rewrite != 0 {
                        what.push_str(", rewritten by the flows");
                    }
                    match self.route[si].get(e.port.index()) {
                        Some(Target::Device(_)) => what.push_str(": sent on its device"),
                        Some(Target::Router(ri, _)) => what
                            .push_str(&format!(": to router {}", self.routers[*ri].router.name())),
                        Some(Target::Wire(w)) => what.push_str(&format!(
                            ": across the wire to {}/{}",
                            self.names[w.si],
                            self.port_name(w.si, w.id)
                        )),
                        _ => what.push_str(": nothing is attached there"),
                    }
                    steps.push(Step::new(Stage::Output, what));
                }
                for g in &d.generated {
                    steps.push(Step::new(
                        Stage::Output,
                        format!(
                            "an answer the switch made, to port {}",
                            self.port_name(si, g.port)
                        ),
                    ));
                }
                for c in &d.controller {
                    steps.push(Step::new(
                        Stage::Controller,
                        format!("to the controller ({:?}, table {})", c.reason, c.table),
                    ));
                }
                if let Err(r) = result {
                    steps.push(Step::new(Stage::Drop, crate::trace::drop_detail(r)));
                } else if d.egress.is_empty() && d.generated.is_empty() && d.controller.is_empty() {
                    steps.push(Step::new(Stage::Drop, "no copy made"));
                }
            }
        }
        let hop = Hop {
            kind: HopKind::Switch,
            node: self.names[si].to_string(),
            port: self.port_name(si, id),
            steps,
        };
        if let Some(t) = lane.trace.as_mut() {
            t.push(hop);
        }
    }

    /// Runs what routers sent and what crossed wires through the switches
    /// they enter, until nothing is left.
    /// `received`: the batch's frames by slot (see [`Wired::slot`]).
    fn inject(&self, lane: &mut Lane, now: u64, received: &[(usize, &[u8])], sink: &mut impl Sink) {
        loop {
            if let Some(w) = lane.wired.pop_front() {
                let as_received = w
                    .slot
                    .and_then(|s| received.iter().find(|(r, _)| *r == s))
                    .map(|(_, f)| *f);
                if let Some(core) = self.cores.get(w.si) {
                    let fw = core.snapshot();
                    let from = Ingress::new(w.si, w.id, core, &fw, now);
                    let frame = as_received.unwrap_or(&w.frame);
                    let slot = w.slot.filter(|_| as_received.is_some());
                    sink.slot(slot);
                    lane.slot = slot;
                    self.decide(lane, &from, frame, w.vnet, w.hops, sink);
                    sink.slot(None);
                    lane.slot = None;
                }
                if lane.spare.len() < SPARE_BUFFERS {
                    lane.spare.push(w.frame);
                }
                continue;
            }
            let Some((ri, hops, tx)) = lane.routed.pop_front() else {
                break;
            };
            let Some(&Some((si, id))) = self.routers.get(ri).and_then(|r| r.ports.get(tx.port))
            else {
                continue;
            };
            if let Some(core) = self.cores.get(si) {
                let fw = core.snapshot();
                let from = Ingress::new(si, id, core, &fw, now);
                self.decide(lane, &from, &tx.frame, tx.hdr, hops, sink);
            }
        }
    }

    /// The copies decision `lane.d` makes of frame `at`: for the switch's
    /// ports (devices and routers), the frames the switch made itself,
    /// and the controller's.
    fn emit(&self, lane: &mut Lane, at: Decided<'_, '_>, sink: &mut impl Sink) {
        let d = &lane.d;
        let counters = &mut lane.counters[at.si];
        let current = at.parsed.vid();
        let frame = at.parsed.as_bytes();
        for e in d.egress.iter() {
            let target = self.route[at.si][e.port.index()];
            let rewrite = d.rewrite_of(e);
            let unchanged = current == e.tag && rewrite.is_none();
            let (bytes, hdr): (&[u8], VirtioNetHdr) = if unchanged {
                (frame, at.vnet)
            } else {
                match rewrite {
                    Some(r) => r.write(at.parsed, e.tag, at.vnet.needs_csum(), &mut lane.scratch),
                    None => at.parsed.write_retagged(e.tag, &mut lane.scratch),
                }
                let delta = lane.scratch.len() as i32 - frame.len() as i32;
                (&lane.scratch, at.vnet.shifted(delta))
            };
            match target {
                Target::Nothing => {}
                Target::Router(router, port) => {
                    // The router reads the switch's own headers when its
                    // copy is the frame as it came; a changed copy is a new
                    // frame, read once there.
                    let parsed = if unchanged { None } else { Parsed::new(bytes) };
                    let Some(p) = parsed.as_ref().or(unchanged.then_some(at.parsed)) else {
                        continue;
                    };
                    self.to_router(
                        Routing {
                            routed: &mut lane.routed,
                            out: &mut lane.router_out,
                            trace: lane.trace.as_mut(),
                        },
                        router,
                        port,
                        p,
                        hdr,
                        at,
                    );
                }
                Target::Device(j) => {
                    let copy = DeviceCopy {
                        frame: bytes,
                        vnet: hdr,
                        as_received: unchanged && at.pristine,
                    };
                    sink.device(j, copy, &mut counters[e.port.index()]);
                }
                Target::Wire(w) => {
                    let q = Wiring {
                        wired: &mut lane.wired,
                        spare: &mut lane.spare,
                    };
                    let slot = lane.slot.filter(|_| unchanged && at.pristine);
                    if !q.cross(w, bytes, hdr, at.hops, slot, sink) {
                        counters[e.port.index()].tx_errors += 1;
                    }
                }
            }
        }
        for g in &d.generated {
            // Made untagged: a tag goes in after the MACs.
            let bytes: &[u8] = match g.tag {
                None => &g.frame,
                Some(vid) if g.frame.len() >= vepa_packet::ETH_HEADER_LEN => {
                    let untagged = vepa_packet::ETH_HEADER_LEN;
                    vepa_packet::retag(&g.frame, None, untagged, Some(vid), &mut lane.scratch);
                    &lane.scratch
                }
                Some(_) => continue,
            };
            let plain = VirtioNetHdr::default();
            match self.route[at.si].get(g.port.index()) {
                Some(Target::Device(j)) => {
                    let copy = DeviceCopy {
                        frame: bytes,
                        vnet: plain,
                        as_received: false,
                    };
                    let mut spare = PortCounters::default();
                    let c = counters.get_mut(g.port.index()).unwrap_or(&mut spare);
                    sink.device(*j, copy, c);
                }
                Some(Target::Wire(w)) => {
                    let q = Wiring {
                        wired: &mut lane.wired,
                        spare: &mut lane.spare,
                    };
                    if !q.cross(*w, bytes, plain, at.hops, None, sink) {
                        if let Some(c) = counters.get_mut(g.port.index()) {
                            c.tx_errors += 1;
                        }
                    }
                }
                Some(Target::Router(router, port)) => {
                    if let Some(p) = Parsed::new(bytes) {
                        self.to_router(
                            Routing {
                                routed: &mut lane.routed,
                                out: &mut lane.router_out,
                                trace: lane.trace.as_mut(),
                            },
                            *router,
                            *port,
                            &p,
                            plain,
                            at,
                        );
                    }
                }
                _ => {}
            }
        }
        if !d.controller.is_empty() && sink.wants_controller() {
            self.to_controller(d, at, sink);
        }
    }

    /// The copies the flow tables send to the controller, as the wire
    /// would carry them: rewritten, segmented, checksums finished.
    fn to_controller(&self, d: &Decision, at: Decided<'_, '_>, sink: &mut impl Sink) {
        let frame = at.parsed.as_bytes();
        for c in &d.controller {
            let mut bytes = Vec::with_capacity(frame.len() + 4);
            match d.rewrites.get((c.rewrite as usize).wrapping_sub(1)) {
                Some(r) => r.write(at.parsed, c.tag, at.vnet.needs_csum(), &mut bytes),
                None => at.parsed.write_retagged(c.tag, &mut bytes),
            }
            let mut send = |frame: Vec<u8>| {
                sink.controller(ToControllerCopy {
                    switch: &self.names[at.si],
                    in_port: at.id,
                    why: c,
                    frame,
                })
            };
            let h = at.vnet.shifted(bytes.len() as i32 - frame.len() as i32);
            if h.is_gso() {
                // The controller sees what the wire would carry:
                // segments with their checksums, not a super-frame
                // it could send back whole in a packet-out.
                let mut scratch = Vec::new();
                let _ = gso::segment(&bytes, &h, &mut scratch, |seg| send(seg.to_vec()));
                continue;
            }
            if h.needs_csum() {
                checksum::complete_partial(
                    &mut bytes,
                    h.csum_start as usize,
                    h.csum_offset as usize,
                );
            }
            send(bytes);
        }
    }
}

/// The sink of a trace: what would have left, kept.
struct Recorder<'d> {
    dp: &'d Datapath,
    trace: Trace,
}

impl Sink for Recorder<'_> {
    fn device(&mut self, dev: usize, copy: DeviceCopy<'_>, _: &mut PortCounters) {
        let (switch, port) = self.dp.device_name(dev);
        self.trace.deliveries.push(Delivery {
            switch,
            port,
            device: dev,
            frame: copy.frame.to_vec(),
        });
    }

    fn wants_controller(&self) -> bool {
        true
    }

    fn controller(&mut self, _copy: ToControllerCopy<'_>) {
        self.trace.to_controller += 1;
    }

    fn link(&mut self, _copy: LinkCopy<'_>) {
        self.trace.to_link_agent += 1;
    }
}

/// A lane's wire queue, borrowed apart from its other buffers.
struct Wiring<'l> {
    wired: &'l mut VecDeque<Wired>,
    spare: &'l mut Vec<Vec<u8>>,
}

impl Wiring<'_> {
    /// Takes a copy across wire end `w` (false: refused, the frame has
    /// crossed [`MAX_HOPS`] already or too many wait).
    fn cross(
        self,
        w: WireEnd,
        frame: &[u8],
        vnet: VirtioNetHdr,
        hops: u8,
        slot: Option<usize>,
        sink: &mut impl Sink,
    ) -> bool {
        if hops >= MAX_HOPS || self.wired.len() >= MAX_WIRED {
            return false;
        }
        sink.crossed(w.dev, w.peer_dev, frame);
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        if slot.is_none() {
            buf.extend_from_slice(frame);
        }
        self.wired.push_back(Wired {
            si: w.si,
            id: w.id,
            hops: hops + 1,
            frame: buf,
            vnet,
            slot,
        });
        true
    }
}

/// A lane's router queues, borrowed apart from its other buffers.
struct Routing<'l> {
    routed: &'l mut VecDeque<(usize, u8, RouterTx)>,
    out: &'l mut Vec<RouterTx>,
    trace: Option<&'l mut Vec<Hop>>,
}

impl Datapath {
    /// Hands frame `p` to router `router`'s port `port`, unless it has
    /// crossed [`MAX_HOPS`] routers and wires already; what the router sends
    /// waits in `q` to enter its switches.
    fn to_router(
        &self,
        q: Routing<'_>,
        router: usize,
        port: usize,
        p: &Parsed<'_>,
        hdr: VirtioNetHdr,
        at: Decided<'_, '_>,
    ) {
        if at.hops >= MAX_HOPS {
            if let Some(t) = q.trace {
                t.push(Hop {
                    kind: HopKind::Router,
                    node: self
                        .routers
                        .get(router)
                        .map_or_else(String::new, |r| r.router.name()),
                    port: String::new(),
                    steps: vec![Step::new(
                        Stage::Drop,
                        format!("crossed {MAX_HOPS} routers and wires already"),
                    )],
                });
            }
            return;
        }
        if let Some(r) = self.routers.get(router) {
            let before = q.trace.is_some().then(|| r.router.counters.snapshot());
            r.router.receive(port, p, &hdr, at.now, q.out);
            if let (Some(t), Some(before)) = (q.trace, before) {
                t.push(r.router.trace_hop(port, p, &before, q.out));
            }
            q.routed
                .extend(q.out.drain(..).map(|tx| (router, at.hops + 1, tx)));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The datapath end to end without I/O, and the "parsed once" count.
    use super::*;
    use crate::filter::{Acl, AclAction, PortFilter, PortGuard, Zone};
    use crate::flow::{Action, Field, FlowSpec, Instruction, Match, OutPort, Pipeline};
    use crate::parsed::counts;
    use crate::router::{RouterConfig, RouterPortConfig};
    use crate::{PortConfig, PortMode, PortRole, SwitchConfig};
    use vepa_packet::{ip, MacAddr};

    const VM1: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const VM2: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
    const VM3: MacAddr = MacAddr([2, 0, 0, 0, 0, 3]);
    const RA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 1]);
    const RB: MacAddr = MacAddr([2, 0, 0, 0, 0xb, 1]);

    /// What reached each device; `received`: the frame handed in.
    #[derive(Default)]
    struct Wire {
        got: Vec<(usize, Vec<u8>)>,
        received: Vec<u8>,
        /// Copies that crossed wires: from device, to device.
        crossed: Vec<(usize, usize)>,
        /// Each copy's `as_received`, and the slot the sink was told.
        from_slot: Vec<(bool, Option<usize>)>,
        slot: Option<usize>,
    }

    impl Sink for Wire {
        fn device(&mut self, dev: usize, copy: DeviceCopy<'_>, _: &mut PortCounters) {
            // The forwarder sends such a copy from the receive buffer.
            if copy.as_received {
                assert_eq!(copy.frame, &self.received[..], "not the frame received");
            }
            self.got.push((dev, copy.frame.to_vec()));
            self.from_slot.push((copy.as_received, self.slot));
        }

        fn slot(&mut self, slot: Option<usize>) {
            self.slot = slot;
        }

        fn crossed(&mut self, from: usize, to: usize, _frame: &[u8]) {
            self.crossed.push((from, to));
        }
    }

    fn veb(name: &str) -> PortConfig {
        PortConfig::new(name, PortRole::Downlink(PortMode::Veb))
    }

    /// Switch a: vm1 (device 0), vm2 (device 1), the router's port a.
    /// Switch b: vm3 (device 2), the router's port b.
    fn fabric() -> (Datapath, Vec<Arc<SwitchCore>>) {
        let a = SwitchCore::new(SwitchConfig::new(
            "a",
            vec![veb("vm1"), veb("vm2"), veb("ra")],
        ));
        let b = SwitchCore::new(SwitchConfig::new("b", vec![veb("vm3"), veb("rb")]));
        let cores: Vec<Arc<SwitchCore>> = [a, b]
            .into_iter()
            .map(|c| Arc::new(c.expect("valid switch")))
            .collect();
        let devices = [(0, PortId(0)), (0, PortId(1)), (1, PortId(0))];
        let mut dp = Datapath::new(cores.clone(), &devices);
        let port = |name: &str, mac, addr: &str| RouterPortConfig {
            name: name.into(),
            mac,
            addresses: vec![addr.parse().expect("address")],
            mtu: 1500,
            peer_mac: None,
        };
        let router = Router::new(&RouterConfig {
            name: "r".into(),
            ports: vec![port("a", RA, "10.1.0.1/24"), port("b", RB, "10.2.0.1/24")],
            routes: Vec::new(),
        })
        .expect("router");
        dp.set_routers(vec![RouterAttachment {
            router: Arc::new(router),
            ports: vec![Some((0, PortId(2))), Some((1, PortId(1)))],
        }]);
        (dp, cores)
    }

    fn udp(dst: MacAddr, src: MacAddr, from: [u8; 4], to: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, dst, src, 0x0800);
        let body = [0x13, 0x88, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4];
        ip::push_ipv4(&mut f, from.into(), to.into(), ip::PROTO_UDP, 64, 1, &body);
        f
    }

    /// Sends `frame` in on a switch port (and through the routers);
    /// returns the copies and the (link, network) reads it cost.
    fn send(
        dp: &Datapath,
        lane: &mut Lane,
        (si, id): (usize, PortId),
        frame: &[u8],
    ) -> (Wire, (u64, u64)) {
        let mut wire = Wire {
            received: frame.to_vec(),
            ..Wire::default()
        };
        counts::take();
        dp.receive(lane, si, id, frame, VirtioNetHdr::default(), 1, &mut wire);
        (wire, counts::take())
    }

    fn guard_and_lists(core: &SwitchCore) {
        let any = |dir: &str| {
            Arc::new(Acl::new(
                dir,
                vec!["allow udp".parse().expect("rule")],
                AclAction::Drop,
                true,
            ))
        };
        let vm1 = PortFilter {
            guard: Some(PortGuard {
                macs: vec![VM1],
                ips: vec!["10.1.0.2/32".parse().expect("prefix")],
            }),
            acl_in: Some(any("in")),
            acl_out: Some(any("out")),
            zone: Arc::new(Zone::new(64)),
            stateful: true,
        };
        let vm2 = PortFilter {
            guard: None,
            acl_in: None,
            acl_out: Some(any("out")),
            zone: Arc::new(Zone::new(64)),
            stateful: true,
        };
        core.set_filters(Some(vec![Some(Arc::new(vm1)), Some(Arc::new(vm2)), None]));
    }

    #[test]
    fn a_switched_frame_is_parsed_once_with_filters_and_flows() {
        let (dp, cores) = fabric();
        let mut lane = dp.lane();
        let to_vm2 = udp(VM2, VM1, [10, 1, 0, 2], [10, 1, 0, 3]);
        let back = udp(VM1, VM2, [10, 1, 0, 3], [10, 1, 0, 2]);
        // Plain L2, first through the pipeline, then from the cache.
        send(&dp, &mut lane, (0, PortId(1)), &back);
        for round in 0..2 {
            let (wire, reads) = send(&dp, &mut lane, (0, PortId(0)), &to_vm2);
            assert_eq!(wire.got, vec![(1, to_vm2.clone())], "round {round}");
            assert_eq!(
                reads,
                (1, 0),
                "plain L2 reads the link layer only (round {round})"
            );
        }
        // The guard, both access lists and connection tracking.
        guard_and_lists(&cores[0]);
        for round in 0..2 {
            let (wire, reads) = send(&dp, &mut lane, (0, PortId(0)), &to_vm2);
            assert_eq!(wire.got.len(), 1, "round {round}");
            assert_eq!(
                reads,
                (1, 1),
                "filters read the network layer once (round {round})"
            );
        }
        // Flow tables too: a flow that rewrites the destination port and
        // hands the frame to NORMAL.
        let mut m = Match::any();
        m.exact(Field::EthType, 0x0800).expect("field");
        m.exact(Field::IpProto, 17).expect("field");
        let mut p = Pipeline::default();
        p.add(
            FlowSpec {
                priority: 10,
                matcher: m,
                instructions: vec![Instruction::Apply(vec![
                    Action::SetField(Field::UdpDst, 54),
                    Action::Output(OutPort::Normal),
                ])],
                ..FlowSpec::default()
            },
            3,
            0,
        )
        .expect("flow");
        cores[0].set_pipeline(Arc::new(p));
        for round in 0..2 {
            let (wire, reads) = send(&dp, &mut lane, (0, PortId(0)), &to_vm2);
            assert_eq!(wire.got.len(), 1, "round {round}");
            let out = Parsed::new(&wire.got[0].1)
                .and_then(|p| p.key(0))
                .expect("key");
            assert_eq!(Field::UdpDst.get(&out), 54);
            // The rewritten copy is a new frame: vm2's outbound list reads it.
            assert_eq!(reads, (2, 2), "round {round}");
        }
    }

    #[test]
    fn a_routed_frame_is_parsed_once_per_switch() {
        let (dp, cores) = fabric();
        let mut lane = dp.lane();
        // vm1 and vm3 ask for their gateway: the router learns vm3, and
        // each switch learns its hosts and the router's port.
        let ask = |mac, from: [u8; 4], gw: [u8; 4]| {
            let mut f = Vec::new();
            ip::write_ethernet(&mut f, MacAddr::BROADCAST, mac, 0x0806);
            f.extend_from_slice(&ip::arp(1, mac, from.into(), MacAddr::ZERO, gw.into()));
            f
        };
        send(
            &dp,
            &mut lane,
            (0, PortId(0)),
            &ask(VM1, [10, 1, 0, 2], [10, 1, 0, 1]),
        );
        send(
            &dp,
            &mut lane,
            (1, PortId(0)),
            &ask(VM3, [10, 2, 0, 3], [10, 2, 0, 1]),
        );
        let out = udp(RA, VM1, [10, 1, 0, 2], [10, 2, 0, 3]);
        guard_and_lists(&cores[0]);
        for round in 0..2 {
            let (wire, reads) = send(&dp, &mut lane, (0, PortId(0)), &out);
            assert_eq!(wire.got.len(), 1, "round {round}: {:?}", wire.got);
            let (dev, frame) = &wire.got[0];
            assert_eq!(*dev, 2, "to vm3");
            let p = Parsed::new(frame).expect("ethernet");
            assert_eq!((p.dst(), p.src()), (VM3, RB));
            assert_eq!(p.ipv4().map(|v| v.ttl()), Some(63));
            // Switch a reads the frame (its filters the network layer),
            // the router takes a's reading as it is, switch b reads the
            // router's frame: once per switch.
            assert_eq!(reads, (2, 1), "round {round}");
        }
    }

    #[test]
    fn runts_and_bad_gso_are_counted_not_parsed_further() {
        let (dp, _) = fabric();
        let mut lane = dp.lane();
        let (wire, reads) = send(&dp, &mut lane, (0, PortId(0)), &[0xff; 10]);
        assert!(wire.got.is_empty());
        assert_eq!(reads, (1, 0));
        assert_eq!(lane.counters[0][0].drop_count(DropReason::Malformed), 1);
        // A super-frame cut into 1-byte segments never reaches a switch.
        let frame = udp(VM2, VM1, [10, 1, 0, 2], [10, 1, 0, 3]);
        let vnet = VirtioNetHdr {
            gso_type: vepa_packet::virtio::VIRTIO_NET_HDR_GSO_UDP_L4,
            gso_size: 1,
            ..VirtioNetHdr::default()
        };
        let mut wire = Wire::default();
        counts::take();
        dp.receive(&mut lane, 0, PortId(0), &frame, vnet, 1, &mut wire);
        assert!(wire.got.is_empty());
        assert_eq!(counts::take(), (0, 0));
        assert_eq!(lane.counters[0][0].drop_count(DropReason::BadGso), 1);
    }

    /// A VEPA host switch (vm1: device 0, vm2: device 1) whose uplink
    /// (device 2) is wired to a relay switch's hairpin port (device 3).
    fn vepa_over_a_wire() -> Datapath {
        let vepa = |n: &str| PortConfig::new(n, PortRole::Downlink(PortMode::Vepa));
        let host = SwitchConfig::new(
            "host",
            vec![
                vepa("vm1"),
                vepa("vm2"),
                PortConfig::new("up", PortRole::Uplink),
            ],
        );
        let mut hairpin = veb("r");
        hairpin.relay = true;
        let relay = SwitchConfig::new("relay", vec![hairpin]);
        wired([host, relay], &[(2, 3)])
    }

    /// A datapath of `switches` whose every port is a device (numbered
    /// switch by switch, port by port), `wires` joining pairs of them.
    fn wired<const N: usize>(switches: [SwitchConfig; N], wires: &[(usize, usize)]) -> Datapath {
        let mut devices = Vec::new();
        for (si, c) in switches.iter().enumerate() {
            devices.extend((0..c.ports.len()).map(|p| (si, PortId(p as u16))));
        }
        let cores = switches
            .into_iter()
            .map(|c| Arc::new(SwitchCore::new(c).expect("valid switch")))
            .collect();
        let mut dp = Datapath::new(cores, &devices);
        dp.set_wires(wires);
        dp
    }

    #[test]
    fn a_wire_carries_vepa_to_the_relay_and_back_in_memory() {
        let dp = vepa_over_a_wire();
        let mut lane = dp.lane();
        let to_vm2 = udp(VM2, VM1, [10, 0, 0, 1], [10, 0, 0, 2]);
        let to_vm1 = udp(VM1, VM2, [10, 0, 0, 2], [10, 0, 0, 1]);
        // Unknown unicast from vm1 goes up, is reflected, and floods down
        // to vm2 only (never back to its sender); neither wire end's
        // device sees a frame.
        let (wire, _) = send(&dp, &mut lane, (0, PortId(0)), &to_vm2);
        assert_eq!(wire.got, vec![(1, to_vm2.clone())]);
        // Up and back, told to the sink for captures on either end.
        assert_eq!(wire.crossed, vec![(2, 3), (3, 2)]);
        // It crossed unchanged: vm2's copy may leave from the receive slot.
        assert_eq!(wire.from_slot, vec![(true, Some(0))]);
        let (wire, _) = send(&dp, &mut lane, (0, PortId(1)), &to_vm1);
        assert_eq!(wire.got, vec![(0, to_vm1.clone())]);
        // Both ends count what crossed: up sent two and got two back.
        let up = &lane.counters[0][2];
        assert_eq!((up.tx_frames, up.rx_frames), (2, 2));
        let r = &lane.counters[1][0];
        assert_eq!((r.rx_frames, r.tx_frames), (2, 2));
    }

    #[test]
    fn a_loop_of_wires_ends_within_the_hop_limit() {
        // Two switches joined by two wires: a broadcast goes round both
        // ways; each received frame costs a bounded amount of work.
        let sw = |n: &str| SwitchConfig::new(n, vec![veb("vm"), veb("w1"), veb("w2")]);
        let dp = wired([sw("a"), sw("b")], &[(1, 4), (2, 5)]);
        let mut lane = dp.lane();
        let bcast = udp(MacAddr([0xff; 6]), VM1, [10, 0, 0, 1], [10, 0, 0, 255]);
        let (wire, _) = send(&dp, &mut lane, (0, PortId(0)), &bcast);
        // Every hop delivers one copy to a's or b's VM port; the copies
        // end at the limit, and the queue is empty again.
        assert!(!wire.got.is_empty());
        assert!(
            wire.got.len() <= 2 * usize::from(MAX_HOPS) + 1,
            "{}",
            wire.got.len()
        );
        assert!(lane.wired.is_empty());
        let refused: u64 = lane.counters.iter().flatten().map(|c| c.tx_errors).sum();
        assert!(refused > 0, "the loop was cut at the hop limit");
    }
}
