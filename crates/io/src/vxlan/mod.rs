//! A VXLAN tunnel port (RFC 7348): Ethernet frames in UDP to remote
//! tunnel endpoints (VTEPs), one VNI per port.
//!
//! The port receives on a UDP socket bound to the local VTEP address and
//! the VXLAN port (4789 by default; the Linux kernel's own default is 8472
//! unless a device is made with `dstport 4789`). Each remote VTEP's inner
//! source MACs are learned, so a unicast frame goes to the one VTEP that
//! has its destination; broadcast, multicast and unknown unicast are
//! replicated to every static remote (head-end replication). Frames are
//! sent from a small pool of sockets with their own source ports, picked
//! by a hash of the inner flow, so the underlay's ECMP sees the flows
//! apart. GSO super-frames come to the port whole: it cuts them into
//! inner frames of the tunnel's size and hands them to the kernel in one
//! UDP GSO send (`UDP_SEGMENT`) per up to 64 KiB. A frame that would not fit the underlay MTU with
//! its encapsulation (36 bytes of IPv4, UDP and VXLAN headers, 56 over
//! IPv6: an inner IP MTU of 1450 on a 1500-byte IPv4 underlay, as the
//! kernel's vxlan) is dropped and counted, as are packets with a bad
//! header, another VNI, or a cut inner frame.

use crate::port::Port;
use crate::sys::is_retry;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use vepa_packet::{checksum, MacAddr, VirtioNetHdr};

pub const VXLAN_PORT: u16 = 4789;
/// Sockets frames leave from (source-port entropy).
const SENDERS: usize = 8;
/// The receive buffer asked for (root may exceed `rmem_max`).
const RCVBUF: libc::c_int = 8 << 20;
/// MACs learned behind remote VTEPs at most.
const LEARN_LIMIT: usize = 65_536;
/// Addresses noted from the VMs' ARP at most.
const SNOOP_LIMIT: usize = 4096;
/// How long an address noted from ARP is published without being heard again.
const SNOOP_AGE: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanConfig {
    pub name: String,
    pub vni: u32,
    /// The local VTEP address (bound).
    pub local: IpAddr,
    /// The UDP port of every VTEP, ours included.
    pub port: u16,
    /// Static remote VTEPs: where flooded frames go.
    pub remotes: Vec<IpAddr>,
    /// MTU of the underlay path.
    pub underlay_mtu: u32,
    /// For a trunk port: each VLAN's VNI (frames leave untagged in their
    /// VLAN's VNI and come back tagged). Empty: every frame in `vni`.
    pub vlan_vni: Vec<(u16, u32)>,
    /// The fabric reflects (reflective relay across the tunnel): this
    /// host's own VTEP is one of the flood targets, and a frame for a VM
    /// behind it comes back in, as from a hairpinning adjacent bridge.
    pub reflect: bool,
    /// Answer ARP requests for the fabric's published addresses here
    /// rather than flooding them to every host.
    pub arp_suppress: bool,
}

impl VxlanConfig {
    /// Bytes a frame gains on the underlay: IP, UDP and VXLAN headers.
    pub fn overhead(&self) -> usize {
        if self.local.is_ipv4() {
            20 + 8 + HEADER
        } else {
            40 + 8 + HEADER
        }
    }

    /// The largest inner frame (Ethernet header included) that fits.
    pub fn max_inner(&self) -> usize {
        (self.underlay_mtu as usize).saturating_sub(self.overhead())
    }
}

/// What the tunnel counted (besides the switch's port counters).
#[derive(Debug, Default)]
pub struct VxlanCounters {
    pub rx_bad_header: AtomicU64,
    pub rx_unknown_vni: AtomicU64,
    pub rx_truncated: AtomicU64,
    pub tx_too_big: AtomicU64,
    /// Received inner frames too big for the tunnel that are not TCP.
    pub rx_too_big: AtomicU64,
    pub tx_flooded: AtomicU64,
    /// Frames of a VLAN the port maps to no VNI (or untagged, on a mapped port).
    pub tx_no_vni: AtomicU64,
    /// Packets from an address that is no VTEP of this tunnel.
    pub rx_unknown_vtep: AtomicU64,
    /// Packets from a member of a fabric this port isolates (`private`).
    pub rx_isolated: AtomicU64,
    /// Inner TCP segments joined into super-frames on receipt.
    pub rx_coalesced: AtomicU64,
    /// ARP requests answered here instead of flooded (ARP suppression).
    pub tx_arp_suppressed: AtomicU64,
}

