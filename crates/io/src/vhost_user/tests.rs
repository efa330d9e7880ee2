//! A vhost-user port driven by the `vhost` crate's frontend (QEMU's part)
//! and a small virtio driver of our own over shared memory (the guest's
//! part): the protocol, the rings and the offload fallbacks, without QEMU.

use super::*;
use std::time::{Duration, Instant};
use vepa_packet::virtio::VIRTIO_NET_HDR_F_NEEDS_CSUM;
use vepa_packet::MacAddr;
use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost::vhost_user::{Frontend, VhostUserFrontend};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vm_memory::{Bytes, FileOffset, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

const MEM: usize = 4 << 20;
/// QEMU's address of guest memory: what vring addresses are given in.
const USER_BASE: u64 = 0x7f00_0000_0000;
const QSIZE: u16 = 256;
const BUF: u64 = 0x1_0000;
const VIRTQ_DESC_F_NEXT: u16 = 1;
const VIRTQ_DESC_F_WRITE: u16 = 2;

/// The driver side of one split virtqueue in guest memory.
struct DriverQueue {
    desc: u64,
    avail: u64,
    used: u64,
    next_desc: u16,
    avail_idx: u16,
    used_seen: u16,
}

impl DriverQueue {
    fn new(base: u64) -> DriverQueue {
        DriverQueue {
            desc: base,
            avail: base + 16 * u64::from(QSIZE),
            used: base + 16 * u64::from(QSIZE) + 0x1000,
            next_desc: 0,
            avail_idx: 0,
            used_seen: 0,
        }
    }

    fn config(&self) -> VringConfigData {
        VringConfigData {
            queue_max_size: QSIZE,
            queue_size: QSIZE,
            flags: 0,
            desc_table_addr: USER_BASE + self.desc,
            used_ring_addr: USER_BASE + self.used,
            avail_ring_addr: USER_BASE + self.avail,
            log_addr: None,
        }
    }

    /// Makes buffers (address, length, device-writable) one chain and
    /// offers it.
    fn post(&mut self, mem: &GuestMemoryMmap, bufs: &[(u64, u32, bool)]) {
        let head = self.next_desc;
        for (i, &(addr, len, write)) in bufs.iter().enumerate() {
            let at = self.desc + 16 * u64::from(self.next_desc);
            let next = (self.next_desc + 1) % QSIZE;
            let mut flags = if write { VIRTQ_DESC_F_WRITE } else { 0 };
            if i + 1 < bufs.len() {
                flags |= VIRTQ_DESC_F_NEXT;
            }
            mem.write_obj(addr, GuestAddress(at)).unwrap();
            mem.write_obj(len, GuestAddress(at + 8)).unwrap();
            mem.write_obj(flags, GuestAddress(at + 12)).unwrap();
            mem.write_obj(next, GuestAddress(at + 14)).unwrap();
            self.next_desc = next;
        }
        let slot = self.avail + 4 + 2 * u64::from(self.avail_idx % QSIZE);
        mem.write_obj(head, GuestAddress(slot)).unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        mem.write_obj(self.avail_idx, GuestAddress(self.avail + 2))
            .unwrap();
    }

    /// The chains the device gave back since the last call: (head, length).
    fn used(&mut self, mem: &GuestMemoryMmap) -> Vec<(u32, u32)> {
        let idx: u16 = mem.read_obj(GuestAddress(self.used + 2)).unwrap();
        let mut out = Vec::new();
        while self.used_seen != idx {
            let e = self.used + 4 + 8 * u64::from(self.used_seen % QSIZE);
            out.push((
                mem.read_obj(GuestAddress(e)).unwrap(),
                mem.read_obj(GuestAddress(e + 4)).unwrap(),
            ));
            self.used_seen = self.used_seen.wrapping_add(1);
        }
        out
    }
}

/// A connected guest: QEMU's protocol side and the driver's rings.
struct Guest {
    fe: Frontend,
    mem: GuestMemoryMmap,
    rx: DriverQueue,
    tx: DriverQueue,
    tx_kick: EventFd,
    calls: [EventFd; 2],
    /// The features the guest took.
    features: u64,
}

fn early_vring_enable(index: u32, need_reply: bool) -> Vec<u8> {
    // Header (request 18 = SET_VRING_ENABLE, version 1, NEED_REPLY, size
    // 8), then the vring state.
    let flags = if need_reply { 1 | 8 } else { 1 };
    [18u32, flags, 8, index, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Connects as QEMU 7.2 does: protocol features, then SET_VRING_ENABLE
/// before SET_FEATURES (once wanting an answer, as newer QEMUs do), then
/// memory, rings, kicks (and no enable after).
fn connect(socket: &std::path::Path, drop_features: u64) -> Guest {
    connect_with(socket, drop_features, guest_memory(true))
}

/// Guest memory as QEMU's memory-backend-memfd makes it: a memfd sealed
/// against shrinking and growing; unsealed, what a hostile peer sends.
fn guest_memory(sealed: bool) -> File {
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create(2) with a constant name; the descriptor is new
    // and owned by the File made from it.
    let file = unsafe {
        let fd = libc::memfd_create(
            c"vepa-test-guest".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        );
        assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
        File::from_raw_fd(fd)
    };
    file.set_len(MEM as u64).unwrap();
    if sealed {
        // SAFETY: fcntl(2) F_ADD_SEALS on the memfd just made; no pointers.
        let r = unsafe {
            libc::fcntl(
                file.as_raw_fd(),
                libc::F_ADD_SEALS,
                libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
            )
        };
        assert_eq!(r, 0, "seal: {}", io::Error::last_os_error());
    }
    file
}

fn connect_with(socket: &std::path::Path, drop_features: u64, file: File) -> Guest {
    let stream = UnixStream::connect(socket).unwrap();
    let mut raw = stream.try_clone().unwrap();
    let mut fe = Frontend::from_stream(stream, 2);
    fe.set_owner().unwrap();
    let offered = fe.get_features().unwrap();
    assert_ne!(
        offered & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits(),
        0
    );
    let pf = fe.get_protocol_features().unwrap();
    fe.set_protocol_features(pf & VhostUserProtocolFeatures::REPLY_ACK)
        .unwrap();
    raw.write_all(&early_vring_enable(0, true)).unwrap();
    let mut reply = [0u8; 20];
    std::io::Read::read_exact(&mut raw, &mut reply).unwrap();
    let word = |i: usize| u32::from_le_bytes(reply[i..i + 4].try_into().unwrap());
    assert_eq!((word(0), word(4), word(8)), (18, 1 | 4, 8), "an ack");
    assert_eq!(&reply[12..], &[0u8; 8], "success");
    raw.write_all(&early_vring_enable(1, false)).unwrap();
    let features = offered & !drop_features;
    fe.set_features(features).unwrap();

    let region = MmapRegion::from_file(FileOffset::new(file.try_clone().unwrap(), 0), MEM).unwrap();
    let mem =
        GuestMemoryMmap::from_regions(vec![GuestRegionMmap::new(region, GuestAddress(0)).unwrap()])
            .unwrap();
    fe.set_mem_table(&[VhostUserMemoryRegionInfo {
        guest_phys_addr: 0,
        memory_size: MEM as u64,
        userspace_addr: USER_BASE,
        mmap_offset: 0,
        mmap_handle: file.as_raw_fd(),
    }])
    .unwrap();
    let (rx, tx) = (DriverQueue::new(0x1000), DriverQueue::new(0x8000));
    let calls = [
        EventFd::new(EFD_NONBLOCK).unwrap(),
        EventFd::new(EFD_NONBLOCK).unwrap(),
    ];
    let kicks = [
        EventFd::new(EFD_NONBLOCK).unwrap(),
        EventFd::new(EFD_NONBLOCK).unwrap(),
    ];
    for (i, q) in [&rx, &tx].into_iter().enumerate() {
        fe.set_vring_num(i, QSIZE).unwrap();
        fe.set_vring_addr(i, &q.config()).unwrap();
        fe.set_vring_base(i, 0).unwrap();
        fe.set_vring_call(i, &calls[i]).unwrap();
        fe.set_vring_kick(i, &kicks[i]).unwrap();
    }
    let [_, tx_kick] = kicks;
    Guest {
        fe,
        mem,
        rx,
        tx,
        tx_kick,
        calls,
        features,
    }
}

fn readable(fd: RawFd, within: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd of a descriptor the caller holds open.
    unsafe { libc::poll(&mut p, 1, within.as_millis() as i32) == 1 }
}

/// Ethernet + IPv4 + TCP with `payload` bytes (checksum left partial as a
/// sender with offloads leaves it).
fn tcp4(payload: usize) -> Vec<u8> {
    let mut tcp = vec![
        0x03, 0xe8, 0x07, 0xd0, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];
    tcp.extend((0..payload).map(|i| i as u8));
    let mut f = Vec::new();
    let (guest, other) = ([0x52, 0x54, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    vepa_packet::ip::write_ethernet(&mut f, MacAddr(guest), MacAddr(other), 0x0800);
    let (src, dst) = ([10, 0, 0, 2].into(), [10, 0, 0, 1].into());
    vepa_packet::ip::push_ipv4(&mut f, src, dst, 6, 64, 1, &tcp);
    f
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn frames_cross_a_vhost_user_port_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vu.sock");
    let port = VhostUserPort::open("vu0", socket.clone(), None).unwrap();
    // The guest takes checksum offload but not TSO.
    let mut g = connect(&socket, F_GUEST_TSO4 | F_GUEST_TSO6 | F_GUEST_ECN);
    // The last requests need no reply: the port may still be reading them.
    wait_until("the rings start", || {
        port.status().as_deref() == Some("guest connected")
    });
    assert_eq!(g.features & F_GUEST_TSO4, 0);

    // Guest -> vepa: one frame over two descriptors (header apart), then
    // 40 more in one kick (two batches: pending in between).
    let frame = tcp4(100);
    let mut hdr = [0u8; HDR];
    hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr[6..8].copy_from_slice(&34u16.to_le_bytes());
    hdr[8..10].copy_from_slice(&16u16.to_le_bytes());
    g.mem.write_slice(&hdr, GuestAddress(0x10_0000)).unwrap();
    g.mem.write_slice(&frame, GuestAddress(0x10_0100)).unwrap();
    g.tx.post(
        &g.mem,
        &[
            (0x10_0000, HDR as u32, false),
            (0x10_0100, frame.len() as u32, false),
        ],
    );
    g.tx_kick.write(1).unwrap();
    assert!(
        readable(port.fd(), Duration::from_secs(5)),
        "the kick reaches the port's fd"
    );
    let mut batch = RxBatch::new(32);
    assert_eq!(port.recv_batch(&mut batch).unwrap(), 1);
    assert_eq!(batch.slot(0).frame(), &frame[..]);
    assert!(batch.slot(0).vnet.needs_csum());
    assert_eq!(batch.slot(0).vnet.csum_start, 34);
    assert_eq!(g.tx.used(&g.mem), vec![(0, 0)]);
    assert!(g.calls[TX].read().is_ok(), "the guest is told");
    assert!(
        !readable(port.fd(), Duration::ZERO),
        "the kick was consumed"
    );

    for i in 0..40u64 {
        let at = 0x20_0000 + i * 0x800;
        g.mem.write_slice(&[0u8; HDR], GuestAddress(at)).unwrap();
        g.mem
            .write_slice(&tcp4(i as usize), GuestAddress(at + HDR as u64))
            .unwrap();
        g.tx.post(&g.mem, &[(at, (HDR + 54 + i as usize) as u32, false)]);
    }
    g.tx_kick.write(1).unwrap();
    assert!(readable(port.fd(), Duration::from_secs(5)));
    assert_eq!(port.recv_batch(&mut batch).unwrap(), 32);
    assert!(port.pending(), "8 frames wait beyond a batch");
    assert_eq!(port.recv_batch(&mut batch).unwrap(), 8);
    assert_eq!(batch.slot(7).frame(), &tcp4(39)[..]);
    assert!(!port.pending());
    assert_eq!(g.tx.used(&g.mem).len(), 40);

    // vepa -> guest: into the buffers it posted, header first
    // (num_buffers 1); a partial checksum passes as it is (GUEST_CSUM).
    for i in 0..4u64 {
        g.rx.post(&g.mem, &[(0x30_0000 + i * BUF, BUF as u32, true)]);
    }
    let partial = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..VirtioNetHdr::default()
    };
    let small = tcp4(10);
    let sent = port
        .send_batch(&mut [(partial, &small[..]), (VirtioNetHdr::default(), &frame[..])].into_iter())
        .unwrap();
    assert_eq!(sent, 2);
    let used = g.rx.used(&g.mem);
    assert_eq!(
        used,
        vec![
            (0, (HDR + small.len()) as u32),
            (1, (HDR + frame.len()) as u32)
        ]
    );
    let mut got = vec![0u8; HDR + small.len()];
    g.mem.read_slice(&mut got, GuestAddress(0x30_0000)).unwrap();
    assert_eq!(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 1, "num_buffers");
    assert_eq!(&got[HDR..], &small[..]);
    assert!(g.calls[RX].read().is_ok());

    // A TSO frame the guest did not take is cut here: 3000 bytes at an MSS
    // of 1000 are three frames with their checksums filled; only two
    // buffers are left, so one of them is dropped (and said so).
    let gso = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1000,
        csum_start: 34,
        csum_offset: 16,
    };
    let big = tcp4(3000);
    assert!(
        port.send(&gso, &big).is_err(),
        "three segments, two buffers"
    );
    let used = g.rx.used(&g.mem);
    assert_eq!(used.len(), 2);
    for (k, (head, len)) in used.into_iter().enumerate() {
        assert_eq!(len as usize, HDR + 54 + 1000);
        let mut seg = vec![0u8; len as usize];
        g.mem
            .read_slice(&mut seg, GuestAddress(0x30_0000 + u64::from(head) * BUF))
            .unwrap();
        assert_eq!(&seg[..HDR - 2], &[0u8; HDR - 2], "a plain header");
        let seg = &seg[HDR..];
        assert_eq!(u16::from_be_bytes([seg[16], seg[17]]), 1040, "IPv4 length");
        assert_eq!(&seg[54..], &big[54 + k * 1000..54 + (k + 1) * 1000]);
        let mut check = seg.to_vec();
        assert!(checksum::fill_l4_checksum(&mut check));
        assert_eq!(check, seg, "segment {k}: the TCP checksum is right");
    }
    // No buffer left: nothing is written.
    assert_eq!(
        port.send_batch(&mut std::iter::once((VirtioNetHdr::default(), &small[..])))
            .unwrap(),
        0
    );

    // The guest goes: the port forgets it, and another may connect.
    drop(g);
    wait_until("the port resets when the guest goes", || {
        port.status().as_deref() == Some("no guest")
    });
    assert!(!port.pending());
    let mut g = connect(&socket, 0);
    wait_until("the rings start again", || {
        port.status().as_deref() == Some("guest connected")
    });
    g.rx.post(&g.mem, &[(0x30_0000, BUF as u32, true)]);
    assert!(
        port.send(&gso, &big).is_ok(),
        "a guest with TSO takes the frame whole"
    );
    let used = g.rx.used(&g.mem);
    assert_eq!(used, vec![(0, (HDR + big.len()) as u32)]);
    let mut head = [0u8; HDR];
    g.mem
        .read_slice(&mut head, GuestAddress(0x30_0000))
        .unwrap();
    assert_eq!(head[1], VIRTIO_NET_HDR_GSO_TCPV4);
    assert_eq!(u16::from_le_bytes([head[4], head[5]]), 1000);
    let _ = g.fe.get_vring_base(0);
    drop(port);
    assert!(!socket.exists(), "the port takes its socket with it");
}

/// Puts one frame with virtio-net header `hdr` on the guest's TX ring and
/// kicks; returns what a batch receive then gives.
fn guest_sends(
    port: &VhostUserPort,
    g: &mut Guest,
    at: u64,
    hdr: [u8; HDR],
    frame: &[u8],
) -> Vec<(VirtioNetHdr, Vec<u8>)> {
    g.mem.write_slice(&hdr, GuestAddress(at)).unwrap();
    g.mem
        .write_slice(frame, GuestAddress(at + HDR as u64))
        .unwrap();
    g.tx.post(&g.mem, &[(at, (HDR + frame.len()) as u32, false)]);
    g.tx_kick.write(1).unwrap();
    let mut batch = RxBatch::new(8);
    let n = port.recv_batch(&mut batch).unwrap();
    (0..n)
        .map(|i| (batch.slot(i).vnet, batch.slot(i).frame().to_vec()))
        .collect()
}

#[test]
fn a_guest_that_breaks_the_rules_is_refused_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vu.sock");
    let port = VhostUserPort::open("vu1", socket.clone(), None).unwrap();
    let mut g = connect(&socket, 0);
    wait_until("the rings start", || {
        port.status().as_deref() == Some("guest connected")
    });
    let frame = tcp4(64);
    let hdr = |flags: u8, gso: u8, gso_size: u16, start: u16, offset: u16| {
        let mut h = [0u8; HDR];
        h[0] = flags;
        h[1] = gso;
        h[4..6].copy_from_slice(&gso_size.to_le_bytes());
        h[6..8].copy_from_slice(&start.to_le_bytes());
        h[8..10].copy_from_slice(&offset.to_le_bytes());
        h
    };
    // DATA_VALID is the device's to set: cleared, the frame passes.
    let got = guest_sends(&port, &mut g, 0x20_0000, hdr(2, 0, 0, 0, 0), &frame);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, VirtioNetHdr::default());
    assert_eq!(got[0].1, frame);
    // UDP fragmentation offload was never offered; a checksum outside the
    // frame; TSO without a segment size, or cut at 1 byte (a 64 KiB
    // frame would be 65,000 segments): dropped, and the ring goes on.
    for (k, h) in [
        hdr(1, 3, 1000, 34, 6),
        hdr(1, 0, 0, 34, 200),
        hdr(1, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34, 16),
        hdr(1, VIRTIO_NET_HDR_GSO_TCPV4, 1, 34, 16),
    ]
    .into_iter()
    .enumerate()
    {
        let got = guest_sends(&port, &mut g, 0x21_0000 + k as u64 * 0x1000, h, &frame);
        assert!(got.is_empty(), "header {k} refused");
    }
    assert_eq!(port.device_drops(), vec![("bad_guest_frame", 4)]);
    assert_eq!(
        g.tx.used(&g.mem).len(),
        5,
        "each buffer went back to the guest"
    );

    // QEMU stops the TX ring (GET_VRING_BASE: the next index, 5) and
    // starts it again from there with a new kick.
    assert_eq!(g.fe.get_vring_base(TX).unwrap(), 5);
    assert_eq!(
        port.status().as_deref(),
        Some("guest connected, driver not started")
    );
    g.fe.set_vring_base(TX, 5).unwrap();
    let kick = EventFd::new(EFD_NONBLOCK).unwrap();
    g.fe.set_vring_kick(TX, &kick).unwrap();
    g.tx_kick = kick;
    wait_until("the TX ring starts again", || {
        port.status().as_deref() == Some("guest connected")
    });
    let got = guest_sends(&port, &mut g, 0x22_0000, [0u8; HDR], &frame);
    assert_eq!(got.len(), 1, "frames flow after the restart");

    // Mergeable receive buffers: a frame bigger than one buffer takes as
    // many as it needs, and the first header says how many.
    for i in 0..4u64 {
        g.rx.post(&g.mem, &[(0x30_0000 + i * 0x1000, 1024, true)]);
    }
    let big = tcp4(2500 - 54);
    assert!(port.send(&VirtioNetHdr::default(), &big).is_ok());
    let used = g.rx.used(&g.mem);
    assert_eq!(
        used,
        vec![(0, 1024), (1, 1024), (2, (HDR + 2500 - 2048) as u32)]
    );
    let mut got = Vec::new();
    for (k, (_, len)) in used.iter().enumerate() {
        let mut b = vec![0u8; *len as usize];
        g.mem
            .read_slice(&mut b, GuestAddress(0x30_0000 + k as u64 * 0x1000))
            .unwrap();
        got.extend_from_slice(&b);
    }
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 3, "num_buffers");
    assert_eq!(&got[HDR..], &big[..]);
    // Not enough posted: nothing is used, the buffer stays the guest's and
    // takes the next frame that fits.
    assert!(port.send(&VirtioNetHdr::default(), &big).is_err());
    assert!(g.rx.used(&g.mem).is_empty());
    for i in 4..6u64 {
        g.rx.post(&g.mem, &[(0x30_0000 + i * 0x1000, 1024, true)]);
    }
    assert!(port.send(&VirtioNetHdr::default(), &big).is_ok());
    assert_eq!(
        g.rx.used(&g.mem).iter().map(|u| u.0).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );

    // An avail index far past what the ring holds: nothing to come back
    // for (no busy loop), nothing read.
    let far = g.tx.avail_idx.wrapping_add(1000);
    g.mem.write_obj(far, GuestAddress(g.tx.avail + 2)).unwrap();
    assert!(!port.pending());
    let mut batch = RxBatch::new(8);
    assert_eq!(port.recv_batch(&mut batch).unwrap(), 0);
}

