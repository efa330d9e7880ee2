//! A bonded uplink: one switch port over several member ports (each an
//! AF_PACKET interface, a veth end...). The switch sees one port, so its
//! FDB, its VEPA reflections and its counters are the bond's whatever
//! member a frame came in on.
//!
//! The forwarding threads go through [`BondPort`]: a frame goes out the
//! member its hash picks among those carrying traffic (the one active
//! member in active-backup); frames from a member that carries none are
//! dropped, and the Slow Protocols frames (LACP) of every member go to the
//! bond's own thread instead of the switch. That thread (`vepa-bond`)
//! runs [`vepa_dataplane::bond::Bond`] every 50 ms: carriers, LACP, ARP
//! monitoring, and on an active-backup failover a RARP from every local
//! MAC on the new member, so the physical network relearns at once.

use crate::batch::RxBatch;
use crate::port::Port;
use std::collections::VecDeque;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use vepa_dataplane::bond::{pick, Bond, BondMode, MemberView};
use vepa_dataplane::lacp::LacpConfig;
use vepa_packet::lacp::{Lacpdu, SLOW_PROTOCOLS, SLOW_PROTOCOLS_DST, SUBTYPE_LACP};
use vepa_packet::{MacAddr, VirtioNetHdr};

/// How often the bond's thread runs its machines.
const TICK: Duration = Duration::from_millis(50);
/// LACPDUs waiting for the bond's thread at most, per member (a partner
/// flooding LACPDUs on one member loses its own, nothing else).
const CONTROL_QUEUE: usize = 8;

/// The local MACs to announce after a failover, each with the VLAN tag
/// it leaves the uplink with (`None`: untagged).
pub type LocalMacs = Box<dyn Fn() -> Vec<(MacAddr, Option<u16>)> + Send + Sync>;

/// How a bond is set up.
pub struct BondSetup {
    pub name: String,
    pub mode: BondMode,
    pub lacp: Option<LacpConfig>,
    pub arp_targets: Vec<Ipv4Addr>,
    pub arp_interval: Duration,
    pub arp_source: Ipv4Addr,
    /// The bond's LACP system ID (a member interface's MAC).
    pub mac: MacAddr,
    /// Each member's name, interface and port.
    pub members: Vec<(String, String, Arc<dyn Port>)>,
}

/// Frames a bond refused or could not place, since it opened.
#[derive(Debug, Default)]
struct Drops {
    /// Arrived on a member that carries no traffic now.
    inactive_member: AtomicU64,
    /// Malformed or unexpected Slow Protocols frames (bad LACPDUs, markers).
    bad_lacpdu: AtomicU64,
    /// LACPDUs beyond what the bond's thread had room for.
    control_overflow: AtomicU64,
    /// To send while no member carried traffic.
    no_member: AtomicU64,
}

struct Shared {
    name: String,
    mode: BondMode,
    lacp: bool,
    mac: MacAddr,
    members: Vec<(String, String, Arc<dyn Port>)>,
    offloads: bool,
    epoll: OwnedFd,
    /// Bit i: member i carries traffic.
    enabled: AtomicU64,
    /// The member flooded frames are taken from in a balance bond without
    /// LACP (the switch beyond sends each to one of the links, or to all).
    active: AtomicUsize,
    /// Bit i: frames from member i go on into the switch.
    collecting: AtomicU64,
    next_rx: AtomicUsize,
    /// Each member's own MAC: the source of what the bond sends on it
    /// (LACPDUs, ARP probes), so answers come back on that member.
    member_macs: Vec<MacAddr>,
    /// LACPDUs waiting for the bond's thread, per member.
    control: Mutex<Vec<VecDeque<Vec<u8>>>>,
    arp_targets: Vec<Ipv4Addr>,
    arp_seen: Vec<AtomicBool>,
    drops: Drops,
    machine: Mutex<Bond>,
    local_macs: Mutex<Option<LocalMacs>>,
    /// RARPs sent at failovers, and the failovers.
    announced: AtomicU64,
    failovers: AtomicU64,
}

/// The bond as the switch sees it: one port.
pub struct BondPort {
    shared: Arc<Shared>,
}