/// A tunnel port as `vepa tunnel show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelState {
    pub vni: u32,
    pub local: IpAddr,
    pub port: u16,
    pub remotes: Vec<IpAddr>,
    /// The other hosts' VTEPs of this VNI (from the control plane).
    pub members: Vec<IpAddr>,
    /// Per VNI, the members its floods go to.
    pub flood: Vec<(u32, Vec<IpAddr>)>,
    /// Their VMs' MACs, as the control plane published them.
    pub fabric_macs: Vec<(MacAddr, IpAddr)>,
    pub reflect: bool,
    pub isolate: bool,
    /// The largest inner frame the underlay MTU leaves room for.
    pub max_inner: usize,
    /// Remote MACs and the VTEP each is behind.
    pub learned: Vec<(MacAddr, IpAddr)>,
    /// Each VLAN's VNI on a trunk port.
    pub vlan_vni: Vec<(u16, u32)>,
    /// bad header, unknown VNI, truncated, too big (in), too big (out),
    /// flooded, no VNI, unknown VTEP, isolated, coalesced, ARP suppressed.
    pub counts: [(&'static str, u64); 11],
    pub arp_suppress: bool,
    /// The published addresses ARP suppression answers for.
    pub fabric_ips: Vec<(std::net::Ipv4Addr, MacAddr)>,
}

pub struct VxlanPort {
    cfg: VxlanConfig,
    rx: UdpSocket,
    tx: Vec<UdpSocket>,
    /// Inner MAC → the VTEP it was last seen behind.
    /// Read on every frame sent and received; written only when a MAC
    /// appears or moves.
    learned: RwLock<HashMap<MacAddr, IpAddr>>,
    fabric: ArcSwap<Fabric>,
    /// IPv4 addresses this port's VMs announced in ARP, and their MACs.
    snooped: RwLock<HashMap<std::net::Ipv4Addr, (MacAddr, std::time::Instant)>>,
    /// The last read's datagrams (one worker receives; the lock is uncontended).
    gro: Mutex<gro::GroBuf>,
    /// The source ports of this port's own sockets (`tx`).
    own_ports: Vec<u16>,
    /// Datagrams of the last read are left (see [`Port::pending`]).
    pending: std::sync::atomic::AtomicBool,
    pub counters: VxlanCounters,
}

impl VxlanPort {
    pub fn open(cfg: VxlanConfig) -> io::Result<VxlanPort> {
        let with = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("{what}: {e}"));
        let rx = UdpSocket::bind(SocketAddr::new(cfg.local, cfg.port))
            .map_err(|e| with(e, &format!("bind {}", SocketAddr::new(cfg.local, cfg.port))))?;
        rx.set_nonblocking(true)?;
        // Room for bursts of 64 KiB super-frames between two polls.
        set_rcvbuf(&rx, RCVBUF);
        // Coalesced reads where the kernel offers them; plain ones otherwise.
        gro::enable(&rx);
        let mut tx = Vec::with_capacity(SENDERS);
        for _ in 0..SENDERS {
            let s = UdpSocket::bind(SocketAddr::new(cfg.local, 0))
                .map_err(|e| with(e, "bind a sender"))?;
            s.set_nonblocking(true)?;
            tx.push(s);
        }
        let own_ports = tx
            .iter()
            .map(|s| s.local_addr().map(|a| a.port()))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(VxlanPort {
            cfg,
            rx,
            tx,
            learned: RwLock::new(HashMap::new()),
            fabric: ArcSwap::from_pointee(Fabric::default()),
            snooped: RwLock::new(HashMap::new()),
            gro: Mutex::new(gro::GroBuf::new()),
            own_ports,
            pending: std::sync::atomic::AtomicBool::new(false),
            counters: VxlanCounters::default(),
        })
    }

    /// What the control plane last said of the fabric.
    pub fn fabric(&self) -> Arc<Fabric> {
        self.fabric.load_full()
    }

    /// Takes the control plane's new view of the fabric: MACs learned
    /// behind a VTEP that is gone are forgotten (their frames flood again
    /// until someone answers), and published MACs replace learned ones.
    pub fn set_fabric(&self, f: Fabric) {
        let mut l = self.learned.write().unwrap_or_else(|e| e.into_inner());
        l.retain(|mac, vtep| !f.macs.contains_key(mac) && self.vtep_known(&f, vtep));
        self.fabric.store(Arc::new(f));
    }

    /// Whether a MAC may be learned behind `ip`: a static remote, a fabric
    /// member, or this host's own VTEP when the fabric reflects.
    fn vtep_known(&self, f: &Fabric, ip: &IpAddr) -> bool {
        self.cfg.remotes.contains(ip)
            || f.is_member(ip)
            || (self.cfg.reflect && *ip == self.cfg.local)
    }

    /// Whether a packet of `vni` from `from` is heard: from a static
    /// remote, from a fabric member that carries that VNI, or from one of
    /// this port's own sockets when the fabric reflects or answers ARP.
    fn heard(&self, f: &Fabric, vni: u32, from: SocketAddr) -> bool {
        let ip = from.ip();
        if ip == self.cfg.local {
            return (self.cfg.reflect || self.cfg.arp_suppress)
                && self.own_ports.contains(&from.port());
        }
        self.cfg.remotes.contains(&ip)
            || f.flood
                .get(&vni)
                .map_or_else(|| f.is_member(&ip), |m| m.contains(&ip))
    }

    /// The IPv4 addresses this port's VMs announced in ARP within the
    /// last [`SNOOP_AGE`], with their MACs.
    pub fn snooped(&self) -> Vec<(std::net::Ipv4Addr, MacAddr)> {
        let s = self.snooped.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = s
            .iter()
            .filter(|(_, (_, at))| at.elapsed() < SNOOP_AGE)
            .map(|(i, (m, _))| (*i, *m))
            .collect();
        v.sort();
        v
    }

    /// Notes the sender of a VM's ARP; with suppression on, answers a
    /// request for a published address by sending the reply to this
    /// port's own socket, so it comes in as if from that host. True when
    /// answered (the request goes no further).
    fn arp(&self, frame: &[u8], sock: &UdpSocket) -> bool {
        let Some((ip, mac, asks)) = fabric::arp_of(frame) else {
            return false;
        };
        {
            // ARP is rare next to data: a write per ARP frame keeps the
            // entry fresh (a VM's neighbour probes refresh it).
            let mut s = self.snooped.write().unwrap_or_else(|e| e.into_inner());
            if s.len() >= SNOOP_LIMIT && !s.contains_key(&ip) {
                s.retain(|_, (_, at)| at.elapsed() < SNOOP_AGE);
            }
            if s.len() < SNOOP_LIMIT || s.contains_key(&ip) {
                s.insert(ip, (mac, std::time::Instant::now()));
            }
        }
        let Some(target) = asks.filter(|_| self.cfg.arp_suppress) else {
            return false;
        };
        let Some(owner) = self.fabric.load().ips.get(&target).copied() else {
            return false;
        };
        // A VM announcing its own address (gratuitous ARP, a moved VM or
        // VRRP address) or asking for what it owns: that goes out as sent.
        if target == ip || owner == mac {
            return false;
        }
        let reply = fabric::arp_reply(target, owner, ip, mac);
        let mut out = Vec::with_capacity(HEADER + reply.len());
        encap(&mut out, &header(self.cfg.vni), &reply, false);
        let to = SocketAddr::new(self.cfg.local, self.cfg.port);
        // Unanswered (the socket's buffer full), the request is flooded.
        if sock.send_to(&out, to).is_err() {
            return false;
        }
        self.counters
            .tx_arp_suppressed
            .fetch_add(1, Ordering::Relaxed);
        true
    }

    pub fn config(&self) -> &VxlanConfig {
        &self.cfg
    }

    /// The remote MACs learned and their VTEPs.
    pub fn learned(&self) -> Vec<(MacAddr, IpAddr)> {
        let l = self.learned.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = l.iter().map(|(m, ip)| (*m, *ip)).collect();
        v.sort_by_key(|(m, _)| m.0);
        v
    }

    /// Checks a received datagram; the inner frame's range when it is
    /// ours, and the VLAN its VNI maps to on a trunk port.
    fn inner(&self, d: &[u8]) -> Option<(std::ops::Range<usize>, Option<u16>)> {
        if d.len() < HEADER {
            self.counters.rx_truncated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if d[0] & FLAG_VNI == 0 {
            self.counters.rx_bad_header.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let vni = u32::from_be_bytes([0, d[4], d[5], d[6]]);
        let vid = match self.cfg.vlan_vni.iter().find(|(_, n)| *n == vni) {
            Some((vid, _)) => Some(*vid),
            None if self.cfg.vlan_vni.is_empty() && vni == self.cfg.vni => None,
            None => {
                self.counters.rx_unknown_vni.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        if d.len() < HEADER + 14 {
            self.counters.rx_truncated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some((HEADER..d.len(), vid))
    }

    fn learn(&self, f: &Fabric, src: MacAddr, vtep: IpAddr) {
        if src.is_multicast()
            || src.is_zero()
            || f.macs.contains_key(&src)
            || !self.vtep_known(f, &vtep)
        {
            return;
        }
        let known = self
            .learned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&src)
            .copied();
        if known == Some(vtep) {
            return;
        }
        let mut l = self.learned.write().unwrap_or_else(|e| e.into_inner());
        if l.len() >= LEARN_LIMIT && !l.contains_key(&src) {
            return;
        }
        // The fabric may have changed since `f` was read: a VTEP that left
        // meanwhile (set_fabric cleared what was behind it) gets nothing.
        if !self.vtep_known(&self.fabric.load(), &vtep) {
            return;
        }
        l.insert(src, vtep);
    }

    /// A hash of the inner flow (MACs, addresses, protocol, ports — nothing
    /// that changes per packet) picks the sender, and so the source port:
    /// one flow, one path, in order.
    fn sender(&self, frame: &[u8]) -> &UdpSocket {
        let mut h: u32 = 0x811c_9dc5;
        let mut mix = |bytes: &[u8]| {
            for b in bytes {
                h ^= *b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
        };
        mix(frame.get(..14).unwrap_or(frame));
        match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 if frame.len() >= 34 => {
                let ihl = (frame[14] & 0x0f) as usize * 4;
                mix(&frame[23..24]);
                mix(&frame[26..34]);
                mix(frame.get(14 + ihl..14 + ihl + 4).unwrap_or(&[]));
            }
            0x86dd if frame.len() >= 54 => {
                mix(&frame[20..21]);
                mix(&frame[22..54]);
                mix(frame.get(54..58).unwrap_or(&[]));
            }
            _ => {}
        }
        &self.tx[h as usize % self.tx.len()]
    }
}

/// Sets the socket's receive buffer, beyond `net.core.rmem_max` when
/// allowed (CAP_NET_ADMIN), else as far as it goes.
fn set_rcvbuf(s: &UdpSocket, bytes: libc::c_int) {
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt on a socket we own, with a c_int value and its size.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &bytes as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

thread_local! {
    static OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl VxlanPort {
    /// The VXLAN tunnel behind `port`, if it is one.
    pub fn of(port: &dyn Port) -> Option<&VxlanPort> {
        port.as_any()?.downcast_ref::<VxlanPort>()
    }

    /// Its endpoints, what it learned and counted, for `vepa tunnel show`.
    pub fn state(&self) -> TunnelState {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let fabric = self.fabric.load();
        TunnelState {
            vni: self.cfg.vni,
            local: self.cfg.local,
            port: self.cfg.port,
            remotes: self.cfg.remotes.clone(),
            members: fabric.members.clone(),
            flood: {
                let mut v: Vec<_> = fabric.flood.iter().map(|(n, m)| (*n, m.clone())).collect();
                v.sort();
                v
            },
            fabric_macs: {
                let mut m: Vec<_> = fabric.macs.iter().map(|(m, ip)| (*m, *ip)).collect();
                m.sort_by_key(|(m, _)| m.0);
                m
            },
            reflect: self.cfg.reflect,
            isolate: fabric.isolate,
            max_inner: self.cfg.max_inner(),
            learned: self.learned(),
            vlan_vni: self.cfg.vlan_vni.clone(),
            counts: [
                ("rx_bad_header", n(&c.rx_bad_header)),
                ("rx_unknown_vni", n(&c.rx_unknown_vni)),
                ("rx_truncated", n(&c.rx_truncated)),
                ("rx_too_big", n(&c.rx_too_big)),
                ("tx_too_big", n(&c.tx_too_big)),
                ("tx_flooded", n(&c.tx_flooded)),
                ("tx_no_vni", n(&c.tx_no_vni)),
                ("rx_unknown_vtep", n(&c.rx_unknown_vtep)),
                ("rx_isolated", n(&c.rx_isolated)),
                ("rx_coalesced", n(&c.rx_coalesced)),
                ("tx_arp_suppressed", n(&c.tx_arp_suppressed)),
            ],
            arp_suppress: self.cfg.arp_suppress,
            fabric_ips: {
                let mut v: Vec<_> = fabric.ips.iter().map(|(i, m)| (*i, *m)).collect();
                v.sort();
                v
            },
        }
    }
}

impl Port for VxlanPort {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Super-frames come whole and leave as UDP GSO sends; partial
    /// checksums are finished here.
    fn offloads(&self) -> bool {
        true
    }

    fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        let mut gro = self.gro.lock().unwrap_or_else(|e| e.into_inner());
        let (hdr, r) = loop {
            if gro.is_empty() && !gro.fill(&self.rx)? {
                self.pending.store(false, Ordering::Relaxed);
                return Ok(None);
            }
            let Some(d) = gro.take() else { continue };
            let Some((r, vid)) = self.inner(gro.bytes(d.clone())) else {
                continue;
            };
            // Only the tunnel's own VTEPs are heard: anyone else could
            // otherwise steer our VMs' traffic by sending from their MACs.
            let vtep = gro.from.ip();
            let fabric = self.fabric.load();
            if fabric.isolate && fabric.is_member(&vtep) {
                self.counters.rx_isolated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let vni = {
                let h = gro.bytes(d.clone());
                u32::from_be_bytes([0, h[4], h[5], h[6]])
            };
            if !self.heard(&fabric, vni, gro.from) {
                self.counters
                    .rx_unknown_vtep
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let first = gro.bytes(d.clone());
            let inner = &first[r.clone()];
            self.learn(&fabric, MacAddr::from_slice(&inner[6..12]), vtep);
            let untagged_len = inner.len();
            // Four bytes of room in front, for a VLAN tag.
            if untagged_len + 4 > buf.len() {
                self.counters.rx_too_big.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            buf[4..4 + untagged_len].copy_from_slice(inner);
            let r = match vid {
                // The VLAN's tag goes back in, in front of the EtherType.
                Some(vid) => {
                    buf.copy_within(4..16, 0);
                    buf[12..14].copy_from_slice(&[0x81, 0x00]);
                    buf[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
                    0..4 + untagged_len
                }
                None => 4..4 + untagged_len,
            };
            if vid.is_none() && untagged_len <= self.cfg.max_inner() {
                let header: [u8; HEADER] = first[..HEADER].try_into().unwrap_or_default();
                if let Some(joined) = self.coalesce(&mut gro, &header, buf, r.end) {
                    break joined;
                }
            }
            let inner = &mut buf[r.clone()];
            if untagged_len > self.cfg.max_inner() {
                // A TCP super-frame the sender's stack left whole (tunnel
                // GSO between namespaces): passed on as GSO, cut to the
                // tunnel's MTU, for the forwarder or the receiving port.
                match super_frame(inner, self.cfg.max_inner()) {
                    Some(hdr) => break (hdr, r),
                    None => {
                        self.counters.rx_too_big.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            // A sender on this host (the kernel's vxlan over a veth) may
            // leave the inner TCP/UDP checksum to an offload that never
            // happens; the outer checksum was verified on receipt, so the
            // inner one is written afresh rather than trusted.
            checksum::fill_l4_checksum(inner);
            break (VirtioNetHdr::default(), r);
        };
        self.pending.store(!gro.is_empty(), Ordering::Relaxed);
        Ok(Some((hdr, &buf[r])))
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Ok(());
        }
        // The VNI, and whether the frame's tag comes off (a mapped trunk).
        let (vni, strip) = if self.cfg.vlan_vni.is_empty() {
            (self.cfg.vni, false)
        } else {
            let tagged = frame.len() >= 18 && frame[12..14] == [0x81, 0x00];
            let vid = tagged.then(|| u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff);
            match vid.and_then(|v| self.cfg.vlan_vni.iter().find(|(x, _)| *x == v)) {
                Some((_, vni)) => (*vni, true),
                None => {
                    self.counters.tx_no_vni.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
        };
        let dst = MacAddr::from_slice(&frame[..6]);
        let known = if dst.is_multicast() {
            None
        } else {
            let published = self.fabric.load().macs.get(&dst).copied();
            published.or_else(|| {
                self.learned
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&dst)
                    .copied()
            })
        };
        let sock = self.sender(frame);
        if !strip && self.arp(frame, sock) {
            return Ok(());
        }
        let header = header(vni);
        let r = if vnet.is_gso() {
            OUT.with(|out| {
                let (r, too_big) = pack_gso(
                    vnet,
                    frame,
                    header,
                    strip,
                    self.cfg.max_inner(),
                    &mut out.borrow_mut(),
                    |send, seg| self.deliver(sock, vni, known, send, Some(seg)),
                );
                if too_big {
                    self.counters.tx_too_big.fetch_add(1, Ordering::Relaxed);
                }
                r
            })
        } else {
            let cut = if strip { 4 } else { 0 };
            if frame.len() - cut > self.cfg.max_inner() {
                self.counters.tx_too_big.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            OUT.with(|out| {
                let mut out = out.borrow_mut();
                out.clear();
                encap(&mut out, &header, frame, strip);
                if vnet.needs_csum() {
                    let start = (HEADER + vnet.csum_start as usize).saturating_sub(cut);
                    checksum::complete_partial(&mut out, start, vnet.csum_offset as usize);
                }
                self.deliver(sock, vni, known, &out, None)
            })
        };
        r.or_else(|e| if is_retry(&e) { Ok(()) } else { Err(e) })
    }
}

impl VxlanPort {
    /// Joins the TCP segment at `buf[4..end]` (untagged, from the datagram
    /// with VXLAN `header` just taken) and the segments of the same flow
    /// that follow it in the read into one GSO super-frame; None (nothing
    /// more taken) when no second segment joins.
    fn coalesce(
        &self,
        gro: &mut gro::GroBuf,
        header: &[u8; HEADER],
        buf: &mut [u8],
        end: usize,
    ) -> Option<(VirtioNetHdr, std::ops::Range<usize>)> {
        let seg = gro::TcpSeg::parse(&buf[4..end])?;
        let mss = seg.payload(&buf[4..end]);
        let mut end = end;
        let mut next = seg.seq.wrapping_add(mss as u32);
        let mut flags = seg.flags;
        let mut joined = 1;
        while flags & gro::PSH == 0 {
            let Some(r) = gro.peek() else { break };
            let d = gro.bytes(r);
            if d.len() < HEADER + 14 || d[..HEADER] != header[..] {
                break;
            }
            let b = &d[HEADER..];
            let Some(bs) = gro::TcpSeg::parse(b) else {
                break;
            };
            let pay = bs.payload(b);
            // (An IP datagram's length field bounds the whole.)
            if pay > mss
                || end + pay > buf.len()
                || end + pay - 4 - 14 > 65_535
                || !seg.continues(&buf[4..end], next, b, &bs)
            {
                break;
            }
            buf[end..end + pay].copy_from_slice(&b[b.len() - pay..]);
            end += pay;
            next = next.wrapping_add(pay as u32);
            flags = bs.flags;
            joined += 1;
            gro.take();
            if pay < mss {
                break;
            }
        }
        if joined < 2 {
            return None;
        }
        let hdr = seg.finish(&mut buf[4..end], mss, flags);
        self.counters
            .rx_coalesced
            .fetch_add(joined, Ordering::Relaxed);
        Some((hdr, 4..end))
    }

    /// Sends `out` (one datagram, or equal-sized ones of `seg` bytes with
    /// a shorter last) to the VTEP that has the destination, or to every
    /// remote.
    fn deliver(
        &self,
        sock: &UdpSocket,
        vni: u32,
        known: Option<IpAddr>,
        out: &[u8],
        seg: Option<usize>,
    ) -> io::Result<()> {
        let send = |ip: IpAddr| match seg {
            Some(n) if out.len() > n => {
                send_segmented(sock, SocketAddr::new(ip, self.cfg.port), out, n)
            }
            _ => sock
                .send_to(out, SocketAddr::new(ip, self.cfg.port))
                .map(|_| ()),
        };
        match known {
            Some(vtep) => send(vtep),
            None => {
                self.counters.tx_flooded.fetch_add(1, Ordering::Relaxed);
                let mut first_err = None;
                let fabric = self.fabric.load();
                let members = fabric
                    .flood
                    .get(&vni)
                    .unwrap_or(&fabric.members)
                    .iter()
                    .filter(|m| !self.cfg.remotes.contains(m));
                let own = self.cfg.reflect.then_some(&self.cfg.local);
                for r in self.cfg.remotes.iter().chain(members).chain(own) {
                    if let Err(e) = send(*r) {
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
        }
    }
}

mod fabric;
mod gro;
mod segment;
mod wire;

pub use fabric::Fabric;
use segment::{pack_gso, send_segmented, super_frame};
use wire::{encap, header, FLAG_VNI, HEADER};
#[cfg(test)]
mod tests;