/// A legacy driver (no VERSION_1, no MRG_RXBUF) has a 10-byte header both
/// ways.
#[test]
fn a_legacy_driver_has_a_ten_byte_header() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vu.sock");
    let port = VhostUserPort::open("vu2", socket.clone(), None).unwrap();
    let mut g = connect(&socket, F_VERSION_1 | F_MRG_RXBUF);
    wait_until("the rings start", || {
        port.status().as_deref() == Some("guest connected")
    });
    let frame = tcp4(20);
    g.mem
        .write_slice(&[0u8; 10], GuestAddress(0x20_0000))
        .unwrap();
    g.mem.write_slice(&frame, GuestAddress(0x20_000a)).unwrap();
    g.tx.post(&g.mem, &[(0x20_0000, 10 + frame.len() as u32, false)]);
    g.tx_kick.write(1).unwrap();
    let mut batch = RxBatch::new(8);
    assert_eq!(port.recv_batch(&mut batch).unwrap(), 1);
    assert_eq!(batch.slot(0).frame(), &frame[..]);
    g.rx.post(&g.mem, &[(0x30_0000, 2048, true)]);
    assert!(port.send(&VirtioNetHdr::default(), &frame).is_ok());
    assert_eq!(g.rx.used(&g.mem), vec![(0, 10 + frame.len() as u32)]);
    let mut got = vec![0u8; 10 + frame.len()];
    g.mem.read_slice(&mut got, GuestAddress(0x30_0000)).unwrap();
    assert_eq!(&got[10..], &frame[..]);
}