/// A bond's state for `switch show` and metrics.
#[derive(Debug, Clone)]
pub struct BondStatus {
    pub mode: BondMode,
    pub lacp: Option<LacpConfig>,
    pub members: Vec<MemberStatus>,
    pub failovers: u64,
    pub announced: u64,
    pub drops: Vec<(&'static str, u64)>,
}

#[derive(Debug, Clone)]
pub struct MemberStatus {
    pub name: String,
    pub ifname: String,
    pub view: MemberView,
}

impl BondPort {
    /// Opens the bond over its members and starts its thread, which ends
    /// when the port is dropped.
    pub fn open(setup: BondSetup) -> io::Result<BondPort> {
        let max = vepa_dataplane::bond::MAX_MEMBERS;
        if setup.members.is_empty() || setup.members.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a bond has 1 to {max} members"),
            ));
        }
        // SAFETY: epoll_create1 takes no pointers; a valid descriptor it
        // returns is owned by nobody else.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned here alone.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        for (_, _, m) in &setup.members {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: m.fd() as u64,
            };
            // SAFETY: `ev` is a live epoll_event the call only reads; both
            // descriptors are open.
            let r =
                unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, m.fd(), &mut ev) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let interval_ms = (!setup.arp_targets.is_empty())
            .then_some(setup.arp_interval.as_millis() as u64)
            .map(|ms| ms.max(1));
        let n = setup.members.len();
        let shared = Arc::new(Shared {
            offloads: setup.members.iter().all(|(_, _, m)| m.offloads()),
            name: setup.name,
            mode: setup.mode,
            lacp: setup.lacp.is_some(),
            mac: setup.mac,
            epoll,
            enabled: AtomicU64::new(0),
            active: AtomicUsize::new(usize::MAX),
            collecting: AtomicU64::new(0),
            next_rx: AtomicUsize::new(0),
            member_macs: setup
                .members
                .iter()
                .enumerate()
                .map(|(i, (_, ifname, _))| {
                    interface_mac(ifname).unwrap_or_else(|| {
                        let mut m = setup.mac;
                        m.0[5] ^= i as u8 + 1;
                        m
                    })
                })
                .collect(),
            control: Mutex::new(vec![VecDeque::new(); n]),
            arp_seen: (0..n).map(|_| AtomicBool::new(false)).collect(),
            arp_targets: setup.arp_targets.clone(),
            drops: Drops::default(),
            machine: Mutex::new(Bond::new(setup.mode, setup.lacp, interval_ms, n)),
            local_macs: Mutex::new(None),
            announced: AtomicU64::new(0),
            failovers: AtomicU64::new(0),
            members: setup.members,
        });
        let weak = Arc::downgrade(&shared);
        let arp = (setup.arp_targets, setup.arp_interval, setup.arp_source);
        std::thread::Builder::new()
            .name("vepa-bond".into())
            .spawn(move || run(weak, arp))?;
        Ok(BondPort { shared })
    }

    /// The bond behind a port, when it is one.
    pub fn of(port: &dyn Port) -> Option<&BondPort> {
        port.as_any()?.downcast_ref::<BondPort>()
    }

    /// Says where the local MACs are, for the announcements after a failover.
    pub fn set_local_macs(&self, f: LocalMacs) {
        *lock(&self.shared.local_macs) = Some(f);
    }

    pub fn status(&self) -> BondStatus {
        let sh = &self.shared;
        let m = lock(&sh.machine);
        BondStatus {
            mode: sh.mode,
            lacp: m.lacp().copied(),
            members: sh
                .members
                .iter()
                .enumerate()
                .filter_map(|(i, (name, ifname, _))| {
                    Some(MemberStatus {
                        name: name.clone(),
                        ifname: ifname.clone(),
                        view: m.member(i)?,
                    })
                })
                .collect(),
            failovers: sh.failovers.load(Ordering::Relaxed),
            announced: sh.announced.load(Ordering::Relaxed),
            drops: self.device_drops(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bond's thread: reads carriers and what the members brought for
/// it, runs the machines, sends what they say, and publishes who carries
/// traffic. Ends when the bond is closed.
fn run(weak: Weak<Shared>, (targets, interval, source): (Vec<Ipv4Addr>, Duration, Ipv4Addr)) {
    let start = Instant::now();
    let mut next_arp = Instant::now();
    let mut links: Vec<Option<bool>> = Vec::new();
    loop {
        let Some(sh) = weak.upgrade() else { return };
        let now = start.elapsed().as_millis() as u64;
        let mut m = lock(&sh.machine);
        let was_active = m.active();
        if links.len() != sh.members.len() {
            links = vec![None; sh.members.len()];
        }
        for (i, (_, ifname, _)) in sh.members.iter().enumerate() {
            let up = vepa_kernel::host::link_running(ifname).unwrap_or(false);
            if links[i] != Some(up) {
                links[i] = Some(up);
                tracing::info!(bond = %sh.name, member = %ifname, up, "bond member link");
                m.link(i, up, now);
            }
            if sh.arp_seen[i].swap(false, Ordering::Relaxed) {
                m.arp_seen(i, now);
            }
        }
        let frames: Vec<(usize, Vec<u8>)> = lock(&sh.control)
            .iter_mut()
            .enumerate()
            .flat_map(|(i, q)| q.drain(..).map(move |f| (i, f)))
            .collect();
        for (i, f) in frames {
            match f.get(14..).map(Lacpdu::parse) {
                // Our own LACPDU come back (a partner that reflects) is
                // no partner.
                Some(Ok(pdu)) if pdu.actor.system != sh.mac => m.receive(i, &pdu, now),
                _ => {
                    sh.drops.bad_lacpdu.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for (i, pdu) in m.tick(now) {
            let frame = pdu.frame(sh.member_macs[i]);
            let _ = sh.members[i].2.send(&VirtioNetHdr::default(), &frame);
        }
        let before = sh.enabled.load(Ordering::Relaxed);
        let enabled = m.enabled();
        if enabled != before {
            let names: Vec<&str> = (0..sh.members.len())
                .filter(|i| enabled & (1 << i) != 0)
                .map(|i| sh.members[i].1.as_str())
                .collect();
            tracing::info!(bond = %sh.name, mode = sh.mode.name(), carrying = ?names, "bond members carrying traffic");
        }
        sh.enabled.store(enabled, Ordering::Relaxed);
        sh.collecting.store(m.collecting(), Ordering::Relaxed);
        sh.active
            .store(m.active().unwrap_or(usize::MAX), Ordering::Relaxed);
        let failover = m.take_failover().then(|| m.active()).flatten();
        drop(m);
        if let Some(a) = failover {
            // The first member to come up is no failover, but the network
            // learns where the MACs are all the same.
            if was_active.is_some() && sh.mode == BondMode::ActiveBackup {
                sh.failovers.fetch_add(1, Ordering::Relaxed);
            }
            announce(&sh, a);
        }
        if !targets.is_empty() && Instant::now() >= next_arp {
            next_arp = Instant::now() + interval;
            for (i, (_, _, port)) in sh.members.iter().enumerate() {
                for t in &targets {
                    let src = sh.member_macs[i];
                    let _ = port.send(&VirtioNetHdr::default(), &arp_request(src, source, *t));
                }
            }
        }
        drop(sh);
        std::thread::sleep(TICK);
    }
}

/// A RARP from every local MAC on member `a` (as QEMU announces a moved
/// guest): the switches beyond learn the MAC's new link at once.
fn announce(sh: &Shared, a: usize) {
    let macs = match lock(&sh.local_macs).as_ref() {
        Some(f) => f(),
        None => Vec::new(),
    };
    let mask = sh.enabled.load(Ordering::Relaxed);
    let mut sent = 0;
    for (mac, vlan) in &macs {
        let frame = rarp(*mac, *vlan);
        // Each MAC on the member its own frames leave by.
        let on = match sh.mode {
            BondMode::ActiveBackup => Some(a),
            _ => pick(mask, flow_hash(sh.mode, &frame)),
        };
        let Some(port) = on.and_then(|i| sh.members.get(i)) else {
            continue;
        };
        if port.2.send(&VirtioNetHdr::default(), &frame).is_ok() {
            sent += 1;
        }
    }
    sh.announced.fetch_add(sent, Ordering::Relaxed);
    tracing::info!(bond = %sh.name, member = %sh.members[a].1, macs = macs.len(), "bond failover: announced the local MACs on the new active member");
}

/// An interface's MAC (in vepa's namespace), from sysfs.
pub fn interface_mac(ifname: &str) -> Option<MacAddr> {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/address"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A reverse ARP request from `mac`, tagged with `vlan` if given.
pub fn rarp(mac: MacAddr, vlan: Option<u16>) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&MacAddr::BROADCAST.0);
    f.extend_from_slice(&mac.0);
    if let Some(v) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&0x8035u16.to_be_bytes());
    let zero = Ipv4Addr::UNSPECIFIED;
    f.extend_from_slice(&vepa_packet::ip::arp(3, mac, zero, mac, zero));
    f.resize(f.len().max(60), 0);
    f
}

fn arp_request(src: MacAddr, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&MacAddr::BROADCAST.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&vepa_packet::ip::arp(1, src, spa, MacAddr([0; 6]), tpa));
    f.resize(60, 0);
    f
}

/// The EtherType after any VLAN tags, and where its payload starts.
fn ethertype(f: &[u8]) -> Option<(u16, usize)> {
    let mut at = 12;
    loop {
        let t = u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]);
        if matches!(t, 0x8100 | 0x88a8) {
            at += 4;
            continue;
        }
        return Some((t, at + 2));
    }
}

/// Which flow a frame is, for spreading: balance-slb by source MAC and
/// VLAN, balance-tcp by both MACs, VLAN, IP addresses, protocol and ports.
pub fn flow_hash(mode: BondMode, f: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |b: &[u8]| {
        for x in b {
            h ^= u32::from(*x);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    let vlan = if f.len() >= 16 && f[12..14] == [0x81, 0x00] {
        &f[14..16]
    } else {
        &[][..]
    };
    if let Some(src) = f.get(6..12) {
        mix(src);
    }
    mix(vlan);
    if mode == BondMode::BalanceSlb {
        return h;
    }
    if let Some(dst) = f.get(0..6) {
        mix(dst);
    }
    let Some((t, at)) = ethertype(f) else {
        return h;
    };
    let l4 = match t {
        0x0800 => f.get(at..).and_then(|ip| {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            mix(ip.get(12..20)?);
            let proto = *ip.get(9)?;
            mix(&[proto]);
            // A fragment after the first has no ports.
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
            (frag == 0).then_some((proto, at + ihl))
        }),
        0x86dd => f.get(at..).and_then(|ip| {
            mix(ip.get(8..40)?);
            let proto = *ip.get(6)?;
            mix(&[proto]);
            Some((proto, at + 40))
        }),
        _ => None,
    };
    if let Some((proto, at)) = l4 {
        if matches!(proto, 6 | 17 | 132) {
            if let Some(ports) = f.get(at..at + 4) {
                mix(ports);
            }
        }
    }
    // FNV's low bits spread poorly on short keys: fold the high ones in.
    h ^ (h >> 16)
}

impl Shared {
    /// Whether frame `f` from member `i` goes on into the switch; the
    /// bond's own frames are taken out here.
    fn admit(&self, i: usize, f: &[u8], enabled: u64, active: usize) -> bool {
        let Some((t, at)) = ethertype(f) else {
            return false;
        };
        if t == SLOW_PROTOCOLS {
            // A LACPDU is untagged and addressed to the Slow Protocols
            // group, which no bridge forwards: nothing beyond the partner
            // (a tenant's frame reflected, a host elsewhere) can make one.
            let lacpdu = at == 14
                && f.get(..6) == Some(&SLOW_PROTOCOLS_DST.0[..])
                && f.get(at) == Some(&SUBTYPE_LACP);
            if lacpdu && self.lacp {
                let mut q = lock(&self.control);
                match q.get_mut(i) {
                    Some(q) if q.len() < CONTROL_QUEUE => q.push_back(f.to_vec()),
                    _ => {
                        self.drops.control_overflow.fetch_add(1, Ordering::Relaxed);
                    }
                }
            } else {
                self.drops.bad_lacpdu.fetch_add(1, Ordering::Relaxed);
            }
            return false;
        }
        // Addressed to the member itself: an answer to the bond's own ARP
        // probes, never the switch's.
        if let Some(own) = self
            .member_macs
            .get(i)
            .filter(|m| f.get(..6) == Some(&m.0[..]))
        {
            let reply = t == 0x0806
                && at == 14
                && f.get(at + 6..at + 8) == Some(&[0, 2][..])
                && f.get(at + 18..at + 24) == Some(&own.0[..]);
            if let Some(spa) = f.get(at + 14..at + 18).filter(|_| reply) {
                let spa = Ipv4Addr::new(spa[0], spa[1], spa[2], spa[3]);
                if self.arp_targets.contains(&spa) {
                    self.arp_seen[i].store(true, Ordering::Relaxed);
                }
            }
            return false;
        }
        if enabled & (1 << i) == 0 {
            self.drops.inactive_member.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // Static balancing: a switch without LACP may send a flooded frame
        // down every link; take it from one.
        if !self.lacp
            && self.mode != BondMode::ActiveBackup
            && f.first().is_some_and(|b| b & 1 == 1)
            && i != active
        {
            self.drops.inactive_member.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}

impl Port for BondPort {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn fd(&self) -> RawFd {
        self.shared.epoll.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        self.shared.offloads
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        crate::port::recv_one(self, buf)
    }

    fn pending(&self) -> bool {
        self.shared.members.iter().any(|(_, _, m)| m.pending())
    }

    fn device_drops(&self) -> Vec<(&'static str, u64)> {
        let d = &self.shared.drops;
        [
            ("bond_inactive_member", &d.inactive_member),
            ("bad_lacpdu", &d.bad_lacpdu),
            ("bond_control_overflow", &d.control_overflow),
            ("bond_no_member", &d.no_member),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
        .collect()
    }

    fn status(&self) -> Option<String> {
        let s = self.status();
        let on: Vec<&str> = s
            .members
            .iter()
            .filter(|m| m.view.enabled)
            .map(|m| m.ifname.as_str())
            .collect();
        Some(format!(
            "{} {}/{} members carrying{}",
            s.mode.name(),
            on.len(),
            s.members.len(),
            if on.is_empty() {
                String::new()
            } else {
                format!(" ({})", on.join(", "))
            }
        ))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let sh = &self.shared;
        let mask = sh.enabled.load(Ordering::Relaxed);
        let Some(i) = pick(mask, flow_hash(sh.mode, frame)) else {
            sh.drops.no_member.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no bond member carries traffic",
            ));
        };
        sh.members[i].2.send(vnet, frame)
    }

    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        let sh = &self.shared;
        let n = sh.members.len();
        let start = sh.next_rx.fetch_add(1, Ordering::Relaxed);
        let enabled = sh.collecting.load(Ordering::Relaxed);
        let active = sh.active.load(Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) % n;
            let got = match sh.members[i].2.recv_batch(batch) {
                Ok(g) => g,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                // A member whose link went away: the others go on.
                Err(_) => 0,
            };
            if got == 0 {
                continue;
            }
            let mut kept = 0;
            for j in 0..got {
                if sh.admit(i, batch.slot(j).frame(), enabled, active) {
                    if kept != j {
                        batch.swap(kept, j);
                    }
                    kept += 1;
                }
            }
            batch.set_len(kept);
            if kept > 0 {
                return Ok(kept);
            }
        }
        batch.set_len(0);
        Ok(0)
    }

    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        let sh = &self.shared;
        let mask = sh.enabled.load(Ordering::Relaxed);
        if mask == 0 {
            let n = frames.count() as u64;
            sh.drops.no_member.fetch_add(n, Ordering::Relaxed);
            return Ok(0);
        }
        if mask.count_ones() == 1 {
            let i = mask.trailing_zeros() as usize;
            return sh.members[i].2.send_batch(frames);
        }
        let mut per: Vec<Vec<(VirtioNetHdr, &[u8])>> = vec![Vec::new(); sh.members.len()];
        for (vnet, f) in frames {
            if let Some(i) = pick(mask, flow_hash(sh.mode, f)) {
                per[i].push((vnet, f));
            }
        }
        let mut sent = 0;
        for (i, q) in per.into_iter().enumerate() {
            if !q.is_empty() {
                sent += sh.members[i].2.send_batch(&mut q.into_iter()).unwrap_or(0);
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(sport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 54];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&5201u16.to_be_bytes());
        f
    }

    #[test]
    fn balance_tcp_spreads_flows_and_slb_keeps_a_source_on_one_member() {
        let tcp_members: std::collections::HashSet<_> = (0..64)
            .filter_map(|p| pick(0b11, flow_hash(BondMode::BalanceTcp, &tcp(40000 + p))))
            .collect();
        assert_eq!(tcp_members.len(), 2);
        let slb: std::collections::HashSet<_> = (0..64)
            .filter_map(|p| pick(0b11, flow_hash(BondMode::BalanceSlb, &tcp(40000 + p))))
            .collect();
        assert_eq!(slb.len(), 1);
        // Truncated or odd frames hash too, without panicking.
        for len in 0..=54 {
            let f = tcp(1);
            flow_hash(BondMode::BalanceTcp, &f[..len]);
        }
    }

    #[test]
    fn rarp_announces_a_mac_tagged_or_not() {
        let m = MacAddr([2, 0, 0, 0, 0, 9]);
        let f = rarp(m, None);
        assert_eq!(&f[6..12], &m.0);
        assert_eq!(&f[12..14], &[0x80, 0x35]);
        assert_eq!(f.len(), 60);
        let t = rarp(m, Some(10));
        assert_eq!(&t[12..16], &[0x81, 0x00, 0, 10]);
        assert_eq!(&t[16..18], &[0x80, 0x35]);
    }
}