/// A peer whose guest memory it could truncate later (and so fault the
/// daemon with SIGBUS on the next frame) is refused at SET_MEM_TABLE: the
/// session ends, the port is reset and the next, well-behaved guest is
/// served. Sealed memory cannot be shrunk under the port at all.
#[test]
fn guest_memory_that_could_shrink_is_refused_and_the_port_serves_the_next_guest() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vu.sock");
    let port = VhostUserPort::open("vu3", socket.clone(), None).unwrap();
    let stream = UnixStream::connect(&socket).unwrap();
    let mut fe = Frontend::from_stream(stream, 2);
    fe.set_owner().unwrap();
    let offered = fe.get_features().unwrap();
    let pf = fe.get_protocol_features().unwrap();
    fe.set_protocol_features(pf & VhostUserProtocolFeatures::REPLY_ACK)
        .unwrap();
    fe.set_features(offered).unwrap();
    let hostile = guest_memory(false);
    // (Refused without a reply: the backend ends the session.)
    let _ = fe.set_mem_table(&[VhostUserMemoryRegionInfo {
        guest_phys_addr: 0,
        memory_size: MEM as u64,
        userspace_addr: USER_BASE,
        mmap_offset: 0,
        mmap_handle: hostile.as_raw_fd(),
    }]);
    assert!(
        fe.get_features().is_err(),
        "and the session is over: the port talks no more to that peer"
    );
    // The hostile peer shrinks its memory now: nothing of it is mapped.
    hostile.set_len(0).unwrap();
    wait_until("the port is reset", || {
        port.status().as_deref() == Some("no guest")
    });
    let memory = guest_memory(true);
    let mut g = connect_with(&socket, 0, memory.try_clone().unwrap());
    wait_until("the next guest's rings start", || {
        port.status().as_deref() == Some("guest connected")
    });
    let frame = tcp4(20);
    g.rx.post(&g.mem, &[(0x30_0000, 2048, true)]);
    assert!(port.send(&VirtioNetHdr::default(), &frame).is_ok());
    assert_eq!(g.rx.used(&g.mem).len(), 1, "the sealed guest gets frames");
    // A sealed guest cannot shrink what the port maps.
    let e = memory.set_len(0).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
}
